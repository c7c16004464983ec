//! `cargo xtask wasi [--target TRIPLE] [--keep DIR] [FILTER...]`: runs the WASI testsuite's
//! preview1 tests (`../shared/wasi-testsuite`) through compile -> artifact file ->
//! `precast-run`, prints one line per test and `N passed, N failed`, and exits non-zero on
//! any failure.
//!
//! For another target: `--target TRIPLE --cpu CPU --runner 'EMULATOR ARGS... PRECAST-RUN'`
//! compiles for it and runs each artifact with that command (`cargo xtask wasi --target`
//! passes them).

use precast_tests::wasi_suite;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut filters = Vec::new();
    let mut keep: Option<PathBuf> = None;
    let mut config = precast_compiler::Config::default();
    let mut command: Option<Vec<std::ffi::OsString>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--keep" => keep = args.next().map(Into::into),
            "--target" => config.target = args.next().unwrap_or_default(),
            "--cpu" => match args.next().unwrap_or_default().parse() {
                Ok(cpu) => config.cpu = cpu,
                Err(e) => {
                    eprintln!("error: --cpu: {e}");
                    return ExitCode::FAILURE;
                }
            },
            "--runner" => {
                command = Some(
                    args.next()
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(Into::into)
                        .collect(),
                )
            }
            _ => filters.push(a),
        }
    }
    let suite = match wasi_suite::suite_dir() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `precast-run` is built beside this binary (`cargo xtask wasi` builds it first).
    let target = match command {
        Some(runner) => wasi_suite::Target { config, runner },
        None => {
            let Some(runner) = std::env::current_exe()
                .ok()
                .and_then(|p| Some(p.parent()?.join("precast-run")))
                .filter(|p| p.is_file())
            else {
                eprintln!(
                    "error: precast-run is not built beside this runner; run `cargo build -p \
                     precast-run` (or use `cargo xtask wasi`)"
                );
                return ExitCode::FAILURE;
            };
            wasi_suite::Target {
                config,
                ..wasi_suite::Target::host(&runner)
            }
        }
    };
    let work = keep.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("precast-wasi-{}", std::process::id()))
    });
    let start = Instant::now();
    let outcomes = wasi_suite::run(&suite, &filters, &target, &work);
    let (mut passed, mut failed) = (0, 0);
    for o in &outcomes {
        match &o.result {
            Ok(()) => {
                passed += 1;
                println!("ok     {:<72} {:>6.2}s", o.test, o.time.as_secs_f64());
            }
            Err(e) => {
                failed += 1;
                println!("FAILED {:<72} {:>6.2}s", o.test, o.time.as_secs_f64());
                for line in e.lines() {
                    println!("    {line}");
                }
            }
        }
    }
    if outcomes.is_empty() {
        eprintln!("error: no test matched in {}", suite.display());
        return ExitCode::FAILURE;
    }
    println!(
        "tests: {}, wall time {:.1}s",
        outcomes.len(),
        start.elapsed().as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("precast-wasi-{}", std::process::id())),
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
