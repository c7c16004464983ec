//! Compiler configuration.

use precast_format::Settings;

/// Which CPU the code may assume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CpuTarget {
    /// The CPU of the machine running the compiler (fastest code; the artifact records the
    /// features it needs and the loader refuses a CPU without them).
    #[default]
    Native,
    /// A portable baseline: x86-64 with SSE4.2 and POPCNT (x86-64-v2), or plain aarch64.
    Baseline,
}

/// How to compile a module.
#[derive(Clone, Debug)]
pub struct Config {
    /// ABI-relevant settings recorded in the artifact header.
    pub settings: Settings,
    /// CPU features the code may use.
    pub cpu: CpuTarget,
    /// Cranelift optimization level: "none", "speed" or "speed_and_size".
    pub opt_level: String,
    /// Run Cranelift's IR verifier on every function (slower; catches translator bugs).
    pub verify: bool,
    /// Compile functions in parallel.
    pub parallel: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            settings: Settings::default(),
            cpu: CpuTarget::Native,
            opt_level: "speed".into(),
            verify: cfg!(debug_assertions),
            parallel: true,
        }
    }
}
