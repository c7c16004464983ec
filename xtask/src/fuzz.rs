//! `cargo xtask fuzz [TARGET...] [--time SECS] [--smoke]`: the fuzz targets of
//! `precast-fuzzing` (differential, compile, artifacts, wasi).
//!
//! Full mode runs `cargo +nightly fuzz run TARGET -- -max_total_time=SECS` (default 600 s) in
//! `fuzz/` for each target (default: all), its output both shown and saved to
//! `fuzz/target/logs/TARGET.log`, then prints libFuzzer's exec count and whether it found a
//! crash (a crash input lands in `fuzz/artifacts/TARGET/`; copy it to
//! `fuzzing/regressions/TARGET/` once fixed). Needs the nightly toolchain and `cargo-fuzz`.
//!
//! `--smoke` instead replays the fixed inputs and every regression file through
//! `cargo test -p precast-fuzzing --test smoke` (stable; what CI runs).

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const TARGETS: [&str; 4] = ["differential", "compile", "artifacts", "wasi"];

pub fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let mut targets = Vec::new();
    let mut time = 600u64;
    let mut smoke = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--smoke" => smoke = true,
            "--time" => {
                time = it
                    .next()
                    .context("--time needs a number of seconds")?
                    .parse()
                    .context("--time: not a number of seconds")?
            }
            t if TARGETS.contains(&t) => targets.push(t.to_string()),
            other => bail!(
                "unknown fuzz argument `{other}`: expected targets among {TARGETS:?}, --time SECS \
                 or --smoke"
            ),
        }
    }
    if smoke {
        let mut cmd = super::cargo();
        cmd.args(["test", "-p", "precast-fuzzing", "--test", "smoke"]);
        if !targets.is_empty() {
            // The smoke test has one test function per target.
            cmd.arg("--").args(&targets);
        }
        return super::run(&mut cmd);
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    let fuzz_dir = root.join("fuzz");
    let logs = fuzz_dir.join("target/logs");
    std::fs::create_dir_all(&logs)?;
    let mut summary = Vec::new();
    for t in &targets {
        let log_path = logs.join(format!("{t}.log"));
        let mut log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&fuzz_dir)
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO_TARGET_DIR")
            .args(["+nightly", "fuzz", "run", t, "--"])
            .arg(format!("-max_total_time={time}"))
            .arg("-print_final_stats=1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        eprintln!("+ (in fuzz/) {cmd:?}");
        let mut child = cmd.spawn().context(
            "cannot start `cargo +nightly fuzz` (install with `cargo install cargo-fuzz`)",
        )?;
        // libFuzzer reports on stderr; cargo-fuzz prints on both.
        let stdout = child.stdout.take().unwrap();
        let out_thread = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                lines.push(line);
            }
            lines
        });
        let mut execs = None;
        let mut crash = false;
        for line in BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("{line}");
            writeln!(log, "{line}")?;
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                execs = n.trim().parse::<u64>().ok();
            } else if let Some(rest) = line.strip_prefix('#')
                && let Some((n, what)) = rest.split_once(char::is_whitespace)
                && what.trim_start().starts_with("DONE")
                && execs.is_none()
            {
                execs = n.parse().ok();
            }
            if line.contains("Test unit written to") || line.contains("ERROR: libFuzzer") {
                crash = true;
            }
        }
        for line in out_thread.join().unwrap_or_default() {
            writeln!(log, "{line}")?;
        }
        let status = child.wait()?;
        crash |= !status.success();
        summary.push(format!(
            "{t}: {} execs in {time} s, {} (log: {})",
            execs.map_or("unknown".into(), |n| n.to_string()),
            if crash {
                "CRASH FOUND (see fuzz/artifacts/)"
            } else {
                "no crash"
            },
            log_path.display()
        ));
    }
    eprintln!();
    for s in &summary {
        eprintln!("{s}");
    }
    if summary.iter().any(|s| s.contains("CRASH")) {
        bail!("a fuzz target found a crash");
    }
    Ok(())
}
