//! The Linux platform (the `std` feature): artifact files and executable code ([`code`]),
//! `mmap`'d linear memories with guard pages and
//! copy-on-write images ([`memory`]), the trap signal handlers and alternate signal stacks
//! ([`signals`]), the pooling allocator over reservations ([`pool`]), the on-disk code cache
//! ([`code_cache`]) and the futex-style parking of `memory.atomic.wait`/`notify`
//! ([`parking`]), and the pages of fault-based epoch checks ([`probe`]).

pub(crate) mod code;
pub(crate) mod code_cache;
pub(crate) mod gdbjit;
pub(crate) mod jitdump;
pub(crate) mod memory;
pub(crate) mod parking;
pub(crate) mod perfmap;
pub(crate) mod pool;
pub(crate) mod probe;
pub(crate) mod signals;
pub(crate) mod unwind;
