//! The platform layer: what the runtime needs from the machine and the operating system,
//! beneath everything else in the loader.
//!
//! - the trap-resume mechanism of the entry trampoline ([`catch`], assembly, no C library);
//! - linear memories (`memory`): [`mmap_memory`] on Linux (reservations, guard pages,
//!   copy-on-write images), `heap_memory` without `std` (plain allocations, moved on growth);
//! - locks ([`sync`]);
//! - one pointer-sized slot per thread for the runtime's thread state (`tls`, without `std`);
//! - catching host panics at the wasm boundary ([`catch_panic`]) and ending the program on a
//!   runtime bug ([`abort`]).
//!
//! With the `std` feature the platform is Linux (thread-locals, `mmap`'d memories, signal
//! handlers, files). Without it, the embedder provides the few functions the minimal platform
//! declares as `extern "C"` (see `tls`) and artifacts must not need signals: explicit
//! bounds checks and traps raised through the `Trap` builtin (`precast compile
//! --bounds-checks explicit --no-signals`).

pub(crate) mod catch;
#[cfg(not(feature = "std"))]
pub(crate) mod heap_memory;
#[cfg(not(feature = "std"))]
pub(crate) use heap_memory as memory;
#[cfg(feature = "std")]
pub(crate) mod mmap_memory;
#[cfg(feature = "std")]
pub(crate) use mmap_memory as memory;
pub(crate) mod sync;
#[cfg(not(feature = "std"))]
pub(crate) mod tls;

/// Runs `f`, turning a panic into an error value where the platform can catch one (the
/// caller reports it as a host error instead of unwinding through wasm frames). Without
/// `std` panics cannot be caught: the build requires `panic = "abort"`.
#[inline]
pub(crate) fn catch_panic<R>(
    f: impl FnOnce() -> R,
) -> Result<R, alloc::boxed::Box<dyn core::any::Any + Send + 'static>> {
    #[cfg(feature = "std")]
    return std::panic::catch_unwind(core::panic::AssertUnwindSafe(f));
    #[cfg(not(feature = "std"))]
    Ok(f())
}

// A panic unwinding out of a host function would cross wasm frames, which have no unwind
// tables: without `std` to catch it at the boundary, only aborting panics are sound.
#[cfg(all(not(feature = "std"), panic = "unwind"))]
compile_error!("precast-loader without `std` needs `panic = \"abort\"` (profile or target)");

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
