//! Helpers for end-to-end tests: compile WAT to an artifact, load it, call exports.

use precast_loader::{Engine, Error, Extern, Instance, Linker, Module, Store, Val};

/// Compiles WAT (or wasm) to artifact bytes, panicking on failure (tests only).
pub fn artifact(wat: &str) -> Vec<u8> {
    artifact_with(wat, &precast_compiler::Config::default())
}

/// Compiles WAT (or wasm) to artifact bytes with `config`, panicking on failure.
pub fn artifact_with(wat: &str, config: &precast_compiler::Config) -> Vec<u8> {
    precast_compiler::compile(wat.as_bytes(), config)
        .unwrap_or_else(|e| panic!("compile failed: {e}"))
}

/// The default configuration without inlining: for tests of exact backtraces (inlined
/// frames are left out of them).
pub fn without_inlining() -> precast_compiler::Config {
    precast_compiler::Config {
        inlining: false,
        ..precast_compiler::Config::default()
    }
}

/// A store with one instance, for tests.
pub struct TestInstance {
    /// The store.
    pub store: Store<()>,
    /// The instance.
    pub instance: Instance,
}

impl TestInstance {
    /// Compiles and instantiates `wat` with `linker`'s definitions.
    pub fn with_linker(
        wat: &str,
        engine: &Engine,
        store: Store<()>,
        linker: &Linker<()>,
    ) -> Result<TestInstance, Error> {
        TestInstance::with_artifact(&artifact(wat), engine, store, linker)
    }

    /// Instantiates `artifact` with `linker`'s definitions.
    pub fn with_artifact(
        artifact: &[u8],
        engine: &Engine,
        mut store: Store<()>,
        linker: &Linker<()>,
    ) -> Result<TestInstance, Error> {
        let module = Module::from_bytes(engine, artifact)?;
        let instance = linker.instantiate(&mut store, &module)?;
        Ok(TestInstance { store, instance })
    }

    /// Compiles and instantiates `wat`, which must have no imports.
    pub fn new(wat: &str) -> TestInstance {
        TestInstance::new_with(wat, &precast_compiler::Config::default())
    }

    /// Compiles `wat` with `config` and instantiates it; it must have no imports.
    pub fn new_with(wat: &str, config: &precast_compiler::Config) -> TestInstance {
        let engine = Engine::default();
        let store = Store::new(&engine, ());
        let linker = Linker::new(&engine);
        TestInstance::with_artifact(&artifact_with(wat, config), &engine, store, &linker)
            .unwrap_or_else(|e| panic!("instantiate failed: {e}"))
    }

    /// Calls export `name` with `args`.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
        let func = match self.instance.get_export(&self.store, name) {
            Some(Extern::Func(f)) => f,
            _ => panic!("no exported function {name}"),
        };
        let ty = func.ty(&self.store)?;
        let mut results: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
        func.call(&mut self.store, args, &mut results)?;
        Ok(results)
    }
}

/// A shared memory of 1 to 4 pages, the type the threads tests import.
pub fn shared_type() -> precast_loader::MemoryType {
    precast_loader::MemoryType {
        minimum: 1,
        maximum: Some(4),
        memory64: false,
        shared: true,
        page_size_log2: 16,
    }
}

/// The signals a wasm trap could raise if it depended on a fault, with their names.
pub const TRAP_SIGNALS: [(libc::c_int, &str); 4] = [
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
];

/// The current disposition of `sig` (a handler address, `SIG_DFL` or `SIG_IGN`).
pub fn disposition(sig: libc::c_int) -> libc::sighandler_t {
    // SAFETY: a query: no new action, `old` is a valid out-pointer.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

/// Sets every signal of [`TRAP_SIGNALS`] to its default action (death), Rust's own
/// stack-overflow handler included.
pub fn reset_trap_signals() {
    for (sig, name) in TRAP_SIGNALS {
        // SAFETY: setting a signal's disposition to its default has no preconditions.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            assert_eq!(
                libc::sigaction(sig, &dfl, std::ptr::null_mut()),
                0,
                "{name}"
            );
        }
    }
}
