//! Process-wide registry of loaded code ranges, read by the signal handler.
//!
//! A [`Ranges`] set: the read path takes no lock and does not allocate, and any number of
//! modules can be registered. Each entry holds the text range and a pointer to a [`CodeInfo`]
//! owned by the module; the module unregisters on drop before freeing it.

use crate::platform::ranges::{Entry, Ranges};
use precast_format::TrapCode;
use precast_format::tables::TrapTable;

/// What the signal handler needs to know about one module's code.
#[derive(Debug)]
// The trap table is read by the signal handler (the Linux platform).
#[cfg_attr(not(feature = "std"), allow(dead_code))]
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
    /// Whether a signal may redirect this code at any instruction into the deadline
    /// behaviour ([`Settings::epoch_signal`](precast_format::Settings::epoch_signal)).
    pub preemptible: bool,
}

#[cfg_attr(not(feature = "std"), allow(dead_code))]
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
        let bytes = unsafe { core::slice::from_raw_parts(self.traps, self.traps_len) };
        let offset = u32::try_from(pc - self.text_start).ok()?;
        TrapTable::new(bytes)?.trap_at(offset)
    }
}

static CODE: Ranges = Ranges::new();

// SAFETY: CodeInfo only holds addresses of the module's immutable mapping.
unsafe impl Send for CodeInfo {}
// SAFETY: as above; all accesses are reads.
unsafe impl Sync for CodeInfo {}

/// A registration; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    entry: Entry,
}

/// Registers `info` (which must stay alive and unmoved until the registration is dropped).
pub(crate) fn register(info: &CodeInfo) -> Registration {
    let entry = Entry {
        start: info.text_start,
        end: info.text_start + info.text_len,
        data: info as *const CodeInfo as usize,
    };
    CODE.insert(entry);
    Registration { entry }
}

impl Drop for Registration {
    fn drop(&mut self) {
        CODE.remove(self.entry);
    }
}

/// Calls `f` with the code containing `pc`, if any. Async-signal-safe: no locks, no
/// allocation.
pub(crate) fn with_code<R>(pc: usize, f: impl FnOnce(&CodeInfo) -> R) -> Option<R> {
    CODE.lookup(pc, |e| {
        // SAFETY: `data` is the `CodeInfo` of a live registration: its module removes the
        // entry (which waits out this lookup) before freeing it.
        f(unsafe { &*(e.data as *const CodeInfo) })
    })
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
            preemptible: false,
        };
        let reg = register(&info);
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
}
