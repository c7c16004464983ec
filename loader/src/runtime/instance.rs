//! Instances as the runtime keeps them ([`InstanceData`], which the VMContext's instance
//! pointer points to), the per-module instantiation plan computed at load ([`plan`]), and
//! instantiation itself ([`instantiate`]): the VMContext, imports, memories, globals,
//! tables, element and data segments, from imports the API has resolved and checked.

use crate::platform::Reservation;
use crate::platform::memory::LinearMemory;
use crate::platform::pool::Pool;
use crate::prelude::*;
use crate::runtime::builtins;
use crate::runtime::error::{Error, LoadError, api};
use crate::runtime::memory::{MemoryEntry, MemoryStorage, fresh_memory};
use crate::runtime::module::LoadedModule;
use crate::runtime::store::{Entities, GlobalEntry, Owned, VMStore};
use crate::runtime::table::{TableElements, TableEntry};
use crate::runtime::trap::Trap;
use crate::runtime::types;
use crate::runtime::vm::{
    self, VMContextAlloc, VMFuncRef, VMGlobal, VMMemoryDefinition, VMTableDefinition,
};
use alloc::sync::Arc;
use core::ptr::NonNull;
use precast_format::module::ConstContext;
use precast_format::module::{ConstExpr, DataMode, ElementItems, ElementMode};
use precast_format::{ModuleInfo, TrapCode, VMOffsets, abi, sections};
use smallvec::SmallVec;

/// Runtime state of an instance; the VMContext's instance pointer points here.
pub(crate) struct InstanceData {
    /// Index in the store's instances.
    pub index: usize,
    /// The owning store, as the runtime sees it.
    pub store: *mut dyn VMStore,
    pub module: Arc<LoadedModule>,
    pub vmctx: VMContextAlloc,
    /// Store memory index of each module memory index.
    pub memories: Vec<usize>,
    /// Store table index of each module table index.
    pub tables: Vec<usize>,
    /// Store global index of each module global index.
    pub globals: Vec<usize>,
    /// Items of passive element segments (`None`: dropped, active or declared).
    pub passive_elems: Vec<Option<Vec<usize>>>,
    /// Whether each data segment is dropped.
    pub data_dropped: Vec<bool>,
}

impl InstanceData {
    /// Address of the `VMFuncRef` of function `index`.
    pub fn func_ref_ptr(&self, index: u32) -> Option<NonNull<VMFuncRef>> {
        if index as usize >= self.module.info().functions.len() {
            return None;
        }
        NonNull::new(
            self.vmctx
                .field::<VMFuncRef>(self.module.prepared().offsets.func_ref(index))?,
        )
    }
}

/// Const-expression context over a partially initialized instance.
struct Ctx<'a> {
    store: &'a Entities,
    inst: &'a InstanceData,
}

impl ConstContext for Ctx<'_> {
    fn global(&self, index: u32) -> Option<u128> {
        let e = self
            .store
            .globals
            .get(*self.inst.globals.get(index as usize)?)?;
        // SAFETY: global slots are owned by the store and 16 bytes long.
        Some(u128::from_le_bytes(unsafe { (*e.ptr).0 }))
    }

    fn func_ref(&self, index: u32) -> Option<usize> {
        self.inst.func_ref_ptr(index).map(|p| p.as_ptr() as usize)
    }
}

fn eval(store: &Entities, inst: &InstanceData, expr: &ConstExpr) -> Result<u128, Error> {
    expr.eval(&Ctx { store, inst }).map_err(|reason| {
        LoadError::Malformed {
            section: sections::INFO,
            reason,
        }
        .into()
    })
}

/// A VMContext field outside the VMContext: the layout and the module disagree.
pub(crate) fn layout_error() -> Error {
    Error::Load(LoadError::VMOffsets(
        "a VMContext field lies outside the VMContext".into(),
    ))
}

/// Per-module instantiation data computed once (see [`Prepared`](crate::runtime::module::Prepared)).
pub(crate) struct Plan {
    pub template: Box<[u8]>,
    pub const_globals: Box<[bool]>,
    pub table_images: Box<[Option<Box<[u32]>>]>,
    pub elem_in_image: Box<[bool]>,
}

/// Function references evaluate to `index + 1` (0 is null), globals to nothing.
struct FuncIndexContext;

impl ConstContext for FuncIndexContext {
    fn global(&self, _: u32) -> Option<u128> {
        None
    }
    fn func_ref(&self, index: u32) -> Option<usize> {
        Some(index as usize + 1)
    }
}

/// Largest table that gets a precomputed image.
const MAX_TABLE_IMAGE: u64 = 1 << 20;

/// Computes the VMContext template and the table images of a module. `func_ptr` gives the
/// code address of a defined function.
pub(crate) fn plan(
    info: &ModuleInfo,
    offsets: &VMOffsets,
    type_ids: &[u32],
    func_ptr: impl Fn(usize) -> Option<*const u8>,
) -> Result<Plan, LoadError> {
    let bad = |reason: String| LoadError::Malformed {
        section: sections::INFO,
        reason,
    };
    let outside = || LoadError::VMOffsets("a VMContext field lies outside the VMContext".into());
    let mut template = vec![0u8; (offsets.size as usize).max(16)];
    let mut put = |offset: u32, bytes: &[u8]| -> Result<(), LoadError> {
        let at = offset as usize;
        template
            .get_mut(at..at + bytes.len())
            .ok_or_else(outside)?
            .copy_from_slice(bytes);
        Ok(())
    };
    put(0, &vm::VMCTX_MAGIC.to_le_bytes())?;
    put(
        offsets.builtins,
        &(builtins::table_ptr() as usize).to_le_bytes(),
    )?;
    put(
        offsets.type_ids,
        &(type_ids.as_ptr() as usize).to_le_bytes(),
    )?;
    let p = usize::from(vm::POINTER_SIZE);
    for i in info.num_imported_funcs..info.functions.len() as u32 {
        let defined = (i - info.num_imported_funcs) as usize;
        let func = func_ptr(defined).ok_or_else(|| LoadError::Malformed {
            section: sections::FUNCS,
            reason: format!("no code for function {i}"),
        })?;
        let ty = info.functions.get(i as usize).copied().unwrap_or(0);
        let type_id = type_ids.get(ty as usize).copied().unwrap_or(u32::MAX);
        let at = offsets.func_ref(i);
        put(at, &(func as usize).to_le_bytes())?;
        put(at + 2 * p as u32, &type_id.to_le_bytes())?;
    }
    let defined_globals =
        &info.globals[(info.num_imported_globals as usize).min(info.globals.len())..];
    let mut const_globals = Vec::with_capacity(defined_globals.len());
    for (k, g) in defined_globals.iter().enumerate() {
        let value = g.init.as_ref().and_then(|e| e.constant());
        if let Some(v) = value {
            put(offsets.defined_global(k as u32), &v.to_le_bytes())?;
        }
        const_globals.push(value.is_some());
    }

    // Table images: constant initializer, every active segment constant and in bounds.
    let defined_tables = (info.num_imported_tables as usize).min(info.tables.len());
    let mut table_images: Vec<Option<Vec<u32>>> = info.tables[defined_tables..]
        .iter()
        .map(|t| {
            if !t.ty.element.is_func() || t.ty.minimum > MAX_TABLE_IMAGE {
                return None;
            }
            let init = match &t.init {
                None => 0,
                Some(e) => e.eval(&FuncIndexContext).ok()?,
            };
            let init = u32::try_from(init).ok()?.wrapping_sub(1);
            Some(vec![init; t.ty.minimum as usize])
        })
        .collect();
    let mut elem_in_image = vec![false; info.elements.len()];
    // First pass: tables with a non-constant segment lose their image.
    let mut segment_values: Vec<Option<(u64, Vec<u32>)>> = Vec::with_capacity(info.elements.len());
    for seg in &info.elements {
        let ElementMode::Active { table, offset } = &seg.mode else {
            segment_values.push(None);
            continue;
        };
        let Some(k) = (*table as usize).checked_sub(defined_tables) else {
            segment_values.push(None);
            continue;
        };
        let table64 = info
            .tables
            .get(*table as usize)
            .is_some_and(|t| t.ty.table64);
        let start = offset.constant().map(|raw| {
            if table64 {
                raw as u64
            } else {
                u64::from(raw as u32)
            }
        });
        let items: Option<Vec<u32>> = match &seg.items {
            ElementItems::Funcs(fs) => Some(fs.clone()),
            ElementItems::Exprs(es) => es
                .iter()
                .map(|e| {
                    e.eval(&FuncIndexContext)
                        .ok()
                        .and_then(|v| u32::try_from(v).ok())
                        .map(|v| v.wrapping_sub(1))
                })
                .collect(),
        };
        let fits = |img: &Vec<u32>, start: u64, n: usize| {
            start
                .checked_add(n as u64)
                .is_some_and(|end| end <= img.len() as u64)
        };
        match (start, items, table_images.get(k)) {
            (Some(start), Some(items), Some(Some(img))) if fits(img, start, items.len()) => {
                segment_values.push(Some((start, items)));
            }
            _ => {
                if let Some(img) = table_images.get_mut(k) {
                    *img = None;
                }
                segment_values.push(None);
            }
        }
    }
    for (i, seg) in info.elements.iter().enumerate() {
        let (ElementMode::Active { table, .. }, Some((start, items))) =
            (&seg.mode, &segment_values[i])
        else {
            continue;
        };
        let k = *table as usize - defined_tables;
        if let Some(Some(img)) = table_images.get_mut(k) {
            let start = *start as usize;
            img[start..start + items.len()].copy_from_slice(items);
            elem_in_image[i] = true;
        }
    }
    let n = info.functions.len() as u32;
    for img in table_images.iter().flatten() {
        if let Some(f) = img.iter().find(|&&f| f != u32::MAX && f >= n) {
            return Err(bad(format!("table image names function {f}")));
        }
    }
    Ok(Plan {
        template: template.into_boxed_slice(),
        const_globals: const_globals.into_boxed_slice(),
        table_images: table_images
            .into_iter()
            .map(|i| i.map(Vec::into_boxed_slice))
            .collect(),
        elem_in_image: elem_in_image.into_boxed_slice(),
    })
}

/// An instantiation's imports, resolved and type-checked by the API, in the module's import
/// order per kind: the function references to call, and store indices of the rest.
/// The lists live inline up to a few entries: instantiating a typical module allocates
/// nothing for them.
pub(crate) struct Imports {
    pub funcs: SmallVec<[VMFuncRef; 8]>,
    pub memories: SmallVec<[usize; 2]>,
    pub tables: SmallVec<[usize; 2]>,
    pub globals: SmallVec<[usize; 4]>,
}

/// Where an instance's VMContext, memories and tables come from.
pub(crate) struct Allocator<'a> {
    /// The instance pool, for VMContexts and tables (`None`: the heap).
    pub pool: Option<&'a Arc<Pool>>,
    /// The pool or reservation cache linear memories come from (`None`: fresh reservations).
    pub memory_source: Option<&'a Arc<Pool>>,
    /// A fresh memory's reservation.
    pub reservation: Reservation,
    /// The most address space a 64-bit memory reserves ([`Reservation::for_memory`]).
    pub memory64_reservation: u64,
}

/// Creates an instance of `module` in `store` with `imports` and initializes it (the start
/// function is the caller's to run); returns its index in the store. From the VMContext's
/// allocation on, the instance belongs to the store, even if initialization fails: element
/// writes into imported tables may already refer to it.
pub(crate) fn instantiate(
    vmstore: &mut (dyn VMStore + 'static),
    module: &Arc<LoadedModule>,
    imports: &Imports,
    alloc: &Allocator<'_>,
) -> Result<usize, Error> {
    let store_ptr: *mut dyn VMStore = vmstore;
    let store = vmstore.entities();
    let prepared = module.prepared();
    let info = &prepared.info;
    if imports.funcs.len() != info.num_imported_funcs as usize
        || imports.memories.len() != info.num_imported_memories as usize
        || imports.tables.len() != info.num_imported_tables as usize
        || imports.globals.len() != info.num_imported_globals as usize
    {
        return api("the resolved imports do not match the module's imports");
    }
    let offsets = prepared.offsets;
    let pool = alloc.pool;
    let defined_funcrefs = offsets.func_ref(info.num_imported_funcs) as usize
        ..offsets.func_ref(info.functions.len() as u32) as usize;
    let vmctx = VMContextAlloc::new(
        &offsets,
        &prepared.template,
        pool,
        defined_funcrefs,
        module.id(),
    )
    .map_err(Error::Resource)?;
    let index = store.instances.len();
    let data = Owned::new(InstanceData {
        index,
        store: store_ptr,
        module: module.clone(),
        vmctx,
        memories: Vec::with_capacity(info.memories.len()),
        tables: Vec::with_capacity(info.tables.len()),
        globals: Vec::with_capacity(info.globals.len()),
        passive_elems: vec![None; info.elements.len()],
        data_dropped: vec![false; info.data.len()],
    });
    let inst_ptr = data.as_ptr();
    store.instances.push(data);
    // SAFETY: the instance is owned by the store (heap, never moves) and nothing else refers
    // to it yet.
    let inst = unsafe { &mut *inst_ptr };
    let w = |ok: bool| if ok { Ok(()) } else { Err(layout_error()) };
    let vmctx_ptr = inst.vmctx.as_ptr();

    // The template holds everything else that does not depend on the instance.
    w(inst.vmctx.write(offsets.store, store.state.as_ptr()))?;
    w(inst.vmctx.write(offsets.instance, inst_ptr))?;
    if module.header().settings.epoch_probe {
        let page = store
            .new_probe_page(vmctx_ptr as usize, module.header().settings.epoch_signal)
            .map_err(Error::Resource)?;
        w(inst.vmctx.write(offsets.epoch_probe, page as *const u8))?;
    }

    // Imports.
    for (n, fr) in imports.funcs.iter().enumerate() {
        w(inst.vmctx.write(offsets.func_ref(n as u32), *fr))?;
    }
    for (n, &m) in imports.memories.iter().enumerate() {
        w(inst
            .vmctx
            .write(offsets.imported_memory(n as u32), store.memory(m)?.def))?;
        inst.memories.push(m);
    }
    for (n, &t) in imports.tables.iter().enumerate() {
        w(inst
            .vmctx
            .write(offsets.imported_table(n as u32), store.table(t)?.def))?;
        inst.tables.push(t);
    }
    for (n, &g) in imports.globals.iter().enumerate() {
        w(inst
            .vmctx
            .write(offsets.imported_global(n as u32), store.global(g)?.ptr))?;
        inst.globals.push(g);
    }

    // Function references of defined functions: code and type come from the template; a
    // pool block last used by this module holds them complete already.
    if !inst.vmctx.funcrefs_complete() {
        let vmctx_at = abi::func_ref::vmctx(vm::POINTER_SIZE);
        let defined = (info.functions.len() as u32).saturating_sub(info.num_imported_funcs);
        w(inst.vmctx.write_strided(
            offsets.func_ref(info.num_imported_funcs) + vmctx_at,
            abi::func_ref::size(vm::POINTER_SIZE),
            defined,
            vmctx_ptr,
        ))?;
        inst.vmctx.set_funcrefs_complete(module.id());
    }

    // Defined memories: the image is mapped copy-on-write from the artifact file, or copied.
    for (k, ty) in info
        .memories
        .iter()
        .enumerate()
        .skip(info.num_imported_memories as usize)
    {
        let image = match info.memory_image(k as u32) {
            Some(img) => Some(module.image_source(img).ok_or_else(layout_error)?),
            None => None,
        };
        let reservation = alloc.reservation.for_memory(ty, alloc.memory64_reservation);
        // A pool's slots are all alike (a 64-bit memory grows to the slot's size there); the
        // reservation cache holds only reservations of the default size.
        let source = alloc
            .memory_source
            .filter(|_| alloc.pool.is_some() || reservation == alloc.reservation);
        let mem = match source {
            Some(pool) => LinearMemory::from_pool(pool, ty, image.as_ref()),
            None => fresh_memory(ty, reservation, alloc.reservation, image.as_ref()),
        }
        .map_err(Error::Resource)?;
        let defined = k as u32 - info.num_imported_memories;
        let def = inst
            .vmctx
            .field::<VMMemoryDefinition>(offsets.defined_memory(defined))
            .ok_or_else(layout_error)?;
        let mut entry = MemoryEntry {
            mem: MemoryStorage::Own(mem),
            ty: *ty,
            def,
            _owned: None,
        };
        entry.sync();
        store.memories.push(entry);
        inst.memories.push(store.memories.len() - 1);
    }

    // Defined globals, in order (initializers may read earlier globals); constant ones are
    // in the template already.
    for (k, g) in info
        .globals
        .iter()
        .skip(info.num_imported_globals as usize)
        .enumerate()
    {
        let slot = inst
            .vmctx
            .field::<VMGlobal>(offsets.defined_global(k as u32))
            .ok_or_else(layout_error)?;
        if !prepared.const_globals.get(k).copied().unwrap_or(false) {
            let value = match &g.init {
                Some(e) => eval(store, inst, e)?,
                None => 0,
            };
            // SAFETY: `field` checked bounds and alignment inside our VMContext.
            unsafe { slot.write(VMGlobal(value.to_le_bytes())) };
        }
        store.globals.push(GlobalEntry {
            ty: types::canon_global(g.ty, module.type_ids()),
            ptr: slot,
            _owned: None,
        });
        inst.globals.push(store.globals.len() - 1);
    }

    // Defined tables: from their precomputed image, or initializer + segments below.
    let func_refs = vmctx_ptr as usize + offsets.func_refs as usize;
    let func_ref_size = abi::func_ref::size(vm::POINTER_SIZE) as usize;
    for (k, t) in info
        .tables
        .iter()
        .skip(info.num_imported_tables as usize)
        .enumerate()
    {
        let image = prepared.table_images.get(k).and_then(|i| i.as_deref());
        let init = match (&t.init, image) {
            (_, Some(_)) | (None, None) => 0,
            (Some(e), None) => eval(store, inst, e)? as usize,
        };
        let mut elems = TableElements::with_storage(&t.ty, init, pool).map_err(Error::Resource)?;
        if let Some(image) = image {
            for (slot, &f) in elems.as_mut_slice().iter_mut().zip(image) {
                *slot = if f == u32::MAX {
                    0
                } else {
                    func_refs + f as usize * func_ref_size
                };
            }
        }
        let def = inst
            .vmctx
            .field::<VMTableDefinition>(offsets.defined_table(k as u32))
            .ok_or_else(layout_error)?;
        let mut entry = TableEntry {
            elems,
            ty: types::canon_table(t.ty, module.type_ids()),
            def,
            _owned: None,
        };
        entry.sync();
        store.tables.push(entry);
        inst.tables.push(store.tables.len() - 1);
    }

    // Element segments: evaluate items, copy active ones, keep passive ones.
    for (i, seg) in info.elements.iter().enumerate() {
        if prepared.elem_in_image.get(i).copied().unwrap_or(false)
            || matches!(seg.mode, ElementMode::Declared)
        {
            continue;
        }
        let items: Vec<usize> = match &seg.items {
            ElementItems::Funcs(fs) => fs
                .iter()
                .map(|&f| {
                    inst.func_ref_ptr(f)
                        .map(|p| p.as_ptr() as usize)
                        .ok_or_else(layout_error)
                })
                .collect::<Result<_, _>>()?,
            ElementItems::Exprs(es) => es
                .iter()
                .map(|e| eval(store, inst, e).map(|v| v as usize))
                .collect::<Result<_, _>>()?,
        };
        match &seg.mode {
            ElementMode::Passive => inst.passive_elems[i] = Some(items),
            ElementMode::Declared => {}
            ElementMode::Active { table, offset } => {
                let raw = eval(store, inst, offset)?;
                let t = *inst.tables.get(*table as usize).ok_or_else(layout_error)?;
                let entry = store.table_mut(t)?;
                let start = if entry.ty.table64 {
                    raw as u64
                } else {
                    u64::from(raw as u32)
                };
                match entry.elems.range_mut(start, items.len() as u64) {
                    Some(dst) => dst.copy_from_slice(&items),
                    None => return Err(Trap::new(TrapCode::TableOutOfBounds, Vec::new()).into()),
                }
            }
        }
    }

    // Active data segments (those covered by a memory image are applied already).
    for (i, seg) in info.data.iter().enumerate() {
        let DataMode::Active { memory, offset } = &seg.mode else {
            continue;
        };
        if info.memory_image(*memory).is_some() {
            inst.data_dropped[i] = true;
            continue;
        }
        let raw = eval(store, inst, offset)?;
        let m = *inst
            .memories
            .get(*memory as usize)
            .ok_or_else(layout_error)?;
        let entry = store.memory_mut(m)?;
        let start = if entry.ty.memory64 {
            raw as u64
        } else {
            u64::from(raw as u32)
        };
        let bytes = module.data_bytes(seg);
        // A shared memory's bytes may be in use by other threads: written atomically.
        let mut view = entry.mem.view_mut();
        match usize::try_from(start).ok().filter(|&s| {
            s.checked_add(bytes.len())
                .is_some_and(|end| end <= view.len())
        }) {
            Some(at) => view.write(at, bytes),
            None => return Err(Trap::new(TrapCode::MemoryOutOfBounds, Vec::new()).into()),
        }
        inst.data_dropped[i] = true;
    }

    Ok(index)
}
