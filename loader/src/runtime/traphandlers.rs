//! Catching traps: the per-thread trap state, the catch/unwind pair (`platform::catch`),
//! and the decision, for a fault the platform's signal handler reports, whether it is a trap
//! at a listed trap site (then it unwinds).
//!
//! Protocol: [`catch_traps`] publishes a jump buffer in this thread's [`STATE`] and runs the
//! body. When a faulting instruction is at a trap site of registered code and this thread is
//! inside [`catch_traps`], the handler records the trap code, the faulting pc and the chain of
//! return addresses (walked along frame pointers, no allocation) and jumps back;
//! [`catch_traps`] then returns a [`RawTrap`].

use crate::platform::catch::{precast_call_catch, precast_unwind};
use crate::prelude::*;
use crate::runtime::code_registry;
#[cfg(feature = "std")]
use crate::runtime::epoch::probe_fault;
use crate::runtime::error::Error;
use core::cell::{Cell, RefCell};
use core::ffi::c_void;
use precast_format::TrapCode;

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
    /// For the innermost entry: its store's probes (a `*const StoreProbes`, 0 for a store
    /// without) and the entry's VMContext, what a preemption signal redirects to.
    #[cfg(feature = "std")]
    preempt: Cell<(usize, usize)>,
}

impl TrapState {
    const fn new() -> TrapState {
        TrapState {
            jmp: Cell::new(core::ptr::null_mut()),
            stack_top: Cell::new(0),
            code: Cell::new(0),
            frames: [const { Cell::new(0) }; MAX_FRAMES],
            nframes: Cell::new(0),
            #[cfg(feature = "std")]
            preempt: Cell::new((0, 0)),
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
        crate::platform::signals::ensure_alt_stack();
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

/// Program counter, frame pointer and stack pointer where a trap was raised.
struct Regs {
    pc: usize,
    fp: usize,
    sp: usize,
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

/// Installs the platform's trap signal handlers, with [`on_fault`] deciding (once per
/// process).
#[cfg(feature = "std")]
pub(crate) fn init_signals() {
    crate::platform::signals::install(on_fault, on_preempt);
}

/// Sets what a preemption signal redirects this thread's wasm code to (see
/// [`TrapState::preempt`]); returns the previous setting.
#[cfg(feature = "std")]
pub(crate) fn swap_preemption(p: (usize, usize)) -> (usize, usize) {
    try_with_state(|s| s.preempt.replace(p)).unwrap_or((0, 0))
}

/// Resumes through [`probe_fault`] if the preemption signal interrupted signal-interrupted
/// wasm code ([`Settings::epoch_signal`](precast_format::Settings::epoch_signal)) inside an
/// entry on this thread whose store's deadline was reached (its probe pages armed); `None`
/// otherwise (the signal is then ignored: one that found the thread elsewhere is caught by
/// the probe where control comes back into wasm).
///
/// # Safety
/// Only from the platform's signal handler, on the interrupted thread.
#[cfg(feature = "std")]
unsafe fn on_preempt(
    fault: &crate::platform::signals::Fault,
) -> Option<crate::platform::signals::Resume> {
    let (jmp, (probes, vmctx)) = try_with_state(|s| (s.jmp.get(), s.preempt.get())).ok()?;
    if jmp.is_null() || probes == 0 {
        return None;
    }
    if !code_registry::with_code(fault.pc, |c| c.preemptible)? {
        return None;
    }
    // SAFETY: `preempt` names the probes of the store of the innermost entry, which is
    // running (the entry restores the previous setting before it returns).
    let probes = unsafe { &*(probes as *const crate::runtime::epoch::StoreProbes) };
    probes.armed().then_some(crate::platform::signals::Resume {
        func: probe_fault,
        arg: vmctx,
    })
}

/// Unwinds to the innermost [`catch_traps`] if the fault is at a trap site of registered code
/// executed by this thread inside wasm and, for a memory fault, its address lies in a linear
/// memory's reservation; resumes through [`probe_fault`] if it is a fault-based epoch check
/// reading an armed probe page; returns `None` otherwise (the fault is then no wasm trap but
/// a bug, and the platform passes it on to the previous handler or the default action).
///
/// # Safety
/// Only from the platform's signal handler, on the faulting thread.
#[cfg(feature = "std")]
unsafe fn on_fault(
    fault: &crate::platform::signals::Fault,
) -> Option<crate::platform::signals::Resume> {
    let jmp = try_with_state(|s| s.jmp.get()).ok()?;
    if jmp.is_null() {
        return None;
    }
    let (code, frame_pointers) =
        code_registry::with_code(fault.pc, |c| (c.trap_at(fault.pc), c.frame_pointers))?;
    let code = code?;
    if code == TrapCode::Interrupt
        && let Some(vmctx) = fault.addr.and_then(crate::platform::probe::owner_of)
    {
        return Some(crate::platform::signals::Resume {
            func: probe_fault,
            arg: vmctx,
        });
    }
    if fault
        .addr
        .is_some_and(|addr| !crate::platform::memory::is_reserved(addr))
    {
        return None;
    }
    let regs = Regs {
        pc: fault.pc,
        fp: fault.fp,
        sp: fault.sp,
    };
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
    // thread; the frames between it and here are wasm code, trampolines and the signal
    // handler, none of which own destructors.
    unsafe { precast_unwind(jmp) }
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
