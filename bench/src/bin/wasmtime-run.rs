//! `wasmtime-run ARTIFACT.cwasm [ARGS...]`: runs a Wasmtime-precompiled WASI command, as
//! `wasmtime run --allow-precompiled` does, for the cold-start comparison.

use anyhow::Result;
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        anyhow::bail!("usage: wasmtime-run ARTIFACT.cwasm [ARGS...]");
    };
    let engine = Engine::new(&wasmtime::Config::new())?;
    // SAFETY: the bench harness produced this file with `Engine::precompile_module` and the
    // same configuration.
    let module = unsafe { Module::deserialize_file(&engine, path) }?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| s)?;
    let wasi = wasmtime_wasi::WasiCtxBuilder::new()
        .inherit_stdio()
        .args(&args)
        .build_p1();
    let mut store = Store::new(&engine, wasi);
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    if let Err(e) = start.call(&mut store, ()) {
        if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            std::process::exit(exit.0);
        }
        return Err(e.into());
    }
    Ok(())
}
