//! Registers the preview1 functions in a [`Linker`]: one host function per import, each
//! finding the calling instance's `memory` export and the [`WasiCtx`] in the store data.

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::memory::GuestMemory;
use super::preview1::{Args, Impl, args, clock, fd_io, fd_stat, path_ops, poll, sock};
use precast_loader::{Caller, Error, Extern, FuncType, Linker, MemoryView, Module, Val, ValType};

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

const I: ValType = ValType::I32;
const L: ValType = ValType::I64;

/// Every preview1 function but `proc_exit`: name, parameter types, implementation. Each
/// returns an `errno` (`i32`).
const FUNCS: &[(&str, &[ValType], Impl)] = &[
    ("args_get", &[I, I], args::args_get),
    ("args_sizes_get", &[I, I], args::args_sizes_get),
    ("environ_get", &[I, I], args::environ_get),
    ("environ_sizes_get", &[I, I], args::environ_sizes_get),
    ("clock_res_get", &[I, I], clock::clock_res_get),
    ("clock_time_get", &[I, L, I], clock::clock_time_get),
    ("fd_advise", &[I, L, L, I], fd_io::fd_advise),
    ("fd_allocate", &[I, L, L], fd_io::fd_allocate),
    ("fd_close", &[I], fd_io::fd_close),
    ("fd_datasync", &[I], fd_io::fd_datasync),
    ("fd_fdstat_get", &[I, I], fd_stat::fd_fdstat_get),
    ("fd_fdstat_set_flags", &[I, I], fd_stat::fd_fdstat_set_flags),
    (
        "fd_fdstat_set_rights",
        &[I, L, L],
        fd_stat::fd_fdstat_set_rights,
    ),
    ("fd_filestat_get", &[I, I], fd_stat::fd_filestat_get),
    (
        "fd_filestat_set_size",
        &[I, L],
        fd_stat::fd_filestat_set_size,
    ),
    (
        "fd_filestat_set_times",
        &[I, L, L, I],
        fd_stat::fd_filestat_set_times,
    ),
    ("fd_pread", &[I, I, I, L, I], fd_io::fd_pread),
    ("fd_prestat_get", &[I, I], fd_stat::fd_prestat_get),
    (
        "fd_prestat_dir_name",
        &[I, I, I],
        fd_stat::fd_prestat_dir_name,
    ),
    ("fd_pwrite", &[I, I, I, L, I], fd_io::fd_pwrite),
    ("fd_read", &[I, I, I, I], fd_io::fd_read),
    ("fd_readdir", &[I, I, I, L, I], fd_stat::fd_readdir),
    ("fd_renumber", &[I, I], fd_io::fd_renumber),
    ("fd_seek", &[I, L, I, I], fd_io::fd_seek),
    ("fd_sync", &[I], fd_io::fd_sync),
    ("fd_tell", &[I, I], fd_io::fd_tell),
    ("fd_write", &[I, I, I, I], fd_io::fd_write),
    (
        "path_create_directory",
        &[I, I, I],
        path_ops::path_create_directory,
    ),
    (
        "path_filestat_get",
        &[I, I, I, I, I],
        path_ops::path_filestat_get,
    ),
    (
        "path_filestat_set_times",
        &[I, I, I, I, L, L, I],
        path_ops::path_filestat_set_times,
    ),
    ("path_link", &[I, I, I, I, I, I, I], path_ops::path_link),
    (
        "path_open",
        &[I, I, I, I, I, L, L, I, I],
        path_ops::path_open,
    ),
    (
        "path_readlink",
        &[I, I, I, I, I, I],
        path_ops::path_readlink,
    ),
    (
        "path_remove_directory",
        &[I, I, I],
        path_ops::path_remove_directory,
    ),
    ("path_rename", &[I, I, I, I, I, I], path_ops::path_rename),
    ("path_symlink", &[I, I, I, I, I], path_ops::path_symlink),
    ("path_unlink_file", &[I, I, I], path_ops::path_unlink_file),
    ("poll_oneoff", &[I, I, I, I], poll::poll_oneoff),
    ("proc_raise", &[I], clock::proc_raise),
    ("random_get", &[I, I], clock::random_get),
    ("sched_yield", &[], clock::sched_yield),
    ("sock_accept", &[I, I, I], sock::sock_accept),
    ("sock_recv", &[I, I, I, I, I, I], sock::sock_recv),
    ("sock_send", &[I, I, I, I, I], sock::sock_send),
    ("sock_shutdown", &[I, I], sock::sock_shutdown),
];

/// Runs one preview1 function for `caller`.
fn call<T>(
    caller: &mut Caller<'_, T>,
    get_cx: impl Fn(&mut T) -> &mut WasiCtx,
    f: Impl,
    params: &[Val],
) -> Errno {
    let memory = match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    };
    let (bytes, data): (MemoryView<'_>, &mut T) = match memory {
        Some(m) => m.view_and_store_mut(caller),
        // No memory: every pointer is out of bounds (`fault`).
        None => (MemoryView::Exclusive(&mut []), caller.data_mut()),
    };
    let mut mem = GuestMemory::new(bytes);
    match f(get_cx(data), &mut mem, &Args(params)) {
        Ok(()) => Errno::Success,
        Err(e) => e,
    }
}

/// Defines every `wasi_snapshot_preview1` function in `linker`. `get_cx` finds the
/// [`WasiCtx`] in the store data; for a store whose data *is* the context, pass `|cx| cx`.
///
/// `proc_exit(code)` ends the call with [`Error::Exit`]`(code)`.
pub fn add_to_linker<T, F>(linker: &mut Linker<T>, get_cx: F) -> Result<(), Error>
where
    T: 'static,
    F: Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
{
    for &(name, params, f) in FUNCS {
        let ty = FuncType {
            params: params.to_vec(),
            results: vec![I],
        };
        linker.func_new(MODULE, name, ty, move |mut caller, params, results| {
            let errno = call(&mut caller, get_cx, f, params);
            if let Some(r) = results.first_mut() {
                *r = Val::I32(i32::from(errno as u16));
            }
            Ok(())
        })?;
    }
    let ty = FuncType {
        params: vec![I],
        results: vec![],
    };
    linker.func_new(MODULE, "proc_exit", ty, |_caller, params, _results| {
        let code = match params.first() {
            Some(Val::I32(c)) => *c,
            _ => 0,
        };
        Err(Error::Exit(code))
    })?;
    Ok(())
}

/// Whether a module imports anything from `wasi_snapshot_preview1`.
pub fn imports_wasi(module: &Module) -> bool {
    module.imports().any(|i| i.module == MODULE)
}

/// The names this implementation defines (for tests and diagnostics).
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCS
        .iter()
        .map(|(n, _, _)| *n)
        .chain(std::iter::once("proc_exit"))
}
