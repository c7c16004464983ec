//! Links the modules of `tests/linked/` into the test binaries (`tests/tests/linked.rs`).

fn main() -> Result<(), precast_build::Error> {
    for name in ["images", "threads"] {
        precast_build::Module::new(name, format!("linked/{name}.wat")).compile()?;
    }
    // The same module compiled for the build machine's CPU.
    precast_build::Module::new("images_native", "linked/images.wat")
        .cpu(precast_build::precast_compiler::CpuTarget::Native)
        .compile()?;
    Ok(())
}
