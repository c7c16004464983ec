//! The Precast artifact contract, shared by `precast-compiler` (which writes artifacts) and
//! `precast-loader` (which maps and runs them).
//!
//! An artifact is an ELF64 relocatable object. Its `.text` holds the compiled wasm functions
//! and trampolines; the `.precast.*` sections hold the metadata described here:
//!
//! | section | contents |
//! |---|---|
//! | [`sections::HEADER`] | fixed-layout [`header::Header`], read first |
//! | [`sections::INFO`] | [`module::ModuleInfo`], postcard |
//! | [`sections::VMOFFSETS`] | [`vmoffsets::VMOffsets`] the code was compiled against, postcard |
//! | [`sections::FUNCS`] | [`tables::FuncLoc`] per defined function, fixed width |
//! | [`sections::TRAMPOLINES`] | [`tables::TrampolineLoc`] per function type, fixed width |
//! | [`sections::TRAPS`] | [`tables::TrapSite`] sorted by code offset, fixed width |
//! | [`sections::DATA`] | data segment bytes ([`module::DataSegment`]) and page-aligned memory images ([`module::MemoryImage`]) |
//! | [`sections::NAMES`] | function names, [`tables::NameTable`], read in place |
//!
//! The metadata a loader needs to instantiate ([`sections::METADATA`]) is small and has its own
//! checksum, verified at every load; the checksum over every section
//! ([`sections::CHECKSUMMED`]) also covers the code, the trap table, the data and the names.
//!
//! The runtime ABI between generated code and the loader (VMContext layout, calling
//! conventions, builtins) is in [`abi`], [`vmoffsets`] and [`builtins`].

#![no_std]

extern crate alloc;

use alloc::vec::Vec;

pub mod abi;
pub mod builtins;
pub mod header;
pub mod linked;
pub mod module;
pub mod signature;
pub mod tables;
pub mod trap;
pub mod vmoffsets;

pub use header::{CpuFeatures, Header, HeaderError, Settings};
pub use module::ModuleInfo;
pub use trap::TrapCode;
pub use vmoffsets::VMOffsets;

/// Names of the artifact's sections.
pub mod sections {
    /// Compiled code: wasm functions and trampolines.
    pub const TEXT: &str = ".text";
    /// The fixed-layout header.
    pub const HEADER: &str = ".precast.header";
    /// Module info, postcard-encoded.
    pub const INFO: &str = ".precast.info";
    /// The VMContext layout the code was compiled against, postcard-encoded.
    pub const VMOFFSETS: &str = ".precast.vmoffsets";
    /// Function address map.
    pub const FUNCS: &str = ".precast.funcs";
    /// Trampoline address map, one entry per function type.
    pub const TRAMPOLINES: &str = ".precast.trampolines";
    /// Trap sites sorted by code offset.
    pub const TRAPS: &str = ".precast.traps";
    /// Data segment bytes and memory images.
    pub const DATA: &str = ".precast.data";
    /// Function names (backtraces), read in place.
    pub const NAMES: &str = ".precast.names";
    /// Unwind information for the platform's unwinder ([`crate::tables::UnwindTable`]).
    pub const UNWIND: &str = ".precast.unwind";
    /// Code inlined into other functions, for backtraces ([`crate::tables::InlineTable`]).
    pub const INLINES: &str = ".precast.inlines";
    /// A linkable object's [`crate::linked::Descriptor`] (absent from artifact files).
    pub const DESCRIPTOR: &str = ".precast.descriptor";
    /// The artifact's ed25519 signature ([`crate::signature`]); all zero when unsigned.
    pub const SIGNATURE: &str = ".precast.signature";

    /// The sections covered by the header's metadata checksum, in checksum order: what
    /// instantiation reads besides code and data.
    pub const METADATA: [&str; 4] = [INFO, VMOFFSETS, FUNCS, TRAMPOLINES];
    /// The sections covered by the header's full checksum, in checksum order.
    pub const CHECKSUMMED: [&str; 10] = [
        TEXT,
        INFO,
        VMOFFSETS,
        FUNCS,
        TRAMPOLINES,
        TRAPS,
        DATA,
        NAMES,
        UNWIND,
        INLINES,
    ];
}

/// Computes `(sections_checksum, metadata_checksum)` for the header. `section` returns a
/// section's bytes (`None` or empty when absent); `crc` is a CRC-32 over the concatenation of
/// its arguments.
pub fn checksums<'a>(
    section: impl Fn(&str) -> Option<&'a [u8]>,
    crc: impl Fn(&[&[u8]]) -> u32,
) -> (u32, u32) {
    let collect = |names: &[&str]| -> Vec<&'a [u8]> {
        names.iter().map(|n| section(n).unwrap_or(&[])).collect()
    };
    (
        crc(&collect(&sections::CHECKSUMMED)),
        crc(&collect(&sections::METADATA)),
    )
}

/// The build id of this precast build: a hash of the artifact contract (this crate's
/// sources), the compiler's sources and the code generator's version (see `build.rs`). The
/// compiler writes it into every header; a loader refuses artifacts with another build id,
/// like artifacts of another precast version, so that no artifact of an older compiler (a
/// different builtins order or trampoline ABI, or a since-fixed code generation bug) runs.
pub const BUILD_ID: u64 = parse_hex(env!("PRECAST_BUILD_ID"));

const fn parse_hex(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut v = 0u64;
    let mut i = 0;
    while i < b.len() {
        let d = match b[i] {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("PRECAST_BUILD_ID is not lowercase hex"),
        };
        v = (v << 4) | d as u64;
        i += 1;
    }
    v
}

/// The precast version compiled into this build (the header's `precast_version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Alignment of memory images in the data section and in the file (and of the data section
/// itself): a loader can map them copy-on-write when its page size divides this.
pub const IMAGE_ALIGN: u64 = 4096;

/// Size of a wasm page in bytes (default page size).
pub const WASM_PAGE_SIZE: u64 = 65536;

/// Encodes a value with postcard.
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail for our plain data types.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes a postcard-encoded value, rejecting trailing bytes.
pub fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    let (value, rest) = postcard::take_from_bytes(bytes)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(postcard::Error::DeserializeBadEncoding)
    }
}
