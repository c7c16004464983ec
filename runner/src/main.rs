//! `precast-run ARTIFACT [--invoke NAME] [ARGS...]`: runs a precompiled artifact. Built from
//! the loader alone: this binary contains no compiler.

use clap::Parser;
use std::process::ExitCode;

/// Runs a Precast artifact.
#[derive(Parser)]
#[command(name = "precast-run", version)]
struct Args {
    /// The artifact to run.
    artifact: std::path::PathBuf,
    /// The exported function to call (default: `_start`).
    #[arg(long)]
    invoke: Option<String>,
    /// Arguments to the function.
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let call = precast_run::Invocation {
        invoke: a.invoke,
        args: a.args,
    };
    match precast_run::run_artifact(&a.artifact, &call) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
