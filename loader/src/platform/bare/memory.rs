//! Linear memory storage without virtual memory: one heap allocation of the current length,
//! reallocated (and so possibly moved) on growth.
//!
//! Only artifacts compiled with explicit bounds checks and without signal-based traps run on
//! this platform (the loader checks the header): their code checks every access against the
//! length in the memory's `VMMemoryDefinition` and reloads the base after every call that may
//! grow a memory, so a moved base is never used stale.

use crate::prelude::*;
use alloc::alloc::{Layout, alloc_zeroed, dealloc, realloc};
use core::ptr::NonNull;
use precast_format::module::MemoryType;

/// Alignment of a memory's bytes: enough for any wasm access, SIMD included.
const ALIGN: usize = 16;

/// The initial contents of a memory: `bytes` at `memory_offset`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ImageSource<'a> {
    /// Identifies the image across modules (module id, memory index); pool slots key on
    /// it on Linux, unused here.
    #[allow(dead_code)]
    pub key: (u64, u32),
    /// Where the image goes in the memory.
    pub memory_offset: u64,
    /// The image bytes.
    pub bytes: &'a [u8],
}

/// A linear memory in one allocation.
#[derive(Debug)]
pub(crate) struct LinearMemory {
    /// The allocation (dangling while the length is 0).
    base: NonNull<u8>,
    /// Current length in bytes (the allocation's size).
    length: usize,
    /// Largest length in bytes the type (and the configured reservation) allows.
    max_length: u64,
    page_size: u64,
}

// SAFETY: the memory is plain bytes owned by this value.
unsafe impl Send for LinearMemory {}

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len, ALIGN).ok()
}

impl LinearMemory {
    /// A memory of type `ty` at its minimum size, at most `limit` bytes ever (the configured
    /// reservation: the most a memory may take of the heap), with `image` as its initial
    /// contents. `_guard` is meaningless without virtual memory.
    pub fn new(
        ty: &MemoryType,
        limit: u64,
        _guard: u64,
        image: Option<&ImageSource<'_>>,
    ) -> Result<LinearMemory, String> {
        let min_bytes = ty.initial_bytes(limit)?;
        let mut mem = LinearMemory {
            base: NonNull::<[u8; ALIGN]>::dangling().cast(),
            length: 0,
            max_length: ty.max_bytes().min(limit),
            page_size: ty.page_size(),
        };
        mem.set_length(min_bytes)
            .map_err(|e| format!("cannot allocate the memory's initial {min_bytes} bytes: {e}"))?;
        if let Some(image) = image {
            let start =
                usize::try_from(image.memory_offset).map_err(|_| "image offset overflows")?;
            let end = start
                .checked_add(image.bytes.len())
                .filter(|&end| end <= mem.length)
                .ok_or("memory image exceeds the memory's initial size")?;
            mem.as_mut_slice()[start..end].copy_from_slice(image.bytes);
        }
        Ok(mem)
    }

    /// A memory from `pool`: there is no pool on this platform (see `bare::pool`).
    pub fn from_pool(
        pool: &alloc::sync::Arc<crate::platform::pool::Pool>,
        _ty: &MemoryType,
        _image: Option<&ImageSource<'_>>,
    ) -> Result<LinearMemory, String> {
        Err(format!("{pool:?}"))
    }

    /// Resizes the allocation to `bytes`, zeroing what is new.
    fn set_length(&mut self, bytes: u64) -> Result<(), String> {
        let new = usize::try_from(bytes).map_err(|_| "length overflows".to_string())?;
        if new == self.length {
            return Ok(());
        }
        let new_layout = layout(new).ok_or("length overflows")?;
        let p = if self.length == 0 {
            // SAFETY: `new` > 0 here (it differs from the current length, 0).
            unsafe { alloc_zeroed(new_layout) }
        } else {
            let old = layout(self.length).ok_or("length overflows")?;
            // SAFETY: `base` was allocated with `old`; `new` > `self.length` > 0 (memories
            // only grow) and fits `isize` (checked by `Layout`).
            let p = unsafe { realloc(self.base.as_ptr(), old, new) };
            if !p.is_null() {
                // SAFETY: the tail `[length, new)` is part of the new allocation.
                unsafe { p.add(self.length).write_bytes(0, new - self.length) };
            }
            p
        };
        self.base = NonNull::new(p).ok_or_else(|| format!("out of memory for {new} bytes"))?;
        self.length = new;
        Ok(())
    }

    /// Base address (changes when the memory grows).
    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Current length in bytes.
    pub fn byte_len(&self) -> u64 {
        self.length as u64
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.byte_len() / self.page_size
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` past the maximum or
    /// when the allocation fails.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new_bytes = old
            .checked_add(delta)?
            .checked_mul(self.page_size)
            .filter(|&b| b <= self.max_length)?;
        self.set_length(new_bytes).ok()?;
        Some(old)
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `[base, base + length)` is our allocation (or empty and dangling).
        unsafe { core::slice::from_raw_parts(self.base.as_ptr(), self.length) }
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` gives exclusive access.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.length) }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        if self.length > 0
            && let Some(l) = layout(self.length)
        {
            // SAFETY: `base` was allocated with this layout and nothing refers to it once its
            // store is dropped.
            unsafe { dealloc(self.base.as_ptr(), l) }
        }
    }
}
