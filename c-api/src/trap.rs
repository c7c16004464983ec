//! Traps and frames: `wasm_trap_t`, `wasm_frame_t`, and precast.h's trap accessors.
//!
//! A trap is made from any error a call or an instantiation ends with: a wasm trap (with its
//! code and backtrace), a program's exit (`proc_exit`, with its status), a host function's
//! trap, or an embedding error (with its message).

use crate::refs::{RefInner, SharedHostInfo, inner, wasm_ref_t};
use crate::vec::{CVec, declare_vec, message_vec, write_out};
use crate::{boxed, guard, to_cstring, unbox};
use precast_loader::{Error, FrameInfo, Trap, TrapCode};
use std::ffi::{CString, c_char};
use std::sync::Arc;

/// What a `wasm_trap_t` holds.
pub(crate) struct TrapObj {
    message: String,
    message_c: CString,
    display_c: CString,
    code: Option<TrapCode>,
    exit: Option<i32>,
    frames: Vec<FrameInfo>,
    pub host_info: SharedHostInfo,
}

impl TrapObj {
    /// A trap with only a message (`wasm_trap_new`, host errors).
    pub fn with_message(message: String) -> TrapObj {
        TrapObj {
            message_c: to_cstring(&message),
            display_c: to_cstring(&message),
            message,
            code: None,
            exit: None,
            frames: Vec::new(),
            host_info: SharedHostInfo::default(),
        }
    }

    /// The trap standing for `e`.
    pub fn from_error(e: Error) -> TrapObj {
        match e {
            Error::Trap(t) => TrapObj {
                message: t.message().to_string(),
                message_c: to_cstring(t.message()),
                display_c: to_cstring(&t.to_string()),
                code: Some(t.code()),
                exit: None,
                frames: t.backtrace().to_vec(),
                host_info: SharedHostInfo::default(),
            },
            Error::Exit(status) => TrapObj {
                exit: Some(status),
                ..TrapObj::with_message(format!("exited with status {status}"))
            },
            other => TrapObj::with_message(other.to_string()),
        }
    }

    /// The error a host function returns to make wasm trap like this.
    pub fn to_error(&self) -> Error {
        if let Some(code) = self.code {
            Error::Trap(Trap::new(code, self.frames.clone()))
        } else if let Some(status) = self.exit {
            Error::Exit(status)
        } else {
            Error::Host(self.message.clone())
        }
    }
}

/// An owned trap handle for C.
pub(crate) fn trap_ptr(t: TrapObj) -> *mut wasm_ref_t {
    boxed(wasm_ref_t::new(RefInner::Trap(Arc::new(t))))
}

/// The trap behind a C pointer.
///
/// # Safety
/// `p` is NULL or a live reference object of this library.
pub(crate) unsafe fn trap_of<'a>(p: *const wasm_ref_t) -> Option<&'a Arc<TrapObj>> {
    // SAFETY: per this function's contract.
    match unsafe { inner(p) } {
        Some(RefInner::Trap(t)) => Some(t),
        _ => None,
    }
}

/// `wasm_frame_t`.
#[derive(Clone)]
pub struct wasm_frame_t {
    info: FrameInfo,
    func_name: Option<CString>,
    module_name: Option<CString>,
}

impl wasm_frame_t {
    fn new(info: &FrameInfo) -> wasm_frame_t {
        wasm_frame_t {
            func_name: info.func_name.as_deref().map(to_cstring),
            module_name: info.module_name.as_deref().map(to_cstring),
            info: info.clone(),
        }
    }
}

declare_vec!(
    *mut wasm_frame_t,
    wasm_frame_vec_new_empty,
    wasm_frame_vec_new_uninitialized,
    wasm_frame_vec_new,
    wasm_frame_vec_copy,
    wasm_frame_vec_delete
);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_delete(f: *mut wasm_frame_t) {
    guard((), || {
        // SAFETY: NULL or an owned frame, given back by its owner.
        drop(unsafe { unbox(f) });
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_copy(f: *const wasm_frame_t) -> *mut wasm_frame_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live frame (borrowed).
        unsafe { f.as_ref() }.map_or(std::ptr::null_mut(), |f| boxed(f.clone()))
    })
}

/// The instance of a frame is not recorded by the loader's backtraces: always NULL (which
/// the standard's result type, a borrowed pointer, allows).
#[unsafe(no_mangle)]
pub extern "C" fn wasm_frame_instance(_f: *const wasm_frame_t) -> *mut wasm_ref_t {
    std::ptr::null_mut()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_func_index(f: *const wasm_frame_t) -> u32 {
    guard(0, || {
        // SAFETY: NULL or a live frame (borrowed).
        unsafe { f.as_ref() }.map_or(0, |f| f.info.func_index)
    })
}

/// No per-function offsets are recorded: always 0.
#[unsafe(no_mangle)]
pub extern "C" fn wasm_frame_func_offset(_f: *const wasm_frame_t) -> usize {
    0
}

/// The offset of the frame's pc in the module's native code (`.text`), as `precast run`'s
/// backtraces print it (there is no wasm bytecode offset in an ahead-of-time artifact).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_module_offset(f: *const wasm_frame_t) -> usize {
    guard(0, || {
        // SAFETY: NULL or a live frame (borrowed).
        unsafe { f.as_ref() }.map_or(0, |f| f.info.text_offset as usize)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_frame_func_name(f: *const wasm_frame_t) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live frame (borrowed; the result lives as long).
        unsafe { f.as_ref() }
            .and_then(|f| f.func_name.as_ref())
            .map_or(std::ptr::null(), |n| n.as_ptr())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_frame_module_name(f: *const wasm_frame_t) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live frame (borrowed; the result lives as long).
        unsafe { f.as_ref() }
            .and_then(|f| f.module_name.as_ref())
            .map_or(std::ptr::null(), |n| n.as_ptr())
    })
}

// ---------------------------------------------------------------------------------------
// Traps.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_new(
    _store: *mut crate::store::wasm_store_t,
    message: *const crate::vec::wasm_byte_vec_t,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a valid byte vector (borrowed).
        let message = unsafe { message.as_ref() };
        let bytes = match message {
            // SAFETY: a valid vector holds `size` bytes at `data`.
            Some(m) => unsafe { m.as_slice() },
            None => &[],
        };
        // A message includes its terminating NUL; the text is what precedes it.
        let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        trap_ptr(TrapObj::with_message(
            String::from_utf8_lossy(text).into_owned(),
        ))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_message(
    t: *const wasm_ref_t,
    out: *mut crate::vec::wasm_byte_vec_t,
) {
    guard((), || {
        // SAFETY: NULL or a live trap (borrowed).
        let v = unsafe { trap_of(t) }.map_or_else(|| message_vec(""), |t| message_vec(&t.message));
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { write_out(out, v) };
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_origin(t: *const wasm_ref_t) -> *mut wasm_frame_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live trap (borrowed).
        unsafe { trap_of(t) }
            .and_then(|t| t.frames.first())
            .map_or(std::ptr::null_mut(), |f| boxed(wasm_frame_t::new(f)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_trace(t: *const wasm_ref_t, out: *mut CVec<*mut wasm_frame_t>) {
    guard((), || {
        // SAFETY: NULL or a live trap (borrowed).
        let frames = unsafe { trap_of(t) }.map_or_else(Vec::new, |t| {
            t.frames
                .iter()
                .map(|f| boxed(wasm_frame_t::new(f)))
                .collect()
        });
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { write_out(out, CVec::from_vec(frames)) };
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_trap_code(t: *const wasm_ref_t, code: *mut u8) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live trap (borrowed).
        match unsafe { trap_of(t) }.and_then(|t| t.code) {
            Some(c) => {
                if !code.is_null() {
                    // SAFETY: non-null and writable per the header.
                    unsafe { code.write(c as u8) };
                }
                true
            }
            None => false,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_trap_exit_status(
    t: *const wasm_ref_t,
    status: *mut std::ffi::c_int,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live trap (borrowed).
        match unsafe { trap_of(t) }.and_then(|t| t.exit) {
            Some(s) => {
                if !status.is_null() {
                    // SAFETY: non-null and writable per the header.
                    unsafe { status.write(s) };
                }
                true
            }
            None => false,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_trap_message(t: *const wasm_ref_t) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live trap (borrowed; the result lives as long).
        unsafe { trap_of(t) }.map_or(std::ptr::null(), |t| t.message_c.as_ptr())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_trap_display(t: *const wasm_ref_t) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live trap (borrowed; the result lives as long).
        unsafe { trap_of(t) }.map_or(std::ptr::null(), |t| t.display_c.as_ptr())
    })
}
