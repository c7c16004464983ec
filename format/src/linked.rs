//! The descriptor of a **linkable object**: an artifact written to be linked into a host
//! executable by the system linker (`precast compile --link-name NAME`).
//!
//! A linkable object carries the same section bytes as an artifact file, but in allocated
//! sections that the linker places in the executable's text and read-only data. Its one
//! global symbol, [`symbol`]`(NAME)`, is a [`Descriptor`] in read-only data that locates every
//! section through 32-bit self-relative offsets (`R_X86_64_PC32`, `R_AARCH64_PREL32`,
//! `R_RISCV_32_PCREL`), which the static linker resolves: no dynamic relocation, no GOT, no
//! text relocation, in a PIE or not.
//!
//! This module is the single source of truth for the descriptor's layout: the compiler
//! writes its bytes at the offsets given here, the loader reads it as the `repr(C)` struct.

use crate::sections;

/// First bytes of a descriptor.
pub const MAGIC: [u8; 8] = *b"PCSTLNK\0";

/// Version of the descriptor layout; a loader refuses another.
pub const VERSION: u32 = 3;

/// Prefix of the descriptor's symbol.
pub const SYMBOL_PREFIX: &str = "precast_module_";

/// The sections a descriptor locates, in the order of [`Descriptor::sections`].
pub const SECTIONS: [&str; 11] = [
    sections::HEADER,
    sections::TEXT,
    sections::INFO,
    sections::VMOFFSETS,
    sections::FUNCS,
    sections::TRAMPOLINES,
    sections::TRAPS,
    sections::DATA,
    sections::NAMES,
    sections::INLINES,
    sections::SIGNATURE,
];

/// Alignment of the code section in a linkable object. Function offsets within it are the
/// same as in an artifact file, and 64 keeps their placement relative to cache lines (and to
/// the 32-byte fetch windows loop performance depends on) identical to a file-loaded module.
pub const TEXT_ALIGN: u64 = 64;

/// Where one section's bytes are.
#[repr(C)]
#[derive(Debug)]
pub struct SectionRef {
    /// Address of the bytes minus the address of this field (a linker-resolved 32-bit
    /// PC-relative relocation).
    pub rel: i32,
    /// Zero.
    pub reserved: u32,
    /// Length of the bytes.
    pub len: u64,
}

/// The descriptor a linkable object exports as [`symbol`]`(NAME)`.
#[repr(C)]
#[derive(Debug)]
pub struct Descriptor {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u32,
    /// Number of section entries: `SECTIONS.len()`.
    pub count: u32,
    /// One entry per name of [`SECTIONS`], in that order.
    pub sections: [SectionRef; SECTIONS.len()],
}

/// Size of a descriptor in bytes.
pub const SIZE: usize = core::mem::size_of::<Descriptor>();

/// Alignment of a descriptor.
pub const ALIGN: usize = core::mem::align_of::<Descriptor>();

/// Offset of section entry `i` from the start of the descriptor.
pub const fn section_offset(i: usize) -> usize {
    core::mem::offset_of!(Descriptor, sections) + i * core::mem::size_of::<SectionRef>()
}

/// Offset of the `len` field within a section entry.
pub const LEN_OFFSET: usize = core::mem::offset_of!(SectionRef, len);

/// Whether `name` can be a link name: a C identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The descriptor symbol for link name `name`.
pub fn symbol(name: &str) -> alloc::string::String {
    alloc::format!("{SYMBOL_PREFIX}{name}")
}

impl Descriptor {
    /// The address range of section entry `i`: its bytes' address and length. The address
    /// is computed from the entry's own address, so this is only meaningful on a descriptor
    /// that the linker placed (not a copy).
    pub fn section(&self, i: usize) -> Option<(usize, u64)> {
        let s = self.sections.get(i)?;
        let at = core::ptr::addr_of!(s.rel) as usize;
        Some((at.wrapping_add_signed(s.rel as isize), s.len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(SIZE, 16 + 16 * SECTIONS.len());
        assert_eq!(ALIGN, 8);
        assert_eq!(section_offset(0), 16);
        assert_eq!(section_offset(1), 32);
        assert_eq!(LEN_OFFSET, 8);
    }

    #[test]
    fn names() {
        for ok in ["a", "_", "hello_world", "M2", "_x9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a.b", "ü", "a b", "a$"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(symbol("app"), "precast_module_app");
    }
}
