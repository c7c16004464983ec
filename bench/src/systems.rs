//! The two systems under test behind one interface: Precast and Wasmtime 48.

use crate::stats::{Summary, time_runs};
use crate::workloads::Workload;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::{Duration, Instant};

/// Precast's inlining threshold (`--inline-threshold`, 0 with `--no-inline`; the compiler's
/// default otherwise).
pub static PRECAST_INLINE_THRESHOLD: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Precast's code placement (`--code-placement`; the compiler's default otherwise).
pub static PRECAST_PLACEMENT: std::sync::OnceLock<precast_compiler::CodePlacement> =
    std::sync::OnceLock::new();

/// Which system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// Precast: precast-compiler + precast-loader.
    Precast,
    /// Wasmtime 48 as a library (`Engine::precompile_module` / `Module::deserialize_file`).
    Wasmtime,
}

/// Interruption checks compiled into an artifact (and enabled in the engine that runs it):
/// the execution-time cost of bounding a guest's time. The store is given a deadline or an
/// amount of fuel that is never reached, so only the checks are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Checks {
    /// No checks: the plain build every other figure measures.
    None,
    /// Epoch interruption: function entries and loop headers compare the engine's epoch with
    /// the store's deadline (Precast `Config::epoch_interruption`, Wasmtime
    /// `Config::epoch_interruption`).
    Epoch,
    /// Fuel: every operator is counted, function entries and loop headers check the count
    /// (Precast `Config::consume_fuel`, Wasmtime `Config::consume_fuel`).
    Fuel,
}

impl Checks {
    /// Every variant, plain first.
    pub const ALL: [Checks; 3] = [Checks::None, Checks::Epoch, Checks::Fuel];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Checks::None => "none",
            Checks::Epoch => "epoch",
            Checks::Fuel => "fuel",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Checks> {
        match s {
            "none" => Ok(Checks::None),
            "epoch" => Ok(Checks::Epoch),
            "fuel" => Ok(Checks::Fuel),
            _ => bail!("unknown checks `{s}`"),
        }
    }

    /// `system` with these checks: `precast`, `precast-epoch`, `wasmtime-fuel`, ...
    pub fn label(self, system: System) -> String {
        match self {
            Checks::None => system.name().to_string(),
            _ => format!("{}-{}", system.name(), self.name()),
        }
    }
}

/// What one execution in a fresh process measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunReport {
    /// Time between `bench.start` and `bench.end` (zero if the program has no region).
    pub region: Duration,
    /// Load + instantiate + `_start`.
    pub total: Duration,
}

impl System {
    /// Both systems.
    pub const ALL: [System; 2] = [System::Precast, System::Wasmtime];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            System::Precast => "precast",
            System::Wasmtime => "wasmtime",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<System> {
        match s {
            "precast" => Ok(System::Precast),
            "wasmtime" => Ok(System::Wasmtime),
            _ => bail!("unknown system `{s}`"),
        }
    }

    /// Compiles wasm into this system's artifact bytes.
    pub fn compile(self, wasm: &[u8]) -> Result<Vec<u8>> {
        self.compile_with(wasm, Checks::None)
    }

    /// Compiles wasm into this system's artifact bytes with `checks` compiled in.
    pub fn compile_with(self, wasm: &[u8], checks: Checks) -> Result<Vec<u8>> {
        match self {
            System::Precast => Ok(precast_compiler::compile(
                wasm,
                &precast_compiler::Config {
                    verify: false,
                    code_placement: PRECAST_PLACEMENT.get().copied().unwrap_or_default(),
                    inline_threshold: PRECAST_INLINE_THRESHOLD
                        .get()
                        .copied()
                        .unwrap_or(precast_compiler::DEFAULT_INLINE_THRESHOLD),
                    settings: precast_format::Settings {
                        epoch_interruption: checks == Checks::Epoch,
                        consume_fuel: checks == Checks::Fuel,
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )?),
            System::Wasmtime => Ok(wasmtime_engine_with(checks)?.precompile_module(wasm)?),
        }
    }

    /// Load (file -> module) and instantiate (module -> instance) times over `n` runs each.
    /// Imports are satisfied with placeholder host functions, so WASI setup is not counted.
    pub fn load_and_instantiate(self, artifact: &Path, n: usize) -> Result<(Summary, Summary)> {
        match self {
            System::Precast => precast_side::load_and_instantiate(artifact, n),
            System::Wasmtime => wasmtime_side::load_and_instantiate(artifact, n),
        }
    }

    /// Re-instantiation from a pool of preallocated slots with copy-on-write memory images,
    /// over `n` runs: a fresh store, instantiate, drop the store (slot reset). Precast:
    /// `Config::pooling`; Wasmtime: `PoolingAllocationConfig` with `memory_init_cow`.
    pub fn pooled_instantiate(self, artifact: &Path, n: usize) -> Result<Summary> {
        match self {
            System::Precast => precast_side::pooled_instantiate(artifact, n),
            System::Wasmtime => wasmtime_side::pooled_instantiate(artifact, n),
        }
    }

    /// Runs the workload once (called in a fresh child process) from an artifact compiled
    /// with `checks`, in an engine configured for them.
    pub fn run_once(self, artifact: &Path, w: &Workload, checks: Checks) -> Result<RunReport> {
        match self {
            System::Precast => precast_side::run_once(artifact, &w.dir, checks),
            System::Wasmtime => wasmtime_side::run_once(artifact, &w.dir, checks),
        }
    }
}

/// A deadline (in epochs) and an amount of fuel no workload reaches.
const UNREACHED: u64 = u64::MAX / 2;

/// The Wasmtime engine configuration used everywhere (defaults: Cranelift, speed, native CPU).
pub fn wasmtime_engine() -> Result<wasmtime::Engine> {
    wasmtime_engine_with(Checks::None)
}

/// The same configuration with `checks` enabled.
pub fn wasmtime_engine_with(checks: Checks) -> Result<wasmtime::Engine> {
    let mut config = wasmtime::Config::new();
    config
        .epoch_interruption(checks == Checks::Epoch)
        .consume_fuel(checks == Checks::Fuel);
    Ok(wasmtime::Engine::new(&config)?)
}

/// Timestamps recorded by the `bench.start` / `bench.end` host functions.
#[derive(Default)]
pub struct Region {
    start: Option<Instant>,
    end: Option<Instant>,
}

impl Region {
    fn duration(&self) -> Duration {
        match (self.start, self.end) {
            (Some(s), Some(e)) => e.saturating_duration_since(s),
            _ => Duration::ZERO,
        }
    }
}

mod precast_side {
    use super::*;
    use precast_loader::{Caller, Engine, Error, ExternType, Linker, Module, Store};
    use precast_wasi::{WasiCtx, WasiCtxBuilder};

    /// A linker whose every function import of `module` is a placeholder that errors.
    fn placeholder_linker(engine: &Engine, module: &Module) -> Result<Linker<()>> {
        let mut linker = Linker::new(engine);
        for import in module.imports() {
            if let ExternType::Func(ty) = import.ty {
                linker.func_new(import.module, import.name, ty, |_, _, _| {
                    Err(Error::Host("placeholder import called".into()))
                })?;
            }
        }
        Ok(linker)
    }

    pub fn load_and_instantiate(artifact: &Path, n: usize) -> Result<(Summary, Summary)> {
        let engine = Engine::default();
        let load = time_runs(n, || {
            Module::from_file(&engine, artifact)?;
            Ok(())
        })?;
        let module = Module::from_file(&engine, artifact)?;
        let linker = placeholder_linker(&engine, &module)?;
        let instantiate = time_runs(n, || {
            let mut store = Store::new(&engine, ());
            linker.instantiate(&mut store, &module)?;
            Ok(())
        })?;
        Ok((load, instantiate))
    }

    pub fn pooled_instantiate(artifact: &Path, n: usize) -> Result<Summary> {
        let mut config = precast_loader::Config::new();
        config.pooling(precast_loader::PoolConfig {
            instances: 16,
            memories: 16,
            tables: 16,
            ..Default::default()
        });
        let engine = Engine::try_new(&config)?;
        let module = Module::from_file(&engine, artifact)?;
        let linker = placeholder_linker(&engine, &module)?;
        let pre = linker.instantiate_pre(&module)?;
        time_runs(n, || {
            let mut store = Store::new(&engine, ());
            pre.instantiate(&mut store)?;
            Ok(())
        })
    }

    /// Store data: WASI and the bench region, as on the Wasmtime side.
    struct State {
        wasi: WasiCtx,
        region: Region,
    }

    pub fn run_once(artifact: &Path, dir: &Path, checks: Checks) -> Result<RunReport> {
        let t0 = Instant::now();
        let mut config = precast_loader::Config::new();
        config
            .epoch_interruption(checks == Checks::Epoch)
            .consume_fuel(checks == Checks::Fuel);
        let engine = Engine::try_new(&config)?;
        let module = Module::from_file(&engine, artifact)?;
        let mut linker: Linker<State> = Linker::new(&engine);
        linker.func_wrap("bench", "start", |mut c: Caller<'_, State>| {
            c.data_mut().region.start = Some(Instant::now());
        })?;
        linker.func_wrap("bench", "end", |mut c: Caller<'_, State>| {
            c.data_mut().region.end = Some(Instant::now());
        })?;
        precast_wasi::add_to_linker(&mut linker, |s: &mut State| &mut s.wasi)?;
        let wasi = WasiCtxBuilder::new()
            .arg("benchmark.wasm")
            .preopened_dir(dir, ".")?
            .build();
        let mut store = Store::new(
            &engine,
            State {
                wasi,
                region: Region::default(),
            },
        );
        match checks {
            Checks::None => {}
            Checks::Epoch => store.set_epoch_deadline(UNREACHED),
            Checks::Fuel => store.set_fuel(UNREACHED)?,
        }
        let instance = linker.instantiate(&mut store, &module)?;
        let start = instance
            .get_func(&store, "_start")
            .context("no _start export")?;
        match start.call(&mut store, &[], &mut []) {
            Ok(()) | Err(Error::Exit(0)) => {}
            Err(e) => return Err(e.into()),
        }
        let total = t0.elapsed();
        Ok(RunReport {
            region: store.data().region.duration(),
            total,
        })
    }
}

mod wasmtime_side {
    use super::*;
    use wasmtime::{Linker, Module, Store};
    use wasmtime_wasi::p1::WasiP1Ctx;

    pub fn load_and_instantiate(artifact: &Path, n: usize) -> Result<(Summary, Summary)> {
        let engine = wasmtime_engine()?;
        let load = time_runs(n, || {
            // SAFETY: the artifact was produced by `precompile_module` of this engine
            // configuration in this run.
            unsafe { Module::deserialize_file(&engine, artifact) }?;
            Ok(())
        })?;
        // SAFETY: as above.
        let module = unsafe { Module::deserialize_file(&engine, artifact) }?;
        let mut linker: Linker<()> = Linker::new(&engine);
        linker.define_unknown_imports_as_traps(&module)?;
        let pre = linker.instantiate_pre(&module)?;
        let instantiate = time_runs(n, || {
            let mut store = Store::new(&engine, ());
            pre.instantiate(&mut store)?;
            Ok(())
        })?;
        Ok((load, instantiate))
    }

    pub fn pooled_instantiate(artifact: &Path, n: usize) -> Result<Summary> {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_core_instances(16)
            .total_memories(16)
            .total_tables(16)
            .max_memory_size(1 << 30);
        let mut config = wasmtime::Config::new();
        config
            .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true);
        let engine = wasmtime::Engine::new(&config)?;
        // The artifact was compiled by the default engine; pooling does not change code
        // generation, so it deserializes here (Wasmtime checks compatibility).
        // SAFETY: produced by `precompile_module` in this run.
        let module = unsafe { Module::deserialize_file(&engine, artifact) }?;
        let mut linker: Linker<()> = Linker::new(&engine);
        linker.define_unknown_imports_as_traps(&module)?;
        let pre = linker.instantiate_pre(&module)?;
        time_runs(n, || {
            let mut store = Store::new(&engine, ());
            pre.instantiate(&mut store)?;
            Ok(())
        })
    }

    struct State {
        wasi: WasiP1Ctx,
        region: Region,
    }

    pub fn run_once(artifact: &Path, dir: &Path, checks: Checks) -> Result<RunReport> {
        let t0 = Instant::now();
        let engine = wasmtime_engine_with(checks)?;
        // SAFETY: produced by `precompile_module` with the same configuration.
        let module = unsafe { Module::deserialize_file(&engine, artifact) }?;
        let mut linker: Linker<State> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi)?;
        linker.func_wrap("bench", "start", |mut c: wasmtime::Caller<'_, State>| {
            c.data_mut().region.start = Some(Instant::now());
        })?;
        linker.func_wrap("bench", "end", |mut c: wasmtime::Caller<'_, State>| {
            c.data_mut().region.end = Some(Instant::now());
        })?;
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .args(&["benchmark.wasm"])
            .preopened_dir(dir, ".", wasmtime_wasi::FsPerms::ReadWrite)?
            .build_p1();
        let mut store = Store::new(
            &engine,
            State {
                wasi,
                region: Region::default(),
            },
        );
        match checks {
            Checks::None => {}
            Checks::Epoch => store.set_epoch_deadline(UNREACHED),
            Checks::Fuel => store.set_fuel(UNREACHED)?,
        }
        let instance = linker.instantiate(&mut store, &module)?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        if let Err(e) = start.call(&mut store, ()) {
            match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(wasmtime_wasi::I32Exit(0)) => {}
                _ => return Err(e.into()),
            }
        }
        let total = t0.elapsed();
        Ok(RunReport {
            region: store.data().region.duration(),
            total,
        })
    }
}
