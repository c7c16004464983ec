//! Guest linear memory access for the preview1 functions: every pointer and length the guest
//! passes is checked against the memory's current size, and a bad one is `errno::fault`.
//! Nothing here indexes without a check, so no guest value can make the host panic or read
//! outside the slice.

use super::errno::{Errno, WasiResult};
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

/// The calling instance's linear memory, bounds-checked.
pub(crate) struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    /// Wraps the memory's bytes (empty when the module exports no memory).
    pub fn new(bytes: &'a mut [u8]) -> GuestMemory<'a> {
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

    /// `len` bytes at `ptr`.
    pub fn slice(&self, ptr: u32, len: u32) -> WasiResult<&[u8]> {
        let r = self.range(ptr, u64::from(len))?;
        Ok(&self.bytes[r])
    }

    /// `len` bytes at `ptr`, mutably.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> WasiResult<&mut [u8]> {
        let r = self.range(ptr, u64::from(len))?;
        Ok(&mut self.bytes[r])
    }

    fn array<const N: usize>(&self, ptr: u32) -> WasiResult<[u8; N]> {
        let r = self.range(ptr, N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[r]);
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
        self.bytes[r].copy_from_slice(data);
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
    pub fn gather(&self, iovs: &[IoVec]) -> WasiResult<Vec<&[u8]>> {
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
        let mut m = GuestMemory::new(&mut bytes);
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
        let m = GuestMemory::new(&mut empty);
        assert_eq!(m.read_u8(0), Err(Errno::Fault));
    }

    #[test]
    fn scatter_fills_buffers_in_order() {
        let mut bytes = vec![0u8; 32];
        let mut m = GuestMemory::new(&mut bytes);
        let iovs = [IoVec { ptr: 0, len: 2 }, IoVec { ptr: 10, len: 4 }];
        assert_eq!(m.scatter(&iovs, b"abcde"), Ok(5));
        assert_eq!(m.slice(0, 2).unwrap(), b"ab");
        assert_eq!(m.slice(10, 4).unwrap(), b"cde\0");
        assert_eq!(total_len(&iovs), 6);
    }
}
