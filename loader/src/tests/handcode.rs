//! The signal handler on hand-assembled x86_64 code, without the compiler: a faulting load
//! (in a linear memory's reservation) and a `ud2` listed in a trap table are caught inside
//! `catch_traps`; the process goes on. A fault elsewhere kills it.

use crate::platform::memory::LinearMemory;
use crate::prelude::*;
use crate::runtime::code_registry::{self, CodeInfo};
use crate::runtime::traphandlers::catch_traps;
use core::ffi::c_void;
use precast_format::TrapCode;

#[repr(C)]
struct Payload {
    func: unsafe extern "C" fn(*const u8) -> u32,
    arg: *const u8,
}

unsafe extern "C" fn body(p: *mut c_void) {
    // SAFETY: the test passes a live Payload whose function takes one pointer.
    unsafe {
        let p = &*(p as *const Payload);
        core::hint::black_box((p.func)(p.arg));
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
        preemptible: false,
    };
    let _registration = code_registry::register(&info);
    // A memory of no pages: its whole reservation is a guard region the handler owns.
    let memory = empty_memory();
    let guard = memory.base();
    // SAFETY: `base` holds the code above; the transmuted signature matches it.
    let load: unsafe extern "C" fn(*const u8) -> u32 = unsafe { core::mem::transmute(base) };
    // SAFETY: as above, at the ud2.
    let trap: unsafe extern "C" fn(*const u8) -> u32 = unsafe { core::mem::transmute(base.add(3)) };
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
            arg: core::ptr::null(),
        };
        // SAFETY: as above.
        let r = unsafe { catch_traps(body, (&mut ill as *mut Payload).cast()) }.unwrap_err();
        assert_eq!(r.code, TrapCode::UnreachableCodeReached);
        assert_eq!(r.pcs.first().copied(), Some(base as usize + 3));
    }
    assert!(
        crate::platform::signals::current_alt_stack().is_some_and(|s| s.ss_size >= 64 << 10),
        "wasm runs with an alternate signal stack"
    );
}

fn empty_memory() -> LinearMemory {
    let ty = precast_format::module::MemoryType {
        minimum: 0,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: 16,
    };
    LinearMemory::new(&ty, 1 << 16, 1 << 16, None).unwrap()
}

/// Hand code at `base` that loads from its argument, with the load listed as a trap site.
struct LoadCode {
    _page: memmap2::Mmap,
    _traps: Vec<u8>,
    _info: Box<CodeInfo>,
    _registration: code_registry::Registration,
    load: unsafe extern "C" fn(*const u8) -> u32,
}

fn load_code() -> LoadCode {
    // 0: mov eax, [rdi]; 2: ret
    let code = [0x8b, 0x07, 0xc3];
    let mut page = memmap2::MmapMut::map_anon(4096).unwrap();
    page[..code.len()].copy_from_slice(&code);
    let page = page.make_exec().unwrap();
    let traps = precast_format::tables::TrapTable::encode(&[(0, TrapCode::MemoryOutOfBounds)]);
    let info = Box::new(CodeInfo {
        text_start: page.as_ptr() as usize,
        text_len: code.len(),
        traps: traps.as_ptr(),
        traps_len: traps.len(),
        frame_pointers: false,
        preemptible: false,
    });
    let registration = code_registry::register(&info);
    // SAFETY: the page holds the code above; the signature matches it.
    let load = unsafe {
        core::mem::transmute::<*const u8, unsafe extern "C" fn(*const u8) -> u32>(page.as_ptr())
    };
    LoadCode {
        _page: page,
        _traps: traps,
        _info: info,
        _registration: registration,
        load,
    }
}

/// A fault at a trap site is a trap only at an address in a linear memory's reservation: a
/// wild address (here a guard page of no memory's, then a memory's reservation after the
/// memory is dropped) is a real crash, which the process must not survive as a wasm trap.
#[test]
fn faults_outside_memory_reservations_are_not_traps() {
    const CHILD: &str = "PRECAST_HANDCODE_CHILD";
    let code = load_code();
    match std::env::var(CHILD).as_deref() {
        Ok("dropped") => {
            let memory = empty_memory();
            let base = memory.base();
            let mut p = Payload {
                func: code.load,
                arg: base,
            };
            // SAFETY: `body` owns nothing with a destructor.
            let r = unsafe { catch_traps(body, (&mut p as *mut Payload).cast()) };
            assert_eq!(r.unwrap_err().code, TrapCode::MemoryOutOfBounds);
            drop(memory);
            // Map something inaccessible where the reservation was, so the fault is a fault.
            // SAFETY: the range is no longer ours; MAP_FIXED_NOREPLACE never replaces.
            let _ = unsafe {
                rustix::mm::mmap_anonymous(
                    base.cast(),
                    4096,
                    rustix::mm::ProtFlags::empty(),
                    rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::FIXED_NOREPLACE,
                )
            };
            // SAFETY: as above; the fault must kill the process.
            let _ = unsafe { catch_traps(body, (&mut p as *mut Payload).cast()) };
            unreachable!("the fault was reported as a trap");
        }
        Ok(_) => {
            // SAFETY: a fresh PROT_NONE page no memory owns.
            let wild = unsafe {
                rustix::mm::mmap_anonymous(
                    core::ptr::null_mut(),
                    4096,
                    rustix::mm::ProtFlags::empty(),
                    rustix::mm::MapFlags::PRIVATE,
                )
            }
            .unwrap();
            let mut p = Payload {
                func: code.load,
                arg: wild.cast(),
            };
            // SAFETY: as above; the fault must kill the process.
            let _ = unsafe { catch_traps(body, (&mut p as *mut Payload).cast()) };
            unreachable!("the fault was reported as a trap");
        }
        Err(_) => {
            for case in ["wild", "dropped"] {
                let out = std::process::Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "tests::handcode::faults_outside_memory_reservations_are_not_traps",
                    ])
                    .args(["--nocapture", "--test-threads", "1"])
                    .env(CHILD, case)
                    .output()
                    .unwrap();
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(
                    out.status.signal(),
                    Some(libc::SIGSEGV),
                    "{case}: {:?}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
