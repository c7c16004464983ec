//! The platform layer: what the runtime needs from the machine and the operating system,
//! beneath everything else in the loader.
//!
//! - [`catch`]: the trap-resume mechanism of the entry trampoline (assembly, no C library);
//! - [`tls`]: one pointer-sized slot per thread for the runtime's thread state;
//! - [`abort`]: ending the process on an unrecoverable runtime bug.
//!
//! With the `std` feature the platform is Linux (thread-locals, `mmap`'d memories, signal
//! handlers, files). Without it, the embedder provides the few functions the minimal platform
//! declares as `extern "C"` (see [`tls`]) and artifacts must not need signals: explicit
//! bounds checks and traps raised through the `Trap` builtin (`precast compile
//! --bounds-checks explicit --no-signals`).

pub(crate) mod catch;
#[cfg(not(feature = "std"))]
pub(crate) mod tls;

/// Ends the program: a runtime invariant no longer holds and nothing can be returned to.
#[cold]
pub(crate) fn abort(why: &str) -> ! {
    #[cfg(feature = "std")]
    {
        std::eprintln!("precast: fatal: {why}");
        std::process::abort()
    }
    // The embedder's panic handler decides (firmware usually resets).
    #[cfg(not(feature = "std"))]
    panic!("precast: fatal: {why}")
}
