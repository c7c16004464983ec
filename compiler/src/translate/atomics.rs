//! Threads proposal: atomic loads, stores, read-modify-writes and compare-exchanges,
//! `atomic.fence`, and `memory.atomic.wait32/64` / `memory.atomic.notify` (builtins).
//!
//! Every atomic access is bounds-checked explicitly (even under guard pages), then checked
//! for natural alignment, in the order the proposal specifies: an access that is both out of
//! bounds and unaligned traps as out of bounds.

use super::Translator;
use crate::CompileError;
use cranelift_codegen::ir::{self, AtomicRmwOp, InstBuilder, types::*};
use precast_format::TrapCode;
use precast_format::builtins::Builtin;
use wasmparser::{MemArg, Operator as O};

impl Translator<'_, '_> {
    /// Pops an index and returns the native address of an atomic access of `size` bytes,
    /// trapping when it is out of bounds or not naturally aligned.
    fn atomic_addr(&mut self, memarg: &MemArg, size: u32) -> ir::Value {
        let addr = self.heap_addr_checked(memarg, size, true);
        if size > 1 {
            // Memory bases are page aligned: the native address has the wasm address's
            // alignment.
            let low = self.b.ins().band_imm_u(addr, i64::from(size - 1));
            self.trapnz(low, TrapCode::HeapMisaligned);
        }
        addr
    }

    /// `result`-typed atomic load of `mem_ty`, zero-extended.
    fn atomic_load(&mut self, memarg: &MemArg, mem_ty: ir::Type, result: ir::Type) {
        let addr = self.atomic_addr(memarg, mem_ty.bytes());
        let flags = self.heap_flags();
        let v = self.b.ins().atomic_load(mem_ty, flags, addr);
        let v = self.zero_extend(v, mem_ty, result);
        self.push(v);
    }

    /// Atomic store of the popped value's low `mem_ty` bytes.
    fn atomic_store(&mut self, memarg: &MemArg, mem_ty: ir::Type) {
        let value = self.pop();
        let addr = self.atomic_addr(memarg, mem_ty.bytes());
        let value = self.narrow(value, mem_ty);
        let flags = self.heap_flags();
        self.b.ins().atomic_store(flags, value, addr);
    }

    /// Atomic read-modify-write of `mem_ty`; pushes the old value zero-extended to `result`.
    fn atomic_rmw(&mut self, memarg: &MemArg, op: AtomicRmwOp, mem_ty: ir::Type, result: ir::Type) {
        let value = self.pop();
        let addr = self.atomic_addr(memarg, mem_ty.bytes());
        let value = self.narrow(value, mem_ty);
        let flags = self.heap_flags();
        let old = self.b.ins().atomic_rmw(mem_ty, flags, op, addr, value);
        let old = self.zero_extend(old, mem_ty, result);
        self.push(old);
    }

    /// Atomic compare-exchange of `mem_ty` (expected and replacement wrapped to it); pushes
    /// the old value zero-extended to `result`.
    fn atomic_cmpxchg(&mut self, memarg: &MemArg, mem_ty: ir::Type, result: ir::Type) {
        let (expected, replacement) = self.pop2();
        let addr = self.atomic_addr(memarg, mem_ty.bytes());
        let expected = self.narrow(expected, mem_ty);
        let replacement = self.narrow(replacement, mem_ty);
        let flags = self.heap_flags();
        let old = self.b.ins().atomic_cas(flags, addr, expected, replacement);
        let old = self.zero_extend(old, mem_ty, result);
        self.push(old);
    }

    /// `memory.atomic.wait32/64`: blocks until notified or timed out (the builtin).
    fn atomic_wait(&mut self, memarg: &MemArg, value_ty: ir::Type) {
        let timeout = self.pop();
        let expected = self.pop();
        let addr = self.atomic_addr(memarg, value_ty.bytes());
        let which = if value_ty == I32 {
            Builtin::MemoryAtomicWait32
        } else {
            Builtin::MemoryAtomicWait64
        };
        let mem = self.b.ins().iconst(I32, i64::from(memarg.memory));
        let r = self.call_builtin(which, &[mem, addr, expected, timeout])[0];
        self.push_builtin_count(r);
    }

    /// `memory.atomic.notify`: wakes up to the popped count of waiters (the builtin).
    fn atomic_notify(&mut self, memarg: &MemArg) {
        let count = self.pop();
        let addr = self.atomic_addr(memarg, 4);
        let mem = self.b.ins().iconst(I32, i64::from(memarg.memory));
        let r = self.call_builtin(Builtin::MemoryAtomicNotify, &[mem, addr, count])[0];
        self.push_builtin_count(r);
    }

    /// Traps (the builtin recorded why) when `r` is negative, else pushes it as an i32.
    fn push_builtin_count(&mut self, r: ir::Value) {
        let failed = self
            .b
            .ins()
            .icmp_imm_s(ir::condcodes::IntCC::SignedLessThan, r, 0);
        self.trapnz(failed, TrapCode::Pending);
        let v = self.b.ins().ireduce(I32, r);
        self.push(v);
    }

    fn narrow(&mut self, v: ir::Value, to: ir::Type) -> ir::Value {
        if self.b.func.dfg.value_type(v) == to {
            v
        } else {
            self.b.ins().ireduce(to, v)
        }
    }

    fn zero_extend(&mut self, v: ir::Value, from: ir::Type, to: ir::Type) -> ir::Value {
        if from == to {
            v
        } else {
            self.b.ins().uextend(to, v)
        }
    }

    /// Translates `op` if it is a threads-proposal operator; `false` otherwise.
    pub(crate) fn atomic_op(&mut self, op: &O<'_>) -> Result<bool, CompileError> {
        use AtomicRmwOp as R;
        match *op {
            O::AtomicFence => {
                self.b.ins().fence();
            }
            O::MemoryAtomicNotify { ref memarg } => self.atomic_notify(memarg),
            O::MemoryAtomicWait32 { ref memarg } => self.atomic_wait(memarg, I32),
            O::MemoryAtomicWait64 { ref memarg } => self.atomic_wait(memarg, I64),

            O::I32AtomicLoad { ref memarg } => self.atomic_load(memarg, I32, I32),
            O::I64AtomicLoad { ref memarg } => self.atomic_load(memarg, I64, I64),
            O::I32AtomicLoad8U { ref memarg } => self.atomic_load(memarg, I8, I32),
            O::I32AtomicLoad16U { ref memarg } => self.atomic_load(memarg, I16, I32),
            O::I64AtomicLoad8U { ref memarg } => self.atomic_load(memarg, I8, I64),
            O::I64AtomicLoad16U { ref memarg } => self.atomic_load(memarg, I16, I64),
            O::I64AtomicLoad32U { ref memarg } => self.atomic_load(memarg, I32, I64),

            O::I32AtomicStore { ref memarg } => self.atomic_store(memarg, I32),
            O::I64AtomicStore { ref memarg } => self.atomic_store(memarg, I64),
            O::I32AtomicStore8 { ref memarg } | O::I64AtomicStore8 { ref memarg } => {
                self.atomic_store(memarg, I8)
            }
            O::I32AtomicStore16 { ref memarg } | O::I64AtomicStore16 { ref memarg } => {
                self.atomic_store(memarg, I16)
            }
            O::I64AtomicStore32 { ref memarg } => self.atomic_store(memarg, I32),

            O::I32AtomicRmwAdd { ref memarg } => self.atomic_rmw(memarg, R::Add, I32, I32),
            O::I64AtomicRmwAdd { ref memarg } => self.atomic_rmw(memarg, R::Add, I64, I64),
            O::I32AtomicRmw8AddU { ref memarg } => self.atomic_rmw(memarg, R::Add, I8, I32),
            O::I32AtomicRmw16AddU { ref memarg } => self.atomic_rmw(memarg, R::Add, I16, I32),
            O::I64AtomicRmw8AddU { ref memarg } => self.atomic_rmw(memarg, R::Add, I8, I64),
            O::I64AtomicRmw16AddU { ref memarg } => self.atomic_rmw(memarg, R::Add, I16, I64),
            O::I64AtomicRmw32AddU { ref memarg } => self.atomic_rmw(memarg, R::Add, I32, I64),

            O::I32AtomicRmwSub { ref memarg } => self.atomic_rmw(memarg, R::Sub, I32, I32),
            O::I64AtomicRmwSub { ref memarg } => self.atomic_rmw(memarg, R::Sub, I64, I64),
            O::I32AtomicRmw8SubU { ref memarg } => self.atomic_rmw(memarg, R::Sub, I8, I32),
            O::I32AtomicRmw16SubU { ref memarg } => self.atomic_rmw(memarg, R::Sub, I16, I32),
            O::I64AtomicRmw8SubU { ref memarg } => self.atomic_rmw(memarg, R::Sub, I8, I64),
            O::I64AtomicRmw16SubU { ref memarg } => self.atomic_rmw(memarg, R::Sub, I16, I64),
            O::I64AtomicRmw32SubU { ref memarg } => self.atomic_rmw(memarg, R::Sub, I32, I64),

            O::I32AtomicRmwAnd { ref memarg } => self.atomic_rmw(memarg, R::And, I32, I32),
            O::I64AtomicRmwAnd { ref memarg } => self.atomic_rmw(memarg, R::And, I64, I64),
            O::I32AtomicRmw8AndU { ref memarg } => self.atomic_rmw(memarg, R::And, I8, I32),
            O::I32AtomicRmw16AndU { ref memarg } => self.atomic_rmw(memarg, R::And, I16, I32),
            O::I64AtomicRmw8AndU { ref memarg } => self.atomic_rmw(memarg, R::And, I8, I64),
            O::I64AtomicRmw16AndU { ref memarg } => self.atomic_rmw(memarg, R::And, I16, I64),
            O::I64AtomicRmw32AndU { ref memarg } => self.atomic_rmw(memarg, R::And, I32, I64),

            O::I32AtomicRmwOr { ref memarg } => self.atomic_rmw(memarg, R::Or, I32, I32),
            O::I64AtomicRmwOr { ref memarg } => self.atomic_rmw(memarg, R::Or, I64, I64),
            O::I32AtomicRmw8OrU { ref memarg } => self.atomic_rmw(memarg, R::Or, I8, I32),
            O::I32AtomicRmw16OrU { ref memarg } => self.atomic_rmw(memarg, R::Or, I16, I32),
            O::I64AtomicRmw8OrU { ref memarg } => self.atomic_rmw(memarg, R::Or, I8, I64),
            O::I64AtomicRmw16OrU { ref memarg } => self.atomic_rmw(memarg, R::Or, I16, I64),
            O::I64AtomicRmw32OrU { ref memarg } => self.atomic_rmw(memarg, R::Or, I32, I64),

            O::I32AtomicRmwXor { ref memarg } => self.atomic_rmw(memarg, R::Xor, I32, I32),
            O::I64AtomicRmwXor { ref memarg } => self.atomic_rmw(memarg, R::Xor, I64, I64),
            O::I32AtomicRmw8XorU { ref memarg } => self.atomic_rmw(memarg, R::Xor, I8, I32),
            O::I32AtomicRmw16XorU { ref memarg } => self.atomic_rmw(memarg, R::Xor, I16, I32),
            O::I64AtomicRmw8XorU { ref memarg } => self.atomic_rmw(memarg, R::Xor, I8, I64),
            O::I64AtomicRmw16XorU { ref memarg } => self.atomic_rmw(memarg, R::Xor, I16, I64),
            O::I64AtomicRmw32XorU { ref memarg } => self.atomic_rmw(memarg, R::Xor, I32, I64),

            O::I32AtomicRmwXchg { ref memarg } => self.atomic_rmw(memarg, R::Xchg, I32, I32),
            O::I64AtomicRmwXchg { ref memarg } => self.atomic_rmw(memarg, R::Xchg, I64, I64),
            O::I32AtomicRmw8XchgU { ref memarg } => self.atomic_rmw(memarg, R::Xchg, I8, I32),
            O::I32AtomicRmw16XchgU { ref memarg } => self.atomic_rmw(memarg, R::Xchg, I16, I32),
            O::I64AtomicRmw8XchgU { ref memarg } => self.atomic_rmw(memarg, R::Xchg, I8, I64),
            O::I64AtomicRmw16XchgU { ref memarg } => self.atomic_rmw(memarg, R::Xchg, I16, I64),
            O::I64AtomicRmw32XchgU { ref memarg } => self.atomic_rmw(memarg, R::Xchg, I32, I64),

            O::I32AtomicRmwCmpxchg { ref memarg } => self.atomic_cmpxchg(memarg, I32, I32),
            O::I64AtomicRmwCmpxchg { ref memarg } => self.atomic_cmpxchg(memarg, I64, I64),
            O::I32AtomicRmw8CmpxchgU { ref memarg } => self.atomic_cmpxchg(memarg, I8, I32),
            O::I32AtomicRmw16CmpxchgU { ref memarg } => self.atomic_cmpxchg(memarg, I16, I32),
            O::I64AtomicRmw8CmpxchgU { ref memarg } => self.atomic_cmpxchg(memarg, I8, I64),
            O::I64AtomicRmw16CmpxchgU { ref memarg } => self.atomic_cmpxchg(memarg, I16, I64),
            O::I64AtomicRmw32CmpxchgU { ref memarg } => self.atomic_cmpxchg(memarg, I32, I64),
            _ => return Ok(false),
        }
        Ok(true)
    }
}
