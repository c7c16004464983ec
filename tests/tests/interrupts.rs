//! Epoch interruption and fuel stop guests that would not stop on their own: an infinite
//! loop, unbounded (tail) recursion, exponential recursion and a loop of host calls; for
//! modules from artifact bytes, linked into this binary, pooled, and compiled without
//! signal-based traps. The store keeps working afterwards, fuel counts are exact and
//! repeatable, and an artifact whose settings differ from the engine's is refused.

use precast_loader::{
    AsStore, AsStoreMut, Caller, Config, Engine, Error, Instance, Linker, LoadError, Module,
    PoolConfig, Store, TrapCode, UpdateDeadline, Val, linked,
};
use std::time::Duration;

// The linked modules are bundled into this package's library: link it.
use precast_tests as _;

const WAT: &str = include_str!("../linked/interrupts.wat");

/// What the host function `tick` does on each call.
#[derive(Default)]
struct Host {
    /// Calls so far.
    ticks: u64,
    /// Advance the engine's epoch on this call.
    bump_at: Option<u64>,
}

fn settings(epoch: bool, fuel: bool, signals: bool) -> precast_compiler::Config {
    let mut c = precast_compiler::Config::default();
    if !signals {
        c.settings = precast_compiler::format::Settings::without_signals();
    }
    c.settings.epoch_interruption = epoch;
    c.settings.consume_fuel = fuel;
    c
}

/// How epoch checks are compiled (`precast compile --epoch-check`).
#[derive(Clone, Copy, Debug)]
enum Check {
    /// None in function bodies; the engine signals the running thread.
    Signal,
    /// A dead load at function entries and loop headers.
    Fault,
    /// A load of the epoch and a compare.
    Compare,
}

const CHECKS: [Check; 3] = [Check::Signal, Check::Fault, Check::Compare];

/// Epoch checks of kind `check` (where the target has it; the compiler falls back otherwise).
fn epoch_settings(check: Check) -> precast_compiler::Config {
    let mut c = settings(true, false, true);
    c.settings.epoch_probe = !matches!(check, Check::Compare);
    c.settings.epoch_signal = matches!(check, Check::Signal);
    c
}

fn load_checked(engine: &Engine, check: Check) -> Module {
    let artifact = precast_compiler::compile(WAT.as_bytes(), &epoch_settings(check)).unwrap();
    Module::from_bytes(engine, &artifact).unwrap()
}

fn engine(epoch: bool, fuel: bool) -> Engine {
    Engine::new(Config::new().epoch_interruption(epoch).consume_fuel(fuel))
}

fn load(engine: &Engine, epoch: bool, fuel: bool) -> Module {
    let artifact = precast_compiler::compile(WAT.as_bytes(), &settings(epoch, fuel, true)).unwrap();
    Module::from_bytes(engine, &artifact).unwrap()
}

fn instantiate(engine: &Engine, module: &Module) -> (Store<Host>, Instance) {
    let mut store = Store::new(engine, Host::default());
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "tick", |mut caller: Caller<'_, Host>| {
            let host = caller.data_mut();
            host.ticks += 1;
            if host.bump_at == Some(host.ticks) {
                caller.as_store().engine().increment_epoch();
            }
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, module).unwrap();
    (store, instance)
}

fn call(
    store: &mut Store<Host>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let f = instance.get_func(&*store, name).unwrap();
    let mut results = vec![Val::I64(0); f.ty(&*store).unwrap().results.len()];
    f.call(&mut *store, args, &mut results)?;
    Ok(results)
}

fn trap_code(r: Result<Vec<Val>, Error>) -> TrapCode {
    match r {
        Ok(v) => panic!("returned {v:?}, expected a trap"),
        Err(e) => e
            .as_trap()
            .map(|t| t.code())
            .unwrap_or_else(|| panic!("not a trap: {e}")),
    }
}

/// Runs `name` with a deadline one epoch away and a thread that advances the epoch after
/// 50 ms: it must trap with `Interrupt`.
fn interrupted_by_a_thread(store: &mut Store<Host>, instance: &Instance, name: &str, args: &[Val]) {
    store.set_epoch_deadline(1);
    let engine = store.engine().clone();
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        engine.increment_epoch();
    });
    assert_eq!(
        trap_code(call(store, instance, name, args)),
        TrapCode::Interrupt,
        "{name}"
    );
    timer.join().unwrap();
}

#[test]
fn the_epoch_stops_loops_recursion_and_host_call_loops() {
    for check in CHECKS {
        epoch_stops_everything(check);
    }
}

fn epoch_stops_everything(check: Check) {
    let engine = engine(true, false);
    let module = load_checked(&engine, check);
    let (mut store, instance) = instantiate(&engine, &module);
    interrupted_by_a_thread(&mut store, &instance, "spin", &[]);
    interrupted_by_a_thread(&mut store, &instance, "forever", &[]);
    interrupted_by_a_thread(&mut store, &instance, "fib", &[Val::I64(50)]);
    interrupted_by_a_thread(&mut store, &instance, "host-loop", &[]);

    // Deterministically: the host advances the epoch on its 100th call, and the check after
    // that call stops the guest (the loop header's, or with signals the exit trampoline's,
    // the signal having found the thread in the host).
    store.set_epoch_deadline(1);
    store.data_mut().ticks = 0;
    store.data_mut().bump_at = Some(100);
    let t = call(&mut store, &instance, "host-loop", &[]).unwrap_err();
    let t = t.as_trap().expect("a trap");
    assert_eq!(t.code(), TrapCode::Interrupt, "{check:?}");
    assert_eq!(store.data().ticks, 100, "{check:?}");

    // The store keeps working: a reached deadline stops the next call at its entry (for
    // `answer`, which neither calls nor loops and so has no check of its own, the loader's
    // check on entry from the host), a new one lets it run.
    assert_eq!(
        trap_code(call(&mut store, &instance, "answer", &[])),
        TrapCode::Interrupt
    );
    store.set_epoch_deadline(10);
    assert_eq!(
        call(&mut store, &instance, "answer", &[]).unwrap(),
        [Val::I32(42)]
    );
    assert_eq!(
        call(&mut store, &instance, "count", &[Val::I32(1000)]).unwrap(),
        [Val::I32(1000)]
    );
}

#[test]
fn a_deadline_callback_extends_the_deadline_or_stops_the_guest() {
    for check in CHECKS {
        callback_extends_or_stops(check);
    }
}

fn callback_extends_or_stops(check: Check) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let engine = engine(true, false);
    let module = load_checked(&engine, check);
    let (mut store, instance) = instantiate(&engine, &module);
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    store.epoch_deadline_callback(move |caller| {
        assert_eq!(caller.data().ticks, 0, "the callback sees the store's data");
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(if n < 5 {
            UpdateDeadline::Continue(1)
        } else {
            UpdateDeadline::Interrupt
        })
    });
    store.set_epoch_deadline(1);
    // Each advance of the epoch reaches the (extended) deadline once.
    let ticker = engine.clone();
    let ticks = std::thread::spawn(move || {
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(2));
            ticker.increment_epoch();
        }
    });
    let r = call(&mut store, &instance, "spin", &[]);
    ticks.join().unwrap();
    assert_eq!(trap_code(r), TrapCode::Interrupt);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        5,
        "{check:?}: extended four times, then stopped"
    );

    // A callback's error is what the guest traps with.
    store.epoch_deadline_callback(|_| Err(Error::Api("stopped by the embedder".into())));
    store.set_epoch_deadline(0);
    let e = call(&mut store, &instance, "spin", &[]).unwrap_err();
    assert!(e.to_string().contains("stopped by the embedder"), "{e}");
    // Back to trapping.
    store.epoch_deadline_trap();
    assert_eq!(
        trap_code(call(&mut store, &instance, "spin", &[])),
        TrapCode::Interrupt
    );
}

/// Modules of every kind of check in one store, calling each other: each stops, whichever
/// module's trampolines the store uses for a type they share.
#[test]
fn a_store_mixing_kinds_of_checks_stops_each() {
    let engine = engine(true, false);
    let mut store = Store::new(&engine, Host::default());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "tick", |_: Caller<'_, Host>| {})
        .unwrap();
    // Compare first: its trampolines serve the types the others share with it.
    let instances: Vec<Instance> = [Check::Compare, Check::Signal, Check::Fault]
        .iter()
        .map(|&c| {
            linker
                .instantiate(&mut store, &load_checked(&engine, c))
                .unwrap()
        })
        .collect();
    for (instance, check) in instances
        .iter()
        .zip([Check::Compare, Check::Signal, Check::Fault])
    {
        for name in ["spin", "forever", "host-loop"] {
            interrupted_by_a_thread(&mut store, instance, name, &[]);
        }
        store.set_epoch_deadline(u64::MAX / 2);
        assert_eq!(
            call(&mut store, instance, "count", &[Val::I32(1000)]).unwrap(),
            [Val::I32(1000)],
            "{check:?}"
        );
    }
}

/// Preemption signals that do not come from a reached deadline (sent by someone else, or
/// late) change nothing: the guest runs on and computes what it would have.
#[test]
fn stray_preemption_signals_are_harmless() {
    let engine = engine(true, false);
    let module = load_checked(&engine, Check::Signal);
    let (mut store, instance) = instantiate(&engine, &module);
    store.set_epoch_deadline(u64::MAX / 2);
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let sender = std::thread::spawn(move || {
        let mut sent = 0u32;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: signals this process's test thread, which has the loader's handler.
            unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGURG) };
            sent += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        sent
    });
    for _ in 0..20 {
        assert_eq!(
            call(&mut store, &instance, "count", &[Val::I32(10_000_000)]).unwrap(),
            [Val::I32(10_000_000)]
        );
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(sender.join().unwrap() > 0);
}

#[test]
fn fuel_stops_loops_recursion_and_host_call_loops() {
    let engine = engine(false, true);
    let module = load(&engine, false, true);
    let (mut store, instance) = instantiate(&engine, &module);
    for (name, args) in [
        ("spin", vec![]),
        ("forever", vec![]),
        ("fib", vec![Val::I64(50)]),
        ("host-loop", vec![]),
    ] {
        store.set_fuel(100_000).unwrap();
        assert_eq!(
            trap_code(call(&mut store, &instance, name, &args)),
            TrapCode::OutOfFuel,
            "{name}"
        );
        assert_eq!(store.get_fuel().unwrap(), 0, "{name}");
    }
    // The store keeps working after running out.
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(
        call(&mut store, &instance, "answer", &[]).unwrap(),
        [Val::I32(42)]
    );
    assert_eq!(
        call(&mut store, &instance, "count", &[Val::I32(1000)]).unwrap(),
        [Val::I32(1000)]
    );
}

/// The fuel `count(n)` uses in a fresh store of `module`.
fn count_cost(engine: &Engine, module: &Module, n: i32) -> u64 {
    let (mut store, instance) = instantiate(engine, module);
    store.set_fuel(u64::MAX / 2).unwrap();
    call(&mut store, &instance, "count", &[Val::I32(n)]).unwrap();
    u64::MAX / 2 - store.get_fuel().unwrap()
}

#[test]
fn fuel_counts_are_exact_and_repeatable() {
    let engine = engine(false, true);
    let a = load(&engine, false, true);
    let b = load(&engine, false, true);
    let costs: Vec<u64> = [0, 1, 10, 100]
        .iter()
        .map(|&n| count_cost(&engine, &a, n))
        .collect();
    // count(n): per iteration `local.get local.get i32.ge_u br_if local.get i32.const i32.add
    // local.set br` (9 units; `loop` is free), then the exit: 4 for the last test and `local.get`.
    assert_eq!(costs[1] - costs[0], 9, "{costs:?}");
    assert_eq!(costs[2] - costs[0], 90, "{costs:?}");
    assert_eq!(costs[3] - costs[0], 900, "{costs:?}");
    for n in [0, 1, 10, 100] {
        assert_eq!(
            count_cost(&engine, &a, n),
            count_cost(&engine, &b, n),
            "a second load"
        );
        assert_eq!(
            count_cost(&engine, &a, n),
            count_cost(&engine, &a, n),
            "a second run"
        );
    }
    // The budget that exactly suffices runs; one unit less traps, at the same point.
    let exact = costs[3];
    let (mut store, instance) = instantiate(&engine, &a);
    store.set_fuel(exact).unwrap();
    call(&mut store, &instance, "count", &[Val::I32(100)]).unwrap();
    assert_eq!(store.get_fuel().unwrap(), 0);
    for _ in 0..3 {
        store.set_fuel(exact - 10).unwrap();
        let r = call(&mut store, &instance, "count", &[Val::I32(100)]);
        assert_eq!(trap_code(r), TrapCode::OutOfFuel);
    }
}

#[test]
fn a_host_function_can_refuel_the_guest() {
    let engine = engine(false, true);
    let module = load(&engine, false, true);
    let mut store = Store::new(&engine, Host::default());
    let mut linker = Linker::new(&engine);
    // The host refuels on each of its first 999 calls; an iteration costs 2 (`call`, `br`),
    // so the last 50 units last 25 more calls.
    linker
        .func_wrap("host", "tick", |mut caller: Caller<'_, Host>| {
            caller.data_mut().ticks += 1;
            if caller.data().ticks < 1000 {
                caller.as_store_mut().set_fuel(50).unwrap();
            }
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    store.set_fuel(50).unwrap();
    let r = call(&mut store, &instance, "host-loop", &[]);
    assert_eq!(trap_code(r), TrapCode::OutOfFuel);
    assert_eq!(store.data().ticks, 999 + 25);
}

#[test]
fn both_together_and_without_signals() {
    // Explicit bounds checks and every trap raised by a call: the checks' traps too.
    let engine = Engine::new(
        Config::new()
            .signal_handlers(cfg!(target_os = "linux"))
            .epoch_interruption(true)
            .consume_fuel(true),
    );
    let artifact = precast_compiler::compile(WAT.as_bytes(), &settings(true, true, false)).unwrap();
    let module = Module::from_bytes(&engine, &artifact).unwrap();
    let (mut store, instance) = instantiate(&engine, &module);
    store.set_fuel(u64::MAX / 2).unwrap();
    interrupted_by_a_thread(&mut store, &instance, "spin", &[]);
    store.set_epoch_deadline(u64::MAX / 2);
    store.set_fuel(10_000).unwrap();
    assert_eq!(
        trap_code(call(&mut store, &instance, "forever", &[])),
        TrapCode::OutOfFuel
    );
}

#[test]
fn linked_and_pooled_modules_are_stopped_too() {
    for pooled in [false, true] {
        let mut config = Config::new();
        config.epoch_interruption(true).consume_fuel(true);
        if pooled {
            config.pooling(PoolConfig::default());
        }
        let engine = Engine::try_new(&config).unwrap();
        let module = Module::from_linked(&engine, linked!(interrupts)).unwrap();
        for _ in 0..2 {
            let (mut store, instance) = instantiate(&engine, &module);
            store.set_fuel(u64::MAX / 2).unwrap();
            interrupted_by_a_thread(&mut store, &instance, "spin", &[]);
            store.set_epoch_deadline(u64::MAX / 2);
            store.set_fuel(10_000).unwrap();
            assert_eq!(
                trap_code(call(&mut store, &instance, "spin", &[])),
                TrapCode::OutOfFuel
            );
            store.set_fuel(10_000).unwrap();
            assert_eq!(
                call(&mut store, &instance, "answer", &[]).unwrap(),
                [Val::I32(42)]
            );
        }
    }
}

#[test]
fn settings_that_differ_from_the_engine_are_refused() {
    for (compiled, engine_has) in [
        ((true, false), (false, false)),
        ((false, false), (true, false)),
        ((false, true), (false, false)),
        ((false, false), (false, true)),
    ] {
        let engine = engine(engine_has.0, engine_has.1);
        let artifact =
            precast_compiler::compile(WAT.as_bytes(), &settings(compiled.0, compiled.1, true))
                .unwrap();
        let e = Module::from_bytes(&engine, &artifact).unwrap_err();
        let what = if compiled.0 != engine_has.0 {
            "epoch interruption"
        } else {
            "fuel"
        };
        match &e {
            Error::Load(LoadError::Settings(m)) => assert!(m.contains(what), "{m}"),
            other => panic!("{compiled:?} on {engine_has:?}: {other}"),
        }
    }
    // Fuel calls on an engine without fuel are errors, not no-ops.
    let engine = engine(false, false);
    let mut store = Store::new(&engine, ());
    assert!(store.set_fuel(1).is_err());
    assert!(store.get_fuel().is_err());
}
