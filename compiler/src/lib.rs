//! `precast-compiler`: compiles WebAssembly ahead of time into a Precast artifact, an ELF64
//! relocatable object with the metadata sections of [`precast_format`].
//!
//! ```no_run
//! let wasm = std::fs::read("app.wasm")?;
//! let artifact = precast_compiler::compile(&wasm, &precast_compiler::Config::default())?;
//! std::fs::write("app.pcst", artifact)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! From a build script, [`compile_file`] compiles a `.wasm` or `.wat` file to an artifact file.

mod artifact;
mod codegen;
mod config;
pub mod cpus;
mod debug;
mod environ;
mod error;
mod inline;
mod isa;
pub mod signing;
mod trampolines;
mod translate;
mod unwind;

pub use config::{CodePlacement, Config, CpuTarget, DEFAULT_INLINE_THRESHOLD};
pub use cpus::TARGETS;
pub use environ::features as validated_features;
pub use error::CompileError;
pub use precast_format as format;
pub use signing::{SigningKey, VerifyingKey, sign, sign_file};

use std::path::Path;

/// The target triple this compiler generates code for: the machine it runs on.
pub fn host_target() -> String {
    target_lexicon::Triple::host().to_string()
}

/// Compiles wasm (binary or text format) into artifact bytes.
pub fn compile(wasm: &[u8], config: &Config) -> Result<Vec<u8>, CompileError> {
    if let Some(name) = &config.link_name
        && !format::linked::valid_name(name)
    {
        return Err(CompileError::LinkName(name.clone()));
    }
    check_settings(&config.settings)?;
    let config = &effective(config);
    let wasm = wat::parse_bytes(wasm).map_err(|e| CompileError::Wat(e.to_string()))?;
    let isa = isa::build(config)?;
    translate(&wasm, &*isa, config).map_err(|e| match e {
        // Validation stops at the first refusal: an invalid module is reported as invalid,
        // whatever in it Precast does not compile.
        CompileError::Unsupported(_) => match environ::validate(&wasm) {
            Err(invalid) => invalid,
            Ok(()) => e,
        },
        e => e,
    })
}

/// The Cranelift IR of every defined function of `wasm` (binary or text format), in index
/// order with the function index: as the translator produces it, or with `optimized` after
/// Cranelift's mid-end optimizations. `precast clif` prints it; `compiler/tests/clif.rs`
/// checks representative functions against the expected IR checked in.
pub fn clif(
    wasm: &[u8],
    config: &Config,
    optimized: bool,
) -> Result<Vec<(u32, String)>, CompileError> {
    check_settings(&config.settings)?;
    let config = &effective(config);
    let wasm = wat::parse_bytes(wasm).map_err(|e| CompileError::Wat(e.to_string()))?;
    let isa = isa::build(config)?;
    let module = environ::parse(&wasm, config)?;
    codegen::clif(&module.info, module.functions, &*isa, config, optimized)
}

fn translate(
    wasm: &[u8],
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    config: &Config,
) -> Result<Vec<u8>, CompileError> {
    let module = environ::parse(wasm, config)?;
    if !isa::has_simd(isa) {
        environ::refuse_simd(wasm, &config.target)?;
    }
    let compiled = codegen::compile_all(&module.info, module.functions, isa, config)?;
    artifact::write(wasm, &module.info, module.data, &compiled, isa, config)
}

/// `config` with the settings the code is compiled with: fault-based and signal-interrupted
/// epoch checks only where they apply to the target.
fn effective(config: &Config) -> Config {
    let mut c = config.clone();
    let arch = c.target.split('-').next().unwrap_or_default();
    c.settings.epoch_probe &= c.settings.epoch_probe_applies(arch);
    c.settings.epoch_signal &= c.settings.epoch_probe && c.settings.epoch_signal_applies(arch);
    c
}

/// Refuses settings that contradict each other.
fn check_settings(s: &format::Settings) -> Result<(), CompileError> {
    if !s.signals_based_traps && s.bounds_checks != format::header::BoundsChecks::Explicit {
        return Err(CompileError::Settings(
            "code without signal-based traps (`--no-signals`) needs explicit bounds checks \
             (`--bounds-checks explicit`): guard-page bounds checks trap by faulting"
                .into(),
        ));
    }
    Ok(())
}

/// Compiles the wasm or wat file at `input` and writes the artifact to `output`.
pub fn compile_file(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    config: &Config,
) -> Result<(), CompileError> {
    let input = input.as_ref();
    let wasm =
        std::fs::read(input).map_err(|e| CompileError::Io(input.display().to_string(), e))?;
    let artifact = compile(&wasm, config)?;
    let output = output.as_ref();
    std::fs::write(output, artifact).map_err(|e| CompileError::Io(output.display().to_string(), e))
}
