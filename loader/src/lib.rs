//! `precast-loader`: loads and runs Precast artifacts.
//!
//! The loader maps an artifact (an ELF relocatable object written by `precast-compiler`),
//! verifies it against this host (format version, target, CPU features, ABI settings,
//! checksums, VMContext layout, lookup tables), makes its code executable, and instantiates
//! it: VMContext allocation, imports, memories, tables, globals, segments, start function.
//! Calls enter wasm through per-signature entry trampolines; traps are caught by a signal
//! handler that maps the faulting pc through the artifact's trap table and unwinds to the
//! entry point with a backtrace.
//!
//! The embedding API follows Wasmtime's shape:
//!
//! ```no_run
//! use precast_loader::{Engine, Linker, Module, Store, Val};
//! # fn main() -> Result<(), precast_loader::Error> {
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "add.precast")?;
//! let mut store = Store::new(&engine, ());
//! let linker = Linker::new(&engine);
//! let instance = linker.instantiate(&mut store, &module)?;
//! let add = instance.get_func(&store, "add").expect("export");
//! let mut results = [Val::I32(0)];
//! add.call(&mut store, &[Val::I32(1), Val::I32(2)], &mut results)?;
//! # Ok(())
//! # }
//! ```
//!
//! The loader never depends on Cranelift or wasmparser. Inside, it is three layers, each a
//! folder using only itself and those beneath it: the embedding API (`api/`), the runtime
//! core (`runtime/`: artifacts, loaded modules, VMContexts, instances, builtins, traps; it
//! reaches the store through a trait, never through the public types) and the platform
//! (`platform/`: Linux, or the minimal one without `std`). This file only re-exports.

#![warn(missing_docs)]
// Always `no_std`: the core names `core`/`alloc` paths, and what needs the standard library
// (the Linux platform) is behind the `std` feature. WASI is its own crate, `precast-wasi`,
// built on this crate's public API.
#![no_std]

#[macro_use]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// The `alloc` names every module uses (what the standard prelude would give).
mod prelude {
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
}

mod api;
mod platform;
mod runtime;

#[cfg(test)]
mod tests;

pub use api::engine::{Config, Engine, PoolConfig, Profiler};
pub use api::externals::{Global, Memory, Table};
pub use api::func::{Caller, Func};
pub use api::instance::{Extern, Instance};
pub use api::limits::{
    DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, Limit, LimitExceeded,
    ResourceLimiter, StoreLimits,
};
pub use api::linker::{InstancePre, Linker};
pub use api::module::{ExportType, ExternType, ImportType, LinkedModule, Module};
#[cfg(feature = "std")]
pub use api::shared_memory::SharedMemory;
pub use api::store::{AsStore, AsStoreMut, Store, StoreOpaque, UpdateDeadline};
pub use api::typed::{TypedFunc, ValSlot, WasmParams, WasmResults, WasmTy};
pub use api::values::Val;
pub use api::wrap::{HostResult, IntoFunc};
pub use platform::host::{HOST_TARGET, has_cpu_feature};
pub use runtime::artifact::trust::TrustedKey;
pub use runtime::artifact::{Inspected, Signature, inspect};
pub use runtime::error::{Error, LinkError, LoadError};
pub use runtime::memory::MemoryView;
pub use runtime::trap::{FrameInfo, Trap};

pub use precast_format::TrapCode;
pub use precast_format::module::{
    FuncType, GlobalType, HeapType, MemoryType, RefType, TableType, ValType,
};
