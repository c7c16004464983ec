//! Module-level facts the translator needs for every function.

use cranelift_codegen::ir::{self, types};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig, TargetIsa};
use precast_format::module::{ModuleInfo, ValType};
use precast_format::{Settings, TrapCode, VMOffsets};

/// What the translator knows about the module and target.
pub struct ModuleEnv<'a> {
    /// Module info.
    pub info: &'a ModuleInfo,
    /// VMContext layout.
    pub offsets: VMOffsets,
    /// ABI settings.
    pub settings: Settings,
    /// Pointer type.
    pub ptr: ir::Type,
    /// Calling convention of wasm functions.
    pub call_conv: CallConv,
    /// Calling convention of host code (builtins, trampolines' host side).
    pub host_call_conv: CallConv,
    /// Target facts for the frontend.
    pub frontend_config: TargetFrontendConfig,
    /// The host C ABI wants 32-bit integer arguments sign-extended by the caller (riscv64).
    pub extend_i32_args: bool,
}

impl<'a> ModuleEnv<'a> {
    /// Creates the environment for `info` on `isa`.
    pub fn new(info: &'a ModuleInfo, isa: &dyn TargetIsa, settings: Settings) -> Self {
        let ptr = isa.pointer_type();
        ModuleEnv {
            info,
            offsets: info.vmoffsets(ptr.bytes() as u8),
            settings,
            ptr,
            call_conv: CallConv::Tail,
            host_call_conv: isa.default_call_conv(),
            frontend_config: isa.frontend_config(),
            extend_i32_args: matches!(
                isa.triple().architecture,
                target_lexicon::Architecture::Riscv64(_)
            ),
        }
    }

    /// The Cranelift type of a wasm value type.
    pub fn ir_type(&self, t: ValType) -> ir::Type {
        match t {
            ValType::I32 => types::I32,
            ValType::I64 => types::I64,
            ValType::F32 => types::F32,
            ValType::F64 => types::F64,
            ValType::V128 => types::I8X16,
            ValType::Ref(_) => self.ptr,
        }
    }

    /// The signature of wasm functions of module type `ty`:
    /// `(callee_vmctx, caller_vmctx, params...) -> results`.
    pub fn wasm_signature(&self, ty: u32) -> ir::Signature {
        let ft = &self.info.types[ty as usize];
        let mut sig = ir::Signature::new(self.call_conv);
        sig.params.push(ir::AbiParam::special(
            self.ptr,
            ir::ArgumentPurpose::VMContext,
        ));
        sig.params.push(ir::AbiParam::new(self.ptr));
        sig.params.extend(
            ft.params
                .iter()
                .map(|t| ir::AbiParam::new(self.ir_type(*t))),
        );
        sig.returns.extend(
            ft.results
                .iter()
                .map(|t| ir::AbiParam::new(self.ir_type(*t))),
        );
        sig
    }
}

/// The Cranelift trap code for one of ours.
pub fn trap(code: TrapCode) -> ir::TrapCode {
    // Our codes are small non-zero bytes, all valid user codes.
    ir::TrapCode::unwrap_user(code as u8)
}

/// Our trap code for a Cranelift trap code.
pub fn from_ir_trap(code: ir::TrapCode) -> Option<TrapCode> {
    Some(match code {
        ir::TrapCode::STACK_OVERFLOW => TrapCode::StackOverflow,
        ir::TrapCode::INTEGER_OVERFLOW => TrapCode::IntegerOverflow,
        ir::TrapCode::HEAP_OUT_OF_BOUNDS => TrapCode::MemoryOutOfBounds,
        ir::TrapCode::INTEGER_DIVISION_BY_ZERO => TrapCode::IntegerDivisionByZero,
        ir::TrapCode::BAD_CONVERSION_TO_INTEGER => TrapCode::BadConversionToInteger,
        other => return TrapCode::from_u8(other.as_raw().get()),
    })
}
