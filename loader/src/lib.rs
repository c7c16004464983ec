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
//! The loader never depends on Cranelift or wasmparser.

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

mod artifact;
mod builtins;
mod checksum;
mod code_registry;
mod const_expr;
mod elf;
mod engine;
mod error;
mod externals;
mod func;
mod instance;
mod linker;
mod memory_storage;
mod module;
mod platform;
#[cfg(feature = "std")]
mod shared_memory;
mod store;
mod table_elements;
mod trap;
mod traphandlers;
mod typed;
mod types;
mod values;
mod vm;
mod wrap;

#[cfg(test)]
mod tests;

pub use artifact::{Inspected, Signature, inspect};
pub use engine::{Config, Engine, PoolConfig, TrustedKey};
pub use error::{Error, LinkError, LoadError};
pub use externals::{Global, Memory, Table};
pub use func::{Caller, Func};
pub use instance::{Extern, Instance};
pub use linker::{InstancePre, Linker};
pub use memory_storage::MemoryView;
pub use module::{ExportType, ExternType, ImportType, LinkedModule, Module};
pub use platform::host::{HOST_TARGET, has_cpu_feature};
#[cfg(feature = "std")]
pub use shared_memory::SharedMemory;
pub use store::{AsStore, AsStoreMut, Store, StoreOpaque};
pub use trap::{FrameInfo, Trap};
pub use typed::{TypedFunc, ValSlot, WasmParams, WasmResults, WasmTy};
pub use values::Val;
pub use wrap::{HostResult, IntoFunc};

pub use precast_format::TrapCode;
pub use precast_format::module::{
    FuncType, GlobalType, HeapType, MemoryType, RefType, TableType, ValType,
};
