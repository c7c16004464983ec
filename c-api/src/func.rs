//! Functions: host functions from C callbacks (`wasm_func_new`, `wasm_func_new_with_env`,
//! and the linker's `precast_linker_define_func`), calls (`wasm_func_call`), types.

use crate::error::set_last_error;
use crate::refs::{RefInner, inner, wasm_ref_t};
use crate::store::{StoreCell, StoreData, cell_of, func_ref, wasm_store_t};
use crate::trap::{TrapObj, trap_ptr};
use crate::types::{valkind, wasm_externtype_t, wasm_functype_t};
use crate::val::{from_vals, to_val, wasm_val_t};
use crate::vec::CVec;
use crate::{boxed, guard, unbox};
use precast_loader::{Caller, Error, Extern, Func, FuncType, Val};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

/// `wasm_func_callback_t`.
pub(crate) type PlainCallback =
    unsafe extern "C" fn(*const CVec<wasm_val_t>, *mut CVec<wasm_val_t>) -> *mut wasm_ref_t;
/// `wasm_func_callback_with_env_t`.
pub(crate) type EnvCallback = unsafe extern "C" fn(
    *mut c_void,
    *const CVec<wasm_val_t>,
    *mut CVec<wasm_val_t>,
) -> *mut wasm_ref_t;
/// A finalizer (`void (*)(void*)`).
pub(crate) type Finalizer = unsafe extern "C" fn(*mut c_void);

/// A C host function: its callback, environment and type.
pub(crate) struct Callback {
    plain: Option<PlainCallback>,
    with_env: Option<EnvCallback>,
    env: *mut c_void,
    finalizer: Option<Finalizer>,
    ty: FuncType,
}

// SAFETY: the callback and environment are the embedder's. The standard requires a store,
// and so the functions made in it, to be used by one thread at a time; the environment is
// only passed to the callback and the finalizer, never dereferenced here.
unsafe impl Send for Callback {}
// SAFETY: as above.
unsafe impl Sync for Callback {}

impl Drop for Callback {
    fn drop(&mut self) {
        if let Some(f) = self.finalizer {
            // SAFETY: the embedder's finalizer, called once with its environment when the
            // last function made from it is gone.
            unsafe { f(self.env) };
        }
    }
}

impl Callback {
    pub fn plain(f: PlainCallback, ty: FuncType) -> Callback {
        Callback {
            plain: Some(f),
            with_env: None,
            env: std::ptr::null_mut(),
            finalizer: None,
            ty,
        }
    }

    pub fn with_env(
        f: EnvCallback,
        env: *mut c_void,
        finalizer: Option<Finalizer>,
        ty: FuncType,
    ) -> Callback {
        Callback {
            plain: None,
            with_env: Some(f),
            env,
            finalizer,
            ty,
        }
    }

    /// Calls the C callback.
    ///
    /// # Safety
    /// `args` and `results` are valid vectors made by this library.
    unsafe fn invoke(
        &self,
        args: *const CVec<wasm_val_t>,
        results: *mut CVec<wasm_val_t>,
    ) -> *mut wasm_ref_t {
        if let Some(f) = self.with_env {
            // SAFETY: the embedder's callback, with the arguments the standard specifies.
            unsafe { f(self.env, args, results) }
        } else if let Some(f) = self.plain {
            // SAFETY: as above.
            unsafe { f(args, results) }
        } else {
            std::ptr::null_mut()
        }
    }
}

/// Runs the C callback `cb` for a call from wasm (or the host) with `params`, writing
/// `results`. While the callback runs, `caller` is the store's access (see
/// [`StoreCell::with`]).
pub(crate) fn host_call(
    cb: &Callback,
    mut caller: Caller<'_, StoreData>,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error> {
    let Some(cell) = caller.data().cell.upgrade() else {
        return Err(Error::Host("the store is being freed".into()));
    };
    let args = from_vals(&cell, params).map_err(Error::Host)?;
    let mut args = CVec::from_vec(args);
    let mut res = CVec::from_vec(
        cb.ty
            .results
            .iter()
            .map(|t| wasm_val_t::zero(valkind(t)))
            .collect(),
    );
    cell.push_caller(&mut caller);
    // Everything that might run C code (the callback, finalizers of references deleted here)
    // runs while the caller is the store's access.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: both vectors were made here and are valid.
        let trap = unsafe { cb.invoke(&args, &mut res) };
        finish_call(&cell, cb, trap, &mut res, results)
    }))
    .unwrap_or_else(|_| Err(Error::Host("the host callback panicked".into())));
    // SAFETY: the arguments were made here and are owned here (the callee only borrowed
    // them); the results vector was made here and owns what the callee wrote into it.
    unsafe {
        args.delete();
        res.delete();
    }
    cell.pop_caller();
    outcome
}

/// The outcome of a callback: its trap as an error, or its results converted.
fn finish_call(
    cell: &Rc<StoreCell>,
    cb: &Callback,
    trap: *mut wasm_ref_t,
    res: &mut CVec<wasm_val_t>,
    results: &mut [Val],
) -> Result<(), Error> {
    // SAFETY: the callback returns NULL or an owned reference (a trap), per the standard.
    if let Some(t) = unsafe { unbox(trap) } {
        return Err(match &t.inner {
            RefInner::Trap(t) => t.to_error(),
            _ => Error::Host("the host callback returned a reference that is not a trap".into()),
        });
    }
    // SAFETY: made here with one value per result, which the callee overwrote in place.
    let items = unsafe { res.as_slice() };
    if items.len() != results.len() {
        return Err(Error::Host(format!(
            "the host callback left {} results, its type has {}",
            items.len(),
            results.len()
        )));
    }
    for ((slot, v), ty) in results.iter_mut().zip(items).zip(&cb.ty.results) {
        // SAFETY: a value written by the callee (or the zero value put there).
        *slot = unsafe { to_val(cell, v, ty) }
            .map_err(|e| Error::Host(format!("host callback result: {e}")))?;
    }
    Ok(())
}

/// Creates a host function in `cell` from `cb`.
fn new_func(cell: &Rc<StoreCell>, cb: Callback) -> Func {
    let ty = cb.ty.clone();
    let cb = std::sync::Arc::new(cb);
    cell.with(|s| {
        Func::new(&mut &mut *s, ty, move |caller, params, results| {
            host_call(&cb, caller, params, results)
        })
    })
}

/// The function type of a C type object.
///
/// # Safety
/// `ty` is NULL or a live type object.
unsafe fn functype_of(ty: *const wasm_functype_t) -> Result<FuncType, String> {
    // SAFETY: per this function's contract.
    match unsafe { ty.as_ref() }.map(|t| t.as_func()) {
        Some(Some(f)) => Ok(f.clone()),
        Some(None) => Err("the type is not a function type".into()),
        None => Err("the function type is NULL".into()),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_new(
    store: *mut wasm_store_t,
    ty: *const wasm_functype_t,
    callback: Option<PlainCallback>,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or live objects, per the header.
        let r = unsafe { cell_of(store) }.and_then(|c| Ok((c, unsafe { functype_of(ty) }?)));
        match (r, callback) {
            (Ok((cell, ty)), Some(cb)) => {
                let f = new_func(&cell, Callback::plain(cb, ty));
                func_ref(&cell, f)
            }
            (Err(e), _) => {
                set_last_error(format!("wasm_func_new: {e}"));
                std::ptr::null_mut()
            }
            (_, None) => {
                set_last_error("wasm_func_new: the callback is NULL");
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_new_with_env(
    store: *mut wasm_store_t,
    ty: *const wasm_functype_t,
    callback: Option<EnvCallback>,
    env: *mut c_void,
    finalizer: Option<Finalizer>,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or live objects, per the header.
        let r = unsafe { cell_of(store) }.and_then(|c| Ok((c, unsafe { functype_of(ty) }?)));
        match (r, callback) {
            (Ok((cell, ty)), Some(cb)) => {
                let f = new_func(&cell, Callback::with_env(cb, env, finalizer, ty));
                func_ref(&cell, f)
            }
            (r, cb) => {
                let why = match (r, cb) {
                    (Err(e), _) => e,
                    _ => "the callback is NULL".into(),
                };
                set_last_error(format!("wasm_func_new_with_env: {why}"));
                // The function was not made: its environment is finalized now.
                if let Some(f) = finalizer {
                    // SAFETY: the embedder's finalizer with its environment, called once.
                    unsafe { f(env) };
                }
                std::ptr::null_mut()
            }
        }
    })
}

/// The store and function of a C function handle.
///
/// # Safety
/// `f` is NULL or a live reference object.
pub(crate) unsafe fn func_of(f: *const wasm_ref_t) -> Result<(Rc<StoreCell>, Func), String> {
    // SAFETY: per this function's contract.
    match unsafe { inner(f) } {
        Some(RefInner::Extern {
            store,
            ext: Extern::Func(f),
        }) => Ok((store.clone(), *f)),
        Some(_) => Err("the object is not a function".into()),
        None => Err("the function is NULL".into()),
    }
}

/// The type of a function handle.
///
/// # Safety
/// `f` is NULL or a live reference object.
unsafe fn type_of(f: *const wasm_ref_t) -> Result<FuncType, String> {
    // SAFETY: per this function's contract.
    let (cell, f) = unsafe { func_of(f) }?;
    cell.with(|s| f.ty(&s)).map_err(|e| e.to_string())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_type(f: *const wasm_ref_t) -> *mut wasm_functype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live function (borrowed).
        match unsafe { type_of(f) } {
            Ok(ty) => boxed(wasm_externtype_t::func(&ty)),
            Err(e) => {
                set_last_error(e);
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_param_arity(f: *const wasm_ref_t) -> usize {
    guard(0, || {
        // SAFETY: NULL or a live function (borrowed).
        unsafe { type_of(f) }.map_or(0, |t| t.params.len())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_result_arity(f: *const wasm_ref_t) -> usize {
    guard(0, || {
        // SAFETY: NULL or a live function (borrowed).
        unsafe { type_of(f) }.map_or(0, |t| t.results.len())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_call(
    f: *const wasm_ref_t,
    args: *const CVec<wasm_val_t>,
    results: *mut CVec<wasm_val_t>,
) -> *mut wasm_ref_t {
    // A panic is reported as a trap (NULL would say the call succeeded).
    crate::guard_with(
        || {
            trap_ptr(TrapObj::with_message(
                "internal error: the call panicked".into(),
            ))
        },
        || {
            // SAFETY: NULL or valid objects and vectors, per the header.
            match unsafe { call(f, args, results) } {
                Ok(()) => std::ptr::null_mut(),
                Err(t) => trap_ptr(*t),
            }
        },
    )
}

/// The body of [`wasm_func_call`].
///
/// # Safety
/// As `wasm_func_call`'s contract.
unsafe fn call(
    f: *const wasm_ref_t,
    args: *const CVec<wasm_val_t>,
    results: *mut CVec<wasm_val_t>,
) -> Result<(), Box<TrapObj>> {
    let api = |m: String| Box::new(TrapObj::with_message(m));
    // SAFETY: per this function's contract.
    let (cell, func) = unsafe { func_of(f) }.map_err(api)?;
    let ty = cell.with(|s| func.ty(&s)).map_err(|e| api(e.to_string()))?;
    // SAFETY: NULL or a valid vector (borrowed).
    let args = match unsafe { args.as_ref() } {
        // SAFETY: a valid vector holds `size` values at `data`.
        Some(a) => unsafe { a.as_slice() },
        None => &[],
    };
    if args.len() != ty.params.len() {
        return Err(api(format!(
            "the function takes {} arguments, but {} were given",
            ty.params.len(),
            args.len()
        )));
    }
    let mut params = Vec::with_capacity(args.len());
    for (i, (v, t)) in args.iter().zip(&ty.params).enumerate() {
        // SAFETY: a valid value of the caller's vector.
        params.push(unsafe { to_val(&cell, v, t) }.map_err(|e| api(format!("argument {i}: {e}")))?);
    }
    // SAFETY: NULL or a valid vector, which we write into (per the header).
    let slots = match unsafe { results.as_mut() } {
        // SAFETY: a valid vector holds `size` values at `data`.
        Some(r) => unsafe { r.as_mut_slice() },
        None => &mut [],
    };
    if slots.len() != ty.results.len() {
        return Err(api(format!(
            "the function returns {} results, but the results vector has {}",
            ty.results.len(),
            slots.len()
        )));
    }
    let mut out: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
    cell.with(|s| func.call(&mut &mut *s, &params, &mut out))
        .map_err(|e| Box::new(TrapObj::from_error(e)))?;
    let vals = from_vals(&cell, &out).map_err(api)?;
    for (slot, v) in slots.iter_mut().zip(vals) {
        *slot = v;
    }
    Ok(())
}
