//! Collected results and their rendering: markdown, CSV and an SVG chart of execution ratios.

use crate::stats::{Summary, geomean};
use crate::systems::System;
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
    md
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
