//! Linear memory storage: a fixed reservation of address space whose accessible prefix grows
//! with `mprotect`. The base address never moves.

use crate::host;
use precast_format::module::MemoryType;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};

/// A reserved linear memory.
#[derive(Debug)]
pub(crate) struct LinearMemory {
    base: *mut u8,
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
}

/// Largest number of bytes a memory of `ty` may ever have (per its index type and maximum).
fn type_max_bytes(ty: &MemoryType) -> u64 {
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

impl LinearMemory {
    /// Reserves `reservation + guard` bytes and makes the type's minimum accessible.
    pub fn new(ty: &MemoryType, reservation: u64, guard: u64) -> Result<LinearMemory, String> {
        if ty.page_size_log2 > 16 {
            return Err(format!("unsupported page size 2^{}", ty.page_size_log2));
        }
        let page_size = ty.page_size();
        let min_bytes = ty
            .minimum
            .checked_mul(page_size)
            .filter(|&b| b <= type_max_bytes(ty) && b <= reservation)
            .ok_or_else(|| {
                format!(
                    "memory minimum of {} pages exceeds the {reservation:#x}-byte reservation",
                    ty.minimum
                )
            })?;
        let mapped = reservation
            .checked_add(guard)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(host::round_up_to_page)
            .ok_or_else(|| "memory reservation does not fit in the address space".to_string())?;
        // SAFETY: a fresh anonymous PROT_NONE reservation; nothing else refers to it.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                mapped.max(host::page_size()),
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .map_err(|e| format!("cannot reserve {mapped:#x} bytes for a linear memory: {e}"))?;
        let mut mem = LinearMemory {
            base: base.cast(),
            mapped: mapped.max(host::page_size()),
            reservation,
            accessible: 0,
            length: 0,
            max_length: type_max_bytes(ty).min(reservation),
            page_size,
        };
        mem.set_length(min_bytes)
            .map_err(|e| format!("cannot commit the memory's initial {min_bytes} bytes: {e}"))?;
        Ok(mem)
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
        unsafe { std::slice::from_raw_parts(self.base, self.length as usize) }
    }

    /// The accessible bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` gives exclusive host access.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.length as usize) }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the reservation we mapped; nothing refers to it once its
        // store is dropped.
        let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.mapped) };
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
        let mut m = LinearMemory::new(&ty(1, Some(3)), 1 << 32, 1 << 31).unwrap();
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
        let mut m = LinearMemory::new(&ty(0, None), 1 << 20, 0).unwrap();
        assert_eq!(m.pages(), 0);
        assert_eq!(m.grow(16), Some(0));
        assert_eq!(m.grow(1), None, "reservation is 16 pages");
        assert!(LinearMemory::new(&ty(17, None), 1 << 20, 0).is_err());
        // The full 4 GiB of a 32-bit memory fits the default reservation.
        let mut big = LinearMemory::new(&ty(0, None), 1 << 32, 1 << 31).unwrap();
        assert_eq!(big.grow(65536), Some(0));
        assert_eq!(big.grow(1), None);
    }

    #[test]
    fn custom_page_size() {
        let t = MemoryType {
            page_size_log2: 0,
            ..ty(3, None)
        };
        let mut m = LinearMemory::new(&t, 1 << 32, 0).unwrap();
        assert_eq!(m.byte_len(), 3);
        assert_eq!(m.grow(5), Some(3));
        assert_eq!(m.byte_len(), 8);
        assert_eq!(type_max_bytes(&t), u64::from(u32::MAX));
        assert_eq!(type_max_bytes(&ty(0, None)), 1 << 32);
    }
}
