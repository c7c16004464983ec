//! Artifact files and executable code on Linux: reading or mapping an artifact file, a
//! read-only copy of artifact bytes, and making a module's `.text` executable (in place, from
//! the file through the code cache, or as a copy).

use super::code_cache::CodeCache;
use crate::platform::host;
use crate::platform::{ArtifactBytes, ExecMemory};
use crate::prelude::*;
use alloc::sync::Arc;
use core::ops::Range;
use memmap2::{MmapMut, MmapOptions};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A private mapping of artifact bytes or code.
pub(crate) type Mapping = memmap2::Mmap;

/// Why an artifact file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The system said no.
    Io(std::io::Error),
    /// The file has no bytes.
    Empty,
    /// The file (this many bytes) does not fit the address space.
    TooLarge(u64),
}

/// Opens the artifact at `path` and reads it into the heap when it has at most `read_limit`
/// bytes (one `pread`), or maps it privately read-only; returns its bytes and the file (kept
/// to map memory images and code from).
pub(crate) fn read_artifact(
    path: &Path,
    read_limit: usize,
) -> Result<(ArtifactBytes, File), ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    // The size: `lseek` is a third of the cost of `statx` (and `pread`/`mmap` below do not
    // use the file position); files that cannot seek fall back to `statx`.
    // SAFETY: `lseek` on the descriptor we own; no memory is passed.
    let end = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) };
    let len = match u64::try_from(end) {
        Ok(n) => n,
        Err(_) => file.metadata().map_err(ReadError::Io)?.len(),
    };
    if len == 0 {
        return Err(ReadError::Empty);
    }
    let len = usize::try_from(len).map_err(|_| ReadError::TooLarge(len))?;
    if len <= read_limit {
        // Read into the spare capacity: no zeroing first.
        let mut bytes: Vec<u8> = Vec::with_capacity(len);
        while bytes.len() < len {
            let at = bytes.len() as u64;
            match rustix::io::pread(&file, rustix::buffer::spare_capacity(&mut bytes), at) {
                Ok(0) => break, // The file shrank meanwhile: verify what was read.
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(ReadError::Io(e.into())),
            }
        }
        return Ok((ArtifactBytes::Heap(bytes), file));
    }
    // SAFETY: a private read-only mapping; the loader never writes through it and verifies
    // every byte it uses. Concurrent truncation of the file by another process is outside
    // what any mmap-based loader can defend against.
    let mapping =
        unsafe { MmapOptions::new().len(len).map_copy_read_only(&file) }.map_err(ReadError::Io)?;
    Ok((ArtifactBytes::Map(mapping), file))
}

/// Copies `bytes` into an anonymous mapping and makes it read-only.
pub(crate) fn copy_read_only(bytes: &[u8]) -> Result<ArtifactBytes, String> {
    let mut anon = MmapMut::map_anon(bytes.len())
        .map_err(|e| format!("cannot allocate {} bytes: {e}", bytes.len()))?;
    anon.copy_from_slice(bytes);
    let mapping = anon
        .make_read_only()
        .map_err(|e| format!("cannot protect the artifact copy: {e}"))?;
    Ok(ArtifactBytes::Map(mapping))
}

/// Maps `text` (a range of the artifact `file`, whose bytes `bytes` holds) read+execute on
/// its own, straight from the file (through `cache`) when it starts at a page boundary
/// (never written, never touched here), else as an executable copy.
pub(crate) fn map_text(
    cache: Option<&Arc<CodeCache>>,
    bytes: &[u8],
    file: Option<&File>,
    text: Range<usize>,
) -> Result<(usize, Option<ExecMemory>), String> {
    if text.is_empty() {
        return Ok((bytes.as_ptr() as usize + text.start, None));
    }
    if let Some(file) = file
        && text.start.is_multiple_of(host::page_size())
    {
        // The file's `.text`, whose bytes were just verified through `bytes`. A concurrent
        // change of the file is outside what any mmap-based loader can defend against.
        if let Ok(m) = CodeCache::map(cache, file, text.start as u64, text.len()) {
            return Ok((m.addr(), Some(ExecMemory::File { _mapping: m })));
        }
    }
    let code = bytes.get(text).ok_or("text range")?;
    let (addr, copy) = executable_copy(code)?;
    Ok((addr, Some(ExecMemory::Copy { _copy: copy })))
}

/// Makes `text` (a range of `mapping`) executable, in place when it is page aligned, else in
/// an executable copy. Returns the address of the executable text.
pub(crate) fn make_executable(
    mapping: &Mapping,
    text: Range<usize>,
) -> Result<(usize, Option<ExecMemory>), String> {
    let base = mapping.as_ptr() as usize;
    if text.is_empty() {
        return Ok((base + text.start, None));
    }
    if text.start.is_multiple_of(host::page_size()) {
        let len = host::round_up_to_page(text.len()).ok_or("text size overflows")?;
        // SAFETY: the range starts at a page boundary inside our private mapping, and
        // mprotect rounds the length to whole pages, all of which are mapped (the mapping
        // covers the page holding the last text byte). Only protection changes: the pages
        // are never written.
        let r = unsafe {
            rustix::mm::mprotect(
                (base + text.start) as *mut _,
                len,
                rustix::mm::MprotectFlags::READ | rustix::mm::MprotectFlags::EXEC,
            )
        };
        if r.is_ok() {
            return Ok((base + text.start, None));
        }
    }
    let (addr, copy) = executable_copy(&mapping[text])?;
    Ok((addr, Some(ExecMemory::Copy { _copy: copy })))
}

/// An executable copy of `code`, and its address.
fn executable_copy(code: &[u8]) -> Result<(usize, Mapping), String> {
    let mut copy =
        MmapMut::map_anon(code.len()).map_err(|e| format!("cannot allocate code memory: {e}"))?;
    copy.copy_from_slice(code);
    host::flush_icache(&copy);
    let exec = copy
        .make_exec()
        .map_err(|e| format!("cannot make code executable: {e}"))?;
    Ok((exec.as_ptr() as usize, exec))
}
