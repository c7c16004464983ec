//! The sightglass programs (`../shared/sightglass`): each runs under Precast through the
//! library API (compiled through [`crate::compile`]), with its folder preopened as the
//! guest's `.` (as the sightglass runner does),
//! `bench.start`/`bench.end` as no-op host functions, and stdout/stderr captured: both must
//! equal the `<name>.stdout.expected`/`<name>.stderr.expected` files beside the program. A
//! program without them fails, unless it is listed, with the reason, as expecting no output.

use crate::compile::Mode;
use precast_loader::{Engine, Error, FuncType, Linker, Module, Store};
use precast_wasi::{self as wasi, OutputBuffer, WasiCtx, WasiCtxBuilder};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Every `*.wasm` under the suite (`<dir>/benchmark.wasm`, `shootout/shootout-*.wasm`).
pub fn programs(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "wasm") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

/// Compiles and runs one program in `mode`; returns its exit status, stdout and stderr.
fn run(wasm: &Path, mode: Mode) -> Result<(i32, Vec<u8>, Vec<u8>), String> {
    let bytes = std::fs::read(wasm).map_err(|e| e.to_string())?;
    let artifact = crate::compile::compile_in(&bytes, mode).map_err(|e| format!("compile: {e}"))?;
    let engine = Engine::new(&mode.engine_config());
    let module = Module::from_bytes(&engine, &artifact).map_err(|e| format!("load: {e}"))?;
    let dir = wasm.parent().ok_or("no parent directory")?;
    let (stdout, stderr) = (OutputBuffer::new(), OutputBuffer::new());
    let name = wasm
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ctx = WasiCtxBuilder::new()
        .arg(name)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .preopened_dir(dir, ".")
        .map_err(|e| e.to_string())?
        .build();
    let mut store = Store::new(&engine, ctx);
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |cx| cx).map_err(|e| e.to_string())?;
    for name in ["start", "end"] {
        linker
            .func_new("bench", name, FuncType::default(), |_, _, _| Ok(()))
            .map_err(|e| e.to_string())?;
    }
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| format!("instantiate: {e}"))?;
    let start = instance
        .get_func(&store, "_start")
        .ok_or("no _start export")?;
    let status = match start.call(&mut store, &[], &mut []) {
        Ok(()) => 0,
        Err(Error::Exit(code)) => code,
        Err(e) => {
            return Err(format!(
                "{e}\nstderr: {}",
                String::from_utf8_lossy(&stderr.contents())
            ));
        }
    };
    Ok((status, stdout.take(), stderr.take()))
}

/// Programs the suite ships without expected files, each with the reason its expected
/// output is empty (both streams). Any other program without both expected files fails.
const NO_EXPECTED_FILES: &[(&str, &str)] = &[(
    "richards/benchmark.wasm",
    "richards.c (upstream sightglass) has no printf: `main` reads ./default.input, runs the \
     scheduler between bench_start/bench_end and returns; only a failed assert would write \
     (to stderr, then abort)",
)];

/// The expected `stream` output: `<dir>/<stem>.<stream>.expected`, or empty for the programs
/// of [`NO_EXPECTED_FILES`]; an error for any other program without the file.
fn expected(wasm: &Path, stream: &str) -> Result<Vec<u8>, String> {
    let stem = wasm
        .file_stem()
        .ok_or("no file name")?
        .to_string_lossy()
        .into_owned();
    let path = wasm.with_file_name(format!("{stem}.{stream}.expected"));
    match std::fs::read(&path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match NO_EXPECTED_FILES.iter().find(|(p, _)| wasm.ends_with(p)) {
                Some(_) => Ok(Vec::new()),
                None => Err(format!(
                    "no expected {stream}: {} is missing (add it, or list the program in \
                     NO_EXPECTED_FILES with the reason its output is empty)",
                    path.display()
                )),
            }
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Runs one program and compares its exit status and output with the expected ones.
pub fn check(wasm: &Path) -> Result<(), String> {
    check_in(wasm, Mode::Default)
}

/// [`check`], compiling and loading in `mode`.
pub fn check_in(wasm: &Path, mode: Mode) -> Result<(), String> {
    let (status, out, err) = run(wasm, mode)?;
    let mut problems = Vec::new();
    if status != 0 {
        problems.push(format!("exit status {status}"));
    }
    for (stream, got) in [("stdout", &out), ("stderr", &err)] {
        let want = match expected(wasm, stream) {
            Ok(want) => want,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        if &want != got {
            let show = |b: &[u8]| {
                let s = String::from_utf8_lossy(b);
                s.chars().take(400).collect::<String>()
            };
            problems.push(format!(
                "{stream} differs ({} bytes, expected {}):\n  got:      {:?}\n  expected: {:?}",
                got.len(),
                want.len(),
                show(got),
                show(&want)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// One program's outcome: its path relative to the suite, the result, the wall time in
/// seconds.
pub type Outcome = (String, Result<(), String>, f64);

/// Runs every program under `root` in parallel, printing a line per program to stderr.
pub fn run_all(root: &Path) -> Vec<Outcome> {
    run_all_in(root, Mode::Default)
}

/// [`run_all`], compiling and loading in `mode`.
pub fn run_all_in(root: &Path, mode: Mode) -> Vec<Outcome> {
    let results: Vec<Outcome> = programs(root)
        .par_iter()
        .map(|p| {
            let t = std::time::Instant::now();
            let name = p
                .strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned();
            (name, check_in(p, mode), t.elapsed().as_secs_f64())
        })
        .collect();
    for (name, r, secs) in &results {
        match r {
            Ok(()) => eprintln!("ok     {name:<44} {secs:>6.2}s"),
            Err(e) => eprintln!("FAILED {name:<44} {secs:>6.2}s\n{e}"),
        }
    }
    results
}

/// Where the sightglass programs are.
pub fn suite_dir() -> Result<PathBuf, String> {
    crate::shared_suite("sightglass")
}
