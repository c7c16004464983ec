//! A store's linear memories: each entry ([`MemoryEntry`]) holds a memory of its own or,
//! with the Linux platform, an attached shared one ([`SharedStorage`]) and the definition
//! generated code reads; and how the host may access the bytes ([`MemoryView`]).

use crate::platform::Reservation;
use crate::platform::memory::LinearMemory;
use crate::prelude::*;
use crate::runtime::store::Owned;
use crate::runtime::vm::VMMemoryDefinition;
#[cfg(feature = "std")]
use alloc::sync::Arc;
#[cfg(feature = "std")]
use core::cell::UnsafeCell;
#[cfg(feature = "std")]
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::{AtomicU8, Ordering};
use precast_format::module::MemoryType;
#[cfg(feature = "std")]
use std::sync::Mutex;

/// A fresh memory of type `ty` at its minimum size with `image`, in `reservation`, or in
/// `fallback` when that much address space cannot be had (the larger reservation of a 64-bit
/// memory, [`Reservation::for_memory`], on a machine with less of it).
pub(crate) fn fresh_memory(
    ty: &MemoryType,
    reservation: Reservation,
    fallback: Reservation,
    image: Option<&crate::platform::memory::ImageSource<'_>>,
) -> Result<LinearMemory, String> {
    match LinearMemory::new(ty, reservation.size, reservation.guard, image) {
        Err(_) if reservation != fallback => {
            LinearMemory::new(ty, fallback.size, fallback.guard, image)
        }
        other => other,
    }
}

/// `len` elements of `data` at `offset`, if all are in range.
pub(crate) fn range<E>(data: &[E], offset: u64, len: usize) -> Option<&[E]> {
    let start = usize::try_from(offset).ok()?;
    data.get(start..start.checked_add(len)?)
}

/// The storage of a store's memory entry.
#[derive(Debug)]
pub(crate) enum MemoryStorage {
    /// A memory of the store's own.
    Own(LinearMemory),
    /// A shared memory attached to the store.
    #[cfg(feature = "std")]
    Shared(Arc<SharedStorage>),
}

impl MemoryStorage {
    /// Base address.
    pub fn base(&self) -> *mut u8 {
        match self {
            MemoryStorage::Own(m) => m.base(),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(s) => s.base(),
        }
    }

    /// Current length in bytes.
    pub fn byte_len(&self) -> u64 {
        match self {
            MemoryStorage::Own(m) => m.byte_len(),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(s) => s.byte_len(),
        }
    }

    /// Current length in wasm pages.
    pub fn pages(&self) -> u64 {
        match self {
            MemoryStorage::Own(m) => m.pages(),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(s) => s.pages(),
        }
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        match self {
            MemoryStorage::Own(m) => m.grow(delta),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(s) => s.grow(delta),
        }
    }

    /// The bytes of a memory of the store's own (`None` for an attached shared memory,
    /// whose bytes other threads may write at any time: see [`Self::view_mut`]).
    pub fn exclusive(&self) -> Option<&[u8]> {
        match self {
            MemoryStorage::Own(m) => Some(m.as_slice()),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(_) => None,
        }
    }

    /// The bytes, mutably, as [`Self::exclusive`].
    pub fn exclusive_mut(&mut self) -> Option<&mut [u8]> {
        match self {
            MemoryStorage::Own(m) => Some(m.as_mut_slice()),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(_) => None,
        }
    }

    /// The bytes in the form their sharing allows: a plain slice for a memory of the store's
    /// own, atomics for a shared one.
    pub fn view_mut(&mut self) -> MemoryView<'_> {
        match self {
            MemoryStorage::Own(m) => MemoryView::Exclusive(m.as_mut_slice()),
            #[cfg(feature = "std")]
            MemoryStorage::Shared(s) => MemoryView::Shared(s.data()),
        }
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

/// A shared linear memory (threads proposal), attached to any number of stores. It never
/// moves: it grows in place inside its reservation, under a lock, and publishes its new
/// length to the one definition every attached instance reads.
#[cfg(feature = "std")]
pub(crate) struct SharedStorage {
    ty: MemoryType,
    /// The storage; locked to grow.
    mem: Mutex<LinearMemory>,
    /// The definition every attached instance reads (base fixed, length grows).
    def: Box<UnsafeCell<VMMemoryDefinition>>,
}

// SAFETY: the reservation is never moved or unmapped while the storage lives; growth is
// serialized by the mutex and published with an atomic store of the length; concurrent
// accesses to the bytes are the wasm program's own (atomics or its data races), as with any
// shared memory.
#[cfg(feature = "std")]
unsafe impl Send for SharedStorage {}
// SAFETY: as above.
#[cfg(feature = "std")]
unsafe impl Sync for SharedStorage {}

#[cfg(feature = "std")]
impl core::fmt::Debug for SharedStorage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedStorage")
            .field("ty", &self.ty)
            .field("bytes", &self.byte_len())
            .finish()
    }
}

#[cfg(feature = "std")]
impl SharedStorage {
    /// A shared memory of type `ty` in a reservation of `reservation` (else `fallback`).
    pub fn new(
        reservation: Reservation,
        fallback: Reservation,
        ty: MemoryType,
    ) -> Result<SharedStorage, String> {
        let mem = fresh_memory(&ty, reservation, fallback, None)?;
        let def = Box::new(UnsafeCell::new(VMMemoryDefinition {
            base: mem.base(),
            length: mem.byte_len() as usize,
        }));
        Ok(SharedStorage {
            ty,
            mem: Mutex::new(mem),
            def,
        })
    }

    /// The declared type (minimum as declared).
    pub fn declared_ty(&self) -> MemoryType {
        self.ty
    }

    /// The current size in bytes.
    pub fn byte_len(&self) -> u64 {
        self.length().load(Ordering::Acquire) as u64
    }

    /// The current size in wasm pages.
    pub fn pages(&self) -> u64 {
        self.byte_len() / self.ty.page_size()
    }

    /// The bytes, as atomics: wasm on other threads may read and write them at any time.
    pub fn data(&self) -> &[AtomicU8] {
        // SAFETY: the first `byte_len` bytes of the reservation are mapped read-write and
        // stay so while `self` lives: a shared memory never shrinks or moves. `AtomicU8` has
        // `u8`'s size and alignment, and every host access through it is atomic, so
        // concurrent writes by wasm are no data race on our side.
        unsafe {
            core::slice::from_raw_parts(self.base().cast::<AtomicU8>(), self.byte_len() as usize)
        }
    }

    /// The definition attached instances read.
    pub fn def_ptr(&self) -> *mut VMMemoryDefinition {
        self.def.get()
    }

    fn length(&self) -> &AtomicUsize {
        // SAFETY: `length` is a live, aligned usize that is only written through this view.
        unsafe { AtomicUsize::from_ptr(&raw mut (*self.def_ptr()).length) }
    }

    /// Base address.
    pub fn base(&self) -> *mut u8 {
        // SAFETY: `base` is written once, before the memory is shared.
        unsafe { (*self.def_ptr()).base }
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let mut mem = self.mem.lock().unwrap_or_else(|e| e.into_inner());
        let old = mem.grow(delta)?;
        self.length()
            .store(mem.byte_len() as usize, Ordering::Release);
        Some(old)
    }
}

/// A linear memory's bytes as the host may access them, in the form the memory's sharing
/// allows: from [`Memory::view_and_store_mut`] in a host function (which also lends the
/// embedder data, as WASI needs while it reads and writes guest buffers).
///
/// A memory of the store's own is lent as a plain slice: nobody else can read or write it
/// while the view lives. A shared memory (with `std`) is lent as atomics, never as `&[u8]`:
/// other threads may read and write it at any time, so its bytes are only copied in and out
/// with relaxed atomic accesses ([`MemoryView::read`], [`MemoryView::write`]), and a racing
/// thread's bytes may or may not be seen, as for any unsynchronized access in the threads
/// proposal's memory model.
///
/// [`Memory::view_and_store_mut`]: crate::Memory::view_and_store_mut
pub enum MemoryView<'a> {
    /// A memory nobody else can read or write meanwhile.
    Exclusive(&'a mut [u8]),
    /// A shared memory: other threads may read and write it at any time.
    Shared(&'a [AtomicU8]),
}

impl MemoryView<'_> {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            MemoryView::Exclusive(b) => b.len(),
            MemoryView::Shared(b) => b.len(),
        }
    }

    /// Whether the view has no bytes (e.g. a memory of another store).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the `out.len()` bytes at `at` into `out` (from a shared memory one relaxed
    /// atomic load each).
    ///
    /// # Panics
    ///
    /// If `at..at + out.len()` is not within the view; check against [`MemoryView::len`]
    /// first.
    pub fn read(&self, at: usize, out: &mut [u8]) {
        let r = span(at, out.len(), self.len());
        match self {
            MemoryView::Exclusive(b) => out.copy_from_slice(&b[r]),
            MemoryView::Shared(b) => load_bytes(&b[r], out),
        }
    }

    /// Copies `data` to `at` (into a shared memory one relaxed atomic store each).
    ///
    /// # Panics
    ///
    /// If `at..at + data.len()` is not within the view; check against [`MemoryView::len`]
    /// first.
    pub fn write(&mut self, at: usize, data: &[u8]) {
        let r = span(at, data.len(), self.len());
        match self {
            MemoryView::Exclusive(b) => b[r].copy_from_slice(data),
            MemoryView::Shared(b) => store_bytes(&b[r], data),
        }
    }
}

impl core::fmt::Debug for MemoryView<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self {
            MemoryView::Exclusive(_) => "Exclusive",
            MemoryView::Shared(_) => "Shared",
        };
        f.debug_struct("MemoryView")
            .field("kind", &kind)
            .field("len", &self.len())
            .finish()
    }
}

/// `at..at + len` within `0..size`, or a panic naming the access.
fn span(at: usize, len: usize, size: usize) -> core::ops::Range<usize> {
    match at.checked_add(len) {
        Some(end) if end <= size => at..end,
        _ => panic!("memory view access of {len} bytes at {at} is out of bounds of {size} bytes"),
    }
}

/// Copies shared bytes out, one relaxed atomic load each (a racing writer's bytes may or may
/// not be seen, as for any unsynchronized access in the threads proposal's memory model).
pub(crate) fn load_bytes(src: &[AtomicU8], out: &mut [u8]) {
    for (o, b) in out.iter_mut().zip(src) {
        *o = b.load(Ordering::Relaxed);
    }
}

/// Copies bytes into shared memory, one relaxed atomic store each.
pub(crate) fn store_bytes(dst: &[AtomicU8], data: &[u8]) {
    for (b, &d) in dst.iter().zip(data) {
        b.store(d, Ordering::Relaxed);
    }
}
