//! [`Config`] and [`Engine`]: process-level settings and the engine-wide type registry.

pub use crate::platform::PoolConfig;
use crate::platform::Reservation;
use crate::platform::sync::RwLock;
use crate::prelude::*;
use alloc::sync::Arc;
use hashbrown::HashMap;
use precast_format::module::FuncType;

/// An ed25519 public key whose signatures the engine accepts ([`Config::trust`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TrustedKey(
    #[cfg(feature = "signatures")] pub(crate) ed25519_dalek::VerifyingKey,
    /// Without the `signatures` feature no key can be made (the constructors refuse).
    #[cfg(not(feature = "signatures"))]
    pub(crate) core::convert::Infallible,
);

/// Why a key cannot be made without the `signatures` feature.
#[cfg(not(feature = "signatures"))]
const NO_SIGNATURES: &str =
    "this loader was built without signature verification (the `signatures` feature)";

impl TrustedKey {
    /// The key from its 32 bytes; `None` if they are not a valid ed25519 public key (always
    /// `None` without the `signatures` feature).
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<TrustedKey> {
        #[cfg(feature = "signatures")]
        return ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .ok()
            .map(TrustedKey);
        #[cfg(not(feature = "signatures"))]
        {
            let _ = bytes;
            None
        }
    }

    /// The key from a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`), as
    /// `precast keygen` writes to `KEY.pub` and `openssl pkey -pubout` writes.
    pub fn from_pem(pem: &str) -> Result<TrustedKey, String> {
        #[cfg(feature = "signatures")]
        {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                .map(TrustedKey)
                .map_err(|e| format!("not an ed25519 public key in PEM: {e}"))
        }
        #[cfg(not(feature = "signatures"))]
        {
            let _ = pem;
            Err(NO_SIGNATURES.into())
        }
    }

    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        #[cfg(feature = "signatures")]
        return self.0.to_bytes();
        #[cfg(not(feature = "signatures"))]
        match self.0 {}
    }

    /// A short fingerprint for messages (the first 8 bytes of the key's SHA-256, hex).
    pub fn fingerprint(&self) -> String {
        precast_format::signature::fingerprint(&self.to_bytes())
    }
}

impl core::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TrustedKey({})", self.fingerprint())
    }
}

/// Loader settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes of native stack wasm may use below the point where the host first enters it.
    pub max_wasm_stack: usize,
    /// Bytes of address space reserved for each linear memory (its maximum size).
    pub memory_reservation: u64,
    /// Bytes of inaccessible guard region after each memory's reservation.
    pub memory_guard_size: u64,
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
}

impl Default for Config {
    fn default() -> Self {
        let s = precast_format::Settings::default();
        Config {
            max_wasm_stack: 512 * 1024,
            memory_reservation: s.memory_reservation,
            memory_guard_size: s.memory_guard_size,
            trusted_keys: Vec::new(),
            require_spectre_mitigations: false,
            pooling: None,
            // Caches and handlers belong to the Linux platform.
            memory_cache: if cfg!(feature = "std") { 8 } else { 0 },
            code_cache: if cfg!(feature = "std") { 8 } else { 0 },
            cpu_features: precast_format::CpuFeatures(u64::MAX),
            signal_handlers: cfg!(feature = "std"),
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

    /// The default configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Sets [`Config::max_wasm_stack`].
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
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

    /// Sets [`Config::signal_handlers`]: `false` for a process (or platform) where the
    /// runtime must not install signal handlers.
    pub fn signal_handlers(&mut self, install: bool) -> &mut Self {
        self.signal_handlers = install;
        self
    }

    /// Allocates instances from a pool with `limits` ([`Config::pooling`]).
    pub fn pooling(&mut self, limits: PoolConfig) -> &mut Self {
        self.pooling = Some(limits);
        self
    }
}

/// Canonical ids for function types, shared by everything created from one engine: two
/// structurally equal types get the same id, so `call_indirect` checks are one comparison.
#[derive(Debug, Default)]
pub(crate) struct TypeRegistry {
    inner: RwLock<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    ids: HashMap<Arc<FuncType>, u32>,
    types: Vec<Arc<FuncType>>,
}

impl TypeRegistry {
    /// The canonical id of `ty`, registering it if new.
    pub fn register(&self, ty: &FuncType) -> u32 {
        if let Some(&id) = self.inner.read().ids.get(ty) {
            return id;
        }
        let mut w = self.inner.write();
        if let Some(&id) = w.ids.get(ty) {
            return id;
        }
        let id = u32::try_from(w.types.len()).unwrap_or(u32::MAX - 1);
        let ty = Arc::new(ty.clone());
        w.types.push(ty.clone());
        w.ids.insert(ty, id);
        id
    }

    /// A fresh id for `ty` that no other registration shares.
    pub fn register_unique(&self, ty: &FuncType) -> u32 {
        let mut w = self.inner.write();
        let id = u32::try_from(w.types.len()).unwrap_or(u32::MAX - 1);
        w.types.push(Arc::new(ty.clone()));
        id
    }

    /// The type with canonical id `id`.
    pub fn get(&self, id: u32) -> Option<Arc<FuncType>> {
        let r = self.inner.read();
        r.types.get(id as usize).cloned()
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
    pub fn try_new(config: &Config) -> Result<Engine, crate::Error> {
        if config.signal_handlers {
            #[cfg(feature = "std")]
            crate::traphandlers::init_signals();
            #[cfg(not(feature = "std"))]
            return Err(crate::Error::Api(
                "signal handlers need the Linux platform (the `std` feature): use \
                 Config::signal_handlers(false) and artifacts compiled with --no-signals"
                    .into(),
            ));
        }
        let pool = match &config.pooling {
            Some(limits) => Some(alloc::sync::Arc::new(
                crate::platform::pool::Pool::new(limits, config.reservation())
                    .map_err(crate::Error::Resource)?,
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
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
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
        }),
    }
}

/// The code mapping cache of `config`.
#[cfg(feature = "std")]
fn code_cache(config: &Config) -> Option<Arc<crate::platform::code_cache::CodeCache>> {
    (config.code_cache > 0)
        .then(|| crate::platform::code_cache::CodeCache::new(config.code_cache as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use precast_format::module::ValType;

    #[test]
    fn registry_canonicalizes() {
        let r = TypeRegistry::default();
        let a = FuncType {
            params: vec![ValType::I32],
            results: vec![ValType::I64],
        };
        let b = FuncType {
            params: vec![ValType::I64],
            results: vec![],
        };
        let ia = r.register(&a);
        let ib = r.register(&b);
        assert_ne!(ia, ib);
        assert_eq!(r.register(&a.clone()), ia);
        assert_eq!(*r.get(ia).unwrap(), a);
        assert_eq!(*r.get(ib).unwrap(), b);
        assert!(r.get(99).is_none());
        let u = r.register_unique(&a);
        assert!(u != ia && *r.get(u).unwrap() == a);
        assert_eq!(r.register(&a), ia);
    }
}
