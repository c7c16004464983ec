//! Inlining (`Config::inlining`, on by default): a module whose small helpers are inlined
//! computes what it computes without inlining, traps inside inlined callees keep their codes
//! (with signal-based traps and without), fuel counts are the same to the unit, and epoch
//! checks inside an inlined callee's loop still stop it. Backtraces are the same as without
//! inlining: an inlined callee is a frame of its own, at the same pc as the frame it was
//! inlined into, which is how the tests see that inlining happened.

use precast_loader::{
    Caller, Config, Engine, Error, Instance, Linker, Module, Store, TrapCode, Val,
};
use std::time::Duration;

const WAT: &str = r#"
(module $inl
  (import "host" "tick" (func $tick))
  (type $ii (func (param i32) (result i32)))
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $double $bump)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $bump (type $ii)
    (global.set $g (i32.add (global.get $g) (local.get 0)))
    (global.get $g))
  (func $div (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $load (param i32) (result i32) (i32.load offset=4 (local.get 0)))
  (func $store (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func $pair (param i32) (result i32 i32) (local.get 0) (i32.add (local.get 0) (i32.const 1)))
  (func $indirect (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 0) (local.get 1)))
  (func $ticked (param i32) (result i32) (call $tick) (i32.add (local.get 0) (i32.const 1)))
  (func $trunc (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func $never (unreachable))
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $spin_forever (loop $l (br $l)))
  (func $countdown (param i32) (result i32)
    (loop $l (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 0))

  (func $sum (export "sum") (param $n i32) (result i32) (local $acc i32) (local $i i32)
    (loop $l
      (call $store (i32.mul (local.get $i) (i32.const 4)) (local.get $i))
      (local.set $acc (i32.add (local.get $acc) (call $double (local.get $i))))
      (local.set $acc (i32.add (local.get $acc)
        (call $div (i32.add (local.get $i) (i32.const 7)) (i32.const 3))))
      (local.set $acc (i32.add (local.get $acc) (call $load (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $acc (i32.xor (local.get $acc) (i32.mul (call $pair (local.get $i)))))
      (local.set $acc (i32.add (local.get $acc)
        (call $indirect (local.get $i) (i32.and (local.get $i) (i32.const 1)))))
      (local.set $acc (i32.add (local.get $acc) (call $countdown (i32.const 3))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i32.add (local.get $acc) (global.get $g)))
  (func $e_div (export "div") (param i32 i32) (result i32)
    (i32.add (call $div (local.get 0) (local.get 1)) (i32.const 1)))
  (func $e_load (export "load") (param i32) (result i32) (call $load (local.get 0)))
  (func $e_store (export "store") (param i32 i32) (call $store (local.get 0) (local.get 1)))
  (func $e_trunc (export "trunc") (param f64) (result i32) (call $trunc (local.get 0)))
  (func $e_never (export "never") (call $never))
  (func $e_indirect (export "indirect") (param i32 i32) (result i32)
    (call $indirect (local.get 0) (local.get 1)))
  (func $e_ticked (export "ticked") (param i32) (result i32) (local $i i32)
    (loop $l
      (local.set 0 (call $ticked (local.get 0)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 5))))
    (local.get 0))
  (func $e_fib (export "fib") (param i32) (result i32) (call $fib (local.get 0)))
  (func $e_spin (export "spin") (call $spin_forever))
  (func $e_count_then_spin (export "count-then-spin") (param i32)
    (loop $a (br_if $a (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (drop (call $countdown (i32.const 10)))
    (call $spin_forever)))
"#;

fn config(inlining: bool, signals: bool) -> precast_compiler::Config {
    let mut c = precast_compiler::Config {
        inlining,
        ..precast_compiler::Config::default()
    };
    if !signals {
        c.settings = precast_compiler::format::Settings::without_signals();
    }
    c
}

fn engine_for(c: &precast_compiler::Config) -> Engine {
    let mut config = Config::new();
    config
        .signal_handlers(c.settings.signals_based_traps)
        .epoch_interruption(c.settings.epoch_interruption)
        .consume_fuel(c.settings.consume_fuel);
    Engine::new(&config)
}

fn instantiate(c: &precast_compiler::Config) -> (Store<u32>, Instance) {
    let engine = engine_for(c);
    let artifact = precast_compiler::compile(WAT.as_bytes(), c).unwrap();
    let module = Module::from_bytes(&engine, &artifact).unwrap();
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "tick", |mut caller: Caller<'_, u32>| {
            *caller.data_mut() += 1;
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

fn call(
    store: &mut Store<u32>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let f = instance.get_func(&*store, name).unwrap();
    let mut results = vec![Val::I32(0); f.ty(&*store).unwrap().results.len()];
    f.call(&mut *store, args, &mut results)?;
    Ok(results)
}

/// Code and frame names of a trapping call.
/// The trap of the call, its backtrace's function names and whether its innermost frame
/// was inlined into the next (both at one pc).
fn trap(
    store: &mut Store<u32>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> (TrapCode, Vec<String>, bool) {
    match call(store, instance, name, args) {
        Ok(v) => panic!("{name}{args:?} returned {v:?}, expected a trap"),
        Err(e) => {
            let t = e
                .as_trap()
                .unwrap_or_else(|| panic!("{name}{args:?}: not a trap: {e}"));
            let bt = t.backtrace();
            (
                t.code(),
                bt.iter().map(|f| f.display_name()).collect(),
                bt.len() >= 2 && bt[0].text_offset == bt[1].text_offset,
            )
        }
    }
}

use Val::{F64, I32};

/// The calls whose results are compared.
fn returning() -> Vec<(&'static str, Vec<Val>)> {
    vec![
        ("sum", vec![I32(1)]),
        ("sum", vec![I32(100)]),
        ("div", vec![I32(-7), I32(2)]),
        ("load", vec![I32(0)]),
        ("indirect", vec![I32(21), I32(0)]),
        ("indirect", vec![I32(21), I32(1)]),
        ("ticked", vec![I32(10)]),
        ("fib", vec![I32(15)]),
        ("trunc", vec![F64((-3.7f64).to_bits())]),
    ]
}

/// The trapping calls: code, and the innermost frame with inlining (the inlined helper's
/// caller) and without (the helper).
fn trapping() -> Vec<(&'static str, Vec<Val>, TrapCode, &'static str, &'static str)> {
    vec![
        (
            "div",
            vec![I32(1), I32(0)],
            TrapCode::IntegerDivisionByZero,
            "e_div",
            "div",
        ),
        (
            "div",
            vec![I32(i32::MIN), I32(-1)],
            TrapCode::IntegerOverflow,
            "e_div",
            "div",
        ),
        (
            "load",
            vec![I32(65533)],
            TrapCode::MemoryOutOfBounds,
            "e_load",
            "load",
        ),
        (
            "store",
            vec![I32(-4), I32(1)],
            TrapCode::MemoryOutOfBounds,
            "e_store",
            "store",
        ),
        (
            "trunc",
            vec![F64(f64::NAN.to_bits())],
            TrapCode::BadConversionToInteger,
            "e_trunc",
            "trunc",
        ),
        (
            "trunc",
            vec![F64(1e10f64.to_bits())],
            TrapCode::IntegerOverflow,
            "e_trunc",
            "trunc",
        ),
        (
            "never",
            vec![],
            TrapCode::UnreachableCodeReached,
            "e_never",
            "never",
        ),
        (
            "indirect",
            vec![I32(1), I32(5)],
            TrapCode::UndefinedElement,
            "e_indirect",
            "indirect",
        ),
    ]
}

#[test]
fn inlined_code_computes_the_same_and_traps_with_the_same_codes() {
    for signals in [true, false] {
        let (mut plain_store, plain) = instantiate(&config(false, signals));
        let (mut store, inlined) = instantiate(&config(true, signals));
        for (name, args) in returning() {
            let want = call(&mut plain_store, &plain, name, &args).unwrap();
            let got = call(&mut store, &inlined, name, &args).unwrap();
            assert_eq!(got, want, "{name}{args:?} (signals: {signals})");
        }
        assert_eq!(store.data(), plain_store.data(), "host calls");
        for (name, args, code, inlined_frame, plain_frame) in trapping() {
            let (c, plain_frames, at_one_pc) = trap(&mut plain_store, &plain, name, &args);
            assert_eq!(c, code, "{name}{args:?} without inlining");
            assert_eq!(
                plain_frames,
                [plain_frame, inlined_frame],
                "{plain_frames:?}"
            );
            assert!(!at_one_pc);
            let (c, frames, at_one_pc) = trap(&mut store, &inlined, name, &args);
            assert_eq!(c, code, "{name}{args:?} inlined (signals: {signals})");
            // The same frames; the helper's was inlined into its caller's.
            assert_eq!(frames, plain_frames, "{name}{args:?} (signals: {signals})");
            assert!(at_one_pc, "{name}{args:?} inlined (signals: {signals})");
        }
        // Recursion is not inlined into itself: deep recursion still overflows the stack.
        let (c, _, _) = trap(&mut store, &inlined, "fib", &[I32(-1)]);
        assert_eq!(c, TrapCode::StackOverflow);
        // And the instance keeps working.
        assert_eq!(
            call(&mut store, &inlined, "fib", &[I32(10)]).unwrap(),
            [I32(55)]
        );
    }
}

/// Fuel `name(args)` uses in `store`, and the result.
fn fuel_of(store: &mut Store<u32>, instance: &Instance, name: &str, args: &[Val]) -> u64 {
    store.set_fuel(u64::MAX / 2).unwrap();
    call(store, instance, name, args).unwrap();
    u64::MAX / 2 - store.get_fuel().unwrap()
}

#[test]
fn inlined_calls_cost_the_fuel_of_the_calls() {
    for signals in [true, false] {
        let fuel = |inlining| {
            let mut c = config(inlining, signals);
            c.settings.consume_fuel = true;
            c
        };
        let (mut plain_store, plain) = instantiate(&fuel(false));
        let (mut store, inlined) = instantiate(&fuel(true));
        // Inlining happened.
        let (_, frames, at_one_pc) = trap(&mut store, &inlined, "never", &[]);
        assert_eq!(frames, ["never", "e_never"]);
        assert!(at_one_pc);
        for (name, args) in returning() {
            let want = fuel_of(&mut plain_store, &plain, name, &args);
            let got = fuel_of(&mut store, &inlined, name, &args);
            assert_eq!(got, want, "{name}{args:?} (signals: {signals})");
            // Any budget runs out at the same check either way (fuel is checked at function
            // entries and loop headers), leaving the same fuel when it suffices.
            for budget in [want, want - 1, want / 2, 1] {
                let exact = budget == want;
                let outcome = |store: &mut Store<u32>, instance: &Instance| {
                    store.set_fuel(budget).unwrap();
                    match call(store, instance, name, &args) {
                        Ok(v) => Ok((v, store.get_fuel().unwrap())),
                        Err(e) => Err(e.as_trap().map(|t| t.code())),
                    }
                };
                let want = outcome(&mut plain_store, &plain);
                let got = outcome(&mut store, &inlined);
                assert_eq!(
                    got, want,
                    "{name}{args:?} with {budget} fuel (signals: {signals})"
                );
                assert!(!exact || got.is_ok_and(|(_, left)| left == 0));
            }
        }
    }
}

#[test]
fn epoch_checks_stop_a_loop_inlined_into_a_loop() {
    // (probe, signal): fault-based, signal-interrupted, load and compare; with and without
    // signal-based traps (the latter compares).
    for (probe, signal, signals) in [
        (true, false, true),
        (true, true, true),
        (false, false, true),
        (false, false, false),
    ] {
        let mut c = config(true, signals);
        c.settings.epoch_interruption = true;
        c.settings.epoch_probe = probe;
        c.settings.epoch_signal = signal;
        let (mut store, instance) = instantiate(&c);
        for (name, args) in [("spin", vec![]), ("count-then-spin", vec![I32(100)])] {
            store.set_epoch_deadline(1);
            let engine = store.engine().clone();
            let timer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                engine.increment_epoch();
            });
            let (code, frames, at_one_pc) = trap(&mut store, &instance, name, &args);
            timer.join().unwrap();
            assert_eq!(
                code,
                TrapCode::Interrupt,
                "{name} (probe {probe}, signal {signal})"
            );
            assert_eq!(frames.len(), 2, "{name}: {frames:?}");
            assert!(at_one_pc, "{name}: inlined ({frames:?})");
        }
    }
}
