//! `cargo xtask corrupt [--flips N] [--seed S] [--unchecked] [--timeout SECS]`: the
//! corruption sweep.
//!
//! Compiles a few artifacts (`examples/fib.wat`, `examples/wasi_echo.wat` and three
//! sightglass programs) with `target/debug/precast compile` and runs each clean through both
//! command lines (`precast run` and `precast-run`) to record its exit status and output.
//! Then, for N trials (default 2000), it flips one random byte of one artifact (a random
//! position, a random nonzero xor; splitmix64 from the seed, so a seed replays exactly) and
//! runs both command lines on the flipped file with the clean run's arguments. A run passes
//! when it
//!
//! - behaves exactly like the clean artifact (same status, same stdout and stderr), or
//! - is refused: exits 1 (an error) or 134 (a trap) with an `error:` line on stderr.
//!
//! Anything else fails the sweep: killed by a signal (a crash), no exit within the timeout
//! (a hang), another exit status, or the clean status with other output. The summary counts
//! the runs refused (by the kind of their first `error:` line), identical and failed;
//! failing files are kept under `target/corrupt/failures/` to replay.
//!
//! `--unchecked` passes `--unchecked` to both command lines: the code is then not verified,
//! so flips in `.text` run, and the sweep is expected to report crashes (a check that it can
//! fail).

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// splitmix64: a small deterministic generator (no dependency).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n` > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One way of running an artifact: its arguments after the file and its working directory.
struct Case {
    name: &'static str,
    /// Index into the artifacts.
    artifact: usize,
    args: Vec<String>,
    cwd: PathBuf,
    /// The clean artifact's result, per command line.
    clean: [RunResult; 2],
}

/// A compiled artifact: its name (also its file name in every trial) and bytes.
struct Artifact {
    name: String,
    bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Exit {
    Status(i32),
    Signal(i32),
    Hang,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RunResult {
    exit: Exit,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

const CLIS: [&str; 2] = ["precast run", "precast-run"];

struct Options {
    flips: usize,
    seed: u64,
    unchecked: bool,
    timeout: Duration,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        flips: 2000,
        seed: 0x5eed,
        unchecked: false,
        timeout: Duration::from_secs(20),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--flips" => o.flips = value()?.parse().context("--flips")?,
            "--seed" => {
                let v = value()?;
                o.seed = match v.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => v.parse(),
                }
                .context("--seed")?;
            }
            "--timeout" => o.timeout = Duration::from_secs(value()?.parse().context("--timeout")?),
            "--unchecked" => o.unchecked = true,
            _ => bail!(
                "usage: cargo xtask corrupt [--flips N] [--seed S] [--unchecked] [--timeout SECS]"
            ),
        }
    }
    Ok(o)
}

/// Runs `exe` on `file` with `args` in `cwd`, capturing output in `scratch`; kills it after
/// `timeout`.
fn run_one(
    exe: &[String],
    file: &Path,
    unchecked: bool,
    args: &[String],
    cwd: &Path,
    scratch: &Path,
    timeout: Duration,
) -> Result<RunResult> {
    let (out, err) = (scratch.join("stdout"), scratch.join("stderr"));
    let mut cmd = Command::new(&exe[0]);
    cmd.args(&exe[1..]).arg(file);
    if unchecked {
        cmd.arg("--unchecked");
    }
    let mut child = cmd
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out)?)
        .stderr(std::fs::File::create(&err)?)
        .spawn()
        .with_context(|| format!("cannot start {}", exe[0]))?;
    let start = Instant::now();
    let exit = loop {
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Status(code),
                (None, Some(sig)) => Exit::Signal(sig),
                (None, None) => bail!("{status}: neither a status nor a signal"),
            };
        }
        if start.elapsed() > timeout {
            // The child this function started, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            break Exit::Hang;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // The artifact's path differs between the clean run and the trials: name it FILE.
    let normalize = |bytes: Vec<u8>| -> Vec<u8> {
        let path = file.display().to_string();
        String::from_utf8_lossy(&bytes)
            .replace(&path, "FILE")
            .into_bytes()
    };
    Ok(RunResult {
        exit,
        stdout: normalize(std::fs::read(&out)?),
        stderr: normalize(std::fs::read(&err)?),
    })
}

/// The first `error:` line of `stderr`, with numbers and the file name generalized: the
/// kind of refusal.
fn error_kind(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| l.starts_with("error:"))?;
    let line = line.trim_start_matches("error: ");
    let line = line.strip_prefix("cannot load FILE: ").unwrap_or(line);
    let mut kind = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            // A number (decimal or 0x hex): N.
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_hexdigit() || *c == 'x')
            {
                chars.next();
            }
            kind.push('N');
        } else {
            kind.push(c);
        }
    }
    Some(kind.chars().take(100).collect())
}

/// The section of `bytes` holding byte `at` (ELF64 little-endian), or where else it is.
fn region(bytes: &[u8], at: usize) -> String {
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    if at < 64 {
        return "ELF header".into();
    }
    let (Some(shoff), Some(shnum), Some(shstrndx)) = (u64_at(0x28), u16_at(0x3c), u16_at(0x3e))
    else {
        return "?".into();
    };
    let shnum = usize::from(shnum);
    if (shoff..shoff + shnum * 64).contains(&at) {
        return "section headers".into();
    }
    let strtab = u64_at(shoff + usize::from(shstrndx) * 64 + 0x18).unwrap_or(0);
    for i in 1..shnum {
        let h = shoff + i * 64;
        let (Some(off), Some(size)) = (u64_at(h + 0x18), u64_at(h + 0x20)) else {
            continue;
        };
        if (off..off + size).contains(&at) {
            let name_at = strtab
                + bytes
                    .get(h..h + 4)
                    .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
            let name = bytes.get(name_at..).unwrap_or(&[]);
            let end = name.iter().position(|&c| c == 0).unwrap_or(0);
            return String::from_utf8_lossy(&name[..end]).into_owned();
        }
    }
    "padding".into()
}

/// How one run of a flipped artifact ended, judged against the clean run.
enum Verdict {
    Identical,
    Refused(String),
    Failed(&'static str, String),
}

fn judge(got: &RunResult, clean: &RunResult) -> Verdict {
    if got == clean {
        return Verdict::Identical;
    }
    let stderr = || {
        String::from_utf8_lossy(&got.stderr)
            .chars()
            .take(300)
            .collect::<String>()
    };
    match &got.exit {
        Exit::Signal(sig) => Verdict::Failed("crash", format!("killed by signal {sig}")),
        Exit::Hang => Verdict::Failed("hang", "no exit within the timeout".into()),
        Exit::Status(code @ (1 | 134)) => match error_kind(&got.stderr) {
            Some(kind) => Verdict::Refused(kind),
            None => Verdict::Failed(
                "no error line",
                format!(
                    "exit {code} without an `error:` line; stderr: {:?}",
                    stderr()
                ),
            ),
        },
        Exit::Status(code) if clean.exit == Exit::Status(*code) => Verdict::Failed(
            "wrong output",
            format!(
                "exit {code} as the clean artifact, other output: stdout {:?}, stderr {:?}",
                String::from_utf8_lossy(&got.stdout)
                    .chars()
                    .take(200)
                    .collect::<String>(),
                stderr()
            ),
        ),
        Exit::Status(code) => {
            Verdict::Failed("bad status", format!("exit {code}; stderr: {:?}", stderr()))
        }
    }
}

pub fn corrupt(root: &Path, args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let shared = match std::env::var_os("PRECAST_SHARED") {
        Some(p) => PathBuf::from(p),
        None => root.join("../shared"),
    };
    let sightglass = shared.join("sightglass");
    if !sightglass.is_dir() {
        bail!(
            "no sightglass suite at {} (set PRECAST_SHARED)",
            sightglass.display()
        );
    }
    crate::run(crate::cargo().args([
        "build",
        "--quiet",
        "-p",
        "precast-cli",
        "-p",
        "precast-run",
    ]))?;
    let bin = root.join("target/debug");
    let precast = bin.join("precast").display().to_string();
    let clis: [Vec<String>; 2] = [
        vec![precast.clone(), "run".into()],
        vec![bin.join("precast-run").display().to_string()],
    ];
    let work = root.join("target/corrupt");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("clean"))?;

    // The artifacts.
    let sources: [(&str, PathBuf); 5] = [
        ("fib", root.join("examples/fib.wat")),
        ("wasi_echo", root.join("examples/wasi_echo.wat")),
        ("noop", sightglass.join("noop/benchmark.wasm")),
        ("quicksort", sightglass.join("quicksort/benchmark.wasm")),
        (
            "ackermann",
            sightglass.join("shootout/shootout-ackermann.wasm"),
        ),
    ];
    let mut artifacts = Vec::new();
    for (name, src) in &sources {
        let out = work.join("clean").join(format!("{name}.pcst"));
        crate::run(
            Command::new(&precast)
                .arg("compile")
                .arg(src)
                .arg("-o")
                .arg(&out),
        )?;
        artifacts.push(Artifact {
            name: format!("{name}.pcst"),
            bytes: std::fs::read(&out)?,
        });
    }
    let strings = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let bench = strings(&["--dir", ".", "--default-values-unknown-imports"]);
    let mut cases = vec![
        (
            "fib",
            0,
            strings(&["--invoke", "fib", "20"]),
            root.to_path_buf(),
        ),
        (
            "fib-trap",
            0,
            strings(&["--invoke", "divide", "1", "0"]),
            root.to_path_buf(),
        ),
        (
            "wasi_echo",
            1,
            strings(&[
                "--dir",
                "examples::/",
                "--env",
                "GREETING=hi",
                "--",
                "a",
                "b",
            ]),
            root.to_path_buf(),
        ),
        ("noop", 2, bench.clone(), sightglass.join("noop")),
        ("quicksort", 3, bench.clone(), sightglass.join("quicksort")),
        ("ackermann", 4, bench, sightglass.join("shootout")),
    ]
    .into_iter()
    .map(|(name, artifact, args, cwd)| Case {
        name,
        artifact,
        args,
        cwd,
        clean: [Exit::Hang, Exit::Hang].map(|exit| RunResult {
            exit,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }),
    })
    .collect::<Vec<_>>();

    // The clean runs: what every accepted flip must reproduce.
    for case in &mut cases {
        let file = work.join("clean").join(&artifacts[case.artifact].name);
        for (i, exe) in clis.iter().enumerate() {
            let r = run_one(
                exe,
                &file,
                o.unchecked,
                &case.args,
                &case.cwd,
                &work,
                o.timeout,
            )?;
            let expected = if case.name == "fib-trap" {
                134
            } else if case.name == "wasi_echo" {
                3 // proc_exit(argc)
            } else {
                0
            };
            if r.exit != Exit::Status(expected) {
                bail!(
                    "clean {} under {}: {:?} (expected status {expected}); stderr: {}",
                    case.name,
                    CLIS[i],
                    r.exit,
                    String::from_utf8_lossy(&r.stderr)
                );
            }
            case.clean[i] = r;
        }
    }

    // The trials, all drawn up front from one stream: (case, position, xor).
    let mut rng = SplitMix64(o.seed);
    let trials: Vec<(usize, usize, u8)> = (0..o.flips)
        .map(|_| {
            let c = rng.below(cases.len());
            let at = rng.below(artifacts[cases[c].artifact].bytes.len());
            let xor = 1 + rng.below(255) as u8;
            (c, at, xor)
        })
        .collect();

    eprintln!(
        "corrupt: {} trials over {} runs of {} artifacts, seed {:#x}{}",
        o.flips,
        cases.len(),
        artifacts.len(),
        o.seed,
        if o.unchecked { ", --unchecked" } else { "" }
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::fs::create_dir_all(work.join("failures"))?;
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (next, results, trials, cases, artifacts, clis, work, o) = (
                    &next, &results, &trials, &cases, &artifacts, &clis, &work, &o,
                );
                s.spawn(move || -> Result<()> {
                    let dir = work.join(format!("w{w}"));
                    std::fs::create_dir_all(&dir)?;
                    loop {
                        let t = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(c, at, xor)) = trials.get(t) else {
                            return Ok(());
                        };
                        let case = &cases[c];
                        let artifact = &artifacts[case.artifact];
                        let mut bytes = artifact.bytes.clone();
                        bytes[at] ^= xor;
                        let file = dir.join(&artifact.name);
                        std::fs::write(&file, &bytes)?;
                        for (i, exe) in clis.iter().enumerate() {
                            let got = run_one(
                                exe,
                                &file,
                                o.unchecked,
                                &case.args,
                                &case.cwd,
                                &dir,
                                o.timeout,
                            )?;
                            let verdict = judge(&got, &case.clean[i]);
                            if let Verdict::Failed(..) = verdict {
                                let keep = work
                                    .join("failures")
                                    .join(format!("t{t}-{}-{at:#x}-{xor:02x}.pcst", case.name));
                                std::fs::write(keep, &bytes)?;
                            }
                            results.lock().unwrap().push((t, i, verdict));
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("worker panicked")?;
        }
        Ok(())
    })?;
    let elapsed = started.elapsed();

    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(t, i, _)| (*t, *i));
    let mut identical = 0;
    let mut refused = BTreeMap::<String, usize>::new();
    let mut failed = BTreeMap::<&str, usize>::new();
    let mut failures = Vec::new();
    for (t, i, verdict) in &results {
        match verdict {
            Verdict::Identical => identical += 1,
            Verdict::Refused(kind) => *refused.entry(kind.clone()).or_default() += 1,
            Verdict::Failed(class, detail) => {
                *failed.entry(class).or_default() += 1;
                let (c, at, xor) = trials[*t];
                let case = &cases[c];
                let bytes = &artifacts[case.artifact].bytes;
                failures.push(format!(
                    "  trial {t}: {} byte {at:#x} ({}) ^ {xor:#04x} under {}: {class}: {detail}",
                    case.name,
                    region(bytes, at),
                    CLIS[*i]
                ));
            }
        }
    }
    let total_refused: usize = refused.values().sum();
    println!(
        "corrupt: {} trials, {} runs ({}), {:.1}s",
        o.flips,
        results.len(),
        CLIS.join(" and "),
        elapsed.as_secs_f64()
    );
    println!("  refused:                {total_refused}");
    let mut kinds: Vec<_> = refused.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (kind, n) in kinds {
        println!("    {n:>6}  {kind}");
    }
    println!("  accepted and identical: {identical}");
    println!(
        "  crashes:                {}",
        failed.get("crash").copied().unwrap_or(0)
    );
    for (class, n) in &failed {
        if *class != "crash" {
            println!("  {class}: {n}");
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    for f in failures.iter().take(40) {
        println!("{f}");
    }
    if failures.len() > 40 {
        println!("  ... and {} more", failures.len() - 40);
    }
    bail!(
        "{} of {} runs failed (files kept in {})",
        failures.len(),
        results.len(),
        work.join("failures").display()
    )
}
