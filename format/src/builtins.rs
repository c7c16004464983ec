//! Runtime builtins: host functions the generated code calls through the VMContext's builtins
//! table, never through a relocation.
//!
//! All use the platform C calling convention and take the caller's VMContext first. Indices
//! are u32; addresses, lengths and deltas are u64 (zero-extended for 32-bit memories and
//! tables); references are pointer-sized. "status" results are 0 on success and non-zero when
//! the builtin recorded a trap (the code then raises [`TrapCode::Pending`](crate::TrapCode)).

/// A builtin, by its index in the builtins table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Builtin {
    /// `(vmctx, memory, delta_pages) -> old_pages | u64::MAX`
    MemoryGrow = 0,
    /// `(vmctx, memory, dst, byte: u32, len) -> status`
    MemoryFill = 1,
    /// `(vmctx, dst_memory, src_memory, dst, src, len) -> status`
    MemoryCopy = 2,
    /// `(vmctx, memory, data_index, dst, src: u32, len: u32) -> status`
    MemoryInit = 3,
    /// `(vmctx, data_index)`
    DataDrop = 4,
    /// `(vmctx, table, delta, init: ref) -> old_len | u64::MAX`
    TableGrow = 5,
    /// `(vmctx, table, dst, value: ref, len) -> status`
    TableFill = 6,
    /// `(vmctx, dst_table, src_table, dst, src, len) -> status`
    TableCopy = 7,
    /// `(vmctx, table, elem_index, dst, src: u32, len: u32) -> status`
    TableInit = 8,
    /// `(vmctx, elem_index)`
    ElemDrop = 9,
    /// `(vmctx, memory, address, count: u32) -> woken | -1`: `address` is the native
    /// address of a checked, aligned 4-byte access. -1: a trap was recorded.
    MemoryAtomicNotify = 10,
    /// `(vmctx, memory, address, expected: u32, timeout_ns: i64) -> 0 (woken) | 1 (not
    /// equal) | 2 (timed out) | -1 (trap recorded)`; a negative timeout waits forever.
    MemoryAtomicWait32 = 11,
    /// `(vmctx, memory, address, expected: u64, timeout_ns: i64) -> as `MemoryAtomicWait32``.
    MemoryAtomicWait64 = 12,
}

impl Builtin {
    /// Number of builtins (length of the builtins table).
    pub const COUNT: usize = 13;
}
