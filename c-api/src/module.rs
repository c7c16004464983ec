//! Modules: `wasm_module_t` (loaded Precast artifacts), sharing across stores, and
//! precast.h's loaders (files, bytes, modules linked into the executable).
//!
//! There is no compiler in this library: WebAssembly binaries are refused with a message
//! saying how to compile them ahead of time. `wasm_module_new` accepts artifact bytes like
//! `wasm_module_deserialize`, and `wasm_module_serialize` returns the artifact's bytes.

use crate::error::{error_ptr, result_ptr, set_last_error};
use crate::refs::{RefInner, SharedHostInfo, inner, wasm_ref_t};
use crate::store::{EngineObj, Verification, cell_of, wasm_engine_t, wasm_store_t};
use crate::types::{wasm_exporttype_t, wasm_importtype_t};
use crate::vec::{CVec, wasm_byte_vec_t, write_out};
use crate::{boxed, c_str, guard, to_cstring, unbox};
use precast_loader::{Engine, LinkedModule, Module};
use std::ffi::{CString, c_char};
use std::path::PathBuf;
use std::sync::Arc;

/// Where a module's artifact bytes come from (for `wasm_module_serialize`).
enum Source {
    /// Loaded from these bytes (kept: the loader's own copy is not reachable).
    Bytes(Arc<[u8]>),
    /// Loaded from this file (read again, and checked to be the same artifact).
    File(PathBuf),
    /// Linked into the executable: no artifact file exists.
    Linked,
}

/// What the handles of one loaded module share.
struct ModuleMeta {
    source: Source,
    name: Option<CString>,
    host_info: SharedHostInfo,
}

/// A loaded module as the C API holds it.
#[derive(Clone)]
pub(crate) struct ModuleObj {
    pub module: Module,
    meta: Arc<ModuleMeta>,
}

impl ModuleObj {
    fn new(module: Module, source: Source) -> ModuleObj {
        let name = module.name().map(to_cstring);
        ModuleObj {
            module,
            meta: Arc::new(ModuleMeta {
                source,
                name,
                host_info: SharedHostInfo::default(),
            }),
        }
    }

    /// A pointer identifying the module (shared by its handles).
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.meta) as usize
    }

    pub fn same(&self, other: &ModuleObj) -> bool {
        Module::same(&self.module, &other.module)
    }

    pub fn host_info(&self) -> &SharedHostInfo {
        &self.meta.host_info
    }
}

/// The module behind a C pointer.
///
/// # Safety
/// `p` is NULL or a live reference object of this library.
pub(crate) unsafe fn module_of<'a>(p: *const wasm_ref_t) -> Result<&'a ModuleObj, String> {
    // SAFETY: per this function's contract.
    match unsafe { inner(p) } {
        Some(RefInner::Module(m)) => Ok(m),
        Some(_) => Err("the object is not a module".into()),
        None => Err("the module is NULL".into()),
    }
}

fn module_ptr(m: ModuleObj) -> *mut wasm_ref_t {
    boxed(wasm_ref_t::new(RefInner::Module(m)))
}

/// The message for WebAssembly bytes given where an artifact is expected.
const NO_COMPILER: &str = "this is a WebAssembly binary, not a Precast artifact: Precast \
    compiles ahead of time and its C API has no compiler; compile the module with `precast \
    compile module.wasm -o module.pcst` and load the artifact (wasm_module_deserialize, \
    precast_module_from_file)";

/// Refuses every load of an engine that requires signatures but trusts no key.
fn check_policy(engine: &EngineObj) -> Result<(), String> {
    if engine.require_signatures && engine.engine.config().trusted_keys.is_empty() {
        return Err(
            "this engine requires signed artifacts (precast_config_require_signatures), \
             but trusts no key (precast_config_trust_key_pem): no artifact can load"
                .into(),
        );
    }
    Ok(())
}

/// Loads artifact bytes with `engine`'s verification.
pub(crate) fn load_bytes(engine: &EngineObj, bytes: &[u8]) -> Result<ModuleObj, String> {
    if bytes.starts_with(b"\0asm") {
        return Err(NO_COMPILER.into());
    }
    check_policy(engine)?;
    let module = match engine.verification {
        Verification::Full | Verification::Fast => Module::from_bytes(&engine.engine, bytes),
        // SAFETY: the embedder chose PRECAST_VERIFY_UNCHECKED, whose documented contract
        // (precast.h) is that every artifact it loads is exactly what the compiler wrote.
        Verification::Unchecked => unsafe { Module::from_bytes_unchecked(&engine.engine, bytes) },
    }
    .map_err(|e| e.to_string())?;
    Ok(ModuleObj::new(module, Source::Bytes(bytes.into())))
}

fn load_file(engine: &EngineObj, path: &str) -> Result<ModuleObj, String> {
    check_policy(engine)?;
    if let Ok(mut f) = std::fs::File::open(path) {
        use std::io::Read;
        let mut magic = [0u8; 4];
        if f.read_exact(&mut magic).is_ok() && &magic == b"\0asm" {
            return Err(format!("`{path}`: {NO_COMPILER}"));
        }
    }
    let module = match engine.verification {
        Verification::Full | Verification::Fast => Module::from_file(&engine.engine, path),
        // SAFETY: as in `load_bytes`: the embedder vouches for the artifact's integrity.
        Verification::Unchecked => unsafe { Module::from_file_unchecked(&engine.engine, path) },
    }
    .map_err(|e| e.to_string())?;
    Ok(ModuleObj::new(module, Source::File(PathBuf::from(path))))
}

/// The artifact bytes of a module.
fn artifact_bytes(m: &ModuleObj) -> Result<Vec<u8>, String> {
    match &m.meta.source {
        Source::Bytes(b) => Ok(b.to_vec()),
        Source::File(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read the artifact `{}`: {e}", path.display()))?;
            // The file must still be the artifact that was loaded.
            match precast_loader::inspect(&bytes) {
                Ok(i) if i.header == *m.module.header() => Ok(bytes),
                _ => Err(format!(
                    "the artifact `{}` changed since the module was loaded from it",
                    path.display()
                )),
            }
        }
        Source::Linked => Err(
            "the module is linked into the executable and has no artifact bytes to serialize"
                .into(),
        ),
    }
}

/// The bytes of a C byte vector.
///
/// # Safety
/// `v` is NULL or a valid byte vector, valid for `'a`.
unsafe fn bytes_of<'a>(v: *const wasm_byte_vec_t) -> Result<&'a [u8], String> {
    // SAFETY: per this function's contract.
    match unsafe { v.as_ref() } {
        // SAFETY: a valid vector holds `size` bytes at `data`.
        Some(v) => Ok(unsafe { v.as_slice() }),
        None => Err("the byte vector is NULL".into()),
    }
}

/// Loads bytes given to a store's function.
///
/// # Safety
/// `store` and `binary` are NULL or valid.
unsafe fn load_for_store(
    store: *const wasm_store_t,
    binary: *const wasm_byte_vec_t,
) -> Result<ModuleObj, String> {
    // SAFETY: per this function's contract.
    let cell = unsafe { cell_of(store) }?;
    // SAFETY: per this function's contract.
    let bytes = unsafe { bytes_of(binary) }?;
    load_bytes(&cell.engine, bytes)
}

// ---------------------------------------------------------------------------------------
// wasm.h

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_new(
    store: *mut wasm_store_t,
    binary: *const wasm_byte_vec_t,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or valid, per the header.
        match unsafe { load_for_store(store, binary) } {
            Ok(m) => module_ptr(m),
            Err(e) => {
                set_last_error(e);
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_validate(
    store: *mut wasm_store_t,
    binary: *const wasm_byte_vec_t,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or valid, per the header.
        match unsafe { load_for_store(store, binary) } {
            Ok(_) => true,
            Err(e) => {
                set_last_error(e);
                false
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_deserialize(
    store: *mut wasm_store_t,
    bytes: *const wasm_byte_vec_t,
) -> *mut wasm_ref_t {
    // SAFETY: the same contract.
    unsafe { wasm_module_new(store, bytes) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_serialize(m: *const wasm_ref_t, out: *mut wasm_byte_vec_t) {
    guard((), || {
        // SAFETY: NULL or a live module (borrowed).
        let bytes = unsafe { module_of(m) }.and_then(artifact_bytes);
        let v = match bytes {
            Ok(b) => CVec::from_vec(b),
            Err(e) => {
                set_last_error(e);
                CVec::empty()
            }
        };
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { write_out(out, v) };
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_imports(
    m: *const wasm_ref_t,
    out: *mut CVec<*mut wasm_importtype_t>,
) {
    guard((), || {
        // SAFETY: NULL or a live module (borrowed).
        let items = match unsafe { module_of(m) } {
            Ok(m) => m
                .module
                .imports()
                .map(|i| boxed(wasm_importtype_t::new(i.module, i.name, &i.ty)))
                .collect(),
            Err(e) => {
                set_last_error(e);
                Vec::new()
            }
        };
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { write_out(out, CVec::from_vec(items)) };
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_exports(
    m: *const wasm_ref_t,
    out: *mut CVec<*mut wasm_exporttype_t>,
) {
    guard((), || {
        // SAFETY: NULL or a live module (borrowed).
        let items = match unsafe { module_of(m) } {
            Ok(m) => m
                .module
                .exports()
                .map(|e| boxed(wasm_exporttype_t::new(e.name, &e.ty)))
                .collect(),
            Err(e) => {
                set_last_error(e);
                Vec::new()
            }
        };
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { write_out(out, CVec::from_vec(items)) };
    })
}

/// `wasm_shared_module_t`: a module on its way to another thread's store.
pub struct wasm_shared_module_t {
    module: ModuleObj,
}

// SAFETY: a `Module` is `Send + Sync`; the shared metadata is immutable but for its host
// info, behind a mutex, whose pointer is only handed back to the embedder.
unsafe impl Send for wasm_shared_module_t {}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_share(m: *const wasm_ref_t) -> *mut wasm_shared_module_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live module (borrowed).
        match unsafe { module_of(m) } {
            Ok(m) => boxed(wasm_shared_module_t { module: m.clone() }),
            Err(e) => {
                set_last_error(e);
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_obtain(
    store: *mut wasm_store_t,
    shared: *const wasm_shared_module_t,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or live objects (borrowed).
        let (cell, shared) = match unsafe { (cell_of(store), shared.as_ref()) } {
            (Ok(c), Some(s)) => (c, s),
            _ => {
                set_last_error("wasm_module_obtain: NULL store or shared module");
                return std::ptr::null_mut();
            }
        };
        if !Engine::same(shared.module.module.engine(), &cell.engine.engine) {
            set_last_error("wasm_module_obtain: the module was loaded by another engine");
            return std::ptr::null_mut();
        }
        module_ptr(shared.module.clone())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_shared_module_delete(shared: *mut wasm_shared_module_t) {
    guard((), || {
        // SAFETY: NULL or an owned shared module, given back by its owner.
        drop(unsafe { unbox(shared) });
    })
}

// ---------------------------------------------------------------------------------------
// precast.h

/// The engine of a C handle.
///
/// # Safety
/// `engine` is NULL or a live engine.
unsafe fn engine_of<'a>(engine: *const wasm_engine_t) -> Result<&'a EngineObj, String> {
    // SAFETY: per this function's contract.
    unsafe { engine.as_ref() }
        .map(|e| &*e.inner)
        .ok_or_else(|| "the engine is NULL".into())
}

/// Writes a loaded module (or NULL) to `out` and returns the error.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn finish(
    r: Result<ModuleObj, String>,
    out: *mut *mut wasm_ref_t,
) -> *mut crate::precast_error_t {
    let (ptr, err) = match r {
        Ok(m) => (module_ptr(m), std::ptr::null_mut()),
        Err(e) => (std::ptr::null_mut(), error_ptr(e)),
    };
    if out.is_null() {
        // SAFETY: a module we just made and nobody else has.
        drop(unsafe { unbox(ptr) });
    } else {
        // SAFETY: non-null and writable per this function's contract.
        unsafe { out.write(ptr) };
    }
    err
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_module_from_linked(
    engine: *mut wasm_engine_t,
    linked: *const LinkedModule,
    out: *mut *mut wasm_ref_t,
) -> *mut crate::precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live engine.
            let engine = unsafe { engine_of(engine) }?;
            check_policy(engine)?;
            if linked.is_null() {
                return Err("the linked module descriptor is NULL".into());
            }
            if !(linked as usize).is_multiple_of(std::mem::align_of::<LinkedModule>()) {
                return Err("the linked module descriptor is misaligned: pass \
                    PRECAST_LINKED_MODULE(NAME)"
                    .into());
            }
            // SAFETY: per precast.h, `linked` is the descriptor symbol `precast_module_NAME`
            // of a linkable object in this executable: static, immutable data that lives as
            // long as the program. `Module::from_linked` checks its magic and layout version
            // before reading anything else.
            let linked: &'static LinkedModule = unsafe { &*linked };
            let module = Module::from_linked(&engine.engine, linked).map_err(|e| e.to_string())?;
            if engine.verification == Verification::Full {
                module.verify_integrity().map_err(|e| e.to_string())?;
            }
            Ok(ModuleObj::new(module, Source::Linked))
        })();
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { finish(r, out) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_module_from_file(
    engine: *mut wasm_engine_t,
    path: *const c_char,
    out: *mut *mut wasm_ref_t,
) -> *mut crate::precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live engine.
            let engine = unsafe { engine_of(engine) }?;
            // SAFETY: NULL or a NUL-terminated string, per the header.
            let path = unsafe { c_str(path, "the path") }?;
            load_file(engine, path)
        })();
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { finish(r, out) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_module_deserialize(
    engine: *mut wasm_engine_t,
    bytes: *const wasm_byte_vec_t,
    out: *mut *mut wasm_ref_t,
) -> *mut crate::precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live engine.
            let engine = unsafe { engine_of(engine) }?;
            // SAFETY: NULL or a valid byte vector.
            let bytes = unsafe { bytes_of(bytes) }?;
            load_bytes(engine, bytes)
        })();
        // SAFETY: `out` is NULL or writable per the header.
        unsafe { finish(r, out) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_module_verify_integrity(
    m: *const wasm_ref_t,
) -> *mut crate::precast_error_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live module (borrowed).
        let r = unsafe { module_of(m) }
            .and_then(|m| m.module.verify_integrity().map_err(|e| e.to_string()));
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_module_name(m: *const wasm_ref_t) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live module (borrowed; the name lives as long).
        match unsafe { module_of(m) } {
            Ok(m) => m
                .meta
                .name
                .as_ref()
                .map_or(std::ptr::null(), |n| n.as_ptr()),
            Err(_) => std::ptr::null(),
        }
    })
}
