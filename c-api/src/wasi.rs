//! precast.h's WASI preview1: `precast_wasi_config_t`, a store's WASI context, and
//! instantiation with WASI imports resolved.

use crate::error::{result_ptr, set_last_error};
use crate::instance::instantiate;
use crate::refs::wasm_ref_t;
use crate::store::{StoreCell, StoreData, cell_of, wasm_store_t};
use crate::vec::{CVec, byte_vec, wasm_byte_vec_t, write_out};
use crate::{boxed, c_str, guard, precast_error_t, unbox};
use precast_loader::{Error, LinkError, Linker};
use precast_wasi::{self as wasi, OutputBuffer, WasiCtx, WasiCtxBuilder};
use std::ffi::c_char;

/// `precast_wasi_config_t`.
#[derive(Default)]
pub struct precast_wasi_config_t {
    builder: WasiCtxBuilder,
    stdout: Option<OutputBuffer>,
    stderr: Option<OutputBuffer>,
}

/// Where host WASI functions find their context in the store data (an empty context is
/// made if the store was given none).
pub(crate) fn wasi_cx(data: &mut StoreData) -> &mut WasiCtx {
    data.wasi
        .get_or_insert_with(|| WasiCtxBuilder::new().build())
}

/// A linker with every WASI function.
pub(crate) fn wasi_linker(cell: &StoreCell) -> Result<&Linker<StoreData>, Error> {
    if cell.wasi_linker.get().is_none() {
        let mut linker = Linker::new(&cell.engine.engine);
        wasi::add_to_linker(&mut linker, wasi_cx)?;
        let _ = cell.wasi_linker.set(linker);
    }
    cell.wasi_linker
        .get()
        .ok_or_else(|| Error::Api("no WASI linker".into()))
}

/// Runs `f` on a config handle.
///
/// # Safety
/// `c` is NULL or a live config, not otherwise accessed meanwhile.
unsafe fn with_config(c: *mut precast_wasi_config_t, f: impl FnOnce(&mut precast_wasi_config_t)) {
    guard((), || {
        // SAFETY: per this function's contract.
        match unsafe { c.as_mut() } {
            Some(c) => f(c),
            None => set_last_error("the WASI config is NULL"),
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn precast_wasi_config_new() -> *mut precast_wasi_config_t {
    guard(std::ptr::null_mut(), || {
        boxed(precast_wasi_config_t::default())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_delete(c: *mut precast_wasi_config_t) {
    guard((), || {
        // SAFETY: NULL or an owned config, given back by its owner.
        drop(unsafe { unbox(c) });
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_push_arg(
    c: *mut precast_wasi_config_t,
    arg: *const c_char,
) {
    let f = |c: &mut precast_wasi_config_t| {
        // SAFETY: NULL or a NUL-terminated string, per the header.
        match unsafe { c_str(arg, "the argument") } {
            Ok(a) => {
                c.builder.arg(a);
            }
            Err(e) => set_last_error(e),
        }
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_inherit_argv(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        c.builder.inherit_args();
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_push_env(
    c: *mut precast_wasi_config_t,
    key: *const c_char,
    value: *const c_char,
) {
    let f = |c: &mut precast_wasi_config_t| {
        // SAFETY: NULL or NUL-terminated strings, per the header.
        let kv = unsafe { (c_str(key, "the key"), c_str(value, "the value")) };
        match kv {
            (Ok(k), Ok(v)) => {
                c.builder.env(k, v);
            }
            (Err(e), _) | (_, Err(e)) => set_last_error(e),
        }
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_inherit_env(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        c.builder.inherit_env();
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_set_stdin_bytes(
    c: *mut precast_wasi_config_t,
    bytes: *const wasm_byte_vec_t,
) {
    let f = |c: &mut precast_wasi_config_t| {
        // SAFETY: NULL or a valid byte vector (borrowed).
        let bytes = unsafe { bytes.as_ref() };
        let data = match bytes {
            // SAFETY: a valid vector holds `size` bytes at `data`.
            Some(b) => unsafe { b.as_slice() }.to_vec(),
            None => Vec::new(),
        };
        c.builder.stdin_bytes(data);
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_inherit_stdin(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        c.builder.inherit_stdin();
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_inherit_stdout(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        c.builder.inherit_stdout();
        c.stdout = None;
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_inherit_stderr(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        c.builder.inherit_stderr();
        c.stderr = None;
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_inherit_stdio(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        c.builder.inherit_stdio();
        c.stdout = None;
        c.stderr = None;
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_capture_stdout(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        let b = OutputBuffer::new();
        c.builder.stdout(b.clone());
        c.stdout = Some(b);
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_capture_stderr(c: *mut precast_wasi_config_t) {
    let f = |c: &mut precast_wasi_config_t| {
        let b = OutputBuffer::new();
        c.builder.stderr(b.clone());
        c.stderr = Some(b);
    };
    // SAFETY: NULL or a live config, per the header.
    unsafe { with_config(c, f) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_wasi_config_preopen_dir(
    c: *mut precast_wasi_config_t,
    host_path: *const c_char,
    guest_path: *const c_char,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live config, per the header.
            let c = unsafe { c.as_mut() }.ok_or("the WASI config is NULL")?;
            // SAFETY: NULL or NUL-terminated strings, per the header.
            let host = unsafe { c_str(host_path, "the host path") }?;
            // SAFETY: as above.
            let guest = unsafe { c_str(guest_path, "the guest path") }?;
            c.builder
                .preopened_dir(host, guest)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })();
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_store_set_wasi(
    store: *mut wasm_store_t,
    config: *mut precast_wasi_config_t,
) {
    guard((), || {
        // SAFETY: an owned config (or NULL), whose ownership passes to us.
        let config = unsafe { unbox(config) };
        // SAFETY: NULL or a live store (borrowed).
        let cell = unsafe { cell_of(store) };
        match (cell, config) {
            (Ok(cell), Some(mut config)) => {
                let ctx = config.builder.build();
                cell.with_data(|d| d.wasi = Some(ctx));
                *cell.wasi_output.borrow_mut() = (config.stdout.take(), config.stderr.take());
            }
            (Err(e), _) => set_last_error(format!("precast_store_set_wasi: {e}")),
            (_, None) => set_last_error("precast_store_set_wasi: the config is NULL"),
        }
    })
}

/// Writes what a captured stream holds so far.
///
/// # Safety
/// `store` is NULL or live; `out` is NULL or writable.
unsafe fn captured(store: *const wasm_store_t, out: *mut wasm_byte_vec_t, stderr: bool) {
    guard((), || {
        // SAFETY: per this function's contract.
        let bytes = match unsafe { cell_of(store) } {
            Ok(cell) => {
                let out = cell.wasi_output.borrow();
                let buf = if stderr { &out.1 } else { &out.0 };
                buf.as_ref().map(|b| b.contents()).unwrap_or_default()
            }
            Err(_) => Vec::new(),
        };
        // SAFETY: per this function's contract.
        unsafe { write_out(out, byte_vec(&bytes)) };
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_store_wasi_stdout(
    store: *const wasm_store_t,
    out: *mut wasm_byte_vec_t,
) {
    // SAFETY: the header's contract is `captured`'s.
    unsafe { captured(store, out, false) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_store_wasi_stderr(
    store: *const wasm_store_t,
    out: *mut wasm_byte_vec_t,
) {
    // SAFETY: the header's contract is `captured`'s.
    unsafe { captured(store, out, true) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_instance_new_with_wasi(
    store: *mut wasm_store_t,
    module: *const wasm_ref_t,
    imports: *const CVec<*mut wasm_ref_t>,
    trap: *mut *mut wasm_ref_t,
) -> *mut wasm_ref_t {
    // SAFETY: the header's contract is `instantiate`'s.
    unsafe {
        instantiate(store, module, imports, trap, |cell, module, given| {
            let linker = wasi_linker(cell)?;
            let mut given = given.into_iter();
            let mut exts = Vec::new();
            for imp in module.module.imports() {
                let ext = if imp.module == wasi::MODULE {
                    cell.with_store(|s| linker.get(s, imp.module, imp.name))
                        .map_err(Error::Api)?
                } else {
                    given.next()
                };
                exts.push(ext.ok_or_else(|| LinkError::UnknownImport {
                    module: imp.module.to_string(),
                    name: imp.name.to_string(),
                })?);
            }
            if given.next().is_some() {
                return Err(Error::Api(
                    "more imports were given than the module has non-WASI imports".into(),
                ));
            }
            Ok(exts)
        })
    }
}
