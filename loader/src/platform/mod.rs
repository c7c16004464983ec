//! The platform layer: what the runtime needs from the machine and the operating system,
//! beneath everything else in the loader. It uses nothing of the crate above it
//! (`tests/layers.rs` checks that).
//!
//! The interface, common to both platforms:
//! - the trap-resume mechanism of the entry trampoline ([`catch`], assembly, no C library);
//! - linear memories (`memory`): a [`Reservation`] of address space, committed as they grow;
//! - artifact bytes and executable memory ([`ArtifactBytes`], [`ExecMemory`]);
//! - locks ([`sync`]), CPU features, cache flushing, page size, stack limits ([`host`]);
//! - the lock-free address-range set a signal handler can search ([`ranges`]);
//! - pages the runtime can make unreadable, for fault-based epoch checks (`probe`);
//! - catching host panics at the wasm boundary ([`catch_panic`]) and ending the program on a
//!   runtime bug ([`abort`]).
//!
//! With the `std` feature the platform is Linux (`linux`: `mmap`'d memories with guard pages,
//! signal handlers, artifact files, the code cache, pooling, parking). Without it, the
//! minimal platform (`bare`): heap memories, and a thread slot from the embedder's two
//! `extern "C"` functions (see `tls`); artifacts must not need signals: explicit bounds
//! checks and traps raised through the `Trap` builtin (`precast compile --no-signals`).

pub(crate) mod catch;
pub(crate) mod host;
pub(crate) mod ranges;
pub(crate) mod sync;

#[cfg(feature = "std")]
mod linux;
#[cfg(feature = "std")]
pub(crate) use linux::{
    code, code_cache, gdbjit, jitdump, memory, parking, perfmap, pool, probe, signals, unwind,
};

#[cfg(not(feature = "std"))]
mod bare;
#[cfg(not(feature = "std"))]
pub(crate) use bare::{memory, parking, pool, probe, tls, unwind};

/// A linear memory's address space: `size` bytes it may ever grow to, followed by `guard`
/// bytes that no access reaches (without virtual memory only `size` counts: the most a
/// memory may take of the heap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reservation {
    pub size: u64,
    pub guard: u64,
}

impl Reservation {
    /// The address space a memory of type `ty` takes: this one, or for a 64-bit memory room
    /// to grow to its maximum, up to `memory64` bytes. The compiled code bounds-checks every
    /// access of a 64-bit memory against its current length, so none depends on the size of
    /// the reservation (32-bit memories may be checked by their guard region instead).
    pub fn for_memory(self, ty: &precast_format::module::MemoryType, memory64: u64) -> Reservation {
        if ty.memory64 {
            Reservation {
                size: self.size.max(ty.max_bytes().min(memory64)),
                guard: self.guard,
            }
        } else {
            self
        }
    }
}

/// Limits of the instance pool ([`Config::pooling`](crate::Config::pooling)): everything is reserved when the
/// engine is created, and an instantiation that needs more than a slot holds fails with
/// [`Error::Resource`](crate::Error::Resource).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Instances that can be alive at once (each takes a VMContext slot).
    pub instances: u32,
    /// Linear memories that can be alive at once (each takes a reservation of
    /// [`Config::memory_reservation`](crate::Config::memory_reservation) + [`Config::memory_guard_size`](crate::Config::memory_guard_size) bytes of address space).
    pub memories: u32,
    /// Tables that can be alive at once.
    pub tables: u32,
    /// Largest VMContext of a pooled instance, in bytes.
    pub max_vmctx_size: usize,
    /// Largest table, in elements (across its lifetime: growing beyond fails).
    pub max_table_elements: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            instances: 100,
            memories: 100,
            tables: 100,
            max_vmctx_size: 64 * 1024,
            max_table_elements: 20_000,
        }
    }
}

/// Executable memory holding a module's `.text` apart from its artifact bytes (held for its
/// `Drop`; there is none without `std`, where code runs where it was loaded).
#[derive(Debug)]
pub(crate) enum ExecMemory {
    /// A read+execute mapping of the artifact file (returned to the engine's code cache).
    #[cfg(feature = "std")]
    File { _mapping: code_cache::CodeMapping },
    /// An executable copy.
    #[cfg(feature = "std")]
    Copy { _copy: code::Mapping },
}

/// An artifact's bytes: a private read-only mapping of the file (or of a copy), or, for a
/// small file, a heap copy read with one `pread` (its `.text` then mapped on its own), or
/// nothing of its own: a linked module's bytes are part of the executable.
pub(crate) enum ArtifactBytes {
    #[cfg(feature = "std")]
    Map(code::Mapping),
    #[cfg_attr(feature = "std", allow(dead_code))]
    Heap(alloc::vec::Vec<u8>),
    Linked,
}

impl core::ops::Deref for ArtifactBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            #[cfg(feature = "std")]
            ArtifactBytes::Map(m) => m,
            ArtifactBytes::Heap(b) => b,
            ArtifactBytes::Linked => &[],
        }
    }
}

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
