//! A host with its wasm modules linked in: `build.rs` precompiles them with `precast-build`
//! and the system linker puts their code into this executable, so nothing is read, mapped or
//! made executable at run time.
//!
//! ```text
//! linked-host demo                               typed calls, imports, memories, pooling
//! linked-host greet [--dir HOST::GUEST] [--env K=V] [-- ARGS...]   a WASI command
//! linked-host trap                               a trap, with its wasm backtrace
//! linked-host cpu                                a module for a CPU feature set not allowed
//! linked-host contain                            guests that never stop, stopped by epoch
//!                                                interruption and by fuel
//! linked-host cfib N                             a C module with its source lines (gdb)
//! ```

use precast_loader::{
    Config, Engine, Error, LinkedModule, Linker, Module, PoolConfig, Store, linked,
};
use precast_wasi::{self as wasi, WasiCtx, WasiCtxBuilder};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("greet") => greet(&args[1..]),
        Some("trap") => trap(),
        Some("cpu") => cpu(),
        Some("contain") => contain(),
        Some("cfib") => cfib(args.get(1).map(String::as_str)),
        _ => Err(
            "usage: linked-host demo | greet [--dir H::G] [--env K=V] [-- ARGS] | trap | cpu \
             | contain | cfib N"
                .into(),
        ),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The library module's import `host.double` (`tests/host.rs` sets a gdb breakpoint here).
#[inline(never)]
fn double(x: i32) -> i32 {
    x.wrapping_mul(2)
}

/// A linker providing the library module's one import, `host.double`.
fn math_linker(engine: &Engine) -> Result<Linker<()>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap("host", "double", double)?;
    Ok(linker)
}

/// Typed calls into the library module linked under two names, a host import, its memory
/// image and its global; then the same module instantiated from a pool.
fn demo() -> Result<u8> {
    let engine = Engine::default();
    let linker = math_linker(&engine)?;
    let modules: [(&str, &'static LinkedModule); 2] =
        [("math", linked!(math)), ("math_again", linked!(math_again))];
    let mut stores = Vec::new();
    for (name, linked) in modules {
        let module = Module::from_linked(&engine, linked)?;
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &module)?;
        let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
        let fib = instance.get_typed_func::<i32, i32>(&store, "fib")?;
        let quadruple = instance.get_typed_func::<i32, i32>(&store, "quadruple")?;
        let peek = instance.get_typed_func::<i32, i32>(&store, "peek")?;
        let image: Vec<u8> = (0..7)
            .map(|i| peek.call(&mut store, i).map(|b| b as u8))
            .collect::<std::result::Result<_, _>>()?;
        println!(
            "{name}: add(2, 3) = {}, fib(20) = {}, quadruple(5) = {}, memory = {:?}",
            add.call(&mut store, (2, 3))?,
            fib.call(&mut store, 20)?,
            quadruple.call(&mut store, 5)?,
            String::from_utf8_lossy(&image),
        );
        stores.push((name, store, instance));
    }
    // Two modules, two instances: their globals and memories are their own.
    for (n, (name, store, instance)) in stores.iter_mut().enumerate() {
        let bump = instance.get_typed_func::<(), i32>(store, "bump")?;
        let mut last = 0;
        for _ in 0..=n {
            last = bump.call(&mut *store, ())?;
        }
        let poke = instance.get_typed_func::<(i32, i32), ()>(store, "poke")?;
        poke.call(&mut *store, (0, i32::from(b'P') + n as i32))?;
        let peek = instance.get_typed_func::<i32, i32>(store, "peek")?;
        println!(
            "{name}: counter = {last}, first byte = {:?}",
            char::from(peek.call(&mut *store, 0)? as u8)
        );
    }

    // Pooling: every instance comes from a preallocated slot and starts from the image.
    let mut config = Config::new();
    config.pooling(PoolConfig {
        instances: 2,
        memories: 2,
        tables: 2,
        ..PoolConfig::default()
    });
    let engine = Engine::try_new(&config)?;
    let module = Module::from_linked(&engine, linked!(math))?;
    let pre = math_linker(&engine)?.instantiate_pre(&module)?;
    for round in 0..3 {
        let mut store = Store::new(&engine, ());
        let instance = pre.instantiate(&mut store)?;
        let peek = instance.get_typed_func::<i32, i32>(&store, "peek")?;
        let poke = instance.get_typed_func::<(i32, i32), ()>(&store, "poke")?;
        let before = peek.call(&mut store, 0)? as u8;
        poke.call(&mut store, (0, i32::from(b'X')))?;
        println!(
            "pooled instance {round}: first byte {:?}",
            char::from(before)
        );
    }
    Ok(0)
}

/// Runs the WASI command with the host's stdio, the given preopens, environment and
/// arguments; its `proc_exit` status becomes ours.
fn greet(args: &[String]) -> Result<u8> {
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stdio().arg("greet");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => {
                let spec = it.next().ok_or("--dir needs HOST::GUEST")?;
                let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
                builder.preopened_dir(host, guest)?;
            }
            "--env" => {
                let spec = it.next().ok_or("--env needs K=V")?;
                let (k, v) = spec.split_once('=').ok_or("--env needs K=V")?;
                builder.env(k, v);
            }
            "--" => {
                builder.args(it.by_ref());
            }
            other => return Err(format!("unknown option `{other}`").into()),
        }
    }
    let engine = Engine::default();
    let module = Module::from_linked(&engine, linked!(greet))?;
    let mut store = Store::new(&engine, builder.build());
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |cx| cx)?;
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&store, "_start")?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(Error::Exit(code)) => Ok(code as u8),
        Err(e) => Err(e.into()),
    }
}

/// A division by zero two calls deep: the error names the module's functions; the store
/// keeps working.
fn trap() -> Result<u8> {
    let engine = Engine::default();
    let module = Module::from_linked(&engine, linked!(math))?;
    let mut store = Store::new(&engine, ());
    let instance = math_linker(&engine)?.instantiate(&mut store, &module)?;
    let ratio = instance.get_typed_func::<(i32, i32), i32>(&store, "ratio")?;
    let e = ratio.call(&mut store, (1, 0)).unwrap_err();
    println!("ratio(1, 0): {e}");
    println!("ratio(6, 3) = {}", ratio.call(&mut store, (6, 3))?);
    Ok(if e.as_trap().is_some() { 0 } else { 1 })
}

/// Runs `compute(n)` of the C module `examples/debug/fib.c`, linked with its source lines
/// (`gdb linked-host` then stops on `break fib.c:7`).
fn cfib(n: Option<&str>) -> Result<u8> {
    let n: i32 = n.unwrap_or("10").parse()?;
    let engine = Engine::default();
    let module = Module::from_linked(&engine, linked!(cfib))?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
    let compute = instance.get_typed_func::<i32, i32>(&store, "compute")?;
    println!("compute({n}) = {}", compute.call(&mut store, n)?);
    Ok(0)
}

/// Loads `math_avx2` (compiled for the baseline plus AVX2) with an engine that allows only
/// the baseline's features, as a fleet without AVX2 would: the refusal names the feature.
fn cpu() -> Result<u8> {
    let baseline = Module::from_linked(&Engine::default(), linked!(math))?
        .header()
        .cpu_features;
    let mut config = Config::new();
    config.restrict_cpu_features(baseline);
    let engine = Engine::try_new(&config)?;
    match Module::from_linked(&engine, linked!(math_avx2)) {
        Ok(_) => Err("math_avx2 loaded on an engine without its CPU features".into()),
        Err(e) => {
            println!("math_avx2: {e}");
            Ok(0)
        }
    }
}

/// The guest functions of `wasm/spin.wat` that never return on their own.
const RUNAWAYS: [(&str, &[i64]); 3] = [("spin", &[]), ("fib", &[50]), ("host-loop", &[])];

/// A linker for `spin.wat`'s one import, `host.tick`, which counts its calls.
fn spin_linker(engine: &Engine, ticks: &Arc<AtomicU64>) -> Result<Linker<()>> {
    let mut linker = Linker::new(engine);
    let ticks = ticks.clone();
    linker.func_wrap("host", "tick", move || {
        ticks.fetch_add(1, Ordering::Relaxed);
    })?;
    Ok(linker)
}

/// Calls the runaway `name`: it must stop with a trap, whose message is returned.
fn call_runaway(
    instance: &precast_loader::Instance,
    store: &mut Store<()>,
    name: &str,
    args: &[i64],
) -> Result<String> {
    let e = match args {
        [] => instance
            .get_typed_func::<(), ()>(&*store, name)?
            .call(&mut *store, ())
            .err(),
        [n] => instance
            .get_typed_func::<i64, i64>(&*store, name)?
            .call(&mut *store, *n)
            .err(),
        _ => unreachable!("the runaways take at most one argument"),
    };
    let e = e.ok_or_else(|| format!("{name} returned"))?;
    let trap = e
        .as_trap()
        .ok_or_else(|| format!("{name}: not a trap: {e}"))?;
    Ok(trap.message().to_string())
}

/// Three guests that never stop (a loop without calls, exponential recursion, a loop calling
/// the host) are stopped, first by epoch interruption with a thread ticking the epoch, then
/// by fuel; after each the store still runs wasm. The fuel a terminating call uses is
/// printed: it is the same on every target.
fn contain() -> Result<u8> {
    let ticks = Arc::new(AtomicU64::new(0));

    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::try_new(&config)?;
    let module = Module::from_linked(&engine, linked!(spin_epoch))?;
    let mut store = Store::new(&engine, ());
    let instance = spin_linker(&engine, &ticks)?.instantiate(&mut store, &module)?;
    let answer = instance.get_typed_func::<(), i32>(&store, "answer")?;
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                engine.increment_epoch();
            }
        })
    };
    for (name, args) in RUNAWAYS {
        store.set_epoch_deadline(2);
        let message = call_runaway(&instance, &mut store, name, args)?;
        store.set_epoch_deadline(1_000_000);
        println!(
            "epoch: {name}: {message}; then answer() = {}",
            answer.call(&mut store, ())?
        );
    }
    stop.store(true, Ordering::Relaxed);
    ticker.join().map_err(|_| "the epoch ticker panicked")?;

    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::try_new(&config)?;
    let module = Module::from_linked(&engine, linked!(spin_fuel))?;
    let mut store = Store::new(&engine, ());
    let instance = spin_linker(&engine, &ticks)?.instantiate(&mut store, &module)?;
    let answer = instance.get_typed_func::<(), i32>(&store, "answer")?;
    let count = instance.get_typed_func::<i32, i32>(&store, "count")?;
    for (name, args) in RUNAWAYS {
        store.set_fuel(100_000)?;
        let message = call_runaway(&instance, &mut store, name, args)?;
        store.set_fuel(100)?;
        println!(
            "fuel: {name}: {message}; then answer() = {}",
            answer.call(&mut store, ())?
        );
    }
    for n in [0, 1, 1000] {
        store.set_fuel(1_000_000)?;
        let counted = count.call(&mut store, n)?;
        println!(
            "fuel: count({n}) = {counted} used {} fuel",
            1_000_000 - store.get_fuel()?
        );
    }
    if ticks.load(Ordering::Relaxed) == 0 {
        return Err("host-loop never called the host".into());
    }
    Ok(0)
}
