//! `cargo xtask spec [--keep-artifacts DIR] [--verbose] [FILTER...]`: runs the spec testsuite
//! and prints a per-file table and `N passed, N failed` over directives. Exits non-zero on any
//! unexpected failure, or when a file in the expected-failure list passes.

use precast_tests::spec;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut filters = Vec::new();
    let mut options = spec::RunOptions::default();
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--keep-artifacts" => options.keep_artifacts = args.next().map(Into::into),
            "--verbose" | "-v" => verbose = true,
            _ => filters.push(a),
        }
    }
    let root = match spec::testsuite_dir() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let rows = spec::run(&root, &filters, &options);
    let expected = spec::expected_failures();
    let (mut passed, mut failed) = (0, 0);
    let mut unexpected = Vec::new();
    println!("{:<48} {:>7} {:>7}  status", "file", "passed", "failed");
    for row in &rows {
        let (p, f) = row.counts();
        passed += p;
        failed += f;
        let status = match (f > 0, expected.get(&row.file)) {
            (false, None) => "ok".to_string(),
            (true, Some(feature)) => format!("expected failure ({feature})"),
            (true, None) => {
                unexpected.push(row.file.clone());
                "FAILED".to_string()
            }
            (false, Some(_)) => {
                unexpected.push(format!(
                    "{} (listed as expected failure but passes)",
                    row.file
                ));
                "UNEXPECTED PASS: remove from the list".to_string()
            }
        };
        println!("{:<48} {p:>7} {f:>7}  {status}", row.file);
        let show = verbose || (f > 0 && !expected.contains_key(&row.file));
        if show {
            match &row.result {
                Ok(r) => {
                    for msg in r
                        .failures
                        .iter()
                        .take(if verbose { usize::MAX } else { 10 })
                    {
                        println!("    {msg}");
                    }
                }
                Err(e) => println!("    {e}"),
            }
        }
    }
    println!(
        "files: {}, wall time {:.1}s",
        rows.len(),
        start.elapsed().as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
    if unexpected.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("unexpected results in {} files:", unexpected.len());
        for u in &unexpected {
            eprintln!("  {u}");
        }
        ExitCode::FAILURE
    }
}
