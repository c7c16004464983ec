//! [`SharedMemory`]: a shared linear memory (threads proposal) that instances in several
//! stores, on several threads, import at once (the Linux platform only: it needs threads).
//! The memory itself is the runtime's [`SharedStorage`].

use crate::api::engine::Engine;
use crate::api::externals::Memory;
use crate::api::store::AsStoreMut;
use crate::runtime::error::Error;
use crate::runtime::memory::{SharedStorage, load_bytes, range, store_bytes};
use core::sync::atomic::AtomicU8;
use precast_format::module::MemoryType;
use std::sync::Arc;

/// A shared linear memory. Cheap to clone; `Send` and `Sync`: attach it to a store per
/// thread ([`SharedMemory::attach`]) and import it into that store's instances, which then
/// see each other's writes and can use atomics, `memory.atomic.wait32/64` and
/// `memory.atomic.notify` on it.
///
/// ```no_run
/// # fn f(engine: &precast_loader::Engine, module: &precast_loader::Module)
/// # -> Result<(), precast_loader::Error> {
/// use precast_loader::{Linker, MemoryType, SharedMemory, Store};
/// let ty = MemoryType { minimum: 1, maximum: Some(16), memory64: false, shared: true,
///     page_size_log2: 16 };
/// let memory = SharedMemory::new(engine, ty)?;
/// let threads: Vec<_> = (0..4).map(|_| {
///     let (engine, module, memory) = (engine.clone(), module.clone(), memory.clone());
///     std::thread::spawn(move || -> Result<(), precast_loader::Error> {
///         let mut store = Store::new(&engine, ());
///         let mut linker = Linker::new(&engine);
///         let m = memory.attach(&mut store)?;
///         linker.define(&store, "env", "memory", m)?;
///         let instance = linker.instantiate(&mut store, &module)?;
///         instance.get_typed_func::<(), ()>(&store, "run")?.call(&mut store, ())
///     })
/// }).collect();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SharedMemory {
    storage: Arc<SharedStorage>,
    engine: Engine,
}

impl core::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("ty", &self.storage.declared_ty())
            .field("bytes", &self.byte_len())
            .finish()
    }
}

impl SharedMemory {
    /// Creates a shared memory of type `ty` (which must be `shared`, with a maximum) with
    /// `engine`'s memory reservation.
    pub fn new(engine: &Engine, ty: MemoryType) -> Result<SharedMemory, Error> {
        if !ty.shared {
            return Err(Error::Api(
                "a SharedMemory needs a shared memory type".into(),
            ));
        }
        if ty.maximum.is_none() {
            return Err(Error::Api("a shared memory needs a maximum size".into()));
        }
        let storage = SharedStorage::new(
            engine.config().reservation_for(&ty),
            engine.config().reservation(),
            ty,
        )
        .map_err(Error::Resource)?;
        Ok(SharedMemory {
            storage: Arc::new(storage),
            engine: engine.clone(),
        })
    }

    /// A handle to the storage of a memory attached to a store of `engine`.
    pub(crate) fn from_storage(storage: &Arc<SharedStorage>, engine: &Engine) -> SharedMemory {
        SharedMemory {
            storage: storage.clone(),
            engine: engine.clone(),
        }
    }

    /// The memory's type, with the current size as its minimum.
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            minimum: self.pages(),
            ..self.storage.declared_ty()
        }
    }

    /// The current size in wasm pages.
    pub fn pages(&self) -> u64 {
        self.storage.pages()
    }

    /// The current size in bytes.
    pub fn byte_len(&self) -> u64 {
        self.storage.byte_len()
    }

    /// Grows by `delta` pages, returning the old size in pages.
    pub fn grow(&self, delta: u64) -> Result<u64, Error> {
        self.storage
            .grow(delta)
            .ok_or_else(|| Error::Api(format!("failed to grow memory by {delta} pages")))
    }

    /// The bytes, as atomics: wasm on other threads may read and write them at any time, so
    /// the host accesses them only atomically (`Ordering::Relaxed` is what a plain wasm
    /// access is; use stronger orderings to synchronize with the program's atomics).
    pub fn data(&self) -> &[AtomicU8] {
        self.storage.data()
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let src = range(self.data(), offset, buf.len())
            .ok_or_else(|| Error::Api("out of bounds memory read".into()))?;
        load_bytes(src, buf);
        Ok(())
    }

    /// Copies `buf` into memory at `offset`.
    pub fn write(&self, offset: u64, buf: &[u8]) -> Result<(), Error> {
        let dst = range(self.data(), offset, buf.len())
            .ok_or_else(|| Error::Api("out of bounds memory write".into()))?;
        store_bytes(dst, buf);
        Ok(())
    }

    /// This memory as a memory of `store` (of the same engine), to define in a linker or
    /// pass as an import. Each call adds one entry to the store.
    pub fn attach(&self, store: &mut impl AsStoreMut) -> Result<Memory, Error> {
        let store = store.as_store_mut();
        if !Engine::same(&store.engine, &self.engine) {
            return Err(Error::Api(
                "a shared memory can only be attached to stores of its engine".into(),
            ));
        }
        Ok(Memory {
            store: store.id,
            index: store.push_shared_memory(self.storage.clone())?,
        })
    }
}
