//! The instance pool ([`Config::pooling`](crate::Config::pooling)): linear memory
//! reservations, VMContext blocks and table storage preallocated when the engine is created,
//! handed to instances and reset when their store is dropped.
//!
//! Memory slots are carved out of one `PROT_NONE` reservation. A released slot is reset with
//! `madvise(MADV_DONTNEED)` over the bytes it made accessible: pages mapped from a memory image
//! go back to the file's contents, the others to zero. It keeps its protection and its image
//! mapping, so the next instance of the same module in that slot needs no system call at all
//! to get a fresh memory; [`Pool::take_memory`] prefers such a slot.

use crate::platform::host;
use crate::platform::linux::memory::{register_reservation, unregister_reservation};
use crate::platform::ranges::Entry;
use crate::platform::{PoolConfig, Reservation};
use crate::prelude::*;
use rustix::mm::{Advice, MapFlags, ProtFlags};
use std::sync::Mutex;

/// A memory slot, while an instance owns it.
#[derive(Debug)]
pub(crate) struct MemorySlot {
    index: u32,
    /// Base address of the slot's reservation.
    pub base: *mut u8,
    /// Bytes at the start of the slot that are readable and writable.
    pub accessible: usize,
    /// The image mapped copy-on-write at the start of the slot, if any (module id, memory).
    pub image: Option<(u64, u32)>,
    /// The byte range of that mapping.
    pub mapped_image: Option<(usize, usize)>,
    /// The byte range of the image copied into the slot (images with no file to map, as a
    /// linked module's): kept resident when the slot is released, and copied over again by
    /// the next instance of the same memory, or reset before any other memory uses the slot.
    pub copied_image: Option<(usize, usize)>,
}

// SAFETY: a slot is an exclusive claim on a region of the pool's reservation.
unsafe impl Send for MemorySlot {}

/// A VMContext block of the pool.
#[derive(Debug)]
pub(crate) struct VMContextSlot {
    index: u32,
    /// Start of the block (16-aligned, `max_vmctx_size` bytes).
    pub ptr: *mut u8,
    /// Taken: the module whose defined function references the block held, complete, when
    /// it was last released (0: none). Released: the module whose defined function
    /// references the block holds, complete (set by instantiation once they are written).
    pub funcrefs_of: u64,
}

// SAFETY: as for memory slots.
unsafe impl Send for VMContextSlot {}

#[derive(Debug)]
struct State {
    /// Free memory slots; the most recently released last.
    free_memories: Vec<MemorySlot>,
    /// Free VMContext slots.
    free_vmctx: Vec<u32>,
    /// Per VMContext slot: the module id whose defined function references it holds (0: none).
    vmctx_funcrefs_of: Vec<u64>,
    /// Free table buffers (capacity `max_table_elements`), and how many are taken.
    free_tables: Vec<Vec<usize>>,
    tables_taken: u32,
}

/// The pool. Shared by an engine and every pooled memory, VMContext and table.
///
/// In on-demand mode ([`Pool::memory_cache`]) it preallocates nothing: a memory slot is a
/// fresh reservation when none is free, and released slots are kept (reset) for reuse up to
/// `limits.memories` of them, the rest unmapped.
#[derive(Debug)]
pub(crate) struct Pool {
    limits: PoolConfig,
    on_demand: bool,
    /// Memory region: `limits.memories` slots of `stride` bytes.
    memories: *mut u8,
    memories_len: usize,
    /// The memory region as registered for the signal handler.
    memories_region: Entry,
    stride: usize,
    reservation: u64,
    /// VMContext region: `limits.instances` blocks of `vmctx_size` bytes.
    vmctx: *mut u8,
    vmctx_len: usize,
    vmctx_size: usize,
    state: Mutex<State>,
}

// SAFETY: the raw pointers are the pool's own mappings; mutable state is behind the mutex and
// slots are exclusive claims.
unsafe impl Send for Pool {}
// SAFETY: as above.
unsafe impl Sync for Pool {}

fn exhausted(what: &str, n: u32) -> String {
    format!(
        "instance pool exhausted: all {n} {what} slots are in use (raise PoolConfig limits or \
         drop stores)"
    )
}

impl Pool {
    /// Reserves the pool's address space.
    pub fn new(limits: &PoolConfig, reservation: Reservation) -> Result<Pool, String> {
        let stride = reservation
            .size
            .checked_add(reservation.guard)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(host::round_up_to_page)
            .ok_or("pool memory slots do not fit in the address space")?
            .max(host::page_size());
        let memories_len = stride
            .checked_mul(limits.memories as usize)
            .ok_or("pool memory region does not fit in the address space")?;
        let vmctx_size = limits
            .max_vmctx_size
            .checked_next_multiple_of(64)
            .ok_or("max_vmctx_size overflows")?;
        let vmctx_len = vmctx_size
            .checked_mul(limits.instances as usize)
            .and_then(host::round_up_to_page)
            .ok_or("pool VMContext region does not fit in the address space")?;
        let reserve = |len: usize, prot: ProtFlags, what: &str| -> Result<*mut u8, String> {
            if len == 0 {
                return Ok(core::ptr::null_mut());
            }
            // SAFETY: a fresh anonymous mapping nothing else refers to.
            unsafe {
                rustix::mm::mmap_anonymous(
                    core::ptr::null_mut(),
                    len,
                    prot,
                    MapFlags::PRIVATE | MapFlags::NORESERVE,
                )
            }
            .map(|p| p.cast())
            .map_err(|e| format!("cannot reserve {len:#x} bytes for the pool's {what}: {e}"))
        };
        let memories = reserve(memories_len, ProtFlags::empty(), "memories")?;
        let vmctx = match reserve(vmctx_len, ProtFlags::READ | ProtFlags::WRITE, "VMContexts") {
            Ok(p) => p,
            Err(e) => {
                if !memories.is_null() {
                    // SAFETY: the region mapped just above.
                    let _ = unsafe { rustix::mm::munmap(memories.cast(), memories_len) };
                }
                return Err(e);
            }
        };
        let free_memories = (0..limits.memories)
            .rev()
            .map(|i| MemorySlot {
                index: i,
                // SAFETY: slot `i` lies inside the memory region.
                base: unsafe { memories.add(i as usize * stride) },
                accessible: 0,
                image: None,
                mapped_image: None,
                copied_image: None,
            })
            .collect();
        Ok(Pool {
            limits: *limits,
            on_demand: false,
            memories,
            memories_len,
            memories_region: register_reservation(memories, memories_len),
            stride,
            reservation: reservation.size,
            vmctx,
            vmctx_len,
            vmctx_size,
            state: Mutex::new(State {
                free_memories,
                free_vmctx: (0..limits.instances).rev().collect(),
                vmctx_funcrefs_of: vec![0; limits.instances as usize],
                free_tables: Vec::new(),
                tables_taken: 0,
            }),
        })
    }

    /// A cache of up to `keep` released memory reservations of `memories`' size, reused
    /// (reset with `madvise`) by later memories; nothing is reserved up front.
    pub fn memory_cache(keep: u32, memories: Reservation) -> Result<Pool, String> {
        let stride = memories
            .size
            .checked_add(memories.guard)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(host::round_up_to_page)
            .ok_or("memory reservations do not fit in the address space")?
            .max(host::page_size());
        Ok(Pool {
            limits: PoolConfig {
                instances: 0,
                memories: keep,
                tables: 0,
                max_vmctx_size: 0,
                max_table_elements: 0,
            },
            on_demand: true,
            memories: core::ptr::null_mut(),
            memories_len: 0,
            memories_region: Entry::EMPTY,
            stride,
            reservation: memories.size,
            vmctx: core::ptr::null_mut(),
            vmctx_len: 0,
            vmctx_size: 0,
            state: Mutex::new(State {
                free_memories: Vec::new(),
                free_vmctx: Vec::new(),
                vmctx_funcrefs_of: Vec::new(),
                free_tables: Vec::new(),
                tables_taken: 0,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limits.
    pub fn limits(&self) -> &PoolConfig {
        &self.limits
    }

    /// Usable bytes of each memory slot.
    pub fn memory_reservation(&self) -> u64 {
        self.reservation
    }

    /// Takes a memory slot, preferring one that holds `image` already.
    pub fn take_memory(&self, image: Option<(u64, u32)>) -> Result<MemorySlot, String> {
        let mut st = self.state();
        let at = image
            .and_then(|key| st.free_memories.iter().rposition(|s| s.image == Some(key)))
            .or_else(|| st.free_memories.len().checked_sub(1));
        match at {
            Some(i) => Ok(st.free_memories.swap_remove(i)),
            None if self.on_demand => {
                drop(st);
                // SAFETY: a fresh anonymous PROT_NONE reservation nothing else refers to.
                let base = unsafe {
                    rustix::mm::mmap_anonymous(
                        core::ptr::null_mut(),
                        self.stride,
                        ProtFlags::empty(),
                        MapFlags::PRIVATE | MapFlags::NORESERVE,
                    )
                }
                .map_err(|e| {
                    format!(
                        "cannot reserve {:#x} bytes for a linear memory: {e}",
                        self.stride
                    )
                })?;
                register_reservation(base.cast(), self.stride);
                Ok(MemorySlot {
                    index: u32::MAX,
                    base: base.cast(),
                    accessible: 0,
                    image: None,
                    mapped_image: None,
                    copied_image: None,
                })
            }
            None => Err(exhausted("memory", self.limits.memories)),
        }
    }

    /// Unmaps an on-demand slot's reservation.
    fn unmap_slot(&self, slot: &MemorySlot) {
        unregister_reservation(Entry {
            start: slot.base as usize,
            end: slot.base as usize + self.stride,
            data: 0,
        });
        // SAFETY: an on-demand slot owns its whole reservation, which nothing uses any more.
        let _ = unsafe { rustix::mm::munmap(slot.base.cast(), self.stride) };
    }

    /// Resets a slot's memory and returns it to the pool.
    pub fn release_memory(&self, slot: MemorySlot) {
        let mut slot = slot;
        if self.on_demand && self.state().free_memories.len() >= self.limits.memories as usize {
            self.unmap_slot(&slot);
            return;
        }
        if slot.accessible > 0 {
            // A copied image stays resident (the next user copies over or resets it).
            let (keep_start, keep_end) = slot
                .copied_image
                .map_or((slot.accessible, slot.accessible), |(s, e)| {
                    (s.min(slot.accessible), e.min(slot.accessible))
                });
            // SAFETY: both ranges lie in `[base, base + accessible)`, the slot's accessible
            // prefix, which no instance uses any more. DONTNEED drops private pages: mapped
            // image pages read the file again, anonymous ones read zero.
            let r = unsafe {
                let tail = slot.accessible - keep_end;
                rustix::mm::madvise(slot.base.cast(), keep_start, Advice::LinuxDontNeed).and(
                    match tail {
                        0 => Ok(()),
                        _ => rustix::mm::madvise(
                            slot.base.add(keep_end).cast(),
                            tail,
                            Advice::LinuxDontNeed,
                        ),
                    },
                )
            };
            if r.is_err() {
                // Cannot reset: replace the whole slot with fresh inaccessible pages.
                // SAFETY: the slot's reservation is ours.
                if unsafe { crate::platform::memory::unmap_image(slot.base, self.stride) }.is_err()
                {
                    // The slot cannot be trusted to be clean: leak it.
                    return;
                }
                slot.accessible = 0;
                slot.image = None;
                slot.mapped_image = None;
                slot.copied_image = None;
            }
        }
        debug_assert!(self.on_demand || slot.index < self.limits.memories);
        self.state().free_memories.push(slot);
    }

    /// Takes a VMContext block for a VMContext of `size` bytes.
    pub fn take_vmctx(&self, size: usize) -> Result<VMContextSlot, String> {
        if size > self.limits.max_vmctx_size {
            return Err(format!(
                "the module's VMContext needs {size} bytes, the pool's limit is {} \
                 (PoolConfig::max_vmctx_size)",
                self.limits.max_vmctx_size
            ));
        }
        let mut state = self.state();
        let index = state
            .free_vmctx
            .pop()
            .ok_or_else(|| exhausted("instance", self.limits.instances))?;
        // Claimed: until the new owner completes its function references, the block holds
        // no module's.
        let funcrefs_of = state
            .vmctx_funcrefs_of
            .get_mut(index as usize)
            .map_or(0, core::mem::take);
        Ok(VMContextSlot {
            index,
            // SAFETY: block `index` lies inside the VMContext region.
            ptr: unsafe { self.vmctx.add(index as usize * self.vmctx_size) },
            funcrefs_of,
        })
    }

    /// Returns a VMContext block, remembering whose function references it holds.
    pub fn release_vmctx(&self, slot: VMContextSlot) {
        let mut state = self.state();
        if let Some(o) = state.vmctx_funcrefs_of.get_mut(slot.index as usize) {
            *o = slot.funcrefs_of;
        }
        state.free_vmctx.push(slot.index);
    }

    /// Takes storage for a table of up to `max_table_elements` elements.
    pub fn take_table(&self) -> Result<Vec<usize>, String> {
        let mut st = self.state();
        if st.tables_taken >= self.limits.tables {
            return Err(exhausted("table", self.limits.tables));
        }
        let v = match st.free_tables.pop() {
            Some(v) => v,
            None => {
                let n = usize::try_from(self.limits.max_table_elements)
                    .map_err(|_| "max_table_elements overflows".to_string())?;
                let mut v = Vec::new();
                v.try_reserve_exact(n)
                    .map_err(|e| format!("cannot allocate a pooled table: {e}"))?;
                v
            }
        };
        st.tables_taken += 1;
        Ok(v)
    }

    /// Returns table storage.
    pub fn release_table(&self, mut v: Vec<usize>) {
        v.clear();
        let mut st = self.state();
        st.tables_taken = st.tables_taken.saturating_sub(1);
        st.free_tables.push(v);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        unregister_reservation(self.memories_region);
        if self.on_demand {
            let free = core::mem::take(&mut self.state().free_memories);
            for slot in &free {
                self.unmap_slot(slot);
            }
        }
        for (p, len) in [
            (self.memories, self.memories_len),
            (self.vmctx, self.vmctx_len),
        ] {
            if !p.is_null() && len > 0 {
                // SAFETY: the pool's own mappings; every slot holds an `Arc<Pool>`, so none is
                // in use any more.
                let _ = unsafe { rustix::mm::munmap(p.cast(), len) };
            }
        }
    }
}
