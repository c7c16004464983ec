//! The 128-bit SIMD and relaxed-SIMD operators.
//!
//! A `v128` lives on the operand stack (and in locals, globals, block parameters and
//! signatures) as an `I8X16`. Each operator bitcasts its operands to the lane type it needs
//! (lane-count-changing bitcasts are little-endian, which is the wasm lane order) and its
//! result back to `I8X16`. Cranelift's vector instructions already have the wasm semantics
//! where it matters: `ishl`/`sshr`/`ushr` mask the shift amount to the lane width, `swizzle`
//! yields 0 for out-of-range indices, `fmin`/`fmax` propagate NaN and order -0 below +0,
//! and the saturating conversions saturate and map NaN to 0.
//!
//! # Relaxed SIMD
//!
//! Each relaxed operator gets one fixed semantics, the same on every target and for every
//! set of CPU features, so an artifact behaves identically wherever it runs and whatever
//! `CpuTarget` it was compiled for. Each choice is one of the results the proposal allows
//! and lowers to plain SSE4.1 code through Cranelift's x86-64 backend (no libcalls, no
//! AVX, no x86-only instructions, so aarch64 gets the same results):
//!
//! | operator | semantics chosen |
//! |---|---|
//! | `i8x16.relaxed_swizzle` | `i8x16.swizzle`: out-of-range indices (>= 16) select 0 |
//! | `i32x4.relaxed_trunc_f32x4_{s,u}` | `i32x4.trunc_sat_f32x4_{s,u}`: saturate, NaN -> 0 |
//! | `i32x4.relaxed_trunc_f64x2_{s,u}_zero` | `i32x4.trunc_sat_f64x2_{s,u}_zero` |
//! | `f32x4/f64x2.relaxed_madd` | *unfused* `a * b + c` (two roundings) |
//! | `f32x4/f64x2.relaxed_nmadd` | *unfused* `(-a) * b + c` (two roundings) |
//! | `i{8x16,16x8,32x4,64x2}.relaxed_laneselect` | `v128.bitselect` (bitwise, every mask bit counts) |
//! | `f32x4/f64x2.relaxed_{min,max}` | `f32x4/f64x2.{min,max}`: NaN propagates, -0 < +0 |
//! | `i16x8.relaxed_q15mulr_s` | `i16x8.q15mulr_sat_s`: `0x8000 * 0x8000` saturates to `0x7fff` |
//! | `i16x8.relaxed_dot_i8x16_i7x16_s` | both operands signed; pairwise sum wraps in 16 bits |
//! | `i32x4.relaxed_dot_i8x16_i7x16_add_s` | both operands signed; exact 4-product sum, plus `c` wrapping |
//!
//! The multiply-add is unfused rather than fused because a fused vector multiply-add
//! needs the FMA extension on x86-64: without it Cranelift calls a libm routine, which a
//! relocation-free artifact cannot reference, and choosing fused only when FMA is present
//! would make results depend on the CPU the module was compiled for.

use super::Translator;
use crate::CompileError;
use cranelift_codegen::ir::{
    self, InstBuilder,
    condcodes::{FloatCC, IntCC},
    types::*,
};
use wasmparser::{MemArg, Operator as O};

/// Pops one `lane type` operand and pushes the result of a unary instruction.
macro_rules! vun {
    ($s:ident, $ty:expr, $m:ident) => {{
        let a = $s.vpop($ty);
        let v = $s.b.ins().$m(a);
        $s.vpush(v);
    }};
}

/// Pops two operands of `lane type` and pushes the result of a binary instruction.
macro_rules! vbin {
    ($s:ident, $ty:expr, $m:ident) => {{
        let (a, b) = $s.vpop2($ty);
        let v = $s.b.ins().$m(a, b);
        $s.vpush(v);
    }};
}

/// Pops a vector and an i32 shift amount and pushes the shifted vector.
macro_rules! vshift {
    ($s:ident, $ty:expr, $m:ident) => {{
        let amount = $s.pop();
        let a = $s.vpop($ty);
        let v = $s.b.ins().$m(a, amount);
        $s.vpush(v);
    }};
}

/// Integer lane comparison.
macro_rules! vicmp {
    ($s:ident, $ty:expr, $cc:expr) => {{
        let (a, b) = $s.vpop2($ty);
        let v = $s.b.ins().icmp($cc, a, b);
        $s.vpush(v);
    }};
}

/// Float lane comparison.
macro_rules! vfcmp {
    ($s:ident, $ty:expr, $cc:expr) => {{
        let (a, b) = $s.vpop2($ty);
        let v = $s.b.ins().fcmp($cc, a, b);
        $s.vpush(v);
    }};
}

/// Which half of the lanes a widening operator reads.
#[derive(Clone, Copy)]
enum Half {
    Low,
    High,
}

impl Translator<'_, '_> {
    /// Translates a SIMD or relaxed-SIMD operator. Returns `false` if `op` is neither.
    pub(crate) fn simd_op(&mut self, op: &O<'_>) -> Result<bool, CompileError> {
        match *op {
            // Loads and stores.
            O::V128Load { ref memarg } => {
                let addr = self.heap_addr(memarg, 16);
                let flags = self.heap_flags();
                let v = self.b.ins().load(I8X16, flags, addr, 0);
                self.vpush(v);
            }
            O::V128Load8x8S { ref memarg } => {
                let addr = self.heap_addr(memarg, 8);
                let flags = self.heap_flags();
                let v = self.b.ins().sload8x8(flags, addr, 0);
                self.vpush(v);
            }
            O::V128Load8x8U { ref memarg } => {
                let addr = self.heap_addr(memarg, 8);
                let flags = self.heap_flags();
                let v = self.b.ins().uload8x8(flags, addr, 0);
                self.vpush(v);
            }
            O::V128Load16x4S { ref memarg } => {
                let addr = self.heap_addr(memarg, 8);
                let flags = self.heap_flags();
                let v = self.b.ins().sload16x4(flags, addr, 0);
                self.vpush(v);
            }
            O::V128Load16x4U { ref memarg } => {
                let addr = self.heap_addr(memarg, 8);
                let flags = self.heap_flags();
                let v = self.b.ins().uload16x4(flags, addr, 0);
                self.vpush(v);
            }
            O::V128Load32x2S { ref memarg } => {
                let addr = self.heap_addr(memarg, 8);
                let flags = self.heap_flags();
                let v = self.b.ins().sload32x2(flags, addr, 0);
                self.vpush(v);
            }
            O::V128Load32x2U { ref memarg } => {
                let addr = self.heap_addr(memarg, 8);
                let flags = self.heap_flags();
                let v = self.b.ins().uload32x2(flags, addr, 0);
                self.vpush(v);
            }
            O::V128Load8Splat { ref memarg } => self.v128_load_splat(memarg, I8X16),
            O::V128Load16Splat { ref memarg } => self.v128_load_splat(memarg, I16X8),
            O::V128Load32Splat { ref memarg } => self.v128_load_splat(memarg, I32X4),
            O::V128Load64Splat { ref memarg } => self.v128_load_splat(memarg, I64X2),
            O::V128Load32Zero { ref memarg } => self.v128_load_zero(memarg, I32X4),
            O::V128Load64Zero { ref memarg } => self.v128_load_zero(memarg, I64X2),
            O::V128Store { ref memarg } => {
                let v = self.vpop(I8X16);
                let addr = self.heap_addr(memarg, 16);
                let flags = self.heap_flags();
                self.b.ins().store(flags, v, addr, 0);
            }
            O::V128Load8Lane { ref memarg, lane } => self.v128_load_lane(memarg, I8X16, lane),
            O::V128Load16Lane { ref memarg, lane } => self.v128_load_lane(memarg, I16X8, lane),
            O::V128Load32Lane { ref memarg, lane } => self.v128_load_lane(memarg, I32X4, lane),
            O::V128Load64Lane { ref memarg, lane } => self.v128_load_lane(memarg, I64X2, lane),
            O::V128Store8Lane { ref memarg, lane } => self.v128_store_lane(memarg, I8X16, lane),
            O::V128Store16Lane { ref memarg, lane } => self.v128_store_lane(memarg, I16X8, lane),
            O::V128Store32Lane { ref memarg, lane } => self.v128_store_lane(memarg, I32X4, lane),
            O::V128Store64Lane { ref memarg, lane } => self.v128_store_lane(memarg, I64X2, lane),

            // Constants, shuffles, splats and lanes.
            O::V128Const { value } => {
                let data = ir::ConstantData::from(value.bytes().to_vec());
                let c = self.b.func.dfg.constants.insert(data);
                let v = self.b.ins().vconst(I8X16, c);
                self.vpush(v);
            }
            O::I8x16Shuffle { lanes } => {
                let (a, b) = self.vpop2(I8X16);
                let mask = self
                    .b
                    .func
                    .dfg
                    .immediates
                    .push(ir::ConstantData::from(lanes.to_vec()));
                let v = self.b.ins().shuffle(a, b, mask);
                self.vpush(v);
            }
            O::I8x16Swizzle | O::I8x16RelaxedSwizzle => vbin!(self, I8X16, swizzle),
            O::I8x16Splat => self.v128_splat(I8X16),
            O::I16x8Splat => self.v128_splat(I16X8),
            O::I32x4Splat => self.v128_splat(I32X4),
            O::I64x2Splat => self.v128_splat(I64X2),
            O::F32x4Splat => self.v128_splat(F32X4),
            O::F64x2Splat => self.v128_splat(F64X2),
            O::I8x16ExtractLaneS { lane } => self.v128_extract_lane(I8X16, lane, Some(true)),
            O::I8x16ExtractLaneU { lane } => self.v128_extract_lane(I8X16, lane, Some(false)),
            O::I16x8ExtractLaneS { lane } => self.v128_extract_lane(I16X8, lane, Some(true)),
            O::I16x8ExtractLaneU { lane } => self.v128_extract_lane(I16X8, lane, Some(false)),
            O::I32x4ExtractLane { lane } => self.v128_extract_lane(I32X4, lane, None),
            O::I64x2ExtractLane { lane } => self.v128_extract_lane(I64X2, lane, None),
            O::F32x4ExtractLane { lane } => self.v128_extract_lane(F32X4, lane, None),
            O::F64x2ExtractLane { lane } => self.v128_extract_lane(F64X2, lane, None),
            O::I8x16ReplaceLane { lane } => self.v128_replace_lane(I8X16, lane),
            O::I16x8ReplaceLane { lane } => self.v128_replace_lane(I16X8, lane),
            O::I32x4ReplaceLane { lane } => self.v128_replace_lane(I32X4, lane),
            O::I64x2ReplaceLane { lane } => self.v128_replace_lane(I64X2, lane),
            O::F32x4ReplaceLane { lane } => self.v128_replace_lane(F32X4, lane),
            O::F64x2ReplaceLane { lane } => self.v128_replace_lane(F64X2, lane),

            // Integer comparisons.
            O::I8x16Eq => vicmp!(self, I8X16, IntCC::Equal),
            O::I8x16Ne => vicmp!(self, I8X16, IntCC::NotEqual),
            O::I8x16LtS => vicmp!(self, I8X16, IntCC::SignedLessThan),
            O::I8x16LtU => vicmp!(self, I8X16, IntCC::UnsignedLessThan),
            O::I8x16GtS => vicmp!(self, I8X16, IntCC::SignedGreaterThan),
            O::I8x16GtU => vicmp!(self, I8X16, IntCC::UnsignedGreaterThan),
            O::I8x16LeS => vicmp!(self, I8X16, IntCC::SignedLessThanOrEqual),
            O::I8x16LeU => vicmp!(self, I8X16, IntCC::UnsignedLessThanOrEqual),
            O::I8x16GeS => vicmp!(self, I8X16, IntCC::SignedGreaterThanOrEqual),
            O::I8x16GeU => vicmp!(self, I8X16, IntCC::UnsignedGreaterThanOrEqual),
            O::I16x8Eq => vicmp!(self, I16X8, IntCC::Equal),
            O::I16x8Ne => vicmp!(self, I16X8, IntCC::NotEqual),
            O::I16x8LtS => vicmp!(self, I16X8, IntCC::SignedLessThan),
            O::I16x8LtU => vicmp!(self, I16X8, IntCC::UnsignedLessThan),
            O::I16x8GtS => vicmp!(self, I16X8, IntCC::SignedGreaterThan),
            O::I16x8GtU => vicmp!(self, I16X8, IntCC::UnsignedGreaterThan),
            O::I16x8LeS => vicmp!(self, I16X8, IntCC::SignedLessThanOrEqual),
            O::I16x8LeU => vicmp!(self, I16X8, IntCC::UnsignedLessThanOrEqual),
            O::I16x8GeS => vicmp!(self, I16X8, IntCC::SignedGreaterThanOrEqual),
            O::I16x8GeU => vicmp!(self, I16X8, IntCC::UnsignedGreaterThanOrEqual),
            O::I32x4Eq => vicmp!(self, I32X4, IntCC::Equal),
            O::I32x4Ne => vicmp!(self, I32X4, IntCC::NotEqual),
            O::I32x4LtS => vicmp!(self, I32X4, IntCC::SignedLessThan),
            O::I32x4LtU => vicmp!(self, I32X4, IntCC::UnsignedLessThan),
            O::I32x4GtS => vicmp!(self, I32X4, IntCC::SignedGreaterThan),
            O::I32x4GtU => vicmp!(self, I32X4, IntCC::UnsignedGreaterThan),
            O::I32x4LeS => vicmp!(self, I32X4, IntCC::SignedLessThanOrEqual),
            O::I32x4LeU => vicmp!(self, I32X4, IntCC::UnsignedLessThanOrEqual),
            O::I32x4GeS => vicmp!(self, I32X4, IntCC::SignedGreaterThanOrEqual),
            O::I32x4GeU => vicmp!(self, I32X4, IntCC::UnsignedGreaterThanOrEqual),
            O::I64x2Eq => vicmp!(self, I64X2, IntCC::Equal),
            O::I64x2Ne => vicmp!(self, I64X2, IntCC::NotEqual),
            O::I64x2LtS => vicmp!(self, I64X2, IntCC::SignedLessThan),
            O::I64x2GtS => vicmp!(self, I64X2, IntCC::SignedGreaterThan),
            O::I64x2LeS => vicmp!(self, I64X2, IntCC::SignedLessThanOrEqual),
            O::I64x2GeS => vicmp!(self, I64X2, IntCC::SignedGreaterThanOrEqual),

            // Float comparisons (`ne` is unordered-or-unequal, the rest are ordered).
            O::F32x4Eq => vfcmp!(self, F32X4, FloatCC::Equal),
            O::F32x4Ne => vfcmp!(self, F32X4, FloatCC::NotEqual),
            O::F32x4Lt => vfcmp!(self, F32X4, FloatCC::LessThan),
            O::F32x4Gt => vfcmp!(self, F32X4, FloatCC::GreaterThan),
            O::F32x4Le => vfcmp!(self, F32X4, FloatCC::LessThanOrEqual),
            O::F32x4Ge => vfcmp!(self, F32X4, FloatCC::GreaterThanOrEqual),
            O::F64x2Eq => vfcmp!(self, F64X2, FloatCC::Equal),
            O::F64x2Ne => vfcmp!(self, F64X2, FloatCC::NotEqual),
            O::F64x2Lt => vfcmp!(self, F64X2, FloatCC::LessThan),
            O::F64x2Gt => vfcmp!(self, F64X2, FloatCC::GreaterThan),
            O::F64x2Le => vfcmp!(self, F64X2, FloatCC::LessThanOrEqual),
            O::F64x2Ge => vfcmp!(self, F64X2, FloatCC::GreaterThanOrEqual),

            // Bitwise operators.
            O::V128Not => vun!(self, I8X16, bnot),
            O::V128And => vbin!(self, I8X16, band),
            O::V128AndNot => vbin!(self, I8X16, band_not),
            O::V128Or => vbin!(self, I8X16, bor),
            O::V128Xor => vbin!(self, I8X16, bxor),
            O::V128Bitselect
            | O::I8x16RelaxedLaneselect
            | O::I16x8RelaxedLaneselect
            | O::I32x4RelaxedLaneselect
            | O::I64x2RelaxedLaneselect => {
                let (a, b, mask) = self.vpop3(I8X16);
                let v = self.b.ins().bitselect(mask, a, b);
                self.vpush(v);
            }
            O::V128AnyTrue => {
                let a = self.vpop(I8X16);
                let t = self.b.ins().vany_true(a);
                let v = self.b.ins().uextend(I32, t);
                self.push(v);
            }

            // Lane-wise integer arithmetic.
            O::I8x16Abs => vun!(self, I8X16, iabs),
            O::I16x8Abs => vun!(self, I16X8, iabs),
            O::I32x4Abs => vun!(self, I32X4, iabs),
            O::I64x2Abs => vun!(self, I64X2, iabs),
            O::I8x16Neg => vun!(self, I8X16, ineg),
            O::I16x8Neg => vun!(self, I16X8, ineg),
            O::I32x4Neg => vun!(self, I32X4, ineg),
            O::I64x2Neg => vun!(self, I64X2, ineg),
            O::I8x16Popcnt => vun!(self, I8X16, popcnt),
            O::I8x16AllTrue => self.v128_all_true(I8X16),
            O::I16x8AllTrue => self.v128_all_true(I16X8),
            O::I32x4AllTrue => self.v128_all_true(I32X4),
            O::I64x2AllTrue => self.v128_all_true(I64X2),
            O::I8x16Bitmask => self.v128_bitmask(I8X16),
            O::I16x8Bitmask => self.v128_bitmask(I16X8),
            O::I32x4Bitmask => self.v128_bitmask(I32X4),
            O::I64x2Bitmask => self.v128_bitmask(I64X2),
            O::I8x16Shl => vshift!(self, I8X16, ishl),
            O::I8x16ShrS => vshift!(self, I8X16, sshr),
            O::I8x16ShrU => vshift!(self, I8X16, ushr),
            O::I16x8Shl => vshift!(self, I16X8, ishl),
            O::I16x8ShrS => vshift!(self, I16X8, sshr),
            O::I16x8ShrU => vshift!(self, I16X8, ushr),
            O::I32x4Shl => vshift!(self, I32X4, ishl),
            O::I32x4ShrS => vshift!(self, I32X4, sshr),
            O::I32x4ShrU => vshift!(self, I32X4, ushr),
            O::I64x2Shl => vshift!(self, I64X2, ishl),
            O::I64x2ShrS => vshift!(self, I64X2, sshr),
            O::I64x2ShrU => vshift!(self, I64X2, ushr),
            O::I8x16Add => vbin!(self, I8X16, iadd),
            O::I16x8Add => vbin!(self, I16X8, iadd),
            O::I32x4Add => vbin!(self, I32X4, iadd),
            O::I64x2Add => vbin!(self, I64X2, iadd),
            O::I8x16Sub => vbin!(self, I8X16, isub),
            O::I16x8Sub => vbin!(self, I16X8, isub),
            O::I32x4Sub => vbin!(self, I32X4, isub),
            O::I64x2Sub => vbin!(self, I64X2, isub),
            O::I16x8Mul => vbin!(self, I16X8, imul),
            O::I32x4Mul => vbin!(self, I32X4, imul),
            O::I64x2Mul => vbin!(self, I64X2, imul),
            O::I8x16AddSatS => vbin!(self, I8X16, sadd_sat),
            O::I8x16AddSatU => vbin!(self, I8X16, uadd_sat),
            O::I8x16SubSatS => vbin!(self, I8X16, ssub_sat),
            O::I8x16SubSatU => vbin!(self, I8X16, usub_sat),
            O::I16x8AddSatS => vbin!(self, I16X8, sadd_sat),
            O::I16x8AddSatU => vbin!(self, I16X8, uadd_sat),
            O::I16x8SubSatS => vbin!(self, I16X8, ssub_sat),
            O::I16x8SubSatU => vbin!(self, I16X8, usub_sat),
            O::I8x16MinS => vbin!(self, I8X16, smin),
            O::I8x16MinU => vbin!(self, I8X16, umin),
            O::I8x16MaxS => vbin!(self, I8X16, smax),
            O::I8x16MaxU => vbin!(self, I8X16, umax),
            O::I16x8MinS => vbin!(self, I16X8, smin),
            O::I16x8MinU => vbin!(self, I16X8, umin),
            O::I16x8MaxS => vbin!(self, I16X8, smax),
            O::I16x8MaxU => vbin!(self, I16X8, umax),
            O::I32x4MinS => vbin!(self, I32X4, smin),
            O::I32x4MinU => vbin!(self, I32X4, umin),
            O::I32x4MaxS => vbin!(self, I32X4, smax),
            O::I32x4MaxU => vbin!(self, I32X4, umax),
            O::I8x16AvgrU => vbin!(self, I8X16, avg_round),
            O::I16x8AvgrU => vbin!(self, I16X8, avg_round),
            O::I16x8Q15MulrSatS | O::I16x8RelaxedQ15mulrS => vbin!(self, I16X8, sqmul_round_sat),

            // Narrowing (signed inputs, saturating to signed or unsigned).
            O::I8x16NarrowI16x8S => vbin!(self, I16X8, snarrow),
            O::I8x16NarrowI16x8U => vbin!(self, I16X8, unarrow),
            O::I16x8NarrowI32x4S => vbin!(self, I32X4, snarrow),
            O::I16x8NarrowI32x4U => vbin!(self, I32X4, unarrow),

            // Widening.
            O::I16x8ExtendLowI8x16S => vun!(self, I8X16, swiden_low),
            O::I16x8ExtendHighI8x16S => vun!(self, I8X16, swiden_high),
            O::I16x8ExtendLowI8x16U => vun!(self, I8X16, uwiden_low),
            O::I16x8ExtendHighI8x16U => vun!(self, I8X16, uwiden_high),
            O::I32x4ExtendLowI16x8S => vun!(self, I16X8, swiden_low),
            O::I32x4ExtendHighI16x8S => vun!(self, I16X8, swiden_high),
            O::I32x4ExtendLowI16x8U => vun!(self, I16X8, uwiden_low),
            O::I32x4ExtendHighI16x8U => vun!(self, I16X8, uwiden_high),
            O::I64x2ExtendLowI32x4S => vun!(self, I32X4, swiden_low),
            O::I64x2ExtendHighI32x4S => vun!(self, I32X4, swiden_high),
            O::I64x2ExtendLowI32x4U => vun!(self, I32X4, uwiden_low),
            O::I64x2ExtendHighI32x4U => vun!(self, I32X4, uwiden_high),
            O::I16x8ExtAddPairwiseI8x16S => self.v128_extadd_pairwise(I8X16, true),
            O::I16x8ExtAddPairwiseI8x16U => self.v128_extadd_pairwise(I8X16, false),
            O::I32x4ExtAddPairwiseI16x8S => self.v128_extadd_pairwise(I16X8, true),
            O::I32x4ExtAddPairwiseI16x8U => self.v128_extadd_pairwise(I16X8, false),
            O::I16x8ExtMulLowI8x16S => self.v128_extmul(I8X16, Half::Low, true),
            O::I16x8ExtMulHighI8x16S => self.v128_extmul(I8X16, Half::High, true),
            O::I16x8ExtMulLowI8x16U => self.v128_extmul(I8X16, Half::Low, false),
            O::I16x8ExtMulHighI8x16U => self.v128_extmul(I8X16, Half::High, false),
            O::I32x4ExtMulLowI16x8S => self.v128_extmul(I16X8, Half::Low, true),
            O::I32x4ExtMulHighI16x8S => self.v128_extmul(I16X8, Half::High, true),
            O::I32x4ExtMulLowI16x8U => self.v128_extmul(I16X8, Half::Low, false),
            O::I32x4ExtMulHighI16x8U => self.v128_extmul(I16X8, Half::High, false),
            O::I64x2ExtMulLowI32x4S => self.v128_extmul(I32X4, Half::Low, true),
            O::I64x2ExtMulHighI32x4S => self.v128_extmul(I32X4, Half::High, true),
            O::I64x2ExtMulLowI32x4U => self.v128_extmul(I32X4, Half::Low, false),
            O::I64x2ExtMulHighI32x4U => self.v128_extmul(I32X4, Half::High, false),
            O::I32x4DotI16x8S => {
                let (a, b) = self.vpop2(I16X8);
                let v = self.signed_dot(a, b);
                self.vpush(v);
            }
            O::I16x8RelaxedDotI8x16I7x16S => {
                let (a, b) = self.vpop2(I8X16);
                let v = self.signed_dot(a, b);
                self.vpush(v);
            }
            O::I32x4RelaxedDotI8x16I7x16AddS => {
                let c = self.vpop(I32X4);
                let (a, b) = self.vpop2(I8X16);
                // Each i8 * i8 product fits an i16 exactly; widen the products to i32
                // before summing so every four-product sum is exact.
                let alo = self.b.ins().swiden_low(a);
                let blo = self.b.ins().swiden_low(b);
                let ahi = self.b.ins().swiden_high(a);
                let bhi = self.b.ins().swiden_high(b);
                let lo = self.b.ins().imul(alo, blo);
                let hi = self.b.ins().imul(ahi, bhi);
                let prods32 = [
                    self.b.ins().swiden_low(lo),
                    self.b.ins().swiden_high(lo),
                    self.b.ins().swiden_low(hi),
                    self.b.ins().swiden_high(hi),
                ];
                let pairs_lo = self.b.ins().iadd_pairwise(prods32[0], prods32[1]);
                let pairs_hi = self.b.ins().iadd_pairwise(prods32[2], prods32[3]);
                let dot = self.b.ins().iadd_pairwise(pairs_lo, pairs_hi);
                let v = self.b.ins().iadd(dot, c);
                self.vpush(v);
            }

            // Lane-wise float arithmetic.
            O::F32x4Ceil => vun!(self, F32X4, ceil),
            O::F32x4Floor => vun!(self, F32X4, floor),
            O::F32x4Trunc => vun!(self, F32X4, trunc),
            O::F32x4Nearest => vun!(self, F32X4, nearest),
            O::F32x4Abs => vun!(self, F32X4, fabs),
            O::F32x4Neg => vun!(self, F32X4, fneg),
            O::F32x4Sqrt => vun!(self, F32X4, sqrt),
            O::F32x4Add => vbin!(self, F32X4, fadd),
            O::F32x4Sub => vbin!(self, F32X4, fsub),
            O::F32x4Mul => vbin!(self, F32X4, fmul),
            O::F32x4Div => vbin!(self, F32X4, fdiv),
            O::F32x4Min | O::F32x4RelaxedMin => vbin!(self, F32X4, fmin),
            O::F32x4Max | O::F32x4RelaxedMax => vbin!(self, F32X4, fmax),
            O::F32x4PMin => self.v128_pminmax(F32X4, true),
            O::F32x4PMax => self.v128_pminmax(F32X4, false),
            O::F64x2Ceil => vun!(self, F64X2, ceil),
            O::F64x2Floor => vun!(self, F64X2, floor),
            O::F64x2Trunc => vun!(self, F64X2, trunc),
            O::F64x2Nearest => vun!(self, F64X2, nearest),
            O::F64x2Abs => vun!(self, F64X2, fabs),
            O::F64x2Neg => vun!(self, F64X2, fneg),
            O::F64x2Sqrt => vun!(self, F64X2, sqrt),
            O::F64x2Add => vbin!(self, F64X2, fadd),
            O::F64x2Sub => vbin!(self, F64X2, fsub),
            O::F64x2Mul => vbin!(self, F64X2, fmul),
            O::F64x2Div => vbin!(self, F64X2, fdiv),
            O::F64x2Min | O::F64x2RelaxedMin => vbin!(self, F64X2, fmin),
            O::F64x2Max | O::F64x2RelaxedMax => vbin!(self, F64X2, fmax),
            O::F64x2PMin => self.v128_pminmax(F64X2, true),
            O::F64x2PMax => self.v128_pminmax(F64X2, false),
            O::F32x4RelaxedMadd => self.v128_madd(F32X4, false),
            O::F32x4RelaxedNmadd => self.v128_madd(F32X4, true),
            O::F64x2RelaxedMadd => self.v128_madd(F64X2, false),
            O::F64x2RelaxedNmadd => self.v128_madd(F64X2, true),

            // Conversions.
            O::I32x4TruncSatF32x4S | O::I32x4RelaxedTruncF32x4S => {
                let a = self.vpop(F32X4);
                let v = self.b.ins().fcvt_to_sint_sat(I32X4, a);
                self.vpush(v);
            }
            O::I32x4TruncSatF32x4U | O::I32x4RelaxedTruncF32x4U => {
                let a = self.vpop(F32X4);
                let v = self.b.ins().fcvt_to_uint_sat(I32X4, a);
                self.vpush(v);
            }
            O::I32x4TruncSatF64x2SZero | O::I32x4RelaxedTruncF64x2SZero => {
                let a = self.vpop(F64X2);
                let wide = self.b.ins().fcvt_to_sint_sat(I64X2, a);
                let zero = self.zero(I64X2);
                let v = self.b.ins().snarrow(wide, zero);
                self.vpush(v);
            }
            O::I32x4TruncSatF64x2UZero | O::I32x4RelaxedTruncF64x2UZero => {
                let a = self.vpop(F64X2);
                let wide = self.b.ins().fcvt_to_uint_sat(I64X2, a);
                let zero = self.zero(I64X2);
                // Unsigned-input narrowing: the u64 lanes saturate to u32.
                let v = self.b.ins().uunarrow(wide, zero);
                self.vpush(v);
            }
            O::F32x4ConvertI32x4S => {
                let a = self.vpop(I32X4);
                let v = self.b.ins().fcvt_from_sint(F32X4, a);
                self.vpush(v);
            }
            O::F32x4ConvertI32x4U => {
                let a = self.vpop(I32X4);
                let v = self.b.ins().fcvt_from_uint(F32X4, a);
                self.vpush(v);
            }
            O::F64x2ConvertLowI32x4S => {
                let a = self.vpop(I32X4);
                let wide = self.b.ins().swiden_low(a);
                let v = self.b.ins().fcvt_from_sint(F64X2, wide);
                self.vpush(v);
            }
            O::F64x2ConvertLowI32x4U => {
                let a = self.vpop(I32X4);
                let wide = self.b.ins().uwiden_low(a);
                let v = self.b.ins().fcvt_from_uint(F64X2, wide);
                self.vpush(v);
            }
            O::F32x4DemoteF64x2Zero => vun!(self, F64X2, fvdemote),
            O::F64x2PromoteLowF32x4 => vun!(self, F32X4, fvpromote_low),

            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Reinterprets vector `v` as `ty` (a no-op if it already is one).
    pub(crate) fn vcast(&mut self, ty: ir::Type, v: ir::Value) -> ir::Value {
        if self.b.func.dfg.value_type(v) == ty {
            v
        } else {
            let flags = ir::MemFlagsData::new().with_endianness(ir::Endianness::Little);
            self.b.ins().bitcast(ty, flags, v)
        }
    }

    /// Pops a `v128` as a vector of `ty`.
    pub(crate) fn vpop(&mut self, ty: ir::Type) -> ir::Value {
        let v = self.pop();
        self.vcast(ty, v)
    }

    /// Pops two `v128`s as vectors of `ty`, in stack order.
    fn vpop2(&mut self, ty: ir::Type) -> (ir::Value, ir::Value) {
        let b = self.vpop(ty);
        let a = self.vpop(ty);
        (a, b)
    }

    /// Pops three `v128`s as vectors of `ty`, in stack order.
    fn vpop3(&mut self, ty: ir::Type) -> (ir::Value, ir::Value, ir::Value) {
        let c = self.vpop(ty);
        let (a, b) = self.vpop2(ty);
        (a, b, c)
    }

    /// Pushes vector `v` as a `v128` (`I8X16`).
    pub(crate) fn vpush(&mut self, v: ir::Value) {
        let v = self.vcast(I8X16, v);
        self.push(v);
    }

    /// `v128.loadN_splat`: loads one lane of `ty` and replicates it.
    fn v128_load_splat(&mut self, memarg: &MemArg, ty: ir::Type) {
        let lane = ty.lane_type();
        let addr = self.heap_addr(memarg, lane.bytes());
        let flags = self.heap_flags();
        let x = self.b.ins().load(lane, flags, addr, 0);
        let v = self.b.ins().splat(ty, x);
        self.vpush(v);
    }

    /// `v128.loadN_zero`: loads lane 0 of `ty`, zeroing the others.
    fn v128_load_zero(&mut self, memarg: &MemArg, ty: ir::Type) {
        let lane = ty.lane_type();
        let addr = self.heap_addr(memarg, lane.bytes());
        let flags = self.heap_flags();
        let x = self.b.ins().load(lane, flags, addr, 0);
        let v = self.b.ins().scalar_to_vector(ty, x);
        self.vpush(v);
    }

    /// `v128.loadN_lane`: replaces lane `lane` of the popped vector (as `ty`) with a load.
    fn v128_load_lane(&mut self, memarg: &MemArg, ty: ir::Type, lane: u8) {
        let v = self.vpop(ty);
        let lane_ty = ty.lane_type();
        let addr = self.heap_addr(memarg, lane_ty.bytes());
        let flags = self.heap_flags();
        let x = self.b.ins().load(lane_ty, flags, addr, 0);
        let v = self.b.ins().insertlane(v, x, lane);
        self.vpush(v);
    }

    /// `v128.storeN_lane`: stores lane `lane` of the popped vector (as `ty`).
    fn v128_store_lane(&mut self, memarg: &MemArg, ty: ir::Type, lane: u8) {
        let v = self.vpop(ty);
        let addr = self.heap_addr(memarg, ty.lane_type().bytes());
        let x = self.b.ins().extractlane(v, lane);
        let flags = self.heap_flags();
        self.b.ins().store(flags, x, addr, 0);
    }

    /// `*.splat`: replicates the popped scalar into every lane of `ty`.
    fn v128_splat(&mut self, ty: ir::Type) {
        let x = self.pop();
        let x = self.lane_scalar(ty.lane_type(), x);
        let v = self.b.ins().splat(ty, x);
        self.vpush(v);
    }

    /// `*.extract_lane[_s|_u]`; `signed` is `Some` for the narrow lane types, which are
    /// extended to i32.
    fn v128_extract_lane(&mut self, ty: ir::Type, lane: u8, signed: Option<bool>) {
        let v = self.vpop(ty);
        let x = self.b.ins().extractlane(v, lane);
        let x = match signed {
            Some(true) => self.b.ins().sextend(I32, x),
            Some(false) => self.b.ins().uextend(I32, x),
            None => x,
        };
        self.push(x);
    }

    /// `*.replace_lane`.
    fn v128_replace_lane(&mut self, ty: ir::Type, lane: u8) {
        let x = self.pop();
        let v = self.vpop(ty);
        let x = self.lane_scalar(ty.lane_type(), x);
        let v = self.b.ins().insertlane(v, x, lane);
        self.vpush(v);
    }

    /// Narrows a wasm i32 operand to an i8 or i16 lane; other lanes pass through.
    fn lane_scalar(&mut self, lane: ir::Type, x: ir::Value) -> ir::Value {
        if lane == I8 || lane == I16 {
            self.b.ins().ireduce(lane, x)
        } else {
            x
        }
    }

    /// `*.all_true`.
    fn v128_all_true(&mut self, ty: ir::Type) {
        let a = self.vpop(ty);
        let t = self.b.ins().vall_true(a);
        let v = self.b.ins().uextend(I32, t);
        self.push(v);
    }

    /// `*.bitmask`.
    fn v128_bitmask(&mut self, ty: ir::Type) {
        let a = self.vpop(ty);
        let v = self.b.ins().vhigh_bits(I32, a);
        self.push(v);
    }

    /// `*.extadd_pairwise_*`: widens every lane of `ty` and adds adjacent pairs.
    fn v128_extadd_pairwise(&mut self, ty: ir::Type, signed: bool) {
        let a = self.vpop(ty);
        let (lo, hi) = if signed {
            (self.b.ins().swiden_low(a), self.b.ins().swiden_high(a))
        } else {
            (self.b.ins().uwiden_low(a), self.b.ins().uwiden_high(a))
        };
        let v = self.b.ins().iadd_pairwise(lo, hi);
        self.vpush(v);
    }

    /// `*.extmul_{low,high}_*`: widens half of the lanes of `ty` and multiplies.
    fn v128_extmul(&mut self, ty: ir::Type, half: Half, signed: bool) {
        let (a, b) = self.vpop2(ty);
        let a = self.widen(a, half, signed);
        let b = self.widen(b, half, signed);
        let v = self.b.ins().imul(a, b);
        self.vpush(v);
    }

    /// Widens half of the lanes of `v`.
    fn widen(&mut self, v: ir::Value, half: Half, signed: bool) -> ir::Value {
        let ins = self.b.ins();
        match (half, signed) {
            (Half::Low, true) => ins.swiden_low(v),
            (Half::High, true) => ins.swiden_high(v),
            (Half::Low, false) => ins.uwiden_low(v),
            (Half::High, false) => ins.uwiden_high(v),
        }
    }

    /// Signed widening dot product: products of sign-extended lanes, adjacent pairs
    /// summed (wrapping) into lanes twice as wide.
    fn signed_dot(&mut self, a: ir::Value, b: ir::Value) -> ir::Value {
        let alo = self.b.ins().swiden_low(a);
        let blo = self.b.ins().swiden_low(b);
        let ahi = self.b.ins().swiden_high(a);
        let bhi = self.b.ins().swiden_high(b);
        let lo = self.b.ins().imul(alo, blo);
        let hi = self.b.ins().imul(ahi, bhi);
        self.b.ins().iadd_pairwise(lo, hi)
    }

    /// `pmin` (`b < a ? b : a`) or `pmax` (`a < b ? b : a`), lane-wise on `ty`.
    fn v128_pminmax(&mut self, ty: ir::Type, min: bool) {
        let (a, b) = self.vpop2(ty);
        let cmp = if min {
            self.b.ins().fcmp(FloatCC::LessThan, b, a)
        } else {
            self.b.ins().fcmp(FloatCC::LessThan, a, b)
        };
        let cmp = self.vcast(ty, cmp);
        let v = self.b.ins().bitselect(cmp, b, a);
        self.vpush(v);
    }

    /// `relaxed_madd` (`a * b + c`) or `relaxed_nmadd` (`-a * b + c`), unfused.
    fn v128_madd(&mut self, ty: ir::Type, negate: bool) {
        let (a, b, c) = self.vpop3(ty);
        let a = if negate { self.b.ins().fneg(a) } else { a };
        let m = self.b.ins().fmul(a, b);
        let v = self.b.ins().fadd(m, c);
        self.vpush(v);
    }
}
