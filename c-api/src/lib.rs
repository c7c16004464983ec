//! `precast-c-api`: the WebAssembly C API (`include/wasm.h`) and Precast's extensions
//! (`include/precast.h`) over `precast-loader`, built as `libprecast.a` and `libprecast.so`.
//!
//! Every exported function is an `unsafe extern "C" fn` whose contract is the C header's:
//! pointers are NULL or valid for what the header says (borrowed for the call, owned where
//! marked `own`), vectors hold `size` initialized elements at `data`. Within that contract
//! every function is sound: NULL is accepted wherever it could be passed and gives an empty
//! result, and no panic crosses the boundary (each entry point runs under
//! [`std::panic::catch_unwind`], see [`guard`]).
//!
//! Objects: every reference type of the standard (`wasm_func_t`, `wasm_global_t`,
//! `wasm_table_t`, `wasm_memory_t`, `wasm_extern_t`, `wasm_instance_t`, `wasm_module_t`,
//! `wasm_trap_t`, `wasm_foreign_t`, `wasm_ref_t`) is one Rust type, [`refs::wasm_ref_t`], so
//! the standard's casts between them return the same pointer; type objects likewise share
//! [`types::wasm_externtype_t`]. Store-bound references keep their store alive (it is
//! reference counted), so no handle ever points to a freed store.

#![allow(non_camel_case_types)]
// The safety contract of every exported function is the one its C header documents.
#![allow(clippy::missing_safety_doc)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod config;
mod error;
mod externals;
mod func;
mod instance;
mod interrupts;
mod linker;
mod module;
mod refs;
mod store;
mod trap;
mod types;
mod val;
mod vec;
mod wasi;

pub(crate) use error::precast_error_t;

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, returning `fallback` if it panics (the panic is recorded as the thread's last
/// error): nothing unwinds into C.
pub(crate) fn guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    guard_with(|| fallback, f)
}

/// [`guard`] with a fallback made only when needed.
pub(crate) fn guard_with<R>(fallback: impl FnOnce() -> R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            error::set_last_error(format!("internal error in the Precast C API: {what}"));
            fallback()
        }
    }
}

/// Moves `value` to the heap and hands it to C.
pub(crate) fn boxed<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back an object handed to C by [`boxed`].
///
/// # Safety
/// `p` is NULL or a pointer from [`boxed`] of the same type that C has not freed yet.
pub(crate) unsafe fn unbox<T>(p: *mut T) -> Option<Box<T>> {
    if p.is_null() {
        None
    } else {
        // SAFETY: per this function's contract, `p` came from `Box::into_raw` and is owned
        // by the caller, who gives it up here.
        Some(unsafe { Box::from_raw(p) })
    }
}

/// A NUL-terminated UTF-8 string from C.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, String> {
    if p.is_null() {
        return Err(format!("{what} is NULL"));
    }
    // SAFETY: non-null, and NUL-terminated and live per this function's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| format!("{what} is not valid UTF-8: {:?}", s.to_string_lossy()))
}

/// `s` as a C string (an interior NUL, which C could not see past, is shown as `\0`).
pub(crate) fn to_cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}
