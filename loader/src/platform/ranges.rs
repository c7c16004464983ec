//! A process-wide set of address ranges that a signal handler can search: no lock, no
//! allocation, no bound on how many ranges there are.
//!
//! Writers (under a mutex) publish a new sorted snapshot with one atomic pointer swap, then
//! free the old snapshot once every lookup that may have loaded it has finished. Readers count
//! themselves in and out around the lookup, in one of two counters chosen by the parity of an
//! epoch the writer advances at each swap, so a writer waits only for lookups that began
//! before its swap, never for later ones. A snapshot (and whatever an entry's `data` points
//! at, as long as its owner removes the entry before freeing it) stays valid for the whole
//! lookup. Lookups are a binary search; the memory held is that of the live entries.

use crate::platform::sync::Mutex;
use crate::prelude::*;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// One registered range `[start, end)` and a word of data for its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub start: usize,
    pub end: usize,
    pub data: usize,
}

#[cfg(feature = "std")]
impl Entry {
    /// The empty range (never registered).
    pub const EMPTY: Entry = Entry {
        start: 0,
        end: 0,
        data: 0,
    };
}

/// A set of disjoint address ranges.
pub(crate) struct Ranges {
    /// Serializes writers.
    writer: Mutex<()>,
    /// The current snapshot: a leaked `Box<Vec<Entry>>` sorted by `start`, or null (empty).
    current: AtomicPtr<Vec<Entry>>,
    /// Advanced by one at each swap.
    epoch: AtomicUsize,
    /// Lookups in progress, by the parity of the epoch they began in.
    readers: [AtomicUsize; 2],
}

impl Ranges {
    /// An empty set.
    pub const fn new() -> Ranges {
        Ranges {
            writer: Mutex::new(()),
            current: AtomicPtr::new(core::ptr::null_mut()),
            epoch: AtomicUsize::new(0),
            readers: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Adds `entry` (an empty range is not added).
    pub fn insert(&self, entry: Entry) {
        if entry.start < entry.end {
            self.update(|v| {
                let at = v.partition_point(|e| e.start < entry.start);
                v.insert(at, entry);
            });
        }
    }

    /// Removes the entry equal to `entry`, if present. When this returns, no lookup can see
    /// it any more.
    pub fn remove(&self, entry: Entry) {
        self.update(|v| v.retain(|e| *e != entry));
    }

    /// Replaces the snapshot by `edit` of a copy of it and frees the old one once no lookup
    /// can be reading it.
    fn update(&self, edit: impl FnOnce(&mut Vec<Entry>)) {
        let _writer = self.writer.lock();
        let old = self.current.load(Ordering::SeqCst);
        // SAFETY: only writers free snapshots, and we hold the writer lock.
        let mut next = match unsafe { old.as_ref() } {
            Some(v) => v.clone(),
            None => Vec::new(),
        };
        edit(&mut next);
        let next = if next.is_empty() {
            core::ptr::null_mut()
        } else {
            Box::into_raw(Box::new(next))
        };
        self.current.store(next, Ordering::SeqCst);
        // Lookups that may hold `old` are counted under the epoch before this swap (a lookup
        // counts itself in, then re-checks the epoch, then loads `current`): wait for them.
        // Lookups are short (a binary search in a signal handler).
        let before = self.epoch.fetch_add(1, Ordering::SeqCst);
        while self.readers[before & 1].load(Ordering::SeqCst) != 0 {
            core::hint::spin_loop();
            #[cfg(feature = "std")]
            std::thread::yield_now();
        }
        if old.is_null() {
            return;
        }
        // SAFETY: `old` came from `Box::into_raw`, is no longer published, and no lookup
        // that could have loaded it is still running.
        drop(unsafe { Box::from_raw(old) });
    }

    /// Calls `f` with the entry whose range contains `addr`, if any. Async-signal-safe.
    /// `f` runs while the entry is guaranteed registered; it must not unwind.
    pub fn lookup<R>(&self, addr: usize, f: impl FnOnce(Entry) -> R) -> Option<R> {
        self.read(|v| {
            let i = v.partition_point(|e| e.start <= addr);
            v[..i].last().copied().filter(|e| addr < e.end).map(f)
        })
    }

    /// Calls `f` with every entry. Async-signal-safe; `f` runs while the entries are
    /// guaranteed registered and must not unwind.
    pub fn for_each(&self, mut f: impl FnMut(Entry)) {
        self.read(|v| v.iter().copied().for_each(&mut f));
    }

    /// Runs `f` on the current snapshot, counted in as a reader.
    fn read<R>(&self, f: impl FnOnce(&[Entry]) -> R) -> R {
        let counter = loop {
            let epoch = self.epoch.load(Ordering::SeqCst);
            let counter = &self.readers[epoch & 1];
            counter.fetch_add(1, Ordering::SeqCst);
            if self.epoch.load(Ordering::SeqCst) == epoch {
                break counter;
            }
            // A writer swapped meanwhile and may already have checked this counter.
            counter.fetch_sub(1, Ordering::SeqCst);
        };
        let snapshot = self.current.load(Ordering::SeqCst);
        // SAFETY: we counted ourselves in under an epoch that was still current after, so any
        // writer that unpublishes the snapshot we load waits for `counter` to drop to zero
        // before freeing it, and we stay counted until below.
        let out = f(unsafe { snapshot.as_ref() }.map_or(&[], |v| v.as_slice()));
        counter.fetch_sub(1, Ordering::SeqCst);
        out
    }

    /// Number of entries (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lookup_all(|v| v.len())
    }

    #[cfg(test)]
    fn lookup_all<R>(&self, f: impl FnOnce(&[Entry]) -> R) -> R {
        let _writer = self.writer.lock();
        // SAFETY: snapshots are freed only by writers, excluded by the lock.
        f(unsafe { self.current.load(Ordering::SeqCst).as_ref() }.map_or(&[], |v| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(start: usize, end: usize, data: usize) -> Entry {
        Entry { start, end, data }
    }

    #[test]
    fn insert_lookup_remove() {
        let r = Ranges::new();
        r.insert(e(100, 200, 1));
        r.insert(e(10, 20, 2));
        r.insert(e(300, 301, 3));
        r.insert(e(50, 50, 4));
        assert_eq!(r.len(), 3, "the empty range is not added");
        assert_eq!(r.lookup(10, |e| e.data), Some(2));
        assert_eq!(r.lookup(19, |e| e.data), Some(2));
        assert_eq!(r.lookup(20, |e| e.data), None);
        assert_eq!(r.lookup(199, |e| e.data), Some(1));
        assert_eq!(r.lookup(300, |e| e.data), Some(3));
        assert_eq!(r.lookup(9, |e| e.data), None);
        assert_eq!(r.lookup(usize::MAX, |e| e.data), None);
        r.remove(e(100, 200, 1));
        assert_eq!(r.lookup(150, |e| e.data), None);
        r.remove(e(10, 20, 2));
        r.remove(e(300, 301, 3));
        assert_eq!(r.len(), 0);
        assert_eq!(r.lookup(10, |e| e.data), None);
    }

    /// Far more ranges than the old fixed registry's 16,384 slots, added and removed while
    /// other threads look them up; the set shrinks back to empty.
    #[test]
    fn unbounded_and_concurrent() {
        static R: Ranges = Ranges::new();
        let stop = alloc::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut hits = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for a in (0..40_000).step_by(7) {
                            if let Some(d) = R.lookup(a * 16, |e| e.data) {
                                assert_eq!(d, a);
                                hits += 1;
                            }
                            std::thread::yield_now();
                        }
                    }
                    hits
                })
            })
            .collect();
        for a in 0..20_000 {
            R.insert(e(a * 16, a * 16 + 8, a));
        }
        assert_eq!(R.len(), 20_000);
        for a in 0..20_000 {
            R.remove(e(a * 16, a * 16 + 8, a));
        }
        stop.store(true, Ordering::Relaxed);
        for t in readers {
            t.join().unwrap();
        }
        assert_eq!(R.len(), 0);
    }
}
