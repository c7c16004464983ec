//! Running child processes: wall time from spawn to exit, and peak resident memory.

use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child process cost.
#[derive(Clone, Debug)]
pub struct ChildRun {
    /// Spawn to exit.
    pub wall: Duration,
    /// Captured standard output.
    pub stdout: Vec<u8>,
}

/// This process's peak resident set size in bytes (`VmHWM`). A child's `ru_maxrss` would
/// include the parent's size at fork, which survives `exec`; `VmHWM` belongs to the new
/// address space only.
pub fn own_peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs `cmd` to completion, measuring it; fails if it exits unsuccessfully.
pub fn run(cmd: &mut Command) -> Result<ChildRun> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let output_thread = {
        let mut child = child;
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut err = Vec::new();
            if let Some(mut s) = child.stdout.take() {
                let _ = std::io::Read::read_to_end(&mut s, &mut out);
            }
            if let Some(mut s) = child.stderr.take() {
                let _ = std::io::Read::read_to_end(&mut s, &mut err);
            }
            // The child is reaped by wait4 below; dropping the handle does not wait.
            drop(child);
            (out, err)
        })
    };
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is valid for writes.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    let wall = start.elapsed();
    if r != pid {
        bail!(
            "waitpid failed for {cmd:?}: {}",
            std::io::Error::last_os_error()
        );
    }
    let (stdout, stderr) = output_thread.join().unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!(
            "{cmd:?} failed (status {status:#x}): {}",
            String::from_utf8_lossy(&stderr)
        );
    }
    Ok(ChildRun { wall, stdout })
}
