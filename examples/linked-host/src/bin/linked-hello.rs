//! Hello world from a linked module, built for process cold start (`cargo xtask bench`
//! measures it against `precast-run` with an artifact file and a static C program).
//!
//! Like `precast-run`, the binary defines the C `main` itself, skipping Rust's runtime setup
//! (whose main-thread stack-guard query reads `/proc/self/maps`), and it exits without
//! tearing down what the process exit frees anyway (the store's memory, the engine).

#![no_main]

use precast_loader::{Engine, Error, Linker, Module, Store, linked};
use precast_wasi::{self as wasi, WasiCtx, WasiCtxBuilder};

fn run() -> Result<(), Error> {
    // Left to the process exit: resetting and unmapping the memory, freeing the heap.
    let engine = std::mem::ManuallyDrop::new(Engine::default());
    let module = Module::from_linked(&engine, linked!(hello))?;
    let mut store = std::mem::ManuallyDrop::new(Store::new(
        &engine,
        WasiCtxBuilder::new().inherit_stdio().build(),
    ));
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |cx| cx)?;
    let instance = linker.instantiate(&mut *store, &module)?;
    instance
        .get_typed_func::<(), ()>(&*store, "_start")?
        .call(&mut *store, ())
}

/// The process entry point, called by the C runtime; returns the exit status.
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    match run() {
        Ok(()) => 0,
        Err(Error::Exit(code)) => code as std::ffi::c_int,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
