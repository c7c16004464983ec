//! The `precast` command line: compile, run, inspect, and the error paths.

use std::path::PathBuf;
use std::process::{Command, Output};

fn precast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_precast"))
        .args(args)
        .output()
        .expect("run precast")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("precast-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn example() -> String {
    format!("{}/../examples/fib.wat", env!("CARGO_MANIFEST_DIR"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn compile_inspect_and_run() {
    let out = tmp("fib.pcst");
    let o = precast(&["compile", &example(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");

    let o = precast(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        ".text",
        ".precast.header",
        "fib",
        "target:",
        "cpu features:",
    ] {
        assert!(
            text.contains(needle),
            "inspect output lacks {needle}:\n{text}"
        );
    }

    let o = precast(&["run", out.to_str().unwrap(), "--invoke", "fib", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "6765");

    // A .wat file is compiled in memory and runs the same way.
    let o = precast(&["run", &example(), "--invoke", "sum", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "36");
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    let o = precast(&["run", &example(), "--invoke", "divide", "1", "0"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("integer divide by zero") && e.contains("divide"),
        "{e}"
    );

    let bad = tmp("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x01\x02").unwrap();
    let o = precast(&[
        "compile",
        bad.to_str().unwrap(),
        "-o",
        tmp("bad.pcst").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("invalid wasm"), "{}", stderr(&o));

    let junk = tmp("junk.pcst");
    std::fs::write(&junk, b"\x7fELF garbage").unwrap();
    let o = precast(&["run", junk.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("artifact"), "{}", stderr(&o));

    let o = precast(&["run", &example(), "--invoke", "nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));

    let o = precast(&["run", &example(), "--invoke", "fib", "notanumber"]);
    assert!(!o.status.success());

    let imports = tmp("imports.wat");
    std::fs::write(
        &imports,
        r#"(module (import "env" "f" (func)) (func (export "_start") (call 0)))"#,
    )
    .unwrap();
    let o = precast(&["run", imports.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("env::f"), "{}", stderr(&o));
    // Unless unknown imports are asked to return default values.
    let o = precast(&[
        "run",
        "--default-values-unknown-imports",
        imports.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn wasi_example() -> String {
    format!("{}/../examples/wasi_echo.wat", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn wasi_program_gets_args_env_dirs_and_exit_status() {
    let dir = tmp("wasi-dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "from the host\n").unwrap();
    let preopen = format!("{}::/", dir.display());
    let o = precast(&[
        "run",
        &wasi_example(),
        "--dir",
        &preopen,
        "--env",
        "GREETING=hi",
        "--",
        "one",
        "two words",
        "--not-a-flag",
    ]);
    // proc_exit(argc) becomes the exit status.
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "wasi_echo.wat\none\ntwo words\n--not-a-flag\nGREETING=hi\nfrom the host\n"
    );

    // No preopen: the file is not reachable; no --env: an empty environment.
    let o = precast(&["run", &wasi_example()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "wasi_echo.wat\n");

    // A missing directory is a clear error.
    let o = precast(&["run", &wasi_example(), "--dir", "/nonexistent/precast"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/precast"),
        "{}",
        stderr(&o)
    );

    // A trap in a WASI program: non-zero, with the backtrace.
    let trap = tmp("wasi-trap.wat");
    std::fs::write(
        &trap,
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func $boom (export "_start") unreachable))"#,
    )
    .unwrap();
    let o = precast(&["run", trap.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("unreachable") && e.contains("boom"), "{e}");
}
