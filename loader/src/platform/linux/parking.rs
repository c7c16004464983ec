//! Wait queues for `memory.atomic.wait32/64` and `memory.atomic.notify`, keyed by native
//! address (one process-wide table, like a futex).
//!
//! A waiter compares the memory with its expected value under the table lock, so a notify
//! (which takes the lock too) cannot slip between the comparison and the wait.

use crate::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// What a wait ended with (the wasm result codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitResult {
    /// Woken by a notify: 0.
    Woken = 0,
    /// The memory did not hold the expected value: 1.
    NotEqual = 1,
    /// The timeout passed: 2.
    TimedOut = 2,
}

#[derive(Default)]
struct Waiter {
    woken: Mutex<bool>,
    wake: Condvar,
}

static QUEUES: LazyLock<Mutex<HashMap<usize, Vec<Arc<Waiter>>>>> = LazyLock::new(Default::default);

fn queues() -> std::sync::MutexGuard<'static, HashMap<usize, Vec<Arc<Waiter>>>> {
    // A panic while holding the lock leaves the table consistent (every update is a single
    // push or removal): keep using it.
    QUEUES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits at `addr` if `holds_expected()` (called under the table lock), until notified or
/// `timeout` (`None`: forever) passes.
pub(crate) fn wait(
    addr: usize,
    holds_expected: impl FnOnce() -> bool,
    timeout: Option<Duration>,
) -> WaitResult {
    let waiter = Arc::new(Waiter::default());
    {
        let mut q = queues();
        if !holds_expected() {
            return WaitResult::NotEqual;
        }
        q.entry(addr).or_default().push(waiter.clone());
    }
    let deadline = timeout.map(|t| Instant::now().checked_add(t));
    let mut woken = waiter.woken.lock().unwrap_or_else(|e| e.into_inner());
    while !*woken {
        match deadline {
            None | Some(None) => {
                woken = waiter.wake.wait(woken).unwrap_or_else(|e| e.into_inner());
            }
            Some(Some(deadline)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                woken = waiter
                    .wake
                    .wait_timeout(woken, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
    if *woken {
        return WaitResult::Woken;
    }
    drop(woken);
    // Timed out: leave the queue, unless a notify took us out meanwhile (then it counted us
    // as woken).
    let mut q = queues();
    if let Some(list) = q.get_mut(&addr)
        && let Some(i) = list.iter().position(|w| Arc::ptr_eq(w, &waiter))
    {
        list.remove(i);
        if list.is_empty() {
            q.remove(&addr);
        }
        return WaitResult::TimedOut;
    }
    WaitResult::Woken
}

/// Wakes up to `count` waiters at `addr`, oldest first; returns how many.
pub(crate) fn notify(addr: usize, count: u32) -> u32 {
    let mut q = queues();
    let Some(list) = q.get_mut(&addr) else {
        return 0;
    };
    let n = list.len().min(count as usize);
    for w in list.drain(..n) {
        *w.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        w.wake.notify_one();
    }
    if list.is_empty() {
        q.remove(&addr);
    }
    n as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_equal_timeout_and_notify() {
        assert_eq!(wait(8, || false, None), WaitResult::NotEqual);
        assert_eq!(
            wait(8, || true, Some(Duration::from_millis(1))),
            WaitResult::TimedOut
        );
        assert_eq!(notify(8, 10), 0, "the timed-out waiter left the queue");
        let waiter = std::thread::spawn(|| wait(16, || true, None));
        // Notify until the waiter is there and woken.
        let mut woken = 0;
        while woken == 0 {
            std::thread::sleep(Duration::from_millis(1));
            woken = notify(16, 1);
        }
        assert_eq!(woken, 1);
        assert_eq!(waiter.join().unwrap(), WaitResult::Woken);
    }
}
