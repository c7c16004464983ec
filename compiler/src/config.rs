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
    /// The baseline plus these features, by their artifact names
    /// ([`precast_format::CpuFeatures::NAMES`]: `avx2`, `bmi2`, `lse`, ...).
    Features(Vec<String>),
}

impl std::str::FromStr for CpuTarget {
    type Err = String;

    /// `native`, `baseline`, or a comma-separated feature list added to the baseline
    /// (`+avx2,+bmi2`; the `+` is optional).
    fn from_str(s: &str) -> Result<CpuTarget, String> {
        match s {
            "native" => return Ok(CpuTarget::Native),
            "baseline" => return Ok(CpuTarget::Baseline),
            _ => {}
        }
        let mut features = Vec::new();
        for f in s.split(',') {
            let name = f.trim().strip_prefix('+').unwrap_or(f.trim());
            if precast_format::CpuFeatures::bit(name).is_none() {
                let known: Vec<&str> = precast_format::CpuFeatures::NAMES
                    .iter()
                    .map(|(_, n)| *n)
                    .collect();
                return Err(format!(
                    "unknown CPU `{name}`: expected native, baseline, or features among {}",
                    known.join(", ")
                ));
            }
            features.push(name.to_string());
        }
        Ok(CpuTarget::Features(features))
    }
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
    /// `Some(NAME)`: write a linkable object for the system linker, exporting one global
    /// symbol, `precast_module_NAME` (see [`precast_format::linked`]). `NAME` must be a C
    /// identifier. The object is still a loadable artifact file.
    pub link_name: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            settings: Settings::default(),
            cpu: CpuTarget::Native,
            opt_level: "speed".into(),
            verify: cfg!(debug_assertions),
            parallel: true,
            link_name: None,
        }
    }
}
