//! Crate-level tests: trap handling on hand-assembled code. End-to-end tests with compiled
//! modules live in `tests/` (precast-tests), so the loader never depends on the compiler.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod handcode;
mod linked;
