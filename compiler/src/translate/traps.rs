//! Raising traps.
//!
//! The translator emits Cranelift's trap instructions (`trap`, `trapz`, `trapnz`,
//! `uadd_overflow_trap`) for every trap condition. With signal-based traps
//! ([`Settings::signals_based_traps`]) they stay, along with faulting loads, `sdiv`,
//! `fcvt_to_sint` and the prologue's stack check, and the loader's signal handler turns
//! their fault into a trap.
//!
//! Without, no trap depends on a fault or an illegal instruction: memory accesses are all
//! checked and flagged as not trapping; integer division and remainder and float-to-int
//! conversions are guarded before the instruction (Cranelift's own checks inside them become
//! unreachable); the stack limit is checked at the start of every body
//! ([`abi::store::STACK_FRAME_BOUND`]); and after Cranelift's mid-end has merged redundant
//! checks, [`raise_traps_by_calls`] turns every remaining trap instruction into a branch to a
//! cold block, one per trap code and function, that calls the `Trap` builtin with the code;
//! the builtin unwinds to the host, and the `trap` instruction after the call is never
//! executed.
//!
//! [`Settings::signals_based_traps`]: precast_format::Settings::signals_based_traps

use super::{Translator, env::from_ir_trap, env::trap};
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

/// Without signal-based traps: rewrites every `trap`, `trapz` and `trapnz` of the optimized
/// wasm function `func` into a branch to a cold block, one per trap code and `group` of the
/// trap's source location (the function whose code it is, inlined or not: the call keeps a
/// location of that function, so backtraces name the inlined frames), that calls the
/// `Trap` builtin with the code (and ends with a `trap` that is never executed, the
/// builtin does not return). Afterwards no instruction of `func` depends on a fault: its
/// memory accesses are all checked (and flagged as not trapping), its divisions and
/// float-to-int conversions guarded (Cranelift's own checks inside them are unreachable).
///
/// The translator emits trap instructions and this runs after Cranelift's mid-end, so that
/// the egraph merges redundant checks (a load and a store at one address, an access inside
/// a loop checked before it) exactly as it does for code with signal-based traps; branches
/// from the start would stay. The trap blocks read the VMContext from a frame slot the
/// function fills at entry, so nothing is live into them and their call constrains no
/// register of the code around the branches.
pub fn raise_traps_by_calls(
    func: &mut ir::Function,
    env: &super::ModuleEnv<'_>,
    group: &dyn Fn(ir::SourceLoc) -> u32,
) -> Result<(), String> {
    use cranelift_codegen::cursor::{Cursor, FuncCursor};
    let Some(entry) = func.layout.entry_block() else {
        return Ok(());
    };
    let mut sites = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            match func.dfg.insts[inst] {
                ir::InstructionData::CondTrap { opcode, arg, code } => {
                    sites.push((inst, Some((arg, opcode == ir::Opcode::Trapz)), code))
                }
                ir::InstructionData::Trap { code, .. } => sites.push((inst, None, code)),
                _ => {}
            }
        }
    }
    if sites.is_empty() {
        return Ok(());
    }
    let ptr = env.ptr;
    let vmctx = func.dfg.block_params(entry)[0];
    let slot = func.create_sized_stack_slot(ir::StackSlotData::new(
        ir::StackSlotKind::ExplicitSlot,
        ptr.bytes(),
        ptr.bytes().trailing_zeros() as u8,
    ));
    let sig = func.import_signature(builtin_signature(
        Builtin::Trap,
        ptr,
        env.host_call_conv,
        env.extend_i32_args,
    ));
    let mut pos = FuncCursor::new(func);
    pos.goto_first_insertion_point(entry);
    pos.ins().stack_store(ptr, vmctx, slot, 0);

    // By trap code and group: the block and a source location of the group.
    let mut blocks: std::collections::HashMap<(ir::TrapCode, u32), (ir::Block, ir::SourceLoc)> =
        Default::default();
    // Last first: each split moves the instructions after a trap up to the next split, so
    // every instruction moves once.
    for (inst, cond, code) in sites.into_iter().rev() {
        let loc = pos.func.srcloc(inst);
        let (raise, _) = *blocks.entry((code, group(loc))).or_insert_with(|| {
            let b = pos.func.dfg.make_block();
            pos.func.layout.append_block(b);
            pos.func.layout.set_cold(b);
            (b, loc)
        });
        match cond {
            Some((arg, when_zero)) => {
                let cont = pos.func.dfg.make_block();
                let next = pos.func.layout.next_inst(inst).ok_or("trap ends a block")?;
                // `cont` takes the instructions after the trap, right after its block.
                pos.func.layout.split_block(cont, next);
                if when_zero {
                    pos.func.replace(inst).brif(arg, cont, &[], raise, &[]);
                } else {
                    pos.func.replace(inst).brif(arg, raise, &[], cont, &[]);
                }
            }
            None => {
                pos.func.replace(inst).jump(raise, &[]);
            }
        }
    }
    // Every trapping instruction is gone (the `trap`s added below are never reached).
    for block in pos.func.layout.blocks() {
        for inst in pos.func.layout.block_insts(block) {
            let op = pos.func.dfg.insts[inst].opcode();
            if matches!(
                op,
                ir::Opcode::Trap
                    | ir::Opcode::Trapz
                    | ir::Opcode::Trapnz
                    | ir::Opcode::UaddOverflowTrap
            ) {
                return Err(format!("`{op}` left in code without signal-based traps"));
            }
        }
    }
    let p = u32::from(env.offsets.pointer_size);
    let builtins = env.offsets.builtins as i32;
    let mut blocks: Vec<_> = blocks.into_iter().collect();
    blocks.sort_by_key(|((code, group), _)| (code.as_raw(), *group));
    for ((code, _), (block, loc)) in blocks {
        pos.goto_bottom(block);
        pos.set_srcloc(loc);
        let flags = ir::MemFlagsData::trusted().with_readonly();
        let v = pos.ins().stack_load(ptr, ptr, slot, 0);
        let table = pos.ins().load(ptr, flags, v, builtins);
        let f = pos
            .ins()
            .load(ptr, flags, table, (Builtin::Trap.index() * p) as i32);
        let ours = from_ir_trap(code).ok_or("a trap code that is not Precast's")?;
        let c = pos.ins().iconst(I32, i64::from(ours as u8));
        pos.ins().call_indirect(sig, f, &[v, c]);
        pos.ins().trap(code);
    }
    Ok(())
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
    /// Traps with `code` unconditionally; translation continues in an unreachable block.
    pub(crate) fn trap_now(&mut self, code: TrapCode) {
        self.b.ins().trap(trap(code));
        let c = self.b.create_block();
        self.b.seal_block(c);
        self.b.switch_to_block(c);
    }

    /// Traps with `code` if `v` is non-zero.
    pub(crate) fn trapnz(&mut self, v: ir::Value, code: TrapCode) {
        self.b.ins().trapnz(v, trap(code));
    }

    /// Traps with `code` if `v` is zero.
    pub(crate) fn trapz(&mut self, v: ir::Value, code: TrapCode) {
        self.b.ins().trapz(v, trap(code));
    }

    /// `a + b`, trapping with `code` on unsigned overflow (without signal-based traps as an
    /// explicit `trapnz` of the overflow flag, which [`raise_traps_by_calls`] rewrites).
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
