//! What the C tests' Rust drivers share: compiling wat to artifacts and linkable objects,
//! finding `libprecast.a`, compiling and running C programs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate's folder (`c-api/`).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty scratch folder for test `name` under cargo's target/tmp.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("c-api-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

/// Compiles the wat (or wasm) file `src` to artifact bytes, as a linkable object when
/// `link_name` is given.
pub fn compile(src: &Path, link_name: Option<&str>) -> Vec<u8> {
    let config = precast_compiler::Config {
        link_name: link_name.map(str::to_string),
        ..precast_compiler::Config::default()
    };
    compile_with(src, &config)
}

/// Compiles the wat (or wasm) file `src` to artifact bytes with `config`.
pub fn compile_with(src: &Path, config: &precast_compiler::Config) -> Vec<u8> {
    let text = std::fs::read(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    precast_compiler::compile(&text, config)
        .unwrap_or_else(|e| panic!("compiling {}: {e}", src.display()))
}

/// The folder cargo built this crate's library into (target/<profile>/deps), holding
/// `libprecast.a` and `libprecast.so`.
pub fn lib_dir() -> PathBuf {
    // This test binary is target/<profile>/deps/NAME-HASH. `cargo test` writes the library
    // to deps/ (only `cargo build` copies it up to target/<profile>, where it may be stale).
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("deps folder");
    for dir in [deps, deps.parent().expect("profile folder")] {
        if dir.join("libprecast.a").exists() {
            return dir.to_path_buf();
        }
    }
    panic!(
        "libprecast.a not found next to {} (cargo builds it with the crate's library)",
        exe.display()
    );
}

/// The system libraries a program linking `libprecast.a` needs (Rust's standard library on
/// Linux with glibc).
pub const SYSTEM_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];

/// Compiles and links the C program `sources` (plus `objects`) against `libprecast.a` into
/// `out`; panics with the compiler's output on failure.
pub fn build_c(sources: &[PathBuf], objects: &[PathBuf], out: &Path) {
    build_c_with(sources, objects, out, &[]).unwrap_or_else(|e| panic!("{e}"));
}

/// [`build_c`] with extra compiler flags; the compiler's output on failure.
pub fn build_c_with(
    sources: &[PathBuf],
    objects: &[PathBuf],
    out: &Path,
    flags: &[&str],
) -> Result<(), String> {
    let include = crate_dir().join("include");
    let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-g",
        "-O1",
    ])
    .args(flags)
    .arg("-I")
    .arg(&include)
    .arg("-I")
    .arg(crate_dir().join("tests"))
    .args(sources)
    .args(objects)
    .arg(lib_dir().join("libprecast.a"))
    .args(SYSTEM_LIBS)
    .arg("-o")
    .arg(out);
    let o = cmd.output().map_err(|e| format!("cannot run cc: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "cc failed ({:?}):\n{}{}",
            cmd,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// Runs `exe` with `args`, stdin empty; returns its output (panics if it cannot start).
pub fn run(exe: &Path, args: &[&Path]) -> Output {
    Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()))
}

/// The offset and size of ELF64 section `name` in `elf`.
pub fn section_range(elf: &[u8], name: &str) -> (usize, usize) {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(header(shstrndx) + 0x18);
    for i in 0..shnum {
        let h = header(i);
        let name_at = strtab + u32_at(h);
        let end = elf[name_at..].iter().position(|&b| b == 0).unwrap() + name_at;
        if &elf[name_at..end] == name.as_bytes() {
            return (u64_at(h + 0x18), u64_at(h + 0x20));
        }
    }
    panic!("no section {name}");
}
