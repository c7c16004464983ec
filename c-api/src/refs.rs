//! References: `wasm_ref_t` and the operations every reference type shares (delete, copy,
//! same, host info, casts), and foreign objects.
//!
//! Every reference type of the standard is [`wasm_ref_t`]: `wasm_func_as_extern`,
//! `wasm_extern_as_ref`, `wasm_ref_as_func`, ... return the same object, or NULL when it is
//! not of the kind asked for.
//!
//! Host info belongs to the referenced entity, not the handle: copies share it. For
//! functions, globals, tables, memories and instances it lives in their store and its
//! finalizer runs when the store is freed; for modules, traps and foreign objects it lives
//! with the object and is finalized when its last handle is deleted. Setting host info again
//! finalizes the previous one (unless it is the same pointer).

use crate::module::ModuleObj;
use crate::store::{Entity, StoreCell, cell_of, wasm_store_t};
use crate::trap::TrapObj;
use crate::{boxed, guard, unbox};
use precast_loader::{Extern, Instance};
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// `wasm_ref_t`, and `wasm_func_t`, `wasm_global_t`, `wasm_table_t`, `wasm_memory_t`,
/// `wasm_extern_t`, `wasm_instance_t`, `wasm_module_t`, `wasm_trap_t`, `wasm_foreign_t`.
pub struct wasm_ref_t {
    pub(crate) inner: RefInner,
}

/// What a reference refers to.
#[derive(Clone)]
pub(crate) enum RefInner {
    /// A function, global, table or memory of a store.
    Extern { store: Rc<StoreCell>, ext: Extern },
    /// An instance of a store.
    Instance {
        store: Rc<StoreCell>,
        instance: Instance,
    },
    /// A loaded module.
    Module(ModuleObj),
    /// A trap.
    Trap(Arc<TrapObj>),
    /// A foreign object.
    Foreign(Arc<ForeignObj>),
}

impl wasm_ref_t {
    pub(crate) fn new(inner: RefInner) -> wasm_ref_t {
        wasm_ref_t { inner }
    }
}

impl Clone for wasm_ref_t {
    fn clone(&self) -> Self {
        wasm_ref_t {
            inner: self.inner.clone(),
        }
    }
}

/// `wasm_foreign_t`'s contents: only its host info.
#[derive(Default)]
pub(crate) struct ForeignObj {
    host_info: SharedHostInfo,
}

/// Host info and its finalizer.
pub(crate) struct HostInfo {
    pub data: *mut c_void,
    pub finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the pointer is the embedder's, never dereferenced here; it is only handed back to
// the embedder and to the embedder's finalizer, which the standard lets run on any thread
// that releases the last reference to a sharable object.
unsafe impl Send for HostInfo {}
// SAFETY: as above; shared access only reads the pointer value.
unsafe impl Sync for HostInfo {}

impl HostInfo {
    /// Drops this info, which `new_data` replaces: its finalizer runs unless the new info is
    /// the same pointer (which would then be freed while in use).
    pub fn replaced_by(self, new_data: *mut c_void) {
        if self.data == new_data {
            std::mem::forget(self);
        }
    }
}

impl Drop for HostInfo {
    fn drop(&mut self) {
        if let Some(f) = self.finalizer {
            // SAFETY: the embedder's finalizer, called once with the data it was set with,
            // as the standard specifies.
            unsafe { f(self.data) };
        }
    }
}

/// Host info shared by the handles of one object.
#[derive(Default)]
pub(crate) struct SharedHostInfo(Mutex<Option<HostInfo>>);

impl SharedHostInfo {
    pub fn get(&self) -> *mut c_void {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref().map_or(std::ptr::null_mut(), |h| h.data)
    }

    pub fn set(&self, info: HostInfo) {
        let data = info.data;
        let old = {
            let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
            g.replace(info)
        };
        // Outside the lock: the finalizer is C code that may use this object.
        if let Some(old) = old {
            old.replaced_by(data);
        }
    }
}

impl RefInner {
    /// A pointer identifying the object, for those compared by identity.
    pub fn identity(&self) -> Option<usize> {
        match self {
            RefInner::Module(m) => Some(m.identity()),
            RefInner::Trap(t) => Some(Arc::as_ptr(t) as usize),
            RefInner::Foreign(f) => Some(Arc::as_ptr(f) as usize),
            _ => None,
        }
    }

    /// Whether both refer to the same object.
    pub fn same(&self, other: &RefInner) -> bool {
        match (self, other) {
            (RefInner::Extern { store: s1, ext: a }, RefInner::Extern { store: s2, ext: b }) => {
                Rc::ptr_eq(s1, s2) && a == b
            }
            (
                RefInner::Instance {
                    store: s1,
                    instance: a,
                },
                RefInner::Instance {
                    store: s2,
                    instance: b,
                },
            ) => Rc::ptr_eq(s1, s2) && a == b,
            (RefInner::Module(a), RefInner::Module(b)) => a.same(b),
            _ => match (self.identity(), other.identity()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    fn host_info(&self) -> *mut c_void {
        match self {
            RefInner::Extern { store, ext } => store.host_info(Entity::Extern(*ext)),
            RefInner::Instance { store, instance } => store.host_info(Entity::Instance(*instance)),
            RefInner::Module(m) => m.host_info().get(),
            RefInner::Trap(t) => t.host_info.get(),
            RefInner::Foreign(f) => f.host_info.get(),
        }
    }

    fn set_host_info(&self, info: HostInfo) {
        match self {
            RefInner::Extern { store, ext } => store.set_host_info(Entity::Extern(*ext), info),
            RefInner::Instance { store, instance } => {
                store.set_host_info(Entity::Instance(*instance), info)
            }
            RefInner::Module(m) => m.host_info().set(info),
            RefInner::Trap(t) => t.host_info.set(info),
            RefInner::Foreign(f) => f.host_info.set(info),
        }
    }
}

/// The object behind a C reference pointer.
///
/// # Safety
/// `p` is NULL or a live reference object of this library, valid for `'a`.
pub(crate) unsafe fn inner<'a>(p: *const wasm_ref_t) -> Option<&'a RefInner> {
    // SAFETY: per this function's contract.
    unsafe { p.as_ref() }.map(|r| &r.inner)
}

// ---------------------------------------------------------------------------------------
// The shared operations.

/// Declares delete, copy, same and the host info functions of a reference type.
macro_rules! ref_base {
    ($delete:ident, $copy:ident, $same:ident, $get:ident, $set:ident, $set_fin:ident) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $delete(p: *mut wasm_ref_t) {
            guard((), || {
                // SAFETY: NULL or an owned reference, given back by its owner.
                drop(unsafe { unbox(p) });
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $copy(p: *const wasm_ref_t) -> *mut wasm_ref_t {
            guard(std::ptr::null_mut(), || {
                // SAFETY: NULL or a live reference (borrowed).
                match unsafe { p.as_ref() } {
                    Some(r) => boxed(r.clone()),
                    None => std::ptr::null_mut(),
                }
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $same(a: *const wasm_ref_t, b: *const wasm_ref_t) -> bool {
            guard(false, || {
                // SAFETY: NULL or live references (borrowed).
                match unsafe { (inner(a), inner(b)) } {
                    (Some(a), Some(b)) => a.same(b),
                    (None, None) => true,
                    _ => false,
                }
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(p: *const wasm_ref_t) -> *mut c_void {
            guard(std::ptr::null_mut(), || {
                // SAFETY: NULL or a live reference (borrowed).
                unsafe { inner(p) }.map_or(std::ptr::null_mut(), |r| r.host_info())
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(p: *mut wasm_ref_t, info: *mut c_void) {
            guard((), || {
                // SAFETY: NULL or a live reference (borrowed).
                if let Some(r) = unsafe { inner(p) } {
                    r.set_host_info(HostInfo {
                        data: info,
                        finalizer: None,
                    });
                }
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set_fin(
            p: *mut wasm_ref_t,
            info: *mut c_void,
            finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
        ) {
            guard((), || {
                // SAFETY: NULL or a live reference (borrowed).
                if let Some(r) = unsafe { inner(p) } {
                    r.set_host_info(HostInfo {
                        data: info,
                        finalizer,
                    });
                }
            })
        }
    };
}

/// Declares the casts between a reference type and `wasm_ref_t`.
macro_rules! ref_casts {
    ($is:expr, $as_ref:ident, $as_ref_const:ident, $ref_as:ident, $ref_as_const:ident) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn $as_ref(p: *mut wasm_ref_t) -> *mut wasm_ref_t {
            p
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn $as_ref_const(p: *const wasm_ref_t) -> *const wasm_ref_t {
            p
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $ref_as(p: *mut wasm_ref_t) -> *mut wasm_ref_t {
            guard(std::ptr::null_mut(), || {
                let is: fn(&RefInner) -> bool = $is;
                // SAFETY: NULL or a live reference (borrowed).
                match unsafe { inner(p) } {
                    Some(r) if is(r) => p,
                    _ => std::ptr::null_mut(),
                }
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $ref_as_const(p: *const wasm_ref_t) -> *const wasm_ref_t {
            guard(std::ptr::null(), || {
                let is: fn(&RefInner) -> bool = $is;
                // SAFETY: NULL or a live reference (borrowed).
                match unsafe { inner(p) } {
                    Some(r) if is(r) => p,
                    _ => std::ptr::null(),
                }
            })
        }
    };
}
pub(crate) use ref_casts;

pub(crate) fn is_func(r: &RefInner) -> bool {
    matches!(
        r,
        RefInner::Extern {
            ext: Extern::Func(_),
            ..
        }
    )
}
pub(crate) fn is_global(r: &RefInner) -> bool {
    matches!(
        r,
        RefInner::Extern {
            ext: Extern::Global(_),
            ..
        }
    )
}
pub(crate) fn is_table(r: &RefInner) -> bool {
    matches!(
        r,
        RefInner::Extern {
            ext: Extern::Table(_),
            ..
        }
    )
}
pub(crate) fn is_memory(r: &RefInner) -> bool {
    matches!(
        r,
        RefInner::Extern {
            ext: Extern::Memory(_),
            ..
        }
    )
}
pub(crate) fn is_extern(r: &RefInner) -> bool {
    matches!(r, RefInner::Extern { .. })
}

ref_base!(
    wasm_ref_delete,
    wasm_ref_copy,
    wasm_ref_same,
    wasm_ref_get_host_info,
    wasm_ref_set_host_info,
    wasm_ref_set_host_info_with_finalizer
);

ref_base!(
    wasm_func_delete,
    wasm_func_copy,
    wasm_func_same,
    wasm_func_get_host_info,
    wasm_func_set_host_info,
    wasm_func_set_host_info_with_finalizer
);
ref_casts!(
    is_func,
    wasm_func_as_ref,
    wasm_func_as_ref_const,
    wasm_ref_as_func,
    wasm_ref_as_func_const
);

ref_base!(
    wasm_global_delete,
    wasm_global_copy,
    wasm_global_same,
    wasm_global_get_host_info,
    wasm_global_set_host_info,
    wasm_global_set_host_info_with_finalizer
);
ref_casts!(
    is_global,
    wasm_global_as_ref,
    wasm_global_as_ref_const,
    wasm_ref_as_global,
    wasm_ref_as_global_const
);

ref_base!(
    wasm_table_delete,
    wasm_table_copy,
    wasm_table_same,
    wasm_table_get_host_info,
    wasm_table_set_host_info,
    wasm_table_set_host_info_with_finalizer
);
ref_casts!(
    is_table,
    wasm_table_as_ref,
    wasm_table_as_ref_const,
    wasm_ref_as_table,
    wasm_ref_as_table_const
);

ref_base!(
    wasm_memory_delete,
    wasm_memory_copy,
    wasm_memory_same,
    wasm_memory_get_host_info,
    wasm_memory_set_host_info,
    wasm_memory_set_host_info_with_finalizer
);
ref_casts!(
    is_memory,
    wasm_memory_as_ref,
    wasm_memory_as_ref_const,
    wasm_ref_as_memory,
    wasm_ref_as_memory_const
);

ref_base!(
    wasm_extern_delete,
    wasm_extern_copy,
    wasm_extern_same,
    wasm_extern_get_host_info,
    wasm_extern_set_host_info,
    wasm_extern_set_host_info_with_finalizer
);
ref_casts!(
    is_extern,
    wasm_extern_as_ref,
    wasm_extern_as_ref_const,
    wasm_ref_as_extern,
    wasm_ref_as_extern_const
);

ref_base!(
    wasm_instance_delete,
    wasm_instance_copy,
    wasm_instance_same,
    wasm_instance_get_host_info,
    wasm_instance_set_host_info,
    wasm_instance_set_host_info_with_finalizer
);
ref_casts!(
    |r| matches!(r, RefInner::Instance { .. }),
    wasm_instance_as_ref,
    wasm_instance_as_ref_const,
    wasm_ref_as_instance,
    wasm_ref_as_instance_const
);

ref_base!(
    wasm_module_delete,
    wasm_module_copy,
    wasm_module_same,
    wasm_module_get_host_info,
    wasm_module_set_host_info,
    wasm_module_set_host_info_with_finalizer
);
ref_casts!(
    |r| matches!(r, RefInner::Module(_)),
    wasm_module_as_ref,
    wasm_module_as_ref_const,
    wasm_ref_as_module,
    wasm_ref_as_module_const
);

ref_base!(
    wasm_trap_delete,
    wasm_trap_copy,
    wasm_trap_same,
    wasm_trap_get_host_info,
    wasm_trap_set_host_info,
    wasm_trap_set_host_info_with_finalizer
);
ref_casts!(
    |r| matches!(r, RefInner::Trap(_)),
    wasm_trap_as_ref,
    wasm_trap_as_ref_const,
    wasm_ref_as_trap,
    wasm_ref_as_trap_const
);

ref_base!(
    wasm_foreign_delete,
    wasm_foreign_copy,
    wasm_foreign_same,
    wasm_foreign_get_host_info,
    wasm_foreign_set_host_info,
    wasm_foreign_set_host_info_with_finalizer
);
ref_casts!(
    |r| matches!(r, RefInner::Foreign(_)),
    wasm_foreign_as_ref,
    wasm_foreign_as_ref_const,
    wasm_ref_as_foreign,
    wasm_ref_as_foreign_const
);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_foreign_new(store: *mut wasm_store_t) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        // A foreign object needs nothing of its store; the store is only checked.
        // SAFETY: NULL or a live store (borrowed).
        match unsafe { cell_of(store) } {
            Ok(_) => boxed(wasm_ref_t::new(RefInner::Foreign(Arc::default()))),
            Err(e) => {
                crate::error::set_last_error(format!("wasm_foreign_new: {e}"));
                std::ptr::null_mut()
            }
        }
    })
}
