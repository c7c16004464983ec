//! The `precast` command line: compile wasm ahead of time, run modules or artifacts, inspect
//! artifacts.

mod inspect;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use precast_compiler::{Config, CpuTarget};
use precast_format::header::BoundsChecks;
use precast_loader::{Engine, Module};
use std::path::PathBuf;
use std::process::ExitCode;

/// Precast: an ahead-of-time WebAssembly toolchain.
#[derive(Parser)]
#[command(name = "precast", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Bounds {
    /// Guard pages and a signal handler (no explicit checks for 32-bit memories).
    Guard,
    /// An explicit check on every access.
    Explicit,
}

#[derive(clap::Args)]
struct CompileOpts {
    /// CPU features the code may use: native (this machine's), baseline (x86-64-v2 / plain
    /// aarch64), or the baseline plus a feature list such as +avx2,+bmi2.
    #[arg(long, default_value = "native")]
    cpu: CpuTarget,
    /// Bounds-check strategy for linear memory.
    #[arg(long, value_enum, default_value = "guard")]
    bounds_checks: Bounds,
    /// Cranelift optimization level: none, speed, speed_and_size.
    #[arg(long, default_value = "speed")]
    opt_level: String,
}

impl CompileOpts {
    fn config(&self) -> Config {
        let mut c = Config {
            cpu: self.cpu.clone(),
            opt_level: self.opt_level.clone(),
            verify: false,
            ..Config::default()
        };
        if let Bounds::Explicit = self.bounds_checks {
            c.settings.bounds_checks = BoundsChecks::Explicit;
        }
        c
    }
}

#[derive(Subcommand)]
enum Command {
    /// Compile a .wasm or .wat module into an artifact.
    Compile {
        /// Input module (.wasm or .wat).
        input: PathBuf,
        /// Output artifact.
        #[arg(short, long)]
        output: PathBuf,
        /// Write a linkable object for the system linker, exporting the one global symbol
        /// `precast_module_NAME` (NAME: a C identifier); load it with
        /// `Module::from_linked(&engine, linked!(NAME))`.
        #[arg(long, value_name = "NAME")]
        link_name: Option<String>,
        #[command(flatten)]
        opts: CompileOpts,
    },
    /// Run a module (.wasm/.wat, compiled in memory) or an artifact, with WASI if it
    /// imports it.
    Run {
        /// Module or artifact.
        file: PathBuf,
        #[command(flatten)]
        opts: CompileOpts,
        #[command(flatten)]
        run: precast_run::RunArgs,
    },
    /// Print an artifact's header, sections, imports and exports.
    Inspect {
        /// The artifact.
        artifact: PathBuf,
    },
}

fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

fn main() -> ExitCode {
    match real_main() {
        Ok(status) => precast_run::exit_code(status),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; returns the exit status (a WASI program's `proc_exit` code).
fn real_main() -> Result<i32> {
    match Cli::parse().command {
        Command::Compile {
            input,
            output,
            link_name,
            opts,
        } => {
            let config = Config {
                link_name,
                ..opts.config()
            };
            precast_compiler::compile_file(&input, &output, &config)?;
            Ok(0)
        }
        Command::Run { file, opts, run } => {
            let call = run.invocation(&file);
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let engine = Engine::default();
            let module = if is_artifact(&bytes) {
                Module::from_file(&engine, &file)
            } else {
                let artifact = precast_compiler::compile(&bytes, &opts.config())
                    .with_context(|| format!("cannot compile {}", file.display()))?;
                Module::from_bytes(&engine, &artifact)
            }
            .with_context(|| format!("cannot load {}", file.display()))?;
            precast_run::run_loaded(&engine, &module, &call)
        }
        Command::Inspect { artifact } => inspect::print(&artifact).map(|()| 0),
    }
}
