//! Compiler configuration.

use precast_format::Settings;

/// Which CPU the code may assume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CpuTarget {
    /// The CPU of the machine running the compiler (fastest code; the artifact records the
    /// features it needs and the loader refuses a CPU without them). Only for the host's
    /// own architecture.
    #[default]
    Native,
    /// The target's portable baseline: x86-64-v2 (SSE4.2 and POPCNT), plain ARMv8.0-A, or
    /// RV64GC.
    Baseline,
    /// The baseline plus these features, by their artifact names
    /// ([`precast_format::CpuFeatures::NAMES`]: `avx2`, `lse`, `v`, `zba`, ...).
    Features(Vec<String>),
    /// A named CPU or profile of the target ([`crate::cpus`]: `x86-64-v3`, `cortex-a76`,
    /// `rva23u64`, ...), plus these features.
    Named {
        /// The CPU's name.
        cpu: String,
        /// Features beyond the CPU's own.
        features: Vec<String>,
    },
}

impl std::str::FromStr for CpuTarget {
    type Err = String;

    /// `native`, `baseline`, a feature list added to the baseline (`+avx2,+bmi2`; the `+`
    /// is optional), or a CPU name optionally followed by features (`cortex-a76,+i8mm`).
    /// Whether the names fit the target is checked when compiling.
    fn from_str(s: &str) -> Result<CpuTarget, String> {
        match s {
            "native" => return Ok(CpuTarget::Native),
            "baseline" => return Ok(CpuTarget::Baseline),
            "" => {
                return Err("empty CPU: expected native, baseline, a CPU name or features".into());
            }
            _ => {}
        }
        let mut cpu = None;
        let mut features = Vec::new();
        for (i, item) in s.split(',').map(str::trim).enumerate() {
            match item.strip_prefix('+') {
                Some(name) => features.push(name.to_string()),
                None if precast_format::CpuFeatures::bit(item).is_some() => {
                    features.push(item.to_string())
                }
                None if i == 0 && item != "native" => cpu = Some(item.to_string()),
                None => {
                    return Err(format!(
                        "`{item}`: a CPU name can only come first; features are `+name`"
                    ));
                }
            }
        }
        if let Some(name) = features
            .iter()
            .find(|f| precast_format::CpuFeatures::bit(f).is_none())
        {
            let known: Vec<&str> = precast_format::CpuFeatures::NAMES
                .iter()
                .map(|(_, n)| *n)
                .collect();
            return Err(format!(
                "unknown CPU feature `{name}`: expected features among {}",
                known.join(", ")
            ));
        }
        Ok(match cpu {
            Some(cpu) if cpu == "baseline" => CpuTarget::Features(features),
            Some(cpu) => CpuTarget::Named { cpu, features },
            None => CpuTarget::Features(features),
        })
    }
}

/// Where functions start in `.text`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CodePlacement {
    /// A function with small innermost loops starts where they cross the fewest 32- and
    /// 64-byte fetch-block boundaries (on its required alignment; ties go to the target's
    /// preferred alignment, then to the least padding); any other function starts at the
    /// preferred alignment. Cranelift aligns no loop header, so this is how a hot loop
    /// avoids straddling a boundary.
    #[default]
    Loops,
    /// Every function at the target's preferred alignment (as Wasmtime places them): where
    /// its loops land is left to chance.
    Aligned,
}

impl std::str::FromStr for CodePlacement {
    type Err = String;

    fn from_str(s: &str) -> Result<CodePlacement, String> {
        match s {
            "loops" => Ok(CodePlacement::Loops),
            "aligned" => Ok(CodePlacement::Aligned),
            _ => Err(format!(
                "unknown code placement `{s}`: expected loops or aligned"
            )),
        }
    }
}

/// How to compile a module.
#[derive(Clone, Debug)]
pub struct Config {
    /// ABI-relevant settings recorded in the artifact header.
    pub settings: Settings,
    /// CPU features the code may use.
    pub cpu: CpuTarget,
    /// Target triple to generate code for: `x86_64-unknown-linux-gnu`,
    /// `aarch64-unknown-linux-gnu` or `riscv64gc-unknown-linux-gnu` (see [`crate::TARGETS`]);
    /// the host's by default.
    pub target: String,
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
    /// Sign the artifact with this key ([`crate::signing`]): a loader that trusts the key's
    /// public half accepts it. Unsigned (an all-zero signature section) when `None`.
    pub signing_key: Option<crate::SigningKey>,
    /// Where functions start in `.text`.
    pub code_placement: CodePlacement,
    /// Bytes of padding before the first function: moves all code, to measure how much a
    /// program's speed depends on where its code lands (`cargo xtask bench --placements`).
    /// Zero by default.
    pub placement_shift: u32,
    /// Write native DWARF (a line table from each instruction to its wasm offset, the
    /// functions' names and ranges): what debuggers, `addr2line` and profilers read; 12-18%
    /// of an artifact. On by default; off for the smallest artifacts (symbols and unwind
    /// tables stay).
    pub debug_info: bool,
    /// `-g`: the native line table carries the module's own source lines, from its DWARF
    /// (C, C++, Rust, Zig compiled to wasm with debug information), where it has some.
    /// Off by default. Needs [`Config::debug_info`].
    pub wasm_debug_info: bool,
    /// Inline calls of small defined functions into their callers (see
    /// [`Config::inline_threshold`]); on by default. Backtraces of traps then omit the
    /// frames of inlined functions (the native DWARF keeps them for debuggers).
    pub inlining: bool,
    /// With [`Config::inlining`]: the largest function inlined, in Cranelift IR instructions
    /// of its body with its own callees inlined. 0 inlines nothing.
    pub inline_threshold: u32,
}

/// The default [`Config::inline_threshold`].
pub const DEFAULT_INLINE_THRESHOLD: u32 = 40;

impl Default for Config {
    fn default() -> Self {
        Config {
            settings: Settings::default(),
            cpu: CpuTarget::Native,
            target: crate::host_target(),
            opt_level: "speed".into(),
            verify: cfg!(debug_assertions),
            parallel: true,
            link_name: None,
            signing_key: None,
            code_placement: CodePlacement::Loops,
            placement_shift: 0,
            debug_info: true,
            wasm_debug_info: false,
            inlining: true,
            inline_threshold: DEFAULT_INLINE_THRESHOLD,
        }
    }
}
