//! `cargo xtask spec [--keep-artifacts DIR] [--verbose] [--no-signals] [FILTER...]`: runs the
//! spec testsuite and prints a per-file table and `N passed, N failed` over directives.
//! `--no-signals` compiles every module with explicit bounds checks and without signal-based
//! traps and runs it on an engine that installs no signal handlers. Exits non-zero on any
//! unexpected failure, or when a file in the expected-failure list passes.

use precast_tests::spec;
use std::process::ExitCode;
use std::time::Instant;

/// The feature group of a testsuite file, for the summary.
fn group(file: &str) -> &'static str {
    let name = file.rsplit('/').next().unwrap_or(file);
    let stem = name.trim_end_matches(".wast");
    let gc = [
        "array",
        "struct",
        "i31",
        "ref_cast",
        "ref_test",
        "br_on_cast",
        "ref_eq",
        "extern",
        "type-",
        "any",
        "ref_null",
    ];
    let eh = ["tag", "throw", "try_table", "imports", "instance"];
    if file.starts_with("proposals/custom-page-sizes") {
        return "custom page sizes";
    }
    if file.starts_with("proposals/") {
        return match file.split('/').nth(1) {
            Some("threads") => "threads (proposal)",
            Some("wide-arithmetic") => "wide arithmetic (proposal)",
            _ => "custom descriptors (proposal)",
        };
    }
    if file.starts_with("legacy/") {
        "exceptions (legacy)"
    } else if stem.contains("relaxed") {
        "relaxed SIMD"
    } else if stem.starts_with("simd_") {
        "SIMD"
    } else if stem.starts_with("return_call") {
        "tail calls"
    } else if [
        "call_ref",
        "br_on_null",
        "br_on_non_null",
        "ref_as_non_null",
        "local_init",
    ]
    .contains(&stem)
    {
        "typed function references"
    } else if gc.iter().any(|g| stem.starts_with(g)) {
        "GC"
    } else if eh.iter().any(|g| stem.starts_with(g)) {
        "exceptions"
    } else if stem.ends_with("64") {
        "memory64 / table64"
    } else if stem == "memory-multi" || stem.ends_with(|c: char| c.is_ascii_digit()) {
        "multi-memory"
    } else {
        "core (MVP + 2.0)"
    }
}

fn print_groups(rows: &[spec::Row]) {
    let mut groups: std::collections::BTreeMap<&str, [usize; 4]> = Default::default();
    for row in rows {
        let (p, f) = row.counts();
        let g = groups.entry(group(&row.file)).or_default();
        g[0] += usize::from(f == 0);
        g[1] += 1;
        g[2] += p;
        g[3] += p + f;
    }
    println!();
    println!(
        "{:<32} {:>12} {:>20}",
        "group", "files ok", "directives passed"
    );
    for (name, [fok, fall, dp, dall]) in groups {
        println!(
            "{name:<32} {:>12} {:>20}",
            format!("{fok}/{fall}"),
            format!("{dp}/{dall}")
        );
    }
    println!();
}

fn main() -> ExitCode {
    let mut filters = Vec::new();
    let mut options = spec::RunOptions::default();
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--keep-artifacts" => options.keep_artifacts = args.next().map(Into::into),
            "--verbose" | "-v" => verbose = true,
            "--no-signals" => options.mode = precast_tests::compile::Mode::NoSignals,
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
    print_groups(&rows);
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
