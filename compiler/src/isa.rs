//! Builds the Cranelift target ISA and reports the CPU features it assumes.

use crate::{CompileError, Config, CpuTarget, cpus};
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
    // Unwind information for `.eh_frame` (it changes no instruction).
    set(&mut flags, "unwind_info", "true")?;
    set(&mut flags, "enable_probestack", "false")?;
    // Block offsets and edges of the machine code: where the loops are, for placement.
    set(&mut flags, "machine_code_cfg_info", "true")?;
    set(
        &mut flags,
        "enable_verifier",
        if config.verify { "true" } else { "false" },
    )?;
    // The translator guards its own bounds checks (`select_spectre_guard`); these flags
    // only say the same to Cranelift.
    let spectre = if config.settings.spectre_mitigations {
        "true"
    } else {
        "false"
    };
    set(&mut flags, "enable_heap_access_spectre_mitigation", spectre)?;
    set(
        &mut flags,
        "enable_table_access_spectre_mitigation",
        spectre,
    )?;
    let shared = settings::Flags::new(flags);
    let target = cpus::target(&config.target).ok_or_else(|| {
        let known: Vec<&str> = cpus::TARGETS.iter().map(|t| t.triple).collect();
        target_err(format!(
            "unsupported target `{}`: Precast compiles for {}",
            config.target,
            known.join(", ")
        ))
    })?;
    let triple: target_lexicon::Triple = config
        .target
        .parse()
        .map_err(|e| target_err(format!("target `{}`: {e}", config.target)))?;
    let host = target_lexicon::Triple::host();
    let (features, cpu_name): (&[String], Option<&str>) = match &config.cpu {
        CpuTarget::Native => {
            if triple.architecture != host.architecture {
                return Err(target_err(format!(
                    "`--cpu native` describes this machine ({}), not {}: name a CPU ({}) or \
                     features (`baseline`, `+name,...`)",
                    host.architecture,
                    config.target,
                    cpus::cpu_names(target.arch)
                )));
            }
            let mut b = cranelift_native::builder().map_err(target_err)?;
            if target.arch == "x86_64" {
                // Floats need SSE4.1 (round instructions), otherwise Cranelift would emit
                // libcalls.
                b.enable("has_sse41").map_err(target_err)?;
            }
            return b.finish(shared).map_err(target_err);
        }
        CpuTarget::Baseline => (&[], None),
        CpuTarget::Features(f) => (f, None),
        CpuTarget::Named { cpu, features } => (features, Some(cpu)),
    };
    let mut b = isa::lookup(triple).map_err(target_err)?;
    let baseline: &[&str] = match target.arch {
        "x86_64" => &["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"],
        "riscv64" => &["c"],
        _ => &[],
    };
    let named = match cpu_name {
        Some(name) => {
            cpus::cpu(target.arch, name)
                .ok_or_else(|| {
                    target_err(format!(
                        "unknown {} CPU `{name}`: expected one of {}",
                        target.arch,
                        cpus::cpu_names(target.arch)
                    ))
                })?
                .features
        }
        None => &[],
    };
    let all = baseline
        .iter()
        .chain(named)
        .copied()
        .chain(features.iter().map(String::as_str));
    for f in all {
        let own = precast_format::CpuFeatures::bit(f)
            .is_some_and(|bit| precast_format::CpuFeatures::arch_of(bit) == target.arch);
        if !own {
            let names: Vec<&str> =
                precast_format::CpuFeatures::names_of_arch(target.arch).collect();
            return Err(target_err(format!(
                "CPU feature `{f}` is not a feature of {} (its features: {})",
                target.arch,
                names.join(", ")
            )));
        }
        // Artifact names are Cranelift's flags without `has_` and dots.
        let flag = format!("has_{}", f.replace('.', ""));
        b.enable(&flag)
            .map_err(|e| target_err(format!("CPU feature `{f}`: {e}")))?;
    }
    b.finish(shared).map_err(target_err)
}

/// Whether code for `isa` can use 128-bit SIMD (riscv64 needs the V extension).
pub fn has_simd(isa: &dyn isa::TargetIsa) -> bool {
    match isa.triple().architecture {
        target_lexicon::Architecture::Riscv64(_) => isa
            .isa_flags()
            .iter()
            .any(|v| v.name == "has_v" && v.as_bool() == Some(true)),
        _ => true,
    }
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
            "has_dotprod" => "dotprod",
            "has_i8mm" => "i8mm",
            "has_zca" => "c",
            "has_zcb" => "zcb",
            "has_v" => "v",
            "has_zba" => "zba",
            "has_zbb" => "zbb",
            "has_zbc" => "zbc",
            "has_zbs" => "zbs",
            "has_zbkb" => "zbkb",
            "has_zicond" => "zicond",
            "has_zfa" => "zfa",
            "has_zfhmin" => "zfhmin",
            "has_zfh" => "zfh",
            "has_zvbb" => "zvbb",
            _ => continue,
        };
        features.insert(name);
    }
    features
}
