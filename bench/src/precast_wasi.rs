//! Precast's WASI for the benchmark runs.

use anyhow::Result;
use std::path::Path;

/// Adds WASI preview1 to `linker` with `dir` preopened as `.`, output discarded.
pub fn add(_linker: &mut precast_loader::Linker<()>, _dir: &Path) -> Result<()> {
    anyhow::bail!("Precast WASI is not wired into the benchmarks yet")
}
