//! fd metadata: `fdstat` (type, flags, rights), `filestat`, preopen names, directory
//! listings.

use super::{Args, filestat_of, filetype_of, retry};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::{Entry, Handle};
use crate::memory::GuestMemory;
use crate::types::{
    FDSTAT_SIZE, FILESTAT_SIZE, Fdstat, Filestat, PREOPENTYPE_DIR, dirent_header, fdflags,
    filetype, fstflags, rights,
};
use rustix::fs::{OFlags, Timespec, Timestamps};

/// The preview1 file type of an open fd.
pub(crate) fn entry_filetype(e: &Entry) -> u8 {
    match &e.handle {
        Handle::Stdin(i) => i.filetype(),
        Handle::Stdout(o) => o.filetype(),
        Handle::File(f) => rustix::fs::fstat(f)
            .map(|st| filetype_of(rustix::fs::FileType::from_raw_mode(st.st_mode as _)))
            .unwrap_or(filetype::UNKNOWN),
        Handle::Dir { .. } => filetype::DIRECTORY,
        Handle::Listener(_) | Handle::Stream(_) => filetype::SOCKET_STREAM,
    }
}

/// `fd_fdstat_get(fd, fdstat)`.
pub(crate) fn fd_fdstat_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let out = a.u32(1);
    mem.check(out, FDSTAT_SIZE)?;
    let e = cx.fds.get(a.u32(0))?;
    let st = Fdstat {
        filetype: entry_filetype(e),
        flags: e.fdflags,
        rights_base: e.base,
        rights_inheriting: e.inheriting,
    };
    mem.write_bytes(out, &st.to_bytes())
}

/// `fd_fdstat_set_flags(fd, flags)`: `append` and `nonblock` change the host file; the sync
/// flags can only be chosen when opening.
pub(crate) fn fd_fdstat_set_flags(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let flags = u16::try_from(a.u32(1)).map_err(|_| Errno::Inval)?;
    if flags & !fdflags::ALL != 0 {
        return Err(Errno::Inval);
    }
    let e = cx.fds.get_mut(a.u32(0))?;
    e.require(rights::FD_FDSTAT_SET_FLAGS)?;
    let sync = fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC;
    if flags & sync != e.fdflags & sync {
        return Err(Errno::NotSup);
    }
    match &e.handle {
        Handle::File(f) => {
            let mut fl = retry(|| rustix::fs::fcntl_getfl(f))?;
            fl.set(OFlags::APPEND, flags & fdflags::APPEND != 0);
            fl.set(OFlags::NONBLOCK, flags & fdflags::NONBLOCK != 0);
            retry(|| rustix::fs::fcntl_setfl(f, fl))?;
        }
        Handle::Stream(s) => s.set_nonblocking(flags & fdflags::NONBLOCK != 0)?,
        Handle::Listener(l) => l.set_nonblocking(flags & fdflags::NONBLOCK != 0)?,
        // The host's stdio is shared with the embedder: only the guest's view changes.
        Handle::Stdin(_) | Handle::Stdout(_) | Handle::Dir { .. } => {}
    }
    e.fdflags = flags;
    Ok(())
}

/// `fd_fdstat_set_rights(fd, base, inheriting)`: rights can only be dropped.
pub(crate) fn fd_fdstat_set_rights(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let (base, inheriting) = (a.u64(1), a.u64(2));
    let e = cx.fds.get_mut(a.u32(0))?;
    if base & !e.base != 0 || inheriting & !e.inheriting != 0 {
        return Err(Errno::NotCapable);
    }
    e.base = base;
    e.inheriting = inheriting;
    Ok(())
}

/// The `filestat` of an open fd.
pub(crate) fn entry_filestat(e: &Entry) -> WasiResult<Filestat> {
    let host = |fd: std::os::fd::BorrowedFd<'_>| retry(|| rustix::fs::fstat(fd));
    use std::os::fd::AsFd;
    Ok(match &e.handle {
        Handle::File(f) | Handle::Dir { dir: f, .. } => filestat_of(&host(f.as_fd())?),
        Handle::Stream(s) => filestat_of(&host(s.as_fd())?),
        Handle::Listener(l) => filestat_of(&host(l.as_fd())?),
        Handle::Stdin(crate::stdio::Input::Inherit) => Filestat {
            filetype: entry_filetype(e),
            ..filestat_of(&host(crate::stdio::host_fd(0))?)
        },
        Handle::Stdout(o) => match o.host_fd() {
            Some(fd) => Filestat {
                filetype: entry_filetype(e),
                ..filestat_of(&host(fd)?)
            },
            None => Filestat {
                filetype: entry_filetype(e),
                ..Filestat::default()
            },
        },
        Handle::Stdin(_) => Filestat {
            filetype: entry_filetype(e),
            ..Filestat::default()
        },
    })
}

/// `fd_filestat_get(fd, filestat)`.
pub(crate) fn fd_filestat_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let out = a.u32(1);
    mem.check(out, FILESTAT_SIZE)?;
    let e = cx.fds.get(a.u32(0))?;
    e.require(rights::FD_FILESTAT_GET)?;
    let st = entry_filestat(e)?;
    mem.write_bytes(out, &st.to_bytes())
}

/// `fd_filestat_set_size(fd, size)`.
pub(crate) fn fd_filestat_set_size(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let size = a.u64(1);
    let e = cx.fds.get(a.u32(0))?;
    let f = match &e.handle {
        Handle::Dir { .. } => return Err(Errno::IsDir),
        Handle::File(f) => f,
        _ => return Err(Errno::Inval),
    };
    e.require(rights::FD_FILESTAT_SET_SIZE)?;
    if i64::try_from(size).is_err() {
        return Err(Errno::Fbig);
    }
    retry(|| rustix::fs::ftruncate(f, size))
}

/// Converts preview1 times and `fstflags` to host timestamps (`inval` for contradictory or
/// unknown flags).
pub(crate) fn timestamps(atim: u64, mtim: u64, flags: u32) -> WasiResult<Timestamps> {
    let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
    if flags & !fstflags::ALL != 0
        || (flags & fstflags::ATIM != 0 && flags & fstflags::ATIM_NOW != 0)
        || (flags & fstflags::MTIM != 0 && flags & fstflags::MTIM_NOW != 0)
    {
        return Err(Errno::Inval);
    }
    let one = |t: u64, set: u16, now: u16| {
        if flags & now != 0 {
            Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_NOW,
            }
        } else if flags & set != 0 {
            Timespec {
                tv_sec: (t / 1_000_000_000) as i64,
                tv_nsec: (t % 1_000_000_000) as _,
            }
        } else {
            Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_OMIT,
            }
        }
    };
    Ok(Timestamps {
        last_access: one(atim, fstflags::ATIM, fstflags::ATIM_NOW),
        last_modification: one(mtim, fstflags::MTIM, fstflags::MTIM_NOW),
    })
}

/// `fd_filestat_set_times(fd, atim, mtim, fst_flags)`.
pub(crate) fn fd_filestat_set_times(
    cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let times = timestamps(a.u64(1), a.u64(2), a.u32(3))?;
    let e = cx.fds.get(a.u32(0))?;
    e.require(rights::FD_FILESTAT_SET_TIMES)?;
    match &e.handle {
        Handle::File(f) | Handle::Dir { dir: f, .. } => retry(|| rustix::fs::futimens(f, &times)),
        _ => Err(Errno::Badf),
    }
}

/// `fd_prestat_get(fd, prestat)`: only preopened directories have one (`badf` otherwise,
/// which ends wasi-libc's scan of the preopens).
pub(crate) fn fd_prestat_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let out = a.u32(1);
    let e = cx.fds.get(a.u32(0))?;
    let Handle::Dir {
        preopen: Some(name),
        ..
    } = &e.handle
    else {
        return Err(Errno::Badf);
    };
    let len = u32::try_from(name.len()).map_err(|_| Errno::NameTooLong)?;
    let mut b = [0u8; 8];
    b[0] = PREOPENTYPE_DIR;
    b[4..8].copy_from_slice(&len.to_le_bytes());
    mem.write_bytes(out, &b)
}

/// `fd_prestat_dir_name(fd, path, path_len)`.
pub(crate) fn fd_prestat_dir_name(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let (ptr, len) = (a.u32(1), a.u32(2));
    let e = cx.fds.get(a.u32(0))?;
    let Handle::Dir {
        preopen: Some(name),
        ..
    } = &e.handle
    else {
        return Err(Errno::Badf);
    };
    if (len as usize) < name.len() {
        return Err(Errno::NameTooLong);
    }
    mem.write_bytes(ptr, name)
}

/// `fd_readdir(fd, buf, buf_len, cookie, bufused)`: entries from `cookie` on (`.` and `..`
/// included), each a `dirent` plus its name; the last one is cut off when the buffer is
/// full, and `bufused == buf_len` tells the guest to ask again from the last whole entry.
pub(crate) fn fd_readdir(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let (buf, buf_len, cookie, bufused) = (a.u32(1), a.u32(2), a.u64(3), a.u32(4));
    mem.check(buf, u64::from(buf_len))?;
    mem.check(bufused, 4)?;
    let e = cx.fds.get(a.u32(0))?;
    e.require(rights::FD_READDIR)?;
    let Handle::Dir { dir, preopen } = &e.handle else {
        return Err(Errno::NotDir);
    };
    // A preopen's `..` is outside the sandbox: report the preopen's own inode for it.
    let own_ino = match preopen {
        Some(_) => Some(retry(|| rustix::fs::fstat(dir))?.st_ino as u64),
        None => None,
    };
    let mut listing = rustix::fs::Dir::read_from(dir)?;
    let cap = buf_len as usize;
    let mut out: Vec<u8> = Vec::with_capacity(cap.min(1 << 16));
    let mut index = 0u64;
    while out.len() < cap {
        let Some(entry) = listing.read() else { break };
        let entry = entry?;
        index += 1;
        if index <= cookie {
            continue;
        }
        let name = entry.file_name().to_bytes();
        let mut ft = filetype_of(entry.file_type());
        if entry.file_type() == rustix::fs::FileType::Unknown
            && let Ok(st) = rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        {
            ft = filestat_of(&st).filetype;
        }
        let name_len = u32::try_from(name.len()).map_err(|_| Errno::NameTooLong)?;
        let ino = match own_ino {
            Some(own) if name == b".." => own,
            _ => entry.ino(),
        };
        out.extend_from_slice(&dirent_header(index, ino, name_len, ft));
        out.extend_from_slice(name);
    }
    let n = out.len().min(cap);
    mem.write_bytes(buf, &out[..n])?;
    mem.write_u32(bufused, n as u32)
}
