//! Tables, function references, globals and calls.

use super::Translator;
use crate::CompileError;
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{self, InstBuilder, condcodes::IntCC, types::*};
use precast_format::TrapCode;
use precast_format::abi;
use precast_format::builtins::Builtin;
use precast_format::module::ValType;

impl Translator<'_, '_> {
    /// The pointer to table `table`'s `VMTableDefinition` and the offset of it from that pointer.
    fn table_def(&mut self, table: u32) -> (ir::Value, u32) {
        let o = self.env.offsets;
        let imported = self.env.info.num_imported_tables;
        if table < imported {
            let p = self.load_invariant(self.env.ptr, self.vmctx, o.imported_table(table));
            (p, 0)
        } else {
            (self.vmctx, o.defined_table(table - imported))
        }
    }

    fn is_table64(&self, table: u32) -> bool {
        self.env.info.tables[table as usize].ty.table64
    }

    fn table_length(&mut self, table: u32) -> ir::Value {
        let (p, off) = self.table_def(table);
        let off = off + abi::table::length(self.env.offsets.pointer_size);
        self.load_trusted(self.env.ptr, p, off)
    }

    /// Address of element `index` (a wasm index value) of `table`, trapping with `oob_code`
    /// when out of bounds.
    fn table_elem_addr(&mut self, table: u32, index: ir::Value, oob_code: TrapCode) -> ir::Value {
        let is64 = self.is_table64(table);
        let index = self.index_to_ptr(index, is64);
        let len = self.table_length(table);
        let oob = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.trapnz(oob, oob_code);
        let (p, off) = self.table_def(table);
        let base = self.load_trusted(self.env.ptr, p, off + abi::table::BASE);
        let scaled = self
            .b
            .ins()
            .imul_imm_u(index, i64::from(self.env.offsets.pointer_size));
        let addr = self.b.ins().iadd(base, scaled);
        if self.env.settings.spectre_mitigations {
            self.spectre_guard(oob, addr)
        } else {
            addr
        }
    }

    /// `table.get`.
    pub(crate) fn op_table_get(&mut self, table: u32) {
        let index = self.pop();
        let addr = self.table_elem_addr(table, index, TrapCode::TableOutOfBounds);
        let v = self.load_in(self.regions.tables, self.env.ptr, addr, 0);
        self.push(v);
    }

    /// `table.set`.
    pub(crate) fn op_table_set(&mut self, table: u32) {
        let (index, value) = self.pop2();
        let addr = self.table_elem_addr(table, index, TrapCode::TableOutOfBounds);
        self.store_in(self.regions.tables, value, addr, 0);
    }

    /// `table.size`.
    pub(crate) fn op_table_size(&mut self, table: u32) {
        let len = self.table_length(table);
        let v = if self.is_table64(table) {
            len
        } else {
            self.b.ins().ireduce(I32, len)
        };
        self.push(v);
    }

    /// `table.grow`.
    pub(crate) fn op_table_grow(&mut self, table: u32) {
        let is64 = self.is_table64(table);
        let (init, delta) = self.pop2();
        let delta = self.index_to_ptr(delta, is64);
        let t = self.b.ins().iconst(I32, i64::from(table));
        let r = self.call_builtin(Builtin::TableGrow, &[t, delta, init])[0];
        self.trap_if_grow_trapped(r);
        let v = if is64 {
            r
        } else {
            self.b.ins().ireduce(I32, r)
        };
        self.push(v);
    }

    /// `table.fill`.
    pub(crate) fn op_table_fill(&mut self, table: u32) {
        let is64 = self.is_table64(table);
        let (dst, value, len) = self.pop3();
        let dst = self.index_to_ptr(dst, is64);
        let len = self.index_to_ptr(len, is64);
        let t = self.b.ins().iconst(I32, i64::from(table));
        let st = self.call_builtin(Builtin::TableFill, &[t, dst, value, len])[0];
        self.trap_if_status(st);
    }

    /// `table.copy`.
    pub(crate) fn op_table_copy(&mut self, dst_table: u32, src_table: u32) {
        let (d64, s64) = (self.is_table64(dst_table), self.is_table64(src_table));
        let (dst, src, len) = self.pop3();
        let dst = self.index_to_ptr(dst, d64);
        let src = self.index_to_ptr(src, s64);
        let len = self.index_to_ptr(len, d64 && s64);
        let dt = self.b.ins().iconst(I32, i64::from(dst_table));
        let stb = self.b.ins().iconst(I32, i64::from(src_table));
        let st = self.call_builtin(Builtin::TableCopy, &[dt, stb, dst, src, len])[0];
        self.trap_if_status(st);
    }

    /// `table.init`.
    pub(crate) fn op_table_init(&mut self, table: u32, elem: u32) {
        let is64 = self.is_table64(table);
        let (dst, src, len) = self.pop3();
        let dst = self.index_to_ptr(dst, is64);
        let t = self.b.ins().iconst(I32, i64::from(table));
        let e = self.b.ins().iconst(I32, i64::from(elem));
        let st = self.call_builtin(Builtin::TableInit, &[t, e, dst, src, len])[0];
        self.trap_if_status(st);
    }

    /// `elem.drop`.
    pub(crate) fn op_elem_drop(&mut self, elem: u32) {
        let e = self.b.ins().iconst(I32, i64::from(elem));
        self.call_builtin(Builtin::ElemDrop, &[e]);
    }

    /// `ref.func`: a pointer to the function's `VMFuncRef` in this VMContext.
    pub(crate) fn op_ref_func(&mut self, func: u32) {
        let off = self.env.offsets.func_ref(func);
        let v = self.b.ins().iadd_imm_u(self.vmctx, i64::from(off));
        self.push(v);
    }

    /// Address and value type of global `index`.
    fn global_addr(&mut self, index: u32) -> (ir::Value, u32, ir::Type) {
        let o = self.env.offsets;
        let g = &self.env.info.globals[index as usize];
        let ty = self.env.ir_type(g.ty.content);
        let imported = self.env.info.num_imported_globals;
        if index < imported {
            let p = self.load_invariant(self.env.ptr, self.vmctx, o.imported_global(index));
            (p, 0, ty)
        } else {
            (self.vmctx, o.defined_global(index - imported), ty)
        }
    }

    /// `global.get`. An immutable defined number global with a constant initializer is that
    /// constant (Cranelift then folds it on).
    pub(crate) fn op_global_get(&mut self, index: u32) {
        let g = &self.env.info.globals[index as usize];
        let constant = match (&g.init, g.ty.mutable) {
            (Some(init), false) => init.constant(),
            _ => None,
        };
        if let Some(bits) = constant {
            let ins = self.b.ins();
            let v = match g.ty.content {
                ValType::I32 => Some(ins.iconst(I32, i64::from(bits as u32 as i32))),
                ValType::I64 => Some(ins.iconst(I64, bits as u64 as i64)),
                ValType::F32 => Some(ins.f32const(Ieee32::with_bits(bits as u32))),
                ValType::F64 => Some(ins.f64const(Ieee64::with_bits(bits as u64))),
                ValType::V128 | ValType::Ref(_) => None,
            };
            if let Some(v) = v {
                self.push(v);
                return;
            }
        }
        let (base, off, ty) = self.global_addr(index);
        let mutable = self.env.info.globals[index as usize].ty.mutable;
        let v = if mutable {
            self.load_in(self.regions.globals, ty, base, off)
        } else {
            self.load_invariant(ty, base, off)
        };
        self.push(v);
    }

    /// `global.set`.
    pub(crate) fn op_global_set(&mut self, index: u32) {
        let value = self.pop();
        let (base, off, _) = self.global_addr(index);
        self.store_in(self.regions.globals, value, base, off);
    }

    /// `call` and `return_call`.
    pub(crate) fn op_call(&mut self, func: u32, tail: bool) {
        let ty = self.env.info.functions[func as usize];
        let n = self.env.info.types[ty as usize].params.len();
        let params = self.popn(n);
        if func < self.env.info.num_imported_funcs {
            let off = self.env.offsets.func_ref(func);
            let p = self.env.offsets.pointer_size;
            let code = self.load_invariant(self.env.ptr, self.vmctx, off + abi::func_ref::FUNC);
            let callee_vmctx =
                self.load_invariant(self.env.ptr, self.vmctx, off + abi::func_ref::vmctx(p));
            self.emit_indirect(ty, code, callee_vmctx, params, tail);
        } else {
            let f = self.direct_ref(func);
            let mut args = vec![self.vmctx, self.vmctx];
            args.extend(params);
            self.fuel_save();
            if tail {
                self.b.ins().return_call(f, &args);
                self.reachable = false;
            } else {
                let call = self.b.ins().call(f, &args);
                let results = self.b.inst_results(call).to_vec();
                self.after_call();
                self.stack.extend(results);
            }
        }
    }

    /// Calls `code` with `callee_vmctx` and the wasm signature of type `ty`.
    fn emit_indirect(
        &mut self,
        ty: u32,
        code: ir::Value,
        callee_vmctx: ir::Value,
        params: Vec<ir::Value>,
        tail: bool,
    ) {
        let sig = self.sig_ref(ty);
        let mut args = vec![callee_vmctx, self.vmctx];
        args.extend(params);
        self.fuel_save();
        if tail {
            self.b.ins().return_call_indirect(sig, code, &args);
            self.reachable = false;
        } else {
            let call = self.b.ins().call_indirect(sig, code, &args);
            let results = self.b.inst_results(call).to_vec();
            self.after_call();
            self.stack.extend(results);
        }
    }

    /// Loads the code and VMContext of a non-null function reference.
    fn func_ref_parts(&mut self, fref: ir::Value) -> (ir::Value, ir::Value) {
        let p = self.env.offsets.pointer_size;
        let code = self.load_trusted(self.env.ptr, fref, abi::func_ref::FUNC);
        let vmctx = self.load_trusted(self.env.ptr, fref, abi::func_ref::vmctx(p));
        (code, vmctx)
    }

    /// `call_indirect` and `return_call_indirect`.
    pub(crate) fn op_call_indirect(
        &mut self,
        ty: u32,
        table: u32,
        tail: bool,
    ) -> Result<(), CompileError> {
        let index = self.pop();
        let n = self.env.info.types[ty as usize].params.len();
        let params = self.popn(n);
        let addr = self.table_elem_addr(table, index, TrapCode::UndefinedElement);
        let fref = self.load_in(self.regions.tables, self.env.ptr, addr, 0);
        self.trapz(fref, TrapCode::IndirectCallToNull);
        let p = self.env.offsets.pointer_size;
        let actual = self.load_trusted(I32, fref, abi::func_ref::type_id(p));
        let ids = self.load_invariant(self.env.ptr, self.vmctx, self.env.offsets.type_ids);
        let expected = self.load_invariant(I32, ids, ty * 4);
        let bad = self.b.ins().icmp(IntCC::NotEqual, actual, expected);
        self.trapnz(bad, TrapCode::BadSignature);
        let (code, callee_vmctx) = self.func_ref_parts(fref);
        self.emit_indirect(ty, code, callee_vmctx, params, tail);
        Ok(())
    }

    /// `call_ref` and `return_call_ref`.
    pub(crate) fn op_call_ref(&mut self, ty: u32, tail: bool) {
        let fref = self.pop();
        let n = self.env.info.types[ty as usize].params.len();
        let params = self.popn(n);
        self.trapz(fref, TrapCode::NullFunctionReference);
        let (code, callee_vmctx) = self.func_ref_parts(fref);
        self.emit_indirect(ty, code, callee_vmctx, params, tail);
    }
}
