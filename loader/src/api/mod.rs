//! The embedding API, the top layer: [`Engine`](engine::Engine), [`Store`](store::Store),
//! [`Module`](module::Module), [`Instance`](instance::Instance), functions, memories,
//! tables, globals and the [`Linker`](linker::Linker), in Wasmtime's shape. Built on the
//! runtime core ([`crate::runtime`]) and the platform ([`crate::platform`]).

pub(crate) mod engine;
pub(crate) mod externals;
pub(crate) mod func;
pub(crate) mod instance;
pub(crate) mod limits;
pub(crate) mod linker;
pub(crate) mod module;
#[cfg(feature = "std")]
pub(crate) mod shared_memory;
pub(crate) mod store;
pub(crate) mod typed;
pub(crate) mod values;
pub(crate) mod wrap;
