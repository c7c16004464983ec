//! Links the hello-world module into the benchmark binaries, to time `Module::from_linked`.

fn main() -> Result<(), precast_build::Error> {
    precast_build::Module::new("hello", "../examples/linked-host/wasm/hello.wat")
        .cpu(precast_build::precast_compiler::CpuTarget::Native)
        .compile()?;
    Ok(())
}
