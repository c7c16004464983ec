//! Process-wide registry of loaded code ranges, read by the signal handler.
//!
//! The read path takes no lock and does not allocate: it scans a fixed array of atomic slots
//! up to a high-water mark. Each slot holds the text range and a pointer to a [`CodeInfo`]
//! owned by the module; the module unregisters on drop before freeing it.

use precast_format::TrapCode;
use precast_format::tables::TrapTable;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// What the signal handler needs to know about one module's code.
#[derive(Debug)]
pub(crate) struct CodeInfo {
    /// Address of the first byte of `.text`.
    pub text_start: usize,
    /// Length of `.text` in bytes.
    pub text_len: usize,
    /// The trap table bytes (inside the module's mapping, which outlives the registration).
    pub traps: *const u8,
    /// Length of the trap table in bytes.
    pub traps_len: usize,
    /// Whether the code keeps frame pointers (backtraces can walk them).
    pub frame_pointers: bool,
}

impl CodeInfo {
    /// Whether `pc` lies in this code.
    pub fn contains(&self, pc: usize) -> bool {
        pc >= self.text_start && pc - self.text_start < self.text_len
    }

    /// The trap code recorded at exactly `pc`.
    pub fn trap_at(&self, pc: usize) -> Option<TrapCode> {
        if !self.contains(pc) {
            return None;
        }
        // SAFETY: `traps` points at `traps_len` bytes of the module's read-only mapping,
        // which stays mapped while the module (and thus this registration) is alive.
        let bytes = unsafe { std::slice::from_raw_parts(self.traps, self.traps_len) };
        let offset = u32::try_from(pc - self.text_start).ok()?;
        TrapTable::new(bytes)?.trap_at(offset)
    }
}

const SLOTS: usize = 16384;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    info: AtomicPtr<CodeInfo>,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    info: AtomicPtr::new(std::ptr::null_mut()),
};

static REGISTRY: [Slot; SLOTS] = [EMPTY; SLOTS];
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

/// Marker stored while a slot is being filled.
fn claiming() -> *mut CodeInfo {
    std::ptr::dangling_mut()
}

/// A registration; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: usize,
}

/// Registers `info` (which must stay alive and unmoved until the registration is dropped).
/// Returns `None` when every slot is taken.
pub(crate) fn register(info: &CodeInfo) -> Option<Registration> {
    for (i, slot) in REGISTRY.iter().enumerate() {
        if slot
            .info
            .compare_exchange(
                std::ptr::null_mut(),
                claiming(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            slot.start.store(info.text_start, Ordering::Release);
            slot.end
                .store(info.text_start + info.text_len, Ordering::Release);
            slot.info
                .store(info as *const CodeInfo as *mut CodeInfo, Ordering::Release);
            HIGH_WATER.fetch_max(i + 1, Ordering::AcqRel);
            return Some(Registration { slot: i });
        }
    }
    None
}

impl Drop for Registration {
    fn drop(&mut self) {
        let slot = &REGISTRY[self.slot];
        slot.info.store(claiming(), Ordering::Release);
        slot.start.store(0, Ordering::Release);
        slot.end.store(0, Ordering::Release);
        slot.info.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// Calls `f` with the code containing `pc`, if any. Async-signal-safe: no locks, no
/// allocation.
pub(crate) fn with_code<R>(pc: usize, f: impl FnOnce(&CodeInfo) -> R) -> Option<R> {
    let n = HIGH_WATER.load(Ordering::Acquire).min(SLOTS);
    for slot in &REGISTRY[..n] {
        let info = slot.info.load(Ordering::Acquire);
        if info.is_null() || info == claiming() {
            continue;
        }
        let start = slot.start.load(Ordering::Acquire);
        let end = slot.end.load(Ordering::Acquire);
        if pc < start || pc >= end {
            continue;
        }
        // Re-check that the slot still holds the same registration as the range we read.
        if slot.info.load(Ordering::Acquire) != info {
            continue;
        }
        // SAFETY: the pointer was published by `register` and is only freed after
        // `Registration::drop` cleared it; a pc inside the range means that code is being
        // executed or walked by this thread, which keeps its module alive.
        let info = unsafe { &*info };
        return Some(f(info));
    }
    None
}

/// Whether `pc` lies in any registered code.
pub(crate) fn is_registered_code(pc: usize) -> bool {
    with_code(pc, |_| ()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_lookup_unregister() {
        let traps =
            precast_format::tables::TrapTable::encode(&[(4, TrapCode::UnreachableCodeReached)]);
        let code = [0u8; 32];
        let info = CodeInfo {
            text_start: code.as_ptr() as usize,
            text_len: code.len(),
            traps: traps.as_ptr(),
            traps_len: traps.len(),
            frame_pointers: true,
        };
        let reg = register(&info).unwrap();
        let base = code.as_ptr() as usize;
        assert!(is_registered_code(base));
        assert!(is_registered_code(base + 31));
        assert!(!is_registered_code(base + 32));
        assert_eq!(
            with_code(base + 4, |c| c.trap_at(base + 4)).flatten(),
            Some(TrapCode::UnreachableCodeReached)
        );
        assert_eq!(with_code(base + 5, |c| c.trap_at(base + 5)).flatten(), None);
        drop(reg);
        assert!(!is_registered_code(base));
    }

    #[test]
    fn slots_are_reused() {
        let code = [0u8; 4];
        let info = CodeInfo {
            text_start: code.as_ptr() as usize,
            text_len: code.len(),
            traps: code.as_ptr(),
            traps_len: 0,
            frame_pointers: true,
        };
        for _ in 0..2 * SLOTS {
            drop(register(&info).expect("a free slot"));
        }
    }
}
