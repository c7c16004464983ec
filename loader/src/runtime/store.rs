//! What a store owns, as the runtime core sees it ([`Entities`]), and how the core reaches
//! the store: through [`VMStore`], which the API's store implements, never through the
//! public types.

use crate::prelude::*;
use crate::runtime::epoch::{Probes, StoreEpoch};
use crate::runtime::error::Error;
use crate::runtime::instance::InstanceData;
use crate::runtime::memory::MemoryEntry;
use crate::runtime::table::TableEntry;
use crate::runtime::traphandlers::Pending;
use crate::runtime::vm::{VMGlobal, VMStoreState};
use alloc::sync::Arc;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;
use precast_format::module::GlobalType;

/// A heap value owned through a raw pointer, so that pointers handed to generated code stay
/// valid however the owner moves. Freed on drop.
#[derive(Debug)]
pub(crate) struct Owned<T>(NonNull<T>);

impl<T> Owned<T> {
    /// Moves `value` to the heap.
    pub fn new(value: T) -> Owned<T> {
        Owned(NonNull::from(Box::leak(Box::new(value))))
    }

    /// The stable pointer.
    pub fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: created by `Box::leak` in `new`, freed exactly once here.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// A global of the store.
#[derive(Debug)]
pub(crate) struct GlobalEntry {
    pub ty: GlobalType,
    /// Inside the defining instance's VMContext, or `owned`.
    pub ptr: *mut VMGlobal,
    pub _owned: Option<Owned<VMGlobal>>,
}

/// The instances, memories, tables and globals of a store, and the store state its
/// VMContexts point to. Entities are referred to by index, and live as long as the store.
pub(crate) struct Entities {
    pub state: Owned<VMStoreState>,
    pub instances: Vec<Owned<InstanceData>>,
    pub memories: Vec<MemoryEntry>,
    pub tables: Vec<TableEntry>,
    pub globals: Vec<GlobalEntry>,
    /// The probe pages of fault-based epoch checks.
    pub epoch: StoreEpoch,
}

impl Entities {
    /// The entities of a new store of the engine whose epoch counter is `epoch_counter` and
    /// whose registry of probe pages is `probes`.
    pub(crate) fn new(epoch_counter: *const AtomicU64, probes: Arc<Probes>) -> Self {
        Entities {
            state: Owned::new(VMStoreState::new(epoch_counter)),
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            epoch: StoreEpoch::new(probes),
        }
    }
}

impl Entities {
    pub(crate) fn memory(&self, index: usize) -> Result<&MemoryEntry, Error> {
        self.memories
            .get(index)
            .ok_or_else(|| Error::Api("no such memory".into()))
    }

    pub(crate) fn memory_mut(&mut self, index: usize) -> Result<&mut MemoryEntry, Error> {
        self.memories
            .get_mut(index)
            .ok_or_else(|| Error::Api("no such memory".into()))
    }

    pub(crate) fn table(&self, index: usize) -> Result<&TableEntry, Error> {
        self.tables
            .get(index)
            .ok_or_else(|| Error::Api("no such table".into()))
    }

    pub(crate) fn table_mut(&mut self, index: usize) -> Result<&mut TableEntry, Error> {
        self.tables
            .get_mut(index)
            .ok_or_else(|| Error::Api("no such table".into()))
    }

    pub(crate) fn global(&self, index: usize) -> Result<&GlobalEntry, Error> {
        self.globals
            .get(index)
            .ok_or_else(|| Error::Api("no such global".into()))
    }

    pub(crate) fn instance(&self, index: usize) -> Result<&InstanceData, Error> {
        let inst = self
            .instances
            .get(index)
            .ok_or_else(|| Error::Api("no such instance".into()))?;
        // SAFETY: instances live as long as the store.
        Ok(unsafe { &*inst.as_ptr() })
    }
}

/// The store as the runtime core sees it: what builtins and instantiation reach through an
/// instance's store pointer. The API's store implements it; the core never names the API.
pub(crate) trait VMStore {
    /// The store's entities.
    fn entities(&mut self) -> &mut Entities;

    /// The engine's epoch reached the store's deadline in code called from wasm whose
    /// VMContext is `caller_vmctx`: runs the store's deadline behaviour, which sets a new
    /// deadline in the store state (`Ok`) or says what to raise.
    fn epoch_interrupt(&mut self, caller_vmctx: *mut u8) -> Result<(), Pending>;

    /// A memory or table of the store grows from `current` to `desired` bytes or elements
    /// (`maximum`: its type's): the store's limits decide. `Ok(false)` refuses the growth,
    /// `Err` traps with the error.
    fn growing(
        &mut self,
        what: Growth,
        current: u64,
        desired: u64,
        maximum: Option<u64>,
    ) -> Result<bool, Error>;
}

/// What grows, for [`VMStore::growing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Growth {
    Memory,
    Table,
}

/// Grows memory `index` of the store by `delta` pages as its type and its limits allow:
/// `Ok(Some(old size in pages))`, `Ok(None)` when the growth fails or is refused, `Err` when
/// the limits trap.
pub(crate) fn grow_memory(
    store: &mut dyn VMStore,
    index: usize,
    delta: u64,
) -> Result<Option<u64>, Error> {
    let e = store.entities().memory(index)?;
    let page = e.ty.page_size();
    let current = e.mem.pages();
    let maximum = e.ty.maximum.map(|m| m.saturating_mul(page));
    let Some(desired) = current.checked_add(delta).and_then(|p| p.checked_mul(page)) else {
        return Ok(None);
    };
    if maximum.is_some_and(|m| desired > m) {
        return Ok(None);
    }
    if delta != 0 && !store.growing(Growth::Memory, current * page, desired, maximum)? {
        return Ok(None);
    }
    Ok(store.entities().memory_mut(index)?.grow(delta))
}

/// Grows table `index` of the store by `delta` elements set to `init`, as [`grow_memory`].
pub(crate) fn grow_table(
    store: &mut dyn VMStore,
    index: usize,
    delta: u64,
    init: usize,
) -> Result<Option<u64>, Error> {
    let e = store.entities().table(index)?;
    let current = e.elems.len();
    let maximum = e.ty.maximum;
    let Some(desired) = current.checked_add(delta) else {
        return Ok(None);
    };
    if maximum.is_some_and(|m| desired > m) {
        return Ok(None);
    }
    if delta != 0 && !store.growing(Growth::Table, current, desired, maximum)? {
        return Ok(None);
    }
    Ok(store.entities().table_mut(index)?.grow(delta, init))
}
