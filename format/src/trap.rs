//! Trap codes recorded in the trap table and reported to embedders.

use core::fmt;

/// Why wasm execution stopped abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TrapCode {
    /// The wasm stack limit was exceeded.
    StackOverflow = 1,
    /// A linear memory access was out of bounds.
    MemoryOutOfBounds = 2,
    /// A table access (`table.get`/`set`/`fill`/`copy`/`init`, ...) was out of bounds.
    TableOutOfBounds = 3,
    /// `call_indirect` hit a null table entry.
    IndirectCallToNull = 4,
    /// `call_indirect` found a function of the wrong type.
    BadSignature = 5,
    /// Signed integer overflow (`i32.div_s` of `MIN / -1`).
    IntegerOverflow = 6,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero = 7,
    /// Float-to-int conversion of NaN or an out-of-range value.
    BadConversionToInteger = 8,
    /// `unreachable` was executed.
    UnreachableCodeReached = 9,
    /// A null reference was dereferenced (`call_ref`, `ref.as_non_null`, ...).
    NullReference = 10,
    /// A runtime builtin or host function reported a trap; the details are held by the
    /// loader (the generated code only tests the builtin's status).
    Pending = 11,
    /// An element or data segment access was out of bounds.
    SegmentOutOfBounds = 12,
    /// An unaligned atomic access.
    HeapMisaligned = 13,
    /// A memory or table allocation failed.
    OutOfMemory = 14,
    /// `memory.atomic.wait32/64` on a memory that is not shared.
    AtomicWaitNonSharedMemory = 15,
    /// The store's epoch deadline was reached (epoch interruption).
    Interrupt = 16,
    /// The store's fuel ran out.
    OutOfFuel = 17,
    /// `call_indirect` with an index beyond the end of its table.
    UndefinedElement = 18,
    /// `call_ref` / `return_call_ref` of a null function reference.
    NullFunctionReference = 19,
}

impl TrapCode {
    /// All trap codes.
    pub const ALL: [TrapCode; 19] = [
        TrapCode::StackOverflow,
        TrapCode::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds,
        TrapCode::IndirectCallToNull,
        TrapCode::BadSignature,
        TrapCode::IntegerOverflow,
        TrapCode::IntegerDivisionByZero,
        TrapCode::BadConversionToInteger,
        TrapCode::UnreachableCodeReached,
        TrapCode::NullReference,
        TrapCode::Pending,
        TrapCode::SegmentOutOfBounds,
        TrapCode::HeapMisaligned,
        TrapCode::OutOfMemory,
        TrapCode::AtomicWaitNonSharedMemory,
        TrapCode::Interrupt,
        TrapCode::OutOfFuel,
        TrapCode::UndefinedElement,
        TrapCode::NullFunctionReference,
    ];

    /// Decodes a trap code byte.
    pub fn from_u8(byte: u8) -> Option<TrapCode> {
        TrapCode::ALL.iter().copied().find(|c| *c as u8 == byte)
    }

    /// The message for this trap: the reference interpreter's wording, so that a spec
    /// script's expected message is a prefix of it.
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::IndirectCallToNull => "uninitialized element",
            TrapCode::BadSignature => "indirect call type mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::UnreachableCodeReached => "unreachable",
            TrapCode::NullReference => "null reference",
            TrapCode::Pending => "trap raised by the runtime",
            TrapCode::SegmentOutOfBounds => "out of bounds segment access",
            TrapCode::HeapMisaligned => "unaligned atomic",
            TrapCode::OutOfMemory => "out of memory",
            TrapCode::AtomicWaitNonSharedMemory => "expected shared memory",
            TrapCode::Interrupt => "interrupt: the epoch deadline was reached",
            TrapCode::OutOfFuel => "all fuel consumed",
            TrapCode::UndefinedElement => "undefined element",
            TrapCode::NullFunctionReference => "null function reference",
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}
