//! CLIF snapshot tests: the Cranelift IR of representative functions (`tests/clif/*.wat`)
//! against the expected IR checked in beside them (`*.clif`), so that a change in the code
//! the translator generates is a failing test with a diff, not a benchmark surprise.
//!
//! A `.wat` file's first line is `;; clif: translated` (the translator's output) or
//! `;; clif: optimized` (after Cranelift's mid-end); an optional `;; config: NAME` line
//! selects settings (`explicit`, `epoch`, `epoch-compare`, `fuel`, `no-inline`). The target is always
//! x86_64 with its baseline CPU, so the IR is the same on every machine. After an intended
//! change, `PRECAST_BLESS=1 cargo test -p precast-compiler --test clif` rewrites the
//! expected files; review their diff like code.

use precast_compiler::{Config, CpuTarget, clif, format::header::BoundsChecks};
use std::path::{Path, PathBuf};

fn config_for(wat: &str, file: &Path) -> Config {
    let mut c = Config {
        target: "x86_64-unknown-linux-gnu".into(),
        cpu: CpuTarget::Baseline,
        verify: true,
        ..Config::default()
    };
    for line in wat.lines() {
        let Some(name) = line.strip_prefix(";; config: ") else {
            continue;
        };
        match name.trim() {
            "explicit" => c.settings.bounds_checks = BoundsChecks::Explicit,
            "epoch" => {
                c.settings.epoch_interruption = true;
                c.settings.epoch_signal = false;
            }
            "epoch-signal" => c.settings.epoch_interruption = true,
            "epoch-compare" => {
                c.settings.epoch_interruption = true;
                c.settings.epoch_probe = false;
            }
            "fuel" => c.settings.consume_fuel = true,
            "no-inline" => c.inlining = false,
            other => panic!("{}: unknown config `{other}`", file.display()),
        }
    }
    c
}

/// The IR of every function of the module in `file`.
fn render(file: &Path) -> String {
    let wat = std::fs::read_to_string(file).unwrap();
    let optimized = match wat.lines().next() {
        Some(";; clif: optimized") => true,
        Some(";; clif: translated") => false,
        _ => panic!(
            "{}: the first line must be `;; clif: optimized` or `;; clif: translated`",
            file.display()
        ),
    };
    let funcs = clif(wat.as_bytes(), &config_for(&wat, file), optimized)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    funcs
        .iter()
        .map(|(index, text)| format!(";; function {index}\n{text}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first differing line, with a few lines of context from the expected text.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    let from = at.saturating_sub(3);
    let mut out = String::new();
    for line in &e[from..at] {
        out += &format!("   {line}\n");
    }
    out += &format!("-  {}\n", e.get(at).copied().unwrap_or("<end>"));
    out += &format!("+  {}\n", a.get(at).copied().unwrap_or("<end>"));
    format!("line {}:\n{out}", at + 1)
}

#[test]
fn translator_output_matches_the_checked_in_ir() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clif");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wat"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "the snapshot files are missing in {}",
        dir.display()
    );
    let bless = std::env::var_os("PRECAST_BLESS").is_some();
    let mut failures = Vec::new();
    for wat in &files {
        let expected_file = wat.with_extension("clif");
        let actual = render(wat);
        if bless {
            std::fs::write(&expected_file, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_file).unwrap_or_else(|_| {
            panic!(
                "{} has no expected IR: run with PRECAST_BLESS=1 to write it",
                wat.display()
            )
        });
        if expected != actual {
            failures.push(format!(
                "{}: the IR changed at {}",
                expected_file.display(),
                first_difference(&expected, &actual)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(after an intended change: PRECAST_BLESS=1 cargo test -p precast-compiler \
         --test clif, then review the diff)",
        failures.join("\n")
    );
}
