//! The whole spec testsuite compiled with explicit bounds checks and without signal-based
//! traps (`precast compile --no-signals`), run by an engine that installs no signal handlers,
//! passes exactly what the default mode passes, file by file, and every sightglass program
//! gives its expected output in that mode. The faulting signals are at their default action
//! (death) during these runs and still are afterwards: no trap depended on one. (Its own test
//! binary: nothing else in this process installs a handler.)

use precast_tests::compile::Mode;
use precast_tests::harness::{TRAP_SIGNALS as SIGNALS, disposition, reset_trap_signals};
use precast_tests::spec;
use std::collections::BTreeMap;

fn counts(rows: &[spec::Row]) -> BTreeMap<String, (usize, usize)> {
    rows.iter().map(|r| (r.file.clone(), r.counts())).collect()
}

fn totals(c: &BTreeMap<String, (usize, usize)>) -> (usize, usize) {
    c.values().fold((0, 0), |(p, f), (a, b)| (p + a, f + b))
}

#[test]
fn suites_without_signal_handlers_match_the_default_mode() {
    let root = spec::testsuite_dir().unwrap_or_else(|e| panic!("{e}"));
    // Rust's own SIGSEGV/SIGBUS handler (main-thread stack overflow) goes too.
    reset_trap_signals();
    let no_signals = spec::RunOptions {
        mode: Mode::NoSignals,
        ..Default::default()
    };
    let without = counts(&spec::run(&root, &[], &no_signals));
    let sightglass = precast_tests::sightglass::suite_dir().unwrap_or_else(|e| panic!("{e}"));
    let programs = precast_tests::sightglass::run_all_in(&sightglass, Mode::NoSignals);
    assert!(!programs.is_empty(), "no sightglass programs");
    let failed: Vec<&str> = programs
        .iter()
        .filter(|(_, r, _)| r.is_err())
        .map(|(name, _, _)| name.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "sightglass programs failing without signal handlers: {failed:?}"
    );
    for (sig, name) in SIGNALS {
        assert_eq!(
            disposition(sig),
            libc::SIG_DFL,
            "{name} got a handler during the run"
        );
    }
    let with = counts(&spec::run(&root, &[], &spec::RunOptions::default()));

    let (passed, failed) = totals(&without);
    eprintln!("spec without signal handlers: {passed} passed, {failed} failed");
    eprintln!(
        "spec in the default mode:      {} passed, {} failed",
        totals(&with).0,
        totals(&with).1
    );
    assert!(passed > 0, "no directive ran");
    let differ: Vec<String> = with
        .iter()
        .filter(|(file, c)| without.get(*file) != Some(c))
        .map(|(file, c)| format!("{file}: default {c:?}, no signals {:?}", without.get(file)))
        .collect();
    assert!(
        differ.is_empty(),
        "files that differ:\n{}",
        differ.join("\n")
    );
    assert_eq!(with.len(), without.len());
    // And the files that fail are the expected failures (unsupported proposals).
    let expected = spec::expected_failures();
    let failing: Vec<&String> = without
        .iter()
        .filter(|(_, (_, f))| *f > 0)
        .map(|(file, _)| file)
        .collect();
    let unexpected: Vec<&&String> = failing
        .iter()
        .filter(|f| !expected.contains_key(f.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "unexpected failures: {unexpected:?}");
}
