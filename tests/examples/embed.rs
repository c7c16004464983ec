//! Embedding Precast: compile at build time, load the artifact, link host functions and
//! WASI, call exports with typed values, handle traps. Run with
//! `cargo run -p precast-tests --example embed`.

use precast_loader::{Engine, Error, FuncType, Linker, Module, Store, Val, ValType};
use precast_wasi::{self as wasi, OutputBuffer, WasiCtx, WasiCtxBuilder};

const APP: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "host" "double" (func $double (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "add_doubled") (param i32 i32) (result i32)
    (i32.add (call $double (local.get 0)) (local.get 1)))
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Build time: compile to an artifact file (a build script would do this).
    let dir = std::env::temp_dir().join(format!("precast-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let artifact = dir.join("app.pcst");
    let bytes = precast_compiler::compile(APP.as_bytes(), &precast_compiler::Config::default())?;
    std::fs::write(&artifact, bytes)?;

    // Run time: only the loader is needed from here on.
    let engine = Engine::default();
    let module = Module::from_file(&engine, &artifact)?;
    let stdout = OutputBuffer::new();
    let ctx = WasiCtxBuilder::new()
        .args(["app"])
        .stdout(stdout.clone())
        .build();
    let mut store = Store::new(&engine, ctx);
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |cx| cx)?;
    let ty = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    linker.func_new("host", "double", ty, |_caller, params, results| {
        let Val::I32(x) = params[0] else {
            return Err(Error::Host("expected an i32".into()));
        };
        results[0] = Val::I32(x * 2);
        Ok(())
    })?;
    let instance = linker.instantiate(&mut store, &module)?;

    // A WASI entry point.
    match instance
        .get_typed_func::<(), ()>(&store, "_start")?
        .call(&mut store, ())
    {
        Ok(()) | Err(Error::Exit(0)) => {}
        Err(e) => return Err(e.into()),
    }
    let printed = String::from_utf8_lossy(&stdout.contents()).into_owned();
    assert_eq!(printed, "hello from wasm\n");
    print!("{printed}");

    // Typed calls into wasm, through a host function.
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add_doubled")?;
    let sum = add.call(&mut store, (20, 2))?;
    assert_eq!(sum, 42);
    println!("add_doubled(20, 2) = {sum}");

    // Traps come back as errors with a backtrace; the store stays usable.
    let divide = instance.get_typed_func::<(i32, i32), i32>(&store, "divide")?;
    let trap = divide.call(&mut store, (1, 0)).unwrap_err();
    println!("divide(1, 0): {trap}");
    assert!(trap.as_trap().is_some());
    assert_eq!(divide.call(&mut store, (84, 2))?, 42);

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
