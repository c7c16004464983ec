//! The `wasi_snapshot_preview1` functions, grouped by subject. Each takes the context, the
//! checked guest memory and the raw arguments, and returns `Ok` (errno `success`) or an
//! [`Errno`]; only `proc_exit` ends the call differently (see [`super::linker`]).

pub(crate) mod args;
pub(crate) mod clock;
pub(crate) mod fd_io;
pub(crate) mod fd_stat;
pub(crate) mod path_ops;
pub(crate) mod poll;
pub(crate) mod sock;

use super::ctx::WasiCtx;
use super::errno::{Errno, WasiResult};
use super::fd_table::{Entry, Handle};
use super::memory::GuestMemory;
use super::types::{Filestat, filetype};
use precast_loader::Val;

/// The raw arguments of a call; the linker already checked their types against the import,
/// so a mismatch cannot happen (it reads as 0 rather than panicking).
pub(crate) struct Args<'a>(pub &'a [Val]);

impl Args<'_> {
    /// Argument `i` as an unsigned 32-bit value (pointers, lengths, fds, flags).
    pub fn u32(&self, i: usize) -> u32 {
        match self.0.get(i) {
            Some(Val::I32(v)) => *v as u32,
            Some(Val::I64(v)) => *v as u32,
            _ => 0,
        }
    }

    /// Argument `i` as an unsigned 64-bit value (offsets, sizes, timestamps, rights).
    pub fn u64(&self, i: usize) -> u64 {
        match self.0.get(i) {
            Some(Val::I64(v)) => *v as u64,
            Some(Val::I32(v)) => u64::from(*v as u32),
            _ => 0,
        }
    }
}

/// The signature every preview1 function implementation has.
pub(crate) type Impl = fn(&mut WasiCtx, &mut GuestMemory<'_>, &Args<'_>) -> WasiResult<()>;

/// Reads a guest string argument pair (pointer, length) as bytes.
pub(crate) fn guest_bytes(mem: &GuestMemory<'_>, ptr: u32, len: u32) -> WasiResult<Vec<u8>> {
    Ok(mem.slice(ptr, len)?.to_vec())
}

/// The preview1 file type of a host file type.
pub(crate) fn filetype_of(ft: rustix::fs::FileType) -> u8 {
    use rustix::fs::FileType;
    match ft {
        FileType::RegularFile => filetype::REGULAR_FILE,
        FileType::Directory => filetype::DIRECTORY,
        FileType::Symlink => filetype::SYMBOLIC_LINK,
        FileType::CharacterDevice => filetype::CHARACTER_DEVICE,
        FileType::BlockDevice => filetype::BLOCK_DEVICE,
        FileType::Socket => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

/// Nanoseconds since the epoch, clamped at 0.
fn nanos(sec: i64, nsec: i64) -> u64 {
    u64::try_from(sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(nsec).unwrap_or(0))
}

/// A host `stat` as a preview1 `filestat`.
#[allow(clippy::unnecessary_cast)] // field types differ between architectures
pub(crate) fn filestat_of(st: &rustix::fs::Stat) -> Filestat {
    Filestat {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        filetype: filetype_of(rustix::fs::FileType::from_raw_mode(st.st_mode as _)),
        nlink: st.st_nlink as u64,
        size: st.st_size as u64,
        atim: nanos(st.st_atime as i64, st.st_atime_nsec as i64),
        mtim: nanos(st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctim: nanos(st.st_ctime as i64, st.st_ctime_nsec as i64),
    }
}

/// The directory behind `fd` (for `path_*` calls) after checking `needed` rights: `badf` if
/// not open, `notdir` if not a directory, `notcapable` without the rights.
pub(crate) fn dir_entry(cx: &WasiCtx, fd: u32, needed: u64) -> WasiResult<&Entry> {
    let e = cx.fds.get(fd)?;
    if !matches!(e.handle, Handle::Dir { .. }) {
        return Err(Errno::NotDir);
    }
    e.require(needed)?;
    Ok(e)
}

/// The directory file of a `Dir` entry.
pub(crate) fn dir_file(e: &Entry) -> WasiResult<&std::fs::File> {
    match &e.handle {
        Handle::Dir { dir, .. } => Ok(dir),
        _ => Err(Errno::NotDir),
    }
}

/// Retries a host call interrupted by a signal.
pub(crate) fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> WasiResult<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(Errno::from),
        }
    }
}
