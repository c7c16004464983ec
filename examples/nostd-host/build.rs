//! Links the module's object (`precast compile --no-signals --link-name app`), whose path
//! the test passes in `PRECAST_NOSTD_MODULE`, and the C library.

fn main() {
    println!("cargo:rerun-if-env-changed=PRECAST_NOSTD_MODULE");
    // The C library: its start files call `main`, and the program's platform (allocator,
    // output, `memcpy`) is built on it. A firmware links its own instead.
    println!("cargo:rustc-link-lib=c");
    match std::env::var("PRECAST_NOSTD_MODULE") {
        Ok(object) => println!("cargo:rustc-link-arg={object}"),
        Err(_) => {
            println!(
                "cargo:warning=PRECAST_NOSTD_MODULE is not set: compile the module with \
                 `precast compile --no-signals --link-name app MODULE -o app.o` and set it"
            );
            std::process::exit(1);
        }
    }
}
