//! The trap-resume mechanism: a non-local exit out of wasm frames back to the entry point.
//!
//! [`precast_call_catch`] runs `body(payload)` after publishing a jump buffer in `*jmp_slot`;
//! [`precast_unwind`] given that buffer abandons every frame above it and makes
//! `precast_call_catch` return 0 (it returns 1 when `body` returns). On both paths the
//! previous value of `*jmp_slot` is restored, so calls nest.
//!
//! A function that returns twice cannot be written in Rust, so the pair is a few lines of
//! assembly per architecture. Unlike `setjmp`, it needs no C library (the same code serves
//! `no_std` targets), and the jump buffer is the catching frame itself: the callee-saved
//! registers are pushed on entry and popped on either exit, so the unwinder only has to
//! restore the stack pointer. The signal mask is not touched (handlers are installed with
//! `SA_NODEFER`, so leaving one this way blocks nothing).
//!
//! The catching frame carries call frame information, so unwinders (backtraces, debuggers,
//! profilers) walk from the wasm frames above it into the host frames below.
//!
//! Frame layout (one per architecture), from the buffer address (the catching frame's stack
//! pointer): the previous `*jmp_slot` and the slot's address at fixed offsets, the saved
//! callee-saved registers around them.

use core::ffi::{c_int, c_void};

unsafe extern "C" {
    /// Runs `body(payload)` with a jump buffer published in `*jmp_slot`; 1 if `body`
    /// returned, 0 if [`precast_unwind`] was called with the buffer.
    pub(crate) fn precast_call_catch(
        body: unsafe extern "C" fn(*mut c_void),
        payload: *mut c_void,
        jmp_slot: *mut *mut c_void,
    ) -> c_int;
    /// Resumes the innermost [`precast_call_catch`] whose buffer is `jmp_buf`.
    pub(crate) fn precast_unwind(jmp_buf: *mut c_void) -> !;
}

// x86_64 System V: rbx, rbp, r12-r15 are callee-saved. Frame: [rsp] previous slot value,
// [rsp+8] slot address, [rsp+16] padding, then r15, r14, r13, r12, rbx, rbp, return address.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".globl precast_call_catch",
    ".type precast_call_catch, @function",
    ".p2align 4",
    "precast_call_catch:",
    ".cfi_startproc",
    "push rbp",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset rbp, -16",
    "mov rbp, rsp",
    ".cfi_def_cfa_register rbp",
    "push rbx",
    ".cfi_offset rbx, -24",
    "push r12",
    ".cfi_offset r12, -32",
    "push r13",
    ".cfi_offset r13, -40",
    "push r14",
    ".cfi_offset r14, -48",
    "push r15",
    ".cfi_offset r15, -56",
    "sub rsp, 24",
    "mov rax, [rdx]",
    "mov [rsp], rax",
    "mov [rsp + 8], rdx",
    "mov [rdx], rsp",
    "mov rax, rdi",
    "mov rdi, rsi",
    "call rax",
    "mov eax, 1",
    "jmp 2f",
    ".cfi_endproc",
    ".size precast_call_catch, . - precast_call_catch",
    "",
    ".globl precast_unwind",
    ".type precast_unwind, @function",
    ".p2align 4",
    "precast_unwind:",
    "mov rsp, rdi",
    "xor eax, eax",
    "2:",
    "mov rcx, [rsp]",
    "mov rdx, [rsp + 8]",
    "mov [rdx], rcx",
    "add rsp, 24",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size precast_unwind, . - precast_unwind",
);

// AArch64 AAPCS64: x19-x28, x29 (fp), x30 (lr) and the low halves of d8-d15 are
// callee-saved. Frame (176 bytes): fp/lr at 0, x19-x28 at 16..96, d8-d15 at 96..160,
// previous slot value at 160, slot address at 168.
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".globl precast_call_catch",
    ".type precast_call_catch, %function",
    ".p2align 2",
    "precast_call_catch:",
    ".cfi_startproc",
    "stp x29, x30, [sp, #-176]!",
    ".cfi_def_cfa_offset 176",
    ".cfi_offset x29, -176",
    ".cfi_offset x30, -168",
    "mov x29, sp",
    ".cfi_def_cfa_register x29",
    "stp x19, x20, [sp, #16]",
    "stp x21, x22, [sp, #32]",
    "stp x23, x24, [sp, #48]",
    "stp x25, x26, [sp, #64]",
    "stp x27, x28, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "ldr x9, [x2]",
    "stp x9, x2, [sp, #160]",
    "mov x9, sp",
    "str x9, [x2]",
    "mov x9, x0",
    "mov x0, x1",
    "blr x9",
    "mov w0, #1",
    "b 2f",
    ".cfi_endproc",
    ".size precast_call_catch, . - precast_call_catch",
    "",
    ".globl precast_unwind",
    ".type precast_unwind, %function",
    ".p2align 2",
    "precast_unwind:",
    "mov sp, x0",
    "mov w0, #0",
    "2:",
    "ldp x9, x10, [sp, #160]",
    "str x9, [x10]",
    "ldp d14, d15, [sp, #144]",
    "ldp d12, d13, [sp, #128]",
    "ldp d10, d11, [sp, #112]",
    "ldp d8, d9, [sp, #96]",
    "ldp x27, x28, [sp, #80]",
    "ldp x25, x26, [sp, #64]",
    "ldp x23, x24, [sp, #48]",
    "ldp x21, x22, [sp, #32]",
    "ldp x19, x20, [sp, #16]",
    "ldp x29, x30, [sp], #176",
    "ret",
    ".size precast_unwind, . - precast_unwind",
);

// RISC-V LP64D: ra, s0-s11 and fs0-fs11 are callee-saved. Frame (224 bytes): ra at 0,
// s0-s11 at 8..104, fs0-fs11 at 104..200, previous slot value at 200, slot address at 208.
#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(
    // Module-level assembly does not see the crate's target features: enable the double
    // float registers (the LP64D ABI guarantees them) for the `fsd`/`fld` below.
    ".option push",
    ".option arch, +d",
    ".text",
    ".globl precast_call_catch",
    ".type precast_call_catch, %function",
    ".p2align 2",
    "precast_call_catch:",
    ".cfi_startproc",
    "addi sp, sp, -224",
    ".cfi_def_cfa_offset 224",
    "sd ra, 0(sp)",
    ".cfi_offset ra, -224",
    "sd s0, 8(sp)",
    ".cfi_offset s0, -216",
    "sd s1, 16(sp)",
    "sd s2, 24(sp)",
    "sd s3, 32(sp)",
    "sd s4, 40(sp)",
    "sd s5, 48(sp)",
    "sd s6, 56(sp)",
    "sd s7, 64(sp)",
    "sd s8, 72(sp)",
    "sd s9, 80(sp)",
    "sd s10, 88(sp)",
    "sd s11, 96(sp)",
    "fsd fs0, 104(sp)",
    "fsd fs1, 112(sp)",
    "fsd fs2, 120(sp)",
    "fsd fs3, 128(sp)",
    "fsd fs4, 136(sp)",
    "fsd fs5, 144(sp)",
    "fsd fs6, 152(sp)",
    "fsd fs7, 160(sp)",
    "fsd fs8, 168(sp)",
    "fsd fs9, 176(sp)",
    "fsd fs10, 184(sp)",
    "fsd fs11, 192(sp)",
    "ld t0, 0(a2)",
    "sd t0, 200(sp)",
    "sd a2, 208(sp)",
    "sd sp, 0(a2)",
    "mv t1, a0",
    "mv a0, a1",
    "jalr t1",
    "li a0, 1",
    "j 2f",
    ".cfi_endproc",
    ".size precast_call_catch, . - precast_call_catch",
    "",
    ".globl precast_unwind",
    ".type precast_unwind, %function",
    ".p2align 2",
    "precast_unwind:",
    "mv sp, a0",
    "li a0, 0",
    "2:",
    "ld t0, 200(sp)",
    "ld t1, 208(sp)",
    "sd t0, 0(t1)",
    "ld ra, 0(sp)",
    "ld s0, 8(sp)",
    "ld s1, 16(sp)",
    "ld s2, 24(sp)",
    "ld s3, 32(sp)",
    "ld s4, 40(sp)",
    "ld s5, 48(sp)",
    "ld s6, 56(sp)",
    "ld s7, 64(sp)",
    "ld s8, 72(sp)",
    "ld s9, 80(sp)",
    "ld s10, 88(sp)",
    "ld s11, 96(sp)",
    "fld fs0, 104(sp)",
    "fld fs1, 112(sp)",
    "fld fs2, 120(sp)",
    "fld fs3, 128(sp)",
    "fld fs4, 136(sp)",
    "fld fs5, 144(sp)",
    "fld fs6, 152(sp)",
    "fld fs7, 160(sp)",
    "fld fs8, 168(sp)",
    "fld fs9, 176(sp)",
    "fld fs10, 184(sp)",
    "fld fs11, 192(sp)",
    "addi sp, sp, 224",
    "ret",
    ".size precast_unwind, . - precast_unwind",
    ".option pop",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use core::ptr;

    struct Payload {
        slot: *mut *mut c_void,
        depth: u32,
        reached: u32,
        /// What each nested `precast_call_catch` returned, innermost first.
        results: Vec<c_int>,
    }

    /// Nests one more catch while `depth` > 0, then unwinds out of the innermost.
    unsafe extern "C" fn nest(p: *mut c_void) {
        // SAFETY: `p` is the `Payload` passed by the test, live for the whole call.
        let p = unsafe { &mut *(p as *mut Payload) };
        p.reached += 1;
        if p.depth == 0 {
            // SAFETY: the innermost catch published its buffer in `*slot`.
            unsafe { precast_unwind(*p.slot) }
        }
        p.depth -= 1;
        // SAFETY: `slot` is valid.
        let outer = unsafe { *p.slot };
        // SAFETY: as in the test: `slot` is valid and `nest` keeps no destructors.
        let r = unsafe { precast_call_catch(nest, p as *mut Payload as *mut c_void, p.slot) };
        p.results.push(r);
        // SAFETY: `slot` is valid.
        assert_eq!(
            unsafe { *p.slot },
            outer,
            "the outer buffer is back in the slot"
        );
    }

    unsafe extern "C" fn returns(p: *mut c_void) {
        // SAFETY: `p` is the test's `u32`.
        unsafe { *(p as *mut u32) += 1 };
    }

    #[test]
    fn returns_one_when_the_body_returns() {
        let mut slot: *mut c_void = ptr::null_mut();
        let mut n = 0u32;
        // SAFETY: `returns` keeps no destructors and does not unwind; `slot` outlives it.
        let r =
            unsafe { precast_call_catch(returns, &mut n as *mut u32 as *mut c_void, &mut slot) };
        assert_eq!((r, n), (1, 1));
        assert!(slot.is_null(), "the previous slot value is restored");
    }

    #[test]
    fn unwinds_nested_catches_and_keeps_callee_saved_state() {
        let mut slot: *mut c_void = ptr::null_mut();
        let mut p = Payload {
            slot: &mut slot,
            depth: 3,
            reached: 0,
            results: Vec::new(),
        };
        // Values live across the call in callee-saved registers or on this frame.
        let keep: [f64; 4] = core::hint::black_box([1.5, -2.25, 3.0, 4.75]);
        let sum_before: f64 = keep.iter().sum();
        // SAFETY: `nest` keeps no destructors on frames it abandons; `slot` outlives it.
        let r =
            unsafe { precast_call_catch(nest, &mut p as *mut Payload as *mut c_void, &mut slot) };
        // The outermost body returned normally after its nested catches.
        assert_eq!(r, 1);
        assert_eq!(p.reached, 4);
        // The innermost was unwound to; the two around it saw their bodies return.
        assert_eq!(p.results, [0, 1, 1]);
        assert!(slot.is_null());
        assert_eq!(keep.iter().sum::<f64>(), sum_before);
    }
}
