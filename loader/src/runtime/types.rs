//! Type canonicalization and subtyping for import checks.
//!
//! Module info names concrete heap types by module-local type index. The loader rewrites
//! them to engine-wide canonical type ids ([`HeapType::Concrete`] then holds a canonical id),
//! so that types from different modules compare directly. Each module type may only refer to
//! earlier types (no recursion groups), so one pass in index order suffices.

use crate::platform::sync::RwLock;
use crate::prelude::*;
use alloc::sync::Arc;
use hashbrown::HashMap;
use precast_format::module::{FuncType, GlobalType, HeapType, RefType, TableType, ValType};

/// `ty` with module-local concrete indices replaced by the canonical ids in `ids` (indices
/// not yet in `ids` are left as they are).
pub(crate) fn canon_ref(ty: RefType, ids: &[u32]) -> RefType {
    match ty.heap {
        HeapType::Concrete(i) => RefType {
            heap: HeapType::Concrete(ids.get(i as usize).copied().unwrap_or(i)),
            ..ty
        },
        _ => ty,
    }
}

/// [`canon_ref`] for value types.
pub(crate) fn canon_val(ty: ValType, ids: &[u32]) -> ValType {
    match ty {
        ValType::Ref(r) => ValType::Ref(canon_ref(r, ids)),
        other => other,
    }
}

/// [`canon_ref`] for function types.
pub(crate) fn canon_func(ty: &FuncType, ids: &[u32]) -> FuncType {
    FuncType {
        params: ty.params.iter().map(|&t| canon_val(t, ids)).collect(),
        results: ty.results.iter().map(|&t| canon_val(t, ids)).collect(),
    }
}

/// [`canon_ref`] for global types.
pub(crate) fn canon_global(ty: GlobalType, ids: &[u32]) -> GlobalType {
    GlobalType {
        content: canon_val(ty.content, ids),
        ..ty
    }
}

/// [`canon_ref`] for table types.
pub(crate) fn canon_table(ty: TableType, ids: &[u32]) -> TableType {
    TableType {
        element: canon_ref(ty.element, ids),
        ..ty
    }
}

/// Whether `ty` refers to a module type index `n` or above.
pub(crate) fn refers_beyond(ty: &FuncType, n: usize) -> bool {
    ty.params.iter().chain(&ty.results).any(|t| {
        matches!(t, ValType::Ref(RefType { heap: HeapType::Concrete(i), .. }) if *i as usize >= n)
    })
}

/// Whether heap type `a` is a subtype of `b` (canonical ids; no declared subtypes).
fn heap_subtype(a: HeapType, b: HeapType) -> bool {
    use HeapType::*;
    a == b
        || matches!(
            (a, b),
            (NoFunc, Func | Concrete(_)) | (Concrete(_), Func) | (NoExtern, Extern)
        )
}

/// Whether value type `a` is a subtype of `b`.
pub(crate) fn val_subtype(a: ValType, b: ValType) -> bool {
    match (a, b) {
        (ValType::Ref(a), ValType::Ref(b)) => {
            (!a.nullable || b.nullable) && heap_subtype(a.heap, b.heap)
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(nullable: bool, heap: HeapType) -> ValType {
        ValType::Ref(RefType { nullable, heap })
    }

    #[test]
    fn subtyping() {
        use HeapType::*;
        assert!(val_subtype(ValType::I32, ValType::I32));
        assert!(!val_subtype(ValType::I32, ValType::I64));
        assert!(val_subtype(r(false, Func), r(true, Func)));
        assert!(!val_subtype(r(true, Func), r(false, Func)));
        assert!(val_subtype(r(false, Concrete(3)), r(false, Func)));
        assert!(!val_subtype(r(false, Func), r(false, Concrete(3))));
        assert!(!val_subtype(r(false, Concrete(3)), r(false, Concrete(4))));
        assert!(val_subtype(r(true, NoFunc), r(true, Concrete(4))));
        assert!(val_subtype(r(true, NoExtern), r(true, Extern)));
        assert!(!val_subtype(r(true, Extern), r(true, Func)));
    }

    #[test]
    fn canonicalization() {
        let ids = [7, 9];
        assert_eq!(
            canon_val(r(true, HeapType::Concrete(1)), &ids),
            r(true, HeapType::Concrete(9))
        );
        assert_eq!(
            canon_val(r(true, HeapType::Concrete(5)), &ids),
            r(true, HeapType::Concrete(5))
        );
        assert_eq!(canon_val(ValType::F32, &ids), ValType::F32);
        let self_ref = FuncType {
            params: vec![],
            results: vec![r(true, HeapType::Concrete(2))],
        };
        assert!(refers_beyond(&self_ref, 2));
        assert!(!refers_beyond(&self_ref, 3));
    }
}

/// Canonical ids for function types, shared by everything created from one engine: two
/// structurally equal types get the same id, so `call_indirect` checks are one comparison.
#[derive(Debug, Default)]
pub(crate) struct TypeRegistry {
    inner: RwLock<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    ids: HashMap<Arc<FuncType>, u32>,
    types: Vec<Arc<FuncType>>,
}

impl TypeRegistry {
    /// The canonical id of `ty`, registering it if new.
    pub fn register(&self, ty: &FuncType) -> u32 {
        if let Some(&id) = self.inner.read().ids.get(ty) {
            return id;
        }
        let mut w = self.inner.write();
        if let Some(&id) = w.ids.get(ty) {
            return id;
        }
        let id = u32::try_from(w.types.len()).unwrap_or(u32::MAX - 1);
        let ty = Arc::new(ty.clone());
        w.types.push(ty.clone());
        w.ids.insert(ty, id);
        id
    }

    /// A fresh id for `ty` that no other registration shares.
    pub fn register_unique(&self, ty: &FuncType) -> u32 {
        let mut w = self.inner.write();
        let id = u32::try_from(w.types.len()).unwrap_or(u32::MAX - 1);
        w.types.push(Arc::new(ty.clone()));
        id
    }

    /// The type with canonical id `id`.
    pub fn get(&self, id: u32) -> Option<Arc<FuncType>> {
        let r = self.inner.read();
        r.types.get(id as usize).cloned()
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;
    use precast_format::module::ValType;

    #[test]
    fn registry_canonicalizes() {
        let r = TypeRegistry::default();
        let a = FuncType {
            params: vec![ValType::I32],
            results: vec![ValType::I64],
        };
        let b = FuncType {
            params: vec![ValType::I64],
            results: vec![],
        };
        let ia = r.register(&a);
        let ib = r.register(&b);
        assert_ne!(ia, ib);
        assert_eq!(r.register(&a.clone()), ia);
        assert_eq!(*r.get(ia).unwrap(), a);
        assert_eq!(*r.get(ib).unwrap(), b);
        assert!(r.get(99).is_none());
        let u = r.register_unique(&a);
        assert!(u != ia && *r.get(u).unwrap() == a);
        assert_eq!(r.register(&a), ia);
    }
}
