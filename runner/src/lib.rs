//! Running a loaded module from the command line: choosing the export, parsing arguments,
//! setting up WASI, printing results. Shared by the deploy-side `precast-run` and by
//! `precast run`, which take the same flags ([`RunArgs`]).

use anyhow::{Context, Result, anyhow, bail};
use precast_format::module::{ExternKind, ValType};
use precast_loader::TrapCode;
use precast_loader::{
    Config, Engine, Error, Extern, LimitExceeded, Linker, Module, Profiler, Store, StoreLimits,
    TrustedKey, Val,
};
use precast_wasi::{self as wasi, WasiCtx, WasiCtxBuilder};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to invoke and with which arguments.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    /// Export to call; `_start` (then `main`) when absent.
    pub invoke: Option<String>,
    /// Arguments as written on the command line: the function's with `--invoke` (or for a
    /// module without WASI), else the WASI program's (`argv[1..]`).
    pub args: Vec<String>,
    /// The program name the guest sees as `argv[0]`.
    pub program: String,
    /// Preopened directories, `HOST[::GUEST]` (the guest name defaults to `HOST`).
    pub dirs: Vec<String>,
    /// Environment variables, `K=V` (a bare `K` takes the host's value).
    pub env: Vec<String>,
    /// Satisfy function imports nothing else defines with functions returning zeros.
    pub default_unknown_imports: bool,
    /// Stop the program after this long (epoch interruption).
    pub timeout: Option<Duration>,
    /// Stop the program once it used this much fuel.
    pub fuel: Option<u64>,
    /// Bytes each linear memory may grow to.
    pub max_memory: Option<u64>,
    /// Growth beyond `max_memory` traps instead of failing (-1).
    pub trap_on_grow_failure: bool,
}

/// How both runners load an artifact: `[--trust KEY.pub]... [--unchecked]`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LoadArgs {
    /// Only run artifacts signed by this ed25519 public key (PEM, as `precast keygen`
    /// writes to KEY.pub); repeat to trust several. Unsigned, untrusted and invalid
    /// signatures are refused.
    #[arg(long = "trust", value_name = "KEY.pub")]
    pub trust: Vec<PathBuf>,
    /// Skip the checksum over the artifact's code and data (faster load of a large
    /// artifact, which must then be exactly what `precast compile` wrote: corrupted code
    /// would run). Every other check, and the signature check of --trust, still happens.
    #[arg(long)]
    pub unchecked: bool,
    /// Install no signal handlers: traps are then raised only by calls into the runtime, so
    /// only artifacts compiled with `precast compile --no-signals` load (others are refused
    /// with the reason).
    #[arg(long)]
    pub no_signal_handlers: bool,
    /// Describe the loaded code to a profiler: `perfmap` appends its functions to
    /// `/tmp/perf-PID.map`, which `perf report` reads (for code no mapped file names);
    /// `jitdump` writes their code to `/tmp/jit-PID.dump` for `perf inject --jit` (record
    /// with `perf record -k mono`).
    #[arg(long, value_enum, value_name = "KIND")]
    pub profile: Option<Profile>,
    /// Announce the loaded code to debuggers (gdb, lldb) through the GDB JIT interface:
    /// breakpoints on wasm functions and offsets, and backtraces through them, work as for
    /// native code.
    #[arg(long)]
    pub debugger: bool,
    /// The most address space a 64-bit memory (memory64) reserves, and so the most it can
    /// grow to below its maximum: 64G by default (addresses only; pages are committed as it
    /// grows). Examples: 16G, 1024G.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory64_reservation: Option<u64>,
}

/// Profilers `--profile` can describe the loaded code to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// `/tmp/perf-PID.map` for `perf report`.
    Perfmap,
    /// `/tmp/jit-PID.dump` for `perf inject --jit`.
    Jitdump,
}

impl LoadArgs {
    /// The engine for running `call`: default settings, plus the trusted keys,
    /// `--no-signal-handlers`, and epoch interruption and fuel when `call` has a timeout or
    /// a fuel budget (the artifact must then be compiled with them, and only then).
    pub fn engine(&self, call: &Invocation) -> Result<Engine> {
        let mut config = Config::default();
        config
            .signal_handlers(!self.no_signal_handlers)
            .epoch_interruption(call.timeout.is_some())
            .consume_fuel(call.fuel.is_some());
        config.profiler(match self.profile {
            None => Profiler::None,
            Some(Profile::Perfmap) => Profiler::PerfMap,
            Some(Profile::Jitdump) => Profiler::JitDump,
        });
        config.debugger(self.debugger);
        if let Some(bytes) = self.memory64_reservation {
            config.memory64_reservation(bytes);
        }
        if let Some(bytes) = call.max_memory {
            config.limits(
                StoreLimits::new()
                    .memory_size(bytes)
                    .trap_on_grow_failure(call.trap_on_grow_failure),
            );
        }
        for path in &self.trust {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("--trust {}", path.display()))?;
            let key = TrustedKey::from_pem(&pem)
                .map_err(|e| anyhow!("--trust {}: {e}", path.display()))?;
            config.trust(key);
        }
        Ok(Engine::new(&config))
    }

    /// Loads the artifact file at `path`: fully verified, or with `--unchecked` without the
    /// checksum over code and data.
    pub fn load(&self, engine: &Engine, path: &Path) -> Result<Module> {
        let module = if self.unchecked {
            // SAFETY: the user vouched for the artifact's integrity with `--unchecked`
            // (documented as running corrupted code as it is).
            unsafe { Module::from_file_unchecked(engine, path) }
        } else {
            Module::from_file(engine, path)
        };
        module.with_context(|| format!("cannot load {}", path.display()))
    }
}

/// The exit status for an error: 124 when `--timeout` stopped the program (as `timeout(1)`),
/// 125 when it ran out of `--fuel`, 137 when it failed after `--max-memory` refused it
/// memory (128 + SIGKILL, as a process the kernel's OOM killer stopped), 134 for any other
/// wasm trap (as Wasmtime's command line, 128 + SIGABRT, so that scripts treat both alike),
/// 1 for anything else.
pub fn error_status(e: &anyhow::Error) -> u8 {
    let limit = e.downcast_ref::<LimitReached>().is_some()
        || e.chain()
            .any(|c| matches!(c.downcast_ref::<Error>(), Some(Error::Limit(_))));
    if limit {
        return 137;
    }
    let trap = e.chain().find_map(|c| match c.downcast_ref::<Error>() {
        Some(Error::Trap(t)) => Some(t.code()),
        _ => None,
    });
    match trap {
        Some(TrapCode::Interrupt) => 124,
        Some(TrapCode::OutOfFuel) => 125,
        Some(_) => 134,
        None => 1,
    }
}

/// Parses a duration: a number with a unit, `ms`, `s`, `m` or `h` (`500ms`, `2s`, `1.5m`;
/// seconds without one).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (examples: 500ms, 2s, 1.5m)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit `{other}` (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{s}`: {e}"))
}

/// Parses a size in bytes: a number with an optional `K`, `M` or `G` suffix (KiB, MiB, GiB;
/// `64M`, `1G`, `65536`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (number, shift) = match t.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&t[..t.len() - 1], 10),
        Some(b'M') => (&t[..t.len() - 1], 20),
        Some(b'G') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size in bytes (examples: 65536, 64K, 16M, 1G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// The run flags both runners accept:
/// `[--invoke NAME] [--dir HOST[::GUEST]]... [--env K=V]... [-- ARGS...]`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RunArgs {
    /// The exported function to call (default: `_start`, else `main`).
    #[arg(long)]
    pub invoke: Option<String>,
    /// Preopen host directory HOST for WASI, named GUEST in the guest (default: HOST).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Set a WASI environment variable (a bare K copies the host's value).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Define function imports nothing else provides (e.g. sightglass's `bench.start` and
    /// `bench.end`) as functions that return zeros.
    #[arg(long)]
    pub default_values_unknown_imports: bool,
    /// Stop the program after DURATION (500ms, 2s, 1.5m; exit status 124). An artifact
    /// must be compiled with `precast compile --epoch-interruption` for this (`precast run`
    /// compiles a .wasm so by itself).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Stop the program once it executed N units of fuel (about one per wasm operator; exit
    /// status 125). An artifact must be compiled with `precast compile --consume-fuel` for
    /// this (`precast run` compiles a .wasm so by itself).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Let each linear memory grow to at most BYTES (a number, with an optional K, M or G
    /// suffix for KiB, MiB, GiB): `memory.grow` beyond returns -1, and a program that fails
    /// after that reports the limit (exit status 137).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_memory: Option<u64>,
    /// With --max-memory: growth beyond the limit traps at once instead of returning -1.
    #[arg(long, requires = "max_memory")]
    pub trap_on_grow_failure: bool,
    /// Arguments: the WASI program's (after its name), or the function's with --invoke.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

impl RunArgs {
    /// The invocation for running `file`, whose file name becomes `argv[0]`.
    pub fn invocation(&self, file: &Path) -> Invocation {
        Invocation {
            invoke: self.invoke.clone(),
            args: self.args.clone(),
            program: file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.to_string_lossy().into_owned()),
            dirs: self.dirs.clone(),
            env: self.env.clone(),
            default_unknown_imports: self.default_values_unknown_imports,
            timeout: self.timeout,
            fuel: self.fuel,
            max_memory: self.max_memory,
            trap_on_grow_failure: self.trap_on_grow_failure,
        }
    }
}

/// The WASI context for `call`: its arguments, environment and directories, with the
/// host's stdio.
pub fn wasi_ctx(call: &Invocation) -> Result<WasiCtx> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdio().arg(&call.program);
    if call.invoke.is_none() {
        b.args(&call.args);
    }
    for var in &call.env {
        match var.split_once('=') {
            Some((k, v)) => b.env(k, v),
            None => match std::env::var_os(var) {
                Some(v) => b.env(var, v.as_encoded_bytes()),
                None => bail!("--env {var}: no such variable in the host environment"),
            },
        };
    }
    for dir in &call.dirs {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        b.preopened_dir(host, guest)
            .with_context(|| format!("--dir {dir}"))?;
    }
    Ok(b.build())
}

/// Parses a command-line argument as a value of type `ty`.
pub fn parse_val(ty: ValType, s: &str) -> Result<Val> {
    let int = |s: &str| -> Result<i128> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        let v = match digits.strip_prefix("0x") {
            Some(h) => i128::from_str_radix(h, 16),
            None => digits.parse(),
        }
        .with_context(|| format!("`{s}` is not an integer"))?;
        Ok(if neg { -v } else { v })
    };
    Ok(match ty {
        ValType::I32 => {
            let v = int(s)?;
            if v < i128::from(i32::MIN) || v > i128::from(u32::MAX) {
                bail!("`{s}` does not fit in i32");
            }
            Val::I32(v as i32)
        }
        ValType::I64 => {
            let v = int(s)?;
            if v < i128::from(i64::MIN) || v > i128::from(u64::MAX) {
                bail!("`{s}` does not fit in i64");
            }
            Val::I64(v as i64)
        }
        ValType::F32 => Val::F32(
            s.parse::<f32>()
                .with_context(|| format!("`{s}` is not an f32"))?
                .to_bits(),
        ),
        ValType::F64 => Val::F64(
            s.parse::<f64>()
                .with_context(|| format!("`{s}` is not an f64"))?
                .to_bits(),
        ),
        ValType::V128 => Val::V128(int(s)? as u128),
        ValType::Ref(_) => bail!("reference arguments cannot be given on the command line"),
    })
}

/// Formats a result for printing.
pub fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".into(),
        Val::FuncRef(Some(_)) => "funcref".into(),
        Val::ExternRef(Some(x)) => format!("externref({x})"),
    }
}

/// Instantiates `module` with `linker` and calls the chosen export, returning its results.
pub fn invoke<T: 'static>(
    store: &mut Store<T>,
    linker: &Linker<T>,
    module: &Module,
    call: &Invocation,
) -> Result<Vec<Val>> {
    let instance = linker.instantiate(&mut *store, module)?;
    let name = match &call.invoke {
        Some(n) => n.clone(),
        None => ["_start", "main"]
            .into_iter()
            .find(|n| {
                module
                    .info()
                    .export(n)
                    .is_some_and(|e| e.kind == ExternKind::Func)
            })
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow!("the module exports no `_start`; name a function with --invoke")
            })?,
    };
    let func = match instance.get_export(&*store, &name) {
        Some(Extern::Func(f)) => f,
        Some(_) => bail!("export `{name}` is not a function"),
        None => bail!("the module has no export `{name}`"),
    };
    let ty = func.ty(&*store)?;
    if ty.params.len() != call.args.len() {
        bail!(
            "`{name}` takes {} arguments, {} given",
            ty.params.len(),
            call.args.len()
        );
    }
    let args = ty
        .params
        .iter()
        .zip(&call.args)
        .map(|(t, s)| parse_val(*t, s))
        .collect::<Result<Vec<_>>>()?;
    let mut results: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
    func.call(&mut *store, &args, &mut results)?;
    Ok(results)
}

/// Loads the artifact at `path` as `load` says and runs it (see [`run_loaded`]).
pub fn run_artifact(path: &Path, load: &LoadArgs, call: &Invocation) -> Result<i32> {
    let engine = load.engine(call)?;
    let module = load.load(&engine, path)?;
    run_loaded(&engine, &module, call)
}

/// Runs a loaded module, printing the results one per line, and returns the exit status:
/// 0, or the code the program passed to WASI `proc_exit`. A module that imports
/// `wasi_snapshot_preview1` gets WASI (arguments, environment, `--dir` preopens, the
/// host's stdio); one that does not gets no imports.
pub fn run_loaded(engine: &Engine, module: &Module, call: &Invocation) -> Result<i32> {
    run_contained(engine, module, call).map_err(|e| explain_stop(e, call))
}

/// The run of [`run_loaded`], with the time, fuel and memory limits applied.
fn run_contained(engine: &Engine, module: &Module, call: &Invocation) -> Result<i32> {
    if wasi::imports_wasi(module) {
        let mut store = Store::new(engine, wasi_ctx(call)?);
        contain(&mut store, call)?;
        let mut linker = Linker::new(engine);
        wasi::add_to_linker(&mut linker, |cx| cx)?;
        if call.default_unknown_imports {
            linker.define_unknown_imports_as_default_values(module)?;
        }
        let mut call = call.clone();
        if call.invoke.is_none() {
            call.args.clear();
        }
        let outcome = match invoke(&mut store, &linker, module, &call) {
            Ok(results) => print_results(&results),
            Err(e) => match e.downcast_ref::<Error>() {
                Some(Error::Exit(code)) => Ok(*code),
                _ => Err(e),
            },
        };
        blame_limit(store.limits().exceeded(), outcome)
    } else {
        let mut store = Store::new(engine, ());
        contain(&mut store, call)?;
        let mut linker = Linker::new(engine);
        if call.default_unknown_imports {
            linker.define_unknown_imports_as_default_values(module)?;
        }
        let outcome = invoke(&mut store, &linker, module, call).and_then(|r| print_results(&r));
        blame_limit(store.limits().exceeded(), outcome)
    }
}

fn print_results(results: &[Val]) -> Result<i32> {
    for v in results {
        println!("{}", format_val(v));
    }
    Ok(0)
}

/// A program that failed (trapped, or exited with a non-zero status) after a memory limit
/// refused it memory: the failure, with the limit named.
#[derive(Debug)]
struct LimitReached {
    hit: LimitExceeded,
    exit: Option<i32>,
}

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.exit {
            Some(code) => write!(
                f,
                "the program exited with status {code} after --max-memory: "
            )?,
            None => write!(f, "the program failed after --max-memory: ")?,
        }
        write!(f, "{}", self.hit)
    }
}

impl std::error::Error for LimitReached {}

/// `outcome`, blamed on the limit `hit` when the program failed after reaching it.
fn blame_limit(hit: Option<LimitExceeded>, outcome: Result<i32>) -> Result<i32> {
    let Some(hit) = hit else { return outcome };
    match outcome {
        Ok(0) => Ok(0),
        Ok(code) => Err(LimitReached {
            hit,
            exit: Some(code),
        }
        .into()),
        Err(e) if error_status(&e) == 137 => Err(e),
        Err(e) => Err(e.context(LimitReached { hit, exit: None })),
    }
}

/// Applies `call`'s limits to `store`: the fuel, and a deadline one epoch away that a timer
/// thread reaches after the timeout (the thread is left to the end of the process).
fn contain<T>(store: &mut Store<T>, call: &Invocation) -> Result<()> {
    if let Some(fuel) = call.fuel {
        store.set_fuel(fuel)?;
    }
    if let Some(timeout) = call.timeout {
        store.set_epoch_deadline(1);
        let engine = store.engine().clone();
        std::thread::Builder::new()
            .name("precast-timeout".into())
            .spawn(move || {
                std::thread::sleep(timeout);
                engine.increment_epoch();
            })
            .context("cannot start the --timeout timer")?;
    }
    Ok(())
}

/// `e`, with the limit named when one stopped the program.
fn explain_stop(e: anyhow::Error, call: &Invocation) -> anyhow::Error {
    match error_status(&e) {
        124 => {
            let t = call.timeout.unwrap_or_default();
            e.context(format!("the program ran longer than --timeout {t:?}"))
        }
        125 => {
            let fuel = call.fuel.unwrap_or_default();
            e.context(format!("the program used all of --fuel {fuel}"))
        }
        137 if e.downcast_ref::<LimitReached>().is_none() => {
            let bytes = call.max_memory.unwrap_or_default();
            e.context(format!("the program went over --max-memory {bytes}"))
        }
        _ => e,
    }
}

/// The process exit code for a run's status (the low 8 bits, as on Unix).
pub fn exit_code(status: i32) -> std::process::ExitCode {
    std::process::ExitCode::from(status as u8)
}
