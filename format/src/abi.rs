//! The runtime ABI between generated code and the loader.
//!
//! ## Values
//! Values cross the host boundary in 16-byte little-endian slots ([`VAL_SLOT_SIZE`]): i32 and
//! f32 (bits) in the low 4 bytes, i64 and f64 (bits) in the low 8 bytes, v128 in all 16,
//! references as a pointer-sized integer in the low bytes (0 is null).
//!
//! ## Wasm functions
//! Every wasm function uses Cranelift's `tail` calling convention with the signature
//! `(callee_vmctx: ptr, caller_vmctx: ptr, params...) -> results`.
//!
//! ## Entry trampolines (host -> wasm)
//! One per module function type, with the platform C calling convention:
//! `extern "C" fn(callee_vmctx: *mut u8, caller_vmctx: *mut u8, func: *const u8, values: *mut [u8; 16])`.
//! It loads the parameters from `values[0..params]`, calls `func`, and stores the results to
//! `values[0..results]`. The buffer holds `max(params, results)` slots.
//!
//! ## Exit trampolines (wasm -> host)
//! One per module function type, with the wasm signature of that type. Its `callee_vmctx`
//! is a host-owned [`host_ctx`] block. It spills the parameters to a stack buffer of
//! `max(params, results)` slots, calls the `dispatch` pointer found in the block:
//! `extern "C" fn(host_ctx: *mut u8, caller_vmctx: *mut u8, values: *mut [u8; 16], fp: *const u8) -> u32`
//! where `fp` is the trampoline's frame pointer (its saved return address leads back into wasm
//! for backtraces). A zero status: it loads the results from the buffer and returns them.
//!
//! A non-zero status means the host raised a trap: with signal-based traps the trampoline
//! then executes a trap instruction with code [`TrapCode::Pending`](crate::TrapCode::Pending);
//! without, it calls the [`Trap`](crate::builtins::Builtin::Trap) builtin of `caller_vmctx`
//! (always a wasm VMContext) with that code.
//!
//! ## Traps
//! With signal-based traps ([`Settings::signals_based_traps`](crate::Settings)), trapping
//! instructions are listed in the trap table and the loader's signal handler turns their
//! fault into a trap. Runtime builtins that can trap return a non-zero status; the code then
//! executes a `Pending` trap instruction and the loader reports the trap the builtin recorded.
//!
//! Without signal-based traps, the code tests every trap condition and branches to a cold
//! block that calls the [`Trap`](crate::builtins::Builtin::Trap) builtin with the trap code
//! (`Pending` after a builtin reported failure), which unwinds to the host; the trap
//! instruction that follows the call is never executed. Integer division, remainder and
//! float-to-int conversions are guarded before the instruction, and the stack limit is
//! checked in every function body (see [`store::STACK_FRAME_BOUND`]).

/// Size of one value slot at the host boundary.
pub const VAL_SLOT_SIZE: usize = 16;

/// Value of the first field of every VMContext.
pub const VMCTX_MAGIC: u32 = u32::from_le_bytes(*b"vmcx");

/// Layout of `VMStoreState`, shared by all instances of a store.
pub mod store {
    /// Offset of the stack limit: wasm traps with stack overflow when the stack pointer
    /// would go below it.
    pub const STACK_LIMIT: u32 = 0;

    /// Offset of the fuel counter (`i64`, with fuel consumption compiled in): the fuel
    /// consumed beyond the store's budget, so `-remaining` while fuel remains. Compiled code
    /// keeps it in a register, adds each operator's cost and writes it back before calls
    /// and returns; a check finding it at or above zero (no fuel left) traps with
    /// `OutOfFuel`.
    pub const FUEL: u32 = 8;

    /// Offset of the epoch deadline (`u64`, with epoch interruption compiled in): a check
    /// finding the engine's epoch at or past it calls the `EpochInterrupt` builtin.
    pub const EPOCH_DEADLINE: u32 = 16;

    /// Offset of the pointer to the engine's epoch counter (`*const u64`, read with plain
    /// loads: the engine only ever increments it).
    pub const EPOCH_COUNTER: u32 = 24;

    /// Without signal-based traps, the bound on the stack frame of any compiled function or
    /// trampoline, in bytes. Every function body starts by checking that its stack pointer
    /// minus this bound is not below the stack limit (else it raises a stack overflow
    /// through the `Trap` builtin), so any function it calls, whose frame is at most this
    /// big, lies entirely above the limit, and its own check runs before it can call
    /// further. The compiler refuses code whose frame would exceed the bound. The host's
    /// margin below the limit (builtins, host functions, the `Trap` builtin) is the
    /// loader's.
    pub const STACK_FRAME_BOUND: u32 = 32 * 1024;
}

/// Fault-based epoch checks ([`Settings::epoch_probe`](crate::header::Settings::epoch_probe)).
pub mod epoch_probe {
    /// Bytes of the probe page that checks read (the smallest page size of every target):
    /// the checks of a function load one byte each at distinct offsets below this, so that
    /// no load can be merged with another (a merged check at a loop header would leave the
    /// loop unchecked). A function's checks beyond this many compare the epoch instead.
    pub const SPAN: u32 = 4096;
}

/// Layout of `VMMemoryDefinition`: `{ base: *mut u8, length_in_bytes: usize }`.
pub mod memory {
    /// Offset of the base pointer.
    pub const BASE: u32 = 0;
    /// Offset of the current length in bytes.
    pub fn length(pointer_size: u8) -> u32 {
        u32::from(pointer_size)
    }
}

/// Layout of `VMTableDefinition`: `{ base: *mut usize, length_in_elements: usize }`.
/// Elements are pointer-sized: a `*const VMFuncRef` for function tables (null for null),
/// an opaque host value for extern tables (0 for null).
pub mod table {
    /// Offset of the elements pointer.
    pub const BASE: u32 = 0;
    /// Offset of the current length in elements.
    pub fn length(pointer_size: u8) -> u32 {
        u32::from(pointer_size)
    }
}

/// Layout of `VMFuncRef`: `{ func: *const u8, vmctx: *mut u8, type_id: u32 }`. A function
/// reference value is a pointer to one of these.
pub mod func_ref {
    /// Offset of the code pointer (wasm calling convention).
    pub const FUNC: u32 = 0;
    /// Offset of the callee VMContext.
    pub fn vmctx(pointer_size: u8) -> u32 {
        u32::from(pointer_size)
    }
    /// Offset of the engine-wide type id.
    pub fn type_id(pointer_size: u8) -> u32 {
        2 * u32::from(pointer_size)
    }
    /// Size of a `VMFuncRef`.
    pub fn size(pointer_size: u8) -> u32 {
        3 * u32::from(pointer_size)
    }
}

/// Layout of the host function context that exit trampolines receive as `callee_vmctx`.
pub mod host_ctx {
    /// Value of the first field, distinguishing it from a VMContext.
    pub const MAGIC: u32 = u32::from_le_bytes(*b"host");
    /// Offset of the dispatch function pointer.
    pub fn dispatch(pointer_size: u8) -> u32 {
        u32::from(pointer_size)
    }
}
