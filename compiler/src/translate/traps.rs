//! Raising traps.
//!
//! With signal-based traps ([`Settings::signals_based_traps`]), a trap is a Cranelift trapping
//! instruction (`trap`, `trapnz`, a faulting load, `sdiv`, `fcvt_to_sint`, the prologue's
//! stack check) whose fault the loader's signal handler turns into a trap.
//!
//! Without, no trap depends on a fault or an illegal instruction: every trap condition is
//! tested, and a true condition branches to a cold block that calls the `Trap` builtin with
//! the trap code (one such block per code and function); the builtin unwinds to the host, and
//! the `trap` instruction after the call is never executed. Integer division and remainder
//! and float-to-int conversions are guarded before the instruction (Cranelift's own checks
//! inside them become unreachable), and the stack limit is checked at the start of every body
//! ([`abi::store::STACK_FRAME_BOUND`]).
//!
//! [`Settings::signals_based_traps`]: precast_format::Settings::signals_based_traps

use super::{Translator, env::trap};
use cranelift_codegen::ir::{
    self, InstBuilder,
    condcodes::{FloatCC, IntCC},
    types::*,
};
use cranelift_codegen::isa::CallConv;
use precast_format::TrapCode;
use precast_format::abi;
use precast_format::builtins::{Builtin, Kind};

/// The Cranelift signature of builtin `which` (its declared [`Builtin::signature`]) for
/// pointer type `ptr` and the host calling convention. `extend_i32`: 32-bit integer
/// arguments are sign-extended to the register width, as the riscv64 C ABI requires of the
/// caller (for `u32` too).
pub fn builtin_signature(
    which: Builtin,
    ptr: ir::Type,
    call_conv: CallConv,
    extend_i32: bool,
) -> ir::Signature {
    let param = |k: &Kind| match k {
        Kind::U32 | Kind::I32 if extend_i32 => ir::AbiParam::new(I32).sext(),
        Kind::U32 | Kind::I32 => ir::AbiParam::new(I32),
        Kind::U64 | Kind::I64 => ir::AbiParam::new(I64),
        Kind::Vmctx | Kind::Pointer | Kind::Reference => ir::AbiParam::new(ptr),
    };
    let declared = which.signature();
    let mut sig = ir::Signature::new(call_conv);
    sig.params.extend(declared.params.iter().map(param));
    // Results are read at their own width: no extension needed.
    sig.returns.extend(declared.results.iter().map(|k| match k {
        Kind::U32 | Kind::I32 => ir::AbiParam::new(I32),
        Kind::U64 | Kind::I64 => ir::AbiParam::new(I64),
        Kind::Vmctx | Kind::Pointer | Kind::Reference => ir::AbiParam::new(ptr),
    }));
    sig
}

/// An upper bound, in bytes, of the stack that compiled function `func` occupies below its
/// caller's stack pointer: the return address and saved frame pointer, everything between
/// the frame pointer and the stack pointer (`frame_to_fp`: saved registers, spill slots,
/// stack slots, outgoing arguments), and the stack arguments of any tail call, which may
/// grow the incoming argument area.
pub fn frame_size_bound(func: &ir::Function, frame_to_fp: u32, pointer_bytes: u32) -> u64 {
    let mut tail_args = 0u64;
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            let op = func.dfg.insts[inst].opcode();
            if !matches!(op, ir::Opcode::ReturnCall | ir::Opcode::ReturnCallIndirect) {
                continue;
            }
            if let Some(sig) = func.dfg.call_signature(inst) {
                let bytes: u64 = func.dfg.signatures[sig]
                    .params
                    .iter()
                    .map(|p| u64::from(p.value_type.bytes().max(8)))
                    .sum();
                tail_args = tail_args.max(bytes.next_multiple_of(16));
            }
        }
    }
    2 * u64::from(pointer_bytes) + u64::from(frame_to_fp) + tail_args
}

/// The exclusive bounds `(low, high)` of the f64 values whose truncation fits an integer of
/// `bits` bits (`signed` or not): every f64 strictly between them converts.
fn fcvt_bounds(signed: bool, bits: u32) -> (f64, f64) {
    match (signed, bits) {
        (true, 32) => (-2_147_483_649.0, 2_147_483_648.0),
        (false, 32) => (-1.0, 4_294_967_296.0),
        // -2^63 - 2048: the f64 below -2^63.
        (true, _) => (-9_223_372_036_854_777_856.0, 9_223_372_036_854_775_808.0),
        (false, _) => (-1.0, 18_446_744_073_709_551_616.0),
    }
}

/// The integer division and remainder operators.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DivOp {
    SDiv,
    UDiv,
    SRem,
    URem,
}

impl Translator<'_, '_> {
    /// Ends the current block with a branch to the trap block of `code`, taken when `cond`
    /// is non-zero (`when_zero`: zero), always when `cond` is `None`; translation continues
    /// in a new block (unreachable for `None`).
    fn branch_to_trap(&mut self, cond: Option<ir::Value>, when_zero: bool, code: TrapCode) {
        let (block, fresh) = match self.trap_blocks.get(&code) {
            Some(b) => (*b, false),
            None => {
                let b = self.b.create_block();
                self.b.set_cold_block(b);
                self.trap_blocks.insert(code, b);
                (b, true)
            }
        };
        let cont = self.b.create_block();
        match cond {
            Some(c) if when_zero => self.b.ins().brif(c, cont, &[], block, &[]),
            Some(c) => self.b.ins().brif(c, block, &[], cont, &[]),
            None => self.b.ins().jump(block, &[]),
        };
        self.b.seal_block(cont);
        if fresh {
            self.b.switch_to_block(block);
            let c = self.b.ins().iconst(I32, i64::from(code as u8));
            self.call_builtin(Builtin::Trap, &[c]);
            // Never reached: the builtin does not return.
            self.b.ins().trap(trap(code));
        }
        self.b.switch_to_block(cont);
    }

    /// Traps with `code` unconditionally; translation continues in an unreachable block.
    pub(crate) fn trap_now(&mut self, code: TrapCode) {
        if self.signals() {
            self.b.ins().trap(trap(code));
            let c = self.b.create_block();
            self.b.seal_block(c);
            self.b.switch_to_block(c);
        } else {
            self.branch_to_trap(None, false, code);
        }
    }

    /// Traps with `code` if `v` is non-zero.
    pub(crate) fn trapnz(&mut self, v: ir::Value, code: TrapCode) {
        if self.signals() {
            self.b.ins().trapnz(v, trap(code));
        } else {
            self.branch_to_trap(Some(v), false, code);
        }
    }

    /// Traps with `code` if `v` is zero.
    pub(crate) fn trapz(&mut self, v: ir::Value, code: TrapCode) {
        if self.signals() {
            self.b.ins().trapz(v, trap(code));
        } else {
            self.branch_to_trap(Some(v), true, code);
        }
    }

    /// `a + b`, trapping with `code` on unsigned overflow.
    pub(crate) fn uadd_overflow_trap(
        &mut self,
        a: ir::Value,
        b: ir::Value,
        code: TrapCode,
    ) -> ir::Value {
        if self.signals() {
            self.b.ins().uadd_overflow_trap(a, b, trap(code))
        } else {
            let (sum, overflow) = self.b.ins().uadd_overflow(a, b);
            self.trapnz(overflow, code);
            sum
        }
    }

    /// Without signal-based traps: traps with a stack overflow unless the stack pointer is at
    /// least [`abi::store::STACK_FRAME_BOUND`] above the store's stack limit, so that any
    /// function this one calls has its whole frame above the limit before it checks in turn.
    pub(crate) fn explicit_stack_check(&mut self) {
        let ptr = self.env.ptr;
        let store = self.load_invariant(ptr, self.vmctx, self.env.offsets.store);
        let limit = self.load_trusted(ptr, store, abi::store::STACK_LIMIT);
        let floor = self
            .b
            .ins()
            .iadd_imm_u(limit, i64::from(abi::store::STACK_FRAME_BOUND));
        let sp = self.b.ins().get_stack_pointer(ptr);
        let overflow = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, floor);
        self.trapnz(overflow, TrapCode::StackOverflow);
    }

    /// `i32/i64.div_s/div_u/rem_s/rem_u`. Without signal-based traps the divisor is checked
    /// for zero, and a signed division for `MIN / -1`, before the instruction.
    pub(crate) fn op_div(&mut self, op: DivOp) {
        let (a, b) = self.pop2();
        if !self.signals() {
            self.trapz(b, TrapCode::IntegerDivisionByZero);
            if op == DivOp::SDiv {
                let ty = self.b.func.dfg.value_type(b);
                let min = if ty == I32 {
                    i64::from(i32::MIN)
                } else {
                    i64::MIN
                };
                let minus_one = self.b.ins().iconst(ty, -1);
                let min = self.b.ins().iconst(ty, min);
                let by_minus_one = self.b.ins().icmp(IntCC::Equal, b, minus_one);
                let of_min = self.b.ins().icmp(IntCC::Equal, a, min);
                let overflow = self.b.ins().band(by_minus_one, of_min);
                self.trapnz(overflow, TrapCode::IntegerOverflow);
            }
        }
        let ins = self.b.ins();
        let v = match op {
            DivOp::SDiv => ins.sdiv(a, b),
            DivOp::UDiv => ins.udiv(a, b),
            DivOp::SRem => ins.srem(a, b),
            DivOp::URem => ins.urem(a, b),
        };
        self.push(v);
    }

    /// `iN.trunc_fM_s/u` (trapping). Without signal-based traps, NaN and out-of-range inputs
    /// are checked before the conversion.
    pub(crate) fn op_fcvt_to_int(&mut self, to: ir::Type, signed: bool) {
        let x = self.pop();
        if !self.signals() {
            // Every f32 is exactly an f64.
            let wide = if self.b.func.dfg.value_type(x) == F32 {
                self.b.ins().fpromote(F64, x)
            } else {
                x
            };
            let nan = self.b.ins().fcmp(FloatCC::Unordered, wide, wide);
            self.trapnz(nan, TrapCode::BadConversionToInteger);
            let (low, high) = fcvt_bounds(signed, to.bits());
            let low = self.b.ins().f64const(low);
            let high = self.b.ins().f64const(high);
            let too_small = self.b.ins().fcmp(FloatCC::LessThanOrEqual, wide, low);
            let too_large = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, wide, high);
            let out = self.b.ins().bor(too_small, too_large);
            self.trapnz(out, TrapCode::IntegerOverflow);
        }
        let v = if signed {
            self.b.ins().fcvt_to_sint(to, x)
        } else {
            self.b.ins().fcvt_to_uint(to, x)
        };
        self.push(v);
    }
}

#[cfg(test)]
mod tests {
    use super::fcvt_bounds;

    #[test]
    fn fcvt_bounds_are_the_first_values_out_of_range() {
        for (signed, bits, min, max) in [
            (true, 32, i128::from(i32::MIN), i128::from(i32::MAX)),
            (false, 32, 0, i128::from(u32::MAX)),
            (true, 64, i128::from(i64::MIN), i128::from(i64::MAX)),
            (false, 64, 0, i128::from(u64::MAX)),
        ] {
            let (low, high) = fcvt_bounds(signed, bits);
            // The bounds themselves do not fit, the next f64 inward does (after truncation).
            assert!((low as i128) < min);
            assert!((high as i128) > max);
            let inside_low = f64::from_bits(if low < 0.0 {
                low.to_bits() - 1
            } else {
                low.to_bits() + 1
            });
            let inside_high = f64::from_bits(high.to_bits() - 1);
            assert!(inside_low.trunc() as i128 >= min, "{signed} {bits}");
            assert!(inside_high.trunc() as i128 <= max, "{signed} {bits}");
        }
    }
}
