//! 64-bit memories past 4 GiB: a memory64 memory reserves room to grow to its maximum (up to
//! `Config::memory64_reservation`), so wasm and the host use it beyond the 32-bit range:
//! loads, stores, `memory.fill` / `memory.copy` across the 4 GiB line, `memory.size`, a trap
//! just past the end, and growth refused beyond the maximum or the configured reservation.
//! With signal-based traps and without; defined and imported (host-created) memories; a
//! reservation larger than the address space falls back to the default one.

use precast_loader::{Config, Engine, Linker, Memory, MemoryType, Module, Store, TypedFunc};

// The linked modules are bundled into this package's library: link it.
use precast_tests as _;

const GIB: u64 = 1 << 30;
const PAGE: u64 = 65536;
const HALF_MIB: u64 = 1 << 19;
/// Pages of 4 GiB.
const PAGES_4G: u64 = (4 * GIB) / PAGE;

/// `$mem` is defined (maximum 6 GiB) or imported as `env.mem`.
fn wat(memory: &str) -> String {
    format!(
        r#"(module
  {memory}
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "size") (result i64) (memory.size))
  (func (export "store") (param i64 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "load") (param i64) (result i64) (i64.load (local.get 0)))
  (func (export "load8") (param i64) (result i32) (i32.load8_u (local.get 0)))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2))))"#
    )
}

fn compile(wat: &str, signals: bool) -> Vec<u8> {
    let mut c = precast_compiler::Config::default();
    if !signals {
        c.settings = precast_compiler::format::Settings::without_signals();
    }
    precast_compiler::compile(wat.as_bytes(), &c).unwrap()
}

struct Exports {
    grow: TypedFunc<i64, i64>,
    size: TypedFunc<(), i64>,
    store: TypedFunc<(i64, i64), ()>,
    load: TypedFunc<i64, i64>,
    load8: TypedFunc<i64, i32>,
    fill: TypedFunc<(i64, i32, i64), ()>,
    copy: TypedFunc<(i64, i64, i64), ()>,
}

fn exports(store: &Store<()>, instance: &precast_loader::Instance) -> Exports {
    Exports {
        grow: instance.get_typed_func(store, "grow").unwrap(),
        size: instance.get_typed_func(store, "size").unwrap(),
        store: instance.get_typed_func(store, "store").unwrap(),
        load: instance.get_typed_func(store, "load").unwrap(),
        load8: instance.get_typed_func(store, "load8").unwrap(),
        fill: instance.get_typed_func(store, "fill").unwrap(),
        copy: instance.get_typed_func(store, "copy").unwrap(),
    }
}

/// What a memory grown to `pages` (past 4 GiB) holds and refuses, through wasm.
fn exercise(store: &mut Store<()>, e: &Exports, pages: u64) {
    let end = pages * PAGE;
    let high = 4 * GIB + 4096 + 8;
    assert_eq!(e.size.call(&mut *store, ()).unwrap(), pages as i64);
    e.store
        .call(&mut *store, (high as i64, 0x1122_3344_5566_7788))
        .unwrap();
    assert_eq!(
        e.load.call(&mut *store, high as i64).unwrap(),
        0x1122_3344_5566_7788
    );
    // The last 8 bytes, then one byte past the end.
    e.store.call(&mut *store, (end as i64 - 8, -1)).unwrap();
    assert_eq!(e.load.call(&mut *store, end as i64 - 8).unwrap(), -1);
    let err = e.load.call(&mut *store, end as i64 - 7).unwrap_err();
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{err}"
    );
    // Fill 64 bytes across the 4 GiB line, copy them further up.
    let line = 4 * GIB;
    e.fill
        .call(&mut *store, (line as i64 - 32, 0xab, 64))
        .unwrap();
    e.copy
        .call(
            &mut *store,
            (line as i64 + HALF_MIB as i64, line as i64 - 32, 64),
        )
        .unwrap();
    for at in [
        line - 32,
        line - 1,
        line,
        line + 31,
        line + HALF_MIB,
        line + HALF_MIB + 63,
    ] {
        assert_eq!(
            e.load8.call(&mut *store, at as i64).unwrap(),
            0xab,
            "{at:#x}"
        );
    }
    assert_eq!(e.load8.call(&mut *store, (line + 32) as i64).unwrap(), 0);
    let err = e
        .fill
        .call(&mut *store, (end as i64 - 10, 1, 11))
        .unwrap_err();
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{err}"
    );
}

#[test]
fn a_defined_memory64_grows_past_4_gib() {
    let engine = Engine::default();
    let wat = wat(r#"(memory (export "mem") i64 1 98304)"#);
    for signals in [true, false] {
        let module = Module::from_bytes(&engine, &compile(&wat, signals)).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let e = exports(&store, &instance);
        // To 4 GiB + 1 MiB, then to the 6 GiB maximum; one page more is refused.
        assert_eq!(e.grow.call(&mut store, (PAGES_4G + 15) as i64).unwrap(), 1);
        exercise(&mut store, &e, PAGES_4G + 16);
        assert_eq!(
            e.grow
                .call(&mut store, 98304 - (PAGES_4G + 16) as i64)
                .unwrap(),
            (PAGES_4G + 16) as i64
        );
        assert_eq!(
            e.grow.call(&mut store, 1).unwrap(),
            -1,
            "signals: {signals}"
        );
        // The host sees the same bytes past 4 GiB.
        let mem = instance.get_memory(&store, "mem").unwrap();
        let mut buf = [0u8; 8];
        mem.read(&store, 4 * GIB + 4096 + 8, &mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), 0x1122_3344_5566_7788);
    }
}

#[test]
fn an_imported_host_memory64_grows_past_4_gib() {
    let engine = Engine::default();
    let wat = wat(r#"(import "env" "mem" (memory i64 1))"#);
    for signals in [true, false] {
        let module = Module::from_bytes(&engine, &compile(&wat, signals)).unwrap();
        let mut store = Store::new(&engine, ());
        let mem = Memory::new(&mut store, MEMORY64).unwrap();
        // The host grows it past 4 GiB; wasm uses it.
        assert_eq!(mem.grow(&mut store, PAGES_4G + 15).unwrap(), 1);
        let mut linker = Linker::new(&engine);
        linker.define(&store, "env", "mem", mem).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let e = exports(&store, &instance);
        exercise(&mut store, &e, PAGES_4G + 16);
    }
}

/// An unbounded 64-bit memory (of 1 page) in an engine whose memory64 reservation is
/// `reservation`.
fn unbounded(reservation: u64) -> (Store<()>, Exports) {
    let mut config = Config::default();
    config.memory64_reservation(reservation);
    let engine = Engine::new(&config);
    let module = Module::from_bytes(&engine, &compile(&wat(r#"(memory i64 1)"#), true)).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let e = exports(&store, &instance);
    (store, e)
}

/// A 64-bit memory type of 1 page without a maximum.
const MEMORY64: MemoryType = MemoryType {
    minimum: 1,
    maximum: None,
    memory64: true,
    shared: false,
    page_size_log2: 16,
};

#[test]
fn the_memory64_reservation_bounds_growth() {
    // A 64-bit memory without a maximum grows as far as the configured reservation.
    let (mut store, e) = unbounded(5 * GIB);
    let five = (5 * GIB / PAGE) as i64;
    assert_eq!(e.grow.call(&mut store, five).unwrap(), -1, "one page over");
    assert_eq!(e.grow.call(&mut store, five - 1).unwrap(), 1);
    assert_eq!(e.size.call(&mut store, ()).unwrap(), five);
    assert_eq!(e.grow.call(&mut store, 1).unwrap(), -1);
    // More address space than the machine has: the memory falls back to the 4 GiB of the
    // others instead of failing.
    for too_much in [1 << 56, u64::MAX] {
        let (mut store, e) = unbounded(too_much);
        assert_eq!(e.grow.call(&mut store, PAGES_4G as i64).unwrap(), -1);
        assert_eq!(e.grow.call(&mut store, PAGES_4G as i64 - 1).unwrap(), 1);
        let mem = Memory::new(&mut store, MEMORY64).unwrap();
        assert_eq!(mem.grow(&mut store, PAGES_4G - 1).unwrap(), 1);
    }
    // Below the default reservation the setting changes nothing: 4 GiB at least.
    let (mut store, e) = unbounded(0);
    assert_eq!(e.grow.call(&mut store, PAGES_4G as i64 - 1).unwrap(), 1);
    assert_eq!(e.grow.call(&mut store, 1).unwrap(), -1);
}
