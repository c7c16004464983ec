//! Precompiles the example's modules and links them into its binaries.

use precast_build::Module;
use precast_build::precast_compiler::CpuTarget;

fn main() -> Result<(), precast_build::Error> {
    // A WASI command and a library module; the library a second time under another name.
    Module::new("greet", "wasm/greet.wat").compile()?;
    Module::new("math", "wasm/math.wat").compile()?;
    Module::new("math_again", "wasm/math.wat").compile()?;
    // The same library for a CPU with one more feature than the baseline (AVX2; LSE atomics
    // on aarch64, Zbb on riscv64): the host refuses it where that feature is not allowed.
    let feature = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "lse",
        Ok("riscv64") => "zbb",
        _ => "avx2",
    };
    Module::new("math_avx2", "wasm/math.wat")
        .cpu(CpuTarget::Features(vec![feature.into()]))
        .compile()?;
    // What `linked-hello` runs (and `cargo xtask bench` measures).
    Module::new("hello", "wasm/hello.wat").compile()?;
    // Guests that never stop, contained by `linked-host contain`: with epoch interruption
    // (the fault-based check where it applies, x86_64 and aarch64; the compare elsewhere)
    // and with fuel.
    Module::new("spin_epoch", "wasm/spin.wat")
        .epoch_interruption(true)
        .compile()?;
    Module::new("spin_fuel", "wasm/spin.wat")
        .consume_fuel(true)
        .compile()?;
    // A C module built with debug information (`examples/debug/fib.c`), its source lines in
    // the executable's line table: `gdb linked-host` breaks on `fib.c:LINE`.
    Module::new("cfib", "../debug/fib.wasm")
        .wasm_debug_info(true)
        .compile()?;
    Ok(())
}
