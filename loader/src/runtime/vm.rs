//! Runtime data structures shared with generated code, laid out as `precast_format::abi` and
//! `precast_format::vmoffsets` describe (for the host pointer size), plus the VMContext
//! allocation itself.

use crate::prelude::*;
use alloc::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;
use precast_format::VMOffsets;
use precast_format::abi;

/// Pointer size of the host, as recorded in artifacts.
pub(crate) const POINTER_SIZE: u8 = core::mem::size_of::<usize>() as u8;

/// `VMFuncRef`: what a function reference points to.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMFuncRef {
    /// Code pointer (wasm calling convention).
    pub func: *const u8,
    /// Callee VMContext (or host function context).
    pub vmctx: *mut u8,
    /// Engine-wide type id.
    pub type_id: u32,
}

impl VMFuncRef {
    /// A reference with no code yet.
    pub const NULL: VMFuncRef = VMFuncRef {
        func: core::ptr::null(),
        vmctx: core::ptr::null_mut(),
        type_id: u32::MAX,
    };
}

/// `VMMemoryDefinition`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMMemoryDefinition {
    /// Base address; never moves.
    pub base: *mut u8,
    /// Current length in bytes.
    pub length: usize,
}

/// `VMTableDefinition`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMTableDefinition {
    /// Elements; may move on grow.
    pub base: *mut usize,
    /// Current length in elements.
    pub length: usize,
}

/// A 16-byte global slot; the value lives in the low bytes, little-endian.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VMGlobal(pub [u8; 16]);

/// Per-store state shared by all instances of a store (`abi::store`).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMStoreState {
    /// Wasm traps with stack overflow when the stack pointer goes below this.
    pub stack_limit: usize,
    /// Fuel consumed beyond the budget (`-remaining` while fuel remains).
    pub fuel: i64,
    /// The epoch at which code compiled with epoch interruption calls the runtime.
    pub epoch_deadline: u64,
    /// The engine's epoch counter.
    pub epoch_counter: *const AtomicU64,
}

impl VMStoreState {
    /// The state of a new store of the engine whose epoch counter is `epoch_counter`: no
    /// fuel, and a deadline already reached (as in Wasmtime: set one before running code
    /// compiled with epoch interruption).
    pub fn new(epoch_counter: *const AtomicU64) -> VMStoreState {
        VMStoreState {
            stack_limit: 0,
            fuel: 0,
            epoch_deadline: 0,
            epoch_counter,
        }
    }
}

// Layout checks against the format crate's description.
const _: () = {
    assert!(core::mem::offset_of!(VMFuncRef, func) == abi::func_ref::FUNC as usize);
    assert!(core::mem::offset_of!(VMStoreState, stack_limit) == abi::store::STACK_LIMIT as usize);
    assert!(core::mem::offset_of!(VMStoreState, fuel) == abi::store::FUEL as usize);
    assert!(
        core::mem::offset_of!(VMStoreState, epoch_deadline) == abi::store::EPOCH_DEADLINE as usize
    );
    assert!(
        core::mem::offset_of!(VMStoreState, epoch_counter) == abi::store::EPOCH_COUNTER as usize
    );
    assert!(core::mem::offset_of!(VMMemoryDefinition, base) == abi::memory::BASE as usize);
    assert!(core::mem::offset_of!(VMTableDefinition, base) == abi::table::BASE as usize);
    assert!(core::mem::size_of::<VMGlobal>() == precast_format::vmoffsets::GLOBAL_SIZE as usize);
};

/// Checks the layouts whose offsets are functions of the pointer size.
#[cfg(test)]
pub(crate) fn check_layouts() {
    let p = POINTER_SIZE;
    assert_eq!(
        core::mem::offset_of!(VMFuncRef, vmctx),
        abi::func_ref::vmctx(p) as usize
    );
    assert_eq!(
        core::mem::offset_of!(VMFuncRef, type_id),
        abi::func_ref::type_id(p) as usize
    );
    assert_eq!(
        core::mem::size_of::<VMFuncRef>(),
        abi::func_ref::size(p) as usize
    );
    assert_eq!(
        core::mem::offset_of!(VMMemoryDefinition, length),
        abi::memory::length(p) as usize
    );
    assert_eq!(
        core::mem::offset_of!(VMTableDefinition, length),
        abi::table::length(p) as usize
    );
}

/// A 16-aligned VMContext block: from the heap, or a pool slot.
#[derive(Debug)]
pub(crate) struct VMContextAlloc {
    ptr: NonNull<u8>,
    size: usize,
    origin: Origin,
}

#[derive(Debug)]
enum Origin {
    Heap(Layout),
    Pool(
        alloc::sync::Arc<crate::platform::pool::Pool>,
        crate::platform::pool::VMContextSlot,
    ),
}

// SAFETY: the block is owned by this value; the pool is thread-safe.
unsafe impl Send for VMContextAlloc {}

impl VMContextAlloc {
    /// Allocates a VMContext for `offsets` and initializes it with `template` (zeroes after
    /// it), from `pool` when given.
    ///
    /// `keep` is the byte range of the defined functions' references and `owner` the
    /// module's id: a pool block whose last user was the same module with its references
    /// complete ([`VMContextAlloc::set_funcrefs_complete`]) already holds exactly those
    /// bytes (code and type from the template, `vmctx` = this block, nothing writes them
    /// afterwards), so they are not copied again; [`VMContextAlloc::funcrefs_complete`] says
    /// so and the caller skips patching them.
    pub fn new(
        offsets: &VMOffsets,
        template: &[u8],
        pool: Option<&alloc::sync::Arc<crate::platform::pool::Pool>>,
        keep: core::ops::Range<usize>,
        owner: u64,
    ) -> Result<VMContextAlloc, String> {
        let size = (offsets.size as usize).max(16);
        if template.len() > size {
            return Err("VMContext template larger than the VMContext".into());
        }
        let alloc = match pool {
            Some(pool) => {
                let slot = pool.take_vmctx(size)?;
                VMContextAlloc {
                    ptr: NonNull::new(slot.ptr).ok_or("null pool slot")?,
                    size,
                    origin: Origin::Pool(pool.clone(), slot),
                }
            }
            None => {
                let layout =
                    Layout::from_size_align(size, 16).map_err(|_| "VMContext too large")?;
                // SAFETY: the layout has a non-zero size.
                let ptr = NonNull::new(unsafe { alloc::alloc::alloc(layout) })
                    .ok_or("cannot allocate a VMContext")?;
                VMContextAlloc {
                    ptr,
                    size,
                    origin: Origin::Heap(layout),
                }
            }
        };
        let skip = match &alloc.origin {
            Origin::Pool(_, slot)
                if owner != 0
                    && slot.funcrefs_of == owner
                    && keep.start <= keep.end
                    && keep.end <= template.len() =>
            {
                keep
            }
            _ => 0..0,
        };
        // SAFETY: the block holds `size >= template.len()` writable bytes, exclusively ours;
        // `skip` lies within the template's length (checked above).
        unsafe {
            core::ptr::copy_nonoverlapping(template.as_ptr(), alloc.as_ptr(), skip.start);
            core::ptr::copy_nonoverlapping(
                template.as_ptr().add(skip.end),
                alloc.as_ptr().add(skip.end),
                template.len() - skip.end,
            );
            alloc
                .as_ptr()
                .add(template.len())
                .write_bytes(0, size - template.len());
        }
        let mut alloc = alloc;
        if let Origin::Pool(_, slot) = &mut alloc.origin
            && skip.is_empty()
        {
            slot.funcrefs_of = 0;
        }
        Ok(alloc)
    }

    /// Whether the defined functions' references were kept from the block's last user (the
    /// same module), complete: see [`VMContextAlloc::new`].
    pub fn funcrefs_complete(&self) -> bool {
        matches!(&self.origin, Origin::Pool(_, slot) if slot.funcrefs_of != 0)
    }

    /// Records that the defined functions' references of module `owner` are complete, so a
    /// later instance of that module in this pool block can keep them.
    pub fn set_funcrefs_complete(&mut self, owner: u64) {
        if let Origin::Pool(_, slot) = &mut self.origin {
            slot.funcrefs_of = owner;
        }
    }

    /// The VMContext pointer.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Pointer to the field at `offset` as a `*mut T`, if `T` fits there.
    pub fn field<T>(&self, offset: u32) -> Option<*mut T> {
        let offset = offset as usize;
        let end = offset.checked_add(core::mem::size_of::<T>())?;
        if end > self.size() || !offset.is_multiple_of(core::mem::align_of::<T>()) {
            return None;
        }
        // SAFETY: `offset + size_of::<T>()` is within the allocation.
        Some(unsafe { self.as_ptr().add(offset) }.cast())
    }

    /// Writes `value` at `count` offsets `first`, `first + stride`, ...; returns false (and
    /// writes nothing) if the last does not fit or an offset is misaligned. One bounds
    /// check for the whole run (the per-function fields of instantiation).
    pub fn write_strided<T: Copy>(&self, first: u32, stride: u32, count: u32, value: T) -> bool {
        if count == 0 {
            return true;
        }
        let align = core::mem::align_of::<T>();
        let last = u64::from(stride) * u64::from(count - 1) + u64::from(first);
        let Ok(last) = u32::try_from(last) else {
            return false;
        };
        if self.field::<T>(first).is_none()
            || self.field::<T>(last).is_none()
            || !(stride as usize).is_multiple_of(align)
        {
            return false;
        }
        let base = self.as_ptr();
        for k in 0..count as usize {
            let offset = first as usize + k * stride as usize;
            // SAFETY: `first` and `last` were checked in bounds and aligned for `T`, and the
            // stride keeps every offset between them aligned; the allocation is ours.
            unsafe { base.add(offset).cast::<T>().write(value) };
        }
        true
    }

    /// Writes `value` at `offset`; returns false if it does not fit.
    pub fn write<T>(&self, offset: u32, value: T) -> bool {
        match self.field::<T>(offset) {
            Some(p) => {
                // SAFETY: `field` checked bounds and alignment; the allocation is ours.
                unsafe { p.write(value) };
                true
            }
            None => false,
        }
    }
}

impl Drop for VMContextAlloc {
    fn drop(&mut self) {
        match core::mem::replace(&mut self.origin, Origin::Heap(Layout::new::<u8>())) {
            // SAFETY: allocated in `new` with this layout.
            Origin::Heap(layout) => unsafe { alloc::alloc::dealloc(self.ptr.as_ptr(), layout) },
            Origin::Pool(pool, slot) => pool.release_vmctx(slot),
        }
    }
}

/// Offset of the instance pointer, which does not depend on the entity counts.
pub(crate) fn instance_offset() -> u32 {
    VMOffsets::new(POINTER_SIZE, Default::default()).instance
}

/// Reads the VMContext magic at `vmctx`.
///
/// # Safety
/// `vmctx` must point to at least 4 readable bytes.
pub(crate) unsafe fn read_magic(vmctx: *const u8) -> u32 {
    // SAFETY: guaranteed by the caller; VMContexts and host contexts are aligned.
    unsafe { (vmctx as *const u32).read() }
}

/// The value every VMContext starts with.
pub(crate) const VMCTX_MAGIC: u32 = abi::VMCTX_MAGIC;

#[cfg(test)]
mod tests {
    #[test]
    fn layouts_match_format() {
        super::check_layouts();
    }
}
