//! Code compiled without signal-based traps (`precast compile --no-signals`) on an engine that
//! installs no signal handlers (`Config::signal_handlers(false)`).
//!
//! The proof that no trap depends on a fault: a child process puts SIGSEGV, SIGBUS, SIGILL and
//! SIGFPE back to their default action (which kills the process; Rust's own SIGSEGV/SIGBUS
//! stack-overflow handler included), runs every kind of trap, checks each comes back as the
//! right `Trap`, and finds all four signals still at `SIG_DFL` afterwards. In this process,
//! the same traps of the same module compiled both ways report the same codes and the same
//! backtraces, with the default engine (signal handlers installed) running both artifacts.

use precast_format::{Settings, TrapCode};
use precast_loader::Val::{self, F32, F64, I32};
use precast_loader::{Config, Engine, Error, Extern, Instance, Linker, Module, Store};
use precast_tests::harness::{TRAP_SIGNALS as SIGNALS, disposition, reset_trap_signals};
use std::process::Command;

const WAT: &str = r#"
(module $traps
  (import "env" "fail" (func $fail))
  (type $v (func))
  (type $i (func (param i32) (result i32)))
  (memory 1 4)
  (table 2 funcref)
  (elem (i32.const 0) $inner)
  (func $inner (export "inner") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $middle (param i32) (result i32) (call $inner (local.get 0)))
  (func $outer (export "divide") (param i32) (result i32) (i32.add (call $middle (local.get 0)) (i32.const 1)))
  (func $div_s (export "div-s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $rem_u (export "rem-u") (param i64 i64) (result i64) (i64.rem_u (local.get 0) (local.get 1)))
  (func $rem_s (export "rem-s") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
  (func $oob (export "oob") (param i32) (result i32) (i32.load (local.get 0)))
  (func $oob_store (export "oob-store") (param i32) (i32.store offset=8 (local.get 0) (i32.const 1)))
  (func $unreachable (export "unreachable") (unreachable))
  (func $recurse (export "recurse") (param i32) (result i32) (i32.add (call $recurse (local.get 0)) (i32.const 1)))
  (func $null (export "null-call") (call_indirect (type $v) (i32.const 1)))
  (func $sig (export "bad-sig") (call_indirect (type $v) (i32.const 0)))
  (func $table_oob (export "table-oob") (result i32) (call_indirect (type $i) (i32.const 0) (i32.const 9)))
  (func $table_get (export "table-get") (param i32) (table.get (local.get 0)) (drop))
  (func $conv (export "conv") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func $conv_u (export "conv-u") (param f32) (result i64) (i64.trunc_f32_u (local.get 0)))
  (func $fill (export "fill-oob") (memory.fill (i32.const 65530) (i32.const 0) (i32.const 7)))
  (func $misaligned (export "misaligned") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func $as_non_null (export "as-non-null") (ref.as_non_null (ref.null func)) (drop))
  (func $call_fail (export "call-fail") (call $fail))
  ;; Grows by a page, then stores and loads at the start of the new page.
  (func $grow (export "grow-and-use") (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.const 65536) (i32.const 42))
    (i32.load (i32.const 65536)))
)
"#;

/// A trapping call: export, arguments, trap code, innermost frames' names.
type Case = (&'static str, Vec<Val>, TrapCode, &'static [&'static str]);

fn cases() -> Vec<Case> {
    vec![
        (
            "divide",
            vec![I32(0)],
            TrapCode::IntegerDivisionByZero,
            &["inner", "middle", "outer"],
        ),
        (
            "div-s",
            vec![I32(i32::MIN), I32(-1)],
            TrapCode::IntegerOverflow,
            &["div_s"],
        ),
        (
            "div-s",
            vec![I32(5), I32(0)],
            TrapCode::IntegerDivisionByZero,
            &["div_s"],
        ),
        (
            "rem-u",
            vec![Val::I64(5), Val::I64(0)],
            TrapCode::IntegerDivisionByZero,
            &["rem_u"],
        ),
        (
            "oob",
            vec![I32(65536)],
            TrapCode::MemoryOutOfBounds,
            &["oob"],
        ),
        ("oob", vec![I32(-1)], TrapCode::MemoryOutOfBounds, &["oob"]),
        (
            "oob-store",
            vec![I32(65530)],
            TrapCode::MemoryOutOfBounds,
            &["oob_store"],
        ),
        (
            "unreachable",
            vec![],
            TrapCode::UnreachableCodeReached,
            &["unreachable"],
        ),
        (
            "recurse",
            vec![I32(0)],
            TrapCode::StackOverflow,
            &["recurse", "recurse"],
        ),
        ("null-call", vec![], TrapCode::IndirectCallToNull, &["null"]),
        ("bad-sig", vec![], TrapCode::BadSignature, &["sig"]),
        (
            "table-oob",
            vec![],
            TrapCode::UndefinedElement,
            &["table_oob"],
        ),
        (
            "table-get",
            vec![I32(2)],
            TrapCode::TableOutOfBounds,
            &["table_get"],
        ),
        (
            "conv",
            vec![F64(1e10f64.to_bits())],
            TrapCode::IntegerOverflow,
            &["conv"],
        ),
        (
            "conv",
            vec![F64(f64::NAN.to_bits())],
            TrapCode::BadConversionToInteger,
            &["conv"],
        ),
        (
            "conv-u",
            vec![F32((-1.0f32).to_bits())],
            TrapCode::IntegerOverflow,
            &["conv_u"],
        ),
        ("fill-oob", vec![], TrapCode::MemoryOutOfBounds, &["fill"]),
        (
            "misaligned",
            vec![I32(2)],
            TrapCode::HeapMisaligned,
            &["misaligned"],
        ),
        (
            "as-non-null",
            vec![],
            TrapCode::NullReference,
            &["as_non_null"],
        ),
    ]
}

/// Calls that must return normally (around the trapping ones): export, arguments, results.
fn returns() -> Vec<(&'static str, Vec<Val>, Vec<Val>)> {
    vec![
        ("div-s", vec![I32(7), I32(-2)], vec![I32(-3)]),
        ("rem-s", vec![I32(i32::MIN), I32(-1)], vec![I32(0)]),
        (
            "conv",
            vec![F64((-2147483648.9f64).to_bits())],
            vec![I32(i32::MIN)],
        ),
        ("conv-u", vec![F32((-0.75f32).to_bits())], vec![Val::I64(0)]),
        ("oob", vec![I32(65532)], vec![I32(0)]),
    ]
}

fn compile(settings: Settings) -> Vec<u8> {
    let config = precast_compiler::Config {
        settings,
        ..precast_compiler::Config::default()
    };
    precast_compiler::compile(WAT.as_bytes(), &config).unwrap_or_else(|e| panic!("{e}"))
}

fn instantiate(engine: &Engine, artifact: &[u8]) -> (Store<()>, Instance) {
    let module = Module::from_bytes(engine, artifact).unwrap_or_else(|e| panic!("load: {e}"));
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("env", "fail", || -> Result<(), Error> {
            Err(Error::Host("the host refused".into()))
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

fn call(
    store: &mut Store<()>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let Some(Extern::Func(f)) = instance.get_export(store, name) else {
        panic!("no export {name}");
    };
    let ty = f.ty(store)?;
    let mut results: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
    f.call(store, args, &mut results).map(|()| results)
}

/// Code and frames (function index and name, innermost first) of a trapping call.
fn trap(store: &mut Store<()>, instance: &Instance, case: &Case) -> (TrapCode, Vec<(u32, String)>) {
    let (name, args, code, frames) = case;
    let t = match call(store, instance, name, args) {
        Ok(v) => panic!("{name}{args:?} returned {v:?}, expected a trap"),
        Err(e) => e
            .as_trap()
            .cloned()
            .unwrap_or_else(|| panic!("{name}{args:?}: expected a trap, got {e}")),
    };
    assert_eq!(t.code(), *code, "{name}{args:?}: {t}");
    let got: Vec<(u32, String)> = t
        .backtrace()
        .iter()
        .map(|f| (f.func_index, f.display_name()))
        .collect();
    let names: Vec<&str> = got.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        names.starts_with(frames),
        "{name}{args:?}: backtrace {names:?}, expected it to start with {frames:?}\n{t}"
    );
    assert!(t.to_string().contains(code.message()), "{t}");
    (t.code(), got)
}

/// Runs every case on `instance`, returning each trap's code and frames.
fn run_all(store: &mut Store<()>, instance: &Instance) -> Vec<(TrapCode, Vec<(u32, String)>)> {
    let mut out = Vec::new();
    for case in cases() {
        out.push(trap(store, instance, &case));
        // The instance keeps working after each trap.
        for (name, args, expected) in returns() {
            let got = call(store, instance, name, &args)
                .unwrap_or_else(|e| panic!("{name}{args:?}: {e}"));
            assert_eq!(
                format!("{got:?}"),
                format!("{expected:?}"),
                "{name}{args:?}"
            );
        }
    }
    // Growing moves the end of memory (and, where memories can move, reloads the base).
    let grown = call(store, instance, "grow-and-use", &[]).unwrap();
    assert_eq!(format!("{grown:?}"), "[I32(42)]");
    let again = call(store, instance, "oob", &[I32(65536)]).unwrap();
    assert_eq!(format!("{again:?}"), "[I32(42)]");
    let past = (
        "oob",
        vec![I32(131072)],
        TrapCode::MemoryOutOfBounds,
        &["oob"][..],
    );
    out.push(trap(store, instance, &past));
    match call(store, instance, "call-fail", &[]) {
        Err(Error::Host(msg)) => assert_eq!(msg, "the host refused"),
        other => panic!("call-fail: expected the host's error, got {other:?}"),
    }
    out
}

const CHILD_ENV: &str = "PRECAST_NO_SIGNAL_HANDLERS_CHILD";
const CHILD_DONE: &str =
    "no-signal-handlers child: every trap returned, all four signals at SIG_DFL";

/// The child process's part of [`no_handler_is_installed_and_every_trap_comes_back`].
fn child() {
    reset_trap_signals();
    let mut config = Config::default();
    config.signal_handlers(false);
    let engine = Engine::new(&config);

    // An artifact with signal-based traps is refused, with the reason.
    let refused = Module::from_bytes(&engine, &compile(Settings::default()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        refused.contains("signal-based traps") && refused.contains("--no-signals"),
        "expected the refusal of a signal-based artifact, got `{refused}`"
    );

    let (mut store, instance) = instantiate(&engine, &compile(Settings::without_signals()));
    run_all(&mut store, &instance);
    for (sig, name) in SIGNALS {
        assert_eq!(
            disposition(sig),
            libc::SIG_DFL,
            "{name} has a handler after running wasm"
        );
    }
    println!("{CHILD_DONE}");
}

#[test]
fn no_handler_is_installed_and_every_trap_comes_back() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "no_handler_is_installed_and_every_trap_comes_back",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(CHILD_DONE),
        "child failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn traps_and_backtraces_match_the_signal_path() {
    // The default engine installs the handlers and runs both artifacts.
    let engine = Engine::default();
    let (mut store, with) = instantiate(&engine, &compile(Settings::default()));
    let by_signals = run_all(&mut store, &with);
    let (mut store, without) = instantiate(&engine, &compile(Settings::without_signals()));
    let by_calls = run_all(&mut store, &without);
    for ((case, a), b) in cases().iter().zip(&by_signals).zip(&by_calls) {
        assert_eq!(a, b, "{}{:?}", case.0, case.1);
    }
}
