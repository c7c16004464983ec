//! `args_*` and `environ_*`: the program's arguments and environment as NUL-terminated
//! strings in guest memory.

use super::Args;
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

/// Writes `list` as pointers at `ptrs` to NUL-terminated strings packed at `buf`.
fn write_list(mem: &mut GuestMemory<'_>, list: &[Vec<u8>], ptrs: u32, buf: u32) -> WasiResult<()> {
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        let slot = u32::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(4))
            .and_then(|o| ptrs.checked_add(o))
            .ok_or(Errno::Fault)?;
        mem.write_u32(slot, at)?;
        mem.write_bytes(at, s)?;
        let end = u32::try_from(s.len())
            .ok()
            .and_then(|l| at.checked_add(l))
            .ok_or(Errno::Fault)?;
        mem.write_u8(end, 0)?;
        at = end.checked_add(1).ok_or(Errno::Fault)?;
    }
    Ok(())
}

/// Writes the count and the total size (with NULs) of `list`.
fn write_sizes(
    mem: &mut GuestMemory<'_>,
    list: &[Vec<u8>],
    count_ptr: u32,
    size_ptr: u32,
) -> WasiResult<()> {
    let size: usize = list.iter().map(|s| s.len() + 1).sum();
    mem.write_u32(
        count_ptr,
        u32::try_from(list.len()).map_err(|_| Errno::Overflow)?,
    )?;
    mem.write_u32(size_ptr, u32::try_from(size).map_err(|_| Errno::Overflow)?)
}

/// `args_get(argv, argv_buf)`.
pub(crate) fn args_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    write_list(mem, &cx.args, a.u32(0), a.u32(1))
}

/// `args_sizes_get(argc, argv_buf_size)`.
pub(crate) fn args_sizes_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    write_sizes(mem, &cx.args, a.u32(0), a.u32(1))
}

/// `environ_get(environ, environ_buf)`.
pub(crate) fn environ_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    write_list(mem, &cx.env, a.u32(0), a.u32(1))
}

/// `environ_sizes_get(count, buf_size)`.
pub(crate) fn environ_sizes_get(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    write_sizes(mem, &cx.env, a.u32(0), a.u32(1))
}
