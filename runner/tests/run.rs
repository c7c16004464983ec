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
