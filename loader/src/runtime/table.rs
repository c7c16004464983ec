//! Table storage: pointer-sized elements in a vector that may move when it grows.

use crate::prelude::*;
use crate::runtime::store::Owned;
use crate::runtime::vm::VMTableDefinition;
use precast_format::module::TableType;

/// The most elements any table may have, whatever its type says.
pub(crate) const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table's elements. Raw values: `*const VMFuncRef` for function tables, opaque nonzero
/// host values for extern tables, 0 for null.
#[derive(Debug)]
pub(crate) struct TableElements {
    elements: Vec<usize>,
    max: u64,
    /// The pool the storage came from (returned on drop).
    pool: Option<alloc::sync::Arc<crate::platform::pool::Pool>>,
}

impl TableElements {
    /// A table of `ty.minimum` elements set to `init`.
    pub fn new(ty: &TableType, init: usize) -> Result<TableElements, String> {
        TableElements::with_storage(ty, init, None)
    }

    /// A table of `ty.minimum` elements set to `init`, with storage from `pool` when given.
    pub fn with_storage(
        ty: &TableType,
        init: usize,
        pool: Option<&alloc::sync::Arc<crate::platform::pool::Pool>>,
    ) -> Result<TableElements, String> {
        let mut max = ty.maximum.unwrap_or(u64::MAX).min(MAX_TABLE_ELEMENTS);
        if let Some(pool) = pool {
            let limit = pool.limits().max_table_elements;
            if ty.minimum > limit {
                return Err(format!(
                    "table minimum of {} elements exceeds the pool's limit of {limit} \
                     (PoolConfig::max_table_elements)",
                    ty.minimum
                ));
            }
            max = max.min(limit);
        }
        if ty.minimum > max {
            return Err(format!(
                "table minimum of {} elements exceeds the limit of {max}",
                ty.minimum
            ));
        }
        let n = ty.minimum as usize;
        let mut elements = match pool {
            Some(pool) => pool.take_table()?,
            None => Vec::new(),
        };
        elements
            .try_reserve_exact(n)
            .map_err(|e| format!("cannot allocate a table of {n} elements: {e}"))?;
        elements.resize(n, init);
        Ok(TableElements {
            elements,
            max,
            pool: pool.cloned(),
        })
    }

    /// The elements, mutably (the whole table).
    pub fn as_mut_slice(&mut self) -> &mut [usize] {
        &mut self.elements
    }

    /// Current length.
    pub fn len(&self) -> u64 {
        self.elements.len() as u64
    }

    /// Elements pointer (changes when the table grows).
    pub fn base(&mut self) -> *mut usize {
        self.elements.as_mut_ptr()
    }

    /// Grows by `delta` elements set to `init`; returns the old length or `None`.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.len();
        let new = old.checked_add(delta).filter(|&n| n <= self.max)?;
        let extra = usize::try_from(delta).ok()?;
        self.elements.try_reserve(extra).ok()?;
        self.elements.resize(new as usize, init);
        Some(old)
    }

    /// Element `i`.
    pub fn get(&self, i: u64) -> Option<usize> {
        self.elements.get(usize::try_from(i).ok()?).copied()
    }

    /// Sets element `i`; false if out of bounds.
    pub fn set(&mut self, i: u64, value: usize) -> bool {
        match usize::try_from(i)
            .ok()
            .and_then(|i| self.elements.get_mut(i))
        {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// The range `[start, start + len)` as a mutable slice, if in bounds.
    pub fn range_mut(&mut self, start: u64, len: u64) -> Option<&mut [usize]> {
        let end = start.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        self.elements.get_mut(start as usize..end as usize)
    }

    /// The range `[start, start + len)`, if in bounds.
    pub fn range(&self, start: u64, len: u64) -> Option<&[usize]> {
        let end = start.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        self.elements.get(start as usize..end as usize)
    }

    /// Copies within the table with `memmove` semantics; false if either range is out of
    /// bounds (nothing written).
    pub fn copy_within(&mut self, dst: u64, src: u64, len: u64) -> bool {
        let (Some(de), Some(se)) = (dst.checked_add(len), src.checked_add(len)) else {
            return false;
        };
        if de > self.len() || se > self.len() {
            return false;
        }
        self.elements
            .copy_within(src as usize..se as usize, dst as usize);
        true
    }
}

impl Drop for TableElements {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.release_table(core::mem::take(&mut self.elements));
        }
    }
}

/// A table of the store.
#[derive(Debug)]
pub(crate) struct TableEntry {
    pub elems: TableElements,
    pub ty: TableType,
    /// Inside the defining instance's VMContext, or `owned`.
    pub def: *mut VMTableDefinition,
    pub _owned: Option<Owned<VMTableDefinition>>,
}

impl TableEntry {
    /// Publishes the current base and length to the definition.
    pub fn sync(&mut self) {
        // SAFETY: `def` points to a live definition owned by this store.
        unsafe {
            (*self.def).base = self.elems.base();
            (*self.def).length = self.elems.len() as usize;
        }
    }

    /// Grows by `delta` elements set to `init`; returns the old length.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.elems.grow(delta, init)?;
        self.sync();
        Some(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use precast_format::module::RefType;

    fn ty(min: u64, max: Option<u64>) -> TableType {
        TableType {
            element: RefType::FUNCREF,
            minimum: min,
            maximum: max,
            table64: false,
        }
    }

    #[test]
    fn grow_set_copy() {
        let mut t = TableElements::new(&ty(2, Some(4)), 5).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(1), Some(5));
        assert_eq!(t.grow(2, 9), Some(2));
        assert_eq!(t.grow(1, 0), None);
        assert!(t.set(3, 1));
        assert!(!t.set(4, 1));
        assert!(t.copy_within(0, 2, 2));
        assert_eq!((t.get(0), t.get(1)), (Some(9), Some(1)));
        assert!(!t.copy_within(3, 0, 2));
        assert!(
            t.copy_within(4, 0, 0),
            "zero length at the end is in bounds"
        );
        assert!(!t.copy_within(5, 0, 0));
        assert!(t.range(4, 0).is_some());
        assert!(t.range(4, 1).is_none());
        assert!(TableElements::new(&ty(MAX_TABLE_ELEMENTS + 1, None), 0).is_err());
    }
}
