//! The GDB JIT interface: code loaded at run time announced to debuggers (gdb, lldb) through
//! the `__jit_debug_descriptor` list and a breakpoint on `__jit_debug_register_code`. Each
//! entry is an in-memory ELF object describing the code where it runs. Both symbols are
//! weak: a process holding another runtime that implements the interface shares one list.

use crate::platform::sync::Mutex;
use crate::prelude::*;

#[repr(C)]
struct CodeEntry {
    next: *mut CodeEntry,
    prev: *mut CodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

#[repr(C)]
struct Descriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut CodeEntry,
    first_entry: *mut CodeEntry,
}

const REGISTER: u32 = 1;
const UNREGISTER: u32 = 2;

// The interface's two symbols, weak and never inlined (the debugger breaks on the function).
core::arch::global_asm!(
    ".pushsection .text.__jit_debug_register_code,\"ax\",%progbits",
    ".weak __jit_debug_register_code",
    ".type __jit_debug_register_code, %function",
    "__jit_debug_register_code:",
    "ret",
    ".size __jit_debug_register_code, . - __jit_debug_register_code",
    ".popsection",
    ".pushsection .data.__jit_debug_descriptor,\"aw\",%progbits",
    ".weak __jit_debug_descriptor",
    ".type __jit_debug_descriptor, %object",
    ".p2align 3",
    "__jit_debug_descriptor:",
    ".4byte 1",
    ".4byte 0",
    ".8byte 0",
    ".8byte 0",
    ".size __jit_debug_descriptor, 24",
    ".popsection",
);

unsafe extern "C" {
    static mut __jit_debug_descriptor: Descriptor;
    fn __jit_debug_register_code();
}

/// Serializes this process's changes to the list.
static LOCK: Mutex<()> = Mutex::new(());

/// A registered image, unregistered on drop.
pub(crate) struct Registration {
    entry: *mut CodeEntry,
    _image: Box<[u8]>,
}

// SAFETY: the entry and the image are owned by the registration; the list is only changed
// under `LOCK`.
unsafe impl Send for Registration {}
unsafe impl Sync for Registration {}

impl core::fmt::Debug for Registration {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registration")
            .field("size", &self._image.len())
            .finish()
    }
}

/// Announces the ELF object `image` to debuggers.
pub(crate) fn register(image: Box<[u8]>) -> Registration {
    let entry = Box::into_raw(Box::new(CodeEntry {
        next: core::ptr::null_mut(),
        prev: core::ptr::null_mut(),
        symfile_addr: image.as_ptr(),
        symfile_size: image.len() as u64,
    }));
    let _guard = LOCK.lock();
    // SAFETY: the descriptor is only changed under `LOCK`; `entry` is a fresh allocation
    // that stays valid until `Registration` drops; the debugger reads the list while the
    // process is stopped in `__jit_debug_register_code`.
    unsafe {
        let d = &raw mut __jit_debug_descriptor;
        (*entry).next = (*d).first_entry;
        if !(*d).first_entry.is_null() {
            (*(*d).first_entry).prev = entry;
        }
        (*d).first_entry = entry;
        (*d).relevant_entry = entry;
        (*d).action_flag = REGISTER;
        __jit_debug_register_code();
    }
    Registration {
        entry,
        _image: image,
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _guard = LOCK.lock();
        // SAFETY: `self.entry` is in the list (added by `register`), changed under `LOCK`.
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let e = self.entry;
            if (*e).prev.is_null() {
                (*d).first_entry = (*e).next;
            } else {
                (*(*e).prev).next = (*e).next;
            }
            if !(*e).next.is_null() {
                (*(*e).next).prev = (*e).prev;
            }
            (*d).relevant_entry = e;
            (*d).action_flag = UNREGISTER;
            __jit_debug_register_code();
            drop(Box::from_raw(e));
        }
    }
}
