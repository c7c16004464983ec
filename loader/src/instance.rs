//! Instantiation: import checks, VMContext allocation and initialization, segment
//! initialization and the start function; plus [`Instance`] and [`Extern`].

use crate::const_expr::{self, ConstContext};
use crate::engine::Engine;
use crate::error::{Error, LinkError, LoadError, api};
use crate::externals::{Global, Memory, Table};
use crate::func::Func;
use crate::linear_memory::LinearMemory;
use crate::module::{ExternType, Module};
use crate::store::{
    AsStore, AsStoreMut, GlobalEntry, MemoryEntry, Owned, StoreId, StoreOpaque, TableEntry,
};
use crate::table_elements::TableElements;
use crate::trap::Trap;
use crate::types;
use crate::values::func_type_name;
use crate::vm::{self, VMContextAlloc, VMFuncRef, VMGlobal, VMMemoryDefinition, VMTableDefinition};
use precast_format::TrapCode;
use precast_format::module::{
    ConstExpr, DataMode, ElementItems, ElementMode, ExternKind, ImportKind,
};
use precast_format::sections;
use std::ptr::NonNull;

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
                .field::<VMFuncRef>(self.module.offsets().func_ref(index))?,
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

fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance, Error> {
    if !Engine::same(&store.engine, module.engine()) {
        return api("module and store belong to different engines");
    }
    let info = module.info();
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

    let offsets = *module.offsets();
    let vmctx = VMContextAlloc::new(&offsets)
        .ok_or_else(|| Error::Resource("cannot allocate a VMContext".into()))?;
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

    w(inst.vmctx.write(0, vm::VMCTX_MAGIC))?;
    w(inst.vmctx.write(offsets.store, store.state.as_ptr()))?;
    w(inst
        .vmctx
        .write(offsets.builtins, crate::builtins::table_ptr()))?;
    w(inst
        .vmctx
        .write(offsets.type_ids, module.type_ids().as_ptr()))?;
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

    // Function references of defined functions.
    for i in info.num_imported_funcs..info.functions.len() as u32 {
        let defined = (i - info.num_imported_funcs) as usize;
        let func = module.defined_func_ptr(defined).ok_or_else(layout_error)?;
        let ty = info.functions.get(i as usize).copied().unwrap_or(0);
        let type_id = module
            .type_ids()
            .get(ty as usize)
            .copied()
            .unwrap_or(u32::MAX);
        w(inst.vmctx.write(
            offsets.func_ref(i),
            VMFuncRef {
                func,
                vmctx: vmctx_ptr,
                type_id,
            },
        ))?;
    }

    // Defined memories.
    let config = store.engine.config().clone();
    for (k, ty) in info
        .memories
        .iter()
        .skip(info.num_imported_memories as usize)
        .enumerate()
    {
        let mem = LinearMemory::new(ty, config.memory_reservation, config.memory_guard_size)
            .map_err(Error::Resource)?;
        let def = inst
            .vmctx
            .field::<VMMemoryDefinition>(offsets.defined_memory(k as u32))
            .ok_or_else(layout_error)?;
        let mut entry = MemoryEntry {
            mem,
            ty: *ty,
            def,
            _owned: None,
        };
        entry.sync();
        store.memories.push(entry);
        inst.memories.push(store.memories.len() - 1);
    }

    // Defined globals, in order (initializers may read earlier globals).
    for (k, g) in info
        .globals
        .iter()
        .skip(info.num_imported_globals as usize)
        .enumerate()
    {
        let value = match &g.init {
            Some(e) => eval(store, inst, e)?,
            None => 0,
        };
        let slot = inst
            .vmctx
            .field::<VMGlobal>(offsets.defined_global(k as u32))
            .ok_or_else(layout_error)?;
        // SAFETY: `field` checked bounds and alignment inside our VMContext.
        unsafe { slot.write(VMGlobal(value.to_le_bytes())) };
        store.globals.push(GlobalEntry {
            ty: types::canon_global(g.ty, module.type_ids()),
            ptr: slot,
            _owned: None,
        });
        inst.globals.push(store.globals.len() - 1);
    }

    // Defined tables.
    for (k, t) in info
        .tables
        .iter()
        .skip(info.num_imported_tables as usize)
        .enumerate()
    {
        let init = match &t.init {
            Some(e) => eval(store, inst, e)? as usize,
            None => 0,
        };
        let elems = TableElements::new(&t.ty, init).map_err(Error::Resource)?;
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

    // Active data segments.
    for (i, seg) in info.data.iter().enumerate() {
        let DataMode::Active { memory, offset } = &seg.mode else {
            continue;
        };
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
        let dst = usize::try_from(start).ok().and_then(|s| {
            entry
                .mem
                .as_mut_slice()
                .get_mut(s..s.checked_add(bytes.len())?)
        });
        match dst {
            Some(dst) => dst.copy_from_slice(bytes),
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
