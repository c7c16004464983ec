//! The `precast` command line: compile wasm ahead of time, run modules or artifacts, inspect
//! artifacts.

mod inspect;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use precast_compiler::{CodePlacement, Config, CpuTarget};
use precast_format::header::BoundsChecks;
use precast_loader::Module;
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
    /// Bounds-check strategy for linear memory [default: guard; explicit with --no-signals].
    #[arg(long, value_enum)]
    bounds_checks: Option<Bounds>,
    /// Compile for a runtime without signal handlers (embedded targets, `precast-run
    /// --no-signal-handlers`): no trap depends on a fault or an illegal instruction. Every
    /// trap condition is tested and raised by a call into the runtime, division and
    /// float-to-int conversion are guarded, stack overflow is checked in every function, and
    /// memory bases are reloaded after calls (a memory may move when it grows). Needs
    /// explicit bounds checks (the default with this flag); the artifact also runs where
    /// handlers are installed.
    #[arg(long)]
    no_signals: bool,
    /// Cranelift optimization level: none, speed, speed_and_size.
    #[arg(long, default_value = "speed")]
    opt_level: String,
    /// Compile without Spectre mitigations: explicitly bounds-checked memory and table
    /// accesses are then not guarded against speculation past their check (recorded in the
    /// header; a loader can refuse such artifacts).
    #[arg(long)]
    no_spectre_mitigations: bool,
    /// Compile in epoch interruption: function entries and loop headers check the engine's
    /// epoch against the store's deadline (`Engine::increment_epoch`,
    /// `Store::set_epoch_deadline`; `precast-run --timeout`). The engine must enable it too.
    #[arg(long)]
    epoch_interruption: bool,
    /// How epoch checks learn of the deadline: `signal` (no checks in function bodies: the
    /// engine signals the thread running a store whose deadline it reached, and a dead load
    /// from a page it makes unreadable sits where control comes back into wasm from the host
    /// or a builtin; x86_64), `fault` (that dead load at function entries and loop headers;
    /// x86_64 and aarch64; both with signal-based traps and without fuel) or `compare` (load
    /// the epoch and compare with the deadline; every target). Each falls back to the next
    /// where it does not apply.
    #[arg(long, value_enum, default_value = "signal")]
    epoch_check: EpochCheck,
    /// Compile in fuel consumption: every operator costs fuel, and a store out of fuel traps
    /// (`Store::set_fuel`; `precast-run --fuel`). The engine must enable it too.
    #[arg(long)]
    consume_fuel: bool,
    /// Where functions start in `.text`: `loops` (a function with small innermost loops
    /// starts where they cross the fewest 32- and 64-byte fetch boundaries) or `aligned`
    /// (every function at the target's preferred alignment, as Wasmtime).
    #[arg(long, default_value = "loops")]
    code_placement: CodePlacement,
    /// Bytes of padding before the first function, moving all code: to measure how much
    /// speed depends on where code lands.
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    placement_shift: u32,
    /// Leave out the native DWARF (line table of wasm offsets, function names and ranges)
    /// that debuggers and profilers read: 12-18% smaller artifacts; symbols and unwind
    /// tables stay.
    #[arg(long)]
    no_debug_info: bool,
    /// Translate the module's own DWARF (C, C++, Rust, Zig compiled to wasm with `-g`): the
    /// native line table maps instructions to source files and lines, so `break file.c:LINE`
    /// and backtraces with source lines work.
    #[arg(short = 'g', long = "debug")]
    wasm_debug_info: bool,
    /// Do not inline calls of the module's small functions into their callers (inlining is
    /// on by default; trap backtraces leave out inlined frames).
    #[arg(long)]
    no_inline: bool,
    /// The largest function inlined, in Cranelift IR instructions of its body (with its own
    /// callees inlined); 0 inlines nothing.
    #[arg(long, value_name = "INSTRUCTIONS", default_value_t = precast_compiler::DEFAULT_INLINE_THRESHOLD)]
    inline_threshold: u32,
}

/// `--epoch-check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum EpochCheck {
    Signal,
    Fault,
    Compare,
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
            code_placement: self.code_placement,
            placement_shift: self.placement_shift,
            debug_info: !self.no_debug_info,
            wasm_debug_info: self.wasm_debug_info,
            inlining: !self.no_inline,
            inline_threshold: self.inline_threshold,
            ..Config::default()
        };
        let bounds = self.bounds_checks.unwrap_or(if self.no_signals {
            Bounds::Explicit
        } else {
            Bounds::Guard
        });
        if let Bounds::Explicit = bounds {
            c.settings.bounds_checks = BoundsChecks::Explicit;
        }
        // `--bounds-checks guard --no-signals` is refused by the compiler, with the reason.
        c.settings.signals_based_traps = !self.no_signals;
        c.settings.spectre_mitigations = !self.no_spectre_mitigations;
        c.settings.epoch_interruption = self.epoch_interruption;
        c.settings.epoch_probe = self.epoch_check != EpochCheck::Compare;
        c.settings.epoch_signal = self.epoch_check == EpochCheck::Signal;
        c.settings.consume_fuel = self.consume_fuel;
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
        /// Sign the artifact with this ed25519 private key (PEM, from `precast keygen`).
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
        #[command(flatten)]
        opts: CompileOpts,
    },
    /// Generate an ed25519 key pair for signing artifacts: KEY (private, PKCS#8 PEM, mode
    /// 0600) and KEY.pub (public, for `precast-run --trust KEY.pub`).
    Keygen {
        /// Where to write the private key (KEY.pub is written beside it).
        #[arg(short, long, value_name = "KEY")]
        output: PathBuf,
    },
    /// Sign an artifact or linkable object (in place, or into --output), replacing any
    /// earlier signature.
    Sign {
        /// The artifact.
        artifact: PathBuf,
        /// The ed25519 private key (PEM, from `precast keygen`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Write the signed artifact here instead of in place.
        #[arg(short, long)]
        output: Option<PathBuf>,
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
        load: precast_run::LoadArgs,
        #[command(flatten)]
        run: precast_run::RunArgs,
    },
    /// Print the Cranelift IR of a module's defined functions (what the translator produces,
    /// or with --optimized what Cranelift lowers after its mid-end).
    Clif {
        /// Input module (.wasm or .wat).
        input: PathBuf,
        /// Only the function with this index (in the function index space, imports first).
        #[arg(long, value_name = "INDEX")]
        func: Option<u32>,
        /// After Cranelift's mid-end optimizations.
        #[arg(long)]
        optimized: bool,
        /// Target triple to translate for (the host's by default).
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        opts: CompileOpts,
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

/// For the commands that only print: a closed pipe ends the process quietly, as it does
/// for other Unix tools (`precast inspect A | head`), instead of a failed print. `run` keeps
/// Rust's default (ignored), so a guest's write to a closed pipe is an `EPIPE` for it.
fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
            ExitCode::from(precast_run::error_status(&e))
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
            sign,
            opts,
        } => {
            let signing_key = sign.map(precast_compiler::signing::read_key).transpose()?;
            let config = Config {
                link_name,
                signing_key,
                ..opts.config(target.as_deref())
            };
            precast_compiler::compile_file(&input, &output, &config)?;
            Ok(0)
        }
        Command::Keygen { output } => {
            let key = precast_compiler::signing::generate_key()?;
            let public = precast_compiler::signing::write_key_pair(&key, &output)?;
            println!(
                "wrote {} and {} (key {})",
                output.display(),
                public.display(),
                precast_format::signature::fingerprint(key.verifying_key().as_bytes())
            );
            Ok(0)
        }
        Command::Sign {
            artifact,
            key,
            output,
        } => {
            let key = precast_compiler::signing::read_key(&key)?;
            precast_compiler::sign_file(&artifact, output.as_deref(), &key)?;
            Ok(0)
        }
        Command::Run {
            file,
            opts,
            load,
            run,
        } => {
            let call = run.invocation(&file);
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let engine = load.engine(&call)?;
            let module = if is_artifact(&bytes) {
                load.load(&engine, &file)?
            } else {
                // Compiled with the checks the limits need, as the engine expects.
                if opts.epoch_interruption && call.timeout.is_none()
                    || opts.consume_fuel && call.fuel.is_none()
                {
                    anyhow::bail!(
                        "`precast run` compiles in epoch interruption with --timeout and fuel \
                         with --fuel; give those instead of --epoch-interruption/--consume-fuel"
                    );
                }
                let mut config = opts.config(None);
                config.settings.epoch_interruption = call.timeout.is_some();
                config.settings.consume_fuel = call.fuel.is_some();
                let artifact = precast_compiler::compile(&bytes, &config)
                    .with_context(|| format!("cannot compile {}", file.display()))?;
                Module::from_bytes(&engine, &artifact)
                    .with_context(|| format!("cannot load {}", file.display()))?
            };
            precast_run::run_loaded(&engine, &module, &call)
        }
        Command::Clif {
            input,
            func,
            optimized,
            target,
            opts,
        } => {
            default_sigpipe();
            let wasm = std::fs::read(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let funcs = precast_compiler::clif(&wasm, &opts.config(target.as_deref()), optimized)
                .with_context(|| format!("cannot translate {}", input.display()))?;
            let mut printed = false;
            for (index, text) in funcs {
                if func.is_none_or(|f| f == index) {
                    println!(";; function {index}\n{text}");
                    printed = true;
                }
            }
            if let (Some(f), false) = (func, printed) {
                anyhow::bail!("{} defines no function {f}", input.display());
            }
            Ok(0)
        }
        Command::Inspect { artifact } => {
            default_sigpipe();
            inspect::print(&artifact).map(|()| 0)
        }
        Command::Targets => {
            default_sigpipe();
            print_targets();
            Ok(0)
        }
    }
}
