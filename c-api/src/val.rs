//! `wasm_val_t` and its conversions to and from the loader's [`Val`].
//!
//! Only the union member the kind names is read (C may leave the others uninitialized).
//! A reference value's `ref` is owned by the value. Reference values convert by the type
//! they are converted to: a function reference must be a `wasm_func_t` of the same store
//! (or NULL); an `externref` may be any reference, which the store keeps as long as it lives
//! and hands back (as a new handle to the same object) when wasm returns it. Both reference
//! kinds are accepted for either type, since the standard's `WASM_REF_VAL` and
//! `WASM_INIT_VAL` always say `WASM_EXTERNREF`.

use crate::refs::{RefInner, wasm_ref_t};
use crate::store::{StoreCell, func_ref};
use crate::types::kind;
use crate::vec::{CVec, Elem, declare_vec};
use crate::{boxed, guard, unbox};
use precast_loader::{Extern, RefType, Val, ValType};
use std::rc::Rc;

/// The value union of `wasm_val_t`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union wasm_val_union {
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
    pub ref_: *mut wasm_ref_t,
}

/// `wasm_val_t`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wasm_val_t {
    pub kind: u8,
    pub of: wasm_val_union,
}

impl wasm_val_t {
    /// The zero value of kind `k` (a null reference for reference kinds).
    pub(crate) fn zero(k: u8) -> wasm_val_t {
        wasm_val_t {
            kind: k,
            of: if k >= kind::EXTERNREF {
                wasm_val_union {
                    ref_: std::ptr::null_mut(),
                }
            } else {
                wasm_val_union { i64: 0 }
            },
        }
    }

    /// The reference this value holds (NULL for numbers and null references).
    pub(crate) fn ref_ptr(&self) -> *mut wasm_ref_t {
        if self.kind >= kind::EXTERNREF {
            // SAFETY: a reference kind: `ref_` is the member C initialized.
            unsafe { self.of.ref_ }
        } else {
            std::ptr::null_mut()
        }
    }
}

impl Elem for wasm_val_t {
    fn zero() -> Self {
        wasm_val_t::zero(kind::I32)
    }

    unsafe fn deep_copy(&self) -> Self {
        let r = self.ref_ptr();
        if r.is_null() {
            return *self;
        }
        // SAFETY: a reference value's `ref` is a live reference (the trait's contract).
        let copy = boxed(unsafe { (*r).clone() });
        wasm_val_t {
            kind: self.kind,
            of: wasm_val_union { ref_: copy },
        }
    }

    unsafe fn release(self) {
        // SAFETY: a reference value owns its `ref` (the trait's contract).
        drop(unsafe { unbox(self.ref_ptr()) });
    }
}

declare_vec!(
    wasm_val_t,
    wasm_val_vec_new_empty,
    wasm_val_vec_new_uninitialized,
    wasm_val_vec_new,
    wasm_val_vec_copy,
    wasm_val_vec_delete
);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_val_delete(v: *mut wasm_val_t) {
    guard((), || {
        // SAFETY: NULL or a valid value that owns its reference.
        if let Some(v) = unsafe { v.as_mut() } {
            // SAFETY: as above; the reference is not used again (the value is reset).
            unsafe { v.release() };
            *v = wasm_val_t::zero(v.kind);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_val_copy(out: *mut wasm_val_t, v: *const wasm_val_t) {
    guard((), || {
        // SAFETY: NULL or a valid value (borrowed).
        let Some(v) = (unsafe { v.as_ref() }) else {
            return;
        };
        if !out.is_null() {
            // SAFETY: `v` is valid; `out` is writable per the header.
            unsafe { out.write(v.deep_copy()) };
        }
    })
}

/// A reference (or NULL) as a value of reference type `ty` in `store`.
///
/// # Safety
/// `r` is NULL or a live reference object.
pub(crate) unsafe fn ref_to_val(
    store: &Rc<StoreCell>,
    r: *const wasm_ref_t,
    ty: &RefType,
) -> Result<Val, String> {
    // SAFETY: per this function's contract.
    let r = unsafe { r.as_ref() }.map(|r| &r.inner);
    if ty.is_func() {
        return match r {
            None => Ok(Val::FuncRef(None)),
            Some(RefInner::Extern {
                store: s,
                ext: Extern::Func(f),
            }) => {
                if Rc::ptr_eq(s, store) {
                    Ok(Val::FuncRef(Some(*f)))
                } else {
                    Err("a function of another store cannot be used here".into())
                }
            }
            Some(_) => Err("a function reference must be a wasm_func_t".into()),
        };
    }
    match r {
        None => Ok(Val::ExternRef(None)),
        Some(r) => Ok(Val::ExternRef(Some(store.externref_id(r)?))),
    }
}

/// A C value as a value of type `ty` in `store`.
///
/// # Safety
/// `v` is a valid value (its reference, if any, live).
pub(crate) unsafe fn to_val(
    store: &Rc<StoreCell>,
    v: &wasm_val_t,
    ty: &ValType,
) -> Result<Val, String> {
    let mismatch = || {
        Err(format!(
            "a value of kind {} where {ty} is expected",
            kind_name(v.kind)
        ))
    };
    Ok(match (ty, v.kind) {
        (ValType::I32, kind::I32) => {
            // SAFETY: the member read is the one the kind names.
            Val::I32(unsafe { v.of.i32 })
        }
        (ValType::I64, kind::I64) => {
            // SAFETY: the member read is the one the kind names.
            Val::I64(unsafe { v.of.i64 })
        }
        (ValType::F32, kind::F32) => {
            // SAFETY: the kind names `f32`, whose 4 bytes C wrote; reading them as `i32`
            // keeps every bit (NaN payloads included).
            Val::F32(unsafe { v.of.i32 } as u32)
        }
        (ValType::F64, kind::F64) => {
            // SAFETY: the kind names `f64`, whose 8 bytes C wrote; reading them as `i64`
            // keeps every bit (NaN payloads included).
            Val::F64(unsafe { v.of.i64 } as u64)
        }
        (ValType::Ref(r), kind::EXTERNREF | kind::FUNCREF) => {
            // SAFETY: a reference kind: `ref_` is the member C initialized, NULL or live.
            let val = unsafe { ref_to_val(store, v.of.ref_, r) }?;
            if !val.matches(ty) {
                return Err(format!("a null reference where {ty} is expected"));
            }
            val
        }
        (ValType::V128, _) => {
            return Err("v128 values cannot be passed through the C API".into());
        }
        _ => return mismatch(),
    })
}

/// A new handle for the reference value `v` (NULL for null).
pub(crate) fn val_to_ref(store: &Rc<StoreCell>, v: &Val) -> *mut wasm_ref_t {
    match v {
        Val::FuncRef(Some(f)) => func_ref(store, *f),
        Val::ExternRef(Some(id)) => match store.externref(*id) {
            Some(r) => boxed(wasm_ref_t::new(r)),
            None => std::ptr::null_mut(),
        },
        _ => std::ptr::null_mut(),
    }
}

/// A loader value as an owned C value.
pub(crate) fn from_val(store: &Rc<StoreCell>, v: &Val) -> Result<wasm_val_t, String> {
    Ok(match v {
        Val::I32(x) => wasm_val_t {
            kind: kind::I32,
            of: wasm_val_union { i32: *x },
        },
        Val::I64(x) => wasm_val_t {
            kind: kind::I64,
            of: wasm_val_union { i64: *x },
        },
        Val::F32(bits) => wasm_val_t {
            kind: kind::F32,
            // The bits as they are (a float move could quiet a signaling NaN).
            of: wasm_val_union { i32: *bits as i32 },
        },
        Val::F64(bits) => wasm_val_t {
            kind: kind::F64,
            of: wasm_val_union { i64: *bits as i64 },
        },
        Val::FuncRef(_) => wasm_val_t {
            kind: kind::FUNCREF,
            of: wasm_val_union {
                ref_: val_to_ref(store, v),
            },
        },
        Val::ExternRef(_) => wasm_val_t {
            kind: kind::EXTERNREF,
            of: wasm_val_union {
                ref_: val_to_ref(store, v),
            },
        },
        Val::V128(_) => return Err("v128 values cannot be passed through the C API".into()),
    })
}

/// Owned C values for `vals` (none if one cannot be converted).
pub(crate) fn from_vals(store: &Rc<StoreCell>, vals: &[Val]) -> Result<Vec<wasm_val_t>, String> {
    let mut out = Vec::with_capacity(vals.len());
    for v in vals {
        match from_val(store, v) {
            Ok(c) => out.push(c),
            Err(e) => {
                let mut done = CVec::from_vec(out);
                // SAFETY: the values made so far, owned here and not handed out.
                unsafe { done.delete() };
                return Err(e);
            }
        }
    }
    Ok(out)
}

fn kind_name(k: u8) -> String {
    match k {
        kind::I32 => "i32".into(),
        kind::I64 => "i64".into(),
        kind::F32 => "f32".into(),
        kind::F64 => "f64".into(),
        kind::V128 => "v128".into(),
        kind::EXTERNREF => "externref".into(),
        kind::FUNCREF => "funcref".into(),
        other => format!("{other} (not a value kind)"),
    }
}
