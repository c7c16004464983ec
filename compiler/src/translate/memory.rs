//! Linear memory: address computation with guard pages or explicit bounds checks, loads,
//! stores, size/grow and bulk memory.

use super::{Translator, env::trap};
use cranelift_codegen::ir::{self, InstBuilder, condcodes::IntCC, types::*};
use precast_format::TrapCode;
use precast_format::abi;
use precast_format::builtins::Builtin;
use precast_format::header::BoundsChecks;
use wasmparser::MemArg;

impl Translator<'_, '_> {
    /// The pointer to memory `mem`'s `VMMemoryDefinition` and the offset of it from that pointer.
    fn memory_def(&mut self, mem: u32) -> (ir::Value, u32) {
        let o = self.env.offsets;
        let imported = self.env.info.num_imported_memories;
        if mem < imported {
            let p = self.load_invariant(self.env.ptr, self.vmctx, o.imported_memory(mem));
            (p, 0)
        } else {
            (self.vmctx, o.defined_memory(mem - imported))
        }
    }

    /// The base address of memory `mem`. With signal-based traps memories are reservations
    /// that never move, and the base is loaded once; without, a platform may move a memory
    /// when it grows, so the base is reloaded after anything that may grow it (any call).
    pub(crate) fn memory_base(&mut self, mem: u32) -> ir::Value {
        let (p, off) = self.memory_def(mem);
        if self.signals() {
            self.load_invariant(self.env.ptr, p, off + abi::memory::BASE)
        } else {
            self.load_trusted(self.env.ptr, p, off + abi::memory::BASE)
        }
    }

    /// The current length of memory `mem` in bytes.
    pub(crate) fn memory_length(&mut self, mem: u32) -> ir::Value {
        let (p, off) = self.memory_def(mem);
        let len_off = off + abi::memory::length(self.env.offsets.pointer_size);
        self.load_trusted(self.env.ptr, p, len_off)
    }

    fn is_memory64(&self, mem: u32) -> bool {
        self.env.info.memories[mem as usize].memory64
    }

    /// Converts a wasm index of memory `mem` to a pointer-width integer.
    pub(crate) fn index_to_ptr(&mut self, index: ir::Value, is64: bool) -> ir::Value {
        if is64 {
            index
        } else {
            self.b.ins().uextend(self.env.ptr, index)
        }
    }

    /// Pops an index and returns the native address of an access of `size` bytes at
    /// `memarg`, trapping if it is out of bounds.
    pub(crate) fn heap_addr(&mut self, memarg: &MemArg, size: u32) -> ir::Value {
        self.heap_addr_checked(memarg, size, false)
    }

    /// [`Self::heap_addr`], with an explicit bounds check even where guard pages would catch
    /// the access when `explicit` is set.
    pub(crate) fn heap_addr_checked(
        &mut self,
        memarg: &MemArg,
        size: u32,
        explicit: bool,
    ) -> ir::Value {
        let mem = memarg.memory;
        let is64 = self.is_memory64(mem);
        let index = self.pop();
        let index = self.index_to_ptr(index, is64);
        let s = self.env.settings;
        let end = memarg.offset.saturating_add(u64::from(size));
        // Guard pages only catch accesses past whole OS pages: memories with smaller wasm
        // pages (custom-page-sizes) are checked explicitly.
        let os_page_sized = self.env.info.memories[mem as usize].page_size_log2 >= 12;
        let guarded = !explicit
            && s.bounds_checks == BoundsChecks::GuardPages
            && !is64
            && os_page_sized
            && s.memory_reservation >= 1 << 32
            && end <= s.memory_guard_size;
        let mut spectre_guard = None;
        if !guarded {
            // index + offset + size <= length, without wrapping.
            let len = self.memory_length(mem);
            let end_addr = if end > i64::MAX as u64 {
                self.trap_now(TrapCode::MemoryOutOfBounds);
                index
            } else {
                let end_v = self.b.ins().iconst(self.env.ptr, end as i64);
                if is64 {
                    self.uadd_overflow_trap(index, end_v, TrapCode::MemoryOutOfBounds)
                } else {
                    // A 32-bit index plus at most i64::MAX cannot wrap.
                    self.b.ins().iadd(index, end_v)
                }
            };
            let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end_addr, len);
            self.trapnz(oob, TrapCode::MemoryOutOfBounds);
            if s.spectre_mitigations {
                spectre_guard = Some(oob);
            }
        }
        let base = self.memory_base(mem);
        let addr = self.b.ins().iadd(base, index);
        let addr = if memarg.offset == 0 {
            addr
        } else if memarg.offset <= i32::MAX as u64 {
            self.b.ins().iadd_imm_u(addr, memarg.offset as i64)
        } else {
            let off = self.b.ins().iconst(self.env.ptr, memarg.offset as i64);
            self.b.ins().iadd(addr, off)
        };
        match spectre_guard {
            Some(oob) => self.spectre_guard(oob, addr),
            None => addr,
        }
    }

    /// `addr`, or null where `oob` holds, through a conditional move that the CPU does not
    /// predict: a mispredicted bounds-check branch cannot load out of bounds (Spectre v1).
    pub(crate) fn spectre_guard(&mut self, oob: ir::Value, addr: ir::Value) -> ir::Value {
        let null = self.b.ins().iconst(self.env.ptr, 0);
        self.b.ins().select_spectre_guard(oob, null, addr)
    }

    /// Flags of a wasm linear-memory access: little-endian, in the linear-memory alias region;
    /// with signal-based traps it may fault out of bounds (a guard page), without it never
    /// faults (every access is checked explicitly) and is no trap site.
    pub(crate) fn heap_flags(&self) -> ir::MemFlagsData {
        let code = self.signals().then(|| trap(TrapCode::MemoryOutOfBounds));
        ir::MemFlagsData::new()
            .with_endianness(ir::Endianness::Little)
            .with_trap_code(code)
            .with_alias_region(Some(self.regions.heap))
    }

    /// A load of `mem_ty` extended to `result` (`signed` selects sign extension).
    pub(crate) fn op_load(
        &mut self,
        memarg: &MemArg,
        mem_ty: ir::Type,
        result: ir::Type,
        signed: bool,
    ) {
        let addr = self.heap_addr(memarg, mem_ty.bytes());
        let flags = self.heap_flags();
        let v = if mem_ty == result {
            self.b.ins().load(result, flags, addr, 0)
        } else {
            let ins = self.b.ins();
            match (mem_ty, signed) {
                (I8, true) => ins.sload8(result, flags, addr, 0),
                (I8, false) => ins.uload8(result, flags, addr, 0),
                (I16, true) => ins.sload16(result, flags, addr, 0),
                (I16, false) => ins.uload16(result, flags, addr, 0),
                (I32, true) => ins.sload32(flags, addr, 0),
                _ => ins.uload32(flags, addr, 0),
            }
        };
        self.push(v);
    }

    /// A store of the low `mem_ty` bytes of the popped value.
    pub(crate) fn op_store(&mut self, memarg: &MemArg, mem_ty: ir::Type) {
        let value = self.pop();
        let addr = self.heap_addr(memarg, mem_ty.bytes());
        let flags = self.heap_flags();
        let value_ty = self.b.func.dfg.value_type(value);
        let ins = self.b.ins();
        if mem_ty == value_ty || mem_ty.is_vector() {
            ins.store(flags, value, addr, 0);
        } else {
            match mem_ty {
                I8 => ins.istore8(flags, value, addr, 0),
                I16 => ins.istore16(flags, value, addr, 0),
                _ => ins.istore32(flags, value, addr, 0),
            };
        }
    }

    /// `memory.size`.
    pub(crate) fn op_memory_size(&mut self, mem: u32) {
        let len = self.memory_length(mem);
        let shift = self.env.info.memories[mem as usize].page_size_log2;
        let pages = self.b.ins().ushr_imm_u(len, i64::from(shift));
        let v = if self.is_memory64(mem) {
            pages
        } else {
            self.b.ins().ireduce(I32, pages)
        };
        self.push(v);
    }

    /// `memory.grow`.
    pub(crate) fn op_memory_grow(&mut self, mem: u32) {
        let is64 = self.is_memory64(mem);
        let delta = self.pop();
        let delta = self.index_to_ptr(delta, is64);
        let m = self.b.ins().iconst(I32, i64::from(mem));
        let r = self.call_builtin(Builtin::MemoryGrow, &[m, delta])[0];
        self.trap_if_grow_trapped(r);
        let v = if is64 {
            r
        } else {
            self.b.ins().ireduce(I32, r)
        };
        self.push(v);
    }

    /// `memory.fill`.
    pub(crate) fn op_memory_fill(&mut self, mem: u32) {
        let is64 = self.is_memory64(mem);
        let (dst, val, len) = self.pop3();
        let dst = self.index_to_ptr(dst, is64);
        let len = self.index_to_ptr(len, is64);
        let m = self.b.ins().iconst(I32, i64::from(mem));
        let st = self.call_builtin(Builtin::MemoryFill, &[m, dst, val, len])[0];
        self.trap_if_status(st);
    }

    /// `memory.copy`.
    pub(crate) fn op_memory_copy(&mut self, dst_mem: u32, src_mem: u32) {
        let (d64, s64) = (self.is_memory64(dst_mem), self.is_memory64(src_mem));
        let (dst, src, len) = self.pop3();
        let dst = self.index_to_ptr(dst, d64);
        let src = self.index_to_ptr(src, s64);
        let len = self.index_to_ptr(len, d64 && s64);
        let dm = self.b.ins().iconst(I32, i64::from(dst_mem));
        let sm = self.b.ins().iconst(I32, i64::from(src_mem));
        let st = self.call_builtin(Builtin::MemoryCopy, &[dm, sm, dst, src, len])[0];
        self.trap_if_status(st);
    }

    /// `memory.init`.
    pub(crate) fn op_memory_init(&mut self, mem: u32, data: u32) {
        let is64 = self.is_memory64(mem);
        let (dst, src, len) = self.pop3();
        let dst = self.index_to_ptr(dst, is64);
        let m = self.b.ins().iconst(I32, i64::from(mem));
        let d = self.b.ins().iconst(I32, i64::from(data));
        let st = self.call_builtin(Builtin::MemoryInit, &[m, d, dst, src, len])[0];
        self.trap_if_status(st);
    }

    /// `data.drop`.
    pub(crate) fn op_data_drop(&mut self, data: u32) {
        let d = self.b.ins().iconst(I32, i64::from(data));
        self.call_builtin(Builtin::DataDrop, &[d]);
    }
}
