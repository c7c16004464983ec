//! Developer tasks: `cargo xtask <task>`.
//!
//! - `spec [--target TRIPLE] [FILTER...]`: the WebAssembly spec testsuite through the
//!   compile -> artifact -> load path.
//! - `wasi [--target TRIPLE] [--keep DIR] [FILTER...]`: the WASI testsuite (preview1) through
//!   compile -> artifact -> `precast-run`.
//! - `sightglass [--target TRIPLE]`: the sightglass programs against their expected output.
//! - `cross [TRIPLE...]`: all three for each target (default: aarch64 and riscv64), plus the
//!   example's statically linked host cross-built and its tests run emulated.
//!
//! With `--target` for another architecture the code under test is built for it and run
//! under qemu-user; Cranelift runs natively on the build machine (a compile server for the
//! spec and sightglass runners, the host's compiler for the WASI tests), as it does when
//! modules are precompiled at build time. `--cpu CPU` picks the CPU the code is compiled
//! for (see [`Cross`] for the defaults).
//! - `bench [--quick] [--out DIR] [FILTER...]`: Precast vs Wasmtime 48, side by side.
//! - `ci`: everything CI checks: format, clippy, unit/e2e tests (sightglass included), the
//!   spec and WASI conformance runs.
//! - `corrupt [--flips N] [--seed S] [--unchecked] [--timeout SECS]`: the corruption sweep:
//!   N artifacts with one random byte flipped (default 2000), each run by `precast run` and
//!   `precast-run`; every run must be refused with an `error:` line (exit 1 or 134) or behave
//!   exactly like the clean artifact; a signal, a hang or any other outcome fails (see
//!   [`corrupt`]).
//! - `fuzz [TARGET...] [--time SECS] [--smoke]`: the cargo-fuzz targets (differential,
//!   compile, artifacts, wasi) for SECS each (default 600; nightly + cargo-fuzz), or with
//!   `--smoke` their fixed-input replay test on stable (see [`fuzz`]).

mod corrupt;
mod fuzz;

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

/// Runs the precast-tests binary `bin` with `args`: natively, or, with `--target` for another
/// architecture, cross-built and emulated, compiling through the native compile server.
fn suite(bin: &str, args: &[String]) -> Result<()> {
    let (cross, args) = Cross::from_args(args)?;
    let Some(cross) = cross else {
        return run(cargo()
            .args(["run", "--quiet", "-p", "precast-tests", "--bin", bin, "--"])
            .args(args));
    };
    let runner = cross.build_runner(bin)?;
    run(cross.emulated(&runner)?.args(args))
}

fn spec(args: &[String]) -> Result<()> {
    suite("spec-runner", args)
}

fn sightglass(args: &[String]) -> Result<()> {
    suite("sightglass-runner", args)
}

fn wasi(args: &[String]) -> Result<()> {
    let (cross, args) = Cross::from_args(args)?;
    let mut extra = Vec::new();
    match &cross {
        // The runner starts `precast-run` from beside its own executable.
        None => run(cargo().args(["build", "--quiet", "-p", "precast-run"]))?,
        Some(cross) => {
            run(cargo()
                .args(["build", "--quiet", "-p", "precast-run", "--target"])
                .arg(cross.triple))?;
            let precast_run = root()
                .join("target")
                .join(cross.triple)
                .join("debug/precast-run");
            extra.extend([
                "--target".to_string(),
                cross.triple.to_string(),
                "--cpu".to_string(),
                cross.cpu.clone(),
                "--runner".to_string(),
                format!(
                    "{} -L {} -cpu {} {}",
                    cross.qemu,
                    cross.sysroot,
                    cross.qemu_cpu,
                    precast_run.display()
                ),
            ]);
        }
    }
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
        .args(extra)
        .args(args))
}

/// A cross target: its emulator, the sysroot its dynamic binaries load from, the CPU the
/// emulator models and the CPU the code is compiled for.
struct Cross {
    triple: &'static str,
    qemu: &'static str,
    linker: &'static str,
    sysroot: &'static str,
    /// qemu's `-cpu`: a model with every extension the compiled code may use.
    qemu_cpu: &'static str,
    /// `--cpu` of the compiler.
    cpu: String,
}

/// The cross targets: aarch64 is compiled for its baseline (ARMv8.0-A: LL/SC atomics,
/// NEON), riscv64 for the RVA23 profile but Zcb (V for SIMD, Zba/Zbb/Zbs, Zicond, Zfa).
const CROSS: [(&str, &str, &str, &str, &str, &str); 2] = [
    (
        "aarch64-unknown-linux-gnu",
        "qemu-aarch64-static",
        "aarch64-linux-gnu-gcc",
        "/usr/aarch64-linux-gnu",
        "max",
        "baseline",
    ),
    (
        "riscv64gc-unknown-linux-gnu",
        "qemu-riscv64-static",
        "riscv64-linux-gnu-gcc",
        "/usr/riscv64-linux-gnu",
        "rva23u64",
        // RVA23 without Zcb: qemu's `riscv_hwprobe` does not report Zcb, so the loader
        // (rightly) refuses code that needs it.
        "+v,+zba,+zbb,+zbs,+zicond,+zfa,+zfhmin,+zvbb",
    ),
];

impl Cross {
    fn new(triple: &str, cpu: Option<String>) -> Result<Cross> {
        let Some(&(triple, qemu, linker, sysroot, qemu_cpu, default_cpu)) =
            CROSS.iter().find(|c| c.0 == triple)
        else {
            let known: Vec<&str> = CROSS.iter().map(|c| c.0).collect();
            bail!(
                "no cross setup for `{triple}`: known are {}",
                known.join(", ")
            );
        };
        Ok(Cross {
            triple,
            qemu,
            linker,
            sysroot,
            qemu_cpu,
            cpu: cpu.unwrap_or_else(|| default_cpu.to_string()),
        })
    }

    /// Takes `--target TRIPLE` and `--cpu CPU` out of `args`; `None` for the host.
    fn from_args(args: &[String]) -> Result<(Option<Cross>, Vec<String>)> {
        let (mut target, mut cpu, mut rest) = (None, None, Vec::new());
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--target" => target = Some(it.next().context("--target needs a triple")?),
                "--cpu" => cpu = Some(it.next().context("--cpu needs a value")?.clone()),
                _ => rest.push(a.clone()),
            }
        }
        let host = host_triple()?;
        match target {
            Some(t) if *t != host => {
                let cross = Cross::new(t, cpu)?;
                cross.check_tools()?;
                Ok((Some(cross), rest))
            }
            _ => Ok((None, rest)),
        }
    }

    /// What this machine lacks to build and run for the target, as a list of fixes.
    fn missing_tools(&self) -> Vec<String> {
        let mut missing = Vec::new();
        let on_path = |tool: &str| {
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !on_path(self.qemu) {
            missing.push(format!("{} (apt-get install qemu-user-static)", self.qemu));
        }
        if !on_path(self.linker) {
            missing.push(format!(
                "{} (apt-get install gcc-{})",
                self.linker,
                self.linker.trim_end_matches("-gcc")
            ));
        }
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l == self.triple)
            });
        if !installed {
            missing.push(format!(
                "the Rust standard library for {} (rustup target add {})",
                self.triple, self.triple
            ));
        }
        missing
    }

    fn check_tools(&self) -> Result<()> {
        let missing = self.missing_tools();
        if !missing.is_empty() {
            bail!(
                "cannot build and run for {}: missing {}",
                self.triple,
                missing.join(", ")
            );
        }
        Ok(())
    }

    /// Builds the native compile server and `bin` of precast-tests for the target (without
    /// the compiler); returns the target binary.
    fn build_runner(&self, bin: &str) -> Result<PathBuf> {
        run(cargo().args([
            "build",
            "--quiet",
            "-p",
            "precast-tests",
            "--bin",
            "compile-server",
        ]))?;
        run(cargo()
            .args([
                "build",
                "--quiet",
                "-p",
                "precast-tests",
                "--no-default-features",
            ])
            .args(["--bin", bin, "--target", self.triple]))?;
        Ok(root()
            .join("target")
            .join(self.triple)
            .join("debug")
            .join(bin))
    }

    /// A command running the target binary `exe` under qemu, compiling through the native
    /// compile server.
    fn emulated(&self, exe: &Path) -> Result<Command> {
        let mut cmd = Command::new(self.qemu);
        cmd.args(["-L", self.sysroot, "-cpu", self.qemu_cpu])
            .arg(exe)
            .env(
                "PRECAST_COMPILE_SERVER",
                root().join("target/debug/compile-server"),
            )
            .env(
                "PRECAST_COMPILE_ARGS",
                format!("--target {} --cpu {}", self.triple, self.cpu),
            );
        Ok(cmd)
    }

    /// The loader on the target refuses an artifact needing features the emulated CPU lacks,
    /// naming them (and runs it on a CPU that has them).
    fn refusal(&self) -> Result<()> {
        let (cpu, lacking_cpu, missing) = match self.triple {
            "aarch64-unknown-linux-gnu" => ("+lse,+i8mm", "cortex-a53", "lse,i8mm"),
            _ => ("+v,+zicond", "rv64,v=false,zicond=false", "v,zicond"),
        };
        run(cargo().args(["build", "--quiet", "-p", "precast-cli"]))?;
        let artifact = std::env::temp_dir().join(format!("precast-refusal-{}.pcst", self.triple));
        run(Command::new(root().join("target/debug/precast"))
            .args([
                "compile",
                "examples/fib.wat",
                "--target",
                self.triple,
                "--cpu",
                cpu,
                "-o",
            ])
            .arg(&artifact))?;
        let precast_run = root()
            .join("target")
            .join(self.triple)
            .join("debug/precast-run");
        let attempt = |qemu_cpu: &str| -> Result<std::process::Output> {
            let mut cmd = Command::new(self.qemu);
            cmd.args(["-L", self.sysroot, "-cpu", qemu_cpu])
                .arg(&precast_run)
                .arg(&artifact)
                .args(["--invoke", "fib", "20"]);
            eprintln!("+ {cmd:?}");
            cmd.output()
                .with_context(|| format!("cannot start {}", self.qemu))
        };
        let out = attempt(lacking_cpu)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let named = missing.split(',').all(|f| stderr.contains(f));
        if out.status.code() != Some(1) || !named || !stderr.contains("lacks") {
            bail!(
                "on {lacking_cpu} the artifact for {cpu} was not refused naming {missing}: {out:?}"
            );
        }
        eprintln!("refused as expected: {}", stderr.trim());
        let out = attempt(self.qemu_cpu)?;
        if !out.status.success() || String::from_utf8_lossy(&out.stdout).trim() != "6765" {
            bail!(
                "the artifact for {cpu} did not run on {}: {out:?}",
                self.qemu_cpu
            );
        }
        let _ = std::fs::remove_file(&artifact);
        Ok(())
    }

    /// The example's linked host: built for the target with its modules precompiled for it
    /// by the build script, and its tests run under qemu (they start the host binaries
    /// through the emulator too).
    fn linked_host(&self) -> Result<()> {
        run(cargo()
            .args(["test", "-p", "linked-host", "--target", self.triple])
            .env(
                "PRECAST_TARGET_RUNNER",
                format!("{} -L {} -cpu {}", self.qemu, self.sysroot, self.qemu_cpu),
            )
            .env(
                format!(
                    "CARGO_TARGET_{}_RUNNER",
                    self.triple.to_uppercase().replace('-', "_")
                ),
                format!("{} -L {} -cpu {}", self.qemu, self.sysroot, self.qemu_cpu),
            ))
    }
}

/// Every cross check for each of `targets` (all known when empty). Targets whose tools are
/// missing are reported and skipped, or fail when `PRECAST_CROSS_REQUIRED` is set (CI).
fn cross(targets: &[String]) -> Result<()> {
    let targets: Vec<String> = if targets.is_empty() {
        CROSS.iter().map(|c| c.0.to_string()).collect()
    } else {
        targets.to_vec()
    };
    let required = std::env::var_os("PRECAST_CROSS_REQUIRED").is_some();
    let mut skipped = Vec::new();
    for t in &targets {
        let cross = Cross::new(t, None)?;
        let missing = cross.missing_tools();
        if !missing.is_empty() {
            let msg = format!("{t}: missing {}", missing.join(", "));
            if required {
                bail!("cross tests are required (PRECAST_CROSS_REQUIRED) but {msg}");
            }
            eprintln!("\n!!!!! SKIPPED the cross tests for {msg} !!!!!\n");
            skipped.push(msg);
            continue;
        }
        let target = vec!["--target".to_string(), t.clone()];
        spec(&target)?;
        wasi(&target)?;
        sightglass(&target)?;
        cross.refusal()?;
        cross.linked_host()?;
    }
    if !skipped.is_empty() {
        eprintln!("\n!!!!! cross tests NOT RUN for:");
        for s in &skipped {
            eprintln!("!!!!!   {s}");
        }
    }
    Ok(())
}

/// Bare-metal targets the `no_std` loader must build for.
const BARE: [&str; 2] = ["x86_64-unknown-none", "aarch64-unknown-none"];

/// Builds (and lints) `precast-loader --no-default-features` for each bare-metal target:
/// the runtime core on the minimal platform. A target whose standard library is not
/// installed is reported and skipped, or fails when `PRECAST_CROSS_REQUIRED` is set (CI).
fn nostd() -> Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .with_context(|| format!("cannot start {rustc}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let required = std::env::var_os("PRECAST_CROSS_REQUIRED").is_some();
    for t in BARE {
        if !sysroot.join("lib/rustlib").join(t).is_dir() {
            let msg = format!("{t}: its standard library is not installed (rustup target add {t})");
            if required {
                bail!("no_std builds are required (PRECAST_CROSS_REQUIRED) but {msg}");
            }
            eprintln!("\n!!!!! SKIPPED the no_std build for {msg} !!!!!\n");
            continue;
        }
        let core = [
            "-p",
            "precast-loader",
            "--no-default-features",
            "--target",
            t,
        ];
        run(cargo().arg("build").args(core))?;
        if has_cargo_tool("clippy") {
            run(cargo()
                .arg("clippy")
                .args(core)
                .args(["--", "-D", "warnings"]))?;
        }
    }
    Ok(())
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
    corrupt::corrupt(&root(), &[])?;
    nostd()?;
    cross(&[])?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("spec") => spec(&args[1..]),
        Some("wasi") => wasi(&args[1..]),
        Some("sightglass") => sightglass(&args[1..]),
        Some("cross") => cross(&args[1..]),
        Some("nostd") => nostd(),
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("corrupt") => corrupt::corrupt(&root(), &args[1..]),
        Some("fuzz") => fuzz::fuzz(&root(), &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <spec [--target T] [FILTER...] | wasi [--target T] [FILTER...] \
                 | sightglass [--target T] | cross [TRIPLE...] | nostd | bench [--quick] [--out DIR] \
                 [FILTER...] | corrupt [--flips N] [--seed S] [--unchecked] [--timeout SECS] \
                 | fuzz [TARGET...] [--time SECS] [--smoke] | ci>"
            );
            std::process::exit(2);
        }
    }
}
