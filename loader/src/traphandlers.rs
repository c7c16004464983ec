//! Catching traps: the per-thread trap state, the catch/unwind pair (`platform::catch`)
//! and the signal handler that turns a fault at a listed trap site into an unwind.
//!
//! Protocol: [`catch_traps`] publishes a jump buffer in this thread's [`STATE`] and runs the
//! body. When a faulting instruction is at a trap site of registered code and this thread is
//! inside [`catch_traps`], the handler records the trap code, the faulting pc and the chain of
//! return addresses (walked along frame pointers, no allocation) and jumps back;
//! [`catch_traps`] then returns a [`RawTrap`].

use crate::code_registry;
use crate::error::Error;
use crate::platform::catch::{precast_call_catch, precast_unwind};
use crate::prelude::*;
use core::cell::{Cell, RefCell};
#[cfg(feature = "std")]
use core::ffi::c_int;
use core::ffi::c_void;
use precast_format::TrapCode;
#[cfg(feature = "std")]
use std::sync::Once;

/// Maximum number of frames recorded for a backtrace.
pub(crate) const MAX_FRAMES: usize = 128;

/// Per-thread trap state, read and written by the signal handler: plain cells, const
/// initialized, no destructor.
struct TrapState {
    /// The innermost active jump buffer (null when not inside wasm).
    jmp: Cell<*mut c_void>,
    /// Highest stack address frame walking may read (the innermost entry's frame).
    stack_top: Cell<usize>,
    /// Recorded trap code.
    code: Cell<u8>,
    /// Recorded pcs: the faulting pc, then return addresses.
    frames: [Cell<usize>; MAX_FRAMES],
    /// Number of valid entries in `frames`.
    nframes: Cell<usize>,
}

impl TrapState {
    const fn new() -> TrapState {
        TrapState {
            jmp: Cell::new(core::ptr::null_mut()),
            stack_top: Cell::new(0),
            code: Cell::new(0),
            frames: [const { Cell::new(0) }; MAX_FRAMES],
            nframes: Cell::new(0),
        }
    }
}

/// The runtime's per-thread state: the trap state and what a builtin or host function
/// recorded before failing.
struct ThreadState {
    trap: TrapState,
    pending: RefCell<Option<Pending>>,
}

impl ThreadState {
    const fn new() -> ThreadState {
        ThreadState {
            trap: TrapState::new(),
            pending: RefCell::new(None),
        }
    }
}

#[cfg(feature = "std")]
std::thread_local! {
    static THREAD: ThreadState = const { ThreadState::new() };
}

/// Runs `f` on this thread's state, if it is reachable (not while the thread is being torn
/// down).
#[cfg(feature = "std")]
fn try_with_thread<R>(f: impl FnOnce(&ThreadState) -> R) -> Result<R, ()> {
    THREAD.try_with(f).map_err(|_| ())
}

/// Runs `f` on this thread's state, reached through the platform's TLS slot (allocated on
/// the thread's first use; see [`crate::platform::tls`]).
#[cfg(not(feature = "std"))]
fn try_with_thread<R>(f: impl FnOnce(&ThreadState) -> R) -> Result<R, ()> {
    let mut p = crate::platform::tls::get().cast::<ThreadState>();
    if p.is_null() {
        p = Box::into_raw(Box::new(ThreadState::new()));
        crate::platform::tls::set(p.cast());
    }
    // SAFETY: the slot holds this thread's `ThreadState`, leaked on its first use and never
    // freed or shared with another thread (the platform's TLS contract).
    Ok(f(unsafe { &*p }))
}

fn with_state<R>(f: impl FnOnce(&TrapState) -> R) -> R {
    match try_with_thread(|t| f(&t.trap)) {
        Ok(r) => r,
        Err(()) => panic!("the runtime's thread state is gone (thread exiting)"),
    }
}

#[cfg(feature = "std")]
fn try_with_state<R>(f: impl FnOnce(&TrapState) -> R) -> Result<R, ()> {
    try_with_thread(|t| f(&t.trap))
}

#[cfg(feature = "std")]
/// Size of the alternate signal stack installed for threads that run wasm (guard page not
/// included): the handler runs on it, so a fault on an exhausted or corrupted stack is still
/// handled.
const ALT_STACK_SIZE: usize = 64 << 10;

#[cfg(feature = "std")]
std::thread_local! {
    static ALT_STACK: AltStack = const {
        AltStack {
            checked: Cell::new(false),
            mapping: Cell::new(None),
        }
    };
}

#[cfg(feature = "std")]
/// This thread's alternate signal stack, if we installed one (the thread may have its own
/// of at least [`ALT_STACK_SIZE`], which is kept).
struct AltStack {
    /// Whether [`AltStack::ensure`] ran on this thread.
    checked: Cell<bool>,
    /// Our mapping (guard page first) and its length.
    mapping: Cell<Option<(usize, usize)>>,
}

#[cfg(feature = "std")]
impl AltStack {
    /// Installs an alternate signal stack unless this thread has one large enough.
    fn ensure(&self) {
        if self.checked.replace(true) {
            return;
        }
        if current_alt_stack().is_some_and(|s| s.ss_size >= ALT_STACK_SIZE) {
            return;
        }
        let page = crate::host::page_size();
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

#[cfg(feature = "std")]
impl Drop for AltStack {
    fn drop(&mut self) {
        let Some((base, len)) = self.mapping.get() else {
            return;
        };
        // SAFETY: disabling this thread's alternate stack if it is still ours, before
        // unmapping it: no handler can run on it afterwards.
        unsafe {
            if current_alt_stack()
                .is_some_and(|s| s.ss_sp as usize == base + crate::host::page_size())
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

#[cfg(feature = "std")]
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

/// What a builtin or host function recorded before returning a non-zero status.
#[derive(Debug)]
pub(crate) enum Pending {
    /// A trap with this code.
    Trap(TrapCode),
    /// A host error (or a nested trap) to report as is.
    Error(Error),
}

/// Records `pending` for the next [`TrapCode::Pending`] trap on this thread.
pub(crate) fn set_pending(pending: Pending) {
    let _ = try_with_thread(|t| *t.pending.borrow_mut() = Some(pending));
}

/// Takes the recorded pending trap or error.
pub(crate) fn take_pending() -> Option<Pending> {
    try_with_thread(|t| t.pending.borrow_mut().take()).unwrap_or(None)
}

/// A caught trap before symbolization.
#[derive(Debug)]
pub(crate) struct RawTrap {
    /// The trap code at the faulting pc.
    pub code: TrapCode,
    /// The faulting pc, then return addresses inside registered code.
    pub pcs: Vec<usize>,
}

/// Whether this thread is currently executing wasm (inside [`catch_traps`]).
#[cfg(test)]
pub(crate) fn in_wasm() -> bool {
    try_with_thread(|t| !t.trap.jmp.get().is_null()).unwrap_or(false)
}

/// Runs `body(payload)`, catching traps raised by registered code.
///
/// # Safety
/// `body` must not own values with destructors on its frame when the trap occurs (its frame
/// and every frame it calls are abandoned), and must not unwind (panic).
#[cfg(test)]
pub(crate) unsafe fn catch_traps(
    body: unsafe extern "C" fn(*mut c_void),
    payload: *mut c_void,
) -> Result<(), RawTrap> {
    // SAFETY: the caller's contract.
    unsafe { catch_traps_with(body, payload, true) }
}

/// Runs `body(payload)`, catching traps raised by registered code: with `signal_handlers`,
/// after installing the trap signal handlers (once per process) and this thread's alternate
/// signal stack; without, only traps raised through the `Trap` builtin ([`raise`]) are
/// caught, and nothing is installed.
///
/// # Safety
/// As [`catch_traps`].
pub(crate) unsafe fn catch_traps_with(
    body: unsafe extern "C" fn(*mut c_void),
    payload: *mut c_void,
    signal_handlers: bool,
) -> Result<(), RawTrap> {
    #[cfg(feature = "std")]
    if signal_handlers {
        init_signals();
        ALT_STACK.with(AltStack::ensure);
    }
    // Without the Linux platform there are no handlers (the engine refuses to enable them).
    #[cfg(not(feature = "std"))]
    let _ = signal_handlers;
    let marker = 0u8;
    let here = core::ptr::addr_of!(marker) as usize;
    let (slot, prev_top) = with_state(|s| (s.jmp.as_ptr(), s.stack_top.replace(here)));
    // SAFETY: `slot` is this thread's jump slot, valid for the whole call; the caller
    // guarantees `body` abandons no destructors and does not unwind.
    let ok = unsafe { precast_call_catch(body, payload, slot) };
    with_state(|s| s.stack_top.set(prev_top));
    if ok != 0 {
        return Ok(());
    }
    Err(with_state(|s| {
        let n = s.nframes.get().min(MAX_FRAMES);
        RawTrap {
            code: TrapCode::from_u8(s.code.get()).unwrap_or(TrapCode::Pending),
            pcs: s.frames[..n].iter().map(Cell::get).collect(),
        }
    }))
}

/// Program counter, frame pointer and stack pointer at a signal.
struct Regs {
    pc: usize,
    fp: usize,
    sp: usize,
}

/// Reads the interrupted registers from a signal's `ucontext`.
///
/// # Safety
/// `ctx` must be the third argument of an `SA_SIGINFO` handler.
#[cfg(all(feature = "std", target_os = "linux", target_arch = "x86_64"))]
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
#[cfg(all(feature = "std", target_os = "linux", target_arch = "aarch64"))]
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
#[cfg(all(feature = "std", target_os = "linux", target_arch = "riscv64"))]
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

/// Records the frames starting at `regs` into `state`: the faulting pc, then each return
/// address found along the frame-pointer chain while it stays inside registered code and
/// inside the stack between the fault's sp and the innermost entry.
///
/// # Safety
/// Must run on the faulting thread; reads stack memory only within `[regs.sp, stack_top)`.
unsafe fn record_frames(state: &TrapState, regs: &Regs) {
    let top = state.stack_top.get();
    state.frames[0].set(regs.pc);
    let mut n = 1;
    let mut fp = regs.fp;
    let word = core::mem::size_of::<usize>();
    while n < MAX_FRAMES
        && fp >= regs.sp
        && fp.is_multiple_of(word)
        && fp.checked_add(2 * word).is_some_and(|end| end <= top)
    {
        // SAFETY: `fp..fp + 2 words` lies within this thread's live stack, between the
        // interrupted stack pointer and the frame of the innermost `catch_traps`.
        let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + word) as *const usize)) };
        if !code_registry::is_registered_code(ret) {
            break;
        }
        state.frames[n].set(ret);
        n += 1;
        if next_fp <= fp {
            break;
        }
        fp = next_fp;
    }
    state.nframes.set(n);
}

/// Raises trap `code` (a [`TrapCode`] byte) for the wasm code whose call of the `Trap`
/// builtin returns to `pc`, with frame pointer `fp` and stack pointer `sp` at the call (the
/// builtin's naked stub passes them): records the trap and its frames as the signal handler
/// does for a fault, and unwinds to the innermost [`catch_traps_with`]. No signal is involved.
///
/// # Safety
/// Only for the `Trap` builtin, called by wasm code running inside [`catch_traps_with`] on
/// this thread: the frames it abandons are wasm code, trampolines and the stub, none of which
/// own destructors.
pub(crate) unsafe extern "C" fn raise(
    _vmctx: *mut u8,
    code: u32,
    pc: usize,
    fp: usize,
    sp: usize,
) -> ! {
    let code = u8::try_from(code)
        .ok()
        .and_then(TrapCode::from_u8)
        .unwrap_or(TrapCode::Pending);
    let jmp = with_state(|s| {
        s.code.set(code as u8);
        let frame_pointers = code_registry::with_code(pc, |c| c.frame_pointers).unwrap_or(false);
        if frame_pointers {
            // SAFETY: on the trapping thread, inside catch_traps (checked below before the
            // unwind; the walk only reads this thread's stack between `sp` and its top).
            unsafe { record_frames(s, &Regs { pc, fp, sp }) };
        } else {
            s.frames[0].set(pc);
            s.nframes.set(1);
        }
        s.jmp.get()
    });
    if jmp.is_null() {
        // Wasm runs only inside catch_traps: there is no entry to return to.
        crate::platform::abort("a trap outside of any wasm entry");
    }
    // SAFETY: `jmp` is the live jump buffer of the innermost catch on this thread; the
    // frames above it own no destructors (the caller's contract).
    unsafe { precast_unwind(jmp) }
}

#[cfg(feature = "std")]
const SIGNALS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

#[cfg(feature = "std")]
/// The handlers that were installed before ours, to chain to.
struct PrevActions(core::cell::UnsafeCell<[core::mem::MaybeUninit<libc::sigaction>; 4]>);

// SAFETY: written exactly once inside `INIT` before any of our handlers is installed, and
// only read afterwards.
#[cfg(feature = "std")]
unsafe impl Sync for PrevActions {}

#[cfg(feature = "std")]
static PREV: PrevActions = PrevActions(core::cell::UnsafeCell::new(
    [core::mem::MaybeUninit::zeroed(); 4],
));
#[cfg(feature = "std")]
static INIT: Once = Once::new();

#[cfg(feature = "std")]
/// Installs the trap signal handlers (once per process).
pub(crate) fn init_signals() {
    INIT.call_once(|| {
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
    });
}

#[cfg(feature = "std")]
/// The signal handler.
unsafe extern "C" fn handler(signum: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: called by the kernel as an SA_SIGINFO handler with a valid context.
    unsafe {
        try_handle(signum, info, ctx);
        chain(signum, info, ctx);
    }
}

#[cfg(feature = "std")]
/// Unwinds to the innermost [`catch_traps`] if the fault is at a trap site of registered code
/// executed by this thread inside wasm and, for a memory fault, its address lies in a linear
/// memory's reservation; returns otherwise (the fault is then no wasm trap but a bug, and the
/// previous handler or the default action deals with it).
///
/// # Safety
/// Must be called from the signal handler with its arguments.
unsafe fn try_handle(signum: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let Ok(jmp) = try_with_state(|s| s.jmp.get()) else {
        return;
    };
    if jmp.is_null() {
        return;
    }
    // SAFETY: `ctx` is the handler's ucontext.
    let regs = unsafe { regs(ctx) };
    let Some((Some(code), frame_pointers)) =
        code_registry::with_code(regs.pc, |c| (c.trap_at(regs.pc), c.frame_pointers))
    else {
        return;
    };
    if signum == libc::SIGSEGV || signum == libc::SIGBUS {
        // SAFETY: the kernel passes a valid siginfo; `si_addr` is set for these signals.
        let addr = unsafe { (*info).si_addr() } as usize;
        if !crate::platform::memory::is_reserved(addr) {
            return;
        }
    }
    let _ = try_with_state(|s| {
        s.code.set(code as u8);
        if frame_pointers {
            // SAFETY: we are on the faulting thread, inside catch_traps (jmp is set).
            unsafe { record_frames(s, &regs) };
        } else {
            s.frames[0].set(regs.pc);
            s.nframes.set(1);
        }
    });
    // SAFETY: `jmp` is the live jump buffer of the innermost `precast_call_catch` on this
    // thread; the frames between it and here are wasm code, trampolines and this handler,
    // none of which own destructors.
    unsafe { precast_unwind(jmp) }
}

#[cfg(feature = "std")]
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

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn returns(payload: *mut c_void) {
        // SAFETY: the test passes a pointer to a live u32.
        unsafe { *(payload as *mut u32) += 1 };
    }

    #[test]
    fn catch_without_trap_returns_ok() {
        let mut n = 0u32;
        // SAFETY: `returns` has no destructors and cannot panic.
        let r = unsafe { catch_traps(returns, &mut n as *mut u32 as *mut c_void) };
        assert!(r.is_ok());
        assert_eq!(n, 1);
        assert!(!in_wasm());
    }

    #[test]
    fn pending_round_trip() {
        set_pending(Pending::Trap(TrapCode::MemoryOutOfBounds));
        assert!(matches!(
            take_pending(),
            Some(Pending::Trap(TrapCode::MemoryOutOfBounds))
        ));
        assert!(take_pending().is_none());
    }
}
