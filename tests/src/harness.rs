//! Helpers for end-to-end tests: compile WAT to an artifact, load it, call exports.

use precast_loader::{Engine, Error, Extern, Instance, Linker, Module, Store, Val};

/// Compiles WAT (or wasm) to artifact bytes, panicking on failure (tests only).
pub fn artifact(wat: &str) -> Vec<u8> {
    precast_compiler::compile(wat.as_bytes(), &precast_compiler::Config::default())
        .unwrap_or_else(|e| panic!("compile failed: {e}"))
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
        mut store: Store<()>,
        linker: &Linker<()>,
    ) -> Result<TestInstance, Error> {
        let module = Module::from_bytes(engine, &artifact(wat))?;
        let instance = linker.instantiate(&mut store, &module)?;
        Ok(TestInstance { store, instance })
    }

    /// Compiles and instantiates `wat`, which must have no imports.
    pub fn new(wat: &str) -> TestInstance {
        let engine = Engine::default();
        let store = Store::new(&engine, ());
        let linker = Linker::new(&engine);
        TestInstance::with_linker(wat, &engine, store, &linker)
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
