//! The platform layer: what the runtime needs from the machine and the operating system,
//! beneath everything else in the loader.
//!
//! - [`catch`]: the trap-resume mechanism of the entry trampoline (assembly, no C library).

pub(crate) mod catch;
