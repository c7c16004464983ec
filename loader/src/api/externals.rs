//! Handles to store-owned memories, tables and globals, usable from the host and importable
//! by modules.

#[cfg(feature = "std")]
use crate::api::shared_memory::SharedMemory;
use crate::api::store::{AsStore, AsStoreMut, StoreId};
use crate::api::values::{Val, raw_to_val, ref_to_raw, val_to_raw, val_type_name};
use crate::runtime::error::{Error, api};
use crate::runtime::memory::{MemoryStorage, MemoryView, range};
#[cfg(feature = "std")]
use crate::runtime::memory::{load_bytes, store_bytes};
use crate::runtime::store;
use precast_format::module::{GlobalType, MemoryType, TableType, ValType};

/// A linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

impl Memory {
    /// Creates a memory of type `ty` in `store` (it can be imported by modules).
    pub fn new(store: &mut impl AsStoreMut, ty: MemoryType) -> Result<Memory, Error> {
        let store = store.as_store_mut();
        let index = store.push_host_memory(ty)?;
        Ok(Memory {
            store: store.id,
            index,
        })
    }

    /// The memory's type, with the current size as its minimum.
    pub fn ty(&self, store: &impl AsStore) -> Result<MemoryType, Error> {
        let store = store.as_store();
        store.check(self.store)?;
        let e = store.entities.memory(self.index)?;
        Ok(MemoryType {
            minimum: e.mem.pages(),
            ..e.ty
        })
    }

    /// The memory's contents (empty if the memory belongs to another store, or is a shared
    /// memory: other threads may write those at any time, so they are read through
    /// [`SharedMemory::data`], or with [`Memory::read`], which serves both kinds).
    pub fn data<'a>(&self, store: &'a impl AsStore) -> &'a [u8] {
        let store = store.as_store();
        match store
            .check(self.store)
            .and_then(|()| store.entities.memory(self.index))
        {
            Ok(e) => e.mem.exclusive().unwrap_or(&[]),
            Err(_) => &[],
        }
    }

    /// The memory's contents, mutably (empty as for [`Memory::data`]).
    pub fn data_mut<'a>(&self, store: &'a mut impl AsStoreMut) -> &'a mut [u8] {
        let store = store.as_store_mut();
        if store.check(self.store).is_err() {
            return &mut [];
        }
        match store.entities.memory_mut(self.index) {
            Ok(e) => e.mem.exclusive_mut().unwrap_or(&mut []),
            Err(_) => &mut [],
        }
    }

    /// The memory's contents and the embedder data, both mutably: for host functions that
    /// read or write guest memory while updating their own state (empty contents as for
    /// [`Memory::data`]).
    pub fn data_and_store_mut<'a, T>(
        &self,
        caller: &'a mut crate::api::func::Caller<'_, T>,
    ) -> (&'a mut [u8], &'a mut T) {
        let (view, data) = self.view_and_store_mut(caller);
        match view {
            MemoryView::Exclusive(bytes) => (bytes, data),
            MemoryView::Shared(_) => (&mut [], data),
        }
    }

    /// The memory's bytes in the form its sharing allows, and the embedder data, both
    /// mutably: for host functions that read or write guest memory while updating their own
    /// state, and that must also serve shared memories (WASI does). A memory of the store's
    /// own is [`MemoryView::Exclusive`]; a shared memory is [`MemoryView::Shared`], whose
    /// bytes other threads may write at any time (see [`MemoryView`]). The view is empty if
    /// the memory belongs to another store.
    ///
    /// ```no_run
    /// # use precast_loader::{Caller, Extern, MemoryView};
    /// fn first_byte<T>(caller: &mut Caller<'_, T>) -> Option<u8> {
    ///     let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
    ///         return None;
    ///     };
    ///     let (view, _data): (MemoryView<'_>, &mut T) = memory.view_and_store_mut(caller);
    ///     let mut byte = [0];
    ///     (!view.is_empty()).then(|| {
    ///         view.read(0, &mut byte);
    ///         byte[0]
    ///     })
    /// }
    /// ```
    pub fn view_and_store_mut<'a, T>(
        &self,
        caller: &'a mut crate::api::func::Caller<'_, T>,
    ) -> (MemoryView<'a>, &'a mut T) {
        let inner = &mut *caller.inner;
        let view = match inner.opaque.check(self.store) {
            Ok(()) => match inner.opaque.entities.memory_mut(self.index) {
                Ok(e) => e.mem.view_mut(),
                Err(_) => MemoryView::Exclusive(&mut []),
            },
            Err(_) => MemoryView::Exclusive(&mut []),
        };
        (view, &mut inner.data)
    }

    /// The shared memory this memory is, if it is one.
    #[cfg(feature = "std")]
    pub fn shared(&self, store: &impl AsStore) -> Option<SharedMemory> {
        let store = store.as_store();
        store.check(self.store).ok()?;
        match &store.entities.memory(self.index).ok()?.mem {
            MemoryStorage::Shared(s) => Some(SharedMemory::from_storage(s, &store.engine)),
            MemoryStorage::Own(_) => None,
        }
    }

    /// Size in pages.
    pub fn size(&self, store: &impl AsStore) -> u64 {
        let store = store.as_store();
        match store
            .check(self.store)
            .and_then(|()| store.entities.memory(self.index))
        {
            Ok(e) => e.mem.pages(),
            Err(_) => 0,
        }
    }

    /// Size in bytes.
    pub fn data_size(&self, store: &impl AsStore) -> u64 {
        let store = store.as_store();
        match store
            .check(self.store)
            .and_then(|()| store.entities.memory(self.index))
        {
            Ok(e) => e.mem.byte_len(),
            Err(_) => 0,
        }
    }

    /// Grows by `delta` pages, returning the old size in pages.
    pub fn grow(&self, store: &mut impl AsStoreMut, delta: u64) -> Result<u64, Error> {
        let store = store.as_store_mut();
        store.check(self.store)?;
        store::grow_memory(store, self.index, delta)?
            .ok_or_else(|| Error::Api(format!("failed to grow memory by {delta} pages")))
    }

    /// Copies `buf.len()` bytes at `offset` into `buf` (of a shared memory too).
    pub fn read(&self, store: &impl AsStore, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let store = store.as_store();
        store.check(self.store)?;
        let oob = || Error::Api("out of bounds memory read".into());
        match &store.entities.memory(self.index)?.mem {
            MemoryStorage::Own(m) => {
                buf.copy_from_slice(range(m.as_slice(), offset, buf.len()).ok_or_else(oob)?)
            }
            #[cfg(feature = "std")]
            MemoryStorage::Shared(s) => {
                load_bytes(range(s.data(), offset, buf.len()).ok_or_else(oob)?, buf)
            }
        }
        Ok(())
    }

    /// Copies `buf` into memory at `offset` (of a shared memory too).
    pub fn write(&self, store: &mut impl AsStoreMut, offset: u64, buf: &[u8]) -> Result<(), Error> {
        let store = store.as_store_mut();
        store.check(self.store)?;
        let oob = || Error::Api("out of bounds memory write".into());
        match &mut store.entities.memory_mut(self.index)?.mem {
            MemoryStorage::Own(m) => range_mut(m.as_mut_slice(), offset, buf.len())
                .ok_or_else(oob)?
                .copy_from_slice(buf),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(s) => {
                store_bytes(range(s.data(), offset, buf.len()).ok_or_else(oob)?, buf)
            }
        }
        Ok(())
    }
}

fn range_mut(data: &mut [u8], offset: u64, len: usize) -> Option<&mut [u8]> {
    let start = usize::try_from(offset).ok()?;
    data.get_mut(start..start.checked_add(len)?)
}

/// A table of references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

fn check_ref(ty: &TableType, v: &Val) -> Result<(), Error> {
    let vt = ValType::Ref(ty.element);
    if v.matches(&vt) {
        Ok(())
    } else {
        api(format!(
            "value {v:?} does not match table element type {}",
            val_type_name(&vt)
        ))
    }
}

impl Table {
    /// Creates a table of type `ty` in `store`, every element set to `init`.
    pub fn new(store: &mut impl AsStoreMut, ty: TableType, init: Val) -> Result<Table, Error> {
        let store = store.as_store_mut();
        check_ref(&ty, &init)?;
        let raw = ref_to_raw(store, &init)?;
        let index = store.push_host_table(ty, raw)?;
        Ok(Table {
            store: store.id,
            index,
        })
    }

    /// The table's type, with the current size as its minimum.
    pub fn ty(&self, store: &impl AsStore) -> Result<TableType, Error> {
        let store = store.as_store();
        store.check(self.store)?;
        let e = store.entities.table(self.index)?;
        Ok(TableType {
            minimum: e.elems.len(),
            ..e.ty
        })
    }

    /// Current number of elements.
    pub fn size(&self, store: &impl AsStore) -> u64 {
        let store = store.as_store();
        match store
            .check(self.store)
            .and_then(|()| store.entities.table(self.index))
        {
            Ok(e) => e.elems.len(),
            Err(_) => 0,
        }
    }

    /// Element `index`, or `None` if out of bounds.
    pub fn get(&self, store: &impl AsStore, index: u64) -> Option<Val> {
        let store = store.as_store();
        store.check(self.store).ok()?;
        let e = store.entities.table(self.index).ok()?;
        let raw = e.elems.get(index)?;
        Some(crate::api::values::raw_to_ref(store, raw, &e.ty.element))
    }

    /// Sets element `index` to `value`.
    pub fn set(&self, store: &mut impl AsStoreMut, index: u64, value: Val) -> Result<(), Error> {
        let store = store.as_store_mut();
        store.check(self.store)?;
        check_ref(&store.entities.table(self.index)?.ty, &value)?;
        let raw = ref_to_raw(store, &value)?;
        if store.entities.table_mut(self.index)?.elems.set(index, raw) {
            Ok(())
        } else {
            api(format!("table index {index} out of bounds"))
        }
    }

    /// Grows by `delta` elements set to `init`, returning the old size.
    pub fn grow(&self, store: &mut impl AsStoreMut, delta: u64, init: Val) -> Result<u64, Error> {
        let store = store.as_store_mut();
        store.check(self.store)?;
        check_ref(&store.entities.table(self.index)?.ty, &init)?;
        let raw = ref_to_raw(store, &init)?;
        store::grow_table(store, self.index, delta, raw)?
            .ok_or_else(|| Error::Api(format!("failed to grow table by {delta} elements")))
    }
}

/// A global variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

impl Global {
    /// Creates a global of type `ty` with value `value` in `store`.
    pub fn new(store: &mut impl AsStoreMut, ty: GlobalType, value: Val) -> Result<Global, Error> {
        let store = store.as_store_mut();
        if !value.matches(&ty.content) {
            return api(format!(
                "value {value:?} does not match global type {}",
                val_type_name(&ty.content)
            ));
        }
        let raw = val_to_raw(store, &value)?;
        let index = store.push_host_global(ty, raw);
        Ok(Global {
            store: store.id,
            index,
        })
    }

    /// The global's type.
    pub fn ty(&self, store: &impl AsStore) -> Result<GlobalType, Error> {
        let store = store.as_store();
        store.check(self.store)?;
        Ok(store.entities.global(self.index)?.ty)
    }

    /// The current value.
    ///
    /// # Panics
    /// If the global does not belong to `store`.
    pub fn get(&self, store: &impl AsStore) -> Val {
        let store = store.as_store();
        let e = match store
            .check(self.store)
            .and_then(|()| store.entities.global(self.index))
        {
            Ok(e) => e,
            Err(e) => panic!("Global::get: {e}"),
        };
        // SAFETY: the slot is owned by the store and 16 bytes long.
        let raw = unsafe { (*e.ptr).0 };
        raw_to_val(store, &raw, &e.ty.content)
    }

    /// Sets the value of a mutable global.
    pub fn set(&self, store: &mut impl AsStoreMut, value: Val) -> Result<(), Error> {
        let store = store.as_store_mut();
        store.check(self.store)?;
        let ty = store.entities.global(self.index)?.ty;
        if !ty.mutable {
            return api("cannot set an immutable global");
        }
        if !value.matches(&ty.content) {
            return api(format!(
                "value {value:?} does not match global type {}",
                val_type_name(&ty.content)
            ));
        }
        let raw = val_to_raw(store, &value)?;
        let e = store.entities.global(self.index)?;
        // SAFETY: the slot is owned by the store; `&mut` store access excludes wasm readers.
        unsafe { (*e.ptr).0 = raw };
        Ok(())
    }
}
