//! Instances: `wasm_instance_new` and `wasm_instance_exports`.

use crate::error::set_last_error;
use crate::externals::{ext_of, extern_ptr};
use crate::module::{ModuleObj, module_of};
use crate::refs::{RefInner, inner, wasm_ref_t};
use crate::store::{StoreCell, cell_of, wasm_store_t};
use crate::trap::{TrapObj, trap_ptr};
use crate::vec::{CVec, write_out};
use crate::{boxed, guard};
use precast_loader::{Error, Extern, Instance};
use std::rc::Rc;

/// A new handle for `instance` of `store`.
pub(crate) fn instance_ptr(store: &Rc<StoreCell>, instance: Instance) -> *mut wasm_ref_t {
    boxed(wasm_ref_t::new(RefInner::Instance {
        store: store.clone(),
        instance,
    }))
}

/// The store and instance of a C instance handle.
///
/// # Safety
/// `p` is NULL or a live reference object.
pub(crate) unsafe fn instance_of(
    p: *const wasm_ref_t,
) -> Result<(Rc<StoreCell>, Instance), String> {
    // SAFETY: per this function's contract.
    match unsafe { inner(p) } {
        Some(RefInner::Instance { store, instance }) => Ok((store.clone(), *instance)),
        Some(_) => Err("the object is not an instance".into()),
        None => Err("the instance is NULL".into()),
    }
}

/// The externs of a C vector of extern handles.
///
/// # Safety
/// `v` is NULL or a valid vector of NULL or live reference objects.
pub(crate) unsafe fn externs_of(v: *const CVec<*mut wasm_ref_t>) -> Result<Vec<Extern>, String> {
    // SAFETY: per this function's contract.
    let items = match unsafe { v.as_ref() } {
        // SAFETY: a valid vector holds `size` pointers at `data`.
        Some(v) => unsafe { v.as_slice() },
        None => &[],
    };
    items
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            // SAFETY: each element is NULL or a live reference object.
            unsafe { ext_of(p) }
                .map(|(_, e)| e)
                .map_err(|e| format!("import {i}: {e}"))
        })
        .collect()
}

/// Reports a failed instantiation: the thread's last error and, if asked, a trap.
///
/// # Safety
/// `trap` is NULL or writable.
pub(crate) unsafe fn report(e: Error, trap: *mut *mut wasm_ref_t) {
    set_last_error(e.to_string());
    if !trap.is_null() {
        // SAFETY: non-null and writable per this function's contract.
        unsafe { trap.write(trap_ptr(TrapObj::from_error(e))) };
    }
}

/// The body of the instantiating entry points: clears `*trap`, resolves the store, the module
/// and the given imports, lets `resolve` turn the given externs into the module's import
/// list, and instantiates; a failure is reported through `trap` and the last error.
///
/// # Safety
/// As [`wasm_instance_new`]: NULL or live objects, `trap` NULL or writable.
pub(crate) unsafe fn instantiate(
    store: *mut wasm_store_t,
    module: *const wasm_ref_t,
    imports: *const CVec<*mut wasm_ref_t>,
    trap: *mut *mut wasm_ref_t,
    resolve: impl FnOnce(&StoreCell, &ModuleObj, Vec<Extern>) -> Result<Vec<Extern>, Error>,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        if !trap.is_null() {
            // SAFETY: non-null and writable per the header.
            unsafe { trap.write(std::ptr::null_mut()) };
        }
        let r = (|| {
            // SAFETY: NULL or live objects, per the header.
            let cell = unsafe { cell_of(store) }.map_err(Error::Api)?;
            // SAFETY: as above.
            let module = unsafe { module_of(module) }.map_err(Error::Api)?;
            // SAFETY: as above.
            let given = unsafe { externs_of(imports) }.map_err(Error::Api)?;
            let exts = resolve(&cell, module, given)?;
            let instance = cell.with(|s| Instance::new(&mut &mut *s, &module.module, &exts))?;
            Ok::<_, Error>(instance_ptr(&cell, instance))
        })();
        r.unwrap_or_else(|e| {
            // SAFETY: `trap` is NULL or writable per the header.
            unsafe { report(e, trap) };
            std::ptr::null_mut()
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_instance_new(
    store: *mut wasm_store_t,
    module: *const wasm_ref_t,
    imports: *const CVec<*mut wasm_ref_t>,
    trap: *mut *mut wasm_ref_t,
) -> *mut wasm_ref_t {
    // SAFETY: the header's contract is `instantiate`'s; the imports are the module's own.
    unsafe { instantiate(store, module, imports, trap, |_, _, given| Ok(given)) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_instance_exports(
    instance: *const wasm_ref_t,
    out: *mut CVec<*mut wasm_ref_t>,
) {
    guard((), || {
        // SAFETY: NULL or a live instance (borrowed).
        let items = match unsafe { instance_of(instance) } {
            Ok((cell, instance)) => cell
                .with(|s| instance.exports(&s))
                .into_iter()
                .map(|(_, ext)| extern_ptr(&cell, ext))
                .collect(),
            Err(e) => {
                set_last_error(e);
                Vec::new()
            }
        };
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { write_out(out, CVec::from_vec(items)) };
    })
}
