//! Artifacts: a few small modules are compiled once; each input mutates one of their
//! artifacts (bit flips, overwrites, insertions, deletions, truncation) and loads it through
//! the verified path (`Module::from_bytes`). Loading must fail with an error or succeed, and a
//! load that succeeds must behave exactly like the original artifact.

use std::sync::OnceLock;

use arbitrary::Unstructured;

use crate::exec::{Run, run_precast};

/// The bundled modules: memories with data, globals, tables and indirect calls, traps,
/// SIMD, loops and calls.
const MODULES: [&str; 3] = [
    r#"(module
        (memory (export "mem") 1 2)
        (data (i32.const 16) "hello, artifacts")
        (global $g (export "g") (mut i32) (i32.const 7))
        (global (export "c") i64 (i64.const -3))
        (func (export "sum") (param i32) (result i32) (local $i i32) (local $s i32)
          (loop $l
            (local.set $s (i32.add (local.get $s) (i32.load8_u offset=16 (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 16))))
          (global.set $g (i32.add (global.get $g) (local.get $s)))
          (local.get $s))
        (func (export "store") (param i32) (result i32)
          (i32.store (i32.const 100) (i32.mul (local.get 0) (i32.const 31)))
          (memory.grow (i32.const 1)))
        (func (export "oob") (result i32) (i32.load (i32.const 70000)))
        (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 10) (local.get 0))))"#,
    r#"(module
        (type $t (func (param i64) (result i64)))
        (table (export "tab") 4 funcref)
        (elem (i32.const 0) $fib $sq)
        (func $fib (type $t)
          (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
            (then (local.get 0))
            (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                           (call $fib (i64.sub (local.get 0) (i64.const 2)))))))
        (func $sq (type $t) (i64.mul (local.get 0) (local.get 0)))
        (func (export "fib20") (result i64) (call $fib (i64.const 20)))
        (func (export "ind") (param i32) (result i64)
          (call_indirect (type $t) (i64.const 9) (local.get 0)))
        (func (export "null") (result i64) (call_indirect (type $t) (i64.const 1) (i32.const 3)))
        (func (export "unreachable") unreachable))"#,
    r#"(module
        (memory (export "m") 1)
        (func (export "simd") (result v128)
          (i32x4.add (v128.const i32x4 1 2 3 4) (i32x4.splat (i32.const 40))))
        (func (export "f") (param f64) (result f64) (f64.sqrt (f64.add (local.get 0) (f64.const 2.5))))
        (func (export "conv") (result i32) (i32.trunc_f32_s (f32.const 3e9)))
        (func (export "fill") (memory.fill (i32.const 8) (i32.const 0xab) (i32.const 1000))))"#,
];

struct Base {
    artifact: Vec<u8>,
    run: Run,
}

fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        MODULES
            .iter()
            .map(|wat| {
                let wasm = wat::parse_str(wat).expect("bundled module parses");
                let artifact = precast_compiler::compile(&wasm, &crate::compiler_config())
                    .expect("bundled module compiles");
                let run = run_precast(&artifact, 1).expect("bundled artifact loads");
                Base { artifact, run }
            })
            .collect()
    })
}

/// Applies 1 to 4 input-driven mutations to `bytes`.
pub fn mutate(u: &mut Unstructured<'_>, bytes: &mut Vec<u8>) -> arbitrary::Result<()> {
    let n = u.int_in_range(1..=4)?;
    for _ in 0..n {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        // Half of the offsets fall in the first 4 KiB: the ELF and artifact headers.
        let at = |u: &mut Unstructured<'_>| -> arbitrary::Result<usize> {
            if u.arbitrary::<bool>()? {
                u.int_in_range(0..=len.min(4096) - 1)
            } else {
                u.int_in_range(0..=len - 1)
            }
        };
        match u.int_in_range(0..=5)? {
            0 => {
                let i = at(u)?;
                bytes[i] ^= 1 << u.int_in_range(0..=7)?;
            }
            1 => {
                let i = at(u)?;
                bytes[i] = u.arbitrary()?;
            }
            2 => {
                let i = at(u)?;
                let k = u.int_in_range(1..=8)?.min(len - i);
                for b in &mut bytes[i..i + k] {
                    *b = u.arbitrary()?;
                }
            }
            3 => {
                let i = at(u)?;
                let k = u.int_in_range(1..=16)?;
                let ins: Vec<u8> = (0..k).map(|_| u.arbitrary().unwrap_or(0)).collect();
                bytes.splice(i..i, ins);
            }
            4 => {
                let i = at(u)?;
                let k = u.int_in_range(1..=16)?.min(len - i);
                bytes.drain(i..i + k);
            }
            _ => {
                let i = at(u)?;
                bytes.truncate(i);
            }
        }
    }
    Ok(())
}

/// Runs one input. Panics when a mutated artifact that loads behaves differently.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let bases = bases();
    let Ok(which) = u.choose_index(bases.len()) else {
        return;
    };
    let base = &bases[which];
    let mut bytes = base.artifact.clone();
    if mutate(&mut u, &mut bytes).is_err() {
        return;
    }
    // A crash (signal) here fails the fuzzer; an error is the expected refusal.
    match run_precast(&bytes, 1) {
        Err(_) => {}
        Ok(run) => {
            if run != base.run {
                let changed: Vec<usize> = (0..bytes.len().min(base.artifact.len()))
                    .filter(|&i| bytes[i] != base.artifact[i])
                    .take(16)
                    .collect();
                panic!(
                    "a mutated artifact of module #{which} loaded and behaved differently \
                     (length {} -> {}, first differing offsets {changed:?}):\n original {:?}\n mutated  {:?}",
                    base.artifact.len(),
                    bytes.len(),
                    base.run,
                    run
                );
            }
        }
    }
}
