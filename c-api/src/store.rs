//! `wasm_config_t`, `wasm_engine_t` and `wasm_store_t`, and how the rest of the library
//! reaches a store.
//!
//! A store is reference counted ([`StoreCell`] in an `Rc`): the C handle and every object
//! bound to the store hold a count, so the store is freed when the last of them is deleted
//! and no handle can outlive it.
//!
//! While a host function runs, its `Caller` is the only way to the store (the `Store` is
//! borrowed by the call in progress): [`StoreCell::with`] then hands out the innermost
//! caller instead of the store, so calls from a host callback back into the API (reading
//! memory, calling another function) never make a second mutable reference to the store.

use crate::error::set_last_error;
use crate::refs::{HostInfo, RefInner, wasm_ref_t};
use crate::{boxed, guard, unbox};
use precast_loader::{AsStoreMut, Caller, Config, Engine, Extern, Func, Instance, Linker, Store};
use precast_wasi::{OutputBuffer, WasiCtx};
use std::cell::{OnceCell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

/// How much of an artifact is verified at load (`precast_verification_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verification {
    Full,
    Fast,
    Unchecked,
}

/// `wasm_config_t`.
pub struct wasm_config_t {
    pub(crate) config: Config,
    pub(crate) verification: Verification,
    pub(crate) require_signatures: bool,
}

/// An engine and the C API's settings for it.
pub(crate) struct EngineObj {
    pub engine: Engine,
    pub verification: Verification,
    pub require_signatures: bool,
}

/// `wasm_engine_t`.
pub struct wasm_engine_t {
    pub(crate) inner: Arc<EngineObj>,
}

/// The data of every store of the C API.
pub(crate) struct StoreData {
    /// The store's own cell (for host functions, which receive only a `Caller`).
    pub cell: Weak<StoreCell>,
    /// The WASI context (`precast_store_set_wasi`); an empty one is made on first use.
    pub wasi: Option<WasiCtx>,
    /// The store's limits (`precast_store_limiter`), enforced once that is called.
    pub limits: precast_loader::StoreLimits,
}

/// The loader's store type for the C API.
pub(crate) type CStore = Store<StoreData>;
/// A store access: the store, or the caller of the host function running.
pub(crate) type StoreAccess<'a> = dyn AsStoreMut<Data = StoreData> + 'a;

/// An entity host info can be attached to (`wasm_*_set_host_info`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    Extern(Extern),
    Instance(Instance),
}

/// A value passed to wasm as an `externref`, kept for the store's lifetime.
#[derive(Clone)]
pub(crate) enum Stored {
    /// An entity of this store (kept without a count on the store, which would be a cycle).
    Extern(Extern),
    Instance(Instance),
    /// Anything else, as its reference.
    Other(RefInner),
}

/// A store and what the C API keeps with it.
pub(crate) struct StoreCell {
    // Field order is drop order: the store (and the host functions it owns, whose
    // environments are finalized with them) goes first, host info finalizers run last.
    store: UnsafeCell<CStore>,
    /// Callers of the host functions running on this store, innermost last.
    callers: RefCell<Vec<*mut Caller<'static, StoreData>>>,
    pub engine: Arc<EngineObj>,
    /// Values passed to wasm as `externref`s (the loader holds their index).
    externrefs: RefCell<Vec<Stored>>,
    /// Index of the `externref`s that have a pointer identity (modules, traps, foreign
    /// objects), by that pointer.
    externref_ids: RefCell<HashMap<usize, u64>>,
    /// Captured WASI stdout and stderr.
    pub wasi_output: RefCell<(Option<OutputBuffer>, Option<OutputBuffer>)>,
    /// A linker with WASI, made on first use (`precast_instance_new_with_wasi`).
    pub wasi_linker: OnceCell<Linker<StoreData>>,
    /// Host info of the store's entities; finalized when the store is freed.
    host_infos: RefCell<Vec<(Entity, HostInfo)>>,
}

impl StoreCell {
    fn new(engine: Arc<EngineObj>) -> Rc<StoreCell> {
        Rc::new_cyclic(|weak| StoreCell {
            store: UnsafeCell::new(Store::new(
                &engine.engine,
                StoreData {
                    cell: weak.clone(),
                    wasi: None,
                    limits: precast_loader::StoreLimits::default(),
                },
            )),
            callers: RefCell::new(Vec::new()),
            engine,
            externrefs: RefCell::new(Vec::new()),
            externref_ids: RefCell::new(HashMap::new()),
            wasi_output: RefCell::new((None, None)),
            wasi_linker: OnceCell::new(),
            host_infos: RefCell::new(Vec::new()),
        })
    }

    /// Runs `f` with access to the store: the innermost running host function's caller,
    /// else the store itself.
    ///
    /// `f` must not call `with` (or [`StoreCell::with_store`]) on this store again; calls
    /// into wasm from `f` may (host functions push their caller first).
    pub fn with<R>(&self, f: impl FnOnce(&mut StoreAccess<'_>) -> R) -> R {
        let top = self.callers.borrow().last().copied();
        match top {
            // SAFETY: the pointer was pushed by a host function that is running (below us
            // on this thread's stack), which does not touch its caller until it pops it;
            // nothing else holds a reference to it meanwhile (see `with`'s contract).
            Some(caller) => f(unsafe { &mut *caller }),
            // SAFETY: no host function of this store is running, so no caller holds the
            // store; `with` is not reentered (its contract), so this is the only reference.
            None => f(unsafe { &mut *self.store.get() }),
        }
    }

    /// Runs `f` with the store itself, which is only possible when no host function of the
    /// store is running (the loader's linker needs the `Store`).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut CStore) -> R) -> Result<R, String> {
        if !self.callers.borrow().is_empty() {
            return Err(
                "this operation cannot be done from inside a host function of the same store"
                    .into(),
            );
        }
        // SAFETY: no caller holds the store (none is running) and `with`/`with_store` are
        // not reentered, so this is the only reference.
        Ok(f(unsafe { &mut *self.store.get() }))
    }

    /// Runs `f` with the store's data.
    pub fn with_data<R>(&self, f: impl FnOnce(&mut StoreData) -> R) -> R {
        let top = self.callers.borrow().last().copied();
        match top {
            // SAFETY: as in `with`.
            Some(caller) => f(unsafe { (*caller).data_mut() }),
            // SAFETY: as in `with`.
            None => f(unsafe { (*self.store.get()).data_mut() }),
        }
    }

    /// Makes `caller` the store access until [`StoreCell::pop_caller`].
    pub fn push_caller(&self, caller: &mut Caller<'_, StoreData>) {
        let p = (caller as *mut Caller<'_, StoreData>).cast::<Caller<'static, StoreData>>();
        self.callers.borrow_mut().push(p);
    }

    /// Undoes the last [`StoreCell::push_caller`].
    pub fn pop_caller(&self) {
        self.callers.borrow_mut().pop();
    }

    /// The id standing for `r` as an `externref` in this store.
    pub fn externref_id(self: &Rc<StoreCell>, r: &RefInner) -> Result<u64, String> {
        let stored = match r {
            RefInner::Extern { store, ext } => {
                if !Rc::ptr_eq(store, self) {
                    return Err(OTHER_STORE.into());
                }
                Stored::Extern(*ext)
            }
            RefInner::Instance { store, instance } => {
                if !Rc::ptr_eq(store, self) {
                    return Err(OTHER_STORE.into());
                }
                Stored::Instance(*instance)
            }
            other => Stored::Other(other.clone()),
        };
        let identity = match &stored {
            Stored::Other(r) => r.identity(),
            _ => None,
        };
        if let Some(key) = identity
            && let Some(&id) = self.externref_ids.borrow().get(&key)
        {
            return Ok(id);
        }
        let mut refs = self.externrefs.borrow_mut();
        if identity.is_none()
            && let Some(i) = refs.iter().position(|s| match (s, &stored) {
                (Stored::Extern(a), Stored::Extern(b)) => a == b,
                (Stored::Instance(a), Stored::Instance(b)) => a == b,
                _ => false,
            })
        {
            return Ok(i as u64);
        }
        let id = refs.len() as u64;
        refs.push(stored);
        if let Some(key) = identity {
            self.externref_ids.borrow_mut().insert(key, id);
        }
        Ok(id)
    }

    /// The reference an `externref` id stands for (a new handle).
    pub fn externref(self: &Rc<StoreCell>, id: u64) -> Option<RefInner> {
        let refs = self.externrefs.borrow();
        Some(match refs.get(usize::try_from(id).ok()?)? {
            Stored::Extern(ext) => RefInner::Extern {
                store: self.clone(),
                ext: *ext,
            },
            Stored::Instance(instance) => RefInner::Instance {
                store: self.clone(),
                instance: *instance,
            },
            Stored::Other(r) => r.clone(),
        })
    }

    /// The host info of `entity` (NULL when none was set).
    pub fn host_info(&self, entity: Entity) -> *mut std::ffi::c_void {
        self.host_infos
            .borrow()
            .iter()
            .find(|(e, _)| *e == entity)
            .map_or(std::ptr::null_mut(), |(_, h)| h.data)
    }

    /// Sets the host info of `entity`.
    pub fn set_host_info(&self, entity: Entity, info: HostInfo) {
        let old = {
            let mut infos = self.host_infos.borrow_mut();
            match infos.iter_mut().find(|(e, _)| *e == entity) {
                Some((_, h)) => Some(std::mem::replace(h, info)),
                None => {
                    infos.push((entity, info));
                    None
                }
            }
        };
        // The replaced info is finalized outside the borrow (its finalizer is C code).
        if let Some(old) = old {
            old.replaced_by(self.host_info(entity));
        }
    }
}

const OTHER_STORE: &str = "a reference to an object of another store cannot be used here";

/// `wasm_store_t`.
pub struct wasm_store_t {
    pub(crate) cell: Rc<StoreCell>,
}

/// The store of a C handle.
///
/// # Safety
/// `store` is NULL or a live store handle.
pub(crate) unsafe fn cell_of(store: *const wasm_store_t) -> Result<Rc<StoreCell>, String> {
    // SAFETY: per this function's contract.
    match unsafe { store.as_ref() } {
        Some(s) => Ok(s.cell.clone()),
        None => Err("the store is NULL".into()),
    }
}

/// A new handle for `func` of `store`.
pub(crate) fn func_ref(store: &Rc<StoreCell>, func: Func) -> *mut wasm_ref_t {
    boxed(wasm_ref_t::new(RefInner::Extern {
        store: store.clone(),
        ext: Extern::Func(func),
    }))
}

// ---------------------------------------------------------------------------------------
// Config, engine, store.

#[unsafe(no_mangle)]
pub extern "C" fn wasm_config_new() -> *mut wasm_config_t {
    guard(std::ptr::null_mut(), || {
        boxed(wasm_config_t {
            config: Config::default(),
            verification: Verification::Fast,
            require_signatures: false,
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_config_delete(config: *mut wasm_config_t) {
    guard((), || {
        // SAFETY: NULL or an owned config, given back by its owner.
        drop(unsafe { unbox(config) });
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn wasm_engine_new() -> *mut wasm_engine_t {
    // SAFETY: NULL is allowed (the default configuration).
    unsafe { wasm_engine_new_with_config(std::ptr::null_mut()) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_engine_new_with_config(
    config: *mut wasm_config_t,
) -> *mut wasm_engine_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or an owned config, whose ownership passes to us.
        let config = unsafe { unbox(config) };
        let (config, verification, require_signatures) = match config {
            Some(c) => (c.config, c.verification, c.require_signatures),
            None => (Config::default(), Verification::Fast, false),
        };
        match Engine::try_new(&config) {
            Ok(engine) => boxed(wasm_engine_t {
                inner: Arc::new(EngineObj {
                    engine,
                    verification,
                    require_signatures,
                }),
            }),
            Err(e) => {
                set_last_error(format!("cannot create the engine: {e}"));
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_engine_delete(engine: *mut wasm_engine_t) {
    guard((), || {
        // SAFETY: NULL or an owned engine, given back by its owner (stores and modules
        // keep their own counts on it).
        drop(unsafe { unbox(engine) });
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_store_new(engine: *mut wasm_engine_t) -> *mut wasm_store_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live engine (borrowed).
        match unsafe { engine.as_ref() } {
            Some(e) => boxed(wasm_store_t {
                cell: StoreCell::new(e.inner.clone()),
            }),
            None => {
                set_last_error("wasm_store_new: the engine is NULL");
                std::ptr::null_mut()
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_store_delete(store: *mut wasm_store_t) {
    guard((), || {
        // SAFETY: NULL or an owned store handle, given back by its owner. The store itself
        // is freed when the objects bound to it are deleted too.
        drop(unsafe { unbox(store) });
    })
}
