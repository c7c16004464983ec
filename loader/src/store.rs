//! [`Store`]: owns every instance, memory, table, global and host function created in it,
//! and frees them all when dropped.

use crate::engine::Engine;
use crate::error::{Error, api};
use crate::func::HostFuncContext;
use crate::instance::InstanceData;
use crate::memory_storage::MemoryStorage;
use crate::module::Module;
use crate::platform::memory::LinearMemory;
use crate::prelude::*;
#[cfg(feature = "std")]
use crate::shared_memory::SharedMemory;
use crate::table_elements::TableElements;
use crate::trap::{Trap, symbolize};
use crate::traphandlers::{Pending, RawTrap, take_pending};
use crate::vm::{VMGlobal, VMMemoryDefinition, VMStoreState, VMTableDefinition};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use hashbrown::HashMap;
use precast_format::TrapCode;
use precast_format::module::{GlobalType, MemoryType, TableType};

/// Identifies a store; handles carry it so they are only used with their own store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn fresh() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

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

/// A linear memory of the store: its storage and the definition generated code reads.
#[derive(Debug)]
pub(crate) struct MemoryEntry {
    pub mem: MemoryStorage,
    pub ty: MemoryType,
    /// Inside the defining instance's VMContext, or `owned`.
    pub def: *mut VMMemoryDefinition,
    pub _owned: Option<Owned<VMMemoryDefinition>>,
}

impl MemoryEntry {
    /// Publishes the current base and length to the definition (a shared memory publishes
    /// its own).
    pub fn sync(&mut self) {
        #[cfg_attr(not(feature = "std"), allow(irrefutable_let_patterns))]
        if let MemoryStorage::Own(mem) = &self.mem {
            // SAFETY: `def` points to a live definition owned by this store.
            unsafe {
                (*self.def).base = mem.base();
                (*self.def).length = mem.byte_len() as usize;
            }
        }
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.mem.grow(delta)?;
        self.sync();
        Some(old)
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

/// A global of the store.
#[derive(Debug)]
pub(crate) struct GlobalEntry {
    pub ty: GlobalType,
    /// Inside the defining instance's VMContext, or `owned`.
    pub ptr: *mut VMGlobal,
    pub _owned: Option<Owned<VMGlobal>>,
}

/// Trampolines of one canonical function type, from any module registered in the store.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TypeTrampolines {
    pub entry: Option<*const u8>,
    pub exit: Option<*const u8>,
}

/// The part of a store that does not depend on its data type.
pub struct StoreOpaque {
    pub(crate) id: StoreId,
    pub(crate) engine: Engine,
    pub(crate) state: Owned<VMStoreState>,
    /// Number of active host-to-wasm entries on the stack.
    pub(crate) entry_depth: usize,
    pub(crate) modules: Vec<Module>,
    pub(crate) instances: Vec<Owned<InstanceData>>,
    pub(crate) memories: Vec<MemoryEntry>,
    pub(crate) tables: Vec<TableEntry>,
    pub(crate) globals: Vec<GlobalEntry>,
    pub(crate) host_funcs: Vec<Owned<HostFuncContext>>,
    externs: Vec<u64>,
    extern_ids: HashMap<u64, usize>,
}

impl core::fmt::Debug for StoreOpaque {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("instances", &self.instances.len())
            .field("memories", &self.memories.len())
            .field("tables", &self.tables.len())
            .field("globals", &self.globals.len())
            .finish()
    }
}

impl StoreOpaque {
    fn new(engine: &Engine) -> StoreOpaque {
        StoreOpaque {
            id: StoreId::fresh(),
            engine: engine.clone(),
            state: Owned::new(VMStoreState::default()),
            entry_depth: 0,
            modules: Vec::new(),
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            host_funcs: Vec::new(),
            externs: Vec::new(),
            extern_ids: HashMap::new(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Errors unless `id` is this store's.
    pub(crate) fn check(&self, id: StoreId) -> Result<(), Error> {
        if id == self.id {
            Ok(())
        } else {
            api("object used with a store it does not belong to")
        }
    }

    /// Keeps `module` alive for the store's lifetime; its trampolines serve every function
    /// of the store (looked up in the module's precomputed table).
    pub(crate) fn register_module(&mut self, module: &Module) {
        if self.modules.iter().any(|m| Module::same(m, module)) {
            return;
        }
        self.modules.push(module.clone());
    }

    /// The trampolines known for canonical type `id`, from the store's modules in the order
    /// they were registered.
    pub(crate) fn type_trampolines(&self, id: u32) -> TypeTrampolines {
        let mut t = TypeTrampolines::default();
        for m in &self.modules {
            let (entry, exit) = m.trampolines_for_id(id);
            if t.entry.is_none() && entry != 0 {
                t.entry = Some(entry as *const u8);
            }
            if t.exit.is_none() && exit != 0 {
                t.exit = Some(exit as *const u8);
            }
            if t.entry.is_some() && t.exit.is_some() {
                break;
            }
        }
        t
    }

    /// The raw value (index + 1) standing for host value `v` in extern references.
    pub(crate) fn extern_to_raw(&mut self, v: u64) -> usize {
        if let Some(&i) = self.extern_ids.get(&v) {
            return i + 1;
        }
        let i = self.externs.len();
        self.externs.push(v);
        self.extern_ids.insert(v, i);
        i + 1
    }

    /// The host value a raw extern reference stands for.
    pub(crate) fn extern_from_raw(&self, raw: usize) -> Option<u64> {
        self.externs.get(raw.checked_sub(1)?).copied()
    }

    /// Turns a caught trap into the error reported to the host.
    pub(crate) fn trap_error(&self, raw: RawTrap) -> Error {
        let frames = || symbolize(&raw.pcs, &self.modules);
        if raw.code != TrapCode::Pending {
            return Trap::new(raw.code, frames()).into();
        }
        match take_pending() {
            Some(Pending::Trap(code)) => Trap::new(code, frames()).into(),
            Some(Pending::Error(e)) => e,
            None => Trap::new(TrapCode::Pending, frames()).into(),
        }
    }

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

/// The store proper: the type-erased part followed by the embedder's data. `repr(C)` so a
/// `*mut StoreOpaque` can be turned back into the typed store by host-function wrappers.
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub opaque: StoreOpaque,
    pub data: T,
}

/// A collection of wasm instances and host objects, with embedder data of type `T`.
pub struct Store<T> {
    inner: Owned<StoreInner<T>>,
}

// SAFETY: the raw pointers a store holds point into memory the store owns; nothing in it is
// tied to a thread (trap state is per call, thread-local). Moving the store moves ownership.
unsafe impl<T: Send> Send for Store<T> {}

impl<T: core::fmt::Debug> core::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("opaque", &self.inner_ref().opaque)
            .field("data", &self.inner_ref().data)
            .finish()
    }
}

impl<T> Store<T> {
    /// A new, empty store.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: Owned::new(StoreInner {
                opaque: StoreOpaque::new(engine),
                data,
            }),
        }
    }

    fn inner_ref(&self) -> &StoreInner<T> {
        // SAFETY: owned by this store; `&self` gives shared access.
        unsafe { &*self.inner.as_ptr() }
    }

    fn inner_mut(&mut self) -> &mut StoreInner<T> {
        // SAFETY: owned by this store; `&mut self` gives exclusive access.
        unsafe { &mut *self.inner.as_ptr() }
    }

    /// The embedder data.
    pub fn data(&self) -> &T {
        &self.inner_ref().data
    }

    /// The embedder data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner_mut().data
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner_ref().opaque.engine
    }
}

pub(crate) mod sealed {
    /// Only the loader's store types implement the store access traits (host-function
    /// wrappers rely on every `StoreOpaque` living inside a `StoreInner<Data>`).
    pub trait Sealed {}
}

impl<T> sealed::Sealed for Store<T> {}
impl<T> sealed::Sealed for crate::func::Caller<'_, T> {}
impl<S: sealed::Sealed + ?Sized> sealed::Sealed for &S {}
impl<S: sealed::Sealed + ?Sized> sealed::Sealed for &mut S {}

/// Anything that gives shared access to a store: [`Store`], [`Caller`](crate::Caller), and
/// references to them.
pub trait AsStore: sealed::Sealed {
    /// The embedder data type.
    type Data;
    /// The type-erased store.
    fn as_store(&self) -> &StoreOpaque;
}

/// Anything that gives exclusive access to a store.
pub trait AsStoreMut: AsStore {
    /// The type-erased store, mutably.
    fn as_store_mut(&mut self) -> &mut StoreOpaque;
}

impl<T> AsStore for Store<T> {
    type Data = T;
    fn as_store(&self) -> &StoreOpaque {
        &self.inner_ref().opaque
    }
}

impl<T> AsStoreMut for Store<T> {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        &mut self.inner_mut().opaque
    }
}

impl<S: AsStore + ?Sized> AsStore for &S {
    type Data = S::Data;
    fn as_store(&self) -> &StoreOpaque {
        (**self).as_store()
    }
}

impl<S: AsStore + ?Sized> AsStore for &mut S {
    type Data = S::Data;
    fn as_store(&self) -> &StoreOpaque {
        (**self).as_store()
    }
}

impl<S: AsStoreMut + ?Sized> AsStoreMut for &mut S {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        (**self).as_store_mut()
    }
}

/// Creates the memory entries of host-created objects.
impl StoreOpaque {
    pub(crate) fn push_host_memory(&mut self, ty: MemoryType) -> Result<usize, Error> {
        let mem = LinearMemory::for_host(self.engine.config().reservation(), &ty)
            .map_err(Error::Resource)?;
        let owned = Owned::new(VMMemoryDefinition {
            base: core::ptr::null_mut(),
            length: 0,
        });
        let mut entry = MemoryEntry {
            mem: MemoryStorage::Own(mem),
            ty,
            def: owned.as_ptr(),
            _owned: Some(owned),
        };
        entry.sync();
        self.memories.push(entry);
        Ok(self.memories.len() - 1)
    }

    /// Attaches `shared` as a memory of this store; returns its index.
    #[cfg(feature = "std")]
    pub(crate) fn push_shared_memory(&mut self, shared: SharedMemory) -> usize {
        self.memories.push(MemoryEntry {
            ty: shared.declared_ty(),
            def: shared.def_ptr(),
            mem: MemoryStorage::Shared(shared),
            _owned: None,
        });
        self.memories.len() - 1
    }

    pub(crate) fn push_host_table(&mut self, ty: TableType, init: usize) -> Result<usize, Error> {
        let elems = TableElements::new(&ty, init).map_err(Error::Resource)?;
        let owned = Owned::new(VMTableDefinition {
            base: core::ptr::null_mut(),
            length: 0,
        });
        let mut entry = TableEntry {
            elems,
            ty,
            def: owned.as_ptr(),
            _owned: Some(owned),
        };
        entry.sync();
        self.tables.push(entry);
        Ok(self.tables.len() - 1)
    }

    pub(crate) fn push_host_global(&mut self, ty: GlobalType, raw: [u8; 16]) -> usize {
        let owned = Owned::new(VMGlobal(raw));
        self.globals.push(GlobalEntry {
            ty,
            ptr: owned.as_ptr(),
            _owned: Some(owned),
        });
        self.globals.len() - 1
    }
}
