//! Microbenchmarks of the cold-start path: load (artifact file -> module), instantiate
//! (module -> instance, store dropped afterwards), pooled re-instantiate, a host -> wasm
//! call, and wasm -> host calls. Run with `cargo bench -p precast-bench --bench loader`.
//!
//! Workloads: a hello-world WASI command (its import satisfied by a placeholder host
//! function) and, when `../shared` (or `PRECAST_SHARED`) is present, sightglass's
//! `rust-compression`; hello world also linked into the binary (`load-linked`,
//! `instantiate-pre-linked`).

use criterion::{Criterion, criterion_group, criterion_main};
use precast_loader::{
    Engine, Error, ExternType, InstancePre, Linker, Module, PoolConfig, Store, Val,
};
use std::hint::black_box;
use std::path::{Path, PathBuf};

/// The hello-world WASI command used by `cargo xtask bench` (also linked into this binary by
/// `build.rs`).
const HELLO_WAT: &str = include_str!("../../examples/linked-host/wasm/hello.wat");

const CALL_WAT: &str = r#"(module
  (func (export "nop"))
  (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#;

/// Calls the imported `h.f` 1000 times (wasm -> host calls).
const HOST_CALL_WAT: &str = r#"(module
  (import "h" "f" (func $f (param i32) (result i32)))
  (func (export "run") (result i32) (local $n i32) (local $acc i32)
    (local.set $n (i32.const 1000))
    (block $d (loop $l
      (br_if $d (i32.eqz (local.get $n)))
      (local.set $acc (i32.add (local.get $acc) (call $f (local.get $n))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $acc)))"#;

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PRECAST_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    dir.is_dir().then_some(dir)
}

/// Compiles `wasm` (binary or text) to an artifact file in a scratch folder.
fn artifact(name: &str, wasm: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("precast-loader-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let bytes = precast_compiler::compile(wasm, &precast_compiler::Config::default())
        .unwrap_or_else(|e| panic!("compile {name}: {e}"));
    let path = dir.join(format!("{name}.pcst"));
    std::fs::write(&path, bytes).expect("write artifact");
    path
}

/// Workloads: (name, artifact path).
fn workloads() -> Vec<(&'static str, PathBuf)> {
    let mut out = vec![("hello", artifact("hello", HELLO_WAT.as_bytes()))];
    if let Some(shared) = shared_dir() {
        let wasm = shared.join("sightglass/rust-compression/benchmark.wasm");
        if let Ok(bytes) = std::fs::read(&wasm) {
            out.push(("rust-compression", artifact("rust-compression", &bytes)));
        }
    }
    out
}

/// A linker that satisfies every function import with a placeholder.
fn placeholder_linker(engine: &Engine, module: &Module) -> Linker<()> {
    let mut linker = Linker::new(engine);
    for import in module.imports() {
        if let ExternType::Func(ty) = import.ty {
            linker
                .func_new(import.module, import.name, ty, |_, _, _| {
                    Err(Error::Host("placeholder import called".into()))
                })
                .expect("define placeholder");
        }
    }
    linker
}

fn benches(c: &mut Criterion) {
    let engine = Engine::default();
    // No reservation cache: every memory is a fresh mapping, unmapped with its store.
    let mut fresh_config = precast_loader::Config::new();
    fresh_config.memory_cache = 0;
    let fresh = Engine::new(&fresh_config);
    let pooled = Engine::new(precast_loader::Config::new().pooling(PoolConfig {
        instances: 16,
        ..PoolConfig::default()
    }));
    // No code mapping cache: every load maps its code afresh and unmaps it at drop.
    let mut uncached_config = precast_loader::Config::new();
    uncached_config.code_cache = 0;
    let uncached = Engine::new(&uncached_config);
    c.bench_function("load-linked/hello", |b| {
        let linked = precast_loader::linked!(hello);
        b.iter(|| black_box(Module::from_linked(&engine, linked).expect("load")))
    });
    let linked = Module::from_linked(&engine, precast_loader::linked!(hello)).expect("load");
    let pre = placeholder_linker(&engine, &linked)
        .instantiate_pre(&linked)
        .expect("pre");
    c.bench_function("instantiate-pre-linked/hello", |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            black_box(pre.instantiate(&mut store).expect("instantiate"));
        })
    });
    for (name, path) in workloads() {
        c.bench_function(&format!("load/{name}"), |b| {
            b.iter(|| black_box(Module::from_file(&engine, &path).expect("load")))
        });
        // What the safe path's checksum over code and data costs: the trusted fast path.
        c.bench_function(&format!("load-unchecked/{name}"), |b| {
            // SAFETY: the artifacts were just written by the compiler (see `workloads`).
            b.iter(|| {
                black_box(unsafe { Module::from_file_unchecked(&engine, &path) }.expect("load"))
            })
        });
        c.bench_function(&format!("load-uncached/{name}"), |b| {
            b.iter(|| black_box(Module::from_file(&uncached, &path).expect("load")))
        });
        let module = Module::from_file(&engine, &path).expect("load");
        let linker = placeholder_linker(&engine, &module);
        c.bench_function(&format!("instantiate/{name}"), |b| {
            b.iter(|| {
                let mut store = Store::new(&engine, ());
                black_box(
                    linker
                        .instantiate(&mut store, &module)
                        .expect("instantiate"),
                );
            })
        });
        let pre = linker.instantiate_pre(&module).expect("pre");
        c.bench_function(&format!("instantiate-pre/{name}"), |b| {
            b.iter(|| {
                let mut store = Store::new(&engine, ());
                black_box(pre.instantiate(&mut store).expect("instantiate"));
            })
        });
        let module = Module::from_file(&fresh, &path).expect("load");
        let pre = placeholder_linker(&fresh, &module)
            .instantiate_pre(&module)
            .expect("pre");
        c.bench_function(&format!("instantiate-fresh/{name}"), |b| {
            b.iter(|| {
                let mut store = Store::new(&fresh, ());
                black_box(pre.instantiate(&mut store).expect("instantiate"));
            })
        });
        let module = Module::from_file(&pooled, &path).expect("load");
        let pre: InstancePre<()> = placeholder_linker(&pooled, &module)
            .instantiate_pre(&module)
            .expect("pre");
        c.bench_function(&format!("pooled-instantiate/{name}"), |b| {
            b.iter(|| {
                let mut store = Store::new(&pooled, ());
                black_box(pre.instantiate(&mut store).expect("instantiate"));
            })
        });
    }
    let path = artifact("call", CALL_WAT.as_bytes());
    let module = Module::from_file(&engine, &path).expect("load");
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let nop = instance.get_func(&store, "nop").expect("nop");
    c.bench_function("call/nop", |b| {
        b.iter(|| nop.call(&mut store, &[], &mut []).expect("call"))
    });
    let typed = instance
        .get_typed_func::<i32, i32>(&store, "inc")
        .expect("inc");
    c.bench_function("call/inc-typed", |b| {
        b.iter(|| black_box(typed.call(&mut store, black_box(41)).expect("call")))
    });
    let inc = instance.get_func(&store, "inc").expect("inc");
    let mut out = [Val::I32(0)];
    c.bench_function("call/inc", |b| {
        b.iter(|| {
            inc.call(&mut store, &[Val::I32(black_box(41))], &mut out)
                .expect("call");
            black_box(&out);
        })
    });
}

/// 1000 wasm -> host calls, to an untyped (`func_new`) and a typed (`func_wrap`) function.
fn host_calls(c: &mut Criterion) {
    let engine = Engine::default();
    let path = artifact("host-call", HOST_CALL_WAT.as_bytes());
    let module = Module::from_file(&engine, &path).expect("load");
    let mut untyped = Linker::new(&engine);
    let ty = precast_loader::FuncType {
        params: vec![precast_loader::ValType::I32],
        results: vec![precast_loader::ValType::I32],
    };
    untyped
        .func_new("h", "f", ty, |_, params, results| {
            results[0] = params[0];
            Ok(())
        })
        .expect("define");
    let mut typed = Linker::new(&engine);
    typed.func_wrap("h", "f", |x: i32| x).expect("define");
    for (name, linker) in [("func_new", untyped), ("func_wrap", typed)] {
        let mut store = Store::new(&engine, ());
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiate");
        let run = instance
            .get_typed_func::<(), i32>(&store, "run")
            .expect("run");
        c.bench_function(&format!("host-call-x1000/{name}"), |b| {
            b.iter(|| black_box(run.call(&mut store, ()).expect("call")))
        });
    }
}

criterion_group!(cold_start, benches, host_calls);
criterion_main!(cold_start);
