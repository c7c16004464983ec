//! [`SharedMemory`]: a shared linear memory (threads proposal) that instances in several
//! stores, on several threads, import at once (the Linux platform only: it needs threads).
//!
//! A shared memory never moves: it grows in place inside its reservation, under a lock, and
//! publishes its new length to the one `VMMemoryDefinition` every attached instance reads.

use crate::engine::Engine;
use crate::error::Error;
use crate::externals::Memory;
use crate::memory_storage::{load_bytes, range, store_bytes};
use crate::platform::memory::LinearMemory;
use crate::prelude::*;
use crate::store::AsStoreMut;
use crate::vm::VMMemoryDefinition;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use precast_format::module::MemoryType;
use std::sync::{Arc, Mutex};

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
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    ty: MemoryType,
    /// The storage; locked to grow.
    mem: Mutex<LinearMemory>,
    /// The definition every attached instance reads (base fixed, length grows).
    def: Box<UnsafeCell<VMMemoryDefinition>>,
}

// SAFETY: the reservation is never moved or unmapped while `Inner` lives; growth is
// serialized by the mutex and published with an atomic store of the length; concurrent
// accesses to the bytes are the wasm program's own (atomics or its data races), as with any
// shared memory.
unsafe impl Send for Inner {}
// SAFETY: as above.
unsafe impl Sync for Inner {}

impl core::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("ty", &self.inner.ty)
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
        let mem =
            LinearMemory::for_host(engine.config().reservation(), &ty).map_err(Error::Resource)?;
        let def = Box::new(UnsafeCell::new(VMMemoryDefinition {
            base: mem.base(),
            length: mem.byte_len() as usize,
        }));
        Ok(SharedMemory {
            inner: Arc::new(Inner {
                engine: engine.clone(),
                ty,
                mem: Mutex::new(mem),
                def,
            }),
        })
    }

    /// The memory's type, with the current size as its minimum.
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            minimum: self.pages(),
            ..self.inner.ty
        }
    }

    /// The current size in wasm pages.
    pub fn pages(&self) -> u64 {
        self.byte_len() / self.inner.ty.page_size()
    }

    /// The current size in bytes.
    pub fn byte_len(&self) -> u64 {
        self.length().load(Ordering::Acquire) as u64
    }

    /// Grows by `delta` pages, returning the old size in pages.
    pub fn grow(&self, delta: u64) -> Result<u64, Error> {
        self.grow_pages(delta)
            .ok_or_else(|| Error::Api(format!("failed to grow memory by {delta} pages")))
    }

    /// The bytes, as atomics: wasm on other threads may read and write them at any time, so
    /// the host accesses them only atomically (`Ordering::Relaxed` is what a plain wasm
    /// access is; use stronger orderings to synchronize with the program's atomics).
    pub fn data(&self) -> &[AtomicU8] {
        // SAFETY: the first `byte_len` bytes of the reservation are mapped read-write and
        // stay so while `self` (an `Arc` of the reservation) lives: a shared memory never
        // shrinks or moves. `AtomicU8` has `u8`'s size and alignment, and every host access
        // through it is atomic, so concurrent writes by wasm are no data race on our side.
        unsafe {
            core::slice::from_raw_parts(self.base().cast::<AtomicU8>(), self.byte_len() as usize)
        }
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
        if !Engine::same(&store.engine, &self.inner.engine) {
            return Err(Error::Api(
                "a shared memory can only be attached to stores of its engine".into(),
            ));
        }
        Ok(Memory {
            store: store.id,
            index: store.push_shared_memory(self.clone()),
        })
    }

    /// The definition attached instances read.
    pub(crate) fn def_ptr(&self) -> *mut VMMemoryDefinition {
        self.inner.def.get()
    }

    /// The declared type (minimum as declared).
    pub(crate) fn declared_ty(&self) -> MemoryType {
        self.inner.ty
    }

    fn length(&self) -> &AtomicUsize {
        // SAFETY: `length` is a live, aligned usize that is only written through this view.
        unsafe { AtomicUsize::from_ptr(&raw mut (*self.def_ptr()).length) }
    }

    pub(crate) fn base(&self) -> *mut u8 {
        // SAFETY: `base` is written once, before the memory is shared.
        unsafe { (*self.def_ptr()).base }
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub(crate) fn grow_pages(&self, delta: u64) -> Option<u64> {
        let mut mem = self.inner.mem.lock().unwrap_or_else(|e| e.into_inner());
        let old = mem.grow(delta)?;
        self.length()
            .store(mem.byte_len() as usize, Ordering::Release);
        Some(old)
    }
}
