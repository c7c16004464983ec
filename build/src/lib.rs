//! `precast-build`: precompile WebAssembly modules from a build script and link them into
//! the crate's binaries.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), precast_build::Error> {
//!     precast_build::Module::new("app", "wasm/app.wasm").compile()?;
//!     Ok(())
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs
//! let engine = precast_loader::Engine::default();
//! let module = precast_loader::Module::from_linked(&engine, precast_loader::linked!(app))?;
//! ```
//!
//! [`Module::compile`] compiles the module into a linkable object (see
//! `precast_format::linked`) in `OUT_DIR`, archives it as `libprecast_NAME.a` and prints the
//! `cargo:` lines that link the archive into the crate and rebuild when the input changes. The
//! code is compiled for cargo's `TARGET` and, unless told otherwise, for that target's
//! portable baseline CPU rather than the build machine's.

use precast_compiler::format::header::BoundsChecks;
use precast_compiler::{CompileError, Config, CpuTarget};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use precast_compiler;

/// Why a module could not be precompiled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not run by cargo as a build script: an environment variable cargo sets is missing.
    #[error("precast-build must run in a build script: `{0}` is not set")]
    NotBuildScript(&'static str),
    /// The link name is not a C identifier.
    #[error("link name `{0}` is not a C identifier ([A-Za-z_][A-Za-z0-9_]*)")]
    LinkName(String),
    /// Two modules of one build script share a link name.
    #[error("link name `{0}` is used by two modules of this build script")]
    DuplicateName(String),
    /// Cargo builds for a target this compiler cannot generate code for.
    #[error(
        "cannot precompile `{name}` for target `{target}`: precast-compiler generates code \
         for {supported}"
    )]
    Target {
        /// The link name.
        name: String,
        /// Cargo's `TARGET`.
        target: String,
        /// The targets the compiler supports, comma separated.
        supported: String,
    },
    /// The module does not compile.
    #[error("cannot precompile `{}` ({name}): {error}", path.display())]
    Compile {
        /// The link name.
        name: String,
        /// The input file.
        path: PathBuf,
        /// The compiler's error.
        error: CompileError,
    },
    /// Reading the input or writing the outputs failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
}

/// One module to precompile and link, with the compiler settings the `precast compile`
/// command line offers.
#[derive(Clone, Debug)]
pub struct Module {
    name: String,
    input: PathBuf,
    config: Config,
    out_dir: Option<PathBuf>,
    emit_cargo: bool,
    key_file: Option<PathBuf>,
}

/// What [`Module::compile`] wrote.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The descriptor's symbol, `precast_module_NAME`.
    pub symbol: String,
    /// The linkable object.
    pub object: PathBuf,
    /// The archive holding it, `libprecast_NAME.a`, which cargo links.
    pub archive: PathBuf,
    /// Size of the object in bytes.
    pub object_size: u64,
}

impl Module {
    /// The module at `input` (`.wasm` or `.wat`, relative to the crate's root), linked under
    /// `name` (a C identifier): `precast_loader::linked!(name)` finds it at run time.
    pub fn new(name: &str, input: impl AsRef<Path>) -> Module {
        Module {
            name: name.to_string(),
            input: input.as_ref().to_path_buf(),
            config: Config {
                cpu: CpuTarget::Baseline,
                verify: false,
                ..Config::default()
            },
            out_dir: None,
            emit_cargo: true,
            key_file: None,
        }
    }

    /// Signs the object with the ed25519 private key in `key_file` (PEM, from `precast
    /// keygen`), so that an engine trusting the public key loads it
    /// (`Config::trust`). The build reruns when the key file changes.
    pub fn sign(mut self, key_file: impl AsRef<Path>) -> Module {
        self.key_file = Some(key_file.as_ref().to_path_buf());
        self
    }

    /// The CPU the code may assume (default: the target's portable baseline; `Native` is the
    /// build machine's CPU, which a deployment machine may lack, and an error when cross
    /// compiling).
    pub fn cpu(mut self, cpu: CpuTarget) -> Module {
        self.config.cpu = cpu;
        self
    }

    /// Whether the object carries native DWARF (default: yes): the line table of wasm
    /// offsets, the functions' names and ranges, which the system linker merges into the
    /// executable's debug information for gdb and profilers.
    pub fn debug_info(mut self, on: bool) -> Module {
        self.config.debug_info = on;
        self
    }

    /// `-g`: the object's line table carries the module's own source lines, from its DWARF
    /// (a module compiled to wasm with debug information), so gdb on the executable breaks
    /// on `file.c:LINE` of the module and shows source lines in backtraces (default: off).
    pub fn wasm_debug_info(mut self, on: bool) -> Module {
        self.config.wasm_debug_info = on;
        self
    }

    /// The bounds-check strategy for linear memory (default: guard pages).
    pub fn bounds_checks(mut self, b: BoundsChecks) -> Module {
        self.config.settings.bounds_checks = b;
        self
    }

    /// Compiles in epoch interruption (the loading engine needs
    /// `Config::epoch_interruption` too).
    pub fn epoch_interruption(mut self, on: bool) -> Module {
        self.config.settings.epoch_interruption = on;
        self
    }

    /// Compiles in fuel consumption (the loading engine needs `Config::consume_fuel` too).
    pub fn consume_fuel(mut self, on: bool) -> Module {
        self.config.settings.consume_fuel = on;
        self
    }

    /// Cranelift's optimization level: `none`, `speed` (default) or `speed_and_size`.
    pub fn opt_level(mut self, level: &str) -> Module {
        self.config.opt_level = level.to_string();
        self
    }

    /// Whether calls of small functions of the module are inlined (default: yes; see
    /// `Config::inlining`). Trap backtraces leave out inlined frames.
    pub fn inlining(mut self, on: bool) -> Module {
        self.config.inlining = on;
        self
    }

    /// The largest function inlined, in Cranelift IR instructions (default:
    /// [`precast_compiler::DEFAULT_INLINE_THRESHOLD`]).
    pub fn inline_threshold(mut self, instructions: u32) -> Module {
        self.config.inline_threshold = instructions;
        self
    }

    /// Every compiler setting at once (the link name is still this module's).
    pub fn config(mut self, config: Config) -> Module {
        self.config = config;
        self
    }

    /// Writes to `dir` instead of `OUT_DIR/precast`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Module {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Whether to print the `cargo:` lines (default: yes; a tool calling this outside a
    /// build script may not want them).
    pub fn emit_cargo_lines(mut self, emit: bool) -> Module {
        self.emit_cargo = emit;
        self
    }

    /// Compiles the module into a linkable object, archives it and (in a build script) tells
    /// cargo to link it and to rerun when the input changes.
    pub fn compile(mut self) -> Result<Compiled, Error> {
        if !precast_compiler::format::linked::valid_name(&self.name) {
            return Err(Error::LinkName(self.name));
        }
        static NAMES: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
        {
            let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
            let key = (self.out_dir.clone().unwrap_or_default(), self.name.clone());
            if names.contains(&key) {
                return Err(Error::DuplicateName(self.name));
            }
            names.push(key);
        }
        let env = |key: &'static str| std::env::var(key).map_err(|_| Error::NotBuildScript(key));
        if self.emit_cargo {
            println!("cargo:rerun-if-changed={}", self.input.display());
        }
        if let Ok(target) = std::env::var("TARGET") {
            if precast_compiler::cpus::target(&target).is_none() {
                let supported: Vec<&str> =
                    precast_compiler::TARGETS.iter().map(|t| t.triple).collect();
                return Err(Error::Target {
                    name: self.name,
                    target,
                    supported: supported.join(", "),
                });
            }
            self.config.target = target;
        }
        let dir = match self.out_dir {
            Some(d) => d,
            None => PathBuf::from(env("OUT_DIR")?).join("precast"),
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| Error::Io { path, error }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let wasm = std::fs::read(&self.input).map_err(io(&self.input))?;
        let mut config = Config {
            link_name: Some(self.name.clone()),
            ..self.config
        };
        if let Some(key) = &self.key_file {
            if self.emit_cargo {
                println!("cargo:rerun-if-changed={}", key.display());
            }
            let key = precast_compiler::signing::read_key(key).map_err(|error| Error::Compile {
                name: self.name.clone(),
                path: key.clone(),
                error,
            })?;
            config.signing_key = Some(key);
        }
        let object = precast_compiler::compile(&wasm, &config).map_err(|error| Error::Compile {
            name: self.name.clone(),
            path: self.input.clone(),
            error,
        })?;
        let lib = format!("precast_{}", self.name);
        let object_path = dir.join(format!("{lib}.o"));
        std::fs::write(&object_path, &object).map_err(io(&object_path))?;
        let archive_path = dir.join(format!("lib{lib}.a"));
        let archive = archive(&object, &format!("{lib}.o")).map_err(io(&archive_path))?;
        write_if_changed(&archive_path, &archive).map_err(io(&archive_path))?;
        if self.emit_cargo {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static={lib}");
        }
        Ok(Compiled {
            symbol: precast_compiler::format::linked::symbol(&self.name),
            object: object_path,
            archive: archive_path,
            object_size: object.len() as u64,
        })
    }
}

/// A GNU archive (with its symbol index, which `ld` requires) holding one object.
fn archive(object: &[u8], member: &str) -> std::io::Result<Vec<u8>> {
    let members = [ar_archive_writer::NewArchiveMember::new(
        object,
        &ar_archive_writer::DEFAULT_OBJECT_READER,
        member.to_string(),
    )];
    let mut out = std::io::Cursor::new(Vec::new());
    ar_archive_writer::write_archive_to_stream(
        &mut out,
        &members,
        ar_archive_writer::ArchiveKind::Gnu,
        false,
        None,
    )?;
    Ok(out.into_inner())
}

/// Writes `bytes` unless the file already holds them (so an unchanged module does not
/// make cargo relink).
fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_name_is_refused() {
        let e = Module::new("not-a-name", "x.wat")
            .emit_cargo_lines(false)
            .compile()
            .unwrap_err();
        assert!(matches!(e, Error::LinkName(n) if n == "not-a-name"));
    }

    #[test]
    fn compile_error_names_the_input() {
        let dir = std::env::temp_dir().join(format!("precast-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("bad.wat");
        std::fs::write(&input, "(module (func (result i32)))").unwrap();
        let e = Module::new("bad", &input)
            .out_dir(&dir)
            .emit_cargo_lines(false)
            .compile()
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("bad.wat") && msg.contains("invalid wasm"),
            "{msg}"
        );
        let ok = dir.join("ok.wat");
        std::fs::write(&ok, "(module (func (export \"f\")))").unwrap();
        let c = Module::new("ok", &ok)
            .out_dir(&dir)
            .emit_cargo_lines(false)
            .compile()
            .unwrap();
        let again = Module::new("ok", &ok).out_dir(&dir).emit_cargo_lines(false);
        assert!(matches!(again.compile(), Err(Error::DuplicateName(n)) if n == "ok"));
        let ar = std::fs::read(&c.archive).unwrap();
        assert!(ar.starts_with(b"!<arch>\n"));
        // The symbol index names the descriptor, so `ld` pulls the member in.
        assert!(ar.windows(c.symbol.len()).any(|w| w == c.symbol.as_bytes()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
