//! Runs the C tests (`tests/test_wasm.c`, `tests/test_precast.c`) against `libprecast.a`:
//! compiles their wat modules to artifacts (and one to a linkable object linked into the
//! precast.h test), compiles and links the C programs with `cc`, runs them and checks that
//! every check passed. Also checks that the headers declare exactly the functions the
//! library exports, and that the C tests use every one of them.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes every artifact and file the C tests read into `dir`.
fn write_artifacts(dir: &Path) -> PathBuf {
    let wat = crate_dir().join("tests/wat");
    for name in [
        "basic",
        "imports",
        "start_trap",
        "linked",
        "wasi",
        "memory64",
    ] {
        let bytes = compile(&wat.join(format!("{name}.wat")), None);
        std::fs::write(dir.join(format!("{name}.pcst")), bytes).unwrap();
    }
    // Without signal-based traps (`precast compile --no-signals`).
    let mut no_signals = precast_compiler::Config::default();
    no_signals.settings.signals_based_traps = false;
    no_signals.settings.bounds_checks = precast_compiler::format::header::BoundsChecks::Explicit;
    let bytes = compile_with(&wat.join("linked.wat"), &no_signals);
    std::fs::write(dir.join("linked.nosignals.pcst"), bytes).unwrap();
    // With epoch interruption and fuel (`precast compile --epoch-interruption
    // --consume-fuel`).
    let mut interrupts = precast_compiler::Config::default();
    interrupts.settings.epoch_interruption = true;
    interrupts.settings.consume_fuel = true;
    let bytes = compile_with(&wat.join("interrupts.wat"), &interrupts);
    std::fs::write(dir.join("interrupts.pcst"), bytes).unwrap();
    let basic = std::fs::read(dir.join("basic.pcst")).unwrap();
    std::fs::write(dir.join("truncated.pcst"), &basic[..basic.len() / 2]).unwrap();
    let wasm = wat::parse_file(wat.join("basic.wat")).unwrap();
    std::fs::write(dir.join("basic.wasm"), wasm).unwrap();

    // One byte of the code flipped: refused by the checksum, loadable unchecked.
    let mut corrupt = std::fs::read(dir.join("linked.pcst")).unwrap();
    let (text, len) = section_range(&corrupt, ".text");
    corrupt[text + len / 2] ^= 0x40;
    std::fs::write(dir.join("corrupt.pcst"), corrupt).unwrap();

    // A key pair and the linked module signed with it.
    let key = precast_compiler::signing::generate_key().unwrap();
    let public = precast_compiler::signing::write_key_pair(&key, &dir.join("key")).unwrap();
    assert_eq!(public, dir.join("key.pub"));
    let mut signed = std::fs::read(dir.join("linked.pcst")).unwrap();
    precast_compiler::signing::sign(&mut signed, &key).unwrap();
    std::fs::write(dir.join("linked.signed.pcst"), signed).unwrap();
    std::fs::write(
        dir.join("not_a_key.pem"),
        "-----BEGIN PUBLIC KEY-----\nnope\n",
    )
    .unwrap();

    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/hello.txt"), "hello from a file").unwrap();

    let object = dir.join("linked.o");
    std::fs::write(&object, compile(&wat.join("linked.wat"), Some("ctest"))).unwrap();
    object
}

/// Runs a C test program and returns its number of passed checks.
fn run_c_test(exe: &Path, dir: &Path) -> (usize, String) {
    let out = Command::new(exe)
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .env("ASAN_OPTIONS", "detect_leaks=1")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        exe.display(),
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    let n = last
        .strip_suffix(" checks passed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no check count in the output:\n{stdout}"));
    println!("{}: {n} checks passed", exe.display());
    (n, stdout)
}

/// Builds the C tests with `flags` into a scratch folder `name` and runs them: the check
/// counts (wasm.h, precast.h). `None` if they do not build with these (extra) flags.
fn run_c_tests(name: &str, flags: &[&str]) -> Option<(usize, usize)> {
    let dir = scratch(name);
    let object = write_artifacts(&dir);
    let tests = crate_dir().join("tests");

    let wasm_exe = dir.join("test_wasm");
    if let Err(e) = build_c_with(&[tests.join("test_wasm.c")], &[], &wasm_exe, flags) {
        assert!(!flags.is_empty(), "{e}");
        println!("SKIPPED: the C tests do not build with {flags:?}: {e}");
        return None;
    }
    let (n_wasm, _) = run_c_test(&wasm_exe, &dir);

    let precast_exe = dir.join("test_precast");
    build_c_with(
        &[tests.join("test_precast.c")],
        &[object],
        &precast_exe,
        flags,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (n_precast, stdout) = run_c_test(&precast_exe, &dir);
    // The WASI program that inherited this process's argv, environment and stdio.
    let inherited = stdout
        .split("--- inherited ---\n")
        .nth(1)
        .and_then(|s| s.split("--- end ---").next())
        .expect("the inherited run's output");
    assert!(
        inherited.starts_with(&format!(
            "arg: {}\narg: {}\n",
            precast_exe.display(),
            dir.display()
        )),
        "inherited arguments:\n{inherited}"
    );
    assert!(
        inherited.contains("env: PATH="),
        "inherited environment:\n{inherited}"
    );
    assert!(
        inherited.contains("stdin: \n"),
        "inherited (empty) stdin:\n{inherited}"
    );

    assert!(n_wasm > 300 && n_precast > 100, "too few checks ran");
    Some((n_wasm, n_precast))
}

#[test]
fn c_tests_pass() {
    let (n_wasm, n_precast) = run_c_tests("tests", &[]).expect("the C tests build");
    println!(
        "C checks: {n_wasm} (wasm.h) + {n_precast} (precast.h) = {}",
        n_wasm + n_precast
    );
}

/// The same programs under AddressSanitizer and LeakSanitizer: no invalid access to the
/// heap, no double or mismatched free, no leak (the Rust side allocates with the C
/// library's malloc, which the sanitizer intercepts).
#[test]
fn c_tests_pass_under_address_sanitizer() {
    let flags = ["-fsanitize=address", "-fno-omit-frame-pointer"];
    if let Some((a, b)) = run_c_tests("asan", &flags) {
        println!("C checks under ASan/LSan: {}", a + b);
    }
}

/// The names of the functions `header` (with what it includes) declares, from the
/// preprocessed text: every `WASM_API_EXTERN` declaration.
fn declared_functions() -> BTreeSet<String> {
    let src = std::env::temp_dir().join(format!("precast-c-api-decl-{}.c", std::process::id()));
    std::fs::write(&src, "#include \"precast.h\"\n").unwrap();
    let out = Command::new("cc")
        .args(["-E", "-P", "-DWASM_API_EXTERN=__precast_api__", "-I"])
        .arg(crate_dir().join("include"))
        .arg(&src)
        .output()
        .expect("run cc -E");
    let _ = std::fs::remove_file(&src);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.split("__precast_api__")
        .skip(1)
        .map(|decl| {
            let head = &decl[..decl.find('(').expect("a function declaration")];
            let name = head
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .find(|s| !s.is_empty())
                .unwrap();
            name.to_string()
        })
        .collect()
}

/// The functions `libprecast.so` exports.
fn exported_functions() -> BTreeSet<String> {
    let so = lib_dir().join("libprecast.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("run nm");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "T").then(|| name.to_string())
        })
        .collect()
}

/// The identifiers used by the C test `file` itself (preprocessed, so names built by
/// macros count; the headers' own text does not).
fn identifiers_used(file: &Path) -> BTreeSet<String> {
    let out = Command::new("cc")
        .args(["-E", "-I"])
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(crate_dir().join("tests"))
        .arg(file)
        .output()
        .expect("run cc -E");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let own = file.file_name().unwrap().to_string_lossy().into_owned();
    let mut in_file = false;
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        if let Some(marker) = line.strip_prefix("# ") {
            // `# LINE "FILE" FLAGS`: which file the following lines come from.
            in_file = marker.split('"').nth(1).is_some_and(|f| f.ends_with(&own));
            continue;
        }
        if in_file {
            for id in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !id.is_empty() {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    ids
}

#[test]
fn headers_match_exports_and_tests_use_them_all() {
    let declared = declared_functions();
    let exported = exported_functions();
    let missing: Vec<_> = declared.difference(&exported).collect();
    let undeclared: Vec<_> = exported.difference(&declared).collect();
    assert!(missing.is_empty(), "declared but not exported: {missing:?}");
    assert!(
        undeclared.is_empty(),
        "exported but not declared: {undeclared:?}"
    );

    let tests = crate_dir().join("tests");
    let mut used = identifiers_used(&tests.join("test_wasm.c"));
    used.extend(identifiers_used(&tests.join("test_precast.c")));
    let untested: Vec<_> = declared.iter().filter(|f| !used.contains(*f)).collect();
    assert!(
        untested.is_empty(),
        "functions no C test calls: {untested:?}"
    );
    let wasm_h = declared.iter().filter(|f| f.starts_with("wasm_")).count();
    println!(
        "{} functions exported ({wasm_h} of wasm.h, {} of precast.h), all called by the C tests",
        declared.len(),
        declared.len() - wasm_h
    );
}

#[test]
fn headers_compile_as_c99_and_cxx() {
    let include = crate_dir().join("include");
    let dir = scratch("headers");
    let src = dir.join("both.c");
    std::fs::write(
        &src,
        "#include \"precast.h\"\n#include \"wasm.h\"\nint main(void) { return 0; }\n",
    )
    .unwrap();
    let cxx = dir.join("both.cc");
    std::fs::copy(&src, &cxx).unwrap();
    let mut compilers = vec![("cc", "-std=c99", &src)];
    // C++ (the standard's value macros use designated initializers: C++20).
    if Command::new("c++").arg("--version").output().is_ok() {
        compilers.push(("c++", "-std=c++20", &cxx));
    }
    for (compiler, std, file) in compilers {
        let out = Command::new(compiler)
            .args([
                std,
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-fsyntax-only",
                "-I",
            ])
            .arg(&include)
            .arg(file)
            .output()
            .expect("run the compiler");
        assert!(
            out.status.success(),
            "{compiler} {std}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
