//! The programs we measure: every sightglass benchmark, a hello-world WASI program and a
//! module with a large data segment.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One program to measure.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Short name.
    pub name: String,
    /// The wasm bytes.
    pub wasm: Vec<u8>,
    /// Folder to run in and preopen as `.` (sightglass reads its inputs from there).
    pub dir: PathBuf,
    /// Whether the program calls `bench.start`/`bench.end`.
    pub has_bench_region: bool,
}

/// A hello-world WASI command in text format (the one `examples/linked-host` links in).
pub const HELLO_WAT: &str = include_str!("../../examples/linked-host/wasm/hello.wat");

/// A module with a `size`-byte data segment whose `_start` touches every 4 KiB page.
pub fn big_data_wasm(size: usize) -> Vec<u8> {
    let pages = size.div_ceil(65536) + 1;
    let mut bytes = Vec::with_capacity(size);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module
  (import "bench" "start" (func $start))
  (import "bench" "end" (func $end))
  (memory (export "memory") {pages})
  (data (i32.const 0) "{escaped}")
  (func (export "_start") (local $i i32) (local $acc i32)
    (call $start)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const {size})))
      (local.set $acc (i32.add (local.get $acc) (i32.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4096)))
      (br $next)))
    (call $end)))"#
    );
    wat::parse_str(&wat).unwrap_or_default()
}

fn sightglass_in(dir: &Path, out: &mut Vec<Workload>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sightglass_in(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "wasm") {
            let stem = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let folder = p.parent().unwrap_or(dir);
            let name = if stem == "benchmark" {
                folder
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            } else {
                stem
            };
            out.push(Workload {
                name,
                wasm: std::fs::read(&p)?,
                dir: folder.to_path_buf(),
                has_bench_region: true,
            });
        }
    }
    Ok(())
}

/// All workloads whose name contains one of `filters` (all when empty).
pub fn all(sightglass: &Path, scratch: &Path, filters: &[String]) -> Result<Vec<Workload>> {
    let mut out = Vec::new();
    sightglass_in(sightglass, &mut out)?;
    out.push(Workload {
        name: "hello-world".into(),
        wasm: wat::parse_str(HELLO_WAT)?,
        dir: scratch.to_path_buf(),
        has_bench_region: false,
    });
    out.push(Workload {
        name: "big-data-16MiB".into(),
        wasm: big_data_wasm(16 << 20),
        dir: scratch.to_path_buf(),
        has_bench_region: true,
    });
    out.retain(|w| filters.is_empty() || filters.iter().any(|f| w.name.contains(f.as_str())));
    Ok(out)
}
