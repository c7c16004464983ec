//! Compilation errors.

/// Why a module could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The input is neither valid wasm nor valid wat.
    #[error("cannot parse text format: {0}")]
    Wat(String),
    /// The module failed validation.
    #[error("invalid wasm: {0}")]
    Invalid(#[from] wasmparser::BinaryReaderError),
    /// The module uses something Precast cannot compile yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The settings contradict each other.
    #[error("settings: {0}")]
    Settings(String),
    /// The requested target cannot be built.
    #[error("target: {0}")]
    Target(String),
    /// Cranelift failed on a function.
    #[error("code generation failed for function {func}: {message}")]
    Codegen {
        /// Function index (or trampoline description).
        func: String,
        /// Cranelift's message.
        message: String,
    },
    /// Writing the artifact failed.
    #[error("cannot write artifact: {0}")]
    Artifact(String),
    /// The link name of a linkable object is not a C identifier.
    #[error("link name `{0}` is not a C identifier ([A-Za-z_][A-Za-z0-9_]*)")]
    LinkName(String),
    /// A signing key could not be generated, read or written.
    #[error("key {0}")]
    Key(String),
    /// An artifact could not be signed.
    #[error("cannot sign: {0}")]
    Sign(String),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}
