//! [`Val`]: wasm values at the embedding API, and their conversion to and from the 16-byte
//! slots of the runtime ABI.

use crate::api::func::Func;
use crate::api::store::StoreOpaque;
use crate::prelude::*;
use crate::runtime::error::{Error, api};
use precast_format::module::{HeapType, RefType, ValType};

/// A raw 16-byte value slot (see `precast_format::abi`).
pub(crate) type RawVal = [u8; 16];

/// A wasm value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits.
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `v128`.
    V128(u128),
    /// A function reference (`None` is null).
    FuncRef(Option<Func>),
    /// An extern reference holding a host value (`None` is null).
    ExternRef(Option<u64>),
}

impl Val {
    /// The default (zero or null) value of `ty`.
    pub fn default_for(ty: &ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(r) if r.is_func() => Val::FuncRef(None),
            ValType::Ref(_) => Val::ExternRef(None),
        }
    }

    /// The value's type (references: the nullable abstract type of their hierarchy).
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::Ref(RefType::FUNCREF),
            Val::ExternRef(_) => ValType::Ref(RefType::EXTERNREF),
        }
    }

    /// Whether this value is of type `ty` (references: null needs a nullable type; function
    /// and extern references need a heap type of their hierarchy).
    pub fn matches(&self, ty: &ValType) -> bool {
        match (self, ty) {
            (Val::I32(_), ValType::I32)
            | (Val::I64(_), ValType::I64)
            | (Val::F32(_), ValType::F32)
            | (Val::F64(_), ValType::F64)
            | (Val::V128(_), ValType::V128) => true,
            (Val::FuncRef(f), ValType::Ref(r)) => {
                r.is_func()
                    && (if f.is_none() {
                        r.nullable
                    } else {
                        r.heap != HeapType::NoFunc
                    })
            }
            (Val::ExternRef(e), ValType::Ref(r)) => {
                matches!(r.heap, HeapType::Extern | HeapType::NoExtern)
                    && (if e.is_none() {
                        r.nullable
                    } else {
                        r.heap == HeapType::Extern
                    })
            }
            _ => false,
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The `f32` value, if this is one.
    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(v) => Some(f32::from_bits(*v)),
            _ => None,
        }
    }

    /// The `f64` value, if this is one.
    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

/// A raw slot holding `v` in its low bytes.
pub(crate) fn raw_from_u128(v: u128) -> RawVal {
    v.to_le_bytes()
}

/// The whole slot as an integer.
pub(crate) fn raw_to_u128(raw: &RawVal) -> u128 {
    u128::from_le_bytes(*raw)
}

/// Converts `v` to the raw reference representation (`0` for null). Host functions without
/// code yet get an exit trampoline from the store.
pub(crate) fn ref_to_raw(store: &mut StoreOpaque, v: &Val) -> Result<usize, Error> {
    match v {
        Val::FuncRef(None) | Val::ExternRef(None) => Ok(0),
        Val::FuncRef(Some(f)) => {
            store.check(f.store)?;
            f.ensure_callable_from_wasm(store, None)?;
            Ok(f.as_raw())
        }
        Val::ExternRef(Some(x)) => Ok(store.extern_to_raw(*x)),
        _ => api("expected a reference value"),
    }
}

/// Converts `v` (already checked against its type) to a raw slot.
pub(crate) fn val_to_raw(store: &mut StoreOpaque, v: &Val) -> Result<RawVal, Error> {
    Ok(match v {
        Val::I32(x) => raw_from_u128(u128::from(*x as u32)),
        Val::I64(x) => raw_from_u128(u128::from(*x as u64)),
        Val::F32(x) => raw_from_u128(u128::from(*x)),
        Val::F64(x) => raw_from_u128(u128::from(*x)),
        Val::V128(x) => raw_from_u128(*x),
        Val::FuncRef(_) | Val::ExternRef(_) => raw_from_u128(ref_to_raw(store, v)? as u128),
    })
}

/// Converts a raw reference of type `ty` to a value.
pub(crate) fn raw_to_ref(store: &StoreOpaque, raw: usize, ty: &RefType) -> Val {
    if ty.is_func() {
        Val::FuncRef(Func::from_raw(store, raw))
    } else {
        Val::ExternRef(store.extern_from_raw(raw))
    }
}

/// Converts a raw slot of type `ty` to a value.
pub(crate) fn raw_to_val(store: &StoreOpaque, raw: &RawVal, ty: &ValType) -> Val {
    let bits = raw_to_u128(raw);
    match ty {
        ValType::I32 => Val::I32(bits as u32 as i32),
        ValType::I64 => Val::I64(bits as u64 as i64),
        ValType::F32 => Val::F32(bits as u32),
        ValType::F64 => Val::F64(bits as u64),
        ValType::V128 => Val::V128(bits),
        ValType::Ref(r) => raw_to_ref(store, bits as usize, r),
    }
}

/// Formats a value type like the text format does.
pub(crate) fn val_type_name(ty: &ValType) -> String {
    ty.to_string()
}

/// Formats a function type like `(i32, i64) -> (f32)`.
pub(crate) fn func_type_name(ty: &precast_format::module::FuncType) -> String {
    ty.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(Val::I32(1).matches(&ValType::I32));
        assert!(!Val::I32(1).matches(&ValType::I64));
        assert!(Val::FuncRef(None).matches(&ValType::Ref(RefType::FUNCREF)));
        assert!(!Val::FuncRef(None).matches(&ValType::Ref(RefType::EXTERNREF)));
        let non_null = RefType {
            nullable: false,
            heap: HeapType::Extern,
        };
        assert!(!Val::ExternRef(None).matches(&ValType::Ref(non_null)));
        assert!(Val::ExternRef(Some(3)).matches(&ValType::Ref(non_null)));
        assert_eq!(
            Val::default_for(&ValType::Ref(RefType::EXTERNREF)),
            Val::ExternRef(None)
        );
    }

    #[test]
    fn raw_round_trip_numbers() {
        let raw = raw_from_u128(u128::from(-1i32 as u32));
        assert_eq!(raw[4], 0, "i32 is zero-extended");
        assert_eq!(raw_to_u128(&raw) as u32 as i32, -1);
        assert_eq!(
            func_type_name(&precast_format::module::FuncType {
                params: vec![ValType::I32, ValType::Ref(RefType::FUNCREF)],
                results: vec![],
            }),
            "(i32, (ref null func)) -> ()"
        );
    }
}
