//! Instantiation: import checks, VMContext allocation and initialization, segment
//! initialization and the start function; plus [`Instance`] and [`Extern`].

use crate::const_expr::{self, ConstContext};
use crate::engine::Engine;
use crate::error::{Error, LinkError, LoadError, api};
use crate::externals::{Global, Memory, Table};
use crate::func::Func;
use crate::memory_storage::MemoryStorage;
use crate::module::{ExternType, Module};
use crate::platform::memory::LinearMemory;
use crate::prelude::*;
use crate::store::{
    AsStore, AsStoreMut, GlobalEntry, MemoryEntry, Owned, StoreId, StoreOpaque, TableEntry,
};
use crate::table_elements::TableElements;
use crate::trap::Trap;
use crate::types;
use crate::values::func_type_name;
use crate::vm::{self, VMContextAlloc, VMFuncRef, VMGlobal, VMMemoryDefinition, VMTableDefinition};
use core::ptr::NonNull;
use precast_format::module::{
    ConstExpr, DataMode, ElementItems, ElementMode, ExternKind, ImportKind,
};
use precast_format::{ModuleInfo, TrapCode, VMOffsets, abi, sections};

/// An entity that can be imported or exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A memory.
    Memory(Memory),
    /// A table.
    Table(Table),
    /// A global.
    Global(Global),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The entity's current type.
    pub fn ty(&self, store: &impl AsStore) -> Result<ExternType, Error> {
        Ok(match self {
            Extern::Func(f) => ExternType::Func(f.ty(store)?),
            Extern::Memory(m) => ExternType::Memory(m.ty(store)?),
            Extern::Table(t) => ExternType::Table(t.ty(store)?),
            Extern::Global(g) => ExternType::Global(g.ty(store)?),
        })
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Memory(_) => "memory",
            Extern::Table(_) => "table",
            Extern::Global(_) => "global",
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}

impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}

impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}

impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}

/// Loader-side state of an instance; the VMContext's instance pointer points here.
pub(crate) struct InstanceData {
    /// Index in the store's instances.
    pub index: usize,
    /// The owning store.
    pub store: *mut StoreOpaque,
    pub module: Module,
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

/// An instantiated module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    store: StoreId,
    index: usize,
}

impl Instance {
    /// Instantiates `module` with `imports` given in the module's import order.
    pub fn new(
        store: &mut impl AsStoreMut,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance, Error> {
        instantiate(store.as_store_mut(), module, imports)
    }

    pub(crate) fn from_index(store: &StoreOpaque, index: usize) -> Instance {
        Instance {
            store: store.id,
            index,
        }
    }

    /// The export named `name`.
    pub fn get_export(&self, store: &impl AsStore, name: &str) -> Option<Extern> {
        let store = store.as_store();
        store.check(self.store).ok()?;
        let inst = store.instance(self.index).ok()?;
        let e = inst.module.info().export(name)?;
        extern_of(store.id, inst, e.kind, e.index)
    }

    /// All exports, in order.
    pub fn exports(&self, store: &impl AsStore) -> Vec<(String, Extern)> {
        let store = store.as_store();
        let Ok(inst) = store
            .check(self.store)
            .and_then(|()| store.instance(self.index))
        else {
            return Vec::new();
        };
        inst.module
            .info()
            .exports
            .iter()
            .filter_map(|e| Some((e.name.clone(), extern_of(store.id, inst, e.kind, e.index)?)))
            .collect()
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: &impl AsStore, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: &impl AsStore, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: &impl AsStore, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: &impl AsStore, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The instantiated module.
    pub fn module(&self, store: &impl AsStore) -> Option<Module> {
        let store = store.as_store();
        store.check(self.store).ok()?;
        Some(store.instance(self.index).ok()?.module.clone())
    }
}

fn extern_of(store: StoreId, inst: &InstanceData, kind: ExternKind, index: u32) -> Option<Extern> {
    let i = index as usize;
    Some(match kind {
        ExternKind::Func => Extern::Func(Func::from_ptr(store, inst.func_ref_ptr(index)?)),
        ExternKind::Memory => Extern::Memory(Memory {
            store,
            index: *inst.memories.get(i)?,
        }),
        ExternKind::Table => Extern::Table(Table {
            store,
            index: *inst.tables.get(i)?,
        }),
        ExternKind::Global => Extern::Global(Global {
            store,
            index: *inst.globals.get(i)?,
        }),
    })
}

fn limits_reason(
    what: &str,
    have_min: u64,
    have_max: Option<u64>,
    min: u64,
    max: Option<u64>,
) -> Option<String> {
    if have_min < min {
        return Some(format!(
            "{what} has size {have_min}, the import needs at least {min}"
        ));
    }
    match (max, have_max) {
        (Some(m), None) => Some(format!(
            "{what} has no maximum, the import requires maximum {m}"
        )),
        (Some(m), Some(h)) if h > m => Some(format!(
            "{what} maximum {h} exceeds the import's maximum {m}"
        )),
        _ => None,
    }
}

/// Why `ext` cannot satisfy import `kind` of `module` (`None` if it can).
fn import_mismatch(
    store: &StoreOpaque,
    module: &Module,
    kind: &ImportKind,
    ext: &Extern,
) -> Result<Option<String>, Error> {
    let store_check = |id: StoreId| store.check(id);
    Ok(match (kind, ext) {
        (ImportKind::Func(ty), Extern::Func(f)) => {
            store_check(f.store)?;
            let want = module.type_ids().get(*ty as usize).copied();
            let have = f.func_ref().type_id;
            if want == Some(have) {
                None
            } else {
                let name = |id: Option<u32>| {
                    id.and_then(|id| store.engine.types().get(id))
                        .map_or_else(|| "?".to_string(), |t| func_type_name(&t))
                };
                Some(format!(
                    "expected function type {}, found {}",
                    name(want),
                    name(Some(have))
                ))
            }
        }
        (ImportKind::Memory(want), Extern::Memory(m)) => {
            store_check(m.store)?;
            let e = store.memory(m.index)?;
            let have = e.ty;
            if want.memory64 != have.memory64 {
                Some("memory index types differ (memory32 vs memory64)".into())
            } else if want.shared != have.shared {
                Some("memory sharedness differs".into())
            } else if want.page_size_log2 != have.page_size_log2 {
                Some(format!(
                    "memory page size is {}, the import needs {}",
                    have.page_size(),
                    want.page_size()
                ))
            } else {
                limits_reason(
                    "memory",
                    e.mem.pages(),
                    have.maximum,
                    want.minimum,
                    want.maximum,
                )
            }
        }
        (ImportKind::Table(want), Extern::Table(t)) => {
            store_check(t.store)?;
            let want = &types::canon_table(*want, module.type_ids());
            let e = store.table(t.index)?;
            if want.element != e.ty.element {
                Some(format!(
                    "table element type is {}, the import needs {}",
                    crate::values::val_type_name(&precast_format::module::ValType::Ref(
                        e.ty.element
                    )),
                    crate::values::val_type_name(&precast_format::module::ValType::Ref(
                        want.element
                    ))
                ))
            } else if want.table64 != e.ty.table64 {
                Some("table index types differ (table32 vs table64)".into())
            } else {
                limits_reason(
                    "table",
                    e.elems.len(),
                    e.ty.maximum,
                    want.minimum,
                    want.maximum,
                )
            }
        }
        (ImportKind::Global(want), Extern::Global(g)) => {
            store_check(g.store)?;
            let want = types::canon_global(*want, module.type_ids());
            let have = store.global(g.index)?.ty;
            let name = crate::values::val_type_name;
            if have.mutable != want.mutable {
                Some(format!(
                    "global mutability differs: expected {}, found {}",
                    if want.mutable { "mutable" } else { "immutable" },
                    if have.mutable { "mutable" } else { "immutable" }
                ))
            } else if want.mutable && have.content != want.content {
                Some(format!(
                    "mutable global type is {}, the import needs exactly {}",
                    name(&have.content),
                    name(&want.content)
                ))
            } else if !types::val_subtype(have.content, want.content) {
                Some(format!(
                    "global type is {}, the import needs {}",
                    name(&have.content),
                    name(&want.content)
                ))
            } else {
                None
            }
        }
        (kind, ext) => {
            let want = match kind {
                ImportKind::Func(_) => "function",
                ImportKind::Memory(_) => "memory",
                ImportKind::Table(_) => "table",
                ImportKind::Global(_) => "global",
            };
            Some(format!("expected a {want}, found a {}", ext.kind_name()))
        }
    })
}

/// Const-expression context over a partially initialized instance.
struct Ctx<'a> {
    store: &'a StoreOpaque,
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

fn eval(store: &StoreOpaque, inst: &InstanceData, expr: &ConstExpr) -> Result<u128, Error> {
    const_expr::eval(expr, &Ctx { store, inst }).map_err(|reason| {
        LoadError::Malformed {
            section: sections::INFO,
            reason,
        }
        .into()
    })
}

fn layout_error() -> Error {
    Error::Load(LoadError::VMOffsets(
        "a VMContext field lies outside the VMContext".into(),
    ))
}

/// Per-module instantiation data computed once (see [`crate::module::Prepared`]).
pub(crate) struct Plan {
    pub template: Box<[u8]>,
    pub const_globals: Box<[bool]>,
    pub table_images: Box<[Option<Box<[u32]>>]>,
    pub elem_in_image: Box<[bool]>,
}

/// A constant-expression context with nothing to read: evaluation succeeds only for
/// expressions that are constant for every instance.
struct NoContext;

impl ConstContext for NoContext {
    fn global(&self, _: u32) -> Option<u128> {
        None
    }
    fn func_ref(&self, _: u32) -> Option<usize> {
        None
    }
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
        &(crate::builtins::table_ptr() as usize).to_le_bytes(),
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
        let value = g
            .init
            .as_ref()
            .and_then(|e| const_expr::eval(e, &NoContext).ok());
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
                Some(e) => const_expr::eval(e, &FuncIndexContext).ok()?,
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
        let start = const_expr::eval(offset, &NoContext).ok().map(|raw| {
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
                    const_expr::eval(e, &FuncIndexContext)
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

fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance, Error> {
    if !Engine::same(&store.engine, module.engine()) {
        return api("module and store belong to different engines");
    }
    let prepared = module.prepared();
    let info = &prepared.info;
    if imports.len() != info.imports.len() {
        return Err(LinkError::ImportCount {
            expected: info.imports.len(),
            given: imports.len(),
        }
        .into());
    }
    for (imp, ext) in info.imports.iter().zip(imports) {
        if let Some(reason) = import_mismatch(store, module, &imp.kind, ext)? {
            return Err(LinkError::IncompatibleImport {
                module: imp.module.clone(),
                name: imp.name.clone(),
                reason,
            }
            .into());
        }
    }
    store.register_module(module);

    let offsets = prepared.offsets;
    let pool = store.engine.pool().cloned();
    let defined_funcrefs = offsets.func_ref(info.num_imported_funcs) as usize
        ..offsets.func_ref(info.functions.len() as u32) as usize;
    let vmctx = VMContextAlloc::new(
        &offsets,
        &prepared.template,
        pool.as_ref(),
        defined_funcrefs,
        module.id(),
    )
    .map_err(Error::Resource)?;
    let index = store.instances.len();
    let data = Owned::new(InstanceData {
        index,
        store,
        module: module.clone(),
        vmctx,
        memories: Vec::with_capacity(info.memories.len()),
        tables: Vec::with_capacity(info.tables.len()),
        globals: Vec::with_capacity(info.globals.len()),
        passive_elems: vec![None; info.elements.len()],
        data_dropped: vec![false; info.data.len()],
    });
    let inst_ptr = data.as_ptr();
    // From here on the instance belongs to the store, even if initialization fails: element
    // writes into imported tables may already refer to it.
    store.instances.push(data);
    // SAFETY: the instance is owned by the store (heap, never moves) and nothing else refers
    // to it yet.
    let inst = unsafe { &mut *inst_ptr };
    let w = |ok: bool| if ok { Ok(()) } else { Err(layout_error()) };
    let vmctx_ptr = inst.vmctx.as_ptr();

    // The template holds everything else that does not depend on the instance.
    w(inst.vmctx.write(offsets.store, store.state.as_ptr()))?;
    w(inst.vmctx.write(offsets.instance, inst_ptr))?;

    // Imports.
    let (mut nf, mut nm, mut nt, mut ng) = (0u32, 0u32, 0u32, 0u32);
    for (imp, ext) in info.imports.iter().zip(imports) {
        match (&imp.kind, ext) {
            (ImportKind::Func(ty), Extern::Func(f)) => {
                let mut fr = f.func_ref();
                // SAFETY: `fr.vmctx` belongs to a live function of this store.
                if unsafe { crate::func::is_host_ctx(fr.vmctx) } {
                    let own_exit = module.trampolines(*ty).1;
                    if fr.func.is_null() {
                        f.ensure_callable_from_wasm(store).ok();
                    }
                    fr.func = match own_exit.or((!fr.func.is_null()).then_some(fr.func)) {
                        Some(p) => p,
                        None => {
                            return Err(LinkError::IncompatibleImport {
                                module: imp.module.clone(),
                                name: imp.name.clone(),
                                reason: format!(
                                    "the artifact has no exit trampoline for type {ty} to call a host function"
                                ),
                            }
                            .into());
                        }
                    };
                }
                w(inst.vmctx.write(offsets.func_ref(nf), fr))?;
                nf += 1;
            }
            (ImportKind::Memory(_), Extern::Memory(m)) => {
                w(inst
                    .vmctx
                    .write(offsets.imported_memory(nm), store.memory(m.index)?.def))?;
                inst.memories.push(m.index);
                nm += 1;
            }
            (ImportKind::Table(_), Extern::Table(t)) => {
                w(inst
                    .vmctx
                    .write(offsets.imported_table(nt), store.table(t.index)?.def))?;
                inst.tables.push(t.index);
                nt += 1;
            }
            (ImportKind::Global(_), Extern::Global(g)) => {
                w(inst
                    .vmctx
                    .write(offsets.imported_global(ng), store.global(g.index)?.ptr))?;
                inst.globals.push(g.index);
                ng += 1;
            }
            _ => return Err(layout_error()),
        }
    }

    // Function references of defined functions: code and type come from the template; a
    // pool block last used by this module holds them complete already.
    if !inst.vmctx.funcrefs_complete() {
        let vmctx_at = abi::func_ref::vmctx(vm::POINTER_SIZE);
        for i in info.num_imported_funcs..info.functions.len() as u32 {
            w(inst.vmctx.write(offsets.func_ref(i) + vmctx_at, vmctx_ptr))?;
        }
        inst.vmctx.set_funcrefs_complete(module.id());
    }

    // Defined memories: the image is mapped copy-on-write from the artifact file, or copied.
    let config = store.engine.config();
    let (reservation, guard) = (config.memory_reservation, config.memory_guard_size);
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
        let mem = match store.engine.memory_source() {
            Some(pool) => LinearMemory::from_pool(pool, ty, image.as_ref()),
            None => LinearMemory::new(ty, reservation, guard, image.as_ref()),
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
        let mut elems =
            TableElements::with_storage(&t.ty, init, pool.as_ref()).map_err(Error::Resource)?;
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

    let instance = Instance {
        store: store.id,
        index,
    };
    if let Some(start) = info.start {
        let f = Func::from_ptr(store.id, inst.func_ref_ptr(start).ok_or_else(layout_error)?);
        f.call_opaque(store, &[], &mut [])?;
    }
    Ok(instance)
}
