//! The runtime core without `std`: `examples/nostd-host` (a `no_std` program whose whole
//! platform is an allocator, one thread-local slot and a panic handler) runs a module
//! compiled `--no-signals` and linked in, with no signal handler installed. Its stripped size
//! is the runtime's footprint on the minimal platform.

use precast_compiler::format::header::BoundsChecks;
use std::path::Path;
use std::process::Command;

const APP: &str = r#"(module
  (import "host" "log" (func $log (param i32)))
  (memory (export "memory") 1 8)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  ;; Stores 0..n at the start of the last page (after growth: the memory moved), sums them.
  (func (export "fill_and_sum") (param $n i32) (result i32)
    (local $i i32) (local $sum i32) (local $base i32)
    (local.set $base (i32.mul (i32.sub (memory.size) (i32.const 1)) (i32.const 65536)))
    (loop $l
      (i32.store (i32.add (local.get $base) (i32.mul (local.get $i) (i32.const 4))) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.set $i (i32.const 0))
    (loop $s
      (local.set $sum (i32.add (local.get $sum)
        (i32.load (i32.add (local.get $base) (i32.mul (local.get $i) (i32.const 4))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $s (i32.lt_u (local.get $i) (local.get $n))))
    (call $log (local.get $sum))
    (local.get $sum))
  (func (export "div_by_zero") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "out_of_bounds") (result i32) (i32.load (i32.const -16)))
  (func (export "unreachable") (result i32) unreachable))"#;

#[test]
fn a_no_std_program_runs_a_linked_module_without_signals() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target").join("nostd-host");
    std::fs::create_dir_all(&out).unwrap();
    // The host knows only the CPU features it was compiled for (no OS to ask): the module is
    // compiled for Precast's baseline CPU and the host for the same (x86-64-v2 on x86_64).
    let mut config = precast_compiler::Config {
        link_name: Some("app".into()),
        cpu: precast_compiler::CpuTarget::Baseline,
        ..precast_compiler::Config::default()
    };
    config.settings.bounds_checks = BoundsChecks::Explicit;
    config.settings.signals_based_traps = false;
    let object = precast_compiler::compile(APP.as_bytes(), &config).expect("compile");
    let object_path = out.join("app.o");
    std::fs::write(&object_path, object).unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    if cfg!(target_arch = "x86_64") {
        build.env("RUSTFLAGS", "-C target-cpu=x86-64-v2");
    }
    let status = build
        .args(["build", "--release", "--manifest-path"])
        .arg(root.join("examples/nostd-host/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &out)
        .env("PRECAST_NOSTD_MODULE", &object_path)
        .status()
        .expect("cargo");
    assert!(status.success(), "building examples/nostd-host failed");
    let exe = out.join("release/nostd-host");
    let run = Command::new(&exe).output().expect("run nostd-host");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "nostd-host failed: {stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..8],
        [
            "fib(25) = 75025",
            "grow(3) = 1",
            "log: 499500",
            "fill_and_sum(1000) = 499500",
            "host calls: 1",
            "div_by_zero: trap: integer divide by zero",
            "out_of_bounds: trap: out of bounds memory access",
            "unreachable: trap: unreachable",
        ],
        "{stdout}"
    );
    assert!(lines[8].starts_with("heap: module "), "{stdout}");
    let size = std::fs::metadata(&exe).unwrap().len();
    let text = text_size(&exe);
    eprintln!(
        "nostd-host: {size} bytes stripped, .text {text}; {}",
        lines[8]
    );
    // The footprint goal: the whole program's code (the runtime core, its minimal platform,
    // the host and the module) within 150 KB on x86_64.
    if cfg!(target_arch = "x86_64") {
        assert!(
            text <= 150 * 1024,
            ".text is {text} bytes, over the 150 KB budget"
        );
    }
}

/// The size of the `.text` section of the executable at `path`.
fn text_size(path: &Path) -> u64 {
    use object::{Object, ObjectSection};
    let bytes = std::fs::read(path).unwrap();
    let file = object::File::parse(&*bytes).expect("an ELF executable");
    file.section_by_name(".text")
        .expect("a .text section")
        .size()
}
