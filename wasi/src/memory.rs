//! Guest linear memory access for the preview1 functions: every pointer and length the guest
//! passes is checked against the memory's current size, and a bad one is `errno::fault`.
//! Nothing here indexes without a check, so no guest value can make the host panic or read
//! outside the slice.

use super::errno::{Errno, WasiResult};
use precast_loader::MemoryView;
use std::borrow::Cow;
use std::ops::Range;

/// A guest pointer and length (an `iovec`/`ciovec`), already checked to lie in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoVec {
    /// Start offset in linear memory.
    pub ptr: u32,
    /// Length in bytes.
    pub len: u32,
}

/// At most this many iovecs are honoured per call (Linux's `IOV_MAX`); more are ignored,
/// which is a short read or write, as POSIX allows.
pub(crate) const MAX_IOVS: usize = 1024;

/// The calling instance's linear memory, bounds-checked. A shared memory (which other
/// threads may write meanwhile) is only accessed atomically: its bytes are copied in and out,
/// never lent as a slice.
pub(crate) struct GuestMemory<'a> {
    bytes: MemoryView<'a>,
}

impl<'a> GuestMemory<'a> {
    /// Wraps a memory's bytes (empty when the module exports no memory).
    pub fn new(bytes: MemoryView<'a>) -> GuestMemory<'a> {
        GuestMemory { bytes }
    }

    fn range(&self, ptr: u32, len: u64) -> WasiResult<Range<usize>> {
        let start = ptr as usize;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .ok_or(Errno::Fault)?;
        if end > self.bytes.len() {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr` (borrowed from an exclusive memory, copied from a shared one).
    pub fn slice(&self, ptr: u32, len: u32) -> WasiResult<Cow<'_, [u8]>> {
        let r = self.range(ptr, u64::from(len))?;
        Ok(match &self.bytes {
            MemoryView::Exclusive(b) => Cow::Borrowed(&b[r]),
            MemoryView::Shared(_) => {
                let mut out = vec![0; r.len()];
                self.bytes.read(r.start, &mut out);
                Cow::Owned(out)
            }
        })
    }

    /// Lets `f` fill up to `len` bytes at `ptr`; `f` returns how many it wrote, which is
    /// returned (at most `len`). An exclusive memory is written in place; a shared one
    /// through a buffer, of which only the bytes `f` wrote are copied in.
    pub fn fill(
        &mut self,
        ptr: u32,
        len: u32,
        f: impl FnOnce(&mut [u8]) -> WasiResult<usize>,
    ) -> WasiResult<usize> {
        let r = self.range(ptr, u64::from(len))?;
        match &mut self.bytes {
            MemoryView::Exclusive(b) => Ok(f(&mut b[r])?.min(len as usize)),
            MemoryView::Shared(_) => {
                let mut tmp = vec![0; r.len()];
                let n = f(&mut tmp)?.min(tmp.len());
                self.bytes.write(r.start, &tmp[..n]);
                Ok(n)
            }
        }
    }

    fn array<const N: usize>(&self, ptr: u32) -> WasiResult<[u8; N]> {
        let r = self.range(ptr, N as u64)?;
        let mut out = [0u8; N];
        self.bytes.read(r.start, &mut out);
        Ok(out)
    }

    /// A little-endian `u8` at `ptr`.
    pub fn read_u8(&self, ptr: u32) -> WasiResult<u8> {
        Ok(self.array::<1>(ptr)?[0])
    }

    /// A little-endian `u16` at `ptr`.
    pub fn read_u16(&self, ptr: u32) -> WasiResult<u16> {
        Ok(u16::from_le_bytes(self.array(ptr)?))
    }

    /// A little-endian `u32` at `ptr`.
    pub fn read_u32(&self, ptr: u32) -> WasiResult<u32> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }

    /// A little-endian `u64` at `ptr`.
    pub fn read_u64(&self, ptr: u32) -> WasiResult<u64> {
        Ok(u64::from_le_bytes(self.array(ptr)?))
    }

    /// Copies `data` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> WasiResult<()> {
        let r = self.range(ptr, data.len() as u64)?;
        self.bytes.write(r.start, data);
        Ok(())
    }

    /// Writes a `u8` at `ptr`.
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> WasiResult<()> {
        self.write_bytes(ptr, &[v])
    }

    /// Writes a little-endian `u16` at `ptr`.
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u32` at `ptr`.
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u64` at `ptr`.
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Checks that `len` bytes at `ptr` are in memory (for output arrays written piecewise).
    pub fn check(&self, ptr: u32, len: u64) -> WasiResult<()> {
        self.range(ptr, len).map(|_| ())
    }

    /// Reads `count` iovecs (8 bytes each: `buf: u32, buf_len: u32`) at `ptr`, checking each
    /// buffer. At most [`MAX_IOVS`] are returned.
    pub fn iovecs(&self, ptr: u32, count: u32) -> WasiResult<Vec<IoVec>> {
        self.check(ptr, u64::from(count) * 8)?;
        let n = (count as usize).min(MAX_IOVS);
        let mut out = Vec::with_capacity(n);
        for i in 0..n as u32 {
            let at = ptr + i * 8;
            let v = IoVec {
                ptr: self.read_u32(at)?,
                len: self.read_u32(at + 4)?,
            };
            self.check(v.ptr, u64::from(v.len))?;
            out.push(v);
        }
        Ok(out)
    }

    /// The buffers of checked iovecs, for a gathering write.
    pub fn gather(&self, iovs: &[IoVec]) -> WasiResult<Vec<Cow<'_, [u8]>>> {
        iovs.iter().map(|v| self.slice(v.ptr, v.len)).collect()
    }

    /// Copies `data` into the iovecs in order (a scattering read's second half); returns the
    /// bytes copied.
    pub fn scatter(&mut self, iovs: &[IoVec], mut data: &[u8]) -> WasiResult<usize> {
        let mut copied = 0;
        for v in iovs {
            if data.is_empty() {
                break;
            }
            let n = data.len().min(v.len as usize);
            self.write_bytes(v.ptr, &data[..n])?;
            data = &data[n..];
            copied += n;
        }
        Ok(copied)
    }
}

/// Total length of iovecs, saturating.
pub(crate) fn total_len(iovs: &[IoVec]) -> usize {
    iovs.iter()
        .fold(0usize, |acc, v| acc.saturating_add(v.len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_access_is_bounds_checked() {
        let mut bytes = vec![0u8; 64];
        let mut m = GuestMemory::new(MemoryView::Exclusive(&mut bytes));
        m.write_u32(60, 0xdead_beef).unwrap();
        assert_eq!(m.read_u32(60), Ok(0xdead_beef));
        assert_eq!(m.read_u32(61), Err(Errno::Fault));
        assert_eq!(m.write_u64(57, 1), Err(Errno::Fault));
        assert_eq!(m.read_u8(u32::MAX), Err(Errno::Fault));
        assert_eq!(m.slice(u32::MAX, u32::MAX).err(), Some(Errno::Fault));
        assert!(m.slice(64, 0).is_ok());
        assert!(m.slice(65, 0).is_err());
        // An iovec pointing outside memory is refused.
        m.write_u32(0, 8).unwrap();
        m.write_u32(4, 100).unwrap();
        assert_eq!(m.iovecs(0, 1), Err(Errno::Fault));
        m.write_u32(4, 8).unwrap();
        assert_eq!(m.iovecs(0, 1), Ok(vec![IoVec { ptr: 8, len: 8 }]));
        // A huge count is refused before anything is read.
        assert_eq!(m.iovecs(0, u32::MAX), Err(Errno::Fault));
        let mut empty: [u8; 0] = [];
        let m = GuestMemory::new(MemoryView::Exclusive(&mut empty));
        assert_eq!(m.read_u8(0), Err(Errno::Fault));
    }

    #[test]
    fn scatter_fills_buffers_in_order() {
        let mut bytes = vec![0u8; 32];
        let mut m = GuestMemory::new(MemoryView::Exclusive(&mut bytes));
        let iovs = [IoVec { ptr: 0, len: 2 }, IoVec { ptr: 10, len: 4 }];
        assert_eq!(m.scatter(&iovs, b"abcde"), Ok(5));
        assert_eq!(&*m.slice(0, 2).unwrap(), b"ab");
        assert_eq!(&*m.slice(10, 4).unwrap(), b"cde\0");
        assert_eq!(total_len(&iovs), 6);
    }

    #[test]
    fn shared_memory_is_copied_in_and_out() {
        use std::sync::atomic::{AtomicU8, Ordering};
        let bytes: Vec<AtomicU8> = (0..32).map(|_| AtomicU8::new(0)).collect();
        let mut m = GuestMemory::new(MemoryView::Shared(&bytes));
        m.write_u32(4, 0x0102_0304).unwrap();
        assert_eq!(bytes[4].load(Ordering::Relaxed), 4);
        assert_eq!(m.read_u32(4), Ok(0x0102_0304));
        assert_eq!(&*m.slice(4, 2).unwrap(), &[4, 3]);
        assert_eq!(m.read_u32(29), Err(Errno::Fault));
        // Only the bytes the filler reports are copied in.
        assert_eq!(
            m.fill(8, 8, |b| {
                b[..3].copy_from_slice(b"xyz");
                Ok(3)
            }),
            Ok(3)
        );
        bytes[11].store(b'!', Ordering::Relaxed);
        assert_eq!(&*m.slice(8, 4).unwrap(), b"xyz!");
        assert_eq!(m.fill(30, 4, |_| Ok(4)), Err(Errno::Fault));
        let iovs = [IoVec { ptr: 0, len: 1 }, IoVec { ptr: 20, len: 8 }];
        assert_eq!(m.scatter(&iovs, b"abc"), Ok(3));
        assert_eq!(&*m.gather(&iovs).unwrap()[1], b"bc\0\0\0\0\0\0");
    }
}
