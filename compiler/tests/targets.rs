//! Every supported target gets an artifact from the same module: the ELF machine, the
//! header's target and CPU features, and the refusals (SIMD on riscv64 without V, foreign
//! features, `--cpu native` for another architecture). Running the code is the job of
//! `cargo xtask cross` (the spec, WASI and sightglass suites under qemu).

use object::{Object, ObjectSection};
use precast_compiler::{Config, CpuTarget, TARGETS, compile};
use precast_format::{Header, sections};

const SCALAR: &str = r#"
(module
  (memory 1 1 shared)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "bump") (result i32)
    (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
  (func (export "floor") (param f64) (result f64) (f64.floor (local.get 0))))
"#;

const SIMD: &str = r#"
(module
  (func (export "add") (param v128 v128) (result v128)
    (i32x4.add (local.get 0) (local.get 1))))
"#;

fn config(target: &str, cpu: CpuTarget) -> Config {
    Config {
        target: target.into(),
        cpu,
        ..Config::default()
    }
}

fn header(artifact: &[u8]) -> (object::Architecture, Header) {
    let file = object::File::parse(artifact).expect("an ELF object");
    let section = file
        .section_by_name(sections::HEADER)
        .expect("a header section");
    let header = Header::decode(section.data().unwrap(), crc32fast::hash).expect("a header");
    (file.architecture(), header)
}

#[test]
fn every_target_gets_its_own_artifact() {
    let expected = [
        object::Architecture::X86_64,
        object::Architecture::Aarch64,
        object::Architecture::Riscv64,
    ];
    for (target, arch) in TARGETS.iter().zip(expected) {
        let artifact = compile(
            SCALAR.as_bytes(),
            &config(target.triple, CpuTarget::Baseline),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", target.triple));
        let (machine, h) = header(&artifact);
        assert_eq!(machine, arch, "{}", target.triple);
        assert_eq!(h.target, target.triple);
        assert_eq!(h.pointer_size, 8);
        let features: Vec<&str> = h.cpu_features.names().collect();
        let baseline: &[&str] = match target.arch {
            "x86_64" => &["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"],
            "riscv64" => &["c"],
            _ => &[],
        };
        assert_eq!(features, baseline, "{}", target.triple);
    }
}

#[test]
fn named_cpus_and_features_are_recorded() {
    let cases = [
        (
            "aarch64-unknown-linux-gnu",
            "cortex-a76,+i8mm",
            "lse,fp16,dotprod,i8mm",
        ),
        ("aarch64-unknown-linux-gnu", "+lse,+fp16", "lse,fp16"),
        (
            "riscv64gc-unknown-linux-gnu",
            "rva23u64",
            "c,zcb,v,zba,zbb,zbs,zicond,zfa,zfhmin,zvbb",
        ),
        ("riscv64gc-unknown-linux-gnu", "+v,+zba", "c,v,zba"),
        (
            "x86_64-unknown-linux-gnu",
            "x86-64-v3",
            "sse3,ssse3,sse4.1,sse4.2,popcnt,avx,avx2,bmi1,bmi2,lzcnt,fma,cmpxchg16b",
        ),
    ];
    for (target, cpu, want) in cases {
        let artifact = compile(SCALAR.as_bytes(), &config(target, cpu.parse().unwrap()))
            .unwrap_or_else(|e| panic!("{target} {cpu}: {e}"));
        assert_eq!(
            header(&artifact).1.cpu_features.to_string(),
            want,
            "{target} {cpu}"
        );
    }
}

#[test]
fn simd_on_riscv64_needs_the_v_extension() {
    let riscv = "riscv64gc-unknown-linux-gnu";
    let e = compile(SIMD.as_bytes(), &config(riscv, CpuTarget::Baseline)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("SIMD") && msg.contains("V extension"), "{msg}");
    assert!(msg.contains("--cpu +v"), "{msg}");
    // With V it compiles, and so does a scalar module without it.
    compile(SIMD.as_bytes(), &config(riscv, "+v".parse().unwrap())).unwrap();
    compile(SCALAR.as_bytes(), &config(riscv, CpuTarget::Baseline)).unwrap();
    // An invalid module is reported as invalid, not as needing SIMD.
    let bad = "(module (func (result i32)))";
    let e = compile(bad.as_bytes(), &config(riscv, CpuTarget::Baseline)).unwrap_err();
    assert!(!e.to_string().contains("SIMD"), "{e}");
    for t in ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"] {
        compile(SIMD.as_bytes(), &config(t, CpuTarget::Baseline)).unwrap();
    }
}

#[test]
fn bad_targets_and_cpus_are_refused_with_what_would_do() {
    let refuse = |target: &str, cpu: CpuTarget| -> String {
        compile(SCALAR.as_bytes(), &config(target, cpu))
            .unwrap_err()
            .to_string()
    };
    let msg = refuse("mips-unknown-linux-gnu", CpuTarget::Baseline);
    assert!(
        msg.contains("unsupported target") && msg.contains("riscv64gc"),
        "{msg}"
    );
    let msg = refuse("riscv64imac-unknown-linux-gnu", CpuTarget::Baseline);
    assert!(msg.contains("unsupported target"), "{msg}");
    let foreign = if precast_compiler::host_target().starts_with("aarch64") {
        "x86_64-unknown-linux-gnu"
    } else {
        "aarch64-unknown-linux-gnu"
    };
    let msg = refuse(foreign, CpuTarget::Native);
    assert!(msg.contains("--cpu native"), "{msg}");
    let msg = refuse("aarch64-unknown-linux-gnu", "+avx2".parse().unwrap());
    assert!(msg.contains("not a feature of aarch64"), "{msg}");
    assert!(msg.contains("lse"), "{msg}");
    let msg = refuse("riscv64gc-unknown-linux-gnu", "cortex-a76".parse().unwrap());
    assert!(msg.contains("rva23u64"), "{msg}");
    // The parser refuses unknown features and misplaced CPU names outright.
    assert!("+sse9".parse::<CpuTarget>().is_err());
    assert!("+lse,cortex-a76".parse::<CpuTarget>().is_err());
    assert_eq!(
        "cortex-a76,+i8mm".parse::<CpuTarget>().unwrap(),
        CpuTarget::Named {
            cpu: "cortex-a76".into(),
            features: vec!["i8mm".into()]
        }
    );
}
