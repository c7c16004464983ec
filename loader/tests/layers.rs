//! The loader's layering, checked on its source: the platform layer (`src/platform/`) uses
//! nothing of the crate above it, the Linux platform and the minimal one do not reach into
//! each other, and only the platform talks to the operating system (`libc`, `rustix`,
//! `memmap2`). Comments and doc links are not dependencies and are skipped.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The code lines of `file` (comments stripped; `#[cfg(test)]` modules left out, a test
/// may use anything), with their numbers.
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).expect("readable source");
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let code = line.split("//").next().unwrap_or("").trim();
            (!code.is_empty()).then(|| (i + 1, code.to_string()))
        })
        .collect()
}

/// The crate-level modules a line names: `crate::x` and the items of `use crate::{x, y::z}`.
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_platform_uses_nothing_above_it() {
    let mut violations = Vec::new();
    let files = sources(&src().join("platform"));
    assert!(
        files.len() >= 15,
        "the platform layer has {} files",
        files.len()
    );
    for file in &files {
        for (n, line) in code_lines(file) {
            for name in crate_refs(&line) {
                if name != "platform" && name != "prelude" {
                    violations.push(format!("{}:{n}: crate::{name}", file.display()));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the platform layer depends on the layers above it:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_two_platforms_do_not_reach_into_each_other() {
    for (dir, other) in [("linux", "bare"), ("bare", "linux")] {
        for file in sources(&src().join("platform").join(dir)) {
            for (n, line) in code_lines(&file) {
                assert!(
                    !line.contains(&format!("platform::{other}"))
                        && !line.contains(&format!("super::{other}")),
                    "{}:{n} uses the {other} platform: {line}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn only_the_platform_talks_to_the_operating_system() {
    let mut violations = Vec::new();
    for file in sources(&src()) {
        let rel = file.strip_prefix(src()).expect("under src");
        if rel.starts_with("platform") || rel.starts_with("tests") {
            continue;
        }
        for (n, line) in code_lines(&file) {
            for os in ["libc::", "rustix::", "memmap2::"] {
                if line.contains(os) {
                    violations.push(format!("{}:{n}: {line}", rel.display()));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "operating-system calls outside the platform layer:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_dependencies() {
    // The scanner must find what the checks above forbid, or they could never fail.
    assert_eq!(crate_refs("use crate::engine::Config;"), ["engine"]);
    assert_eq!(
        crate_refs("use crate::{error::Error, platform::host};"),
        ["error", "platform"]
    );
    assert_eq!(crate_refs("let x = crate::pool::Pool::new();"), ["pool"]);
}
