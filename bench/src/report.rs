//! Collected results and their rendering: markdown, CSV and an SVG chart of execution ratios.

use crate::stats::{Summary, geomean};
use crate::systems::{Checks, System};
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// A measured figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    /// Compile time on all cores (seconds).
    CompileTime,
    /// Wasm bytes compiled per second.
    Throughput,
    /// Artifact size (bytes).
    ArtifactSize,
    /// Artifact file -> loaded module (seconds).
    LoadTime,
    /// Loaded module -> instance (seconds).
    InstantiateTime,
    /// Loaded module -> instance from a pool of preallocated slots, store dropped after
    /// (seconds).
    PooledInstantiateTime,
    /// `bench.start` .. `bench.end` (seconds).
    ExecRegion,
    /// Load + instantiate + `_start` in a fresh process (seconds).
    WholeRun,
    /// Peak resident memory of that process (bytes).
    PeakMemory,
}

impl Figure {
    const ALL: [Figure; 9] = [
        Figure::CompileTime,
        Figure::Throughput,
        Figure::ArtifactSize,
        Figure::LoadTime,
        Figure::InstantiateTime,
        Figure::PooledInstantiateTime,
        Figure::ExecRegion,
        Figure::WholeRun,
        Figure::PeakMemory,
    ];

    fn title(self) -> &'static str {
        match self {
            Figure::CompileTime => "Compile time (all cores)",
            Figure::Throughput => "Compile throughput",
            Figure::ArtifactSize => "Artifact size",
            Figure::LoadTime => "Load time (artifact file -> module)",
            Figure::InstantiateTime => "Instantiate time (module -> instance)",
            Figure::PooledInstantiateTime => {
                "Pooled re-instantiate (module -> instance from a pool slot, copy-on-write)"
            }
            Figure::ExecRegion => "Execution time (bench.start .. bench.end)",
            Figure::WholeRun => "Whole run (load + instantiate + _start, fresh process)",
            Figure::PeakMemory => "Peak memory (max RSS of that process)",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Figure::CompileTime | Figure::ExecRegion | Figure::WholeRun => "ms",
            Figure::LoadTime | Figure::InstantiateTime | Figure::PooledInstantiateTime => "us",
            Figure::Throughput => "MB/s",
            Figure::ArtifactSize => "KiB",
            Figure::PeakMemory => "MiB",
        }
    }

    fn scale(self, v: f64) -> f64 {
        match self {
            Figure::CompileTime | Figure::ExecRegion | Figure::WholeRun => v * 1e3,
            Figure::LoadTime | Figure::InstantiateTime | Figure::PooledInstantiateTime => v * 1e6,
            Figure::Throughput => v / 1e6,
            Figure::ArtifactSize => v / 1024.0,
            Figure::PeakMemory => v / (1024.0 * 1024.0),
        }
    }

    /// Whether a larger value is better (ratios are then inverted so < 1 always means
    /// Precast wins).
    fn higher_is_better(self) -> bool {
        self == Figure::Throughput
    }

    fn csv_name(self) -> &'static str {
        match self {
            Figure::CompileTime => "compile_s",
            Figure::Throughput => "compile_bytes_per_s",
            Figure::ArtifactSize => "artifact_bytes",
            Figure::LoadTime => "load_s",
            Figure::InstantiateTime => "instantiate_s",
            Figure::PooledInstantiateTime => "pooled_instantiate_s",
            Figure::ExecRegion => "exec_region_s",
            Figure::WholeRun => "whole_run_s",
            Figure::PeakMemory => "peak_rss_bytes",
        }
    }
}

/// Everything measured in one run.
#[derive(Default)]
pub struct Results {
    rows: BTreeMap<(Figure, String), [Option<Summary>; 2]>,
    /// Execution regions of the builds with interruption checks (`Checks::Epoch`,
    /// `Checks::Fuel`), indexed by system; the plain builds' are in `rows`.
    checked: BTreeMap<(String, Checks), [Option<Summary>; 2]>,
    /// Execution regions of the plain builds moved by a code placement (`--placements`),
    /// by workload and placement (1, 2, ...), indexed by system.
    placed: BTreeMap<(String, u32), [Option<Summary>; 2]>,
    order: Vec<String>,
    cold: Vec<(String, Summary)>,
    linked: Vec<LinkedRow>,
}

/// One measurement of a module linked into the executable, next to its artifact-file
/// counterpart.
pub struct LinkedRow {
    /// What was measured.
    pub what: String,
    /// CSV figure name.
    pub csv: &'static str,
    /// Seconds or bytes.
    pub bytes: bool,
    /// The measurement.
    pub s: Summary,
}

impl Results {
    /// Records one figure of one workload for one system.
    pub fn add(&mut self, workload: &str, system: System, figure: Figure, s: Summary) {
        if !self.order.iter().any(|w| w == workload) {
            self.order.push(workload.to_string());
        }
        let slot = self.rows.entry((figure, workload.to_string())).or_default();
        slot[system as usize] = Some(s);
    }

    /// Records the execution region of one workload for one system built with `checks`
    /// (`Checks::None` goes to the plain execution-time figure).
    pub fn add_checked(&mut self, workload: &str, system: System, checks: Checks, s: Summary) {
        if checks == Checks::None {
            return self.add(workload, system, Figure::ExecRegion, s);
        }
        if !self.order.iter().any(|w| w == workload) {
            self.order.push(workload.to_string());
        }
        let slot = self
            .checked
            .entry((workload.to_string(), checks))
            .or_default();
        slot[system as usize] = Some(s);
    }

    /// Records the execution region of one workload for one system under code placement
    /// `placement` (1, 2, ...).
    pub fn add_placed(&mut self, workload: &str, system: System, placement: u32, s: Summary) {
        let slot = self
            .placed
            .entry((workload.to_string(), placement))
            .or_default();
        slot[system as usize] = Some(s);
    }

    /// The execution region of one workload for one system under a code placement.
    pub fn placed(&self, workload: &str, system: System, placement: u32) -> Option<&Summary> {
        self.placed.get(&(workload.to_string(), placement))?[system as usize].as_ref()
    }

    /// The execution medians of one workload for one system: as it is, then under each
    /// code placement measured.
    fn placement_medians(&self, workload: &str, system: System) -> Vec<f64> {
        let plain = self.exec(workload, system, Checks::None).map(|s| s.median);
        let moved = self
            .placed
            .iter()
            .filter(|((w, _), _)| w == workload)
            .filter_map(|(_, pair)| pair[system as usize].map(|s| s.median));
        plain.into_iter().chain(moved).collect()
    }

    /// The spread of one workload's execution time over the code placements (slowest median
    /// over fastest), per system; `None` without placements or under [`MIN_TIMED_REGION`].
    fn placement_spread(&self, workload: &str, system: System) -> Option<f64> {
        let m = self.placement_medians(workload, system);
        let (lo, hi) = m
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), &x| (l.min(x), h.max(x)));
        (m.len() > 1 && lo > 0.0 && hi >= MIN_TIMED_REGION).then(|| hi / lo)
    }

    /// The execution region of one workload for one system built with `checks`.
    pub fn exec(&self, workload: &str, system: System, checks: Checks) -> Option<&Summary> {
        let pair = match checks {
            Checks::None => self.rows.get(&(Figure::ExecRegion, workload.to_string())),
            _ => self.checked.get(&(workload.to_string(), checks)),
        }?;
        pair[system as usize].as_ref()
    }

    /// The workloads measured with interruption checks, in order.
    fn checked_workloads(&self) -> impl Iterator<Item = &String> {
        self.order
            .iter()
            .filter(|w| self.checked.keys().any(|(cw, _)| cw == *w))
    }

    /// One execution-time ratio of a workload (`None` if a side is missing or both are
    /// under [`MIN_TIMED_REGION`]).
    fn checks_ratio(&self, workload: &str, c: &ChecksRatio) -> Option<f64> {
        let num = self.exec(workload, c.num.0, c.num.1)?;
        let den = self.exec(workload, c.den.0, c.den.1)?;
        Self::ratio(Figure::ExecRegion, num, den)
    }

    /// Records a linked-module measurement.
    pub fn add_linked(&mut self, row: LinkedRow) {
        self.linked.push(row);
    }

    /// Records a cold-start measurement (wall time).
    pub fn add_cold(&mut self, runner: &str, wall: Summary) {
        self.cold.push((runner.to_string(), wall));
    }

    fn ratio(figure: Figure, p: &Summary, w: &Summary) -> Option<f64> {
        if p.median <= 0.0 || w.median <= 0.0 {
            return None;
        }
        if figure == Figure::ExecRegion && p.median.max(w.median) < MIN_TIMED_REGION {
            return None;
        }
        Some(if figure.higher_is_better() {
            w.median / p.median
        } else {
            p.median / w.median
        })
    }

    fn exec_ratios(&self) -> Vec<(String, f64)> {
        self.order
            .iter()
            .filter_map(|w| {
                let [Some(p), Some(t)] = self.rows.get(&(Figure::ExecRegion, w.clone()))? else {
                    return None;
                };
                Some((w.clone(), Self::ratio(Figure::ExecRegion, p, t)?))
            })
            .collect()
    }
}

/// An execution-time ratio between two builds: (system, checks) over (system, checks).
struct ChecksRatio {
    num: (System, Checks),
    den: (System, Checks),
}

impl ChecksRatio {
    /// The columns of the interruption-check table: each system with each kind of check
    /// against its plain build (the checks' cost), then Precast against Wasmtime with the
    /// same checks (plain first, for reference).
    fn all() -> Vec<ChecksRatio> {
        let with = [Checks::Epoch, Checks::Fuel];
        let overhead = System::ALL.into_iter().flat_map(|system| {
            with.into_iter().map(move |checks| ChecksRatio {
                num: (system, checks),
                den: (system, Checks::None),
            })
        });
        let across = Checks::ALL.into_iter().map(|checks| ChecksRatio {
            num: (System::Precast, checks),
            den: (System::Wasmtime, checks),
        });
        overhead.chain(across).collect()
    }

    /// The cost of checks in one system (rather than Precast against Wasmtime).
    fn is_overhead(&self) -> bool {
        self.num.0 == self.den.0
    }

    fn title(&self) -> String {
        if self.is_overhead() {
            format!("{} {} / plain", self.num.0.name(), self.num.1.name())
        } else {
            let checks = match self.num.1 {
                Checks::None => "plain",
                c => c.name(),
            };
            format!("precast / wasmtime, {checks}")
        }
    }

    /// CSV figure name; the system column holds the numerator's label.
    fn csv_name(&self) -> &'static str {
        if self.is_overhead() {
            "exec_ratio_to_plain"
        } else {
            "exec_ratio_to_wasmtime"
        }
    }
}

/// Execution regions shorter than this on both sides (noop, nestedloop: the loop folds
/// away) time a host-call round trip, not the program: they get no ratio and stay out of the
/// geomean.
const MIN_TIMED_REGION: f64 = 10e-6;

fn cell(figure: Figure, s: &Option<Summary>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n > 1 => format!(
            "{:.3} [{:.3}-{:.3}]",
            figure.scale(s.median),
            figure.scale(s.min),
            figure.scale(s.max)
        ),
        Some(s) => format!("{:.3}", figure.scale(s.median)),
    }
}

/// Renders the markdown report.
pub fn markdown(r: &Results) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Precast vs Wasmtime 48\n\nMedians with [min-max]. Ratio = Precast / Wasmtime \
         (for throughput Wasmtime / Precast): below 1.00 Precast is better.\n"
    );
    for figure in Figure::ALL {
        let _ = writeln!(md, "## {} ({})\n", figure.title(), figure.unit());
        let _ = writeln!(md, "| workload | precast | wasmtime | ratio |");
        let _ = writeln!(md, "|---|---:|---:|---:|");
        let mut ratios = Vec::new();
        for w in &r.order {
            let Some([p, t]) = r.rows.get(&(figure, w.clone())) else {
                continue;
            };
            let ratio = match (p, t) {
                (Some(p), Some(t)) => Results::ratio(figure, p, t),
                _ => None,
            };
            ratios.extend(ratio);
            let rs = match (ratio, p, t) {
                (Some(x), ..) => format!("{x:.2}"),
                (None, Some(_), Some(_)) if figure == Figure::ExecRegion => {
                    "- (under 10 us)".into()
                }
                _ => "-".into(),
            };
            let _ = writeln!(
                md,
                "| {w} | {} | {} | {rs} |",
                cell(figure, p),
                cell(figure, t)
            );
        }
        if let Some(g) = geomean(ratios) {
            let _ = writeln!(md, "| **geomean** | | | **{g:.2}** |");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Process cold start, hello world (exec to exit)\n");
    let _ = writeln!(
        md,
        "| runner | wall ms | ratio to native | ratio to precast-run |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let median_of = |prefix: &str| {
        r.cold
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .map(|(_, w)| w.median)
    };
    let (native, runner) = (median_of("native"), median_of("precast-run"));
    for (name, wall) in &r.cold {
        let ratio = |base: Option<f64>| {
            base.map(|n| format!("{:.2}", wall.median / n))
                .unwrap_or("-".into())
        };
        let _ = writeln!(
            md,
            "| {name} | {:.3} [{:.3}-{:.3}] | {} | {} |",
            wall.median * 1e3,
            wall.min * 1e3,
            wall.max * 1e3,
            ratio(native),
            ratio(runner)
        );
    }
    if !r.linked.is_empty() {
        let _ = writeln!(
            md,
            "\n## Linked modules, hello world (Precast only)\n\n| what | median [min-max] |\n|---|---:|"
        );
        for row in &r.linked {
            let s = &row.s;
            let _ = if row.bytes {
                writeln!(md, "| {} | {:.0} B |", row.what, s.median)
            } else {
                writeln!(
                    md,
                    "| {} | {:.3} [{:.3}-{:.3}] us |",
                    row.what,
                    s.median * 1e6,
                    s.min * 1e6,
                    s.max * 1e6
                )
            };
        }
    }
    checks_markdown(r, &mut md);
    placement_markdown(r, &mut md);
    md
}

/// The execution times with interruption checks and their ratios, with a geomean per ratio.
fn checks_markdown(r: &Results, md: &mut String) {
    if r.checked.is_empty() {
        return;
    }
    let builds: Vec<(System, Checks)> = System::ALL
        .into_iter()
        .flat_map(|s| Checks::ALL.into_iter().map(move |c| (s, c)))
        .collect();
    let _ = writeln!(
        md,
        "\n## Execution time with interruption checks (ms)\n\nEach system's artifact compiled \
         with epoch checks (`epoch_interruption`, a deadline never reached) or fuel \
         (`consume_fuel`, never exhausted), run in the same alternating round of fresh \
         processes as the plain build. Medians with [min-max].\n"
    );
    let head: Vec<String> = builds.iter().map(|&(s, c)| c.label(s)).collect();
    let _ = writeln!(md, "| workload | {} |", head.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(builds.len()));
    for w in r.checked_workloads() {
        let cells: Vec<String> = builds
            .iter()
            .map(|&(s, c)| cell(Figure::ExecRegion, &r.exec(w, s, c).copied()))
            .collect();
        let _ = writeln!(md, "| {w} | {} |", cells.join(" | "));
    }
    let ratios = ChecksRatio::all();
    let _ = writeln!(
        md,
        "\n## Interruption-check overhead (execution-time ratios)\n\n`X / plain`: a \
         system's execution time with the checks over its own plain build (the checks' \
         cost; 1.00 = free). `precast / wasmtime`: both systems with the same checks; below \
         1.00 Precast is better. Regions under 10 us on both sides get no ratio (`-`) and \
         stay out of the geomean.\n"
    );
    let head: Vec<String> = ratios.iter().map(ChecksRatio::title).collect();
    let _ = writeln!(md, "| workload | {} |", head.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(ratios.len()));
    let mut columns = vec![Vec::new(); ratios.len()];
    for w in r.checked_workloads() {
        let cells: Vec<String> = ratios
            .iter()
            .zip(&mut columns)
            .map(|(c, column)| match r.checks_ratio(w, c) {
                Some(x) => {
                    column.push(x);
                    format!("{x:.2}")
                }
                None => "-".into(),
            })
            .collect();
        let _ = writeln!(md, "| {w} | {} |", cells.join(" | "));
    }
    let geomeans: Vec<String> = columns
        .into_iter()
        .map(|c| match (c.len(), geomean(c)) {
            (n, Some(g)) => format!("**{g:.3}** (n={n})"),
            (_, None) => "-".into(),
        })
        .collect();
    let _ = writeln!(md, "| **geomean** | {} |", geomeans.join(" | "));
}

fn placement_markdown(r: &Results, md: &mut String) {
    if r.placed.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n## Code placement spread (execution time)\n\nEach program also run with all of \
         its code moved (`--placements N`: a padding function defined first, the same module \
         for both systems). Spread = slowest median over fastest across the placements (1.00: \
         placement does not matter); medians in ms, as is first.\n"
    );
    let _ = writeln!(
        md,
        "| workload | precast | precast spread | wasmtime | wasmtime spread |"
    );
    let _ = writeln!(md, "|---|---|---:|---|---:|");
    let mut spreads = [Vec::new(), Vec::new()];
    for w in &r.order {
        let mut cells = Vec::new();
        for system in System::ALL {
            let medians: Vec<String> = r
                .placement_medians(w, system)
                .iter()
                .map(|m| format!("{:.1}", m * 1e3))
                .collect();
            cells.push(medians.join(" / "));
            match r.placement_spread(w, system) {
                Some(x) => {
                    spreads[system as usize].push(x);
                    cells.push(format!("{x:.2}"));
                }
                None => cells.push("-".into()),
            }
        }
        if cells.iter().any(|c| c != "-" && !c.is_empty()) {
            let _ = writeln!(md, "| {w} | {} |", cells.join(" | "));
        }
    }
    let [p, t] = spreads.map(|c| match geomean(c) {
        Some(g) => format!("**{g:.3}**"),
        None => "-".into(),
    });
    let _ = writeln!(md, "| **geomean** | | {p} | | {t} |");
}

/// Renders the CSV (one row per workload, system and figure; SI units).
pub fn csv(r: &Results) -> String {
    let mut out = String::from("workload,system,figure,median,min,max,samples\n");
    for ((figure, w), pair) in &r.rows {
        for system in System::ALL {
            if let Some(s) = &pair[system as usize] {
                let _ = writeln!(
                    out,
                    "{w},{},{},{},{},{},{}",
                    system.name(),
                    figure.csv_name(),
                    s.median,
                    s.min,
                    s.max,
                    s.n
                );
            }
        }
    }
    for ((w, checks), pair) in &r.checked {
        for system in System::ALL {
            if let Some(s) = &pair[system as usize] {
                let _ = writeln!(
                    out,
                    "{w},{},{},{},{},{},{}",
                    checks.label(system),
                    Figure::ExecRegion.csv_name(),
                    s.median,
                    s.min,
                    s.max,
                    s.n
                );
            }
        }
    }
    // Ratios of execution times (median over median; no min or max), per workload and as
    // the geomean over workloads (samples: how many workloads).
    for c in ChecksRatio::all() {
        let label = c.num.1.label(c.num.0);
        let mut column = Vec::new();
        for w in r.checked_workloads() {
            if let Some(x) = r.checks_ratio(w, &c) {
                column.push(x);
                let _ = writeln!(out, "{w},{label},{},{x},,,1", c.csv_name());
            }
        }
        let n = column.len();
        if let Some(g) = geomean(column) {
            let _ = writeln!(out, "geomean,{label},{},{g},,,{n}", c.csv_name());
        }
    }
    for ((w, placement), pair) in &r.placed {
        for system in System::ALL {
            if let Some(s) = &pair[system as usize] {
                let _ = writeln!(
                    out,
                    "{w},{}@{placement},{},{},{},{},{}",
                    system.name(),
                    Figure::ExecRegion.csv_name(),
                    s.median,
                    s.min,
                    s.max,
                    s.n
                );
            }
        }
    }
    for (name, wall) in &r.cold {
        let _ = writeln!(
            out,
            "hello-world,{name},cold_start_s,{},{},{},{}",
            wall.median, wall.min, wall.max, wall.n
        );
    }
    for row in &r.linked {
        let s = &row.s;
        let _ = writeln!(
            out,
            "hello-world,precast-linked,{},{},{},{},{}",
            row.csv, s.median, s.min, s.max, s.n
        );
    }
    out
}

/// Draws the per-benchmark execution ratio as an SVG bar chart.
pub fn chart(r: &Results, path: &Path) -> Result<()> {
    use plotters::prelude::*;
    let ratios = r.exec_ratios();
    if ratios.is_empty() {
        return Ok(());
    }
    let max = ratios.iter().map(|(_, v)| *v).fold(1.5f64, f64::max) * 1.1;
    let n = ratios.len();
    let root = SVGBackend::new(path, (1000, 120 + 28 * n as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Execution time ratio Precast / Wasmtime (below 1 = Precast faster)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(220)
        .build_cartesian_2d(0.0..max, (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => ratios.get(*i).map(|(w, _)| w.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    chart.draw_series(ratios.iter().enumerate().map(|(i, (_, v))| {
        let color = if *v <= 1.0 {
            GREEN.mix(0.7)
        } else {
            RED.mix(0.7)
        };
        Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (*v, SegmentValue::Exact(i + 1)),
            ],
            color.filled(),
        )
    }))?;
    let g = geomean(ratios.iter().map(|(_, v)| *v)).unwrap_or(1.0);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(g, SegmentValue::Exact(0)), (g, SegmentValue::Exact(n))],
            BLUE.stroke_width(2),
        )))?
        .label(format!("geomean {g:.2}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
        BLACK.stroke_width(1),
    )))?;
    chart.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// Writes `results.md`, `results.csv` and `exec_ratio.svg` into `out`; returns the markdown.
pub fn write_all(r: &Results, out: &Path) -> Result<String> {
    let md = markdown(r);
    std::fs::write(out.join("results.md"), &md)?;
    std::fs::write(out.join("results.csv"), csv(r))?;
    chart(r, &out.join("exec_ratio.svg"))?;
    Ok(md)
}
