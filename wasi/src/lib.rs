//! `precast-wasi`: WASI preview1 (`wasi_snapshot_preview1`) for the Precast loader, on the
//! host OS (Linux), in the shape of Wasmtime's API.
//!
//! It is built only on `precast-loader`'s public API: the functions are host functions
//! defined with [`Linker::func_new`](precast_loader::Linker::func_new), and they reach the
//! caller's memory through
//! [`Memory::view_and_store_mut`](precast_loader::Memory::view_and_store_mut) (which serves
//! shared memories too, see [`MemoryView`](precast_loader::MemoryView)).
//!
//! ```no_run
//! use precast_wasi::{self as wasi, OutputBuffer, WasiCtx, WasiCtxBuilder};
//! use precast_loader::{Engine, Error, Linker, Module, Store};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "app.pcst")?;
//! let stdout = OutputBuffer::new();
//! let ctx = WasiCtxBuilder::new()
//!     .args(["app"])
//!     .stdout(stdout.clone())
//!     .inherit_stderr()
//!     .preopened_dir("data", "/")?
//!     .build();
//! let mut store = Store::new(&engine, ctx);
//! let mut linker: Linker<WasiCtx> = Linker::new(&engine);
//! wasi::add_to_linker(&mut linker, |cx| cx)?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! let start = instance.get_func(&store, "_start").expect("a command");
//! match start.call(&mut store, &[], &mut []) {
//!     Ok(()) | Err(Error::Exit(0)) => println!("{}", String::from_utf8_lossy(&stdout.contents())),
//!     Err(Error::Exit(code)) => eprintln!("exited with {code}"),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! **Sandbox.** The guest reaches the file system only through preopened directories.
//! Every path is resolved beneath the directory fd it is relative to with `openat2` and
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: `..` above the preopen, absolute paths and
//! symlinks leading out (directly or through a chain) fail with `notcapable`.
//!
//! **Guest pointers** are checked against the memory's current size; a bad one is
//! `errno::fault`, never a host access outside the memory.
//!
//! **Rights.** Each fd carries preview1 base and inheriting rights; an operation without its
//! right fails with `notcapable`, `fd_fdstat_set_rights` can only drop rights, and a file
//! opened through a directory gets at most the directory's inheriting rights.
//!
//! Layout: `memory` (bounds-checked guest access), `errno` (error numbers and the host
//! mapping), `types` (preview1 constants and layouts), `fd_table` (fds and rights), `path`
//! (confined resolution), `stdio`, `ctx` (context and builder), `preview1/` (the functions,
//! by subject), `linker` (registration).

#![warn(missing_docs)]

mod ctx;
mod errno;
mod fd_table;
mod linker;
mod memory;
mod path;
mod preview1;
mod stdio;
mod types;

#[cfg(test)]
mod tests;

pub use ctx::{WasiCtx, WasiCtxBuilder};
pub use errno::Errno;
pub use linker::{MODULE, add_to_linker, function_names, imports_wasi};
pub use stdio::OutputBuffer;
