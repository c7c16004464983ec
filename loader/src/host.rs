//! Facts about the host the loader runs on: target triple and CPU features.

/// The host's target triple, recorded by the build script.
pub const HOST_TARGET: &str = env!("PRECAST_HOST_TARGET");

/// Whether the host CPU has the named feature (names from
/// [`CpuFeatures::NAMES`](precast_format::CpuFeatures::NAMES)). Unknown names and features of
/// other architectures are reported as absent.
pub fn has_cpu_feature(name: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match name {
            "sse3" => std::is_x86_feature_detected!("sse3"),
            "ssse3" => std::is_x86_feature_detected!("ssse3"),
            "sse4.1" => std::is_x86_feature_detected!("sse4.1"),
            "sse4.2" => std::is_x86_feature_detected!("sse4.2"),
            "popcnt" => std::is_x86_feature_detected!("popcnt"),
            "avx" => std::is_x86_feature_detected!("avx"),
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "bmi1" => std::is_x86_feature_detected!("bmi1"),
            "bmi2" => std::is_x86_feature_detected!("bmi2"),
            "lzcnt" => std::is_x86_feature_detected!("lzcnt"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            "avx512dq" => std::is_x86_feature_detected!("avx512dq"),
            "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
            "avx512vbmi" => std::is_x86_feature_detected!("avx512vbmi"),
            "cmpxchg16b" => std::is_x86_feature_detected!("cmpxchg16b"),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        match name {
            "lse" => std::arch::is_aarch64_feature_detected!("lse"),
            "pauth" => std::arch::is_aarch64_feature_detected!("paca"),
            "fp16" => std::arch::is_aarch64_feature_detected!("fp16"),
            _ => false,
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = name;
        false
    }
}

/// The names in `required` that the host lacks.
pub fn missing_cpu_features(required: precast_format::CpuFeatures) -> Vec<String> {
    required
        .names()
        .filter(|n| !has_cpu_feature(n))
        .map(str::to_string)
        .collect()
}

/// Size of a host page in bytes.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// Rounds `n` up to a multiple of the host page size (`None` on overflow).
pub fn round_up_to_page(n: usize) -> Option<usize> {
    let p = page_size();
    n.checked_add(p - 1).map(|v| v & !(p - 1))
}
