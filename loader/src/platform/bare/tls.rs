//! One pointer-sized thread-local slot for the runtime's per-thread state.
//!
//! With `std` the runtime uses Rust thread-locals instead (this module is absent). Without it, the
//! embedder defines two C functions, as Wasmtime's minimal platform does:
//!
//! ```c
//! void *precast_tls_get(void);      /* this thread's slot, NULL until set */
//! void precast_tls_set(void *ptr);  /* sets this thread's slot */
//! ```
//!
//! A single-threaded firmware can back them with one global variable.

#[cfg(not(feature = "std"))]
unsafe extern "C" {
    fn precast_tls_get() -> *mut u8;
    fn precast_tls_set(ptr: *mut u8);
}

/// This thread's slot (null until [`set`]).
#[cfg(not(feature = "std"))]
pub(crate) fn get() -> *mut u8 {
    // SAFETY: the embedder's function has this signature and no preconditions.
    unsafe { precast_tls_get() }
}

/// Sets this thread's slot.
#[cfg(not(feature = "std"))]
pub(crate) fn set(ptr: *mut u8) {
    // SAFETY: as `get`.
    unsafe { precast_tls_set(ptr) }
}
