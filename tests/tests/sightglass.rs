//! Every benchmark program of `../shared/sightglass` runs under Precast and its output
//! equals the expected files (see `precast_tests::sightglass`).

#[test]
fn sightglass_programs_match_expected_output() {
    let root = precast_tests::sightglass::suite_dir().unwrap_or_else(|e| panic!("{e}"));
    let results = precast_tests::sightglass::run_all(&root);
    assert!(!results.is_empty(), "no programs under {}", root.display());
    let failures: Vec<&str> = results
        .iter()
        .filter(|(_, r, _)| r.is_err())
        .map(|(name, _, _)| name.as_str())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} sightglass programs failed: {failures:?}",
        failures.len(),
        results.len()
    );
}
