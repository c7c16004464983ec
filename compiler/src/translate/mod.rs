//! Our wasm -> Cranelift IR translator, built on `cranelift-frontend`.
//!
//! [`ModuleEnv`] holds what every function needs from the module (types, VMContext offsets,
//! settings). [`translate_function`] validates and translates one function body.

mod atomics;
mod control;
mod env;
mod interrupts;
mod memory;
mod numeric;
mod ops;
mod simd;
mod tables;
mod traps;

pub use env::{ModuleEnv, from_ir_trap, trap};
pub use traps::{builtin_signature, frame_size_bound, raise_traps_by_calls};

use crate::CompileError;
use control::{Frame, FrameKind};
use cranelift_codegen::entity::packed_option::ReservedValue;
use cranelift_codegen::ir::{self, InstBuilder, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use std::collections::HashMap;
use wasmparser::{FuncValidator, FunctionBody, ValidatorResources};

/// Translates and validates function `index` into a Cranelift function.
pub fn translate_function(
    env: &ModuleEnv<'_>,
    index: u32,
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
    builder_ctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, CompileError> {
    let ty_index = env.info.functions[index as usize];
    let sig = env.wasm_signature(ty_index);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, index), sig);
    let b = FunctionBuilder::new(&mut func, builder_ctx);
    let mut t = Translator::new(env, b);
    t.translate(ty_index, body, validator)?;
    t.b.finalize(env.frontend_config);
    Ok(func)
}

/// Per-function translation state.
pub(crate) struct Translator<'m, 'f> {
    pub(crate) env: &'m ModuleEnv<'m>,
    pub(crate) b: FunctionBuilder<'f>,
    /// The wasm operand stack.
    pub(crate) stack: Vec<ir::Value>,
    /// The wasm control stack.
    pub(crate) control: Vec<Frame>,
    /// Wasm locals.
    pub(crate) locals: Vec<Variable>,
    /// This function's VMContext.
    pub(crate) vmctx: ir::Value,
    /// Whether the current position is reachable.
    pub(crate) reachable: bool,
    /// Depth of blocks opened while unreachable (skipped until their `end`).
    pub(crate) unreachable_depth: u32,
    /// Imported wasm signatures, by module type index.
    sigs: HashMap<u32, ir::SigRef>,
    /// Imported direct callees, by function index.
    direct: HashMap<u32, ir::FuncRef>,
    /// Imported builtin signatures, by builtin index.
    builtin_sigs: HashMap<u32, ir::SigRef>,
    /// The alias regions of linear-memory, mutable-global and table-element accesses: a
    /// store to one does not clobber what code loaded from another or from the rest of the
    /// VMContext (memory bases and lengths, table bases and lengths), which only calls and
    /// other stores change.
    pub(crate) regions: Regions,
    /// Epoch and fuel check state.
    pub(crate) interrupts: interrupts::Interrupts,
}

/// Disjoint alias regions (see [`Translator::regions`]); everything else is in none.
#[derive(Clone, Copy)]
pub(crate) struct Regions {
    /// Linear memories.
    pub heap: ir::AliasRegion,
    /// The values of mutable globals.
    pub globals: ir::AliasRegion,
    /// Table elements.
    pub tables: ir::AliasRegion,
}

impl Regions {
    fn new(func: &mut ir::Function) -> Regions {
        let mut region = |user_id: u32, description: &'static str| {
            func.dfg.alias_regions.insert(ir::AliasRegionData {
                user_id,
                description: description.into(),
            })
        };
        Regions {
            heap: region(1, "linear memories"),
            globals: region(2, "mutable globals"),
            tables: region(3, "table elements"),
        }
    }
}

impl<'m, 'f> Translator<'m, 'f> {
    fn new(env: &'m ModuleEnv<'m>, b: FunctionBuilder<'f>) -> Self {
        let regions = Regions::new(b.func);
        Translator {
            env,
            b,
            stack: Vec::new(),
            control: Vec::new(),
            locals: Vec::new(),
            vmctx: ir::Value::reserved_value(),
            reachable: true,
            unreachable_depth: 0,
            sigs: HashMap::new(),
            direct: HashMap::new(),
            builtin_sigs: HashMap::new(),
            regions,
            interrupts: Default::default(),
        }
    }

    /// Whether traps may be raised by faulting instructions (else: calls of the `Trap`
    /// builtin, see [`traps`]).
    pub(crate) fn signals(&self) -> bool {
        self.env.settings.signals_based_traps
    }

    fn translate(
        &mut self,
        ty_index: u32,
        body: &FunctionBody<'_>,
        validator: &mut FuncValidator<ValidatorResources>,
    ) -> Result<(), CompileError> {
        let ty = &self.env.info.types[ty_index as usize];
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        self.b.seal_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.vmctx = params[0];
        if self.signals() {
            self.install_stack_limit();
        } else {
            self.explicit_stack_check();
        }
        self.interrupts_entry(body);

        for (i, vt) in ty.params.iter().enumerate() {
            let var = self.b.declare_var(self.env.ir_type(*vt));
            self.b.def_var(var, params[i + 2]);
            self.locals.push(var);
        }
        let mut locals_reader = body.get_locals_reader()?;
        for _ in 0..locals_reader.get_count() {
            let pos = locals_reader.original_position();
            let (count, wty) = locals_reader.read()?;
            validator.define_locals(pos, count, wty)?;
            let vt = crate::environ::val_type(wty)?;
            let ir_ty = self.env.ir_type(vt);
            let zero = self.zero(ir_ty);
            for _ in 0..count {
                let var = self.b.declare_var(ir_ty);
                self.b.def_var(var, zero);
                self.locals.push(var);
            }
        }

        let ret = self.b.create_block();
        for vt in &ty.results {
            self.b.append_block_param(ret, self.env.ir_type(*vt));
        }
        self.control.push(Frame {
            kind: FrameKind::Block,
            next: ret,
            num_params: 0,
            num_results: ty.results.len(),
            height: 0,
            branched_to: false,
        });

        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let pos = reader.original_position();
            let op = reader.read()?;
            validator.op(pos, &op)?;
            // The operator's offset in the module: the line of the DWARF line table.
            self.b.set_srcloc(ir::SourceLoc::new(pos as u32));
            self.op(&op)?;
        }
        reader.finish()?;
        // The final `end` left us in the return block with the results on the stack.
        let results = std::mem::take(&mut self.stack);
        self.fuel_save();
        self.b.ins().return_(&results);
        Ok(())
    }

    /// A zero value of `ty` (null for references).
    pub(crate) fn zero(&mut self, ty: ir::Type) -> ir::Value {
        if ty == ir::types::F32 {
            self.b.ins().f32const(0.0)
        } else if ty == ir::types::F64 {
            self.b.ins().f64const(0.0)
        } else if ty.is_vector() {
            let c = self
                .b
                .func
                .dfg
                .constants
                .insert(ir::ConstantData::from(vec![0u8; 16]));
            self.b.ins().vconst(ty, c)
        } else {
            self.b.ins().iconst(ty, 0)
        }
    }

    fn install_stack_limit(&mut self) {
        let ptr = self.env.ptr;
        let vmctx = self.b.create_global_value(ir::GlobalValueData::VMContext);
        let flags = self.flags(ir::MemFlagsData::trusted().with_readonly());
        let store = self.b.create_global_value(ir::GlobalValueData::Load {
            base: vmctx,
            offset: (self.env.offsets.store as i32).into(),
            global_type: ptr,
            flags,
        });
        let flags = self.flags(ir::MemFlagsData::trusted());
        let limit = self.b.create_global_value(ir::GlobalValueData::Load {
            base: store,
            offset: (precast_format::abi::store::STACK_LIMIT as i32).into(),
            global_type: ptr,
            flags,
        });
        self.b.func.stack_limit = Some(limit);
    }

    /// Interns memory flags.
    pub(crate) fn flags(&mut self, data: ir::MemFlagsData) -> ir::MemFlags {
        self.b.func.dfg.mem_flags.insert_unchecked(data)
    }

    /// Loads a `ty` from VMContext-owned memory (never traps).
    pub(crate) fn load_trusted(&mut self, ty: ir::Type, base: ir::Value, offset: u32) -> ir::Value {
        self.b
            .ins()
            .load(ty, ir::MemFlagsData::trusted(), base, offset as i32)
    }

    /// Loads a `ty` from VMContext-owned memory in alias region `region` (never traps).
    pub(crate) fn load_in(
        &mut self,
        region: ir::AliasRegion,
        ty: ir::Type,
        base: ir::Value,
        offset: u32,
    ) -> ir::Value {
        let flags = ir::MemFlagsData::trusted().with_alias_region(Some(region));
        self.b.ins().load(ty, flags, base, offset as i32)
    }

    /// Stores `value` to VMContext-owned memory in alias region `region` (never traps).
    pub(crate) fn store_in(
        &mut self,
        region: ir::AliasRegion,
        value: ir::Value,
        base: ir::Value,
        offset: u32,
    ) {
        let flags = ir::MemFlagsData::trusted().with_alias_region(Some(region));
        self.b.ins().store(flags, value, base, offset as i32);
    }

    /// Loads a `ty` that never changes during the instance's life (hoistable).
    pub(crate) fn load_invariant(
        &mut self,
        ty: ir::Type,
        base: ir::Value,
        offset: u32,
    ) -> ir::Value {
        let flags = ir::MemFlagsData::trusted().with_readonly().with_can_move();
        self.b.ins().load(ty, flags, base, offset as i32)
    }

    pub(crate) fn pop(&mut self) -> ir::Value {
        // Validation guarantees the operand exists.
        self.stack.pop().unwrap_or_else(ir::Value::reserved_value)
    }

    pub(crate) fn pop2(&mut self) -> (ir::Value, ir::Value) {
        let b = self.pop();
        let a = self.pop();
        (a, b)
    }

    pub(crate) fn pop3(&mut self) -> (ir::Value, ir::Value, ir::Value) {
        let c = self.pop();
        let (a, b) = self.pop2();
        (a, b, c)
    }

    pub(crate) fn popn(&mut self, n: usize) -> Vec<ir::Value> {
        let at = self.stack.len().saturating_sub(n);
        self.stack.split_off(at)
    }

    pub(crate) fn peekn(&self, n: usize) -> &[ir::Value] {
        &self.stack[self.stack.len().saturating_sub(n)..]
    }

    pub(crate) fn push(&mut self, v: ir::Value) {
        self.stack.push(v);
    }

    /// The signature reference for module type `ty`.
    pub(crate) fn sig_ref(&mut self, ty: u32) -> ir::SigRef {
        if let Some(s) = self.sigs.get(&ty) {
            return *s;
        }
        let sig = self.env.wasm_signature(ty);
        let s = self.b.import_signature(sig);
        self.sigs.insert(ty, s);
        s
    }

    /// The direct-call reference for defined function `index`.
    pub(crate) fn direct_ref(&mut self, index: u32) -> ir::FuncRef {
        if let Some(f) = self.direct.get(&index) {
            return *f;
        }
        let ty = self.env.info.functions[index as usize];
        let signature = self.sig_ref(ty);
        let name = self
            .b
            .func
            .declare_imported_user_function(ir::UserExternalName::new(0, index));
        let f = self.b.import_function(ir::ExtFuncData {
            name: ir::ExternalName::User(name),
            signature,
            colocated: true,
            patchable: false,
        });
        self.direct.insert(index, f);
        f
    }

    /// Calls builtin `which` with `args` (after the VMContext), returning its results. The
    /// call's signature is the builtin's declared one ([`Builtin::signature`]).
    ///
    /// [`Builtin::signature`]: precast_format::builtins::Builtin::signature
    pub(crate) fn call_builtin(
        &mut self,
        which: precast_format::builtins::Builtin,
        args: &[ir::Value],
    ) -> Vec<ir::Value> {
        self.call_builtin_from(which, args, false)
    }

    /// [`Self::call_builtin`] from a cold block: the builtin's address is loaded there,
    /// rather than hoisted into a register the hot path would have to keep.
    pub(crate) fn call_builtin_cold(
        &mut self,
        which: precast_format::builtins::Builtin,
        args: &[ir::Value],
    ) -> Vec<ir::Value> {
        self.call_builtin_from(which, args, true)
    }

    fn call_builtin_from(
        &mut self,
        which: precast_format::builtins::Builtin,
        args: &[ir::Value],
        cold: bool,
    ) -> Vec<ir::Value> {
        let vmctx = self.vmctx;
        let idx = which.index();
        let sig = match self.builtin_sigs.get(&idx) {
            Some(s) => *s,
            None => {
                let env = self.env;
                let sig =
                    builtin_signature(which, env.ptr, env.host_call_conv, env.extend_i32_args);
                let s = self.b.import_signature(sig);
                self.builtin_sigs.insert(idx, s);
                s
            }
        };
        let declared = &self.b.func.dfg.signatures[sig].params;
        debug_assert_eq!(declared.len(), args.len() + 1, "{}", which.name());
        for (p, a) in declared[1..].iter().zip(args) {
            debug_assert_eq!(
                p.value_type,
                self.b.func.dfg.value_type(*a),
                "{}",
                which.name()
            );
        }
        let ptr = self.env.ptr;
        let slot = idx * u32::from(self.env.offsets.pointer_size);
        let load: fn(&mut Self, ir::Type, ir::Value, u32) -> ir::Value = if cold {
            Self::load_trusted
        } else {
            Self::load_invariant
        };
        let table = load(self, ptr, vmctx, self.env.offsets.builtins);
        let fptr = load(self, ptr, table, slot);
        let mut all = vec![vmctx];
        all.extend_from_slice(args);
        let call = self.b.ins().call_indirect(sig, fptr, &all);
        let results = self.b.inst_results(call).to_vec();
        use precast_format::builtins::Builtin;
        if !matches!(which, Builtin::Trap | Builtin::EpochInterrupt) {
            self.after_builtin();
        }
        results
    }

    /// Traps with [`TrapCode::Pending`](precast_format::TrapCode::Pending) if `status != 0`.
    pub(crate) fn trap_if_status(&mut self, status: ir::Value) {
        self.trapnz(status, precast_format::TrapCode::Pending);
    }

    /// Raises the pending trap when a grow builtin's result `r` says the store's limits
    /// trapped ([`GROW_TRAP`](precast_format::builtins::GROW_TRAP)).
    pub(crate) fn trap_if_grow_trapped(&mut self, r: ir::Value) {
        let trapped = self.b.ins().icmp_imm_u(
            ir::condcodes::IntCC::Equal,
            r,
            precast_format::builtins::GROW_TRAP as i64,
        );
        self.trapnz(trapped, precast_format::TrapCode::Pending);
    }
}
