//! The deploy-side runner runs artifacts and reports errors.

use std::process::Command;

#[test]
fn runs_an_artifact_and_reports_traps() {
    let wat = format!("{}/../examples/fib.wat", env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("precast-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let art = dir.join("fib.pcst");
    precast_compiler::compile_file(&wat, &art, &precast_compiler::Config::default()).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_precast-run"))
            .arg(&art)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--invoke", "fib", "15"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "610");
    let o = run(&["--invoke", "divide", "7", "0"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("divide by zero"));
    let o = Command::new(env!("CARGO_BIN_EXE_precast-run"))
        .arg(&wat)
        .output()
        .unwrap();
    assert!(!o.status.success(), "a .wat file is not an artifact");
}

#[test]
fn runs_a_wasi_artifact_with_dirs_env_and_args() {
    let wat = format!("{}/../examples/wasi_echo.wat", env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("precast-run-wasi-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/hello.txt"), "hi there\n").unwrap();
    let art = dir.join("echo.pcst");
    precast_compiler::compile_file(&wat, &art, &precast_compiler::Config::default()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_precast-run"))
        .arg(&art)
        .arg("--dir")
        .arg(format!("{}::/", dir.join("data").display()))
        .args(["--env", "K=V", "--", "x"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "echo.pcst\nx\nK=V\nhi there\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_artifact_is_one_clear_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_precast-run"))
        .arg("/nonexistent/app.pcst")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/app.pcst"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn timeout_and_fuel_stop_a_program_with_their_own_exit_status() {
    let dir = std::env::temp_dir().join(format!("precast-run-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = r#"(module (func (export "spin") (loop $l (br $l))) (func (export "answer") (result i32) (i32.const 42)))"#;
    let artifact = |name: &str, epoch: bool, fuel: bool| {
        let mut c = precast_compiler::Config::default();
        c.settings.epoch_interruption = epoch;
        c.settings.consume_fuel = fuel;
        let path = dir.join(name);
        std::fs::write(
            &path,
            precast_compiler::compile(wasm.as_bytes(), &c).unwrap(),
        )
        .unwrap();
        path
    };
    let run = |art: &std::path::Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_precast-run"))
            .arg(art)
            .args(args)
            .output()
            .unwrap()
    };
    let epoch = artifact("epoch.pcst", true, false);
    let start = std::time::Instant::now();
    let o = run(&epoch, &["--invoke", "spin", "--timeout", "200ms"]);
    let elapsed = start.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(124), "{err}");
    assert!(
        err.contains("--timeout 200ms") && err.contains("interrupt"),
        "{err}"
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(200),
        "{elapsed:?}"
    );
    let o = run(&epoch, &["--invoke", "answer", "--timeout", "10s"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "42");

    let fuel = artifact("fuel.pcst", false, true);
    let o = run(&fuel, &["--invoke", "spin", "--fuel", "100000"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(
        err.contains("--fuel 100000") && err.contains("all fuel consumed"),
        "{err}"
    );

    // An artifact compiled without the checks cannot be limited: refused, with the fix.
    let plain = artifact("plain.pcst", false, false);
    let o = run(&plain, &["--invoke", "spin", "--timeout", "1s"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--epoch-interruption"), "{err}");
    let o = run(&epoch, &["--invoke", "answer"]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&epoch, &["--invoke", "answer", "--timeout", "soon"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a duration"));
}

#[test]
fn max_memory_refuses_growth_and_names_the_limit() {
    let dir = std::env::temp_dir().join(format!("precast-run-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wat = format!("{}/../tests/linked/limits.wat", env!("CARGO_MANIFEST_DIR"));
    let art = dir.join("limits.pcst");
    precast_compiler::compile_file(&wat, &art, &precast_compiler::Config::default()).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_precast-run"))
            .arg(&art)
            .args(args)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        (o.status.code(), out, err)
    };
    // 1 page + 1 = 128 KiB: allowed; + 2 refused with -1, which the program may handle.
    let (code, out, err) = run(&["--max-memory", "128K", "--invoke", "grow", "1"]);
    assert_eq!((code, out.as_str()), (Some(0), "1"), "{err}");
    let (code, out, err) = run(&["--max-memory", "128K", "--invoke", "grow", "2"]);
    assert_eq!((code, out.as_str()), (Some(0), "-1"), "{err}");
    // A program that fails after a refusal: the limit named, status 137.
    let (code, _, err) = run(&["--max-memory", "192K", "--invoke", "hog"]);
    assert_eq!(code, Some(137), "{err}");
    assert!(
        err.contains("after --max-memory")
            && err.contains("memory limit of 196608 bytes reached: growth to 262144 bytes refused")
            && err.contains("unreachable"),
        "{err}"
    );
    // Trapping at the refusal itself.
    let (code, _, err) = run(&[
        "--max-memory",
        "128K",
        "--trap-on-grow-failure",
        "--invoke",
        "grow",
        "2",
    ]);
    assert_eq!(code, Some(137), "{err}");
    assert!(
        err.contains("memory limit of 131072 bytes reached"),
        "{err}"
    );
    // A memory whose initial size is over the limit: not instantiated.
    let (code, _, err) = run(&["--max-memory", "32K", "--invoke", "size"]);
    assert_eq!(code, Some(137), "{err}");
    assert!(err.contains("memory limit of 32768 bytes"), "{err}");
    let (code, _, err) = run(&["--max-memory", "lots", "--invoke", "size"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a size in bytes"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
