//! Released code mappings kept for reuse ([`Config::code_cache`](crate::Config)): the code of
//! a small artifact is a read+execute mapping of its file; when its module is dropped the
//! mapping is kept (no `munmap`), and the next load maps its own code over it with
//! `MAP_FIXED` (one `mmap` that replaces the old one, without searching for free address
//! space). A kept mapping still references its file until it is reused or the engine goes.

use crate::prelude::*;
use std::fs::File;
use std::sync::{Arc, Mutex};

/// A range of address space holding a (possibly stale) code mapping.
#[derive(Debug)]
struct Slot {
    addr: usize,
    /// Mapped length, a multiple of the page size.
    len: usize,
}

impl Slot {
    fn unmap(&self) {
        // SAFETY: the slot is a mapping this cache created and nothing refers to: its module
        // is gone.
        let _ = unsafe { rustix::mm::munmap(self.addr as *mut _, self.len) };
    }
}

/// Up to `keep` released code mappings of one engine.
#[derive(Debug)]
pub(crate) struct CodeCache {
    keep: usize,
    free: Mutex<Vec<Slot>>,
}

impl Drop for CodeCache {
    fn drop(&mut self) {
        let free = self.free.get_mut().unwrap_or_else(|e| e.into_inner());
        for slot in free.drain(..) {
            slot.unmap();
        }
    }
}

/// A read+execute mapping of an artifact's code; dropping it returns it to its cache (or
/// unmaps it).
#[derive(Debug)]
pub(crate) struct CodeMapping {
    slot: Slot,
    cache: Option<Arc<CodeCache>>,
}

impl CodeMapping {
    /// Address of the first mapped byte.
    pub fn addr(&self) -> usize {
        self.slot.addr
    }
}

impl Drop for CodeMapping {
    fn drop(&mut self) {
        let slot = Slot { ..self.slot };
        match &self.cache {
            Some(cache) => cache.release(slot),
            None => slot.unmap(),
        }
    }
}

impl CodeCache {
    /// A cache keeping up to `keep` released mappings.
    pub fn new(keep: usize) -> Arc<CodeCache> {
        Arc::new(CodeCache {
            keep,
            free: Mutex::new(Vec::new()),
        })
    }

    fn release(&self, slot: Slot) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.keep {
            free.push(slot);
        } else {
            drop(free);
            slot.unmap();
        }
    }

    /// Maps `len` bytes (> 0) of `file` from `offset` (page aligned) read+execute, over a
    /// released mapping at least that long when the cache (`None`: no cache) has one.
    pub fn map(
        cache: Option<&Arc<CodeCache>>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> std::io::Result<CodeMapping> {
        use rustix::mm::{MapFlags, ProtFlags};
        let page = crate::platform::host::page_size();
        let need = len.div_ceil(page) * page;
        let reuse = cache.and_then(|c| {
            let mut free = c.free.lock().unwrap_or_else(|e| e.into_inner());
            let i = free.iter().position(|s| s.len >= need)?;
            Some(free.swap_remove(i))
        });
        let prot = ProtFlags::READ | ProtFlags::EXEC;
        let (hint, flags) = match &reuse {
            Some(slot) => (slot.addr as *mut _, MapFlags::PRIVATE | MapFlags::FIXED),
            None => (core::ptr::null_mut(), MapFlags::PRIVATE),
        };
        // SAFETY: a private read+execute mapping of the file, either at a fresh address or
        // over a released slot of this cache (at least `need` bytes long, referenced by no
        // module); the loader never writes it.
        let mapped = unsafe { rustix::mm::mmap(hint, need, prot, flags, file, offset) };
        match (mapped, reuse) {
            (Ok(addr), Some(slot)) => Ok(CodeMapping {
                slot: Slot {
                    addr: addr as usize,
                    len: slot.len,
                },
                cache: cache.cloned(),
            }),
            (Ok(addr), None) => Ok(CodeMapping {
                slot: Slot {
                    addr: addr as usize,
                    len: need,
                },
                cache: cache.cloned(),
            }),
            (Err(e), reuse) => {
                // A failed `MAP_FIXED` may have unmapped part of the slot: give it up.
                if let Some(slot) = reuse {
                    slot.unmap();
                }
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> File {
        let mut f = tempfile_in_tmp();
        f.write_all(bytes).unwrap();
        f
    }

    fn tempfile_in_tmp() -> File {
        let path = std::env::temp_dir().join(format!(
            "precast-code-cache-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn released_mappings_are_reused_then_unmapped() {
        let page = crate::platform::host::page_size();
        let a = file_of(&vec![0xaa; 2 * page]);
        let b = file_of(&vec![0xbb; page]);
        let cache = CodeCache::new(1);
        let first = CodeCache::map(Some(&cache), &a, 0, 2 * page).unwrap();
        let addr = first.addr();
        drop(first);
        // Reused: same address, the new file's bytes.
        let second = CodeCache::map(Some(&cache), &b, 0, 10).unwrap();
        assert_eq!(second.addr(), addr);
        // SAFETY: the mapping is live and readable.
        assert_eq!(unsafe { *(addr as *const u8) }, 0xbb);
        // No slot is free while `second` lives: a fresh address.
        let third = CodeCache::map(Some(&cache), &a, 0, page).unwrap();
        assert_ne!(third.addr(), addr);
        drop(second);
        drop(third); // The cache keeps one: this one is unmapped.
        assert_eq!(cache.free.lock().unwrap().len(), 1);
        // Without a cache, nothing is kept.
        let own = CodeCache::map(None, &a, 0, page).unwrap();
        drop(own);
    }
}
