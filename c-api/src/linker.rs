//! precast.h's `precast_linker_t`: name-based import resolution over the loader's
//! `Linker`.

use crate::error::{error_ptr, result_ptr};
use crate::externals::{ext_of, extern_ptr};
use crate::func::{Callback, EnvCallback, Finalizer, host_call};
use crate::instance::{instance_of, instance_ptr};
use crate::module::module_of;
use crate::refs::wasm_ref_t;
use crate::store::{StoreData, cell_of, wasm_engine_t, wasm_store_t};
use crate::trap::{TrapObj, trap_ptr};
use crate::types::wasm_functype_t;
use crate::wasi::wasi_cx;
use crate::{boxed, c_str, guard, precast_error_t, unbox};
use precast_loader::{Error, Linker};
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// `precast_linker_t`.
pub struct precast_linker_t {
    linker: Linker<StoreData>,
}

/// The linker behind a C pointer.
///
/// # Safety
/// `l` is NULL or a live linker, not otherwise accessed meanwhile.
unsafe fn linker<'a>(l: *mut precast_linker_t) -> Result<&'a mut Linker<StoreData>, String> {
    // SAFETY: per this function's contract.
    unsafe { l.as_mut() }
        .map(|l| &mut l.linker)
        .ok_or_else(|| "the linker is NULL".into())
}

/// A module and field name.
///
/// # Safety
/// Both are NULL or NUL-terminated strings.
unsafe fn names<'a>(
    module: *const c_char,
    name: *const c_char,
) -> Result<(&'a str, &'a str), String> {
    // SAFETY: per this function's contract.
    Ok(unsafe { (c_str(module, "the module name")?, c_str(name, "the name")?) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_new(engine: *mut wasm_engine_t) -> *mut precast_linker_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live engine (borrowed).
        match unsafe { engine.as_ref() } {
            Some(e) => boxed(precast_linker_t {
                linker: Linker::new(&e.inner.engine),
            }),
            None => {
                crate::error::set_last_error("precast_linker_new: the engine is NULL");
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_delete(l: *mut precast_linker_t) {
    guard((), || {
        // SAFETY: NULL or an owned linker, given back by its owner.
        drop(unsafe { unbox(l) });
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_allow_shadowing(l: *mut precast_linker_t, allow: bool) {
    guard((), || {
        // SAFETY: NULL or a live linker, per the header.
        if let Ok(l) = unsafe { linker(l) } {
            l.allow_shadowing(allow);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_define(
    l: *mut precast_linker_t,
    store: *mut wasm_store_t,
    module: *const c_char,
    name: *const c_char,
    ext: *const wasm_ref_t,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects and strings, per the header.
            let l = unsafe { linker(l) }?;
            // SAFETY: as above.
            let cell = unsafe { cell_of(store) }?;
            // SAFETY: as above.
            let (m, n) = unsafe { names(module, name) }?;
            // SAFETY: as above.
            let (_, ext) = unsafe { ext_of(ext) }?;
            cell.with(|s| l.define(&*s, m, n, ext).map(|_| ()))
                .map_err(|e| e.to_string())
        })();
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_define_func(
    l: *mut precast_linker_t,
    module: *const c_char,
    name: *const c_char,
    ty: *const wasm_functype_t,
    callback: Option<EnvCallback>,
    env: *mut c_void,
    finalizer: Option<Finalizer>,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects and strings, per the header.
            let l = unsafe { linker(l) }?;
            // SAFETY: as above.
            let (m, n) = unsafe { names(module, name) }?;
            // SAFETY: as above.
            let ty = unsafe { ty.as_ref() }
                .and_then(|t| t.as_func())
                .ok_or("the type is NULL or not a function type")?
                .clone();
            let callback = callback.ok_or("the callback is NULL")?;
            Ok::<_, String>((l, m, n, ty, callback))
        })();
        match r {
            Ok::<_, String>((l, m, n, ty, callback)) => {
                let cb = Arc::new(Callback::with_env(callback, env, finalizer, ty.clone()));
                let r = l.func_new(m, n, ty, move |caller, params, results| {
                    host_call(&cb, caller, params, results)
                });
                result_ptr(r.map(|_| ()).map_err(|e| e.to_string()))
            }
            Err(e) => {
                if let Some(f) = finalizer {
                    // SAFETY: the function was not defined: its environment is finalized
                    // now, once, with the embedder's finalizer.
                    unsafe { f(env) };
                }
                error_ptr(e)
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_define_wasi(
    l: *mut precast_linker_t,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live linker, per the header.
        let r = unsafe { linker(l) }
            .and_then(|l| precast_wasi::add_to_linker(l, wasi_cx).map_err(|e| e.to_string()));
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_define_instance(
    l: *mut precast_linker_t,
    store: *mut wasm_store_t,
    name: *const c_char,
    instance: *const wasm_ref_t,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects and strings, per the header.
            let l = unsafe { linker(l) }?;
            // SAFETY: as above.
            let cell = unsafe { cell_of(store) }?;
            // SAFETY: as above.
            let name = unsafe { c_str(name, "the name") }?;
            // SAFETY: as above.
            let (_, instance) = unsafe { instance_of(instance) }?;
            cell.with_store(|s| l.instance(s, name, &instance).map(|_| ()))?
                .map_err(|e| e.to_string())
        })();
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_define_unknown_imports_as_default_values(
    l: *mut precast_linker_t,
    module: *const wasm_ref_t,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects, per the header.
            let l = unsafe { linker(l) }?;
            // SAFETY: as above.
            let module = unsafe { module_of(module) }?;
            l.define_unknown_imports_as_default_values(&module.module)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })();
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_instantiate(
    l: *const precast_linker_t,
    store: *mut wasm_store_t,
    module: *const wasm_ref_t,
    instance: *mut *mut wasm_ref_t,
    trap: *mut *mut wasm_ref_t,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        for out in [instance, trap] {
            if !out.is_null() {
                // SAFETY: non-null and writable per the header.
                unsafe { out.write(std::ptr::null_mut()) };
            }
        }
        let r = (|| {
            // SAFETY: NULL or live objects, per the header.
            let l = unsafe { l.as_ref() }.ok_or("the linker is NULL")?;
            // SAFETY: as above.
            let cell = unsafe { cell_of(store) }?;
            // SAFETY: as above.
            let module = unsafe { module_of(module) }?;
            let r = cell.with_store(|s| l.linker.instantiate(s, &module.module))?;
            Ok::<_, String>((cell, r))
        })();
        match r {
            Ok((cell, Ok(inst))) => {
                let p = instance_ptr(&cell, inst);
                if instance.is_null() {
                    // SAFETY: a handle made here that nobody else has.
                    drop(unsafe { unbox(p) });
                } else {
                    // SAFETY: non-null and writable per the header.
                    unsafe { instance.write(p) };
                }
                std::ptr::null_mut()
            }
            // What running the start function ended with: a trap.
            Ok((_, Err(e @ (Error::Trap(_) | Error::Exit(_) | Error::Host(_))))) => {
                crate::error::set_last_error(e.to_string());
                if !trap.is_null() {
                    // SAFETY: non-null and writable per the header.
                    unsafe { trap.write(trap_ptr(TrapObj::from_error(e))) };
                }
                std::ptr::null_mut()
            }
            Ok((_, Err(e))) => error_ptr(e.to_string()),
            Err(e) => error_ptr(e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_linker_get(
    l: *const precast_linker_t,
    store: *mut wasm_store_t,
    module: *const c_char,
    name: *const c_char,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects and strings, per the header.
            let l = unsafe { l.as_ref() }.ok_or("the linker is NULL")?;
            // SAFETY: as above.
            let cell = unsafe { cell_of(store) }?;
            // SAFETY: as above.
            let (m, n) = unsafe { names(module, name) }?;
            let ext = cell
                .with_store(|s| l.linker.get(s, m, n))?
                .ok_or_else(|| format!("`{m}::{n}` is not defined in the linker"))?;
            Ok::<_, String>(extern_ptr(&cell, ext))
        })();
        r.unwrap_or_else(|e| {
            crate::error::set_last_error(e);
            std::ptr::null_mut()
        })
    })
}
