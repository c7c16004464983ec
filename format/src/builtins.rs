//! Runtime builtins: host functions the generated code calls through the VMContext's builtins
//! table, never through a relocation.
//!
//! Every builtin is declared once, in [`foreach_builtin!`](crate::foreach_builtin): its
//! index (the order of the list), its name and the kinds of its parameters and result. From
//! that list this module generates [`Builtin`], [`Builtin::COUNT`] and
//! [`Builtin::signature`]; the compiler builds each call's signature from the descriptor, and
//! the loader generates its table of `extern "C" fn`s from the same list, so an
//! implementation whose signature differs from the declaration does not compile.
//!
//! All use the platform C calling convention and take the caller's VMContext first. Indices
//! are u32; addresses, lengths and deltas are u64 (zero-extended for 32-bit memories and
//! tables); references are pointer-sized. "status" results are 0 on success and non-zero when
//! the builtin recorded a trap (the code then raises [`TrapCode::Pending`](crate::TrapCode)).

/// The ABI kind of a builtin parameter or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The caller's VMContext (pointer-sized).
    Vmctx,
    /// A 32-bit integer the builtin reads as unsigned.
    U32,
    /// A 64-bit integer the builtin reads as unsigned.
    U64,
    /// A 32-bit integer the builtin reads as signed.
    I32,
    /// A 64-bit integer the builtin reads as signed.
    I64,
    /// A native address (pointer-sized).
    Pointer,
    /// A wasm reference value: a pointer-sized integer, 0 for null.
    Reference,
}

impl Kind {
    /// Size of a value of this kind in bytes, for a target with `pointer_size`-byte pointers.
    pub const fn bytes(self, pointer_size: u8) -> u8 {
        match self {
            Kind::U32 | Kind::I32 => 4,
            Kind::U64 | Kind::I64 => 8,
            Kind::Vmctx | Kind::Pointer | Kind::Reference => pointer_size,
        }
    }
}

/// The signature of a builtin: the kinds of its parameters (the VMContext first) and results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter kinds, in order.
    pub params: &'static [Kind],
    /// Result kinds (none or one).
    pub results: &'static [Kind],
}

/// What `memory_grow` and `table_grow` return when the store's limits trap the growth (the
/// error is pending): the code raises [`TrapCode::Pending`](crate::TrapCode). No memory or
/// table is that large, so it is never an old size.
pub const GROW_TRAP: u64 = u64::MAX - 1;

/// Calls `$mac!` with the list of every builtin, in table order.
///
/// Each entry is `/// docs` then `Variant = snake_name(param: kind, ...) [-> kind];`, with the
/// kinds `vmctx`, `u32`, `u64`, `i32`, `i64`, `pointer` and `reference` ([`Kind`]). A
/// consumer matches it with
///
/// ```text
/// $( $(#[$attr:meta])* $variant:ident = $name:ident(
///     $($param:ident : $kind:ident),* $(,)?
/// ) $(-> $result:ident)?; )*
/// ```
///
/// Appending a builtin changes the table, so it bumps
/// [`FORMAT_VERSION`](crate::header::FORMAT_VERSION).
///
/// [`Kind`]: crate::builtins::Kind
#[macro_export]
macro_rules! foreach_builtin {
    ($mac:ident) => {
        $mac! {
            /// `memory.grow`: the old size in pages, `u64::MAX` when the memory cannot grow
            /// by `delta_pages` (or the store's limits refuse), or [`GROW_TRAP`] when the
            /// limits trap.
            MemoryGrow = memory_grow(vmctx: vmctx, memory: u32, delta_pages: u64) -> u64;
            /// `memory.fill`: status.
            MemoryFill = memory_fill(vmctx: vmctx, memory: u32, dst: u64, byte: u32, len: u64)
                -> u32;
            /// `memory.copy`: status.
            MemoryCopy = memory_copy(
                vmctx: vmctx,
                dst_memory: u32,
                src_memory: u32,
                dst: u64,
                src: u64,
                len: u64,
            ) -> u32;
            /// `memory.init`: status.
            MemoryInit = memory_init(
                vmctx: vmctx,
                memory: u32,
                data_index: u32,
                dst: u64,
                src: u32,
                len: u32,
            ) -> u32;
            /// `data.drop`.
            DataDrop = data_drop(vmctx: vmctx, data_index: u32);
            /// `table.grow`: the old length, `u64::MAX` when the table cannot grow (or the
            /// store's limits refuse), or [`GROW_TRAP`] when the limits trap.
            TableGrow = table_grow(vmctx: vmctx, table: u32, delta: u64, init: reference) -> u64;
            /// `table.fill`: status.
            TableFill = table_fill(vmctx: vmctx, table: u32, dst: u64, value: reference, len: u64)
                -> u32;
            /// `table.copy`: status.
            TableCopy = table_copy(
                vmctx: vmctx,
                dst_table: u32,
                src_table: u32,
                dst: u64,
                src: u64,
                len: u64,
            ) -> u32;
            /// `table.init`: status.
            TableInit = table_init(
                vmctx: vmctx,
                table: u32,
                elem_index: u32,
                dst: u64,
                src: u32,
                len: u32,
            ) -> u32;
            /// `elem.drop`.
            ElemDrop = elem_drop(vmctx: vmctx, elem_index: u32);
            /// `memory.atomic.notify`: the number of waiters woken, or -1 when a trap was
            /// recorded. `address` is the native address of a checked, aligned 4-byte access.
            MemoryAtomicNotify = memory_atomic_notify(
                vmctx: vmctx,
                memory: u32,
                address: pointer,
                count: u32,
            ) -> i64;
            /// `memory.atomic.wait32`: 0 (woken), 1 (not equal), 2 (timed out) or -1 (trap
            /// recorded); a negative timeout waits forever.
            MemoryAtomicWait32 = memory_atomic_wait32(
                vmctx: vmctx,
                memory: u32,
                address: pointer,
                expected: u32,
                timeout_ns: i64,
            ) -> i64;
            /// `memory.atomic.wait64`: as `MemoryAtomicWait32`.
            MemoryAtomicWait64 = memory_atomic_wait64(
                vmctx: vmctx,
                memory: u32,
                address: pointer,
                expected: u64,
                timeout_ns: i64,
            ) -> i64;
            /// Raises the trap `code` (a `precast_format::TrapCode` byte): records it with
            /// the wasm frames of the caller and unwinds to the host's entry into wasm. Never
            /// returns. Code compiled without signal-based traps calls it for every trap.
            Trap = trap(vmctx: vmctx, code: u32);
            /// The engine's epoch reached the store's deadline: the store's deadline
            /// behaviour runs (trap, or a callback that may set a new deadline). 0: continue
            /// (the deadline in the store state is the new one); else a trap is pending.
            EpochInterrupt = epoch_interrupt(vmctx: vmctx) -> u32;
        }
    };
}

/// The [`Kind`] named by a kind token of [`foreach_builtin!`](crate::foreach_builtin).
#[doc(hidden)]
#[macro_export]
macro_rules! __builtin_kind {
    (vmctx) => {
        $crate::builtins::Kind::Vmctx
    };
    (u32) => {
        $crate::builtins::Kind::U32
    };
    (u64) => {
        $crate::builtins::Kind::U64
    };
    (i32) => {
        $crate::builtins::Kind::I32
    };
    (i64) => {
        $crate::builtins::Kind::I64
    };
    (pointer) => {
        $crate::builtins::Kind::Pointer
    };
    (reference) => {
        $crate::builtins::Kind::Reference
    };
}

macro_rules! declare_builtins {
    ($(
        $(#[$attr:meta])*
        $variant:ident = $name:ident($($param:ident : $kind:ident),* $(,)?) $(-> $result:ident)?;
    )*) => {
        /// A builtin, by its index in the builtins table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum Builtin {
            $(
                $(#[$attr])*
                $variant,
            )*
        }

        impl Builtin {
            /// Every builtin, in table order.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant),*];

            /// Number of builtins (length of the builtins table).
            pub const COUNT: usize = Builtin::ALL.len();

            /// The builtin's name (the loader's implementation is the function of that name).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Builtin::$variant => stringify!($name),)*
                }
            }

            /// The kinds of the builtin's parameters (the VMContext first) and results.
            pub const fn signature(self) -> Signature {
                match self {
                    $(Builtin::$variant => Signature {
                        params: &[$($crate::__builtin_kind!($kind)),*],
                        results: &[$($crate::__builtin_kind!($result))?],
                    },)*
                }
            }

            /// The builtin at table index `index`.
            pub fn from_index(index: u32) -> Option<Builtin> {
                Builtin::ALL.get(index as usize).copied()
            }

            /// The builtin's index in the table.
            pub const fn index(self) -> u32 {
                self as u32
            }
        }
    };
}

crate::foreach_builtin!(declare_builtins);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_and_signatures() {
        assert_eq!(Builtin::COUNT, 15);
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(b.index() as usize, i);
            assert_eq!(Builtin::from_index(i as u32), Some(*b));
            let sig = b.signature();
            assert_eq!(sig.params.first(), Some(&Kind::Vmctx), "{}", b.name());
            assert!(sig.results.len() <= 1, "{}", b.name());
        }
        assert_eq!(Builtin::from_index(Builtin::COUNT as u32), None);
        assert_eq!(Builtin::MemoryGrow.index(), 0);
        assert_eq!(Builtin::MemoryGrow.name(), "memory_grow");
        assert_eq!(
            Builtin::MemoryGrow.signature(),
            Signature {
                params: &[Kind::Vmctx, Kind::U32, Kind::U64],
                results: &[Kind::U64],
            }
        );
        assert_eq!(
            Builtin::EpochInterrupt.signature(),
            Signature {
                params: &[Kind::Vmctx],
                results: &[Kind::U32],
            }
        );
        assert_eq!(
            Builtin::Trap.signature(),
            Signature {
                params: &[Kind::Vmctx, Kind::U32],
                results: &[],
            }
        );
        assert_eq!(Kind::Reference.bytes(4), 4);
        assert_eq!(Kind::U64.bytes(4), 8);
    }
}
