//! Developer tasks: `cargo xtask <task>`.
//!
//! - `spec [FILTER...]`: the WebAssembly spec testsuite through the compile -> artifact -> load path.
//! - `wasi [--keep DIR] [FILTER...]`: the WASI testsuite (preview1) through compile -> artifact
//!   -> `precast-run`.
//! - `bench [--quick] [--out DIR] [FILTER...]`: Precast vs Wasmtime 48, side by side.
//! - `ci`: everything CI checks: format, clippy, unit/e2e tests (sightglass included), the
//!   spec and WASI conformance runs.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn spec(filters: &[String]) -> Result<()> {
    run(cargo()
        .args([
            "run",
            "--quiet",
            "-p",
            "precast-tests",
            "--bin",
            "spec-runner",
            "--",
        ])
        .args(filters))
}

fn wasi(args: &[String]) -> Result<()> {
    // The runner starts `precast-run` from beside its own executable.
    run(cargo().args(["build", "--quiet", "-p", "precast-run"]))?;
    run(cargo()
        .args([
            "run",
            "--quiet",
            "-p",
            "precast-tests",
            "--bin",
            "wasi-runner",
            "--",
        ])
        .args(args))
}

/// The host's target triple (`rustc -vV`).
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("cannot start {rustc}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("`rustc -vV` names no host")
}

/// Builds the deploy-side runner as it ships: the `deploy` profile (fat LTO, one codegen
/// unit, `panic = "abort"`, stripped) with the C runtime linked statically
/// (`+crt-static`, a static PIE: no dynamic loader, no shared libraries to map at exec).
/// `--target` keeps the flag off build scripts and proc macros. Returns the binary's path.
fn build_deploy_runner() -> Result<PathBuf> {
    Ok(build_deploy(&["-p", "precast-run"])?.join("precast-run"))
}

/// Builds `what` (cargo package/binary arguments) like the deploy runner: `deploy` profile,
/// static C runtime, for the host. Returns the folder of the binaries.
fn build_deploy(what: &[&str]) -> Result<PathBuf> {
    let host = host_triple()?;
    run(cargo()
        .args(["build", "--profile", "deploy"])
        .args(what)
        .arg("--target")
        .arg(&host)
        .env("RUSTFLAGS", "-C target-feature=+crt-static"))?;
    Ok(root().join("target").join(host).join("deploy"))
}

fn bench(args: &[String]) -> Result<()> {
    let runner = build_deploy_runner()?;
    let linked = build_deploy(&["-p", "linked-host", "--bin", "linked-hello"])?;
    run(cargo().args(["build", "--release", "-p", "precast-bench"]))?;
    run(Command::new(root().join("target/release/precast-bench"))
        .args(args)
        .env("PRECAST_RUN", runner)
        .env("PRECAST_LINKED_HELLO", linked.join("linked-hello")))
}

/// Whether `cargo <tool>` is installed (rustfmt and clippy are rustup components).
fn has_cargo_tool(tool: &str) -> bool {
    cargo()
        .args([tool, "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ci() -> Result<()> {
    if has_cargo_tool("fmt") {
        run(cargo().args(["fmt", "--all", "--check"]))?;
    } else {
        eprintln!("WARNING: rustfmt is not installed; skipping the format check");
    }
    if has_cargo_tool("clippy") {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
    } else {
        eprintln!("WARNING: clippy is not installed; skipping the lint check");
    }
    // The bench crate is type-checked by clippy above; building Wasmtime fully just to run
    // its small unit tests would double CI's build time.
    run(cargo().args(["test", "--workspace", "--exclude", "precast-bench"]))?;
    spec(&[])?;
    wasi(&[])?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("spec") => spec(&args[1..]),
        Some("wasi") => wasi(&args[1..]),
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <spec [FILTER...] | wasi [FILTER...] | bench [--quick] [--out DIR] [FILTER...] | ci>"
            );
            std::process::exit(2);
        }
    }
}
