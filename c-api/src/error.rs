//! `precast_error_t` and the thread's last error (`precast_last_error`).

use crate::{boxed, guard, to_cstring, unbox};
use std::cell::RefCell;
use std::ffi::{CString, c_char};

/// An error message for C.
pub struct precast_error_t {
    message: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records `message` as the error of the last failed call on this thread.
pub(crate) fn set_last_error(message: impl Into<String>) {
    let message = message.into();
    // `try_with`: during thread teardown the slot may be gone; the message is then dropped.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = Some(message));
}

/// An owned error for C, also recorded as the thread's last error.
pub(crate) fn error_ptr(message: impl Into<String>) -> *mut precast_error_t {
    let message = message.into();
    set_last_error(message.clone());
    boxed(precast_error_t {
        message: to_cstring(&message),
    })
}

/// `Ok` as NULL, `Err` as an owned error.
pub(crate) fn result_ptr(r: Result<(), String>) -> *mut precast_error_t {
    match r {
        Ok(()) => std::ptr::null_mut(),
        Err(e) => error_ptr(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_error_delete(error: *mut precast_error_t) {
    guard((), || {
        // SAFETY: an error handed out by this library, given back by its owner.
        drop(unsafe { unbox(error) });
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_error_message(error: *const precast_error_t) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live error of this library (borrowed for the call).
        match unsafe { error.as_ref() } {
            Some(e) => e.message.as_ptr(),
            None => c"(null error)".as_ptr(),
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn precast_last_error() -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        match LAST_ERROR
            .try_with(|e| e.borrow_mut().take())
            .ok()
            .flatten()
        {
            Some(message) => boxed(precast_error_t {
                message: to_cstring(&message),
            }),
            None => std::ptr::null_mut(),
        }
    })
}
