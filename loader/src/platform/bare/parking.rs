//! `memory.atomic.wait`/`notify` without threads. With no `std` there is no
//! [`SharedMemory`](crate) to share between threads, so a module's own shared memory has one
//! agent only: nobody can notify a waiter, a notify finds nobody, and a wait whose value
//! matches can only end by its timeout. With no clock on this platform the timeout is taken
//! as passed at once; a wait without timeout blocks forever, as the threads proposal says of
//! an agent nobody will wake.

use core::time::Duration;

/// What a wait ended with (the wasm result codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitResult {
    /// The memory did not hold the expected value: 1.
    NotEqual = 1,
    /// The timeout passed: 2.
    TimedOut = 2,
}

/// Waits at `addr` if `holds_expected()`: see the module documentation.
pub(crate) fn wait(
    _addr: usize,
    holds_expected: impl FnOnce() -> bool,
    timeout: Option<Duration>,
) -> WaitResult {
    if !holds_expected() {
        return WaitResult::NotEqual;
    }
    if timeout.is_some() {
        return WaitResult::TimedOut;
    }
    loop {
        core::hint::spin_loop();
    }
}

/// Wakes up to `count` waiters at `addr`: there are none.
pub(crate) fn notify(_addr: usize, _count: u32) -> u32 {
    0
}
