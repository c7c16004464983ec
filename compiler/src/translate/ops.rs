//! The operator dispatch: one arm per wasm operator.

use super::{Translator, traps::DivOp};
use crate::CompileError;
use cranelift_codegen::ir::{
    self, InstBuilder,
    condcodes::{FloatCC, IntCC},
    immediates::{Ieee32, Ieee64},
    types::*,
};
use precast_format::TrapCode;
use wasmparser::Operator as O;

macro_rules! bin {
    ($s:ident, $m:ident) => {{
        let (a, b) = $s.pop2();
        let v = $s.b.ins().$m(a, b);
        $s.push(v);
    }};
}

macro_rules! un {
    ($s:ident, $m:ident) => {{
        let a = $s.pop();
        let v = $s.b.ins().$m(a);
        $s.push(v);
    }};
}

macro_rules! conv {
    ($s:ident, $m:ident, $ty:expr) => {{
        let a = $s.pop();
        let v = $s.b.ins().$m($ty, a);
        $s.push(v);
    }};
}

macro_rules! bitcast {
    ($s:ident, $ty:expr) => {{
        let a = $s.pop();
        let v = $s.b.ins().bitcast($ty, ir::MemFlagsData::new(), a);
        $s.push(v);
    }};
}

impl Translator<'_, '_> {
    /// Translates one operator.
    pub(crate) fn op(&mut self, op: &O<'_>) -> Result<(), CompileError> {
        if !self.reachable {
            self.skip_unreachable(op)?;
            return Ok(());
        }
        self.fuel_before(op);
        match *op {
            // Control.
            O::Nop => {}
            O::Unreachable => {
                self.trap_now(TrapCode::UnreachableCodeReached);
                self.reachable = false;
            }
            O::Block { blockty } => self.op_block(blockty),
            O::Loop { blockty } => self.op_loop(blockty),
            O::If { blockty } => self.op_if(blockty),
            O::Else => self.op_else()?,
            O::End => self.op_end()?,
            O::Br { relative_depth } => self.op_br(relative_depth),
            O::BrIf { relative_depth } => self.op_br_if(relative_depth),
            O::BrTable { ref targets } => self.op_br_table(targets)?,
            O::Return => self.op_return(),
            O::Call { function_index } => self.op_call(function_index, false),
            O::ReturnCall { function_index } => self.op_call(function_index, true),
            O::CallIndirect {
                type_index,
                table_index,
            } => self.op_call_indirect(type_index, table_index, false)?,
            O::ReturnCallIndirect {
                type_index,
                table_index,
            } => self.op_call_indirect(type_index, table_index, true)?,
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let (a, b, c) = self.pop3();
                let v = self.b.ins().select(c, a, b);
                self.push(v);
            }

            // Locals and globals.
            O::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize]);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().ok_or_else(stack_err)?;
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::GlobalGet { global_index } => self.op_global_get(global_index),
            O::GlobalSet { global_index } => self.op_global_set(global_index),

            // Memory.
            O::I32Load { ref memarg } => self.op_load(memarg, I32, I32, false),
            O::I64Load { ref memarg } => self.op_load(memarg, I64, I64, false),
            O::F32Load { ref memarg } => self.op_load(memarg, F32, F32, false),
            O::F64Load { ref memarg } => self.op_load(memarg, F64, F64, false),
            O::I32Load8S { ref memarg } => self.op_load(memarg, I8, I32, true),
            O::I32Load8U { ref memarg } => self.op_load(memarg, I8, I32, false),
            O::I32Load16S { ref memarg } => self.op_load(memarg, I16, I32, true),
            O::I32Load16U { ref memarg } => self.op_load(memarg, I16, I32, false),
            O::I64Load8S { ref memarg } => self.op_load(memarg, I8, I64, true),
            O::I64Load8U { ref memarg } => self.op_load(memarg, I8, I64, false),
            O::I64Load16S { ref memarg } => self.op_load(memarg, I16, I64, true),
            O::I64Load16U { ref memarg } => self.op_load(memarg, I16, I64, false),
            O::I64Load32S { ref memarg } => self.op_load(memarg, I32, I64, true),
            O::I64Load32U { ref memarg } => self.op_load(memarg, I32, I64, false),
            O::I32Store { ref memarg } => self.op_store(memarg, I32),
            O::I64Store { ref memarg } => self.op_store(memarg, I64),
            O::F32Store { ref memarg } => self.op_store(memarg, F32),
            O::F64Store { ref memarg } => self.op_store(memarg, F64),
            O::I32Store8 { ref memarg } | O::I64Store8 { ref memarg } => self.op_store(memarg, I8),
            O::I32Store16 { ref memarg } | O::I64Store16 { ref memarg } => {
                self.op_store(memarg, I16)
            }
            O::I64Store32 { ref memarg } => self.op_store(memarg, I32),
            O::MemorySize { mem } => self.op_memory_size(mem),
            O::MemoryGrow { mem } => self.op_memory_grow(mem),
            O::MemoryFill { mem } => self.op_memory_fill(mem),
            O::MemoryCopy { dst_mem, src_mem } => self.op_memory_copy(dst_mem, src_mem),
            O::MemoryInit { data_index, mem } => self.op_memory_init(mem, data_index),
            O::DataDrop { data_index } => self.op_data_drop(data_index),

            // Tables and references.
            O::TableGet { table } => self.op_table_get(table),
            O::TableSet { table } => self.op_table_set(table),
            O::TableSize { table } => self.op_table_size(table),
            O::TableGrow { table } => self.op_table_grow(table),
            O::TableFill { table } => self.op_table_fill(table),
            O::TableCopy {
                dst_table,
                src_table,
            } => self.op_table_copy(dst_table, src_table),
            O::TableInit { elem_index, table } => self.op_table_init(table, elem_index),
            O::ElemDrop { elem_index } => self.op_elem_drop(elem_index),
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(self.env.ptr, 0);
                self.push(v);
            }
            O::RefIsNull => self.eqz(),
            O::RefFunc { function_index } => self.op_ref_func(function_index),

            // Constants.
            O::I32Const { value } => {
                let v = self.b.ins().iconst(I32, i64::from(value));
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            // Integer comparisons.
            O::I32Eqz | O::I64Eqz => self.eqz(),
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal),
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),

            // Float comparisons.
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),

            // Integer arithmetic.
            O::I32Clz | O::I64Clz => un!(self, clz),
            O::I32Ctz | O::I64Ctz => un!(self, ctz),
            O::I32Popcnt | O::I64Popcnt => un!(self, popcnt),
            O::I32Add | O::I64Add => bin!(self, iadd),
            O::I32Sub | O::I64Sub => bin!(self, isub),
            O::I32Mul | O::I64Mul => bin!(self, imul),
            O::I32DivS | O::I64DivS => self.op_div(DivOp::SDiv),
            O::I32DivU | O::I64DivU => self.op_div(DivOp::UDiv),
            O::I32RemS | O::I64RemS => self.op_div(DivOp::SRem),
            O::I32RemU | O::I64RemU => self.op_div(DivOp::URem),
            O::I32And | O::I64And => bin!(self, band),
            O::I32Or | O::I64Or => bin!(self, bor),
            O::I32Xor | O::I64Xor => bin!(self, bxor),
            O::I32Shl | O::I64Shl => bin!(self, ishl),
            O::I32ShrS | O::I64ShrS => bin!(self, sshr),
            O::I32ShrU | O::I64ShrU => bin!(self, ushr),
            O::I32Rotl | O::I64Rotl => bin!(self, rotl),
            O::I32Rotr | O::I64Rotr => bin!(self, rotr),

            // Float arithmetic.
            O::F32Abs | O::F64Abs => un!(self, fabs),
            O::F32Neg | O::F64Neg => un!(self, fneg),
            O::F32Ceil | O::F64Ceil => un!(self, ceil),
            O::F32Floor | O::F64Floor => un!(self, floor),
            O::F32Trunc | O::F64Trunc => un!(self, trunc),
            O::F32Nearest | O::F64Nearest => un!(self, nearest),
            O::F32Sqrt | O::F64Sqrt => un!(self, sqrt),
            O::F32Add | O::F64Add => bin!(self, fadd),
            O::F32Sub | O::F64Sub => bin!(self, fsub),
            O::F32Mul | O::F64Mul => bin!(self, fmul),
            O::F32Div | O::F64Div => bin!(self, fdiv),
            O::F32Min | O::F64Min => bin!(self, fmin),
            O::F32Max | O::F64Max => bin!(self, fmax),
            O::F32Copysign | O::F64Copysign => bin!(self, fcopysign),

            // Conversions.
            O::I32WrapI64 => conv!(self, ireduce, I32),
            O::I64ExtendI32S => conv!(self, sextend, I64),
            O::I64ExtendI32U => conv!(self, uextend, I64),
            O::I32TruncF32S | O::I32TruncF64S => self.op_fcvt_to_int(I32, true),
            O::I32TruncF32U | O::I32TruncF64U => self.op_fcvt_to_int(I32, false),
            O::I64TruncF32S | O::I64TruncF64S => self.op_fcvt_to_int(I64, true),
            O::I64TruncF32U | O::I64TruncF64U => self.op_fcvt_to_int(I64, false),
            O::I32TruncSatF32S | O::I32TruncSatF64S => conv!(self, fcvt_to_sint_sat, I32),
            O::I32TruncSatF32U | O::I32TruncSatF64U => conv!(self, fcvt_to_uint_sat, I32),
            O::I64TruncSatF32S | O::I64TruncSatF64S => conv!(self, fcvt_to_sint_sat, I64),
            O::I64TruncSatF32U | O::I64TruncSatF64U => conv!(self, fcvt_to_uint_sat, I64),
            O::F32ConvertI32S | O::F32ConvertI64S => conv!(self, fcvt_from_sint, F32),
            O::F32ConvertI32U | O::F32ConvertI64U => conv!(self, fcvt_from_uint, F32),
            O::F64ConvertI32S | O::F64ConvertI64S => conv!(self, fcvt_from_sint, F64),
            O::F64ConvertI32U | O::F64ConvertI64U => conv!(self, fcvt_from_uint, F64),
            O::F32DemoteF64 => conv!(self, fdemote, F32),
            O::F64PromoteF32 => conv!(self, fpromote, F64),
            O::I32ReinterpretF32 => bitcast!(self, I32),
            O::I64ReinterpretF64 => bitcast!(self, I64),
            O::F32ReinterpretI32 => bitcast!(self, F32),
            O::F64ReinterpretI64 => bitcast!(self, F64),
            O::I32Extend8S => self.sign_extend_low(I8, I32),
            O::I32Extend16S => self.sign_extend_low(I16, I32),
            O::I64Extend8S => self.sign_extend_low(I8, I64),
            O::I64Extend16S => self.sign_extend_low(I16, I64),
            O::I64Extend32S => self.sign_extend_low(I32, I64),

            // Wide arithmetic.
            O::I64Add128 | O::I64Sub128 => {
                let (lo2, hi2) = self.pop2();
                let (lo1, hi1) = self.pop2();
                let a = self.b.ins().iconcat(lo1, hi1);
                let b = self.b.ins().iconcat(lo2, hi2);
                let r = if matches!(op, O::I64Add128) {
                    self.b.ins().iadd(a, b)
                } else {
                    self.b.ins().isub(a, b)
                };
                let (lo, hi) = self.b.ins().isplit(r);
                self.push(lo);
                self.push(hi);
            }
            O::I64MulWideS | O::I64MulWideU => {
                let (a, b) = self.pop2();
                let lo = self.b.ins().imul(a, b);
                let hi = if matches!(op, O::I64MulWideS) {
                    self.b.ins().smulhi(a, b)
                } else {
                    self.b.ins().umulhi(a, b)
                };
                self.push(lo);
                self.push(hi);
            }

            // Typed function references.
            O::CallRef { type_index } => self.op_call_ref(type_index, false),
            O::ReturnCallRef { type_index } => self.op_call_ref(type_index, true),
            O::BrOnNull { relative_depth } => self.op_br_on_null(relative_depth, true),
            O::BrOnNonNull { relative_depth } => self.op_br_on_null(relative_depth, false),
            O::RefAsNonNull => {
                let v = *self.stack.last().ok_or_else(stack_err)?;
                self.trapz(v, TrapCode::NullReference);
            }

            ref other => {
                if !self.simd_op(other)? && !self.atomic_op(other)? {
                    return Err(CompileError::Unsupported(format!("operator {other:?}")));
                }
            }
        }
        Ok(())
    }
}

fn stack_err() -> CompileError {
    CompileError::Unsupported("operand stack underflow".into())
}
