//! [`Config`] and [`Engine`]: process-level settings and the engine-wide type registry.

use crate::api::limits::StoreLimits;
pub use crate::platform::PoolConfig;
use crate::platform::Reservation;
use crate::prelude::*;
use crate::runtime::artifact::Requirements;
use crate::runtime::artifact::trust::TrustedKey;
use crate::runtime::types::TypeRegistry;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

/// Loader settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes of native stack wasm may use below the point where the host first enters it.
    pub max_wasm_stack: usize,
    /// Bytes of address space reserved for each linear memory (its maximum size).
    pub memory_reservation: u64,
    /// Bytes of inaccessible guard region after each memory's reservation.
    pub memory_guard_size: u64,
    /// The most address space a 64-bit memory (memory64) reserves: it reserves room to grow
    /// to its maximum (at least [`Config::memory_reservation`]), up to this many bytes, and
    /// can grow that far. Default 64 GiB with the `std` feature (address space only: pages
    /// are committed as the memory grows); without it 0 (64-bit memories are limited like
    /// the others). In a pool a 64-bit memory grows to the pool's slot size.
    pub memory64_reservation: u64,
    /// Public keys whose signatures this engine accepts. When any is set, every load
    /// ([`Module::from_file`](crate::Module::from_file), `from_bytes`, `from_linked` and
    /// their unchecked forms) requires an artifact signed by one of them, and refuses
    /// unsigned, untrusted and invalid signatures. Empty (the default): signatures are not
    /// required.
    pub trusted_keys: Vec<TrustedKey>,
    /// Refuse artifacts compiled without Spectre mitigations (`precast compile
    /// --no-spectre-mitigations`). Default: accept them (the header records the setting).
    pub require_spectre_mitigations: bool,
    /// Allocate instances from a pool of preallocated slots instead of from the OS.
    pub pooling: Option<PoolConfig>,
    /// Without pooling: how many released linear memory reservations the engine keeps for
    /// reuse by later memories (reset with `madvise(MADV_DONTNEED)`, so they hold no memory;
    /// a reused one that held the same module's image needs no system call). 0 unmaps
    /// every memory when its store is dropped.
    pub memory_cache: u32,
    /// How many released code mappings of small artifacts (files up to 256 KiB, whose code
    /// is mapped apart from the bytes read) the engine keeps for reuse: a later
    /// load maps its code over one with a single `mmap` instead of a fresh mapping and an
    /// `munmap` at drop. A kept mapping references its artifact file until it is reused or
    /// the engine is dropped. 0 unmaps code when its module is dropped.
    pub code_cache: u32,
    /// The CPU features artifacts may require: one that needs a feature outside this set,
    /// or that the CPU lacks, is refused at load with the features named. Default: every
    /// feature (only the CPU limits). Set a fleet's common subset to refuse, on every
    /// machine, artifacts that would not load on all of them.
    pub cpu_features: precast_format::CpuFeatures,
    /// Install the trap signal handlers (SIGSEGV, SIGBUS, SIGILL, SIGFPE; once per process)
    /// and a per-thread alternate signal stack. Default: on. Off
    /// ([`Config::signal_handlers`]), the engine installs nothing and loads only artifacts
    /// compiled without signal-based traps (`precast compile --no-signals`), whose traps are
    /// all raised by calls into the runtime; other artifacts are refused at load. Artifacts
    /// without signal-based traps run under either setting.
    pub signal_handlers: bool,
    /// The engine runs code compiled with epoch interruption (`precast compile
    /// --epoch-interruption`), and only such code: a store's deadline
    /// ([`Store::set_epoch_deadline`](crate::Store::set_epoch_deadline)) stops its guests
    /// once [`Engine::increment_epoch`] reaches it. Default: off. An artifact whose setting
    /// differs is refused at load.
    pub epoch_interruption: bool,
    /// The engine runs code compiled with fuel consumption (`precast compile
    /// --consume-fuel`), and only such code: a store's guests trap with "all fuel consumed"
    /// once they used the fuel given by [`Store::set_fuel`](crate::Store::set_fuel).
    /// Default: off. An artifact whose setting differs is refused at load.
    pub consume_fuel: bool,
    /// Static limits every store of the engine starts with: the size of each memory and
    /// table and the counts of instances, memories and tables. Checked before the store's
    /// own limiter ([`Store::limiter`](crate::Store::limiter)); what they refused is in
    /// [`Store::limits`](crate::Store::limits). Default: only the default counts.
    pub limits: StoreLimits,
    /// Tell a profiler where loaded code is ([`Profiler`]). Default: [`Profiler::None`].
    pub profiler: Profiler,
    /// Announce every module loaded from a file or bytes to debuggers (gdb, lldb) through
    /// the GDB JIT interface, with its symbols and line table: a copy of the artifact per
    /// module. Linked modules need nothing: they are in the executable. Default: off.
    pub debugger: bool,
}

/// How loaded code is described to profilers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profiler {
    /// Nothing beyond the artifact's own symbols (a file-mapped artifact's `.text` is
    /// named by them in `perf report` already).
    #[default]
    None,
    /// Append every function and trampoline of each loaded module, as
    /// `START SIZE NAME` lines, to `/tmp/perf-PID.map`: the file `perf report` reads for
    /// code that no mapped file names (modules loaded from bytes, or copied into
    /// anonymous memory). Linux (the `std` feature) only; elsewhere loads fail with the
    /// reason.
    PerfMap,
    /// Append a `JIT_CODE_LOAD` record (address, name, a copy of the code) per function and
    /// trampoline of each loaded module to `/tmp/jit-PID.dump`, perf's jitdump format:
    /// `perf record -k mono`, then `perf inject --jit`, and `perf report`/`perf annotate`
    /// show the wasm functions with their instructions. Linux (the `std` feature) only.
    JitDump,
}

impl Default for Config {
    fn default() -> Self {
        let s = precast_format::Settings::default();
        Config {
            max_wasm_stack: 512 * 1024,
            memory_reservation: s.memory_reservation,
            memory_guard_size: s.memory_guard_size,
            memory64_reservation: if cfg!(feature = "std") { 64 << 30 } else { 0 },
            trusted_keys: Vec::new(),
            require_spectre_mitigations: false,
            pooling: None,
            // Caches and handlers belong to the Linux platform.
            memory_cache: if cfg!(feature = "std") { 8 } else { 0 },
            code_cache: if cfg!(feature = "std") { 8 } else { 0 },
            cpu_features: precast_format::CpuFeatures(u64::MAX),
            signal_handlers: cfg!(feature = "std"),
            epoch_interruption: false,
            consume_fuel: false,
            limits: StoreLimits::default(),
            profiler: Profiler::None,
            debugger: false,
        }
    }
}

impl Config {
    /// The address space each linear memory takes.
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation {
            size: self.memory_reservation,
            guard: self.memory_guard_size,
        }
    }

    /// The address space a memory of type `ty` takes.
    pub(crate) fn reservation_for(&self, ty: &precast_format::module::MemoryType) -> Reservation {
        self.reservation().for_memory(ty, self.memory64_reservation)
    }

    /// What artifacts must satisfy to load with this configuration.
    pub(crate) fn requirements(&self) -> Requirements<'_> {
        Requirements {
            trusted_keys: &self.trusted_keys,
            cpu_features: self.cpu_features,
            spectre_mitigations: self.require_spectre_mitigations,
            signal_handlers: self.signal_handlers,
            epoch_interruption: self.epoch_interruption,
            consume_fuel: self.consume_fuel,
            reservation: self.reservation(),
        }
    }

    /// The default configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Sets [`Config::max_wasm_stack`].
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
        self
    }

    /// Sets [`Config::memory64_reservation`].
    pub fn memory64_reservation(&mut self, bytes: u64) -> &mut Self {
        self.memory64_reservation = bytes;
        self
    }

    /// Adds `key` to [`Config::trusted_keys`]: from then on only signed artifacts load.
    pub fn trust(&mut self, key: TrustedKey) -> &mut Self {
        self.trusted_keys.push(key);
        self
    }

    /// Sets [`Config::cpu_features`]: artifacts may require only features in `allowed`.
    pub fn restrict_cpu_features(&mut self, allowed: precast_format::CpuFeatures) -> &mut Self {
        self.cpu_features = allowed;
        self
    }

    /// Sets [`Config::epoch_interruption`].
    pub fn epoch_interruption(&mut self, enable: bool) -> &mut Self {
        self.epoch_interruption = enable;
        self
    }

    /// Sets [`Config::consume_fuel`].
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Self {
        self.consume_fuel = enable;
        self
    }

    /// Sets [`Config::limits`].
    pub fn limits(&mut self, limits: StoreLimits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Sets [`Config::signal_handlers`]: `false` for a process (or platform) where the
    /// runtime must not install signal handlers.
    pub fn signal_handlers(&mut self, install: bool) -> &mut Self {
        self.signal_handlers = install;
        self
    }

    /// Sets [`Config::debugger`].
    pub fn debugger(&mut self, on: bool) -> &mut Self {
        self.debugger = on;
        self
    }

    /// Sets [`Config::profiler`].
    pub fn profiler(&mut self, profiler: Profiler) -> &mut Self {
        self.profiler = profiler;
        self
    }

    /// Allocates instances from a pool with `limits` ([`Config::pooling`]).
    pub fn pooling(&mut self, limits: PoolConfig) -> &mut Self {
        self.pooling = Some(limits);
        self
    }
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    pub config: Config,
    pub types: TypeRegistry,
    pub pool: Option<alloc::sync::Arc<crate::platform::pool::Pool>>,
    /// Released memory reservations kept for reuse (when not pooling).
    pub memory_cache: Option<alloc::sync::Arc<crate::platform::pool::Pool>>,
    /// Released code mappings (`None`: [`Config::code_cache`] is 0).
    #[cfg(feature = "std")]
    pub code_cache: Option<Arc<crate::platform::code_cache::CodeCache>>,
    /// The epoch (see [`Engine::increment_epoch`]); stores' VMContexts point here.
    pub epoch: AtomicU64,
    /// The stores with probe pages (fault-based epoch checks).
    pub probes: Arc<crate::runtime::epoch::Probes>,
}

/// Shared, thread-safe loader context: configuration and type registry. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&Config::default())
    }
}

impl Engine {
    /// Creates an engine and installs the process's trap signal handlers (once; not with
    /// [`Config::signal_handlers`] off). With
    /// [`Config::pooling`], reserves the pool too; if that fails (not enough address space),
    /// the engine allocates from the OS instead: use [`Engine::try_new`] to get the error.
    pub fn new(config: &Config) -> Engine {
        Engine::try_new(config).unwrap_or_else(|_| {
            let mut plain = config.clone();
            plain.pooling = None;
            unpooled_engine(&plain)
        })
    }

    /// Creates an engine, failing if the pool of [`Config::pooling`] cannot be reserved.
    pub fn try_new(config: &Config) -> Result<Engine, crate::runtime::error::Error> {
        if config.signal_handlers {
            #[cfg(feature = "std")]
            crate::runtime::traphandlers::init_signals();
            #[cfg(not(feature = "std"))]
            return Err(crate::runtime::error::Error::Api(
                "signal handlers need the Linux platform (the `std` feature): use \
                 Config::signal_handlers(false) and artifacts compiled with --no-signals"
                    .into(),
            ));
        }
        let pool = match &config.pooling {
            Some(limits) => Some(alloc::sync::Arc::new(
                crate::platform::pool::Pool::new(limits, config.reservation())
                    .map_err(crate::runtime::error::Error::Resource)?,
            )),
            None => None,
        };
        let memory_cache = match (&pool, config.memory_cache) {
            (None, keep) if keep > 0 => {
                crate::platform::pool::Pool::memory_cache(keep, config.reservation())
                    .ok()
                    .map(alloc::sync::Arc::new)
            }
            _ => None,
        };
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                types: TypeRegistry::default(),
                pool,
                memory_cache,
                #[cfg(feature = "std")]
                code_cache: code_cache(config),
                epoch: AtomicU64::new(0),
                probes: Arc::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Advances the engine's epoch by one: code compiled with epoch interruption, in every
    /// store of the engine, calls into the runtime at its next check (function entry or loop
    /// header) if the epoch reached its store's deadline ([`Store::set_epoch_deadline`]);
    /// signal-interrupted code
    /// ([`Settings::epoch_signal`](precast_format::Settings::epoch_signal)) wherever it is.
    /// Callable from any thread, a signal handler included (no lock, no allocation): one
    /// atomic add, and for the stores whose code checks by faults
    /// ([`Settings::epoch_probe`](precast_format::Settings::epoch_probe)), one compare each
    /// and, where the deadline is reached, making its probe pages unreadable and, for
    /// signal-interrupted code running on a thread, sending that thread a SIGURG.
    ///
    /// [`Store::set_epoch_deadline`]: crate::Store::set_epoch_deadline
    pub fn increment_epoch(&self) {
        let epoch = self.inner.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.probes.tick(epoch);
    }

    /// The current epoch.
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::SeqCst)
    }

    /// Whether two handles refer to the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    pub(crate) fn types(&self) -> &TypeRegistry {
        &self.inner.types
    }

    /// The instance pool, when the engine pools.
    pub(crate) fn pool(&self) -> Option<&alloc::sync::Arc<crate::platform::pool::Pool>> {
        self.inner.pool.as_ref()
    }

    /// Where linear memories come from: the pool, the reservation cache, or (`None`) the OS.
    pub(crate) fn memory_source(&self) -> Option<&alloc::sync::Arc<crate::platform::pool::Pool>> {
        self.inner
            .pool
            .as_ref()
            .or(self.inner.memory_cache.as_ref())
    }
}

/// An engine without a pool (cannot fail).
fn unpooled_engine(config: &Config) -> Engine {
    Engine {
        inner: Arc::new(EngineInner {
            config: config.clone(),
            types: TypeRegistry::default(),
            pool: None,
            memory_cache: None,
            #[cfg(feature = "std")]
            code_cache: code_cache(config),
            epoch: AtomicU64::new(0),
            probes: Arc::default(),
        }),
    }
}

/// The code mapping cache of `config`.
#[cfg(feature = "std")]
fn code_cache(config: &Config) -> Option<Arc<crate::platform::code_cache::CodeCache>> {
    (config.code_cache > 0)
        .then(|| crate::platform::code_cache::CodeCache::new(config.code_cache as usize))
}
