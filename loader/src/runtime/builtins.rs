//! Runtime builtins called by generated code through the VMContext's builtins table (see
//! `precast_format::builtins` for the signatures). Each finds its instance through the
//! VMContext's instance pointer. Bounds are checked for the whole range before anything is
//! written; a failing check records the trap and returns a non-zero status.

use crate::platform::parking;
use crate::runtime::error::Error;
use crate::runtime::instance::InstanceData;
use crate::runtime::store::{self, Entities, VMStore};
use crate::runtime::traphandlers::{Pending, set_pending};
use crate::runtime::vm;
use core::ops::Range;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use precast_format::TrapCode;
use precast_format::builtins::{Builtin, GROW_TRAP};

type Vmctx = *mut u8;

/// The Rust type of a builtin parameter or result kind (see `precast_format::builtins::Kind`).
macro_rules! builtin_ty {
    (vmctx) => {
        Vmctx
    };
    (u32) => {
        u32
    };
    (u64) => {
        u64
    };
    (i32) => {
        i32
    };
    (i64) => {
        i64
    };
    (pointer) => {
        usize
    };
    (reference) => {
        usize
    };
}

/// Generates the builtins table from `precast_format::foreach_builtin!`: one field per
/// builtin, in [`Builtin`] index order, typed with its declared signature and initialized
/// with the function of the builtin's name here, so an implementation whose signature
/// differs from the declaration does not compile.
macro_rules! builtins_table {
    ($(
        $(#[$attr:meta])*
        $variant:ident = $name:ident($($param:ident : $kind:ident),* $(,)?) $(-> $result:ident)?;
    )*) => {
        /// The builtins table, in [`Builtin`] index order.
        #[repr(C)]
        pub(crate) struct BuiltinsTable {
            $(
                $(#[$attr])*
                $name: unsafe extern "C" fn($(builtin_ty!($kind)),*) $(-> builtin_ty!($result))?,
            )*
        }

        static BUILTINS: BuiltinsTable = BuiltinsTable { $($name,)* };

        const _: () = {
            const P: usize = core::mem::size_of::<usize>();
            assert!(core::mem::size_of::<BuiltinsTable>() == Builtin::COUNT * P);
            $(
                assert!(
                    core::mem::offset_of!(BuiltinsTable, $name) == Builtin::$variant as usize * P
                );
            )*
        };
    };
}

precast_format::foreach_builtin!(builtins_table);

/// Address of the process-wide builtins table.
pub(crate) fn table_ptr() -> *const BuiltinsTable {
    &BUILTINS
}

/// The instance of a VMContext and the entities of its store (reached through the store's
/// [`VMStore`](crate::runtime::store::VMStore)).
///
/// # Safety
/// `vmctx` must be the VMContext of a live instance, passed by its generated code; the store
/// must not be borrowed elsewhere for the builtin's duration.
unsafe fn context<'a>(vmctx: Vmctx) -> (&'a mut InstanceData, &'a mut Entities) {
    // SAFETY: per the contract, the instance pointer field is set and the instance and its
    // store are alive; they are separate allocations.
    unsafe {
        let inst = *(vmctx.add(vm::instance_offset() as usize) as *const *mut InstanceData);
        let store = (*inst).store;
        (&mut *inst, (*store).entities())
    }
}

/// The instance of a VMContext and its store, for builtins that consult the store's
/// policies.
///
/// # Safety
/// As [`context`].
unsafe fn instance_and_store<'a>(vmctx: Vmctx) -> (&'a InstanceData, &'a mut dyn VMStore) {
    // SAFETY: as in `context`; the instance is only read, and separate from its store.
    unsafe {
        let inst = *(vmctx.add(vm::instance_offset() as usize) as *const *mut InstanceData);
        (&*inst, &mut *(*inst).store)
    }
}

/// The store of the instance whose VMContext is `vmctx`.
///
/// # Safety
/// As [`instance_and_store`].
#[cfg(feature = "std")]
pub(crate) unsafe fn store_of<'a>(vmctx: *mut u8) -> &'a mut dyn VMStore {
    // SAFETY: the caller's contract.
    unsafe { instance_and_store(vmctx) }.1
}

/// The result of a grow builtin: the old size, `u64::MAX` for a failed growth, or
/// [`GROW_TRAP`] with the limits' error pending.
fn grow_result(r: Result<Option<u64>, Error>) -> u64 {
    match r {
        Ok(Some(old)) => old,
        Ok(None) => u64::MAX,
        Err(e) => {
            set_pending(Pending::Error(e));
            GROW_TRAP
        }
    }
}

/// Records trap `code` as pending and returns the failure status.
fn record_trap(code: TrapCode) -> u32 {
    set_pending(Pending::Trap(code));
    1
}

/// `start..start + len` if it lies within `bound`.
fn range(start: u64, len: u64, bound: usize) -> Option<Range<usize>> {
    let end = start.checked_add(len)?;
    if end > bound as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

/// `(base, length)` of module memory `index` of the instance.
fn memory_raw(inst: &InstanceData, store: &mut Entities, index: u32) -> Option<(*mut u8, usize)> {
    let m = *inst.memories.get(index as usize)?;
    let e = store.memories.get_mut(m)?;
    Some((e.mem.base(), e.mem.byte_len() as usize))
}

unsafe extern "C" fn memory_grow(vmctx: Vmctx, memory: u32, delta: u64) -> u64 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { instance_and_store(vmctx) };
    match inst.memories.get(memory as usize) {
        Some(&m) => grow_result(store::grow_memory(store, m, delta)),
        None => u64::MAX,
    }
}

unsafe extern "C" fn memory_fill(vmctx: Vmctx, memory: u32, dst: u64, byte: u32, len: u64) -> u32 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { context(vmctx) };
    let Some((base, size)) = memory_raw(inst, store, memory) else {
        return record_trap(TrapCode::MemoryOutOfBounds);
    };
    let Some(r) = range(dst, len, size) else {
        return record_trap(TrapCode::MemoryOutOfBounds);
    };
    // SAFETY: `r` lies within the memory's accessible bytes.
    unsafe { core::ptr::write_bytes(base.add(r.start), byte as u8, r.len()) };
    0
}

unsafe extern "C" fn memory_copy(
    vmctx: Vmctx,
    dst_memory: u32,
    src_memory: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { context(vmctx) };
    let (Some((dbase, dsize)), Some((sbase, ssize))) = (
        memory_raw(inst, store, dst_memory),
        memory_raw(inst, store, src_memory),
    ) else {
        return record_trap(TrapCode::MemoryOutOfBounds);
    };
    let (Some(d), Some(s)) = (range(dst, len, dsize), range(src, len, ssize)) else {
        return record_trap(TrapCode::MemoryOutOfBounds);
    };
    // SAFETY: both ranges lie within accessible memory; `copy` allows overlap.
    unsafe { core::ptr::copy(sbase.add(s.start), dbase.add(d.start), d.len()) };
    0
}

unsafe extern "C" fn memory_init(
    vmctx: Vmctx,
    memory: u32,
    data_index: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { context(vmctx) };
    let bytes: &[u8] = match inst.module.info().data.get(data_index as usize) {
        Some(seg)
            if !inst
                .data_dropped
                .get(data_index as usize)
                .copied()
                .unwrap_or(true) =>
        {
            inst.module.data_bytes(seg)
        }
        _ => &[],
    };
    let Some((base, size)) = memory_raw(inst, store, memory) else {
        return record_trap(TrapCode::MemoryOutOfBounds);
    };
    let (Some(s), Some(d)) = (
        range(u64::from(src), u64::from(len), bytes.len()),
        range(dst, u64::from(len), size),
    ) else {
        return record_trap(TrapCode::MemoryOutOfBounds);
    };
    // SAFETY: `d` lies within accessible memory; the segment bytes are in the module's
    // bytes (a mapping or heap copy of the artifact), which never overlap a linear memory.
    unsafe { core::ptr::copy_nonoverlapping(bytes[s].as_ptr(), base.add(d.start), d.len()) };
    0
}

unsafe extern "C" fn data_drop(vmctx: Vmctx, data_index: u32) {
    // SAFETY: called by generated code with its VMContext.
    let (inst, _) = unsafe { context(vmctx) };
    if let Some(d) = inst.data_dropped.get_mut(data_index as usize) {
        *d = true;
    }
}

unsafe extern "C" fn table_grow(vmctx: Vmctx, table: u32, delta: u64, init: usize) -> u64 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { instance_and_store(vmctx) };
    match inst.tables.get(table as usize) {
        Some(&t) => grow_result(store::grow_table(store, t, delta, init)),
        None => u64::MAX,
    }
}

unsafe extern "C" fn table_fill(vmctx: Vmctx, table: u32, dst: u64, value: usize, len: u64) -> u32 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { context(vmctx) };
    let slice = inst
        .tables
        .get(table as usize)
        .and_then(|&t| store.tables.get_mut(t))
        .and_then(|e| e.elems.range_mut(dst, len));
    match slice {
        Some(s) => {
            s.fill(value);
            0
        }
        None => record_trap(TrapCode::TableOutOfBounds),
    }
}

unsafe extern "C" fn table_copy(
    vmctx: Vmctx,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { context(vmctx) };
    let (Some(&d), Some(&s)) = (
        inst.tables.get(dst_table as usize),
        inst.tables.get(src_table as usize),
    ) else {
        return record_trap(TrapCode::TableOutOfBounds);
    };
    if d == s {
        let copied = store
            .tables
            .get_mut(d)
            .is_some_and(|e| e.elems.copy_within(dst, src, len));
        return if copied {
            0
        } else {
            record_trap(TrapCode::TableOutOfBounds)
        };
    }
    let Some(items) = store
        .tables
        .get(s)
        .and_then(|e| e.elems.range(src, len))
        .map(<[usize]>::to_vec)
    else {
        return record_trap(TrapCode::TableOutOfBounds);
    };
    match store
        .tables
        .get_mut(d)
        .and_then(|e| e.elems.range_mut(dst, len))
    {
        Some(out) => {
            out.copy_from_slice(&items);
            0
        }
        None => record_trap(TrapCode::TableOutOfBounds),
    }
}

unsafe extern "C" fn table_init(
    vmctx: Vmctx,
    table: u32,
    elem_index: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { context(vmctx) };
    let items: &[usize] = inst
        .passive_elems
        .get(elem_index as usize)
        .and_then(|e| e.as_deref())
        .unwrap_or(&[]);
    let Some(s) = range(u64::from(src), u64::from(len), items.len()) else {
        return record_trap(TrapCode::TableOutOfBounds);
    };
    let out = inst
        .tables
        .get(table as usize)
        .and_then(|&t| store.tables.get_mut(t))
        .and_then(|e| e.elems.range_mut(dst, u64::from(len)));
    match out {
        Some(out) => {
            out.copy_from_slice(&items[s]);
            0
        }
        None => record_trap(TrapCode::TableOutOfBounds),
    }
}

unsafe extern "C" fn elem_drop(vmctx: Vmctx, elem_index: u32) {
    // SAFETY: called by generated code with its VMContext.
    let (inst, _) = unsafe { context(vmctx) };
    if let Some(e) = inst.passive_elems.get_mut(elem_index as usize) {
        *e = None;
    }
}

unsafe extern "C" fn memory_atomic_notify(
    _vmctx: Vmctx,
    _memory: u32,
    addr: usize,
    count: u32,
) -> i64 {
    // An unshared memory has no waiters (waiting on it traps): the queue is empty.
    i64::from(parking::notify(addr, count))
}

/// `memory.atomic.wait32/64` at `addr` (checked and aligned by the generated code) of
/// `memory`, with `holds_expected` reading it.
unsafe fn memory_atomic_wait(
    vmctx: Vmctx,
    memory: u32,
    addr: usize,
    holds_expected: impl FnOnce() -> bool,
    timeout_ns: i64,
) -> i64 {
    // SAFETY: called by generated code with its VMContext.
    let (inst, store) = unsafe { context(vmctx) };
    let shared = inst
        .memories
        .get(memory as usize)
        .and_then(|&m| store.memories.get_mut(m))
        .is_some_and(|e| e.ty.shared);
    if !shared {
        record_trap(TrapCode::AtomicWaitNonSharedMemory);
        return -1;
    }
    let timeout = u64::try_from(timeout_ns)
        .ok()
        .map(core::time::Duration::from_nanos);
    parking::wait(addr, holds_expected, timeout) as i64
}

unsafe extern "C" fn memory_atomic_wait32(
    vmctx: Vmctx,
    memory: u32,
    addr: usize,
    expected: u32,
    timeout_ns: i64,
) -> i64 {
    // SAFETY: `addr` is an in-bounds, 4-byte-aligned address of the memory, which stays
    // mapped while its instance runs; other threads access it only atomically.
    let holds = || unsafe { &*(addr as *const AtomicU32) }.load(Ordering::SeqCst) == expected;
    // SAFETY: called by generated code with its VMContext.
    unsafe { memory_atomic_wait(vmctx, memory, addr, holds, timeout_ns) }
}

unsafe extern "C" fn memory_atomic_wait64(
    vmctx: Vmctx,
    memory: u32,
    addr: usize,
    expected: u64,
    timeout_ns: i64,
) -> i64 {
    // SAFETY: as in `memory_atomic_wait32`, 8-byte aligned.
    let holds = || unsafe { &*(addr as *const AtomicU64) }.load(Ordering::SeqCst) == expected;
    // SAFETY: called by generated code with its VMContext.
    unsafe { memory_atomic_wait(vmctx, memory, addr, holds, timeout_ns) }
}

unsafe extern "C" fn epoch_interrupt(vmctx: Vmctx) -> u32 {
    // SAFETY: called by generated code with its VMContext.
    let (_, store) = unsafe { instance_and_store(vmctx) };
    match store.epoch_interrupt(vmctx) {
        Ok(()) => 0,
        Err(pending) => {
            set_pending(pending);
            1
        }
    }
}

/// The `Trap` builtin: raises trap `code` for the wasm code that called it (code compiled
/// without signal-based traps calls it for every trap) and unwinds to the host's entry into
/// wasm, never returning. A naked function, because the backtrace starts from the caller's
/// return address and frame pointer, which it hands on, with its stack pointer at the call,
/// to [`traphandlers::raise`](crate::runtime::traphandlers::raise) (the same recording as the signal
/// handler's).
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn trap(_vmctx: Vmctx, _code: u32) {
    core::arch::naked_asm!(
        "mov rdx, [rsp]",
        "mov rcx, rbp",
        "lea r8, [rsp + 8]",
        "jmp {raise}",
        raise = sym crate::runtime::traphandlers::raise,
    )
}

/// The `Trap` builtin (see the x86_64 version).
#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
unsafe extern "C" fn trap(_vmctx: Vmctx, _code: u32) {
    core::arch::naked_asm!(
        "mov x2, x30",
        "mov x3, x29",
        "mov x4, sp",
        "b {raise}",
        raise = sym crate::runtime::traphandlers::raise,
    )
}

/// The `Trap` builtin (see the x86_64 version).
#[cfg(target_arch = "riscv64")]
#[unsafe(naked)]
unsafe extern "C" fn trap(_vmctx: Vmctx, _code: u32) {
    core::arch::naked_asm!(
        "mv a2, ra",
        "mv a3, s0",
        "mv a4, sp",
        "tail {raise}",
        raise = sym crate::runtime::traphandlers::raise,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(range(0, 0, 0), Some(0..0));
        assert_eq!(range(10, 0, 10), Some(10..10), "zero length at the end");
        assert_eq!(range(11, 0, 10), None);
        assert_eq!(range(5, 6, 10), None);
        assert_eq!(range(u64::MAX, 2, 10), None);
    }
}
