//! The targets Precast compiles for, their baselines and named CPUs.
//!
//! A named CPU is a set of features on top of its architecture's baseline; the names follow
//! LLVM's and the RISC-V profiles'. Features are the artifact names of
//! [`precast_format::CpuFeatures::NAMES`].

/// One target the compiler supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The canonical triple.
    pub triple: &'static str,
    /// Its architecture family (`x86_64`, `aarch64`, `riscv64`).
    pub arch: &'static str,
    /// What the baseline assumes, in words.
    pub baseline: &'static str,
}

/// The supported targets (any `ARCH-*-linux-*` triple of these architectures is accepted).
pub const TARGETS: [Target; 3] = [
    Target {
        triple: "x86_64-unknown-linux-gnu",
        arch: "x86_64",
        baseline: "x86-64-v2: SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT",
    },
    Target {
        triple: "aarch64-unknown-linux-gnu",
        arch: "aarch64",
        baseline: "ARMv8.0-A with NEON",
    },
    Target {
        triple: "riscv64gc-unknown-linux-gnu",
        arch: "riscv64",
        baseline: "RV64GC: IMAFD, Zicsr, Zifencei, compressed instructions (no SIMD without V)",
    },
];

/// A named CPU or profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// Architecture family.
    pub arch: &'static str,
    /// Name, as `--cpu` takes it.
    pub name: &'static str,
    /// Features beyond the baseline.
    pub features: &'static [&'static str],
}

const V3: &[&str] = &["avx", "avx2", "bmi1", "bmi2", "lzcnt", "fma", "cmpxchg16b"];
const V4: &[&str] = &[
    "avx",
    "avx2",
    "bmi1",
    "bmi2",
    "lzcnt",
    "fma",
    "cmpxchg16b",
    "avx512f",
    "avx512vl",
    "avx512dq",
    "avx512bw",
];
const ICELAKE: &[&str] = &[
    "avx",
    "avx2",
    "bmi1",
    "bmi2",
    "lzcnt",
    "fma",
    "cmpxchg16b",
    "avx512f",
    "avx512vl",
    "avx512dq",
    "avx512bw",
    "avx512vbmi",
];
const RVA22: &[&str] = &["zba", "zbb", "zbs", "zfhmin"];
const RVA23: &[&str] = &[
    "zba", "zbb", "zbs", "zfhmin", "v", "zcb", "zicond", "zfa", "zvbb",
];

/// The named CPUs, by architecture.
pub const CPUS: &[Cpu] = &[
    Cpu {
        arch: "x86_64",
        name: "x86-64-v2",
        features: &[],
    },
    Cpu {
        arch: "x86_64",
        name: "x86-64-v3",
        features: V3,
    },
    Cpu {
        arch: "x86_64",
        name: "haswell",
        features: V3,
    },
    Cpu {
        arch: "x86_64",
        name: "skylake",
        features: V3,
    },
    Cpu {
        arch: "x86_64",
        name: "znver3",
        features: V3,
    },
    Cpu {
        arch: "x86_64",
        name: "x86-64-v4",
        features: V4,
    },
    Cpu {
        arch: "x86_64",
        name: "skylake-avx512",
        features: V4,
    },
    Cpu {
        arch: "x86_64",
        name: "icelake-server",
        features: ICELAKE,
    },
    Cpu {
        arch: "x86_64",
        name: "znver4",
        features: ICELAKE,
    },
    Cpu {
        arch: "aarch64",
        name: "generic",
        features: &[],
    },
    Cpu {
        arch: "aarch64",
        name: "cortex-a53",
        features: &[],
    },
    Cpu {
        arch: "aarch64",
        name: "cortex-a72",
        features: &[],
    },
    Cpu {
        arch: "aarch64",
        name: "cortex-a55",
        features: &["lse", "fp16", "dotprod"],
    },
    Cpu {
        arch: "aarch64",
        name: "cortex-a76",
        features: &["lse", "fp16", "dotprod"],
    },
    Cpu {
        arch: "aarch64",
        name: "neoverse-n1",
        features: &["lse", "fp16", "dotprod"],
    },
    Cpu {
        arch: "aarch64",
        name: "apple-m1",
        features: &["lse", "fp16", "dotprod", "pauth"],
    },
    Cpu {
        arch: "aarch64",
        name: "neoverse-v1",
        features: &["lse", "fp16", "dotprod", "i8mm", "pauth"],
    },
    Cpu {
        arch: "aarch64",
        name: "neoverse-n2",
        features: &["lse", "fp16", "dotprod", "i8mm", "pauth"],
    },
    Cpu {
        arch: "riscv64",
        name: "rv64gc",
        features: &[],
    },
    Cpu {
        arch: "riscv64",
        name: "sifive-u74",
        features: &["zba", "zbb"],
    },
    Cpu {
        arch: "riscv64",
        name: "rva22u64",
        features: RVA22,
    },
    Cpu {
        arch: "riscv64",
        name: "rva23u64",
        features: RVA23,
    },
];

/// The supported target whose architecture `triple` names, if its OS is Linux.
pub fn target(triple: &str) -> Option<&'static Target> {
    let (arch, os) = precast_format::header::arch_and_os(triple);
    let arch = precast_format::header::normalize_arch(arch);
    // riscv64 code assumes the G and C extensions (`riscv64gc`); `riscv64imac` lacks F/D.
    let arch_ok = !triple.starts_with("riscv64") || triple.starts_with("riscv64gc");
    (os == "linux" && arch_ok)
        .then(|| TARGETS.iter().find(|t| t.arch == arch))
        .flatten()
}

/// The named CPU of `arch`.
pub fn cpu(arch: &str, name: &str) -> Option<&'static Cpu> {
    CPUS.iter().find(|c| c.arch == arch && c.name == name)
}

/// The CPU names of `arch`, comma separated (for messages).
pub fn cpu_names(arch: &str) -> String {
    CPUS.iter()
        .filter(|c| c.arch == arch)
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cpu_feature_belongs_to_its_architecture() {
        for c in CPUS {
            for f in c.features {
                let bit = precast_format::CpuFeatures::bit(f).unwrap_or_else(|| panic!("{f}"));
                assert_eq!(
                    precast_format::CpuFeatures::arch_of(bit),
                    c.arch,
                    "{}",
                    c.name
                );
            }
        }
    }

    #[test]
    fn triples_map_to_targets() {
        assert_eq!(target("aarch64-unknown-linux-gnu").unwrap().arch, "aarch64");
        assert_eq!(
            target("aarch64-unknown-linux-musl").unwrap().arch,
            "aarch64"
        );
        assert_eq!(
            target("riscv64gc-unknown-linux-gnu").unwrap().arch,
            "riscv64"
        );
        assert_eq!(target("x86_64-unknown-linux-gnu").unwrap().arch, "x86_64");
        assert!(target("riscv64imac-unknown-none-elf").is_none());
        assert!(target("x86_64-pc-windows-msvc").is_none());
        assert!(target("wasm32-wasip1").is_none());
    }
}
