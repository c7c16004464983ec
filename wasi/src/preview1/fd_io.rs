//! Reading, writing, seeking and syncing fds; `fd_close` and `fd_renumber`.

use super::{Args, retry};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::Handle;
use crate::memory::{GuestMemory, IoVec, total_len};
use crate::types::{rights, whence};
use std::io::IoSlice;

/// The most bytes one call moves through a bounce buffer (multi-buffer reads); a larger
/// request is a short read, as POSIX allows.
const MAX_BOUNCE: usize = 16 << 20;

/// Reads with `f` into the iovecs: directly into guest memory for one buffer, through a
/// bounce buffer (one host call, then scattered) for several.
fn read_iovs(
    mem: &mut GuestMemory<'_>,
    iovs: &[IoVec],
    f: impl FnOnce(&mut [u8]) -> WasiResult<usize>,
) -> WasiResult<usize> {
    let bufs: Vec<IoVec> = iovs.iter().copied().filter(|v| v.len > 0).collect();
    match bufs.as_slice() {
        [] => Ok(0),
        [one] => mem.fill(one.ptr, one.len, f),
        many => {
            let mut tmp = vec![0u8; total_len(many).min(MAX_BOUNCE)];
            let n = f(&mut tmp)?.min(tmp.len());
            mem.scatter(many, &tmp[..n])
        }
    }
}

fn io_slices<'a>(bufs: &'a [&'a [u8]]) -> Vec<IoSlice<'a>> {
    bufs.iter().map(|b| IoSlice::new(b)).collect()
}

/// `fd_read(fd, iovs, iovs_len, nread)`.
pub(crate) fn fd_read(cx: &mut WasiCtx, mem: &mut GuestMemory<'_>, a: &Args<'_>) -> WasiResult<()> {
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    let nread = a.u32(3);
    mem.check(nread, 4)?;
    let e = cx.fds.get_mut(a.u32(0))?;
    if matches!(e.handle, Handle::Dir { .. }) {
        return Err(Errno::IsDir);
    }
    e.require(rights::FD_READ)?;
    let n = read_iovs(mem, &iovs, |buf| match &mut e.handle {
        Handle::Stdin(input) => input.read(buf),
        Handle::File(f) => retry(|| rustix::io::read(&*f, &mut *buf)),
        Handle::Stream(s) => retry(|| rustix::io::read(&*s, &mut *buf)),
        _ => Err(Errno::Badf),
    })?;
    mem.write_u32(nread, n as u32)
}

/// The file behind `fd` for a positioned read or write needing `right`: directories are
/// `isdir`, streams without the right `notcapable`, other streams `spipe`.
fn positioned_file(cx: &WasiCtx, fd: u32, right: u64) -> WasiResult<&std::fs::File> {
    let e = cx.fds.get(fd)?;
    match &e.handle {
        Handle::Dir { .. } => Err(Errno::IsDir),
        Handle::File(f) => {
            e.require(right | rights::FD_SEEK)?;
            Ok(f)
        }
        _ => {
            e.require(right)?;
            Err(Errno::Spipe)
        }
    }
}

/// `fd_pread(fd, iovs, iovs_len, offset, nread)`: reads at an offset without moving the
/// file position.
pub(crate) fn fd_pread(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    let offset = a.u64(3);
    let nread = a.u32(4);
    mem.check(nread, 4)?;
    let f = positioned_file(cx, a.u32(0), rights::FD_READ)?;
    let n = read_iovs(mem, &iovs, |buf| {
        retry(|| rustix::io::pread(f, &mut *buf, offset))
    })?;
    mem.write_u32(nread, n as u32)
}

/// Writes `bufs` to the fd's target.
fn write_handle(handle: &mut Handle, bufs: &[&[u8]]) -> WasiResult<usize> {
    match handle {
        Handle::Stdout(out) => out.write(bufs),
        Handle::File(f) => retry(|| rustix::io::writev(&*f, &io_slices(bufs))),
        Handle::Stream(s) => retry(|| rustix::io::writev(&*s, &io_slices(bufs))),
        Handle::Dir { .. } => Err(Errno::IsDir),
        _ => Err(Errno::Badf),
    }
}

/// `fd_write(fd, iovs, iovs_len, nwritten)`.
pub(crate) fn fd_write(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    let nwritten = a.u32(3);
    mem.check(nwritten, 4)?;
    let e = cx.fds.get_mut(a.u32(0))?;
    if matches!(e.handle, Handle::Dir { .. }) {
        return Err(Errno::IsDir);
    }
    e.require(rights::FD_WRITE)?;
    let gathered = mem.gather(&iovs)?;
    let bufs: Vec<&[u8]> = gathered.iter().map(|b| &**b).collect();
    let n = if bufs.iter().all(|b| b.is_empty()) {
        0
    } else {
        write_handle(&mut e.handle, &bufs)?
    };
    mem.write_u32(nwritten, n as u32)
}

/// `fd_pwrite(fd, iovs, iovs_len, offset, nwritten)`.
pub(crate) fn fd_pwrite(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    let offset = a.u64(3);
    let nwritten = a.u32(4);
    mem.check(nwritten, 4)?;
    let f = positioned_file(cx, a.u32(0), rights::FD_WRITE)?;
    let gathered = mem.gather(&iovs)?;
    let bufs: Vec<&[u8]> = gathered.iter().map(|b| &**b).collect();
    let n = retry(|| rustix::io::pwritev(f, &io_slices(&bufs), offset))?;
    mem.write_u32(nwritten, n as u32)
}

/// `fd_seek(fd, offset, whence, newoffset)`.
pub(crate) fn fd_seek(cx: &mut WasiCtx, mem: &mut GuestMemory<'_>, a: &Args<'_>) -> WasiResult<()> {
    let offset = a.u64(1) as i64;
    let whence = a.u32(2);
    let out = a.u32(3);
    mem.check(out, 8)?;
    let e = cx.fds.get(a.u32(0))?;
    let f = match &e.handle {
        Handle::Dir { .. } => return Err(Errno::Badf),
        Handle::File(f) => f,
        _ => return Err(Errno::Spipe),
    };
    // `fd_seek` implies `fd_tell`; asking for the position needs either.
    if whence == u32::from(whence::CUR) && offset == 0 {
        if e.base & (rights::FD_TELL | rights::FD_SEEK) == 0 {
            return Err(Errno::NotCapable);
        }
    } else {
        e.require(rights::FD_SEEK)?;
    }
    let pos = match u8::try_from(whence).unwrap_or(u8::MAX) {
        whence::SET => {
            rustix::fs::SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?)
        }
        whence::CUR => rustix::fs::SeekFrom::Current(offset),
        whence::END => rustix::fs::SeekFrom::End(offset),
        _ => return Err(Errno::Inval),
    };
    let new = retry(|| rustix::fs::seek(f, pos))?;
    mem.write_u64(out, new)
}

/// `fd_tell(fd, offset)`.
pub(crate) fn fd_tell(cx: &mut WasiCtx, mem: &mut GuestMemory<'_>, a: &Args<'_>) -> WasiResult<()> {
    let out = a.u32(1);
    mem.check(out, 8)?;
    let e = cx.fds.get(a.u32(0))?;
    let f = match &e.handle {
        Handle::Dir { .. } => return Err(Errno::Badf),
        Handle::File(f) => f,
        _ => return Err(Errno::Spipe),
    };
    if e.base & (rights::FD_TELL | rights::FD_SEEK) == 0 {
        return Err(Errno::NotCapable);
    }
    let pos = retry(|| rustix::fs::tell(f))?;
    mem.write_u64(out, pos)
}

/// `fd_sync(fd)`.
pub(crate) fn fd_sync(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let e = cx.fds.get(a.u32(0))?;
    e.require(rights::FD_SYNC)?;
    match &e.handle {
        Handle::File(f) | Handle::Dir { dir: f, .. } => retry(|| rustix::fs::fsync(f)),
        _ => Err(Errno::Inval),
    }
}

/// `fd_datasync(fd)`.
pub(crate) fn fd_datasync(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let e = cx.fds.get(a.u32(0))?;
    e.require(rights::FD_DATASYNC)?;
    match &e.handle {
        Handle::File(f) | Handle::Dir { dir: f, .. } => retry(|| rustix::fs::fdatasync(f)),
        _ => Err(Errno::Inval),
    }
}

/// `fd_advise(fd, offset, len, advice)`.
pub(crate) fn fd_advise(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    use rustix::fs::Advice;
    let (offset, len, advice) = (a.u64(1), a.u64(2), a.u32(3));
    let advice = match advice {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        5 => Advice::NoReuse,
        _ => return Err(Errno::Inval),
    };
    let e = cx.fds.get(a.u32(0))?;
    let f = match &e.handle {
        Handle::Dir { .. } => return Err(Errno::Badf),
        Handle::File(f) => f,
        _ => return Err(Errno::Spipe),
    };
    e.require(rights::FD_ADVISE)?;
    if i64::try_from(offset).is_err() || i64::try_from(len).is_err() {
        return Err(Errno::Inval);
    }
    retry(|| rustix::fs::fadvise(f, offset, std::num::NonZeroU64::new(len), advice))
}

/// `fd_allocate(fd, offset, len)`: makes sure the range is allocated, growing the file.
pub(crate) fn fd_allocate(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let (offset, len) = (a.u64(1), a.u64(2));
    let e = cx.fds.get(a.u32(0))?;
    let f = match &e.handle {
        Handle::Dir { .. } => return Err(Errno::Badf),
        Handle::File(f) => f,
        _ => return Err(Errno::Spipe),
    };
    e.require(rights::FD_ALLOCATE)?;
    let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
    if i64::try_from(end).is_err() {
        return Err(Errno::Fbig);
    }
    if len == 0 {
        return Err(Errno::Inval);
    }
    retry(|| rustix::fs::fallocate(f, rustix::fs::FallocateFlags::empty(), offset, len))
}

/// `fd_close(fd)`.
pub(crate) fn fd_close(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    cx.fds.remove(a.u32(0)).map(drop)
}

/// `fd_renumber(from, to)`: `to` is closed and `from` takes its number.
pub(crate) fn fd_renumber(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    cx.fds.renumber(a.u32(0), a.u32(1))
}
