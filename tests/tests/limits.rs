//! Resource limits: a store's limiter ([`StoreLimits`] or the embedder's own
//! [`ResourceLimiter`]) and the engine's static limits bound memory and table growth (in wasm
//! and from the host) and the store's instances, memories and tables; refused growth returns
//! -1, or traps where asked; the store keeps working. For modules from artifact bytes, linked
//! into this binary, pooled, and compiled without signal-based traps.

use precast_loader::{
    Config, Engine, Error, Instance, Limit, LimitExceeded, Linker, Memory, MemoryType, Module,
    PoolConfig, ResourceLimiter, Store, StoreLimits, Table, TableType, Val, linked,
};

// The linked modules are bundled into this package's library: link it.
use precast_tests as _;

const WAT: &str = include_str!("../linked/limits.wat");
const PAGE: u64 = 65536;

fn load(engine: &Engine, signals: bool) -> Module {
    let mut c = precast_compiler::Config::default();
    if !signals {
        c.settings = precast_compiler::format::Settings::without_signals();
    }
    let artifact = precast_compiler::compile(WAT.as_bytes(), &c).unwrap();
    Module::from_bytes(engine, &artifact).unwrap()
}

fn call<T>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> Result<i32, Error> {
    let f = instance.get_func(&*store, name).unwrap();
    let mut results = vec![Val::I32(0)];
    f.call(&mut *store, args, &mut results)?;
    match results[0] {
        Val::I32(v) => Ok(v),
        ref v => panic!("{v:?}"),
    }
}

fn grow<T>(store: &mut Store<T>, instance: &Instance, pages: i32) -> Result<i32, Error> {
    call(store, instance, "grow", &[Val::I32(pages)])
}

/// A store whose data is the limits it enforces.
fn limited(engine: &Engine, limits: StoreLimits) -> Store<StoreLimits> {
    let mut store = Store::new(engine, limits);
    store.limiter(|limits| limits);
    store
}

#[test]
fn memory_growth_beyond_the_limit_returns_minus_one() {
    let engine = Engine::default();
    for signals in [true, false] {
        let module = load(&engine, signals);
        let mut store = limited(&engine, StoreLimits::new().memory_size(4 * PAGE));
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        assert_eq!(grow(&mut store, &instance, 2).unwrap(), 1);
        assert_eq!(store.data().exceeded(), None);
        // 3 + 2 pages > 4: refused, the memory unchanged, the limit recorded.
        assert_eq!(grow(&mut store, &instance, 2).unwrap(), -1);
        assert_eq!(call(&mut store, &instance, "size", &[]).unwrap(), 3);
        assert_eq!(
            store.data().exceeded(),
            Some(LimitExceeded {
                limit: Limit::MemorySize(4 * PAGE),
                requested: 5 * PAGE
            })
        );
        // Up to the limit still works; the declared maximum (100) is no longer reached.
        assert_eq!(grow(&mut store, &instance, 1).unwrap(), 3);
        assert_eq!(grow(&mut store, &instance, 1).unwrap(), -1);
        assert_eq!(grow(&mut store, &instance, 0).unwrap(), 4);
        // The guest that grows until refused, then aborts.
        let e = call(&mut store, &instance, "hog", &[]).unwrap_err();
        assert!(e.as_trap().is_some(), "{e}");
        // The store still runs other calls.
        assert_eq!(call(&mut store, &instance, "size", &[]).unwrap(), 4);
        // From the host as well: refused with an error, nothing grown.
        let memory = instance.get_memory(&store, "memory").unwrap();
        assert!(memory.grow(&mut store, 1).is_err());
        assert_eq!(memory.data_size(&store), 4 * PAGE);
    }
}

#[test]
fn refused_growth_traps_when_asked_and_the_store_goes_on() {
    let engine = Engine::default();
    for signals in [true, false] {
        let module = load(&engine, signals);
        let limits = StoreLimits::new()
            .memory_size(2 * PAGE)
            .table_elements(10)
            .trap_on_grow_failure(true);
        let mut store = limited(&engine, limits);
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let e = grow(&mut store, &instance, 5).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Limit(LimitExceeded {
                    limit: Limit::MemorySize(_),
                    requested
                }) if requested == 6 * PAGE
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("memory limit of 131072 bytes reached: growth to 393216 bytes"),
            "{e}"
        );
        assert_eq!(grow(&mut store, &instance, 1).unwrap(), 1);
        let e = call(&mut store, &instance, "grow_table", &[Val::I32(9)]).unwrap_err();
        assert!(e.to_string().contains("table limit of 10 elements"), "{e}");
        assert_eq!(
            call(&mut store, &instance, "grow_table", &[Val::I32(8)]).unwrap(),
            2
        );
        // Growth beyond the declared maximum is not the limiter's: it returns -1.
        assert_eq!(
            call(&mut store, &instance, "grow_table", &[Val::I32(1000)]).unwrap(),
            -1
        );
    }
}

/// A limiter that logs what it is asked and allows `budget` bytes across all memories.
#[derive(Default)]
struct Budget {
    budget: u64,
    used: u64,
    asked: Vec<(char, u64, u64, Option<u64>)>,
    instances: usize,
}

impl ResourceLimiter for Budget {
    fn memory_growing(
        &mut self,
        current: u64,
        desired: u64,
        max: Option<u64>,
    ) -> Result<bool, Error> {
        self.asked.push(('m', current, desired, max));
        let more = desired - current;
        if self.used + more > self.budget {
            return Ok(false);
        }
        self.used += more;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: u64,
        desired: u64,
        max: Option<u64>,
    ) -> Result<bool, Error> {
        self.asked.push(('t', current, desired, max));
        if desired > 5 {
            return Err(Error::Host(format!("no table of {desired} elements here")));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }
}

#[test]
fn an_embedders_limiter_sees_creation_and_every_growth() {
    let engine = Engine::default();
    let module = load(&engine, true);
    let mut store = Store::new(
        &engine,
        Budget {
            budget: 3 * PAGE,
            instances: 2,
            ..Budget::default()
        },
    );
    store.limiter(|b| b);
    let linker = Linker::new(&engine);
    let a = linker.instantiate(&mut store, &module).unwrap();
    // Creation is growth from 0 to the initial size, with the declared maximum.
    assert_eq!(
        store.data().asked,
        [('m', 0, PAGE, Some(100 * PAGE)), ('t', 0, 2, Some(1000))]
    );
    let b = linker.instantiate(&mut store, &module).unwrap();
    assert_eq!(store.data().used, 2 * PAGE);
    // The budget is shared: one more page for either instance, then -1.
    assert_eq!(grow(&mut store, &b, 1).unwrap(), 1);
    assert_eq!(grow(&mut store, &a, 1).unwrap(), -1);
    assert_eq!(
        store.data().asked.last(),
        Some(&('m', PAGE, 2 * PAGE, Some(100 * PAGE)))
    );
    // An error from the limiter traps the guest with it.
    let e = call(&mut store, &a, "grow_table", &[Val::I32(4)]).unwrap_err();
    assert!(e.to_string().contains("no table of 6 elements here"), "{e}");
    assert_eq!(
        call(&mut store, &a, "grow_table", &[Val::I32(3)]).unwrap(),
        2
    );
    // A third instance is over the count.
    let e = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Limit(LimitExceeded {
                limit: Limit::Instances(2),
                requested: 3
            })
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("instance limit of 2"), "{e}");
    // A memory whose initial size the limiter refuses is not created.
    let mut store = Store::new(
        &engine,
        Budget {
            budget: PAGE / 2,
            instances: 10,
            ..Budget::default()
        },
    );
    store.limiter(|b| b);
    let e = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(
        e.to_string().contains("refused a memory of 65536 bytes"),
        "{e}"
    );
}

#[test]
fn host_objects_and_counts_are_limited() {
    let engine = Engine::default();
    let mut store = limited(
        &engine,
        StoreLimits::new()
            .memory_size(2 * PAGE)
            .memories(1)
            .tables(1)
            .table_elements(8),
    );
    let ty = |minimum| MemoryType {
        minimum,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: 16,
    };
    let e = Memory::new(&mut store, ty(3)).unwrap_err();
    assert!(
        e.to_string().contains("memory limit of 131072 bytes"),
        "{e}"
    );
    let m = Memory::new(&mut store, ty(1)).unwrap();
    assert_eq!(m.grow(&mut store, 1).unwrap(), 1);
    assert!(m.grow(&mut store, 1).is_err());
    let e = Memory::new(&mut store, ty(1)).unwrap_err();
    assert!(e.to_string().contains("memory count limit of 1"), "{e}");
    let tty = TableType {
        element: precast_loader::RefType::FUNCREF,
        minimum: 4,
        maximum: None,
        table64: false,
    };
    let t = Table::new(&mut store, tty, Val::FuncRef(None)).unwrap();
    assert_eq!(t.grow(&mut store, 4, Val::FuncRef(None)).unwrap(), 4);
    assert!(t.grow(&mut store, 1, Val::FuncRef(None)).is_err());
    assert!(Table::new(&mut store, tty, Val::FuncRef(None)).is_err());
    // An instance defining a memory is over the memory count too.
    let module = load(&engine, true);
    let e = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap_err();
    assert!(e.to_string().contains("memory count limit of 1"), "{e}");
}

#[test]
fn static_limits_in_the_config_apply_to_every_store() {
    for pooled in [false, true] {
        let mut config = Config::new();
        config.limits(StoreLimits::new().memory_size(3 * PAGE).instances(3));
        if pooled {
            config.pooling(PoolConfig::default());
        }
        let engine = Engine::try_new(&config).unwrap();
        let modules = [
            load(&engine, true),
            Module::from_linked(&engine, linked!(limits)).unwrap(),
        ];
        for module in &modules {
            let mut store = Store::new(&engine, ());
            let instance = Linker::new(&engine)
                .instantiate(&mut store, module)
                .unwrap();
            assert_eq!(grow(&mut store, &instance, 2).unwrap(), 1);
            assert_eq!(grow(&mut store, &instance, 1).unwrap(), -1);
            assert_eq!(
                store.limits().exceeded().map(|e| e.limit),
                Some(Limit::MemorySize(3 * PAGE))
            );
            // A store's own limiter comes on top: the stricter one decides.
            let mut store = limited(&engine, StoreLimits::new().memory_size(2 * PAGE));
            let instance = Linker::new(&engine)
                .instantiate(&mut store, module)
                .unwrap();
            assert_eq!(grow(&mut store, &instance, 2).unwrap(), -1);
            assert_eq!(grow(&mut store, &instance, 1).unwrap(), 1);
            assert_eq!(store.limits().exceeded(), None);
            assert!(store.data().exceeded().is_some());
            // The engine's count of instances.
            let linker = Linker::new(&engine);
            linker.instantiate(&mut store, module).unwrap();
            linker.instantiate(&mut store, module).unwrap();
            let e = linker.instantiate(&mut store, module).unwrap_err();
            assert!(e.to_string().contains("instance limit of 3"), "{e}");
        }
    }
}
