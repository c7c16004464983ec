//! The jitdump file (`/tmp/jit-PID.dump`, perf's format for code generated at run time):
//! a header, then one `JIT_CODE_LOAD` record per function and trampoline with its address,
//! name and a copy of its code. The file is mapped executable once, so that `perf record`
//! sees it in the process's mappings; `perf inject --jit` then turns the records into ELF
//! images `perf report` and `perf annotate` read (record with `-k mono`: the timestamps are
//! `CLOCK_MONOTONIC`).

use crate::prelude::*;
use std::io::Write;
use std::sync::Mutex;

const MAGIC: u32 = 0x4A69_5444;
const VERSION: u32 = 1;
const HEADER_SIZE: u32 = 40;
const JIT_CODE_LOAD: u32 = 0;

/// The open dump and the next code index; `None` until the first load.
static DUMP: Mutex<Option<(std::fs::File, u64)>> = Mutex::new(None);

/// The jitdump file of this process.
pub(crate) fn path() -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/tmp/jit-{}.dump", std::process::id()))
}

fn timestamp() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).wrapping_mul(1_000_000_000) + t.tv_nsec as u64
}

fn elf_machine() -> u32 {
    if cfg!(target_arch = "x86_64") {
        62
    } else if cfg!(target_arch = "aarch64") {
        183
    } else {
        243
    }
}

/// Creates the dump: header, and the executable mapping perf looks for (kept for the
/// process's lifetime, as the profiler reads the mapping's path from its record).
fn create() -> std::io::Result<std::fs::File> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path())?;
    let mut header = Vec::with_capacity(HEADER_SIZE as usize);
    for w in [
        MAGIC,
        VERSION,
        HEADER_SIZE,
        elf_machine(),
        0,
        std::process::id(),
    ] {
        header.extend_from_slice(&w.to_le_bytes());
    }
    header.extend_from_slice(&timestamp().to_le_bytes());
    header.extend_from_slice(&0u64.to_le_bytes());
    file.write_all(&header)?;
    let page = crate::platform::host::page_size();
    // SAFETY: a fresh private mapping of one page of the file, never unmapped nor accessed.
    let mapped = unsafe {
        rustix::mm::mmap(
            core::ptr::null_mut(),
            page,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::EXEC,
            rustix::mm::MapFlags::PRIVATE,
            &file,
            0,
        )
    };
    mapped.map_err(std::io::Error::from)?;
    Ok(file)
}

/// Appends a `JIT_CODE_LOAD` record for each `(offset, length, name)` of code starting at
/// `text_start`, named `module!name` (`module` is the artifact's name, when it has one).
pub(crate) fn record(
    text_start: usize,
    module: Option<&str>,
    symbols: &[(usize, usize, String)],
) -> std::io::Result<()> {
    let prefix = module.map(|m| format!("{m}!")).unwrap_or_default();
    let mut guard = DUMP.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = Some((create()?, 0));
    }
    let Some((file, index)) = guard.as_mut() else {
        unreachable!("created above");
    };
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    let mut out = Vec::new();
    for (offset, len, name) in symbols {
        let addr = (text_start + offset) as u64;
        let name = format!("{prefix}{}", name.replace('\0', "\\0"));
        // SAFETY: `offset..offset + len` is inside the module's `.text`, mapped readable and
        // executable at `text_start` while the module is alive.
        let code = unsafe { core::slice::from_raw_parts((text_start + offset) as *const u8, *len) };
        let size = 16 + 40 + name.len() + 1 + code.len();
        for w in [JIT_CODE_LOAD, size as u32] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&timestamp().to_le_bytes());
        out.extend_from_slice(&std::process::id().to_le_bytes());
        out.extend_from_slice(&tid.to_le_bytes());
        for w in [addr, addr, *len as u64, *index] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(code);
        *index += 1;
    }
    file.write_all(&out)
}
