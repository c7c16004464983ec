//! Epoch deadlines, for both kinds of check ([`Settings::epoch_probe`]).
//!
//! Load-and-compare checks read the store state's deadline. Fault-based checks read their
//! instance's probe page, which is made unreadable once the engine's epoch reaches the
//! store's deadline: by [`Probes::tick`] when the engine increments its epoch, or by
//! [`Entities::set_epoch_deadline`] when the deadline set is already reached. The fault's
//! handler calls [`probe_fault`], which makes the pages readable again, runs the store's
//! deadline behaviour (trap, or a callback setting a new deadline) and lets the check load
//! again.
//!
//! A store's probe pages are registered with the engine's [`Probes`] from its first
//! instance with one to its drop.
//!
//! [`Settings::epoch_probe`]: precast_format::Settings::epoch_probe

use crate::platform::probe::ProbePage;
use crate::platform::ranges::{Entry, Ranges};
use crate::prelude::*;
use crate::runtime::store::{Entities, VMStore};
use crate::runtime::traphandlers::Pending;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// The engine's registry of the stores with probe pages (each entry's data a
/// `*const StoreProbes`). Read without a lock, so that [`Probes::tick`] is
/// async-signal-safe.
pub(crate) struct Probes {
    stores: Ranges,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            stores: Ranges::new(),
        }
    }
}

impl core::fmt::Debug for Probes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Probes")
    }
}

impl Probes {
    /// The engine's epoch is now `epoch`: arms the pages of every store whose deadline it
    /// reached. Async-signal-safe: no lock, no allocation.
    pub fn tick(&self, epoch: u64) {
        self.stores.for_each(|e| {
            // SAFETY: a store unregisters its probes (waiting for this reader) before freeing
            // them.
            unsafe { &*(e.data as *const StoreProbes) }.tick(epoch);
        });
    }

    fn entry(store: &StoreProbes) -> Entry {
        let at = store as *const StoreProbes as usize;
        Entry {
            start: at,
            end: at + 1,
            data: at,
        }
    }
}

/// A store's probe pages and its deadline, as the engine's ticks see them.
///
/// Protocol: whoever finds the deadline reached (a tick, after incrementing the epoch, or the
/// store setting a deadline, after publishing it) arms the pages if it is the one to turn
/// `armed` on. The fault's handler makes every page readable, then turns `armed` off, then
/// reads the deadline and the epoch: a tick arming meanwhile leaves pages armed for a
/// deadline the handler then sees reached, or one that faults once more for nothing; no
/// order leaves `armed` on with readable pages.
pub(crate) struct StoreProbes {
    deadline: AtomicU64,
    armed: AtomicBool,
    /// Whether an instance of the store runs signal-interrupted code
    /// ([`Settings::epoch_signal`](precast_format::Settings::epoch_signal)).
    signalled: AtomicBool,
    /// The thread running the store's wasm (the platform's thread id), 0 when none.
    thread: AtomicU64,
    /// The pages, a list only ever pushed to (instances live as long as their store).
    pages: AtomicPtr<PageNode>,
}

struct PageNode {
    page: ProbePage,
    next: *mut PageNode,
}

impl StoreProbes {
    fn pages(&self, mut f: impl FnMut(&ProbePage)) {
        let mut at = self.pages.load(Ordering::Acquire);
        // SAFETY: nodes are published complete (Release) and freed only with the store,
        // after it left the registry.
        while let Some(node) = unsafe { at.as_ref() } {
            f(&node.page);
            at = node.next;
        }
    }

    /// Arms the pages if `epoch` reached the deadline; returns whether it did.
    fn arm_if_reached(&self, epoch: u64) -> bool {
        if self.deadline.load(Ordering::SeqCst) > epoch {
            return false;
        }
        if !self.armed.swap(true, Ordering::SeqCst) {
            self.pages(ProbePage::arm);
        }
        true
    }

    /// A tick at `epoch`: arms the pages if the deadline is reached and, for a store with
    /// signal-interrupted code running on a thread, signals that thread, on every tick until
    /// the deadline behaviour ran (a signal finding the thread outside wasm is lost, but the
    /// armed page stops the code where it comes back into wasm).
    fn tick(&self, epoch: u64) {
        if self.arm_if_reached(epoch) && self.signalled.load(Ordering::SeqCst) {
            let thread = self.thread.load(Ordering::SeqCst);
            if thread != 0 {
                crate::platform::probe::interrupt(thread);
            }
        }
    }

    /// Whether the pages are armed (async-signal-safe).
    #[cfg(feature = "std")]
    pub(crate) fn armed(&self) -> bool {
        self.armed.load(Ordering::SeqCst)
    }

    #[cfg(feature = "std")]
    fn disarm(&self) {
        self.pages(ProbePage::disarm);
        self.armed.store(false, Ordering::SeqCst);
    }
}

impl Drop for StoreProbes {
    fn drop(&mut self) {
        let mut at = *self.pages.get_mut();
        while !at.is_null() {
            // SAFETY: each node came from `Box::into_raw` and is freed once, here.
            let node = unsafe { Box::from_raw(at) };
            at = node.next;
        }
    }
}

/// A store's epoch state beyond the store state's deadline: its probe pages, once it has
/// any, registered with its engine's [`Probes`].
pub(crate) struct StoreEpoch {
    registry: Arc<Probes>,
    probes: Option<Box<StoreProbes>>,
}

impl StoreEpoch {
    pub fn new(registry: Arc<Probes>) -> StoreEpoch {
        StoreEpoch {
            registry,
            probes: None,
        }
    }
}

impl Drop for StoreEpoch {
    fn drop(&mut self) {
        if let Some(p) = &self.probes {
            // Waits for ticks reading it; the pages are freed after.
            self.registry.stores.remove(Probes::entry(p));
        }
    }
}

impl Entities {
    /// The engine's current epoch.
    fn current_epoch(&self) -> u64 {
        // SAFETY: the state's counter points at the engine's, which outlives its stores.
        unsafe { (*(*self.state.as_ptr()).epoch_counter).load(Ordering::SeqCst) }
    }

    /// Sets the store's deadline to the absolute epoch `deadline`; fault-based checks fault
    /// from now on if it is already reached.
    pub(crate) fn set_epoch_deadline(&mut self, deadline: u64) {
        // SAFETY: the store state lives as long as the store; `&mut self` is exclusive.
        unsafe { (*self.state.as_ptr()).epoch_deadline = deadline };
        if let Some(p) = &self.epoch.probes {
            p.deadline.store(deadline, Ordering::SeqCst);
            p.arm_if_reached(self.current_epoch());
        }
    }

    /// A new probe page for the instance whose VMContext is `vmctx` (armed if the store's
    /// deadline is reached), whose code is signal-interrupted if `signalled`; returns its
    /// address.
    pub(crate) fn new_probe_page(
        &mut self,
        vmctx: usize,
        signalled: bool,
    ) -> Result<usize, String> {
        let page = ProbePage::new(vmctx)?;
        let addr = page.addr();
        if self.epoch.probes.is_none() {
            // SAFETY: as in `set_epoch_deadline`.
            let deadline = unsafe { (*self.state.as_ptr()).epoch_deadline };
            let p = Box::new(StoreProbes {
                deadline: AtomicU64::new(deadline),
                armed: AtomicBool::new(false),
                signalled: AtomicBool::new(false),
                thread: AtomicU64::new(0),
                pages: AtomicPtr::new(core::ptr::null_mut()),
            });
            self.epoch.registry.stores.insert(Probes::entry(&p));
            self.epoch.probes = Some(p);
        }
        let Some(p) = &self.epoch.probes else {
            unreachable!()
        };
        if signalled {
            p.signalled.store(true, Ordering::SeqCst);
        }
        let node = Box::into_raw(Box::new(PageNode {
            page,
            next: p.pages.load(Ordering::Relaxed),
        }));
        // Only this store pushes; ticks read the list from the head.
        p.pages.store(node, Ordering::Release);
        // Armed pages stay so until the fault's handler: match them.
        if p.armed.load(Ordering::SeqCst) {
            // SAFETY: just published, freed only with the store.
            unsafe { &(*node).page }.arm();
        }
        p.arm_if_reached(self.current_epoch());
        Ok(addr)
    }
}

/// What [`enter`] replaced, restored by [`leave`].
#[cfg(feature = "std")]
pub(crate) struct Entered {
    /// The thread's previous preemption setting (`None`: left alone).
    prev: Option<(usize, usize)>,
    outermost: bool,
}

/// Before an entry into wasm of instance `vmctx` of the store of `entities` (`outermost`:
/// no other entry of the store is active): tells this thread's signal handler what a
/// preemption signal redirects to and, on the outermost entry of a store with
/// signal-interrupted code, the engine's ticks which thread to signal. A store without probe
/// pages runs no signal-interrupted code (its instances would have pages), which the handler
/// never diverts whatever the thread's setting: its entries leave the setting alone, so
/// calls of engines without epoch checks pay nothing here.
#[cfg(feature = "std")]
pub(crate) fn enter(entities: &Entities, vmctx: *mut u8, outermost: bool) -> Entered {
    use crate::runtime::traphandlers::swap_preemption;
    let Some(p) = &entities.epoch.probes else {
        return Entered {
            prev: None,
            outermost: false,
        };
    };
    let outermost = outermost && p.signalled.load(Ordering::Relaxed);
    if outermost {
        p.thread
            .store(crate::platform::probe::current_thread(), Ordering::SeqCst);
    }
    let probes: &StoreProbes = p;
    Entered {
        prev: Some(swap_preemption((
            probes as *const StoreProbes as usize,
            vmctx as usize,
        ))),
        outermost,
    }
}

/// After the entry [`enter`] prepared returned or trapped.
#[cfg(feature = "std")]
pub(crate) fn leave(entities: &Entities, entered: Entered) {
    if let Some(prev) = entered.prev {
        crate::runtime::traphandlers::swap_preemption(prev);
    }
    if entered.outermost
        && let Some(p) = &entities.epoch.probes
    {
        p.thread.store(0, Ordering::SeqCst);
    }
}

/// Runs the store's deadline behaviour if its deadline is reached (for a store with probe
/// pages, making them readable first and arming them again after, if the deadline is still
/// or again reached). `vmctx` is the VMContext of the instance checking.
///
/// Called where fault-based checks fault and on every entry from the host into code with
/// epoch checks and without fuel: the compiler then leaves the entry check out of functions
/// that do not call (a cycle of calls passes through functions that do), so a call from the
/// host finds a reached deadline here instead.
pub(crate) fn deadline_check(store: &mut dyn VMStore, vmctx: *mut u8) -> Result<(), Pending> {
    let entities = store.entities();
    #[cfg(feature = "std")]
    if let Some(p) = &entities.epoch.probes {
        p.disarm();
    }
    // SAFETY: as in `Entities::set_epoch_deadline`.
    let deadline = unsafe { (*entities.state.as_ptr()).epoch_deadline };
    if entities.current_epoch() < deadline {
        return Ok(()); // not reached (a probe armed for an earlier deadline, since replaced)
    }
    let outcome = store.epoch_interrupt(vmctx);
    // A new deadline re-armed the pages if it is reached already; a trap leaves the old one
    // reached: the next call of the store must fault at its first check too.
    let entities = store.entities();
    if let Some(p) = &entities.epoch.probes {
        p.arm_if_reached(entities.current_epoch());
    }
    outcome
}

/// Called by the resumption stub for a fault-based check that faulted on the probe page of
/// the instance whose VMContext is `vmctx`, at `pc` with frame pointer `fp` and stack
/// pointer `sp`: makes the store's pages readable again and, if its deadline is reached,
/// runs its deadline behaviour; returns to let the check load again, or raises the trap or
/// error the behaviour asked for.
///
/// # Safety
/// Only from the resumption stub, for a fault of wasm code of a live instance running inside
/// a wasm entry on this thread.
#[cfg(feature = "std")]
pub(crate) unsafe extern "C" fn probe_fault(vmctx: usize, pc: usize, fp: usize, sp: usize) {
    use crate::runtime::traphandlers::{raise, set_pending};
    use precast_format::TrapCode;
    let vmctx = vmctx as *mut u8;
    // SAFETY: the fault was in code of this live instance, which has exclusive use of its
    // store while it runs (as for a builtin).
    let store = unsafe { crate::runtime::builtins::store_of(vmctx) };
    match deadline_check(store, vmctx) {
        Ok(()) => return,
        Err(pending) => set_pending(pending),
    }
    // SAFETY: on this thread, inside its wasm entry; the frames abandoned are the stub's
    // and wasm code's (the caller's contract).
    unsafe { raise(vmctx, TrapCode::Pending as u32, pc, fp, sp) }
}
