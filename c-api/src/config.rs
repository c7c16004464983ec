//! precast.h's engine settings on `wasm_config_t`: verification level, trusted keys,
//! required signatures, stack size, Spectre mitigations, signal handlers, epoch interruption
//! and fuel.

use crate::error::{result_ptr, set_last_error};
use crate::store::{Verification, wasm_config_t};
use crate::{c_str, guard, precast_error_t};
use precast_loader::{Profiler, TrustedKey};
use std::ffi::c_char;

/// The config behind a C pointer.
///
/// # Safety
/// `c` is NULL or a live config, not otherwise accessed during `'a`.
unsafe fn config<'a>(c: *mut wasm_config_t) -> Result<&'a mut wasm_config_t, String> {
    // SAFETY: per this function's contract.
    unsafe { c.as_mut() }.ok_or_else(|| "the config is NULL".into())
}

/// Applies `set` to the config `c` points at (NULL or live, per the header), recording a
/// failure as the last error under the name of the C function `what`.
unsafe fn set_setting(
    what: &str,
    c: *mut wasm_config_t,
    set: impl FnOnce(&mut wasm_config_t) -> Result<(), String>,
) {
    guard((), || {
        // SAFETY: per this function's contract.
        if let Err(e) = unsafe { config(c) }.and_then(set) {
            set_last_error(format!("{what}: {e}"));
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_verification(c: *mut wasm_config_t, level: u8) {
    // SAFETY: NULL or a live config, per the header.
    unsafe {
        set_setting("precast_config_set_verification", c, |c| {
            c.verification = match level {
                0 => Verification::Full,
                1 => Verification::Fast,
                2 => Verification::Unchecked,
                other => return Err(format!("{other} is not a verification level")),
            };
            Ok(())
        })
    }
}

fn trust(c: &mut wasm_config_t, pem: &str) -> Result<(), String> {
    let key = TrustedKey::from_pem(pem)?;
    c.config.trust(key);
    c.require_signatures = true;
    Ok(())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_trust_key_pem(
    c: *mut wasm_config_t,
    pem: *const c_char,
    len: usize,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live config, per the header.
            let c = unsafe { config(c) }?;
            if pem.is_null() {
                return Err("the PEM is NULL".to_string());
            }
            // SAFETY: `pem` holds `len` bytes, per the header.
            let bytes = unsafe { std::slice::from_raw_parts(pem.cast::<u8>(), len) };
            let text = std::str::from_utf8(bytes).map_err(|_| "the PEM is not UTF-8")?;
            trust(c, text)
        })();
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_trust_key_file(
    c: *mut wasm_config_t,
    path: *const c_char,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live config, per the header.
            let c = unsafe { config(c) }?;
            // SAFETY: NULL or a NUL-terminated string, per the header.
            let path = unsafe { c_str(path, "the path") }?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the key `{path}`: {e}"))?;
            trust(c, &text).map_err(|e| format!("`{path}`: {e}"))
        })();
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_require_signatures(c: *mut wasm_config_t, require: bool) {
    guard((), || {
        // SAFETY: NULL or a live config, per the header.
        if let Ok(c) = unsafe { config(c) } {
            // With trusted keys, the loader requires signatures whatever this says.
            c.require_signatures = require || !c.config.trusted_keys.is_empty();
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_max_wasm_stack(c: *mut wasm_config_t, bytes: usize) {
    guard((), || {
        // SAFETY: NULL or a live config, per the header.
        if let Ok(c) = unsafe { config(c) } {
            c.config.max_wasm_stack(bytes);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_memory64_reservation(
    c: *mut wasm_config_t,
    bytes: u64,
) {
    guard((), || {
        // SAFETY: NULL or a live config, per the header.
        if let Ok(c) = unsafe { config(c) } {
            c.config.memory64_reservation(bytes);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_require_spectre_mitigations(
    c: *mut wasm_config_t,
    require: bool,
) {
    guard((), || {
        // SAFETY: NULL or a live config, per the header.
        if let Ok(c) = unsafe { config(c) } {
            c.config.require_spectre_mitigations = require;
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_signal_handlers(c: *mut wasm_config_t, install: bool) {
    guard((), || {
        // SAFETY: NULL or a live config, per the header.
        if let Ok(c) = unsafe { config(c) } {
            c.config.signal_handlers(install);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_epoch_interruption(
    c: *mut wasm_config_t,
    enable: bool,
) {
    guard((), || {
        // SAFETY: NULL or a live config, per the header.
        if let Ok(c) = unsafe { config(c) } {
            c.config.epoch_interruption(enable);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_consume_fuel(c: *mut wasm_config_t, enable: bool) {
    guard((), || {
        // SAFETY: NULL or a live config, per the header.
        if let Ok(c) = unsafe { config(c) } {
            c.config.consume_fuel(enable);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_debugger(c: *mut wasm_config_t, on: bool) {
    // SAFETY: NULL or a live config, per the header.
    unsafe {
        set_setting("precast_config_set_debugger", c, |c| {
            c.config.debugger(on);
            Ok(())
        })
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_config_set_profiler(c: *mut wasm_config_t, profiler: u8) {
    // SAFETY: NULL or a live config, per the header.
    unsafe {
        set_setting("precast_config_set_profiler", c, |c| {
            c.config.profiler(match profiler {
                0 => Profiler::None,
                1 => Profiler::PerfMap,
                2 => Profiler::JitDump,
                other => return Err(format!("{other} is not a profiler")),
            });
            Ok(())
        })
    }
}
