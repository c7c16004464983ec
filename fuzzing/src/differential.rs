//! Differential execution: a `wasm-smith` module compiled by Precast and by Wasmtime 48
//! (Spectre mitigations on in both, their defaults) must instantiate the same way and give
//! the same results, traps, globals, tables and memory contents after every exported call.

use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Unstructured;

use crate::exec::{Outcome, Run, run_precast, run_wasmtime};

/// Modules generated, and modules whose executions were compared in full.
pub static MODULES: AtomicU64 = AtomicU64::new(0);
pub static EXECUTED: AtomicU64 = AtomicU64::new(0);
/// Exported-function calls compared.
pub static CALLS: AtomicU64 = AtomicU64::new(0);

/// Runs one input. Panics on a difference.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let seed: u64 = u.arbitrary().unwrap_or(0);
    let Ok(wasm) = crate::smith::differential_module(&mut u) else {
        return;
    };
    check(&wasm, seed);
}

/// Compares the two systems on `wasm` (the calls' arguments derived from `seed`).
pub fn check(wasm: &[u8], seed: u64) {
    MODULES.fetch_add(1, Ordering::Relaxed);
    let wt = match run_wasmtime(wasm, seed) {
        Ok(r) => r,
        // Wasmtime refusing a module (an implementation limit) is not ours to judge.
        Err(_) => return,
    };
    let artifact = match precast_compiler::compile(wasm, &crate::compiler_config()) {
        Ok(a) => a,
        Err(e) => panic!(
            "precast refused a module Wasmtime compiles: {e}\n{}",
            wat_of(wasm)
        ),
    };
    let pc = match run_precast(&artifact, seed) {
        Ok(r) => r,
        Err(e) => panic!(
            "precast could not load its own artifact: {e}\n{}",
            wat_of(wasm)
        ),
    };
    compare(&pc, &wt, wasm);
    CALLS.fetch_add(pc.calls.len().min(wt.calls.len()) as u64, Ordering::Relaxed);
    EXECUTED.fetch_add(1, Ordering::Relaxed);
}

fn wat_of(wasm: &[u8]) -> String {
    wasmprinter_like(wasm)
}

/// The module's bytes in hex (the regression file is the fuzzer input; this is a hint).
fn wasmprinter_like(wasm: &[u8]) -> String {
    if wasm.len() > 4096 {
        return format!("({} bytes of wasm)", wasm.len());
    }
    let hex: String = wasm.iter().map(|b| format!("{b:02x}")).collect();
    format!("wasm: {hex}")
}

fn compare(pc: &Run, wt: &Run, wasm: &[u8]) {
    let (pi, wi) = (pc.instantiation.as_ref(), wt.instantiation.as_ref());
    let (Some(pi), Some(wi)) = (pi, wi) else {
        unreachable!()
    };
    if pi.is_stack_overflow() || wi.is_stack_overflow() {
        return;
    }
    if !pi.same(wi) {
        panic!(
            "instantiation differs: precast {pi:?}, wasmtime {wi:?}\n{}",
            wat_of(wasm)
        );
    }
    if !matches!(pi, Outcome::Ok(_)) {
        return;
    }
    for (i, (p, w)) in pc.calls.iter().zip(&wt.calls).enumerate() {
        assert_eq!(p.0, w.0, "export order differs");
        if p.1.is_stack_overflow() || w.1.is_stack_overflow() {
            return;
        }
        if !p.1.same(&w.1) {
            panic!(
                "call #{i} of export `{}` differs: precast {:?}, wasmtime {:?}\n{}",
                p.0,
                p.1,
                w.1,
                wat_of(wasm)
            );
        }
        if p.2 != w.2 {
            panic!(
                "state after call #{i} of export `{}` differs:\n precast  {:?}\n wasmtime {:?}\n{}",
                p.0,
                p.2,
                w.2,
                wat_of(wasm)
            );
        }
    }
    if pc.calls.len() != wt.calls.len() {
        panic!(
            "number of calls differs: precast {}, wasmtime {}",
            pc.calls.len(),
            wt.calls.len()
        );
    }
}
