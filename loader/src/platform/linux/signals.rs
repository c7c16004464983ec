//! Signals on Linux: the trap handlers for SIGSEGV, SIGBUS, SIGILL and SIGFPE, and each
//! thread's alternate signal stack.
//!
//! The platform knows nothing of wasm: its handler reads the interrupted registers and the
//! faulting address into a [`Fault`] and hands it to the runtime's [`FaultHandler`], which
//! either unwinds to the innermost wasm entry (the fault was a trap) or returns; a returned
//! fault goes to the handler installed before ours, or gets the default action.

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

/// The runtime's fault handler: unwinds if the fault is a trap, returns otherwise.
///
/// # Safety
/// Called only from the signal handler, on the faulting thread.
pub(crate) type FaultHandler = unsafe fn(&Fault);

/// The handler `install` was given (set once our handlers are installed).
static ON_FAULT: OnceLock<FaultHandler> = OnceLock::new();

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

const SIGNALS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The handlers that were installed before ours, to chain to.
struct PrevActions(core::cell::UnsafeCell<[core::mem::MaybeUninit<libc::sigaction>; 4]>);

// SAFETY: written exactly once inside `install` before any of our handlers is installed, and
// only read afterwards.
unsafe impl Sync for PrevActions {}

static PREV: PrevActions = PrevActions(core::cell::UnsafeCell::new(
    [core::mem::MaybeUninit::zeroed(); 4],
));

/// Installs the trap signal handlers (once per process), which pass every fault to
/// `on_fault` first (the first caller's handler is the one kept).
pub(crate) fn install(on_fault: FaultHandler) {
    ON_FAULT.get_or_init(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: `sigaction` with a zeroed struct, our handler and an empty mask is the
            // documented way to install a handler; PREV is written before the handler can
            // run for this signal and only read afterwards.
            unsafe {
                let mut action: libc::sigaction = core::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let prev = (*PREV.0.get())[i].as_mut_ptr();
                if libc::sigaction(sig, &action, prev) != 0 {
                    // Could not install: leave the old handler recorded as default.
                    *prev = core::mem::zeroed();
                }
            }
        }
        on_fault
    });
}

/// The signal handler.
unsafe extern "C" fn handler(signum: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    if let Some(on_fault) = ON_FAULT.get() {
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
        unsafe { on_fault(&fault) };
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
