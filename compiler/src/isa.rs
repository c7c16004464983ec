//! Builds the Cranelift target ISA and reports the CPU features it assumes.

use crate::{CompileError, Config, CpuTarget};
use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use precast_format::CpuFeatures;

fn target_err(e: impl std::fmt::Display) -> CompileError {
    CompileError::Target(e.to_string())
}

/// Builds the ISA for `config`.
pub fn build(config: &Config) -> Result<OwnedTargetIsa, CompileError> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(target_err);
    set(&mut flags, "opt_level", &config.opt_level)?;
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
    set(&mut flags, "unwind_info", "false")?;
    set(&mut flags, "enable_probestack", "false")?;
    set(
        &mut flags,
        "enable_verifier",
        if config.verify { "true" } else { "false" },
    )?;
    set(&mut flags, "enable_heap_access_spectre_mitigation", "false")?;
    set(
        &mut flags,
        "enable_table_access_spectre_mitigation",
        "false",
    )?;
    let shared = settings::Flags::new(flags);
    let mut builder = match &config.cpu {
        CpuTarget::Native => cranelift_native::builder().map_err(target_err)?,
        CpuTarget::Baseline | CpuTarget::Features(_) => {
            let mut b = isa::lookup(target_lexicon::Triple::host()).map_err(target_err)?;
            if cfg!(target_arch = "x86_64") {
                for f in [
                    "has_sse3",
                    "has_ssse3",
                    "has_sse41",
                    "has_sse42",
                    "has_popcnt",
                ] {
                    b.enable(f).map_err(target_err)?;
                }
            }
            if let CpuTarget::Features(features) = &config.cpu {
                for f in features {
                    // Artifact names are Cranelift's flags without `has_` and dots.
                    let flag = format!("has_{}", f.replace('.', ""));
                    b.enable(&flag)
                        .map_err(|e| target_err(format!("CPU feature `{f}`: {e}")))?;
                }
            }
            b
        }
    };
    // Floats need SSE4.1 on x86_64 (round instructions), otherwise Cranelift would emit libcalls.
    if cfg!(target_arch = "x86_64") {
        builder.enable("has_sse41").map_err(target_err)?;
    }
    builder.finish(shared).map_err(target_err)
}

/// The CPU features the ISA's code may use, by their artifact names.
pub fn cpu_features(isa: &dyn isa::TargetIsa) -> CpuFeatures {
    let mut features = CpuFeatures::default();
    for value in isa.isa_flags() {
        if value.as_bool() != Some(true) {
            continue;
        }
        let name = match value.name {
            "has_sse3" => "sse3",
            "has_ssse3" => "ssse3",
            "has_sse41" => "sse4.1",
            "has_sse42" => "sse4.2",
            "has_popcnt" => "popcnt",
            "has_avx" => "avx",
            "has_avx2" => "avx2",
            "has_bmi1" => "bmi1",
            "has_bmi2" => "bmi2",
            "has_lzcnt" => "lzcnt",
            "has_fma" => "fma",
            "has_avx512f" => "avx512f",
            "has_avx512vl" => "avx512vl",
            "has_avx512dq" => "avx512dq",
            "has_avx512bw" => "avx512bw",
            "has_avx512vbmi" => "avx512vbmi",
            "has_cmpxchg16b" => "cmpxchg16b",
            "has_lse" => "lse",
            "has_pauth" => "pauth",
            "has_fp16" => "fp16",
            _ => continue,
        };
        features.insert(name);
    }
    features
}
