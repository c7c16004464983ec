//! `precast-run ARTIFACT [--trust KEY.pub] [--unchecked] [--invoke NAME] [--dir HOST[::GUEST]] [--env K=V] [-- ARGS...]`:
//! runs a precompiled artifact (with WASI if it imports it). Built from the loader alone:
//! this binary contains no compiler.
//!
//! Cold start matters here, so the binary defines the C `main` itself (`#![no_main]`): Rust's
//! runtime setup, whose main-thread stack-guard query reads `/proc/self/maps` (~70 us), is
//! skipped. The arguments still reach `std::env` (glibc passes them to Rust's init hook);
//! what the setup did that matters is done here: `SIGPIPE` is ignored (a write to a closed
//! pipe is an `EPIPE` error for the guest, not the end of the process) and standard output
//! is flushed before returning.

#![no_main]

use clap::Parser;
use std::io::Write;

/// Runs a Precast artifact.
#[derive(Parser)]
#[command(name = "precast-run", version)]
struct Args {
    /// The artifact to run.
    artifact: std::path::PathBuf,
    #[command(flatten)]
    load: precast_run::LoadArgs,
    #[command(flatten)]
    run: precast_run::RunArgs,
}

/// The process entry point, called by the C runtime; returns the exit status.
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let status = run();
    let _ = std::io::stdout().flush();
    status
}

fn run() -> std::ffi::c_int {
    let a = Args::parse();
    let call = a.run.invocation(&a.artifact);
    match precast_run::run_artifact(&a.artifact, &a.load, &call) {
        Ok(status) => std::ffi::c_int::from(status as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::ffi::c_int::from(precast_run::error_status(&e))
        }
    }
}
