//! What a store's memory entry holds ([`MemoryStorage`]): a memory of its own or, with the
//! Linux platform, an attached shared one; and how the host may access its bytes
//! ([`MemoryView`]).

use crate::platform::memory::LinearMemory;
use crate::prelude::*;
#[cfg(feature = "std")]
use crate::shared_memory::SharedMemory;
use core::sync::atomic::{AtomicU8, Ordering};
use precast_format::module::MemoryType;

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
    Shared(SharedMemory),
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
            MemoryStorage::Shared(s) => s.grow_pages(delta),
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

/// A store memory's bytes, as the host may access them (shared ones only with `std`, read
/// and written by WASI).
#[cfg_attr(not(feature = "std"), allow(dead_code))]
pub(crate) enum MemoryView<'a> {
    /// Nobody else can read or write them meanwhile.
    Exclusive(&'a mut [u8]),
    /// Other threads may read and write them at any time.
    Shared(&'a [AtomicU8]),
}

#[cfg_attr(not(feature = "std"), allow(dead_code))]
impl MemoryView<'_> {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            MemoryView::Exclusive(b) => b.len(),
            MemoryView::Shared(b) => b.len(),
        }
    }

    /// Copies the bytes at `at` into `out` (`at..at + out.len()` must be in range).
    pub fn read(&self, at: usize, out: &mut [u8]) {
        match self {
            MemoryView::Exclusive(b) => out.copy_from_slice(&b[at..at + out.len()]),
            MemoryView::Shared(b) => load_bytes(&b[at..at + out.len()], out),
        }
    }

    /// Copies `data` to `at` (`at..at + data.len()` must be in range).
    pub fn write(&mut self, at: usize, data: &[u8]) {
        match self {
            MemoryView::Exclusive(b) => b[at..at + data.len()].copy_from_slice(data),
            MemoryView::Shared(b) => store_bytes(&b[at..at + data.len()], data),
        }
    }
}

/// Copies shared bytes out, one relaxed atomic load each (a racing writer's bytes may or may
/// not be seen, as for any unsynchronized access in the threads proposal's memory model).
#[cfg_attr(not(feature = "std"), allow(dead_code))]
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

/// Largest number of bytes a memory of `ty` may ever have (per its index type and maximum).
pub(crate) fn type_max_bytes(ty: &MemoryType) -> u64 {
    let page = ty.page_size();
    let index_limit: u128 = if ty.memory64 { 1 << 64 } else { 1 << 32 };
    // The page count must also fit the index type (memory.size returns it).
    let max_pages = (index_limit / u128::from(page)).min(index_limit - 1);
    let by_index = max_pages * u128::from(page);
    let by_max = ty
        .maximum
        .map_or(u128::MAX, |m| u128::from(m) * u128::from(page));
    by_index.min(by_max).min(u128::from(u64::MAX)) as u64
}

/// The type's initial size in bytes, if it fits `reservation`.
pub(crate) fn initial_bytes(ty: &MemoryType, reservation: u64) -> Result<u64, String> {
    if ty.page_size_log2 > 16 {
        return Err(format!("unsupported page size 2^{}", ty.page_size_log2));
    }
    ty.minimum
        .checked_mul(ty.page_size())
        .filter(|&b| b <= type_max_bytes(ty) && b <= reservation)
        .ok_or_else(|| {
            format!(
                "memory minimum of {} pages exceeds the {reservation:#x}-byte reservation",
                ty.minimum
            )
        })
}
