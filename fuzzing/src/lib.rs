//! Fuzz targets for Precast (issue 12). Each target takes raw fuzzer bytes, returns normally
//! unless it found a bug, and panics with a message saying what differed otherwise.
//!
//! - [`differential`]: a `wasm-smith` module run in Precast and in Wasmtime 48: the same
//!   instantiation outcome, results, traps, globals, tables and memories after every call.
//! - [`compile`]: arbitrary bytes and arbitrary modules never panic the compiler; a valid
//!   module of the supported feature set compiles.
//! - [`artifacts`]: mutated and truncated artifacts never crash the verified load path, and
//!   any one that loads behaves like the original.
//! - [`wasi`]: random WASI preview1 call sequences with random guest pointers never crash
//!   the host nor reach outside the preopened directory.
//!
//! The cargo-fuzz crate (`fuzz/`) wraps each in a `fuzz_target!`; `tests/smoke.rs` replays
//! a fixed set of inputs and every file under `regressions/<target>/`.

pub mod artifacts;
pub mod compile;
pub mod differential;
mod exec;
mod smith;
pub mod wasi;

use std::sync::OnceLock;

/// Names of the targets, as the smoke test, `fuzz/` and `cargo xtask fuzz` know them.
pub const TARGETS: [&str; 4] = ["differential", "compile", "artifacts", "wasi"];

/// Runs target `name` on `data` (for replays); `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "differential" => differential::run(data),
        "compile" => compile::run(data),
        "artifacts" => artifacts::run(data),
        "wasi" => wasi::run(data),
        _ => return false,
    }
    true
}

/// The compiler configuration the targets use: the defaults (native CPU, Spectre
/// mitigations on), single-threaded (a fuzzer process runs one input at a time).
pub fn compiler_config() -> precast_compiler::Config {
    precast_compiler::Config {
        parallel: false,
        ..Default::default()
    }
}

/// The process-wide Precast engine (default configuration).
pub fn precast_engine() -> &'static precast_loader::Engine {
    static ENGINE: OnceLock<precast_loader::Engine> = OnceLock::new();
    ENGINE.get_or_init(precast_loader::Engine::default)
}

/// A small deterministic generator (xorshift64*) for the smoke test's inputs.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `len` pseudo-random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
