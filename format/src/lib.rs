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
//! | [`sections::DATA`] | data segment bytes, referenced by [`module::DataSegment`] |
//!
//! The runtime ABI between generated code and the loader (VMContext layout, calling
//! conventions, builtins) is in [`abi`], [`vmoffsets`] and [`builtins`].

#![no_std]

extern crate alloc;

use alloc::vec::Vec;

pub mod abi;
pub mod builtins;
pub mod header;
pub mod module;
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
    /// Data segment bytes.
    pub const DATA: &str = ".precast.data";

    /// The sections covered by the header's checksum, in checksum order.
    pub const CHECKSUMMED: [&str; 7] = [TEXT, INFO, VMOFFSETS, FUNCS, TRAMPOLINES, TRAPS, DATA];
}

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
