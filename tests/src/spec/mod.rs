//! The spec testsuite runner: every `.wast` under the testsuite, each directive executed
//! through the split compile -> artifact file -> load path.

mod spectest;
mod values;
mod wast_file;

pub use wast_file::{FileResult, RunOptions, run_file};

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The committed list of files expected to fail, each with the feature it needs.
pub const EXPECTED_FAILURES: &str = include_str!("../../spec-expected-failures.txt");

/// Parses the expected-failure list: relative path -> feature.
pub fn expected_failures() -> BTreeMap<String, String> {
    EXPECTED_FAILURES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(2, char::is_whitespace);
            let path = parts.next().unwrap_or_default().to_string();
            let feature = parts.next().unwrap_or_default().trim().to_string();
            (path, feature)
        })
        .collect()
}

/// All `.wast` files under `root`, as paths relative to it, sorted.
pub fn discover(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "wast")
                && let Ok(rel) = p.strip_prefix(root)
            {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// One file's row in the report.
#[derive(Debug)]
pub struct Row {
    /// Path relative to the testsuite.
    pub file: String,
    /// Outcome (or why the file could not be run).
    pub result: Result<FileResult, String>,
}

impl Row {
    /// Directives passed and failed (an unreadable file counts as one failure).
    pub fn counts(&self) -> (usize, usize) {
        match &self.result {
            Ok(r) => (r.passed, r.failures.len()),
            Err(_) => (0, 1),
        }
    }
}

/// Runs the files of `root` matching any of `filters` (all when empty).
pub fn run(root: &Path, filters: &[String], options: &RunOptions) -> Vec<Row> {
    let files: Vec<String> = discover(root)
        .into_iter()
        .filter(|f| filters.is_empty() || filters.iter().any(|x| f.contains(x.as_str())))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new().stack_size(16 << 20).build();
    let work = || {
        files
            .par_iter()
            .map(|f| Row {
                file: f.clone(),
                result: run_file(&root.join(f), options),
            })
            .collect::<Vec<_>>()
    };
    match pool {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// Where the spec testsuite is.
pub fn testsuite_dir() -> Result<PathBuf, String> {
    crate::shared_suite("testsuite")
}
