//! Modules linked into this test binary by `tests/build.rs` (through `precast-build`) behave
//! exactly like the same modules loaded from artifacts: images, tables, globals, segments,
//! traps with names, pooling, verification, shared memories across threads.

use precast_loader::Val::I32;
use precast_loader::{
    Config, Engine, Linker, Module, PoolConfig, SharedMemory, Store, TrapCode, Val, linked,
};
use precast_tests::harness::{TestInstance, shared_type};

const IMAGES: &str = include_str!("../linked/images.wat");

fn instance(engine: &Engine, module: &Module) -> TestInstance {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine)
        .instantiate(&mut store, module)
        .expect("instantiate");
    TestInstance { store, instance }
}

fn i32s(i: &mut TestInstance, name: &str, args: &[Val]) -> i32 {
    match i.call(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))[..] {
        [I32(v)] => v,
        ref other => panic!("{name} returned {other:?}"),
    }
}

fn bytes(i: &mut TestInstance, at: i32, len: i32) -> Vec<u8> {
    (at..at + len)
        .map(|a| i32s(i, "byte", &[I32(a)]) as u8)
        .collect()
}

fn trap_code(i: &mut TestInstance, name: &str, args: &[Val]) -> TrapCode {
    let e = i.call(name, args).unwrap_err();
    e.as_trap()
        .map(|t| t.code())
        .unwrap_or_else(|| panic!("{e}"))
}

/// Everything the module does, checked on one instance.
fn exercise(i: &mut TestInstance) {
    assert_eq!(bytes(i, 16, 5), b"first");
    assert_eq!(bytes(i, 70000, 11), b"second page");
    assert_eq!(i32s(i, "call", &[I32(1)]), 7);
    assert_eq!(i32s(i, "call", &[I32(2)]), 8);
    assert_eq!(
        trap_code(i, "call", &[I32(0)]),
        TrapCode::IndirectCallToNull
    );
    let g = i.instance.get_global(&i.store, "g").expect("global g");
    assert_eq!(g.get(&i.store), I32(42));
    i.call("init", &[I32(100)]).unwrap();
    assert_eq!(bytes(i, 100, 7), b"passive");
    assert_eq!(
        trap_code(i, "byte", &[I32(2 * 65536)]),
        TrapCode::MemoryOutOfBounds
    );
}

#[test]
fn linked_module_is_the_artifact_it_was_compiled_as() {
    let engine = Engine::default();
    let linked = Module::from_linked(&engine, linked!(images)).unwrap();
    // The same module compiled to an artifact with the same settings (precast-build's
    // default: the portable baseline CPU) has the same header: same code, same tables,
    // same data, same checksums but the one over all sections: a linked module's frames are
    // in the executable's `.eh_frame`, an artifact's in its `.precast.unwind`.
    let config = precast_compiler::Config {
        cpu: precast_compiler::CpuTarget::Baseline,
        ..precast_compiler::Config::default()
    };
    let artifact = precast_compiler::compile(IMAGES.as_bytes(), &config).unwrap();
    let file = Module::from_bytes(&engine, &artifact).unwrap();
    let unwind_apart = |m: &Module| precast_format::Header {
        sections_checksum: 0,
        ..m.header().clone()
    };
    assert_eq!(unwind_apart(&linked), unwind_apart(&file));
    assert_ne!(linked.header(), file.header());
    assert_eq!(linked.text_size(), file.text_size());
    let exports = |m: &Module| -> Vec<String> { m.exports().map(|e| e.name.to_string()).collect() };
    assert_eq!(exports(&linked), exports(&file));
    assert_eq!(linked.name(), Some("images"));
    linked.verify_integrity().unwrap();
    for module in [&linked, &file] {
        exercise(&mut instance(&engine, module));
    }
}

#[test]
fn every_instance_starts_from_the_image() {
    for engine in [
        Engine::default(),
        Engine::try_new(Config::new().pooling(PoolConfig {
            instances: 2,
            memories: 2,
            tables: 2,
            ..PoolConfig::default()
        }))
        .unwrap(),
    ] {
        let module = Module::from_linked(&engine, linked!(images)).unwrap();
        for _ in 0..3 {
            let mut i = instance(&engine, &module);
            assert_eq!(bytes(&mut i, 16, 5), b"first");
            i.call("set", &[I32(16), I32(i32::from(b'F'))]).unwrap();
            i.call("set", &[I32(70000), I32(i32::from(b'S'))]).unwrap();
            assert_eq!(bytes(&mut i, 16, 1), b"F");
        }
    }
}

#[test]
fn integrity_check_of_linked_modules() {
    let engine = Engine::default();
    let module = Module::from_linked(&engine, linked!(images)).unwrap();
    module.verify_integrity().unwrap();
    exercise(&mut instance(&engine, &module));
    let native = Module::from_linked(&engine, linked!(images_native)).unwrap();
    assert!(
        native.header().cpu_features.0 & !module.header().cpu_features.0 != 0 || {
            // A build machine with no feature beyond the baseline compiles the same code.
            native.header().cpu_features == module.header().cpu_features
        }
    );
    exercise(&mut instance(&engine, &native));
}

#[test]
fn traps_name_the_linked_functions_and_survive_a_second_load() {
    let engine = Engine::default();
    let first = Module::from_linked(&engine, linked!(images)).unwrap();
    let second = Module::from_linked(&engine, linked!(images)).unwrap();
    assert!(!Module::same(&first, &second));
    let mut a = instance(&engine, &first);
    let mut b = instance(&engine, &second);
    // Dropping one load of the descriptor leaves the other's code registered.
    drop(first);
    for i in [&mut a, &mut b] {
        let e = i.call("crash", &[]).unwrap_err();
        let trap = e.as_trap().unwrap_or_else(|| panic!("{e}"));
        assert_eq!(trap.code(), TrapCode::UnreachableCodeReached);
        let names: Vec<String> = trap.backtrace().iter().map(|f| f.display_name()).collect();
        assert_eq!(names, ["deep", "deep", "deep", "deep", "crash"]);
        assert!(
            trap.backtrace()
                .iter()
                .all(|f| f.module_name.as_deref() == Some("images"))
        );
        assert_eq!(bytes(i, 16, 5), b"first");
    }
}

#[test]
fn shared_memory_across_threads() {
    let engine = Engine::default();
    let module = Module::from_linked(&engine, linked!(threads)).unwrap();
    let memory = SharedMemory::new(&engine, shared_type()).unwrap();
    let attached = |memory: &SharedMemory| {
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        let m = memory.attach(&mut store).unwrap();
        linker.define(&store, "env", "memory", m).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        TestInstance { store, instance }
    };
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut i = attached(&memory);
                i.call("inc", &[I32(25_000)]).unwrap();
            });
        }
    });
    assert_eq!(i32s(&mut attached(&memory), "get", &[]), 100_000);
}

#[test]
fn a_resident_copied_image_is_reset_for_another_module() {
    // One slot: every instance below gets the same memory.
    let engine = Engine::try_new(Config::new().pooling(PoolConfig {
        instances: 1,
        memories: 1,
        tables: 1,
        ..PoolConfig::default()
    }))
    .unwrap();
    let linked = Module::from_linked(&engine, linked!(images)).unwrap();
    let blank = Module::from_bytes(
        &engine,
        &precast_tests::harness::artifact(
            r#"(module (memory 2) (func (export "byte") (param i32) (result i32)
                 (i32.load8_u (local.get 0))))"#,
        ),
    )
    .unwrap();
    for _ in 0..2 {
        let mut i = instance(&engine, &linked);
        assert_eq!(bytes(&mut i, 16, 5), b"first");
        i.call("set", &[I32(17), I32(0x55)]).unwrap();
        i.call("set", &[I32(5000), I32(0x66)]).unwrap();
        drop(i);
        let mut b = instance(&engine, &blank);
        assert_eq!(bytes(&mut b, 16, 5), [0; 5]);
        assert_eq!(bytes(&mut b, 5000, 1), [0]);
        assert_eq!(bytes(&mut b, 70000, 6), [0; 6]);
    }
}
