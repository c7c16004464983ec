//! `precast-run ARTIFACT [--invoke NAME] [--dir HOST[::GUEST]] [--env K=V] [-- ARGS...]`:
//! runs a precompiled artifact (with WASI if it imports it). Built from the loader alone:
//! this binary contains no compiler.

use clap::Parser;
use std::process::ExitCode;

/// Runs a Precast artifact.
#[derive(Parser)]
#[command(name = "precast-run", version)]
struct Args {
    /// The artifact to run.
    artifact: std::path::PathBuf,
    #[command(flatten)]
    run: precast_run::RunArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let call = a.run.invocation(&a.artifact);
    match precast_run::run_artifact(&a.artifact, &call) {
        Ok(status) => precast_run::exit_code(status),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
