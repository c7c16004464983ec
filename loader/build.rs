//! Build script: records the host target triple (artifacts compiled for another target are
//! refused) and compiles the tiny C helpers for reading the CPU features the C library detected.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=PRECAST_HOST_TARGET={target}");
    println!("cargo:rerun-if-changed=csrc/cpu.c");
    println!("cargo:rerun-if-changed=csrc/icache.c");
    // CPU features as the C library detected them (no `cpuid` of ours at load), and the
    // instruction-cache flush after writing code (a compiler builtin). The Linux platform
    // only: without `std` there is no C library.
    #[cfg(feature = "std")]
    cc::Build::new()
        .file("csrc/cpu.c")
        .file("csrc/icache.c")
        .warnings(true)
        .compile("precast_cpu");
}
