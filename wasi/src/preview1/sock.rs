//! `sock_*`: preview1 can only use sockets it was given (a listener the embedder preopened)
//! and the connections accepted from them.

use super::{Args, retry};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::{Entry, Handle};
use crate::memory::GuestMemory;
use crate::types::{RECV_PEEK, RECV_WAITALL, SHUT_RD, SHUT_WR, fdflags, rights};
use std::io::IoSlice;
use std::net::Shutdown;

/// `sock_accept(fd, flags, fd_out)`.
pub(crate) fn sock_accept(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let flags = u16::try_from(a.u32(1)).map_err(|_| Errno::Inval)?;
    let out = a.u32(2);
    mem.check(out, 4)?;
    if flags & !fdflags::NONBLOCK != 0 {
        return Err(Errno::Inval);
    }
    let e = cx.fds.get(a.u32(0))?;
    let Handle::Listener(l) = &e.handle else {
        return Err(Errno::NotSock);
    };
    e.require(rights::SOCK_ACCEPT)?;
    let (stream, _) = l.accept()?;
    stream.set_nonblocking(flags & fdflags::NONBLOCK != 0)?;
    let mut entry = Entry::new(Handle::Stream(stream), rights::SOCKET & e.inheriting, 0);
    entry.fdflags = flags;
    let fd = cx.fds.push(entry)?;
    mem.write_u32(out, fd)
}

/// The connected socket behind `fd`, after checking `needed`.
fn stream(cx: &WasiCtx, fd: u32, needed: u64) -> WasiResult<&std::net::TcpStream> {
    let e = cx.fds.get(fd)?;
    let Handle::Stream(s) = &e.handle else {
        return Err(Errno::NotSock);
    };
    e.require(needed)?;
    Ok(s)
}

/// `sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen, ro_flags)`.
pub(crate) fn sock_recv(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    let ri_flags = u16::try_from(a.u32(3)).map_err(|_| Errno::Inval)?;
    let (ro_len, ro_flags) = (a.u32(4), a.u32(5));
    mem.check(ro_len, 4)?;
    mem.check(ro_flags, 2)?;
    if ri_flags & !(RECV_PEEK | RECV_WAITALL) != 0 {
        return Err(Errno::Inval);
    }
    let s = stream(cx, a.u32(0), rights::FD_READ)?;
    let mut flags = rustix::net::RecvFlags::empty();
    if ri_flags & RECV_PEEK != 0 {
        flags |= rustix::net::RecvFlags::PEEK;
    }
    if ri_flags & RECV_WAITALL != 0 {
        flags |= rustix::net::RecvFlags::WAITALL;
    }
    let total = crate::memory::total_len(&iovs).min(16 << 20);
    let mut tmp = vec![0u8; total];
    let n = if total == 0 {
        0
    } else {
        retry(|| rustix::net::recv(s, &mut tmp[..], flags).map(|(n, _)| n))?
    };
    let n = mem.scatter(&iovs, &tmp[..n.min(total)])?;
    mem.write_u32(ro_len, n as u32)?;
    mem.write_u16(ro_flags, 0)
}

/// `sock_send(fd, si_data, si_data_len, si_flags, so_datalen)`.
pub(crate) fn sock_send(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    let out = a.u32(4);
    mem.check(out, 4)?;
    if a.u32(3) != 0 {
        return Err(Errno::Inval);
    }
    let s = stream(cx, a.u32(0), rights::FD_WRITE)?;
    let bufs = mem.gather(&iovs)?;
    let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let n = retry(|| rustix::io::writev(s, &slices))?;
    mem.write_u32(out, n as u32)
}

/// `sock_shutdown(fd, how)`.
pub(crate) fn sock_shutdown(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let how = match u8::try_from(a.u32(1)).unwrap_or(0) {
        SHUT_RD => Shutdown::Read,
        SHUT_WR => Shutdown::Write,
        h if h == SHUT_RD | SHUT_WR => Shutdown::Both,
        _ => return Err(Errno::Inval),
    };
    let s = stream(cx, a.u32(0), rights::SOCK_SHUTDOWN)?;
    s.shutdown(how).map_err(Errno::from)
}
