//! Globals, tables, memories, and the extern view of all four entity kinds.

use crate::error::set_last_error;
use crate::refs::{
    RefInner, inner, is_func, is_global, is_memory, is_table, ref_casts, wasm_ref_t,
};
use crate::store::{StoreCell, cell_of, wasm_store_t};
use crate::types::{wasm_externtype_t, wasm_globaltype_t, wasm_memorytype_t, wasm_tabletype_t};
use crate::val::{from_val, ref_to_val, to_val, val_to_ref, wasm_val_t};
use crate::vec::declare_vec;
use crate::{boxed, guard};
use precast_loader::{Extern, Global, Memory, Table};
use std::rc::Rc;

/// The store and entity of a C extern handle.
///
/// # Safety
/// `p` is NULL or a live reference object.
pub(crate) unsafe fn ext_of(p: *const wasm_ref_t) -> Result<(Rc<StoreCell>, Extern), String> {
    // SAFETY: per this function's contract.
    match unsafe { inner(p) } {
        Some(RefInner::Extern { store, ext }) => Ok((store.clone(), *ext)),
        Some(_) => Err("the object is not an extern".into()),
        None => Err("the extern is NULL".into()),
    }
}

/// A new handle for `ext` of `store`.
pub(crate) fn extern_ptr(store: &Rc<StoreCell>, ext: Extern) -> *mut wasm_ref_t {
    boxed(wasm_ref_t::new(RefInner::Extern {
        store: store.clone(),
        ext,
    }))
}

/// Records a failure and returns `fallback`.
fn fail<T>(what: &str, e: impl std::fmt::Display, fallback: T) -> T {
    set_last_error(format!("{what}: {e}"));
    fallback
}

declare_vec!(
    *mut wasm_ref_t,
    wasm_extern_vec_new_empty,
    wasm_extern_vec_new_uninitialized,
    wasm_extern_vec_new,
    wasm_extern_vec_copy,
    wasm_extern_vec_delete
);

ref_casts!(
    is_func,
    wasm_func_as_extern,
    wasm_func_as_extern_const,
    wasm_extern_as_func,
    wasm_extern_as_func_const
);
ref_casts!(
    is_global,
    wasm_global_as_extern,
    wasm_global_as_extern_const,
    wasm_extern_as_global,
    wasm_extern_as_global_const
);
ref_casts!(
    is_table,
    wasm_table_as_extern,
    wasm_table_as_extern_const,
    wasm_extern_as_table,
    wasm_extern_as_table_const
);
ref_casts!(
    is_memory,
    wasm_memory_as_extern,
    wasm_memory_as_extern_const,
    wasm_extern_as_memory,
    wasm_extern_as_memory_const
);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_extern_kind(e: *const wasm_ref_t) -> u8 {
    guard(0, || {
        // SAFETY: NULL or a live extern (borrowed).
        match unsafe { ext_of(e) } {
            Ok((_, Extern::Func(_))) => 0,
            Ok((_, Extern::Global(_))) => 1,
            Ok((_, Extern::Table(_))) => 2,
            Ok((_, Extern::Memory(_))) => 3,
            Err(_) => 0,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_extern_type(e: *const wasm_ref_t) -> *mut wasm_externtype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live extern (borrowed).
        let r = unsafe { ext_of(e) }
            .and_then(|(cell, ext)| cell.with(|s| ext.ty(&s)).map_err(|e| e.to_string()));
        match r {
            Ok(ty) => boxed(wasm_externtype_t::of(&ty)),
            Err(e) => fail("wasm_extern_type", e, std::ptr::null_mut()),
        }
    })
}

// ---------------------------------------------------------------------------------------
// Globals.

///
/// # Safety
/// `p` is NULL or a live reference object.
unsafe fn global_of(p: *const wasm_ref_t) -> Result<(Rc<StoreCell>, Global), String> {
    // SAFETY: per this function's contract.
    match unsafe { ext_of(p) }? {
        (cell, Extern::Global(g)) => Ok((cell, g)),
        _ => Err("the object is not a global".into()),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_new(
    store: *mut wasm_store_t,
    ty: *const wasm_globaltype_t,
    val: *const wasm_val_t,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects, per the header.
            let cell = unsafe { cell_of(store) }?;
            // SAFETY: as above.
            let ty = unsafe { ty.as_ref() }
                .and_then(|t| t.as_global())
                .ok_or("the global type is NULL or not a global type")?;
            // SAFETY: as above.
            let val = unsafe { val.as_ref() }.ok_or("the value is NULL")?;
            // SAFETY: a valid value (borrowed: its reference stays the caller's).
            let v = unsafe { to_val(&cell, val, &ty.content) }?;
            let g = cell
                .with(|s| Global::new(&mut &mut *s, ty, v))
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(extern_ptr(&cell, Extern::Global(g)))
        })();
        r.unwrap_or_else(|e| fail("wasm_global_new", e, std::ptr::null_mut()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_type(g: *const wasm_ref_t) -> *mut wasm_globaltype_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live reference object, per the header.
        let r = unsafe { global_of(g) }
            .and_then(|(cell, g)| cell.with(|s| g.ty(&s)).map_err(|e| e.to_string()));
        match r {
            Ok(ty) => boxed(wasm_externtype_t::global(ty)),
            Err(e) => fail("wasm_global_type", e, std::ptr::null_mut()),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_get(g: *const wasm_ref_t, out: *mut wasm_val_t) {
    guard((), || {
        // SAFETY: NULL or a live reference object, per the header.
        let r = unsafe { global_of(g) }.and_then(|(cell, g)| {
            let v = cell.with(|s| g.get(&s));
            from_val(&cell, &v)
        });
        match r {
            Ok(v) if !out.is_null() => {
                // SAFETY: non-null and writable per the header.
                unsafe { out.write(v) }
            }
            Ok(v) => {
                // Nowhere to put it: the value's reference is freed.
                // SAFETY: a value made here, owned here.
                unsafe { crate::vec::Elem::release(v) }
            }
            Err(e) => fail("wasm_global_get", e, ()),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_set(g: *mut wasm_ref_t, val: *const wasm_val_t) {
    guard((), || {
        // SAFETY: NULL or a live reference object, per the header.
        let r = unsafe { global_of(g) }.and_then(|(cell, g)| {
            // SAFETY: NULL or a valid value (borrowed).
            let val = unsafe { val.as_ref() }.ok_or("the value is NULL")?;
            let ty = cell.with(|s| g.ty(&s)).map_err(|e| e.to_string())?;
            // SAFETY: a valid value (borrowed: its reference stays the caller's).
            let v = unsafe { to_val(&cell, val, &ty.content) }?;
            cell.with(|s| g.set(&mut &mut *s, v))
                .map_err(|e| e.to_string())
        });
        if let Err(e) = r {
            fail("wasm_global_set", e, ())
        }
    })
}

// ---------------------------------------------------------------------------------------
// Tables.

///
/// # Safety
/// `p` is NULL or a live reference object.
unsafe fn table_of(p: *const wasm_ref_t) -> Result<(Rc<StoreCell>, Table), String> {
    // SAFETY: per this function's contract.
    match unsafe { ext_of(p) }? {
        (cell, Extern::Table(t)) => Ok((cell, t)),
        _ => Err("the object is not a table".into()),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_new(
    store: *mut wasm_store_t,
    ty: *const wasm_tabletype_t,
    init: *mut wasm_ref_t,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects, per the header.
            let cell = unsafe { cell_of(store) }?;
            // SAFETY: as above.
            let ty = unsafe { ty.as_ref() }
                .and_then(|t| t.as_table())
                .ok_or("the table type is NULL or not a table type")?;
            // SAFETY: NULL or a live reference (borrowed).
            let init = unsafe { ref_to_val(&cell, init, &ty.element) }?;
            let t = cell
                .with(|s| Table::new(&mut &mut *s, ty, init))
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(extern_ptr(&cell, Extern::Table(t)))
        })();
        r.unwrap_or_else(|e| fail("wasm_table_new", e, std::ptr::null_mut()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_type(t: *const wasm_ref_t) -> *mut wasm_tabletype_t {
    guard(std::ptr::null_mut(), || {
        let r =
            // SAFETY: NULL or a live reference object, per the header.
            unsafe { table_of(t) }.and_then(|(cell, t)| cell.with(|s| t.ty(&s)).map_err(|e| e.to_string()));
        match r {
            Ok(ty) => boxed(wasm_externtype_t::table(ty)),
            Err(e) => fail("wasm_table_type", e, std::ptr::null_mut()),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_get(t: *const wasm_ref_t, index: u32) -> *mut wasm_ref_t {
    // SAFETY: NULL or a live reference object, per the header.
    guard(std::ptr::null_mut(), || match unsafe { table_of(t) } {
        Ok((cell, t)) => match cell.with(|s| t.get(&s, u64::from(index))) {
            Some(v) => val_to_ref(&cell, &v),
            None => fail(
                "wasm_table_get",
                format!("index {index} is out of bounds"),
                std::ptr::null_mut(),
            ),
        },
        Err(e) => fail("wasm_table_get", e, std::ptr::null_mut()),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_set(
    t: *mut wasm_ref_t,
    index: u32,
    r: *mut wasm_ref_t,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live reference object, per the header.
        let res = unsafe { table_of(t) }.and_then(|(cell, t)| {
            let ty = cell.with(|s| t.ty(&s)).map_err(|e| e.to_string())?;
            // SAFETY: NULL or a live reference (borrowed).
            let v = unsafe { ref_to_val(&cell, r, &ty.element) }?;
            cell.with(|s| t.set(&mut &mut *s, u64::from(index), v))
                .map_err(|e| e.to_string())
        });
        res.map_or_else(|e| fail("wasm_table_set", e, false), |()| true)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_size(t: *const wasm_ref_t) -> u32 {
    // SAFETY: NULL or a live reference object, per the header.
    guard(0, || match unsafe { table_of(t) } {
        Ok((cell, t)) => u32::try_from(cell.with(|s| t.size(&s))).unwrap_or(u32::MAX),
        Err(e) => fail("wasm_table_size", e, 0),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_grow(
    t: *mut wasm_ref_t,
    delta: u32,
    init: *mut wasm_ref_t,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live reference object, per the header.
        let res = unsafe { table_of(t) }.and_then(|(cell, t)| {
            let ty = cell.with(|s| t.ty(&s)).map_err(|e| e.to_string())?;
            // SAFETY: NULL or a live reference (borrowed).
            let v = unsafe { ref_to_val(&cell, init, &ty.element) }?;
            cell.with(|s| t.grow(&mut &mut *s, u64::from(delta), v))
                .map_err(|e| e.to_string())
        });
        res.map_or_else(|e| fail("wasm_table_grow", e, false), |_| true)
    })
}

// ---------------------------------------------------------------------------------------
// Memories.

///
/// # Safety
/// `p` is NULL or a live reference object.
unsafe fn memory_of(p: *const wasm_ref_t) -> Result<(Rc<StoreCell>, Memory), String> {
    // SAFETY: per this function's contract.
    match unsafe { ext_of(p) }? {
        (cell, Extern::Memory(m)) => Ok((cell, m)),
        _ => Err("the object is not a memory".into()),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_new(
    store: *mut wasm_store_t,
    ty: *const wasm_memorytype_t,
) -> *mut wasm_ref_t {
    guard(std::ptr::null_mut(), || {
        let r = (|| {
            // SAFETY: NULL or live objects, per the header.
            let cell = unsafe { cell_of(store) }?;
            // SAFETY: as above.
            let ty = unsafe { ty.as_ref() }
                .and_then(|t| t.as_memory())
                .ok_or("the memory type is NULL or not a memory type")?;
            let m = cell
                .with(|s| Memory::new(&mut &mut *s, ty))
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(extern_ptr(&cell, Extern::Memory(m)))
        })();
        r.unwrap_or_else(|e| fail("wasm_memory_new", e, std::ptr::null_mut()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_type(m: *const wasm_ref_t) -> *mut wasm_memorytype_t {
    guard(std::ptr::null_mut(), || {
        let r =
            // SAFETY: NULL or a live reference object, per the header.
            unsafe { memory_of(m) }.and_then(|(cell, m)| cell.with(|s| m.ty(&s)).map_err(|e| e.to_string()));
        match r {
            Ok(ty) => boxed(wasm_externtype_t::memory(ty)),
            Err(e) => fail("wasm_memory_type", e, std::ptr::null_mut()),
        }
    })
}

/// The memory's bytes: valid until the memory grows or its store is freed. A shared
/// memory's bytes may be written by other threads at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_data(m: *mut wasm_ref_t) -> *mut u8 {
    // SAFETY: NULL or a live reference object, per the header.
    guard(std::ptr::null_mut(), || match unsafe { memory_of(m) } {
        Ok((cell, m)) => cell.with(|s| match m.shared(&s) {
            Some(shared) => shared.data().as_ptr().cast::<u8>().cast_mut(),
            None => m.data_mut(&mut &mut *s).as_mut_ptr(),
        }),
        Err(e) => fail("wasm_memory_data", e, std::ptr::null_mut()),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_data_size(m: *const wasm_ref_t) -> usize {
    // SAFETY: NULL or a live reference object, per the header.
    guard(0, || match unsafe { memory_of(m) } {
        Ok((cell, m)) => usize::try_from(cell.with(|s| m.data_size(&s))).unwrap_or(usize::MAX),
        Err(e) => fail("wasm_memory_data_size", e, 0),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_size(m: *const wasm_ref_t) -> u32 {
    // SAFETY: NULL or a live reference object, per the header.
    guard(0, || match unsafe { memory_of(m) } {
        Ok((cell, m)) => u32::try_from(cell.with(|s| m.size(&s))).unwrap_or(u32::MAX),
        Err(e) => fail("wasm_memory_size", e, 0),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_grow(m: *mut wasm_ref_t, delta: u32) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live reference object, per the header.
        let r = unsafe { memory_of(m) }.and_then(|(cell, m)| {
            cell.with(|s| m.grow(&mut &mut *s, u64::from(delta)))
                .map_err(|e| e.to_string())
        });
        r.map_or_else(|e| fail("wasm_memory_grow", e, false), |_| true)
    })
}
