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
    /// CPU the code may assume: native (this machine's; the default for the host target),
    /// baseline (the target's portable baseline; the default for other targets), a named CPU
    /// (x86-64-v3, cortex-a76, rva23u64; `precast targets` lists them), and/or features
    /// added to it (+avx2,+bmi2 / +lse / +v,+zba).
    #[arg(long)]
    cpu: Option<CpuTarget>,
    /// Bounds-check strategy for linear memory.
    #[arg(long, value_enum, default_value = "guard")]
    bounds_checks: Bounds,
    /// Cranelift optimization level: none, speed, speed_and_size.
    #[arg(long, default_value = "speed")]
    opt_level: String,
}

impl CompileOpts {
    fn config(&self, target: Option<&str>) -> Config {
        let target = target.map_or_else(precast_compiler::host_target, str::to_string);
        let cpu = self.cpu.clone().unwrap_or_else(|| {
            if target == precast_compiler::host_target() {
                CpuTarget::Native
            } else {
                CpuTarget::Baseline
            }
        });
        let mut c = Config {
            cpu,
            target,
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
        /// Target triple: x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu or
        /// riscv64gc-unknown-linux-gnu (default: this machine's).
        #[arg(long, value_name = "TRIPLE")]
        target: Option<String>,
        #[command(flatten)]
        opts: CompileOpts,
    },
    /// List the targets, their baselines, named CPUs and CPU features.
    Targets,
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

fn print_targets() {
    let host = precast_compiler::host_target();
    for t in precast_compiler::TARGETS {
        let (arch, _) = precast_format::header::arch_and_os(&host);
        let here = if t.arch == precast_format::header::normalize_arch(arch) {
            " (this machine)"
        } else {
            ""
        };
        println!("{}{here}", t.triple);
        println!("  baseline: {}", t.baseline);
        println!("  cpus:     {}", precast_compiler::cpus::cpu_names(t.arch));
        let features: Vec<&str> = precast_format::CpuFeatures::names_of_arch(t.arch).collect();
        println!("  features: {}", features.join(", "));
    }
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
            target,
            opts,
        } => {
            let config = Config {
                link_name,
                ..opts.config(target.as_deref())
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
                let artifact = precast_compiler::compile(&bytes, &opts.config(None))
                    .with_context(|| format!("cannot compile {}", file.display()))?;
                Module::from_bytes(&engine, &artifact)
            }
            .with_context(|| format!("cannot load {}", file.display()))?;
            precast_run::run_loaded(&engine, &module, &call)
        }
        Command::Inspect { artifact } => inspect::print(&artifact).map(|()| 0),
        Command::Targets => {
            print_targets();
            Ok(0)
        }
    }
}
