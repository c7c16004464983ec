//! Links the modules of `tests/linked/` into the test binaries (`tests/tests/linked.rs`,
//! `tests/tests/trust.rs`, `tests/tests/interrupts.rs`, `tests/tests/limits.rs`,
//! `tests/tests/unwind.rs`).

fn main() -> Result<(), precast_build::Error> {
    for name in ["images", "threads", "limits", "unwind"] {
        precast_build::Module::new(name, format!("linked/{name}.wat")).compile()?;
    }
    // The same module compiled for the build machine's CPU (the baseline when cross
    // compiling: the build machine is not the one the tests run on).
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    precast_build::Module::new("images_native", "linked/images.wat")
        .cpu(if native {
            precast_build::precast_compiler::CpuTarget::Native
        } else {
            precast_build::precast_compiler::CpuTarget::Baseline
        })
        .compile()?;
    // With epoch interruption and fuel (`tests/tests/interrupts.rs`).
    precast_build::Module::new("interrupts", "linked/interrupts.wat")
        .epoch_interruption(true)
        .consume_fuel(true)
        .compile()?;
    // Signed with the test-only key of `keys/` (`tests/tests/trust.rs` trusts its public half).
    precast_build::Module::new("images_signed", "linked/images.wat")
        .sign("keys/test-only.key")
        .compile()?;
    Ok(())
}
