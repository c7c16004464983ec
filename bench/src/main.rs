//! `cargo xtask bench [--quick] [--no-interrupts] [--code-placement loops|aligned]
//! [--no-inline] [--inline-threshold N] [--placements N] [--out DIR] [FILTER...]`: Precast
//! and Wasmtime 48 measured on the same inputs in the same run. See the README's "Benchmarks"
//! section for the figures. Besides the plain builds, each system's execution time is
//! measured with epoch checks and with fuel compiled in (`--no-interrupts` skips those;
//! `--code-placement` sets Precast's; `--no-inline` and `--inline-threshold` its inlining,
//! on with the default threshold otherwise; `--placements` adds runs with the code moved).

mod placement;
mod process;
mod report;
mod stats;
mod systems;
mod workloads;

use anyhow::{Context, Result, bail};
use report::{Figure, Results};
use stats::Summary;
use std::path::{Path, PathBuf};
use std::process::Command;
use systems::{Checks, System};

/// How many repetitions each figure gets.
#[derive(Clone, Copy)]
struct Reps {
    compile: usize,
    load: usize,
    exec: usize,
    cold: usize,
}

impl Reps {
    fn new(quick: bool) -> Reps {
        if quick {
            Reps {
                compile: 3,
                load: 20,
                exec: 3,
                cold: 20,
            }
        } else {
            Reps {
                compile: 5,
                load: 200,
                exec: 7,
                cold: 200,
            }
        }
    }
}

struct Args {
    quick: bool,
    /// Skip the execution runs with epoch checks and fuel.
    no_interrupts: bool,
    /// Extra code placements to run each program under (`--placements N`).
    placements: u32,
    out: Option<PathBuf>,
    filters: Vec<String>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut a = Args {
        quick: false,
        no_interrupts: false,
        placements: 0,
        out: None,
        filters: vec![],
    };
    while let Some(s) = it.next() {
        match s.as_str() {
            "--quick" => a.quick = true,
            "--no-interrupts" => a.no_interrupts = true,
            "--code-placement" => {
                let p = it
                    .next()
                    .context("--code-placement needs loops or aligned")?;
                let p = p.parse().map_err(anyhow::Error::msg)?;
                systems::PRECAST_PLACEMENT
                    .set(p)
                    .map_err(|_| anyhow::anyhow!("--code-placement given twice"))?;
            }
            "--no-inline" => systems::PRECAST_INLINE_THRESHOLD
                .set(0)
                .map_err(|_| anyhow::anyhow!("inlining set twice"))?,
            "--inline-threshold" => {
                let n = it
                    .next()
                    .context("--inline-threshold needs a count")?
                    .parse()
                    .context("--inline-threshold needs a count")?;
                systems::PRECAST_INLINE_THRESHOLD
                    .set(n)
                    .map_err(|_| anyhow::anyhow!("inlining set twice"))?;
            }
            "--placements" => {
                a.placements = it
                    .next()
                    .context("--placements needs a count")?
                    .parse()
                    .context("--placements needs a count")?;
            }
            "--out" => a.out = Some(it.next().context("--out needs a folder")?.into()),
            _ if s.starts_with("--") => bail!("unknown option {s}"),
            _ => a.filters.push(s),
        }
    }
    Ok(a)
}

fn shared_dir() -> Result<PathBuf> {
    if let Ok(d) = std::env::var("PRECAST_SHARED") {
        return Ok(d.into());
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if p.is_dir() {
        Ok(p)
    } else {
        bail!(
            "the shared benchmark programs are missing: expected {} or set PRECAST_SHARED",
            p.display()
        )
    }
}

/// `--child SYSTEM CHECKS ARTIFACT DIR`: one execution in a fresh process.
fn child(mut it: impl Iterator<Item = String>) -> Result<()> {
    let system = System::parse(&it.next().context("system")?)?;
    let checks = Checks::parse(&it.next().context("checks")?)?;
    let artifact = PathBuf::from(it.next().context("artifact")?);
    let dir = PathBuf::from(it.next().context("dir")?);
    let w = workloads::Workload {
        name: String::new(),
        wasm: vec![],
        dir,
        has_bench_region: true,
    };
    let r = system.run_once(&artifact, &w, checks)?;
    println!(
        "REPORT {} {} {}",
        r.region.as_nanos(),
        r.total.as_nanos(),
        process::own_peak_rss().unwrap_or(0)
    );
    Ok(())
}

fn parse_report(stdout: &[u8]) -> Result<(f64, f64, f64)> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("REPORT "))
        .context("child printed no report")?;
    let mut parts = line.split_whitespace().skip(1);
    let region: f64 = parts.next().context("region")?.parse()?;
    let total: f64 = parts.next().context("total")?.parse()?;
    let rss: f64 = parts.next().context("peak rss")?.parse()?;
    Ok((region / 1e9, total / 1e9, rss))
}

/// An artifact to run in fresh processes: which system, with which checks, and its file.
struct Run {
    system: System,
    checks: Checks,
    /// 0: the program as it is; N: moved by placement N ([`placement::shifted`]).
    placement: u32,
    path: PathBuf,
}

impl Run {
    fn label(&self) -> String {
        match self.placement {
            0 => self.checks.label(self.system),
            n => format!("{}@{n}", self.checks.label(self.system)),
        }
    }
}

/// Measures one workload: compile, size, load and instantiate of the plain builds, then
/// execution of the plain builds and of the `checked` variants (`Checks::Epoch`,
/// `Checks::Fuel`) of both systems, all in one alternating round of fresh processes.
fn measure_workload(
    w: &workloads::Workload,
    scratch: &Path,
    reps: Reps,
    checked: &[Checks],
    placements: u32,
    results: &mut Results,
) -> Result<()> {
    let me = std::env::current_exe()?;
    let mut plain = Vec::new();
    for system in System::ALL {
        let name = system.name();
        let mut artifact = Vec::new();
        let compile = stats::time_runs(reps.compile, || {
            artifact = system.compile(&w.wasm)?;
            Ok(())
        })
        .with_context(|| format!("{name}: compile {}", w.name))?;
        results.add(&w.name, system, Figure::CompileTime, compile);
        let throughput = w.wasm.len() as f64 / compile.median;
        results.add(
            &w.name,
            system,
            Figure::Throughput,
            Summary::of(&[throughput]),
        );
        results.add(
            &w.name,
            system,
            Figure::ArtifactSize,
            Summary::of(&[artifact.len() as f64]),
        );
        let path = scratch.join(format!("{}.{name}", w.name));
        std::fs::write(&path, &artifact)?;
        let (load, inst) = system
            .load_and_instantiate(&path, reps.load)
            .with_context(|| format!("{name}: load/instantiate {}", w.name))?;
        results.add(&w.name, system, Figure::LoadTime, load);
        results.add(&w.name, system, Figure::InstantiateTime, inst);
        let pooled = system
            .pooled_instantiate(&path, reps.load)
            .with_context(|| format!("{name}: pooled instantiate {}", w.name))?;
        results.add(&w.name, system, Figure::PooledInstantiateTime, pooled);
        plain.push(Run {
            system,
            checks: Checks::None,
            placement: 0,
            path,
        });

        eprintln!(
            "  {name:<9} {:<28} compile {:>8.2} ms  load {:>8.1} us  instantiate {:>7.1} us  \
             pooled {:>6.2} us",
            w.name,
            compile.median * 1e3,
            load.median * 1e6,
            inst.median * 1e6,
            pooled.median * 1e6
        );
    }
    // Ordered by checks, then system, so each pair compared (with X / plain, Precast /
    // Wasmtime) runs close together in either direction of the alternation.
    let mut runs = plain;
    if w.has_bench_region {
        for &checks in checked.iter().filter(|&&c| c != Checks::None) {
            for system in System::ALL {
                let label = checks.label(system);
                let artifact = match system.compile_with(&w.wasm, checks) {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("  {label} {}: not compiled: {e:#}", w.name);
                        continue;
                    }
                };
                let path = scratch.join(format!("{}.{label}", w.name));
                std::fs::write(&path, &artifact)?;
                runs.push(Run {
                    system,
                    checks,
                    placement: 0,
                    path,
                });
            }
        }
        for placement in 1..=placements {
            let wasm = placement::shifted(&w.wasm, placement)?;
            for system in System::ALL {
                let path = scratch.join(format!("{}.{}@{placement}", w.name, system.name()));
                std::fs::write(&path, system.compile(&wasm)?)?;
                runs.push(Run {
                    system,
                    checks: Checks::None,
                    placement,
                    path,
                });
            }
        }
    }
    measure_runs(w, &me, &runs, reps.exec, results);
    Ok(())
}

/// Runs each artifact `reps` times in fresh processes, alternating between them (and the
/// order reversed every other round) so that drift on a shared machine biases none, and
/// records the execution region, the whole run and peak memory of the plain builds and the
/// execution region of the builds with checks.
fn measure_runs(
    w: &workloads::Workload,
    me: &Path,
    runs: &[Run],
    reps: usize,
    results: &mut Results,
) {
    let mut samples = vec![(vec![], vec![], vec![], true); runs.len()];
    for rep in 0..reps {
        for k in 0..runs.len() {
            let k = if rep % 2 == 0 { k } else { runs.len() - 1 - k };
            let (run, (region, total, rss, ok)) = (&runs[k], &mut samples[k]);
            if !*ok {
                continue;
            }
            let child = process::run(
                Command::new(me)
                    .args(["--child", run.system.name(), run.checks.name()])
                    .arg(&run.path)
                    .arg(&w.dir)
                    .current_dir(&w.dir),
            );
            match child.and_then(|r| parse_report(&r.stdout)) {
                Ok((reg, tot, peak)) => {
                    region.push(reg);
                    total.push(tot);
                    rss.push(peak);
                }
                Err(e) => {
                    eprintln!("  {} {}: execution failed: {e:#}", run.label(), w.name);
                    *ok = false;
                }
            }
        }
    }
    for (run, (region, total, rss, _)) in runs.iter().zip(samples) {
        if total.is_empty() {
            continue;
        }
        let system = run.system;
        if run.placement != 0 {
            results.add_placed(&w.name, system, run.placement, Summary::of(&region));
            continue;
        }
        if run.checks != Checks::None {
            results.add_checked(&w.name, system, run.checks, Summary::of(&region));
            continue;
        }
        if w.has_bench_region {
            results.add(&w.name, system, Figure::ExecRegion, Summary::of(&region));
        }
        results.add(&w.name, system, Figure::WholeRun, Summary::of(&total));
        results.add(&w.name, system, Figure::PeakMemory, Summary::of(&rss));
    }
    if w.has_bench_region {
        let median = |r: &Run| match r.placement {
            0 => results.exec(&w.name, r.system, r.checks).map(|s| s.median),
            n => results.placed(&w.name, r.system, n).map(|s| s.median),
        };
        let line: Vec<String> = runs
            .iter()
            .filter_map(|r| Some(format!("{} {:.3} ms", r.label(), median(r)? * 1e3)))
            .collect();
        eprintln!("  exec {:<28} {}", w.name, line.join("  "));
    }
}

/// Hello world linked into this binary (`build.rs`) against its artifact file: load,
/// instantiate (the memory image copied from read-only data, against mapped from the file),
/// and the bytes each adds.
fn linked_hello(scratch: &Path, reps: Reps, results: &mut Results) -> Result<()> {
    use precast_loader::{Engine, Linker, Module, Store, linked};
    use report::LinkedRow;
    let engine = Engine::default();
    let file = scratch.join("hello-linked.pcst");
    let wasm = wat::parse_str(workloads::HELLO_WAT)?;
    std::fs::write(&file, System::Precast.compile(&wasm)?)?;
    let mut row = |what: &str, csv, bytes, s: Summary| {
        eprintln!(
            "  {what:<46} {:>10.3}",
            s.median * if bytes { 1.0 } else { 1e6 }
        );
        results.add_linked(LinkedRow {
            what: what.to_string(),
            csv,
            bytes,
            s,
        });
    };
    let n = reps.load * 10;
    let load = stats::time_runs(n, || {
        Module::from_linked(&engine, linked!(hello))?;
        Ok(())
    })?;
    row("load, linked module (us)", "load_s", false, load);
    let load = stats::time_runs(n, || {
        Module::from_file(&engine, &file)?;
        Ok(())
    })?;
    row("load, artifact file (us)", "load_file_s", false, load);
    for (what, csv, module) in [
        (
            "instantiate, linked (image copied) (us)",
            "instantiate_s",
            Module::from_linked(&engine, linked!(hello))?,
        ),
        (
            "instantiate, artifact file (image mapped) (us)",
            "instantiate_file_s",
            Module::from_file(&engine, &file)?,
        ),
    ] {
        let mut linker = Linker::new(&engine);
        linker.func_wrap(
            "wasi_snapshot_preview1",
            "fd_write",
            |_: i32, _: i32, _: i32, _: i32| 0i32,
        )?;
        let pre = linker.instantiate_pre(&module)?;
        let s = stats::time_runs(n, || {
            let mut store = Store::new(&engine, ());
            pre.instantiate(&mut store)?;
            Ok(())
        })?;
        row(what, csv, false, s);
    }
    // What linking adds to a binary: the object's allocated sections (code, metadata,
    // data, descriptor), with their alignment padding, against the artifact file.
    let config = precast_compiler::Config {
        link_name: Some("hello".into()),
        ..precast_compiler::Config::default()
    };
    let object = precast_compiler::compile(&wasm, &config)?;
    row(
        "artifact file (bytes)",
        "artifact_bytes",
        true,
        Summary::of(&[std::fs::metadata(&file)?.len() as f64]),
    );
    row(
        "linked into a binary: code + metadata (bytes)",
        "linked_bytes",
        true,
        Summary::of(&[allocated_bytes(&object)? as f64]),
    );
    Ok(())
}

/// Bytes an object's allocated sections take when laid out in order with their alignments
/// (what linking it adds to an executable, give or take the alignment where it lands).
fn allocated_bytes(object: &[u8]) -> Result<u64> {
    use object::{Object, ObjectSection, SectionFlags};
    let file = object::File::parse(object)?;
    let mut end = 0u64;
    for s in file.sections() {
        let SectionFlags::Elf { sh_flags } = s.flags() else {
            continue;
        };
        if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0 {
            end = end.next_multiple_of(s.align().max(1)) + s.size();
        }
    }
    Ok(end)
}

/// Process cold start for hello world: our deploy runner, the Wasmtime library runner, and
/// a native C program.
fn cold_start(scratch: &Path, reps: Reps, results: &mut Results) -> Result<()> {
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .context("no binary folder")?;
    let hello = wat::parse_str(workloads::HELLO_WAT)?;
    let ours = scratch.join("hello.pcst");
    std::fs::write(&ours, System::Precast.compile(&hello)?)?;
    let theirs = scratch.join("hello.cwasm");
    std::fs::write(&theirs, System::Wasmtime.compile(&hello)?)?;
    let native = scratch.join("hello-native");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/hello.c");
    let cc = process::run(
        Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-O2", "-static", "-o"])
            .arg(&native)
            .arg(&src),
    );
    let mut cases: Vec<(&str, Command)> = Vec::new();
    // `cargo xtask bench` builds the runner as it ships (profile `deploy`, static) and
    // names it in PRECAST_RUN; else the one beside this binary.
    let runner = std::env::var_os("PRECAST_RUN")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir.join("precast-run"));
    let mut c = Command::new(runner);
    c.arg(&ours);
    cases.push(("precast-run", c));
    // The same hello world linked into a host binary (`examples/linked-host`'s
    // `linked-hello`, deploy profile, static), which `cargo xtask bench` names here.
    match std::env::var_os("PRECAST_LINKED_HELLO") {
        Some(host) => cases.push(("linked host (static)", Command::new(host))),
        None => eprintln!("  linked host not measured: PRECAST_LINKED_HELLO is not set"),
    }
    let mut c = Command::new(bin_dir.join("wasmtime-run"));
    c.arg(&theirs);
    cases.push(("wasmtime-run", c));
    match cc {
        Ok(_) => cases.push(("native C (static)", Command::new(&native))),
        Err(e) => eprintln!("  native hello world not built: {e:#}"),
    }
    // Round robin over the runners, the order reversed every other round, so that drift on
    // a shared machine biases none of them.
    let mut walls: Vec<Option<Vec<f64>>> = vec![Some(Vec::new()); cases.len()];
    for rep in 0..reps.cold {
        for k in 0..cases.len() {
            let k = if rep % 2 == 0 { k } else { cases.len() - 1 - k };
            let (name, cmd) = &mut cases[k];
            let Some(wall) = &mut walls[k] else { continue };
            match process::run(cmd) {
                Ok(r) => wall.push(r.wall.as_secs_f64()),
                Err(e) => {
                    eprintln!("  cold start {name}: {e:#}");
                    walls[k] = None;
                }
            }
        }
    }
    for ((name, _), wall) in cases.iter().zip(walls) {
        if let Some(wall) = wall.filter(|w| !w.is_empty()) {
            results.add_cold(name, Summary::of(&wall));
            eprintln!(
                "  cold start {name:<20} {:.3} ms",
                Summary::of(&wall).median * 1e3
            );
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut it = std::env::args().skip(1).peekable();
    if it.peek().map(String::as_str) == Some("--child") {
        it.next();
        return child(it);
    }
    let args = parse_args(it)?;
    let reps = Reps::new(args.quick);
    let shared = shared_dir()?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let out = args.out.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../results")
            .join(format!("bench-{stamp}"))
    });
    let scratch = out.join("artifacts");
    std::fs::create_dir_all(&scratch)?;
    // Absolute: the fresh-process runs start in each benchmark's folder.
    let scratch = std::fs::canonicalize(&scratch)?;
    let all = workloads::all(&shared.join("sightglass"), &scratch, &args.filters)?;
    let mut results = Results::default();
    let checked: &[Checks] = if args.no_interrupts {
        &[]
    } else {
        &Checks::ALL
    };
    for w in &all {
        eprintln!("{} ({} bytes of wasm)", w.name, w.wasm.len());
        if let Err(e) = measure_workload(w, &scratch, reps, checked, args.placements, &mut results)
        {
            eprintln!("  skipped: {e:#}");
        }
    }
    if let Err(e) = linked_hello(&scratch, reps, &mut results) {
        eprintln!("  linked hello world not measured: {e:#}");
    }
    cold_start(&scratch, reps, &mut results)?;
    let md = report::write_all(&results, &out)?;
    println!("{md}");
    eprintln!("results in {}", out.display());
    Ok(())
}
