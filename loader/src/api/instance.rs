//! [`Instance`] and [`Extern`]; instantiation as the API does it: import checks and
//! resolution, then the runtime's instantiation, then the start function.

use crate::api::engine::Engine;
use crate::api::externals::{Global, Memory, Table};
use crate::api::func::Func;
use crate::api::module::{ExternType, Module};
use crate::api::store::{AsStore, AsStoreMut, StoreId, StoreOpaque};
use crate::api::values::func_type_name;
use crate::prelude::*;
use crate::runtime;
use crate::runtime::error::{Error, LinkError, api};
use crate::runtime::instance::{Allocator, Imports, InstanceData, layout_error};
use crate::runtime::types;
use precast_format::module::{ExternKind, ImportKind};
use smallvec::SmallVec;

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
        let inst = store.entities.instance(self.index).ok()?;
        let e = inst.module.info().export(name)?;
        extern_of(store.id, inst, e.kind, e.index)
    }

    /// All exports, in order.
    pub fn exports(&self, store: &impl AsStore) -> Vec<(String, Extern)> {
        let store = store.as_store();
        let Ok(inst) = store
            .check(self.store)
            .and_then(|()| store.entities.instance(self.index))
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
        let loaded = &store.entities.instance(self.index).ok()?.module;
        Some(Module::from_loaded(loaded, &store.engine))
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
            let want = module.loaded().type_ids().get(*ty as usize).copied();
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
            let e = store.entities.memory(m.index)?;
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
            let want = &types::canon_table(*want, module.loaded().type_ids());
            let e = store.entities.table(t.index)?;
            if want.element != e.ty.element {
                Some(format!(
                    "table element type is {}, the import needs {}",
                    crate::api::values::val_type_name(&precast_format::module::ValType::Ref(
                        e.ty.element
                    )),
                    crate::api::values::val_type_name(&precast_format::module::ValType::Ref(
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
            let want = types::canon_global(*want, module.loaded().type_ids());
            let have = store.entities.global(g.index)?.ty;
            let name = crate::api::values::val_type_name;
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

fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    externs: &[Extern],
) -> Result<Instance, Error> {
    if !Engine::same(&store.engine, module.engine()) {
        return api("module and store belong to different engines");
    }
    let loaded = module.loaded();
    let info = loaded.info();
    if externs.len() != info.imports.len() {
        return Err(LinkError::ImportCount {
            expected: info.imports.len(),
            given: externs.len(),
        }
        .into());
    }
    for (imp, ext) in info.imports.iter().zip(externs) {
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

    let mut imports = Imports {
        funcs: SmallVec::with_capacity(info.num_imported_funcs as usize),
        memories: SmallVec::with_capacity(info.num_imported_memories as usize),
        tables: SmallVec::with_capacity(info.num_imported_tables as usize),
        globals: SmallVec::with_capacity(info.num_imported_globals as usize),
    };
    for (imp, ext) in info.imports.iter().zip(externs) {
        match (&imp.kind, ext) {
            (ImportKind::Func(ty), Extern::Func(f)) => {
                let mut fr = f.func_ref();
                // SAFETY: `fr.vmctx` belongs to a live function of this store.
                if unsafe { crate::api::func::is_host_ctx(fr.vmctx) } {
                    // Called through this module's exit trampoline for the type; the host
                    // function itself gets one (this module's, registered above) if it has
                    // none yet, for when wasm passes it on through tables.
                    let own_exit = loaded.trampolines(*ty).1;
                    if fr.func.is_null() {
                        fr.func = f
                            .ensure_callable_from_wasm(store, own_exit)
                            .unwrap_or(fr.func);
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
                imports.funcs.push(fr);
            }
            (ImportKind::Memory(_), Extern::Memory(m)) => imports.memories.push(m.index),
            (ImportKind::Table(_), Extern::Table(t)) => imports.tables.push(t.index),
            (ImportKind::Global(_), Extern::Global(g)) => imports.globals.push(g.index),
            _ => return api("an import of the wrong kind"),
        }
    }

    let memories = &info.memories[info.num_imported_memories as usize..];
    let tables = &info.tables[info.num_imported_tables as usize..];
    store.check_counts(1, memories.len(), tables.len())?;
    store.check_initial_sizes(memories, tables.iter().map(|t| &t.ty))?;
    let engine = store.engine.clone();
    let alloc = Allocator {
        pool: engine.pool(),
        memory_source: engine.memory_source(),
        reservation: engine.config().reservation(),
        memory64_reservation: engine.config().memory64_reservation,
    };
    let index = runtime::instance::instantiate(store, loaded, &imports, &alloc)?;
    if let Some(start) = info.start {
        let inst = store.entities.instance(index)?;
        let f = Func::from_ptr(store.id, inst.func_ref_ptr(start).ok_or_else(layout_error)?);
        f.call_opaque(store, &[], &mut [])?;
    }
    Ok(Instance {
        store: store.id,
        index,
    })
}
