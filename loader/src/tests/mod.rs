//! Crate-level tests: end-to-end runs of compiled wat, artifact error paths, and trap
//! handling on hand-assembled code.

mod artifact_errors;
mod e2e;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod handcode;
