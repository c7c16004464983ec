//! `path_*`: opening, creating, removing, renaming, linking and inspecting files by path,
//! always relative to a directory fd and never outside it (see [`crate::path`]).

use super::fd_stat::timestamps;
use super::{Args, dir_entry, dir_file, filestat_of, guest_bytes, retry};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::{Entry, Handle};
use crate::memory::GuestMemory;
use crate::path;
use crate::types::{FILESTAT_SIZE, fdflags, lookupflags, oflags, rights};
use rustix::fs::{AtFlags, Mode, OFlags};
use std::os::fd::AsFd;

/// `path_create_directory(fd, path, path_len)`.
pub(crate) fn path_create_directory(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let p = guest_bytes(mem, a.u32(1), a.u32(2))?;
    let dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_CREATE_DIRECTORY)?)?;
    let (parent, s) = path::parent(dir.as_fd(), &p)?;
    retry(|| rustix::fs::mkdirat(parent.fd(), s.name, Mode::from_bits_truncate(0o777)))
}

/// `path_remove_directory(fd, path, path_len)`.
pub(crate) fn path_remove_directory(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let p = guest_bytes(mem, a.u32(1), a.u32(2))?;
    let dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_REMOVE_DIRECTORY)?)?;
    let (parent, s) = path::parent(dir.as_fd(), &p)?;
    retry(|| rustix::fs::unlinkat(parent.fd(), s.name, AtFlags::REMOVEDIR))
}

/// `path_unlink_file(fd, path, path_len)`.
pub(crate) fn path_unlink_file(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let p = guest_bytes(mem, a.u32(1), a.u32(2))?;
    let dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_UNLINK_FILE)?)?;
    let (parent, s) = path::parent(dir.as_fd(), &p)?;
    retry(|| rustix::fs::unlinkat(parent.fd(), s.name, AtFlags::empty()))
}

/// `path_rename(fd, old_path, old_len, new_fd, new_path, new_len)`.
pub(crate) fn path_rename(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let old = guest_bytes(mem, a.u32(1), a.u32(2))?;
    let new = guest_bytes(mem, a.u32(4), a.u32(5))?;
    let old_dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_RENAME_SOURCE)?)?;
    let new_dir = dir_file(dir_entry(cx, a.u32(3), rights::PATH_RENAME_TARGET)?)?;
    let (op, os) = path::parent(old_dir.as_fd(), &old)?;
    let (np, ns) = path::parent(new_dir.as_fd(), &new)?;
    retry(|| rustix::fs::renameat(op.fd(), os.name, np.fd(), ns.name))
}

/// `path_symlink(old_path, old_len, fd, new_path, new_len)`: creates `new_path` holding
/// `old_path`. The link's contents are data; following it later is confined like any path.
pub(crate) fn path_symlink(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let target = guest_bytes(mem, a.u32(0), a.u32(1))?;
    let new = guest_bytes(mem, a.u32(3), a.u32(4))?;
    let dir = dir_file(dir_entry(cx, a.u32(2), rights::PATH_SYMLINK)?)?;
    path::check(&target)?;
    let (parent, s) = path::parent(dir.as_fd(), &new)?;
    retry(|| rustix::fs::symlinkat(target.as_slice(), parent.fd(), s.name))
}

/// `path_link(old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len)`: a hard
/// link. Following a symlink source is refused (`inval`), as other runtimes do: it would
/// need a second, unconfined lookup.
pub(crate) fn path_link(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let follow = a.u32(1) & lookupflags::SYMLINK_FOLLOW != 0;
    let old = guest_bytes(mem, a.u32(2), a.u32(3))?;
    let new = guest_bytes(mem, a.u32(5), a.u32(6))?;
    let old_dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_LINK_SOURCE)?)?;
    let new_dir = dir_file(dir_entry(cx, a.u32(4), rights::PATH_LINK_TARGET)?)?;
    if follow {
        return Err(Errno::Inval);
    }
    let (op, os) = path::parent(old_dir.as_fd(), &old)?;
    if os.trailing_slash() || os.is_dot() {
        // Only a directory can be named like this, and directories cannot be hard linked;
        // resolve it (confined) for the right error.
        path::open_path(old_dir.as_fd(), &old, true)?;
        return Err(Errno::Perm);
    }
    let (np, ns) = path::parent(new_dir.as_fd(), &new)?;
    retry(|| rustix::fs::linkat(op.fd(), os.base, np.fd(), ns.name, AtFlags::empty()))
}

/// `path_readlink(fd, path, path_len, buf, buf_len, bufused)`: the link's contents,
/// truncated to the buffer.
pub(crate) fn path_readlink(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let p = guest_bytes(mem, a.u32(1), a.u32(2))?;
    let (buf, buf_len, bufused) = (a.u32(3), a.u32(4), a.u32(5));
    mem.check(buf, u64::from(buf_len))?;
    mem.check(bufused, 4)?;
    let dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_READLINK)?)?;
    let (parent, s) = path::parent(dir.as_fd(), &p)?;
    if s.trailing_slash() || s.is_dot() {
        // Names a directory (if anything): not a link.
        path::open_path(dir.as_fd(), &p, true)?;
        return Err(Errno::Inval);
    }
    let target = retry(|| rustix::fs::readlinkat(parent.fd(), s.base, Vec::new()))?;
    let bytes = target.as_bytes();
    let n = bytes.len().min(buf_len as usize);
    mem.write_bytes(buf, &bytes[..n])?;
    mem.write_u32(bufused, n as u32)
}

/// `path_filestat_get(fd, flags, path, path_len, filestat)`.
pub(crate) fn path_filestat_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let follow = a.u32(1) & lookupflags::SYMLINK_FOLLOW != 0;
    let p = guest_bytes(mem, a.u32(2), a.u32(3))?;
    let out = a.u32(4);
    mem.check(out, FILESTAT_SIZE)?;
    let dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_FILESTAT_GET)?)?;
    let fd = path::open_path(dir.as_fd(), &p, follow)?;
    let st = retry(|| rustix::fs::fstat(&fd))?;
    mem.write_bytes(out, &filestat_of(&st).to_bytes())
}

/// `path_filestat_set_times(fd, flags, path, path_len, atim, mtim, fst_flags)`.
pub(crate) fn path_filestat_set_times(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let follow = a.u32(1) & lookupflags::SYMLINK_FOLLOW != 0;
    let p = guest_bytes(mem, a.u32(2), a.u32(3))?;
    let times = timestamps(a.u64(4), a.u64(5), a.u32(6))?;
    let dir = dir_file(dir_entry(cx, a.u32(0), rights::PATH_FILESTAT_SET_TIMES)?)?;
    let fd = path::open_path(dir.as_fd(), &p, follow)?;
    retry(|| rustix::fs::utimensat(&fd, c"", &times, AtFlags::EMPTY_PATH))
}

/// `path_open(fd, dirflags, path, path_len, oflags, rights_base, rights_inheriting,
/// fdflags, opened_fd)`.
///
/// The new fd's rights are the requested ones, limited to what the directory passes on and
/// to what applies to the kind of file opened. The host open mode follows the rights, as
/// wasi-libc derives them from `O_RDONLY`/`O_WRONLY`.
pub(crate) fn path_open(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let dirflags = a.u32(1);
    let p = guest_bytes(mem, a.u32(2), a.u32(3))?;
    let oflags = u16::try_from(a.u32(4)).map_err(|_| Errno::Inval)?;
    let (want_base, want_inheriting) = (a.u64(5), a.u64(6));
    let fdflags = u16::try_from(a.u32(7)).map_err(|_| Errno::Inval)?;
    let out = a.u32(8);
    mem.check(out, 4)?;
    if oflags & !oflags::ALL != 0 || fdflags & !fdflags::ALL != 0 {
        return Err(Errno::Inval);
    }

    let parent = dir_entry(cx, a.u32(0), rights::PATH_OPEN)?;
    if oflags & oflags::CREAT != 0 {
        parent.require(rights::PATH_CREATE_FILE)?;
    }
    if oflags & oflags::TRUNC != 0 && parent.base & rights::PATH_FILESTAT_SET_SIZE == 0 {
        return Err(Errno::Perm);
    }
    let dir = dir_file(parent)?;

    let read = want_base & rights::READ_ACCESS != 0;
    let write = want_base & rights::WRITE_ACCESS != 0;
    let mut flags = match (read, write) {
        (_, false) => OFlags::RDONLY,
        (false, true) => OFlags::WRONLY,
        (true, true) => OFlags::RDWR,
    };
    for (bit, host) in [
        (oflags::CREAT, OFlags::CREATE),
        (oflags::DIRECTORY, OFlags::DIRECTORY),
        (oflags::EXCL, OFlags::EXCL),
        (oflags::TRUNC, OFlags::TRUNC),
    ] {
        if oflags & bit != 0 {
            flags |= host;
        }
    }
    for (bit, host) in [
        (fdflags::APPEND, OFlags::APPEND),
        (fdflags::DSYNC, OFlags::DSYNC),
        (fdflags::NONBLOCK, OFlags::NONBLOCK),
        (fdflags::RSYNC, OFlags::RSYNC),
        (fdflags::SYNC, OFlags::SYNC),
    ] {
        if fdflags & bit != 0 {
            flags |= host;
        }
    }
    if dirflags & lookupflags::SYMLINK_FOLLOW == 0 {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = path::open(dir.as_fd(), &p, flags, Mode::from_bits_truncate(0o666))?;
    let st = retry(|| rustix::fs::fstat(&fd))?;
    let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode as _).is_dir();
    let (handle, applicable) = if is_dir {
        (
            Handle::Dir {
                dir: fd.into(),
                preopen: None,
            },
            rights::DIR,
        )
    } else {
        (Handle::File(fd.into()), rights::FILE)
    };
    let mut entry = Entry::new(
        handle,
        want_base & parent.inheriting & applicable,
        want_inheriting & parent.inheriting,
    );
    entry.fdflags = fdflags;
    let new_fd = cx.fds.push(entry)?;
    mem.write_u32(out, new_fd)
}
