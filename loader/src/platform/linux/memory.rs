//! Linear memory storage: a fixed reservation of address space whose accessible prefix grows
//! with `mprotect`. The base address never moves.
//!
//! A memory's initial image (the module's data segments, laid out at compile time) is mapped
//! copy-on-write from the artifact file (`MAP_PRIVATE | MAP_FIXED` over the start of the
//! reservation) when the module was loaded from a file and the image is page aligned for this
//! host; otherwise it is copied. Pooled memories ([`crate::platform::pool`]) keep their reservation and
//! their image mapping between uses and are reset with `madvise(MADV_DONTNEED)`, which restores
//! mapped image pages to the file's contents and zeroes the rest.

use crate::platform::host;
use crate::platform::pool::{MemorySlot, Pool};
use crate::platform::ranges::{Entry, Ranges};
use crate::prelude::*;
use alloc::sync::Arc;
use precast_format::module::MemoryType;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};
use std::os::fd::BorrowedFd;

/// The initial contents of a memory: `bytes` at `memory_offset`, and where to map them from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ImageSource<'a> {
    /// Identifies the image across modules (module id, memory index), for pool slot reuse.
    pub key: (u64, u32),
    /// The artifact file and the file offset of the image, when it can be mapped.
    pub file: Option<(BorrowedFd<'a>, u64)>,
    /// Where the image goes in the memory.
    pub memory_offset: u64,
    /// The image bytes (for the copy fallback).
    pub bytes: &'a [u8],
}

impl ImageSource<'_> {
    /// Whether the image can be mapped on this host: page-aligned offsets and length.
    fn mappable(&self) -> Option<(BorrowedFd<'_>, u64)> {
        let (fd, off) = self.file?;
        let page = host::page_size() as u64;
        ((off | self.memory_offset | self.bytes.len() as u64).is_multiple_of(page))
            .then_some((fd, off))
    }
}

/// Copied images up to this size stay resident in a released pool slot (see
/// [`MemorySlot::copied_image`](crate::platform::pool::MemorySlot)): the next instance copies over them
/// with no page fault. Larger ones are reset like the rest of the slot, so that idle slots do
/// not hold much anonymous memory; their copy costs far more than the faults anyway.
const RESIDENT_IMAGE_LIMIT: usize = 1 << 20;

/// Where a memory's reservation comes from.
#[derive(Debug)]
enum Origin {
    /// Its own mapping, unmapped on drop.
    Own,
    /// A pool slot, reset and returned on drop.
    Pool(Arc<Pool>, MemorySlot),
}

/// Every linear memory reservation, guard region included: a faulting memory access at a
/// trap site is a wasm trap only when its address lies in one of these. A memory of its own
/// is registered while it lives; a pool registers its memory region once for all its slots
/// and a reservation cache each reservation while it holds it (in use or kept for reuse), so
/// that taking a memory from them costs no update of the set.
static RESERVATIONS: Ranges = Ranges::new();

/// Whether `addr` lies in the reservation of a live linear memory. Async-signal-safe.
pub(crate) fn is_reserved(addr: usize) -> bool {
    RESERVATIONS.lookup(addr, |_| ()).is_some()
}

/// A reserved linear memory.
#[derive(Debug)]
pub(crate) struct LinearMemory {
    base: *mut u8,
    /// The reservation as registered in [`RESERVATIONS`] by this memory (empty for a pooled
    /// one: its pool registered it).
    region: Entry,
    /// Reserved bytes (including the guard region).
    mapped: usize,
    /// Bytes usable before the guard (the largest possible length).
    reservation: u64,
    /// Bytes currently readable and writable (page rounded).
    accessible: usize,
    /// Current length in bytes.
    length: u64,
    /// Largest length in bytes the type allows.
    max_length: u64,
    page_size: u64,
    origin: Origin,
}

// SAFETY: the memory is plain bytes owned by this value; the pool it may come from is
// thread-safe.
unsafe impl Send for LinearMemory {}

/// Maps `len` bytes of `fd` at `offset` copy-on-write over `at`.
///
/// # Safety
/// `[at, at + len)` must lie in a reservation owned by the caller.
unsafe fn map_image(
    at: *mut u8,
    len: usize,
    fd: BorrowedFd<'_>,
    offset: u64,
) -> Result<(), String> {
    // SAFETY: guaranteed by the caller; MAP_FIXED replaces only pages of that reservation.
    unsafe {
        rustix::mm::mmap(
            at.cast(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | MapFlags::FIXED,
            fd,
            offset,
        )
    }
    .map(|_| ())
    .map_err(|e| format!("cannot map the memory image: {e}"))
}

/// Replaces `[at, at + len)` with fresh inaccessible anonymous pages.
///
/// # Safety
/// `[at, at + len)` must lie in a reservation owned by the caller.
pub(crate) unsafe fn unmap_image(at: *mut u8, len: usize) -> Result<(), String> {
    // SAFETY: guaranteed by the caller.
    unsafe {
        rustix::mm::mmap_anonymous(
            at.cast(),
            len,
            ProtFlags::empty(),
            MapFlags::PRIVATE | MapFlags::FIXED | MapFlags::NORESERVE,
        )
    }
    .map(|_| ())
    .map_err(|e| format!("cannot reset a memory image: {e}"))
}

impl LinearMemory {
    /// Reserves `reservation + guard` bytes and makes the type's minimum accessible, with
    /// `image` as its initial contents.
    pub fn new(
        ty: &MemoryType,
        reservation: u64,
        guard: u64,
        image: Option<&ImageSource<'_>>,
    ) -> Result<LinearMemory, String> {
        let min_bytes = ty.initial_bytes(reservation)?;
        let mapped = reservation
            .checked_add(guard)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(host::round_up_to_page)
            .ok_or_else(|| "memory reservation does not fit in the address space".to_string())?;
        // SAFETY: a fresh anonymous PROT_NONE reservation; nothing else refers to it.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                mapped.max(host::page_size()),
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .map_err(|e| format!("cannot reserve {mapped:#x} bytes for a linear memory: {e}"))?;
        let mapped = mapped.max(host::page_size());
        let mut mem = LinearMemory {
            base: base.cast(),
            region: register_reservation(base.cast(), mapped),
            mapped,
            reservation,
            accessible: 0,
            length: 0,
            max_length: ty.max_bytes().min(reservation),
            page_size: ty.page_size(),
            origin: Origin::Own,
        };
        mem.set_length(min_bytes)
            .map_err(|e| format!("cannot commit the memory's initial {min_bytes} bytes: {e}"))?;
        if let Some(image) = image {
            mem.apply_image(image, false)?;
        }
        Ok(mem)
    }

    /// Takes a memory from `pool`, with `image` as its initial contents.
    pub fn from_pool(
        pool: &Arc<Pool>,
        ty: &MemoryType,
        image: Option<&ImageSource<'_>>,
    ) -> Result<LinearMemory, String> {
        let reservation = pool.memory_reservation();
        let min_bytes = ty.initial_bytes(reservation)?;
        let want = usize::try_from(min_bytes)
            .ok()
            .and_then(host::round_up_to_page)
            .ok_or("length overflows")?;
        let slot = pool.take_memory(image.map(|i| i.key))?;
        let mut mem = LinearMemory {
            base: slot.base,
            region: Entry::EMPTY,
            mapped: 0,
            reservation,
            accessible: slot.accessible,
            length: 0,
            max_length: ty.max_bytes().min(reservation),
            page_size: ty.page_size(),
            origin: Origin::Pool(pool.clone(), slot),
        };
        // The slot's pages are clean (reset on release); fix up protection and the image.
        if mem.accessible > want {
            // SAFETY: `[want, accessible)` lies in the slot's reservation.
            unsafe {
                rustix::mm::mprotect(
                    mem.base.add(want).cast(),
                    mem.accessible - want,
                    MprotectFlags::empty(),
                )
            }
            .map_err(|e| format!("cannot reset a pooled memory: {e}"))?;
            mem.accessible = want;
        }
        mem.set_length(min_bytes)
            .map_err(|e| format!("cannot commit the memory's initial {min_bytes} bytes: {e}"))?;
        let reuse = match (&mem.origin, image) {
            (Origin::Pool(_, slot), Some(i)) => slot.image == Some(i.key),
            _ => false,
        };
        if let Origin::Pool(_, slot) = &mut mem.origin
            && let Some((start, end)) = slot.copied_image
            && !reuse
        {
            // Another memory's copied image: reset it before anything sees it.
            slot.copied_image = None;
            slot.image = None;
            // SAFETY: the range lies in the slot's accessible prefix (kept accessible since
            // the image was copied there), which only this memory uses now.
            unsafe {
                rustix::mm::madvise(
                    mem.base.add(start).cast(),
                    end - start,
                    rustix::mm::Advice::LinuxDontNeed,
                )
            }
            .map_err(|e| format!("cannot reset a pooled memory: {e}"))?;
        }
        let copied = matches!(&mem.origin, Origin::Pool(_, slot) if slot.copied_image.is_some());
        if !reuse {
            if let Origin::Pool(_, slot) = &mut mem.origin
                && let Some((_, len)) = slot.mapped_image.take()
            {
                slot.image = None;
                // SAFETY: the old image lies in the slot's reservation.
                unsafe { unmap_image(slot.base, len)? };
                mem.accessible = 0;
                mem.set_length(min_bytes).map_err(|e| {
                    format!("cannot commit the memory's initial {min_bytes} bytes: {e}")
                })?;
            }
            if let Some(image) = image {
                mem.apply_image(image, true)?;
            }
        } else if copied && let Some(image) = image {
            // The same image, resident but possibly written to: copy it over again (no page
            // fault, no zeroing).
            mem.apply_image(image, true)?;
        }
        Ok(mem)
    }

    /// Writes (maps or copies) `image` into the accessible memory.
    fn apply_image(&mut self, image: &ImageSource<'_>, pooled: bool) -> Result<(), String> {
        let start = usize::try_from(image.memory_offset).map_err(|_| "image offset overflows")?;
        let len = image.bytes.len();
        let end = start.checked_add(len).ok_or("image length overflows")?;
        if end > self.accessible || end as u64 > self.length {
            return Err(format!(
                "memory image {start:#x}..{end:#x} exceeds the memory's initial size"
            ));
        }
        match image.mappable() {
            Some((fd, offset)) if len > 0 => {
                // SAFETY: `[start, end)` lies in our accessible reservation.
                unsafe { map_image(self.base.add(start), len, fd, offset)? };
                if pooled && let Origin::Pool(_, slot) = &mut self.origin {
                    slot.image = Some(image.key);
                    slot.mapped_image = Some((start, end));
                }
            }
            _ => {
                self.as_mut_slice()[start..end].copy_from_slice(image.bytes);
                if pooled
                    && len > 0
                    && len <= RESIDENT_IMAGE_LIMIT
                    && let Origin::Pool(_, slot) = &mut self.origin
                {
                    slot.image = Some(image.key);
                    slot.copied_image = Some((start, end));
                }
            }
        }
        Ok(())
    }

    fn set_length(&mut self, bytes: u64) -> Result<(), String> {
        let bytes_usize = usize::try_from(bytes).map_err(|_| "length overflows".to_string())?;
        let want = host::round_up_to_page(bytes_usize).ok_or("length overflows")?;
        if want > self.accessible {
            // SAFETY: `[accessible, want)` lies inside our reservation (bytes <= reservation
            // <= mapped); only protection changes.
            unsafe {
                rustix::mm::mprotect(
                    self.base.add(self.accessible).cast(),
                    want - self.accessible,
                    MprotectFlags::READ | MprotectFlags::WRITE,
                )
            }
            .map_err(|e| e.to_string())?;
            self.accessible = want;
        }
        self.length = bytes;
        Ok(())
    }

    /// Base address.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Current length in bytes.
    pub fn byte_len(&self) -> u64 {
        self.length
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.length / self.page_size
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` if the maximum or
    /// the reservation would be exceeded (or the OS refused).
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new_bytes = old
            .checked_add(delta)?
            .checked_mul(self.page_size)
            .filter(|&b| b <= self.max_length && b <= self.reservation)?;
        self.set_length(new_bytes).ok()?;
        Some(old)
    }

    /// The accessible bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `[base, base + length)` is readable (length <= accessible) and owned by us.
        unsafe { core::slice::from_raw_parts(self.base, self.length as usize) }
    }

    /// The accessible bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` gives exclusive host access.
        unsafe { core::slice::from_raw_parts_mut(self.base, self.length as usize) }
    }
}

/// Registers the reservation `[base, base + len)`.
pub(crate) fn register_reservation(base: *mut u8, len: usize) -> Entry {
    let region = Entry {
        start: base as usize,
        end: base as usize + len,
        data: 0,
    };
    RESERVATIONS.insert(region);
    region
}

/// Unregisters a reservation [`register_reservation`] registered (before it is unmapped).
pub(crate) fn unregister_reservation(region: Entry) {
    if region.start < region.end {
        RESERVATIONS.remove(region);
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        unregister_reservation(self.region);
        match core::mem::replace(&mut self.origin, Origin::Own) {
            Origin::Own => {
                // SAFETY: unmapping exactly the reservation we mapped; nothing refers to it
                // once its store is dropped.
                let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.mapped) };
            }
            Origin::Pool(pool, mut slot) => {
                slot.accessible = self.accessible;
                pool.release_memory(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType {
            minimum: min,
            maximum: max,
            memory64: false,
            shared: false,
            page_size_log2: 16,
        }
    }

    #[test]
    fn reserve_grow_and_limits() {
        let mut m = LinearMemory::new(&ty(1, Some(3)), 1 << 32, 1 << 31, None).unwrap();
        assert_eq!(m.pages(), 1);
        assert_eq!(m.byte_len(), 65536);
        let base = m.base();
        m.as_mut_slice()[65535] = 7;
        assert_eq!(m.grow(1), Some(1));
        assert_eq!(m.base(), base, "base never moves");
        assert_eq!(m.as_slice()[65535], 7);
        m.as_mut_slice()[2 * 65536 - 1] = 9;
        assert_eq!(m.grow(2), None, "beyond maximum");
        assert_eq!(m.grow(1), Some(2));
        assert_eq!(m.grow(0), Some(3));
        assert_eq!(m.grow(1), None);
        assert_eq!(m.grow(u64::MAX), None);
    }

    #[test]
    fn unbounded_memory_limited_by_reservation() {
        let mut m = LinearMemory::new(&ty(0, None), 1 << 20, 0, None).unwrap();
        assert_eq!(m.pages(), 0);
        assert_eq!(m.grow(16), Some(0));
        assert_eq!(m.grow(1), None, "reservation is 16 pages");
        assert!(LinearMemory::new(&ty(17, None), 1 << 20, 0, None).is_err());
        // The full 4 GiB of a 32-bit memory fits the default reservation.
        let mut big = LinearMemory::new(&ty(0, None), 1 << 32, 1 << 31, None).unwrap();
        assert_eq!(big.grow(65536), Some(0));
        assert_eq!(big.grow(1), None);
    }

    #[test]
    fn custom_page_size() {
        let t = MemoryType {
            page_size_log2: 0,
            ..ty(3, None)
        };
        let mut m = LinearMemory::new(&t, 1 << 32, 0, None).unwrap();
        assert_eq!(m.byte_len(), 3);
        assert_eq!(m.grow(5), Some(3));
        assert_eq!(m.byte_len(), 8);
        assert_eq!(t.max_bytes(), u64::from(u32::MAX));
        assert_eq!(ty(0, None).max_bytes(), 1 << 32);
    }
}
