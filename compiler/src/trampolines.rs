//! Entry (host -> wasm) and exit (wasm -> host) trampolines, one of each per function type.
//! Their contracts are documented in `precast_format::abi`.

use crate::translate::{ModuleEnv, builtin_signature};
use cranelift_codegen::ir::{self, InstBuilder, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use precast_format::TrapCode;
use precast_format::abi::{self, VAL_SLOT_SIZE};
use precast_format::builtins::Builtin;

/// Namespace of trampoline function names (`UserFuncName::user(NS, type)`).
pub const ENTRY_NAMESPACE: u32 = 1;
/// Namespace of exit trampoline names.
pub const EXIT_NAMESPACE: u32 = 2;

fn slot(i: usize) -> i32 {
    (i * VAL_SLOT_SIZE) as i32
}

fn value_flags() -> ir::MemFlagsData {
    ir::MemFlagsData::trusted().with_endianness(ir::Endianness::Little)
}

/// Builds the entry trampoline for module type `ty`:
/// `extern "C" fn(callee_vmctx, caller_vmctx, func, values)`.
pub fn entry(env: &ModuleEnv<'_>, ty: u32, ctx: &mut FunctionBuilderContext) -> ir::Function {
    let ptr = env.ptr;
    let mut sig = ir::Signature::new(env.host_call_conv);
    for _ in 0..4 {
        sig.params.push(ir::AbiParam::new(ptr));
    }
    let mut func = ir::Function::with_name_signature(UserFuncName::user(ENTRY_NAMESPACE, ty), sig);
    let mut b = FunctionBuilder::new(&mut func, ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let p = b.block_params(block).to_vec();
    let (callee_vmctx, caller_vmctx, code, values) = (p[0], p[1], p[2], p[3]);
    epoch_probe(env, &mut b, callee_vmctx);
    let ft = &env.info.types[ty as usize];
    let mut args = vec![callee_vmctx, caller_vmctx];
    for (i, t) in ft.params.iter().enumerate() {
        args.push(
            b.ins()
                .load(env.ir_type(*t), value_flags(), values, slot(i)),
        );
    }
    let wasm_sig = b.import_signature(env.wasm_signature(ty));
    let call = b.ins().call_indirect(wasm_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins().store(value_flags(), r, values, slot(i));
    }
    b.ins().return_(&[]);
    b.finalize(env.frontend_config);
    func
}

/// Builds the exit trampoline for module type `ty`: the wasm signature of `ty`, calling the
/// host dispatcher found in the host context passed as `callee_vmctx`.
pub fn exit(env: &ModuleEnv<'_>, ty: u32, ctx: &mut FunctionBuilderContext) -> ir::Function {
    let ptr = env.ptr;
    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(EXIT_NAMESPACE, ty),
        env.wasm_signature(ty),
    );
    let mut b = FunctionBuilder::new(&mut func, ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let p = b.block_params(block).to_vec();
    let (host_ctx, caller_vmctx) = (p[0], p[1]);
    let ft = &env.info.types[ty as usize];
    let slots = ft.value_slots().max(1);
    let ss = b.create_sized_stack_slot(ir::StackSlotData::new(
        ir::StackSlotKind::ExplicitSlot,
        (slots * VAL_SLOT_SIZE) as u32,
        4,
    ));
    let values = b.ins().stack_addr(ptr, ss, 0);
    for (i, v) in p[2..].iter().enumerate() {
        b.ins().store(value_flags(), *v, values, slot(i));
    }
    let fp = b.ins().get_frame_pointer(ptr);
    let dispatch = b.ins().load(
        ptr,
        ir::MemFlagsData::trusted(),
        host_ctx,
        abi::host_ctx::dispatch(env.offsets.pointer_size) as i32,
    );
    let mut dsig = ir::Signature::new(env.host_call_conv);
    for _ in 0..4 {
        dsig.params.push(ir::AbiParam::new(ptr));
    }
    dsig.returns.push(ir::AbiParam::new(ir::types::I32));
    let dsig = b.import_signature(dsig);
    let call = b
        .ins()
        .call_indirect(dsig, dispatch, &[host_ctx, caller_vmctx, values, fp]);
    let status = b.inst_results(call)[0];
    let pending = crate::translate::trap(TrapCode::Pending);
    if env.settings.signals_based_traps {
        b.ins().trapnz(status, pending);
    } else {
        // The caller is wasm: its VMContext leads to the `Trap` builtin.
        let raise = b.create_block();
        b.set_cold_block(raise);
        let ok = b.create_block();
        b.ins().brif(status, raise, &[], ok, &[]);
        b.seal_block(raise);
        b.seal_block(ok);
        b.switch_to_block(raise);
        let flags = ir::MemFlagsData::trusted().with_readonly();
        let builtins = precast_format::vmoffsets::builtins_offset(env.offsets.pointer_size);
        let table = b.ins().load(ptr, flags, caller_vmctx, builtins as i32);
        let at = Builtin::Trap.index() * u32::from(env.offsets.pointer_size);
        let trap_fn = b.ins().load(ptr, flags, table, at as i32);
        let sig = builtin_signature(Builtin::Trap, ptr, env.host_call_conv, env.extend_i32_args);
        let sig = b.import_signature(sig);
        let code = b
            .ins()
            .iconst(ir::types::I32, i64::from(TrapCode::Pending as u8));
        b.ins().call_indirect(sig, trap_fn, &[caller_vmctx, code]);
        b.ins().trap(pending);
        b.switch_to_block(ok);
    }
    epoch_probe(env, &mut b, caller_vmctx);
    let mut results = Vec::new();
    for (i, t) in ft.results.iter().enumerate() {
        results.push(
            b.ins()
                .load(env.ir_type(*t), value_flags(), values, slot(i)),
        );
    }
    b.ins().return_(&results);
    b.finalize(env.frontend_config);
    func
}

/// With epoch interruption and signal-based traps: a probe of the page of the instance of
/// `vmctx`, if it has one. Where code of signal-interrupted checks
/// ([`Settings::epoch_signal`](precast_format::Settings::epoch_signal)) is entered from the
/// host or returned to from a host function, a signal that came while the host ran finds the
/// page armed here. A trampoline may serve functions of another module of the store, with
/// other checks; instances without a page have a null one.
fn epoch_probe(env: &ModuleEnv<'_>, b: &mut FunctionBuilder<'_>, vmctx: ir::Value) {
    let s = env.settings;
    if !s.epoch_interruption || !s.signals_based_traps {
        return;
    }
    let page = b.ins().load(
        env.ptr,
        ir::MemFlagsData::trusted(),
        vmctx,
        env.offsets.epoch_probe as i32,
    );
    let probe = b.create_block();
    let done = b.create_block();
    b.ins().brif(page, probe, &[], done, &[]);
    b.seal_block(probe);
    b.switch_to_block(probe);
    let flags =
        ir::MemFlagsData::new().with_trap_code(Some(crate::translate::trap(TrapCode::Interrupt)));
    b.ins().load(ir::types::I8, flags, page, 0);
    b.ins().jump(done, &[]);
    b.seal_block(done);
    b.switch_to_block(done);
}
