//! Unwind information: a host function called from wasm walks the stack with the system
//! unwinder (what panics, `std::backtrace`, profilers and debuggers use) through the wasm
//! frames and the entry trampoline into the host frames that called wasm, for a module
//! loaded from bytes (its frames registered at load), from a file, and linked into this
//! binary (its `.eh_frame` indexed by the system linker).

use precast_loader::{Engine, Linker, Module, Store, linked};
use precast_tests::harness::artifact;
use std::backtrace::Backtrace;

const WAT: &str = include_str!("../linked/unwind.wat");

/// Calls `run` from a frame of its own, whose name the backtrace must reach; returns the
/// backtrace taken in the host function.
#[inline(never)]
fn host_frame_below_wasm(engine: &Engine, module: &Module) -> String {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("h", "bt", |x: i32| {
            let trace = Backtrace::force_capture().to_string();
            BACKTRACE.with(|b| *b.borrow_mut() = trace);
            x
        })
        .unwrap();
    let mut store = Store::new(engine, ());
    let instance = linker.instantiate(&mut store, module).unwrap();
    let run = instance.get_typed_func::<i32, i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 20).unwrap(), 42);
    std::hint::black_box(BACKTRACE.with(|b| b.take()))
}

thread_local! {
    static BACKTRACE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The backtrace goes from the host function through the wasm frames (four: the exit
/// trampoline, `inner`, `run`, the entry trampoline) into the catching frame, the frame that
/// called wasm and the test. Without unwind information for the wasm code the walk ends at
/// the first wasm frame.
fn check(trace: &str, test: &str) {
    let lines: Vec<&str> = trace.lines().map(str::trim).collect();
    let at = |from: usize, name: &str| {
        (from..lines.len())
            .find(|&i| lines[i].ends_with(name))
            .unwrap_or_else(|| panic!("no frame `{name}` after frame line {from}:\n{trace}"))
    };
    let host = at(
        0,
        "dispatch_typed<(), (i32), i32, unwind::host_frame_below_wasm::{closure_env#0}>",
    );
    let catch = at(host, ": precast_call_catch");
    let wasm = lines[host..catch]
        .iter()
        .filter(|l| {
            l.split_once(": ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .count();
    assert!(
        wasm >= 5,
        "{wasm} frames between the host function and the catch:\n{trace}"
    );
    let caller = at(catch, ": host_frame_below_wasm");
    at(caller, test);
}

#[test]
fn backtraces_walk_through_modules_loaded_from_bytes() {
    let engine = Engine::default();
    let module = Module::from_bytes(&engine, &artifact(WAT)).unwrap();
    check(
        &host_frame_below_wasm(&engine, &module),
        "backtraces_walk_through_modules_loaded_from_bytes",
    );
    // Dropping the module deregisters its frames; a second load registers its own.
    drop(module);
    let module = Module::from_bytes(&engine, &artifact(WAT)).unwrap();
    check(
        &host_frame_below_wasm(&engine, &module),
        "backtraces_walk_through_modules_loaded_from_bytes",
    );
}

#[test]
fn backtraces_walk_through_modules_loaded_from_files() {
    let dir = std::env::temp_dir().join(format!("precast-unwind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("unwind.pcst");
    std::fs::write(&path, artifact(WAT)).unwrap();
    let engine = Engine::default();
    let module = Module::from_file(&engine, &path).unwrap();
    check(
        &host_frame_below_wasm(&engine, &module),
        "backtraces_walk_through_modules_loaded_from_files",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn backtraces_walk_through_linked_modules() {
    let engine = Engine::default();
    let module = Module::from_linked(&engine, linked!(unwind)).unwrap();
    check(
        &host_frame_below_wasm(&engine, &module),
        "backtraces_walk_through_linked_modules",
    );
}
