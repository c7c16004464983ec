//! Type objects: value, function, global, table, memory, extern, import and export types.
//!
//! The four entity types are one Rust type, [`wasm_externtype_t`], so the standard's casts
//! (`wasm_functype_as_externtype`, `wasm_externtype_as_functype`, ...) are the identity on
//! pointers (or NULL for another kind).

use crate::error::set_last_error;
use crate::vec::{CVec, declare_vec, wasm_byte_vec_t};
use crate::{boxed, guard, unbox};
use precast_loader::{ExternType, FuncType, GlobalType, MemoryType, RefType, TableType, ValType};

/// `wasm_valtype_t`.
#[derive(Clone, Debug, PartialEq)]
pub struct wasm_valtype_t {
    pub(crate) ty: ValType,
}

/// `wasm_valkind_t` values.
pub(crate) mod kind {
    pub const I32: u8 = 0;
    pub const I64: u8 = 1;
    pub const F32: u8 = 2;
    pub const F64: u8 = 3;
    /// Precast's extension (`PRECAST_V128`).
    pub const V128: u8 = 4;
    pub const EXTERNREF: u8 = 128;
    pub const FUNCREF: u8 = 129;
}

/// The C kind of a value type (references: the kind of their hierarchy).
pub(crate) fn valkind(ty: &ValType) -> u8 {
    match ty {
        ValType::I32 => kind::I32,
        ValType::I64 => kind::I64,
        ValType::F32 => kind::F32,
        ValType::F64 => kind::F64,
        ValType::V128 => kind::V128,
        ValType::Ref(r) if r.is_func() => kind::FUNCREF,
        ValType::Ref(_) => kind::EXTERNREF,
    }
}

/// The value type of a C kind.
pub(crate) fn valtype_of_kind(k: u8) -> Option<ValType> {
    Some(match k {
        kind::I32 => ValType::I32,
        kind::I64 => ValType::I64,
        kind::F32 => ValType::F32,
        kind::F64 => ValType::F64,
        kind::V128 => ValType::V128,
        kind::EXTERNREF => ValType::Ref(RefType::EXTERNREF),
        kind::FUNCREF => ValType::Ref(RefType::FUNCREF),
        _ => return None,
    })
}

/// `wasm_limits_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wasm_limits_t {
    pub min: u32,
    pub max: u32,
}

const NO_MAX: u32 = u32::MAX;

/// Limits for C (saturated to 32 bits; no maximum is `wasm_limits_max_default`).
fn limits(min: u64, max: Option<u64>) -> wasm_limits_t {
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    wasm_limits_t {
        min: clamp(min),
        max: max.map_or(NO_MAX, clamp),
    }
}

fn max_of(l: &wasm_limits_t) -> Option<u64> {
    (l.max != NO_MAX).then_some(u64::from(l.max))
}

/// What a [`wasm_externtype_t`] is.
pub(crate) enum TypeObj {
    Func {
        ty: FuncType,
        params: CVec<*mut wasm_valtype_t>,
        results: CVec<*mut wasm_valtype_t>,
    },
    Global {
        ty: GlobalType,
        content: Box<wasm_valtype_t>,
    },
    Table {
        ty: TableType,
        element: Box<wasm_valtype_t>,
        limits: wasm_limits_t,
    },
    Memory {
        ty: MemoryType,
        limits: wasm_limits_t,
    },
}

/// `wasm_externtype_t`, and `wasm_functype_t`, `wasm_globaltype_t`, `wasm_tabletype_t`,
/// `wasm_memorytype_t`.
pub struct wasm_externtype_t {
    pub(crate) which: TypeObj,
}

pub type wasm_functype_t = wasm_externtype_t;
pub type wasm_globaltype_t = wasm_externtype_t;
pub type wasm_tabletype_t = wasm_externtype_t;
pub type wasm_memorytype_t = wasm_externtype_t;

fn valtype_vec(types: &[ValType]) -> CVec<*mut wasm_valtype_t> {
    CVec::from_vec(
        types
            .iter()
            .map(|t| boxed(wasm_valtype_t { ty: *t }))
            .collect(),
    )
}

impl wasm_externtype_t {
    pub(crate) fn func(ty: &FuncType) -> wasm_externtype_t {
        wasm_externtype_t {
            which: TypeObj::Func {
                params: valtype_vec(&ty.params),
                results: valtype_vec(&ty.results),
                ty: ty.clone(),
            },
        }
    }

    pub(crate) fn global(ty: GlobalType) -> wasm_externtype_t {
        wasm_externtype_t {
            which: TypeObj::Global {
                ty,
                content: Box::new(wasm_valtype_t { ty: ty.content }),
            },
        }
    }

    pub(crate) fn table(ty: TableType) -> wasm_externtype_t {
        wasm_externtype_t {
            which: TypeObj::Table {
                ty,
                element: Box::new(wasm_valtype_t {
                    ty: ValType::Ref(ty.element),
                }),
                limits: limits(ty.minimum, ty.maximum),
            },
        }
    }

    pub(crate) fn memory(ty: MemoryType) -> wasm_externtype_t {
        wasm_externtype_t {
            which: TypeObj::Memory {
                ty,
                limits: limits(ty.minimum, ty.maximum),
            },
        }
    }

    pub(crate) fn of(ty: &ExternType) -> wasm_externtype_t {
        match ty {
            ExternType::Func(f) => wasm_externtype_t::func(f),
            ExternType::Global(g) => wasm_externtype_t::global(*g),
            ExternType::Table(t) => wasm_externtype_t::table(*t),
            ExternType::Memory(m) => wasm_externtype_t::memory(*m),
        }
    }

    pub(crate) fn as_func(&self) -> Option<&FuncType> {
        match &self.which {
            TypeObj::Func { ty, .. } => Some(ty),
            _ => None,
        }
    }

    pub(crate) fn as_global(&self) -> Option<GlobalType> {
        match &self.which {
            TypeObj::Global { ty, .. } => Some(*ty),
            _ => None,
        }
    }

    pub(crate) fn as_table(&self) -> Option<TableType> {
        match &self.which {
            TypeObj::Table { ty, .. } => Some(*ty),
            _ => None,
        }
    }

    pub(crate) fn as_memory(&self) -> Option<MemoryType> {
        match &self.which {
            TypeObj::Memory { ty, .. } => Some(*ty),
            _ => None,
        }
    }

    fn kind(&self) -> u8 {
        match self.which {
            TypeObj::Func { .. } => 0,
            TypeObj::Global { .. } => 1,
            TypeObj::Table { .. } => 2,
            TypeObj::Memory { .. } => 3,
        }
    }
}

impl Clone for wasm_externtype_t {
    fn clone(&self) -> Self {
        match &self.which {
            TypeObj::Func { ty, .. } => wasm_externtype_t::func(ty),
            TypeObj::Global { ty, .. } => wasm_externtype_t::global(*ty),
            TypeObj::Table { ty, .. } => wasm_externtype_t::table(*ty),
            TypeObj::Memory { ty, .. } => wasm_externtype_t::memory(*ty),
        }
    }
}

impl Drop for wasm_externtype_t {
    fn drop(&mut self) {
        if let TypeObj::Func {
            params, results, ..
        } = &mut self.which
        {
            // SAFETY: both vectors were made by `valtype_vec` (or taken from C vectors this
            // library made) and own their value types; nobody else holds them.
            unsafe {
                params.delete();
                results.delete();
            }
        }
    }
}

/// `wasm_importtype_t`.
pub struct wasm_importtype_t {
    module: wasm_byte_vec_t,
    name: wasm_byte_vec_t,
    ty: Box<wasm_externtype_t>,
}

/// `wasm_exporttype_t`.
pub struct wasm_exporttype_t {
    name: wasm_byte_vec_t,
    ty: Box<wasm_externtype_t>,
}

impl wasm_importtype_t {
    pub(crate) fn new(module: &str, name: &str, ty: &ExternType) -> wasm_importtype_t {
        wasm_importtype_t {
            module: crate::vec::byte_vec(module.as_bytes()),
            name: crate::vec::byte_vec(name.as_bytes()),
            ty: Box::new(wasm_externtype_t::of(ty)),
        }
    }
}

impl wasm_exporttype_t {
    pub(crate) fn new(name: &str, ty: &ExternType) -> wasm_exporttype_t {
        wasm_exporttype_t {
            name: crate::vec::byte_vec(name.as_bytes()),
            ty: Box::new(wasm_externtype_t::of(ty)),
        }
    }
}

/// The bytes of a byte vector this library made.
fn bytes_of(v: &wasm_byte_vec_t) -> &[u8] {
    // SAFETY: the vector was made by this library (`byte_vec` or taken from a C vector),
    // and is owned by the object `v` belongs to.
    unsafe { v.as_slice() }
}

impl Clone for wasm_importtype_t {
    fn clone(&self) -> Self {
        wasm_importtype_t {
            module: crate::vec::byte_vec(bytes_of(&self.module)),
            name: crate::vec::byte_vec(bytes_of(&self.name)),
            ty: self.ty.clone(),
        }
    }
}

impl Clone for wasm_exporttype_t {
    fn clone(&self) -> Self {
        wasm_exporttype_t {
            name: crate::vec::byte_vec(bytes_of(&self.name)),
            ty: self.ty.clone(),
        }
    }
}

impl Drop for wasm_importtype_t {
    fn drop(&mut self) {
        // SAFETY: byte vectors this object owns (made by this library).
        unsafe {
            self.module.delete();
            self.name.delete();
        }
    }
}

impl Drop for wasm_exporttype_t {
    fn drop(&mut self) {
        // SAFETY: a byte vector this object owns (made by this library).
        unsafe { self.name.delete() };
    }
}

// ---------------------------------------------------------------------------------------
// Destructors, copies and vectors.

/// Declares `wasm_NAME_delete` and `wasm_NAME_copy` for a type object.
macro_rules! type_delete_copy {
    ($t:ty, $delete:ident, $copy:ident) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $delete(p: *mut $t) {
            guard((), || {
                // SAFETY: NULL or an owned object of this library, given back by its owner.
                drop(unsafe { unbox(p) });
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $copy(p: *const $t) -> *mut $t {
            guard(std::ptr::null_mut(), || {
                // SAFETY: NULL or a live object of this library (borrowed for the call).
                match unsafe { p.as_ref() } {
                    Some(t) => boxed(t.clone()),
                    None => std::ptr::null_mut(),
                }
            })
        }
    };
}

type_delete_copy!(wasm_valtype_t, wasm_valtype_delete, wasm_valtype_copy);
type_delete_copy!(wasm_externtype_t, wasm_functype_delete, wasm_functype_copy);
type_delete_copy!(
    wasm_externtype_t,
    wasm_globaltype_delete,
    wasm_globaltype_copy
);
type_delete_copy!(
    wasm_externtype_t,
    wasm_tabletype_delete,
    wasm_tabletype_copy
);
type_delete_copy!(
    wasm_externtype_t,
    wasm_memorytype_delete,
    wasm_memorytype_copy
);
type_delete_copy!(
    wasm_externtype_t,
    wasm_externtype_delete,
    wasm_externtype_copy
);
type_delete_copy!(
    wasm_importtype_t,
    wasm_importtype_delete,
    wasm_importtype_copy
);
type_delete_copy!(
    wasm_exporttype_t,
    wasm_exporttype_delete,
    wasm_exporttype_copy
);

declare_vec!(
    *mut wasm_valtype_t,
    wasm_valtype_vec_new_empty,
    wasm_valtype_vec_new_uninitialized,
    wasm_valtype_vec_new,
    wasm_valtype_vec_copy,
    wasm_valtype_vec_delete
);
declare_vec!(
    *mut wasm_externtype_t,
    wasm_functype_vec_new_empty,
    wasm_functype_vec_new_uninitialized,
    wasm_functype_vec_new,
    wasm_functype_vec_copy,
    wasm_functype_vec_delete
);
declare_vec!(
    *mut wasm_externtype_t,
    wasm_globaltype_vec_new_empty,
    wasm_globaltype_vec_new_uninitialized,
    wasm_globaltype_vec_new,
    wasm_globaltype_vec_copy,
    wasm_globaltype_vec_delete
);
declare_vec!(
    *mut wasm_externtype_t,
    wasm_tabletype_vec_new_empty,
    wasm_tabletype_vec_new_uninitialized,
    wasm_tabletype_vec_new,
    wasm_tabletype_vec_copy,
    wasm_tabletype_vec_delete
);
declare_vec!(
    *mut wasm_externtype_t,
    wasm_memorytype_vec_new_empty,
    wasm_memorytype_vec_new_uninitialized,
    wasm_memorytype_vec_new,
    wasm_memorytype_vec_copy,
    wasm_memorytype_vec_delete
);
declare_vec!(
    *mut wasm_externtype_t,
    wasm_externtype_vec_new_empty,
    wasm_externtype_vec_new_uninitialized,
    wasm_externtype_vec_new,
    wasm_externtype_vec_copy,
    wasm_externtype_vec_delete
);
declare_vec!(
    *mut wasm_importtype_t,
    wasm_importtype_vec_new_empty,
    wasm_importtype_vec_new_uninitialized,
    wasm_importtype_vec_new,
    wasm_importtype_vec_copy,
    wasm_importtype_vec_delete
);
declare_vec!(
    *mut wasm_exporttype_t,
    wasm_exporttype_vec_new_empty,
    wasm_exporttype_vec_new_uninitialized,
    wasm_exporttype_vec_new,
    wasm_exporttype_vec_copy,
    wasm_exporttype_vec_delete
);

// ---------------------------------------------------------------------------------------
// Value types.

#[unsafe(no_mangle)]
pub extern "C" fn wasm_valtype_new(k: u8) -> *mut wasm_valtype_t {
    guard(std::ptr::null_mut(), || match valtype_of_kind(k) {
        Some(ty) => boxed(wasm_valtype_t { ty }),
        None => {
            set_last_error(format!("{k} is not a value kind"));
            std::ptr::null_mut()
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_valtype_kind(t: *const wasm_valtype_t) -> u8 {
    guard(kind::I32, || {
        // SAFETY: NULL or a live value type (borrowed for the call).
        unsafe { t.as_ref() }.map_or(kind::I32, |t| valkind(&t.ty))
    })
}

/// Takes the value types of an owned C vector; `None` (everything freed) if one is NULL.
///
/// # Safety
/// `v` is NULL or an owned vector of value types made by this library.
unsafe fn take_valtypes(v: *mut CVec<*mut wasm_valtype_t>) -> Option<Vec<ValType>> {
    // SAFETY: per this function's contract.
    let Some(v) = (unsafe { v.as_mut() }) else {
        return Some(Vec::new());
    };
    // SAFETY: made by this library, now owned by us.
    let items = unsafe { v.take() };
    let mut out = Some(Vec::with_capacity(items.len()));
    for p in items {
        // SAFETY: each element is NULL or an owned value type, which we now own.
        match unsafe { unbox(p) } {
            Some(t) => {
                if let Some(o) = out.as_mut() {
                    o.push(t.ty)
                }
            }
            None => out = None,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Function types.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_functype_new(
    params: *mut CVec<*mut wasm_valtype_t>,
    results: *mut CVec<*mut wasm_valtype_t>,
) -> *mut wasm_functype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: owned vectors of value types, per the header.
        let (p, r) = unsafe { (take_valtypes(params), take_valtypes(results)) };
        match (p, r) {
            (Some(params), Some(results)) => {
                boxed(wasm_externtype_t::func(&FuncType { params, results }))
            }
            _ => {
                set_last_error("wasm_functype_new: a value type is NULL");
                std::ptr::null_mut()
            }
        }
    })
}

/// The function type's parameter or result vector.
///
/// # Safety
/// `t` is NULL or a live type object.
unsafe fn func_vec(t: *const wasm_functype_t, results: bool) -> *const CVec<*mut wasm_valtype_t> {
    // SAFETY: per this function's contract.
    match unsafe { t.as_ref() }.map(|t| &t.which) {
        Some(TypeObj::Func {
            params, results: r, ..
        }) => {
            if results {
                r
            } else {
                params
            }
        }
        _ => &EMPTY_VALTYPES.0,
    }
}

/// An empty vector for the accessors of a NULL or mistyped object.
struct EmptyValtypes(CVec<*mut wasm_valtype_t>);
// SAFETY: the empty vector holds a NULL pointer that is never written through.
unsafe impl Sync for EmptyValtypes {}
static EMPTY_VALTYPES: EmptyValtypes = EmptyValtypes(CVec::empty());

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_functype_params(
    t: *const wasm_functype_t,
) -> *const CVec<*mut wasm_valtype_t> {
    // SAFETY: the C caller's contract is `func_vec`'s.
    guard(&EMPTY_VALTYPES.0, || unsafe { func_vec(t, false) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_functype_results(
    t: *const wasm_functype_t,
) -> *const CVec<*mut wasm_valtype_t> {
    // SAFETY: the C caller's contract is `func_vec`'s.
    guard(&EMPTY_VALTYPES.0, || unsafe { func_vec(t, true) })
}

// ---------------------------------------------------------------------------------------
// Global types.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_globaltype_new(
    content: *mut wasm_valtype_t,
    mutability: u8,
) -> *mut wasm_globaltype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: an owned value type (or NULL), per the header.
        let Some(content) = (unsafe { unbox(content) }) else {
            set_last_error("wasm_globaltype_new: the value type is NULL");
            return std::ptr::null_mut();
        };
        if mutability > 1 {
            set_last_error(format!("{mutability} is not a mutability"));
            return std::ptr::null_mut();
        }
        boxed(wasm_externtype_t::global(GlobalType {
            content: content.ty,
            mutable: mutability == 1,
        }))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_globaltype_content(
    t: *const wasm_globaltype_t,
) -> *const wasm_valtype_t {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live type object (borrowed; the result lives as long).
        match unsafe { t.as_ref() }.map(|t| &t.which) {
            Some(TypeObj::Global { content, .. }) => &**content,
            _ => std::ptr::null(),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_globaltype_mutability(t: *const wasm_globaltype_t) -> u8 {
    guard(0, || {
        // SAFETY: NULL or a live type object.
        unsafe { t.as_ref() }
            .and_then(|t| t.as_global())
            .map_or(0, |g| u8::from(g.mutable))
    })
}

// ---------------------------------------------------------------------------------------
// Table types.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_tabletype_new(
    element: *mut wasm_valtype_t,
    limits: *const wasm_limits_t,
) -> *mut wasm_tabletype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: an owned value type (or NULL), per the header.
        let element = unsafe { unbox(element) };
        // SAFETY: NULL or valid limits (borrowed).
        let limits = unsafe { limits.as_ref() };
        match (element.map(|e| e.ty), limits) {
            (Some(ValType::Ref(r)), Some(l)) => boxed(wasm_externtype_t::table(TableType {
                element: r,
                minimum: u64::from(l.min),
                maximum: max_of(l),
                table64: false,
            })),
            _ => {
                set_last_error("wasm_tabletype_new: needs a reference type and limits");
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_tabletype_element(
    t: *const wasm_tabletype_t,
) -> *const wasm_valtype_t {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live type object (borrowed; the result lives as long).
        match unsafe { t.as_ref() }.map(|t| &t.which) {
            Some(TypeObj::Table { element, .. }) => &**element,
            _ => std::ptr::null(),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_tabletype_limits(t: *const wasm_tabletype_t) -> *const wasm_limits_t {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live type object (borrowed; the result lives as long).
        match unsafe { t.as_ref() }.map(|t| &t.which) {
            Some(TypeObj::Table { limits, .. }) => limits,
            _ => std::ptr::null(),
        }
    })
}

// ---------------------------------------------------------------------------------------
// Memory types.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memorytype_new(
    limits: *const wasm_limits_t,
) -> *mut wasm_memorytype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or valid limits (borrowed).
        match unsafe { limits.as_ref() } {
            Some(l) => boxed(wasm_externtype_t::memory(MemoryType {
                minimum: u64::from(l.min),
                maximum: max_of(l),
                memory64: false,
                shared: false,
                page_size_log2: 16,
            })),
            None => {
                set_last_error("wasm_memorytype_new: the limits are NULL");
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memorytype_limits(
    t: *const wasm_memorytype_t,
) -> *const wasm_limits_t {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live type object (borrowed; the result lives as long).
        match unsafe { t.as_ref() }.map(|t| &t.which) {
            Some(TypeObj::Memory { limits, .. }) => limits,
            _ => std::ptr::null(),
        }
    })
}

// ---------------------------------------------------------------------------------------
// Extern types.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_externtype_kind(t: *const wasm_externtype_t) -> u8 {
    guard(0, || {
        // SAFETY: NULL or a live type object.
        unsafe { t.as_ref() }.map_or(0, |t| t.kind())
    })
}

/// Declares the casts between one entity type and extern types.
macro_rules! type_casts {
    ($kind:expr, $to_extern:ident, $to_extern_const:ident, $from_extern:ident, $from_extern_const:ident) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn $to_extern(t: *mut wasm_externtype_t) -> *mut wasm_externtype_t {
            t
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn $to_extern_const(
            t: *const wasm_externtype_t,
        ) -> *const wasm_externtype_t {
            t
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $from_extern(t: *mut wasm_externtype_t) -> *mut wasm_externtype_t {
            // SAFETY: the C caller's contract: NULL or a live type object.
            if unsafe { wasm_externtype_kind(t) } == $kind && !t.is_null() {
                t
            } else {
                std::ptr::null_mut()
            }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $from_extern_const(
            t: *const wasm_externtype_t,
        ) -> *const wasm_externtype_t {
            // SAFETY: the C caller's contract: NULL or a live type object.
            if unsafe { wasm_externtype_kind(t) } == $kind && !t.is_null() {
                t
            } else {
                std::ptr::null()
            }
        }
    };
}

type_casts!(
    0,
    wasm_functype_as_externtype,
    wasm_functype_as_externtype_const,
    wasm_externtype_as_functype,
    wasm_externtype_as_functype_const
);
type_casts!(
    1,
    wasm_globaltype_as_externtype,
    wasm_globaltype_as_externtype_const,
    wasm_externtype_as_globaltype,
    wasm_externtype_as_globaltype_const
);
type_casts!(
    2,
    wasm_tabletype_as_externtype,
    wasm_tabletype_as_externtype_const,
    wasm_externtype_as_tabletype,
    wasm_externtype_as_tabletype_const
);
type_casts!(
    3,
    wasm_memorytype_as_externtype,
    wasm_memorytype_as_externtype_const,
    wasm_externtype_as_memorytype,
    wasm_externtype_as_memorytype_const
);

// ---------------------------------------------------------------------------------------
// Import and export types.

/// Takes an owned name vector (NULL: empty).
///
/// # Safety
/// `v` is NULL or an owned byte vector made by this library.
unsafe fn take_name(v: *mut wasm_byte_vec_t) -> wasm_byte_vec_t {
    // SAFETY: per this function's contract.
    match unsafe { v.as_mut() } {
        // SAFETY: made by this library; ownership passes to us.
        Some(v) => CVec::from_vec(unsafe { v.take() }),
        None => CVec::empty(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_new(
    module: *mut wasm_byte_vec_t,
    name: *mut wasm_byte_vec_t,
    ty: *mut wasm_externtype_t,
) -> *mut wasm_importtype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: owned names and type, per the header.
        let (module, name, ty) = unsafe { (take_name(module), take_name(name), unbox(ty)) };
        match ty {
            Some(ty) => boxed(wasm_importtype_t { module, name, ty }),
            None => {
                let (mut module, mut name) = (module, name);
                // SAFETY: byte vectors we own and free here.
                unsafe {
                    module.delete();
                    name.delete();
                }
                set_last_error("wasm_importtype_new: the type is NULL");
                std::ptr::null_mut()
            }
        }
    })
}

/// An empty name for the accessors of a NULL object.
struct EmptyName(wasm_byte_vec_t);
// SAFETY: the empty vector holds a NULL pointer that is never written through.
unsafe impl Sync for EmptyName {}
static EMPTY_NAME: EmptyName = EmptyName(CVec::empty());

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_module(
    t: *const wasm_importtype_t,
) -> *const wasm_byte_vec_t {
    guard(&EMPTY_NAME.0, || {
        // SAFETY: NULL or a live import type (borrowed; the result lives as long).
        unsafe { t.as_ref() }.map_or(&EMPTY_NAME.0, |t| &t.module)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_name(
    t: *const wasm_importtype_t,
) -> *const wasm_byte_vec_t {
    guard(&EMPTY_NAME.0, || {
        // SAFETY: NULL or a live import type (borrowed; the result lives as long).
        unsafe { t.as_ref() }.map_or(&EMPTY_NAME.0, |t| &t.name)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_type(
    t: *const wasm_importtype_t,
) -> *const wasm_externtype_t {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live import type (borrowed; the result lives as long).
        unsafe { t.as_ref() }.map_or(std::ptr::null(), |t| &*t.ty)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_exporttype_new(
    name: *mut wasm_byte_vec_t,
    ty: *mut wasm_externtype_t,
) -> *mut wasm_exporttype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: owned name and type, per the header.
        let (name, ty) = unsafe { (take_name(name), unbox(ty)) };
        match ty {
            Some(ty) => boxed(wasm_exporttype_t { name, ty }),
            None => {
                let mut name = name;
                // SAFETY: a byte vector we own and free here.
                unsafe { name.delete() };
                set_last_error("wasm_exporttype_new: the type is NULL");
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_exporttype_name(
    t: *const wasm_exporttype_t,
) -> *const wasm_byte_vec_t {
    guard(&EMPTY_NAME.0, || {
        // SAFETY: NULL or a live export type (borrowed; the result lives as long).
        unsafe { t.as_ref() }.map_or(&EMPTY_NAME.0, |t| &t.name)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_exporttype_type(
    t: *const wasm_exporttype_t,
) -> *const wasm_externtype_t {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live export type (borrowed; the result lives as long).
        unsafe { t.as_ref() }.map_or(std::ptr::null(), |t| &*t.ty)
    })
}
