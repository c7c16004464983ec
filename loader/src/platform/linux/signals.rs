//! Signals on Linux: the trap handlers for SIGSEGV, SIGBUS, SIGILL and SIGFPE, and each
//! thread's alternate signal stack.
//!
//! The platform knows nothing of wasm: its handler reads the interrupted registers and the
//! faulting address into a [`Fault`] and hands it to the runtime's [`FaultHandler`], which
//! either unwinds to the innermost wasm entry (the fault was a trap), asks for a [`Resume`]
//! (the interrupted code makes a call it did not contain, then re-executes the faulting
//! instruction: fault-based epoch checks), or returns; a returned fault goes to the handler
//! installed before ours, or gets the default action.

use core::cell::Cell;
use core::ffi::{c_int, c_void};
use std::sync::OnceLock;

/// A fault, as the runtime sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fault {
    /// The faulting instruction.
    pub pc: usize,
    /// The frame pointer at the fault.
    pub fp: usize,
    /// The stack pointer at the fault.
    pub sp: usize,
    /// The faulting address, for a memory fault (SIGSEGV, SIGBUS).
    pub addr: Option<usize>,
}

/// How the faulting code goes on: as if its faulting instruction were preceded by a call of
/// `func(arg, pc, fp, sp)` (the fault's registers) that preserves every register and the
/// flags; the instruction is then executed again. `func` may also unwind to a wasm entry
/// (never by panicking). Only for faults in compiled wasm code (which keeps nothing below its
/// stack pointer), on x86_64 and aarch64.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) struct Resume {
    pub func: unsafe extern "C" fn(usize, usize, usize, usize),
    pub arg: usize,
}

/// The runtime's fault handler: unwinds if the fault is a trap, returns what to call for a
/// fault to resume from, `None` otherwise.
///
/// # Safety
/// Called only from the signal handler, on the faulting thread.
pub(crate) type FaultHandler = unsafe fn(&Fault) -> Option<Resume>;

/// The signal the runtime interrupts a thread running wasm with
/// ([`probe::interrupt`](super::probe::interrupt)): SIGURG, which nothing sends a process
/// unasked (its default action is to ignore it). Installed with `SA_RESTART`, so the system
/// calls of host code it lands in go on.
pub(crate) const PREEMPT: c_int = libc::SIGURG;

/// The runtime's handler of [`PREEMPT`], of the same shape as a [`FaultHandler`] (its
/// [`Fault`] has no address): what to call if the interrupted code is wasm code to redirect.
pub(crate) type PreemptHandler = FaultHandler;

/// The handlers `install` was given (set once our handlers are installed).
static ON_FAULT: OnceLock<(FaultHandler, PreemptHandler)> = OnceLock::new();

/// Program counter, frame pointer and stack pointer at a signal.
struct Regs {
    pc: usize,
    fp: usize,
    sp: usize,
}

/// Size of the alternate signal stack installed for threads that run wasm (guard page not
/// included): the handler runs on it, so a fault on an exhausted or corrupted stack is still
/// handled.
const ALT_STACK_SIZE: usize = 64 << 10;

std::thread_local! {
    static ALT_STACK: AltStack = const {
        AltStack {
            checked: Cell::new(false),
            mapping: Cell::new(None),
        }
    };
}

/// This thread's alternate signal stack, if we installed one (the thread may have its own
/// of at least [`ALT_STACK_SIZE`], which is kept).
struct AltStack {
    /// Whether [`AltStack::ensure`] ran on this thread.
    checked: Cell<bool>,
    /// Our mapping (guard page first) and its length.
    mapping: Cell<Option<(usize, usize)>>,
}

impl AltStack {
    /// Installs an alternate signal stack unless this thread has one large enough.
    fn ensure(&self) {
        if self.checked.replace(true) {
            return;
        }
        if current_alt_stack().is_some_and(|s| s.ss_size >= ALT_STACK_SIZE) {
            return;
        }
        let page = crate::platform::host::page_size();
        let len = ALT_STACK_SIZE + page;
        // SAFETY: a fresh private mapping nothing else refers to.
        let Ok(base) = (unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }) else {
            // Without memory for it the thread keeps its current (or no) alternate stack:
            // handling then works as before, except for faults on an exhausted stack.
            return;
        };
        // SAFETY: the first page of our mapping becomes the guard below the stack.
        let _ = unsafe { rustix::mm::mprotect(base, page, rustix::mm::MprotectFlags::empty()) };
        let stack = libc::stack_t {
            // SAFETY: `page < len`: the stack starts after the guard page.
            ss_sp: unsafe { base.cast::<u8>().add(page) }.cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: `stack` describes memory we own until `Drop` disables it.
        if unsafe { libc::sigaltstack(&stack, core::ptr::null_mut()) } == 0 {
            self.mapping.set(Some((base as usize, len)));
        } else {
            // SAFETY: our mapping, never installed.
            let _ = unsafe { rustix::mm::munmap(base, len) };
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let Some((base, len)) = self.mapping.get() else {
            return;
        };
        // SAFETY: disabling this thread's alternate stack if it is still ours, before
        // unmapping it: no handler can run on it afterwards.
        unsafe {
            if current_alt_stack()
                .is_some_and(|s| s.ss_sp as usize == base + crate::platform::host::page_size())
            {
                let disable = libc::stack_t {
                    ss_sp: core::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                if libc::sigaltstack(&disable, core::ptr::null_mut()) != 0 {
                    return; // still in use: leak it rather than free a live stack
                }
            }
            let _ = rustix::mm::munmap(base as *mut c_void, len);
        }
    }
}

/// This thread's alternate signal stack, if one is enabled.
pub(crate) fn current_alt_stack() -> Option<libc::stack_t> {
    let mut current = libc::stack_t {
        ss_sp: core::ptr::null_mut(),
        ss_flags: 0,
        ss_size: 0,
    };
    // SAFETY: a query only: no new stack, `current` is a valid out-pointer.
    let ok = unsafe { libc::sigaltstack(core::ptr::null(), &mut current) } == 0;
    (ok && current.ss_flags & libc::SS_DISABLE == 0).then_some(current)
}

/// Gives this thread an alternate signal stack, unless it has one large enough (once per
/// thread; ours is freed when the thread exits).
pub(crate) fn ensure_alt_stack() {
    ALT_STACK.with(AltStack::ensure);
}

/// Reads the interrupted registers from a signal's `ucontext`.
///
/// # Safety
/// `ctx` must be the third argument of an `SA_SIGINFO` handler.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn regs(ctx: *mut c_void) -> Regs {
    // SAFETY: the kernel passes a valid `ucontext_t` to SA_SIGINFO handlers.
    let uc = unsafe { &*(ctx as *const libc::ucontext_t) };
    let g = &uc.uc_mcontext.gregs;
    Regs {
        pc: g[libc::REG_RIP as usize] as usize,
        fp: g[libc::REG_RBP as usize] as usize,
        sp: g[libc::REG_RSP as usize] as usize,
    }
}

/// Reads the interrupted registers from a signal's `ucontext`.
///
/// # Safety
/// `ctx` must be the third argument of an `SA_SIGINFO` handler.
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
unsafe fn regs(ctx: *mut c_void) -> Regs {
    // SAFETY: the kernel passes a valid `ucontext_t` to SA_SIGINFO handlers.
    let uc = unsafe { &*(ctx as *const libc::ucontext_t) };
    let m = &uc.uc_mcontext;
    Regs {
        pc: m.pc as usize,
        fp: m.regs[29] as usize,
        sp: m.sp as usize,
    }
}

/// Reads the interrupted registers from a signal's `ucontext`.
///
/// # Safety
/// `ctx` must be the third argument of an `SA_SIGINFO` handler.
#[cfg(all(target_os = "linux", target_arch = "riscv64"))]
unsafe fn regs(ctx: *mut c_void) -> Regs {
    // SAFETY: the kernel passes a valid `ucontext_t` to SA_SIGINFO handlers.
    let uc = unsafe { &*(ctx as *const libc::ucontext_t) };
    // `__gregs[0]` is the pc, then x1..x31: sp is x2, the frame pointer s0 is x8.
    let g = &uc.uc_mcontext.__gregs;
    Regs {
        pc: g[0] as usize,
        fp: g[8] as usize,
        sp: g[2] as usize,
    }
}

/// Makes the interrupted code call the resumption stub with `resume`: pushes the faulting pc
/// (the stub's return address), `resume.arg` and `resume.func` below the interrupted stack
/// pointer, and continues at the stub.
///
/// # Safety
/// `ctx` must be the ucontext of a fault at `fault`, in code that keeps nothing below its
/// stack pointer and has 32 bytes of stack there.
#[cfg(target_arch = "x86_64")]
unsafe fn redirect(ctx: *mut c_void, fault: &Fault, resume: Resume) {
    // SAFETY: the caller's contract; the four words lie in the interrupted thread's stack.
    unsafe {
        let frame = push_frame(fault, resume);
        let g = &mut (*(ctx as *mut libc::ucontext_t)).uc_mcontext.gregs;
        g[libc::REG_RSP as usize] = frame as i64;
        g[libc::REG_RIP as usize] = precast_resume_stub as *const () as i64;
    }
}

/// Makes the interrupted code call the resumption stub with `resume` (see the x86_64
/// version).
///
/// # Safety
/// As the x86_64 version.
#[cfg(target_arch = "aarch64")]
unsafe fn redirect(ctx: *mut c_void, fault: &Fault, resume: Resume) {
    // SAFETY: as in the x86_64 version.
    unsafe {
        let frame = push_frame(fault, resume);
        let m = &mut (*(ctx as *mut libc::ucontext_t)).uc_mcontext;
        m.sp = frame as u64;
        m.pc = precast_resume_stub as *const () as u64;
    }
}

/// No resumption stub on this architecture: the runtime never asks for one here.
///
/// # Safety
/// None needed.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn redirect(_ctx: *mut c_void, _fault: &Fault, _resume: Resume) {
    crate::platform::abort("no resumption stub on this architecture");
}

/// Writes the stub's frame (pc, arg, func, padding) in the 32 bytes below the fault's stack
/// pointer (on aarch64 always 16-byte aligned; the x86_64 stub aligns its own frame);
/// returns the new stack pointer.
///
/// # Safety
/// The 32 bytes below `fault.sp` must be writable stack that nothing uses.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
unsafe fn push_frame(fault: &Fault, resume: Resume) -> usize {
    let frame = fault.sp - 32;
    let words = [fault.pc, resume.arg, resume.func as usize, 0];
    // SAFETY: the caller's contract.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), frame as *mut usize, 4) };
    frame
}

unsafe extern "C" {
    /// The resumption stub: saves every register the host ABI lets a call clobber, and the
    /// flags, makes a frame record whose return address is the faulting pc (so backtraces
    /// walk through it), calls `func(arg, pc, fp, sp)`, restores everything and returns to
    /// the faulting instruction, popping its frame.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn precast_resume_stub();
}

// Entered with [rsp] = pc, [rsp+8] = arg, [rsp+16] = func. After `push rbp`: [rbp] the
// interrupted frame pointer, [rbp+8] pc, [rbp+16] arg, [rbp+24] func, rbp+40 the interrupted
// stack pointer. The flags and the nine caller-saved integer registers follow (80 bytes),
// then xmm0-15 on a 16-byte aligned area. `ret 24` pops pc and the two words above it.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".globl precast_resume_stub",
    ".type precast_resume_stub, @function",
    ".p2align 4",
    "precast_resume_stub:",
    "push rbp",
    "mov rbp, rsp",
    "pushfq",
    "push rax",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "and rsp, -16",
    "sub rsp, 256",
    "movdqu [rsp], xmm0",
    "movdqu [rsp + 16], xmm1",
    "movdqu [rsp + 32], xmm2",
    "movdqu [rsp + 48], xmm3",
    "movdqu [rsp + 64], xmm4",
    "movdqu [rsp + 80], xmm5",
    "movdqu [rsp + 96], xmm6",
    "movdqu [rsp + 112], xmm7",
    "movdqu [rsp + 128], xmm8",
    "movdqu [rsp + 144], xmm9",
    "movdqu [rsp + 160], xmm10",
    "movdqu [rsp + 176], xmm11",
    "movdqu [rsp + 192], xmm12",
    "movdqu [rsp + 208], xmm13",
    "movdqu [rsp + 224], xmm14",
    "movdqu [rsp + 240], xmm15",
    "mov rdi, [rbp + 16]",
    "mov rsi, [rbp + 8]",
    "mov rdx, [rbp]",
    "lea rcx, [rbp + 40]",
    "call [rbp + 24]",
    "movdqu xmm0, [rsp]",
    "movdqu xmm1, [rsp + 16]",
    "movdqu xmm2, [rsp + 32]",
    "movdqu xmm3, [rsp + 48]",
    "movdqu xmm4, [rsp + 64]",
    "movdqu xmm5, [rsp + 80]",
    "movdqu xmm6, [rsp + 96]",
    "movdqu xmm7, [rsp + 112]",
    "movdqu xmm8, [rsp + 128]",
    "movdqu xmm9, [rsp + 144]",
    "movdqu xmm10, [rsp + 160]",
    "movdqu xmm11, [rsp + 176]",
    "movdqu xmm12, [rsp + 192]",
    "movdqu xmm13, [rsp + 208]",
    "movdqu xmm14, [rsp + 224]",
    "movdqu xmm15, [rsp + 240]",
    "lea rsp, [rbp - 80]",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rax",
    "popfq",
    "pop rbp",
    "ret 24",
    ".size precast_resume_stub, . - precast_resume_stub",
);

// Entered with [sp] = pc, [sp+8] = arg, [sp+16] = func (sp 16-byte aligned). Frame (704
// bytes): the frame record (interrupted x29, pc) at 0, x0-x18 and x30 at 16..176, nzcv at
// 176, q0-q31 at 192..704; the pushed words at 704..736. Returns through x16, which compiled
// code never keeps live (Cranelift's scratch register).
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".globl precast_resume_stub",
    ".type precast_resume_stub, %function",
    ".p2align 2",
    "precast_resume_stub:",
    "sub sp, sp, #704",
    "stp x0, x1, [sp, #16]",
    "stp x2, x3, [sp, #32]",
    "stp x4, x5, [sp, #48]",
    "stp x6, x7, [sp, #64]",
    "stp x8, x9, [sp, #80]",
    "stp x10, x11, [sp, #96]",
    "stp x12, x13, [sp, #112]",
    "stp x14, x15, [sp, #128]",
    "stp x16, x17, [sp, #144]",
    "stp x18, x30, [sp, #160]",
    "mrs x9, nzcv",
    "str x9, [sp, #176]",
    "ldr x9, [sp, #704]",
    "stp x29, x9, [sp]",
    "mov x29, sp",
    "stp q0, q1, [sp, #192]",
    "stp q2, q3, [sp, #224]",
    "stp q4, q5, [sp, #256]",
    "stp q6, q7, [sp, #288]",
    "stp q8, q9, [sp, #320]",
    "stp q10, q11, [sp, #352]",
    "stp q12, q13, [sp, #384]",
    "stp q14, q15, [sp, #416]",
    "stp q16, q17, [sp, #448]",
    "stp q18, q19, [sp, #480]",
    "stp q20, q21, [sp, #512]",
    "stp q22, q23, [sp, #544]",
    "stp q24, q25, [sp, #576]",
    "stp q26, q27, [sp, #608]",
    "stp q28, q29, [sp, #640]",
    "stp q30, q31, [sp, #672]",
    "ldr x0, [x29, #712]",
    "ldr x1, [x29, #704]",
    "ldr x2, [x29]",
    "add x3, x29, #736",
    "ldr x9, [x29, #720]",
    "blr x9",
    "ldp q0, q1, [sp, #192]",
    "ldp q2, q3, [sp, #224]",
    "ldp q4, q5, [sp, #256]",
    "ldp q6, q7, [sp, #288]",
    "ldp q8, q9, [sp, #320]",
    "ldp q10, q11, [sp, #352]",
    "ldp q12, q13, [sp, #384]",
    "ldp q14, q15, [sp, #416]",
    "ldp q16, q17, [sp, #448]",
    "ldp q18, q19, [sp, #480]",
    "ldp q20, q21, [sp, #512]",
    "ldp q22, q23, [sp, #544]",
    "ldp q24, q25, [sp, #576]",
    "ldp q26, q27, [sp, #608]",
    "ldp q28, q29, [sp, #640]",
    "ldp q30, q31, [sp, #672]",
    "ldr x9, [sp, #176]",
    "msr nzcv, x9",
    "ldp x0, x1, [sp, #16]",
    "ldp x2, x3, [sp, #32]",
    "ldp x4, x5, [sp, #48]",
    "ldp x6, x7, [sp, #64]",
    "ldp x8, x9, [sp, #80]",
    "ldp x10, x11, [sp, #96]",
    "ldp x12, x13, [sp, #112]",
    "ldp x14, x15, [sp, #128]",
    "ldp x18, x30, [sp, #160]",
    "ldp x29, x16, [sp]",
    "add sp, sp, #736",
    "br x16",
    ".size precast_resume_stub, . - precast_resume_stub",
);

const SIGNALS: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    PREEMPT,
];

/// The handlers that were installed before ours, to chain to.
struct PrevActions(core::cell::UnsafeCell<[core::mem::MaybeUninit<libc::sigaction>; 5]>);

// SAFETY: written exactly once inside `install` before any of our handlers is installed, and
// only read afterwards.
unsafe impl Sync for PrevActions {}

static PREV: PrevActions = PrevActions(core::cell::UnsafeCell::new(
    [core::mem::MaybeUninit::zeroed(); 5],
));

/// Installs the trap signal handlers and the [`PREEMPT`] handler (once per process), which
/// pass every fault to `on_fault` and every preemption to `on_preempt` first (the first
/// caller's handlers are the ones kept).
pub(crate) fn install(on_fault: FaultHandler, on_preempt: PreemptHandler) {
    ON_FAULT.get_or_init(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: `sigaction` with a zeroed struct, our handler and an empty mask is the
            // documented way to install a handler; PREV is written before the handler can
            // run for this signal and only read afterwards.
            unsafe {
                let mut action: libc::sigaction = core::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
                if sig == PREEMPT {
                    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
                }
                libc::sigemptyset(&mut action.sa_mask);
                let prev = (*PREV.0.get())[i].as_mut_ptr();
                if libc::sigaction(sig, &action, prev) != 0 {
                    // Could not install: leave the old handler recorded as default.
                    *prev = core::mem::zeroed();
                }
            }
        }
        (on_fault, on_preempt)
    });
}

/// The signal handler.
unsafe extern "C" fn handler(signum: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    if let Some(&(on_fault, on_preempt)) = ON_FAULT.get() {
        let on_fault = if signum == PREEMPT {
            on_preempt
        } else {
            on_fault
        };
        // SAFETY: `ctx` is the handler's ucontext; the kernel passes a valid siginfo, whose
        // `si_addr` is set for SIGSEGV and SIGBUS.
        let fault = unsafe {
            let regs = regs(ctx);
            Fault {
                pc: regs.pc,
                fp: regs.fp,
                sp: regs.sp,
                addr: (signum == libc::SIGSEGV || signum == libc::SIGBUS)
                    .then(|| (*info).si_addr() as usize),
            }
        };
        // SAFETY: on the faulting thread, inside the signal handler, as its contract asks.
        if let Some(resume) = unsafe { on_fault(&fault) } {
            // SAFETY: `ctx` is the handler's ucontext, for a fault in compiled code.
            unsafe { redirect(ctx, &fault, resume) };
            return;
        }
    }
    // SAFETY: called by the kernel as an SA_SIGINFO handler with a valid context.
    unsafe { chain(signum, info, ctx) }
}

/// Passes a signal that is not ours to the handler installed before ours.
///
/// # Safety
/// Must be called from the signal handler with its arguments.
unsafe fn chain(signum: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let Some(i) = SIGNALS.iter().position(|&s| s == signum) else {
        return;
    };
    // SAFETY: PREV was fully written before our handler was installed.
    unsafe {
        let prev = &*(*PREV.0.get())[i].as_ptr();
        if prev.sa_flags & libc::SA_SIGINFO != 0 && prev.sa_sigaction > 1 {
            let f: unsafe extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                core::mem::transmute(prev.sa_sigaction);
            f(signum, info, ctx);
        } else if signum == PREEMPT {
            // Ignored by default: nothing to pass on to.
            if prev.sa_sigaction > 1 {
                let f: unsafe extern "C" fn(c_int) = core::mem::transmute(prev.sa_sigaction);
                f(signum);
            }
        } else if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
            // Restore the previous disposition; returning re-executes the faulting
            // instruction, which then gets the default action.
            libc::sigaction(signum, prev, core::ptr::null_mut());
        } else {
            let f: unsafe extern "C" fn(c_int) = core::mem::transmute(prev.sa_sigaction);
            f(signum);
        }
    }
}
