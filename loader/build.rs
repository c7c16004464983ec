//! Build script: records the host target triple (artifacts compiled for another target are
//! refused) and compiles the tiny C helper for non-local exits out of wasm on traps.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=PRECAST_HOST_TARGET={target}");
    println!("cargo:rerun-if-changed=csrc/catch.c");
    // setjmp/longjmp cannot be written in Rust (a function returning twice is not
    // expressible), so the catch/unwind pair lives in C.
    cc::Build::new()
        .file("csrc/catch.c")
        .warnings(true)
        .compile("precast_catch");
}
