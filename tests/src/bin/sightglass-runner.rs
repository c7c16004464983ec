//! `cargo xtask sightglass [--target TRIPLE] [--no-signals]`: runs every sightglass program,
//! compares its output with the expected files, prints a line per program and `N passed, N
//! failed`, and exits non-zero on any failure. `--no-signals`: compiled with explicit bounds
//! checks and without signal-based traps, run by an engine without signal handlers. Cross-built for another target, it compiles through the
//! build machine's compile server (see `precast_tests::compile`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = match precast_tests::sightglass::suite_dir() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = std::time::Instant::now();
    let mode = if std::env::args().skip(1).any(|a| a == "--no-signals") {
        precast_tests::compile::Mode::NoSignals
    } else {
        precast_tests::compile::Mode::Default
    };
    let results = precast_tests::sightglass::run_all_in(&root, mode);
    if results.is_empty() {
        eprintln!("error: no programs under {}", root.display());
        return ExitCode::FAILURE;
    }
    let failed = results.iter().filter(|(_, r, _)| r.is_err()).count();
    println!(
        "programs: {}, wall time {:.1}s",
        results.len(),
        start.elapsed().as_secs_f64()
    );
    println!("{} passed, {failed} failed", results.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
