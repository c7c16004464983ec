//! Converting `.wast` arguments to values and matching results against expectations.

use precast_loader::Val;
use wast::core::{HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

/// Converts a `.wast` argument.
pub fn arg(a: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(a) = a else {
        return Err("component arguments are not supported".into());
    };
    Ok(match a {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Abstract { ty, .. }) => match ty {
            wast::core::AbstractHeapType::Extern | wast::core::AbstractHeapType::NoExtern => {
                Val::ExternRef(None)
            }
            _ => Val::FuncRef(None),
        },
        WastArgCore::RefNull(_) => Val::FuncRef(None),
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(u64::from(*n))),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn f32_matches(actual: u32, expected: &NanPattern<wast::token::F32>) -> bool {
    match expected {
        NanPattern::CanonicalNan => actual & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => actual & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => actual == v.bits,
    }
}

fn f64_matches(actual: u64, expected: &NanPattern<wast::token::F64>) -> bool {
    match expected {
        NanPattern::CanonicalNan => actual & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => actual & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => actual == v.bits,
    }
}

fn lanes<const N: usize>(v: u128) -> [u128; N] {
    let bits = 128 / N;
    let mask = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    std::array::from_fn(|i| (v >> (i * bits)) & mask)
}

fn v128_matches(actual: u128, expected: &V128Pattern) -> bool {
    match expected {
        V128Pattern::I8x16(e) => lanes::<16>(actual)
            .iter()
            .zip(e)
            .all(|(a, e)| *a as u8 == *e as u8),
        V128Pattern::I16x8(e) => lanes::<8>(actual)
            .iter()
            .zip(e)
            .all(|(a, e)| *a as u16 == *e as u16),
        V128Pattern::I32x4(e) => lanes::<4>(actual)
            .iter()
            .zip(e)
            .all(|(a, e)| *a as u32 == *e as u32),
        V128Pattern::I64x2(e) => lanes::<2>(actual)
            .iter()
            .zip(e)
            .all(|(a, e)| *a as u64 == *e as u64),
        V128Pattern::F32x4(e) => lanes::<4>(actual)
            .iter()
            .zip(e)
            .all(|(a, e)| f32_matches(*a as u32, e)),
        V128Pattern::F64x2(e) => lanes::<2>(actual)
            .iter()
            .zip(e)
            .all(|(a, e)| f64_matches(*a as u64, e)),
    }
}

/// Whether `actual` matches the expected result.
pub fn matches(actual: &Val, expected: &WastRet<'_>) -> Result<bool, String> {
    let WastRet::Core(expected) = expected else {
        return Err("component results are not supported".into());
    };
    core_matches(actual, expected)
}

fn core_matches(actual: &Val, expected: &WastRetCore<'_>) -> Result<bool, String> {
    Ok(match (actual, expected) {
        (Val::I32(a), WastRetCore::I32(e)) => a == e,
        (Val::I64(a), WastRetCore::I64(e)) => a == e,
        (Val::F32(a), WastRetCore::F32(e)) => f32_matches(*a, e),
        (Val::F64(a), WastRetCore::F64(e)) => f64_matches(*a, e),
        (Val::V128(a), WastRetCore::V128(e)) => v128_matches(*a, e),
        (Val::FuncRef(a), WastRetCore::RefNull(_)) => a.is_none(),
        (Val::ExternRef(a), WastRetCore::RefNull(_)) => a.is_none(),
        (Val::FuncRef(a), WastRetCore::RefFunc(None)) => a.is_some(),
        (Val::FuncRef(_), WastRetCore::RefFunc(Some(_))) => {
            return Err("matching a specific function reference is not supported".into());
        }
        (Val::ExternRef(a), WastRetCore::RefExtern(e)) => match e {
            None => a.is_some(),
            Some(n) => *a == Some(u64::from(*n)),
        },
        (_, WastRetCore::Either(options)) => {
            for o in options {
                if core_matches(actual, o)? {
                    return Ok(true);
                }
            }
            false
        }
        (_, WastRetCore::RefAny | WastRetCore::RefEq | WastRetCore::RefArray)
        | (_, WastRetCore::RefStruct | WastRetCore::RefI31 | WastRetCore::RefI31Shared)
        | (_, WastRetCore::RefHost(_)) => {
            return Err(format!("unsupported expected value {expected:?}"));
        }
        _ => false,
    })
}
