//! The loader's layering, checked on its source. Three layers, each a folder of `src/`, each
//! using only itself and the layers beneath it: the embedding API (`api/`) on the runtime
//! core (`runtime/`) on the platform (`platform/`); `lib.rs` only declares them and
//! re-exports the public names. The Linux platform and the minimal one do not reach into
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

/// The crate-level modules a line names: `crate::x` and the items of `use crate::{x, y::z}`
/// (a macro's `$crate::x` is the public path its users see, not a dependency).
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let in_macro = rest[..i].ends_with('$');
        rest = &rest[i + "crate::".len()..];
        if in_macro {
            continue;
        }
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

/// The layers, top first, with the crate-level modules each may name: itself, the layers
/// beneath it and the `alloc` prelude. A public name re-exported by `lib.rs` (`crate::Module`)
/// is none of these, so a lower layer cannot reach the API through it either.
const LAYERS: [(&str, &[&str]); 3] = [
    ("api", &["api", "runtime", "platform", "prelude"]),
    ("runtime", &["runtime", "platform", "prelude"]),
    ("platform", &["platform", "prelude"]),
];

/// Where the layering is broken: `file:line: crate::name` for every name a layer may not use.
fn violations(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (layer, allowed) in LAYERS {
        for file in sources(&root.join(layer)) {
            for (n, line) in code_lines(&file) {
                for name in crate_refs(&line) {
                    if !allowed.contains(&name.as_str()) {
                        out.push(format!("{}:{n}: crate::{name}", file.display()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn each_layer_uses_only_itself_and_the_layers_beneath() {
    for (layer, _) in LAYERS {
        let n = sources(&src().join(layer)).len();
        assert!(n >= 10, "the {layer} layer has {n} files");
    }
    let v = violations(&src());
    assert!(
        v.is_empty(),
        "a layer depends on a layer above it:\n{}",
        v.join("\n")
    );
}

#[test]
fn every_source_file_is_in_a_layer() {
    let loose: Vec<_> = std::fs::read_dir(src())
        .expect("src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "lib.rs"))
        .collect();
    assert!(
        loose.is_empty(),
        "source files outside the layers: {loose:?}"
    );
}

#[test]
fn a_planted_upward_use_is_found() {
    // The checks above must be able to fail: a copy of the sources with one upward use.
    let dir = std::env::temp_dir().join(format!("precast-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (layer, _) in LAYERS {
        std::fs::create_dir_all(dir.join(layer)).expect("temp dir");
    }
    let plant = |layer: &str, line: &str| {
        std::fs::write(dir.join(layer).join("x.rs"), format!("{line}\n")).expect("write");
    };
    plant("api", "use crate::runtime::store::Entities;");
    plant(
        "runtime",
        "use crate::api::store::StoreOpaque; // and a comment",
    );
    plant("platform", "pub(crate) fn f(_: &crate::Module) {}");
    let v = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].ends_with("runtime/x.rs:1: crate::api"), "{v:?}");
    assert!(v[1].ends_with("platform/x.rs:1: crate::Module"), "{v:?}");
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
    assert!(crate_refs("static D: $crate::LinkedModule;").is_empty());
}
