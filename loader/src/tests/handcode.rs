//! The signal handler on hand-assembled x86_64 code, without the compiler: a faulting load
//! and a `ud2` listed in a trap table are caught inside `catch_traps`; the process goes on.

use crate::code_registry::{self, CodeInfo};
use crate::traphandlers::catch_traps;
use precast_format::TrapCode;
use std::ffi::c_void;

#[repr(C)]
struct Payload {
    func: unsafe extern "C" fn(*const u8) -> u32,
    arg: *const u8,
}

unsafe extern "C" fn body(p: *mut c_void) {
    // SAFETY: the test passes a live Payload whose function takes one pointer.
    unsafe {
        let p = &*(p as *const Payload);
        std::hint::black_box((p.func)(p.arg));
    }
}

#[test]
fn faults_at_trap_sites_are_caught() {
    // 0: mov eax, [rdi]; 2: ret; 3: ud2
    let code = [0x8b, 0x07, 0xc3, 0x0f, 0x0b];
    let mut page = memmap2::MmapMut::map_anon(4096).unwrap();
    page[..code.len()].copy_from_slice(&code);
    let page = page.make_exec().unwrap();
    let base = page.as_ptr();
    let traps = precast_format::tables::TrapTable::encode(&[
        (0, TrapCode::MemoryOutOfBounds),
        (3, TrapCode::UnreachableCodeReached),
    ]);
    let info = CodeInfo {
        text_start: base as usize,
        text_len: code.len(),
        traps: traps.as_ptr(),
        traps_len: traps.len(),
        frame_pointers: false,
    };
    let _registration = code_registry::register(&info).unwrap();
    // SAFETY: a fresh PROT_NONE page, unmapped at the end of the test.
    let guard = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            4096,
            rustix::mm::ProtFlags::empty(),
            rustix::mm::MapFlags::PRIVATE,
        )
    }
    .unwrap();
    // SAFETY: `base` holds the code above; the transmuted signature matches it.
    let load: unsafe extern "C" fn(*const u8) -> u32 = unsafe { std::mem::transmute(base) };
    // SAFETY: as above, at the ud2.
    let trap: unsafe extern "C" fn(*const u8) -> u32 = unsafe { std::mem::transmute(base.add(3)) };
    let word = 0x1234_5678u32;
    for _ in 0..3 {
        let mut ok = Payload {
            func: load,
            arg: (&word as *const u32).cast(),
        };
        // SAFETY: `body` owns nothing with a destructor.
        let r = unsafe { catch_traps(body, (&mut ok as *mut Payload).cast()) };
        assert!(r.is_ok());
        let mut fault = Payload {
            func: load,
            arg: guard.cast(),
        };
        // SAFETY: as above; the fault is at a listed trap site.
        let r = unsafe { catch_traps(body, (&mut fault as *mut Payload).cast()) }.unwrap_err();
        assert_eq!(r.code, TrapCode::MemoryOutOfBounds);
        assert_eq!(r.pcs.first().copied(), Some(base as usize));
        let mut ill = Payload {
            func: trap,
            arg: std::ptr::null(),
        };
        // SAFETY: as above.
        let r = unsafe { catch_traps(body, (&mut ill as *mut Payload).cast()) }.unwrap_err();
        assert_eq!(r.code, TrapCode::UnreachableCodeReached);
        assert_eq!(r.pcs.first().copied(), Some(base as usize + 3));
    }
    // SAFETY: unmapping the page mapped above.
    unsafe { rustix::mm::munmap(guard, 4096) }.unwrap();
}
