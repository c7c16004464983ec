//! precast.h's containment of guests: the engine's epoch, a store's epoch deadline and fuel
//! (for code compiled with `precast compile --epoch-interruption` / `--consume-fuel`; the
//! engine settings are in [`crate::config`]), and a store's resource limits.
//!
//! The store functions reach the store through [`StoreCell::with`](crate::store::StoreCell):
//! from inside a host function of the store, through its caller, so a host function may
//! refuel the guest or move its deadline without a second mutable reference to the store.

use crate::error::{result_ptr, set_last_error};
use crate::store::{EngineObj, cell_of, wasm_engine_t, wasm_store_t};
use crate::{guard, precast_error_t};
use precast_loader::{
    AsStore, DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, StoreLimits,
};

// `precast_engine_increment_epoch` may run on any thread while others use the engine: the
// engine behind a handle is shared, never mutated through it, and must be thread-safe.
const _: () = {
    const fn thread_safe<T: Send + Sync>() {}
    thread_safe::<EngineObj>();
};

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_engine_increment_epoch(engine: *mut wasm_engine_t) {
    guard((), || {
        // SAFETY: NULL or a live engine (borrowed), per the header. Any thread may call
        // this: the handle is only read (shared `&`, no thread mutates a live handle; its
        // owner deletes it only when no call is using it, per the header) and `EngineObj`
        // is `Sync` (checked above); the epoch is an atomic add.
        match unsafe { engine.as_ref() } {
            Some(e) => e.inner.engine.increment_epoch(),
            None => set_last_error("precast_engine_increment_epoch: the engine is NULL"),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_store_set_epoch_deadline(store: *mut wasm_store_t, ticks: u64) {
    guard((), || {
        // SAFETY: NULL or a live store (borrowed).
        match unsafe { cell_of(store) } {
            Ok(cell) => cell.with(|s| s.as_store_mut().set_epoch_deadline(ticks)),
            Err(e) => set_last_error(format!("precast_store_set_epoch_deadline: {e}")),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_store_set_fuel(
    store: *mut wasm_store_t,
    fuel: u64,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live store (borrowed).
            let cell = unsafe { cell_of(store) }?;
            cell.with(|s| s.as_store_mut().set_fuel(fuel))
                .map_err(|e| e.to_string())
        })();
        result_ptr(r)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_store_get_fuel(
    store: *const wasm_store_t,
    out: *mut u64,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live store (borrowed).
            let cell = unsafe { cell_of(store) }?;
            cell.with(|s| s.as_store().get_fuel())
                .map_err(|e| e.to_string())
        })();
        if !out.is_null() {
            // SAFETY: non-null and writable per the header (0 on failure).
            unsafe { out.write(*r.as_ref().unwrap_or(&0)) };
        }
        result_ptr(r.map(|_| ()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn precast_store_limiter(
    store: *mut wasm_store_t,
    memory_size: i64,
    table_elements: i64,
    instances: i64,
    tables: i64,
    memories: i64,
) -> *mut precast_error_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or a live store (borrowed).
            let cell = unsafe { cell_of(store) }?;
            let size = |v: i64| u64::try_from(v).ok();
            let count = |v: i64, default: usize| usize::try_from(v).unwrap_or(default);
            let mut limits = StoreLimits::new()
                .instances(count(instances, DEFAULT_INSTANCE_LIMIT))
                .tables(count(tables, DEFAULT_TABLE_LIMIT))
                .memories(count(memories, DEFAULT_MEMORY_LIMIT));
            limits.memory_size = size(memory_size);
            limits.table_elements = size(table_elements);
            cell.with_store(|s| {
                s.data_mut().limits = limits;
                s.limiter(|data| &mut data.limits);
            })
        })();
        result_ptr(r)
    })
}
