//! Conformance runners and end-to-end test helpers for Precast.
//!
//! Without the default `compiler` feature the crate builds for targets the tests run on
//! under an emulator: the spec and sightglass runners then compile through the build
//! machine's compile server ([`compile`]).

pub mod compile;
pub mod sightglass;
pub mod spec;
#[cfg(feature = "compiler")]
pub mod wasi_suite;

use std::path::PathBuf;

/// Environment variable naming the shared folder (testsuite, wasi-testsuite, sightglass).
pub const SHARED_ENV: &str = "PRECAST_SHARED";

/// Finds the shared folder: `$PRECAST_SHARED`, else `../shared` beside the repository.
pub fn shared_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var(SHARED_ENV) {
        let p = PathBuf::from(dir);
        return if p.is_dir() {
            Ok(p)
        } else {
            Err(format!("{SHARED_ENV}={} is not a directory", p.display()))
        };
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let p = repo.join("../../shared");
    if p.is_dir() {
        return Ok(p);
    }
    Err(format!(
        "the shared test material is missing: expected {} or set {SHARED_ENV}",
        p.display()
    ))
}

/// Finds a suite inside the shared folder, with a clear message if it is missing.
pub fn shared_suite(name: &str) -> Result<PathBuf, String> {
    let p = shared_dir()?.join(name);
    if p.is_dir() {
        Ok(p)
    } else {
        Err(format!("the {name} suite is missing at {}", p.display()))
    }
}

#[cfg(feature = "compiler")]
pub mod harness;
