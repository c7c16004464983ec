//! Epoch probe pages: one page per instance whose code checks the epoch with a dead load
//! from it ([`Settings::epoch_probe`](precast_format::Settings::epoch_probe)). The runtime
//! makes a store's pages unreadable ([`ProbePage::arm`]) once its deadline is reached; the
//! next check faults, and the signal handler finds the page's owner (the instance's
//! VMContext) with [`owner_of`], without a lock.
//!
//! Pages come from chunks mapped read-only (never written, so never backed by more than the
//! shared zero page) and kept for the life of the process, each with a table of the owners
//! of its pages; a freed page goes back to a free list.

use crate::platform::host::page_size;
use crate::platform::ranges::{Entry, Ranges};
use crate::platform::sync::Mutex;
use crate::prelude::*;
use core::sync::atomic::{AtomicUsize, Ordering};
use rustix::mm::MprotectFlags;

/// Pages per chunk.
const CHUNK_PAGES: usize = 256;

/// The chunks: each entry's data points at its owner table (`[AtomicUsize; CHUNK_PAGES]`,
/// leaked like the chunk).
static CHUNKS: Ranges = Ranges::new();

/// Pages not in use.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// One probe page, owned by an instance.
#[derive(Debug)]
pub(crate) struct ProbePage {
    addr: usize,
}

impl ProbePage {
    /// A readable page whose faults [`owner_of`] attributes to `owner` (non-zero).
    pub fn new(owner: usize) -> Result<ProbePage, String> {
        let addr = {
            let mut free = FREE.lock();
            if free.is_empty() {
                free.extend(map_chunk()?);
            }
            free.pop().ok_or("no epoch probe page")?
        };
        owner_slot(addr).store(owner, Ordering::SeqCst);
        Ok(ProbePage { addr })
    }

    /// The page's address.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Makes the page unreadable: the next check of its instance faults.
    pub fn arm(&self) {
        self.protect(MprotectFlags::empty());
    }

    /// Makes the page readable again.
    pub fn disarm(&self) {
        self.protect(MprotectFlags::READ);
    }

    fn protect(&self, flags: MprotectFlags) {
        // SAFETY: the page belongs to this probe page alone (see `new`), in a mapping kept
        // for the life of the process; no Rust reference points into it.
        let r = unsafe { rustix::mm::mprotect(self.addr as *mut _, page_size(), flags) };
        if r.is_err() {
            // Changing the protection of a page we mapped cannot fail but for lack of
            // memory for the kernel's bookkeeping; a page left armed would stop its
            // instance forever, one left readable would never interrupt it.
            crate::platform::abort("cannot change the protection of an epoch probe page");
        }
    }
}

impl Drop for ProbePage {
    fn drop(&mut self) {
        self.disarm();
        owner_slot(self.addr).store(0, Ordering::SeqCst);
        FREE.lock().push(self.addr);
    }
}

/// The owner of the probe page containing `addr`, if `addr` is in one that is in use.
/// Async-signal-safe.
pub(crate) fn owner_of(addr: usize) -> Option<usize> {
    CHUNKS
        .lookup(addr, |e| {
            let i = (addr - e.start) / page_size();
            // SAFETY: `data` is the chunk's owner table, leaked when the chunk was mapped.
            let table = unsafe { &*(e.data as *const [AtomicUsize; CHUNK_PAGES]) };
            table[i].load(Ordering::SeqCst)
        })
        .filter(|&owner| owner != 0)
}

/// The owner slot of page `addr` (a page handed out by `FREE`).
fn owner_slot(addr: usize) -> &'static AtomicUsize {
    CHUNKS
        .lookup(addr, |e| {
            // SAFETY: as in `owner_of`; the table is never freed.
            let table = unsafe { &*(e.data as *const [AtomicUsize; CHUNK_PAGES]) };
            &table[(addr - e.start) / page_size()]
        })
        .unwrap_or_else(|| crate::platform::abort("an epoch probe page outside its chunks"))
}

/// Maps a new chunk and returns its pages.
fn map_chunk() -> Result<Vec<usize>, String> {
    let page = page_size();
    let len = CHUNK_PAGES * page;
    // SAFETY: a fresh private mapping nothing else refers to.
    let base = unsafe {
        rustix::mm::mmap_anonymous(
            core::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::PRIVATE,
        )
    }
    .map_err(|e| format!("cannot map epoch probe pages: {e}"))? as usize;
    let table: &'static [AtomicUsize; CHUNK_PAGES] =
        Box::leak(Box::new([const { AtomicUsize::new(0) }; CHUNK_PAGES]));
    CHUNKS.insert(Entry {
        start: base,
        end: base + len,
        data: table as *const _ as usize,
    });
    Ok((0..CHUNK_PAGES).rev().map(|i| base + i * page).collect())
}

std::thread_local! {
    /// This thread's kernel id, once read.
    static TID: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// The calling thread's id, for [`interrupt`] (the kernel's thread id; never 0).
pub(crate) fn current_thread() -> u64 {
    TID.with(|t| {
        if t.get() == 0 {
            // SAFETY: gettid has no preconditions and cannot fail.
            t.set(unsafe { libc::syscall(libc::SYS_gettid) } as u64);
        }
        t.get()
    })
}

/// Sends the preemption signal ([`signals::PREEMPT`](super::signals::PREEMPT)) to thread
/// `thread` of this process (a [`current_thread`] id). Async-signal-safe. A thread that
/// exited meanwhile makes it fail silently; one that reused the id gets a signal its
/// handler finds nothing to redirect for.
pub(crate) fn interrupt(thread: u64) {
    // SAFETY: tgkill only sends a signal; every thread of the process has the handler, which
    // ignores a signal that does not interrupt wasm code of an interrupted store.
    unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            thread as libc::pid_t,
            super::signals::PREEMPT,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_found_while_pages_are_in_use() {
        let a = ProbePage::new(0x1000).unwrap();
        let b = ProbePage::new(0x2000).unwrap();
        assert_ne!(a.addr(), b.addr());
        assert_eq!(owner_of(a.addr() + 17), Some(0x1000));
        assert_eq!(owner_of(b.addr()), Some(0x2000));
        let addr = a.addr();
        drop(a);
        assert_eq!(owner_of(addr), None);
        assert_eq!(owner_of(0x10), None);
        // Arming and disarming leave the page readable.
        b.arm();
        b.disarm();
        // SAFETY: the page is mapped readable.
        assert_eq!(
            unsafe { core::ptr::read_volatile(b.addr() as *const u8) },
            0
        );
    }
}
