//! The perf map (`/tmp/perf-PID.map`): how `perf report` names code that no mapped file
//! describes. One `START SIZE NAME` line (hexadecimal address and size) per piece of code,
//! appended as modules load; `perf` reads the file when it reports.

use crate::prelude::*;
use std::io::Write;
use std::sync::Mutex;

/// Serializes appends from modules loading on several threads.
static FILE: Mutex<()> = Mutex::new(());

/// The perf map file of this process.
pub(crate) fn path() -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Appends `(offset, length, name)` entries of code starting at `text_start`, named
/// `module!name` (`module` is the artifact's name, when it has one).
pub(crate) fn record(
    text_start: usize,
    module: Option<&str>,
    symbols: &[(usize, usize, String)],
) -> std::io::Result<()> {
    let prefix = module.map(|m| format!("{m}!")).unwrap_or_default();
    let mut lines = String::new();
    for (offset, len, name) in symbols {
        // A name runs to the end of the line: newlines would start a bogus entry.
        let name = name.replace(['\n', '\r'], " ");
        lines.push_str(&format!(
            "{:x} {len:x} {prefix}{name}\n",
            text_start + offset
        ));
    }
    let _guard = FILE.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path())?
        .write_all(lines.as_bytes())
}
