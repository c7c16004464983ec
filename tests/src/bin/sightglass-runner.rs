//! `cargo xtask sightglass [--target TRIPLE]`: runs every sightglass program, compares its
//! output with the expected files, prints a line per program and `N passed, N failed`, and
//! exits non-zero on any failure. Cross-built for another target, it compiles through the
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
    let results = precast_tests::sightglass::run_all(&root);
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
