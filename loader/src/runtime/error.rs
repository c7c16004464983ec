//! Error types: why an artifact was refused, why linking failed, and the top-level [`Error`].

use crate::prelude::*;
use crate::runtime::trap::Trap;

/// Why an artifact could not be loaded. Every variant names the thing and the reason.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the artifact file failed.
    #[cfg(feature = "std")]
    #[error("cannot read artifact `{path}`: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error (part of the message, so not also reported as a source).
        error: std::io::Error,
    },
    /// The bytes are not an ELF64 little-endian object at all.
    #[error("not a Precast artifact: {reason}")]
    NotElf {
        /// What was found instead.
        reason: String,
    },
    /// An ELF object, but without a `.precast.header` section.
    #[error(
        "not a Precast artifact: ELF object has no `{}` section",
        precast_format::sections::HEADER
    )]
    NotPrecast,
    /// The file ends before a structure it declares.
    #[error("truncated artifact: {what} needs {expected} bytes of file, but the file has {actual}")]
    Truncated {
        /// The structure that does not fit.
        what: String,
        /// File length the structure needs.
        expected: u64,
        /// Actual file length.
        actual: u64,
    },
    /// The ELF structure is inconsistent (bad section table, bad names, misaligned text).
    #[error("malformed artifact: {0}")]
    MalformedElf(String),
    /// The header's magic bytes are wrong.
    #[error(
        "bad artifact header magic: `{}` does not start with `PRECAST\\0`",
        precast_format::sections::HEADER
    )]
    BadMagic,
    /// The artifact was written in another format version.
    #[error(
        "artifact format version {found} is not supported (this loader reads version {expected})"
    )]
    FormatVersion {
        /// Version in the artifact.
        found: u32,
        /// Version this loader reads.
        expected: u32,
    },
    /// The header's own checksum does not match: the header is corrupted.
    #[error(
        "artifact header is corrupted: checksum stored {stored:#010x}, computed {computed:#010x}"
    )]
    HeaderChecksum {
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum computed from the header bytes.
        computed: u32,
    },
    /// The header is too short or holds values no writer produces.
    #[error("malformed artifact header: {0}")]
    MalformedHeader(String),
    /// The artifact was written by another precast version or compiler build.
    #[error(
        "artifact was compiled by precast {artifact_version} (build {artifact_build:016x}), \
         but this loader accepts only precast {loader_version} (build {loader_build:016x}): \
         recompile the module with this version's `precast compile`"
    )]
    CompilerBuild {
        /// Version recorded in the artifact.
        artifact_version: String,
        /// Build id recorded in the artifact.
        artifact_build: u64,
        /// This loader's version.
        loader_version: &'static str,
        /// This loader's build id.
        loader_build: u64,
    },
    /// The engine only loads signed artifacts, and this one is not signed.
    #[error(
        "artifact is not signed, and this engine only loads artifacts signed by a trusted key \
         (sign it with `precast sign` or `precast compile --sign KEY`)"
    )]
    Unsigned,
    /// The artifact is signed by a key the engine does not trust.
    #[error("artifact is signed by key {fingerprint}, which is not a trusted key")]
    UntrustedKey {
        /// Fingerprint of the signer's public key.
        fingerprint: String,
    },
    /// The signature does not verify: the artifact was changed after signing, or the
    /// signature is forged.
    #[error(
        "artifact signature is invalid (key {fingerprint}): the artifact was modified after \
         it was signed"
    )]
    BadSignature {
        /// Fingerprint of the public key the signature names.
        fingerprint: String,
    },
    /// The signature section is malformed.
    #[error("malformed artifact signature section: {0}")]
    MalformedSignature(String),
    /// The artifact was compiled for another architecture or operating system.
    #[error("artifact was compiled for target `{artifact}`, but this host is `{host}`")]
    Target {
        /// Target recorded in the artifact.
        artifact: String,
        /// The host's target.
        host: String,
    },
    /// The code needs CPU features this host lacks.
    #[error("artifact needs CPU features this host lacks: {}", missing.join(", "))]
    CpuFeatures {
        /// The missing feature names.
        missing: Vec<String>,
    },
    /// An ABI-relevant setting does not match what this loader provides.
    #[error("artifact settings mismatch: {0}")]
    Settings(String),
    /// A checksum over the artifact's sections does not match: the file is corrupted.
    #[error(
        "artifact sections are corrupted: {sections} checksum stored {stored:#010x}, computed {computed:#010x}"
    )]
    SectionsChecksum {
        /// Which checksum: `metadata` (verified at every load) or `all` (every section,
        /// code included).
        sections: &'static str,
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum computed over the sections.
        computed: u32,
    },
    /// A metadata section could not be decoded.
    #[error("cannot decode artifact section `{section}`: {reason}")]
    Decode {
        /// The section.
        section: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The recorded VMContext layout differs from the one this loader computes.
    #[error("artifact VMContext layout differs from the loader's: {0}")]
    VMOffsets(String),
    /// A lookup table or the module info is inconsistent.
    #[error("malformed artifact section `{section}`: {reason}")]
    Malformed {
        /// The section.
        section: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A linked module's descriptor is not one this loader reads.
    #[error("malformed linked module descriptor: {0}")]
    Linked(String),
    /// Making the code executable or registering it failed.
    #[error("cannot map artifact code: {0}")]
    Map(String),
}

/// Why imports could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No definition for an import.
    #[error("unknown import `{module}::{name}`")]
    UnknownImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// A definition exists but its type does not match the import.
    #[error("incompatible import type for `{module}::{name}`: {reason}")]
    IncompatibleImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// Why the types do not match.
        reason: String,
    },
    /// `Instance::new` got the wrong number of imports.
    #[error("module needs {expected} imports, but {given} were provided")]
    ImportCount {
        /// Number of imports of the module.
        expected: usize,
        /// Number provided.
        given: usize,
    },
    /// A linker name is defined twice (and shadowing is off).
    #[error("`{module}::{name}` is already defined in the linker")]
    Duplicate {
        /// Module name.
        module: String,
        /// Field name.
        name: String,
    },
}

/// Any error of the embedding API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Loading an artifact failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Linking failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Wasm trapped.
    #[error(transparent)]
    Trap(#[from] Trap),
    /// A host function failed.
    #[error("{0}")]
    Host(String),
    /// The program asked to exit with a status (e.g. WASI `proc_exit`).
    #[error("exited with status {0}")]
    Exit(i32),
    /// The embedding API was used incorrectly (wrong arity, wrong value type, wrong store,
    /// writing an immutable global, ...).
    #[error("{0}")]
    Api(String),
    /// A resource (memory reservation, table storage) could not be allocated.
    #[error("resource limit: {0}")]
    Resource(String),
    /// A limit of the store ([`StoreLimits`](crate::StoreLimits) or the embedder's
    /// [`ResourceLimiter`](crate::ResourceLimiter)) refused an instance, a memory or a table,
    /// or trapped a growth.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

impl Error {
    /// The trap, if this error is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }
}

pub(crate) fn api<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error::Api(msg.into()))
}

/// Which limit a store reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The size of one memory, in bytes.
    MemorySize(u64),
    /// The elements of one table.
    TableElements(u64),
    /// The instances of the store.
    Instances(usize),
    /// The tables of the store.
    Tables(usize),
    /// The memories of the store.
    Memories(usize),
}

/// A limit of [`StoreLimits`] was reached: the limit, and what was asked for (bytes or
/// elements for growth, the count for instances, tables and memories).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(*limit, *requested))]
pub struct LimitExceeded {
    /// The limit.
    pub limit: Limit,
    /// What was asked for.
    pub requested: u64,
}

fn describe(limit: Limit, requested: u64) -> String {
    match limit {
        Limit::MemorySize(n) => {
            format!("memory limit of {n} bytes reached: growth to {requested} bytes refused")
        }
        Limit::TableElements(n) => {
            format!("table limit of {n} elements reached: growth to {requested} refused")
        }
        Limit::Instances(n) => format!("instance limit of {n} reached: instance {requested}"),
        Limit::Tables(n) => format!("table count limit of {n} reached: table {requested}"),
        Limit::Memories(n) => format!("memory count limit of {n} reached: memory {requested}"),
    }
}
