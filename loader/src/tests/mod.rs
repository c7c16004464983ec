//! Crate-level tests: end-to-end runs of compiled wat, and hand-made artifacts.

mod e2e;
