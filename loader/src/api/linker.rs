//! [`Linker`]: resolves a module's imports by name from host functions and registered
//! instances, then instantiates it.

use crate::api::engine::Engine;
use crate::api::func::{Caller, DispatchFn, Func, HostImpl, erase_host_fn};
use crate::api::instance::{Extern, Instance};
use crate::api::module::Module;
use crate::api::store::AsStoreMut;
use crate::api::store::{AsStore, Store};
use crate::api::values::Val;
use crate::prelude::*;
use crate::runtime::error::{Error, LinkError};
use alloc::sync::Arc;
use hashbrown::HashMap;
use precast_format::module::FuncType;
use smallvec::SmallVec;

fn materialize<T: 'static>(store: &mut Store<T>, def: Definition<T>) -> Extern {
    match def {
        Definition::Extern(e) => e,
        Definition::HostFunc(ty, f, fast) => {
            let store = store.as_store_mut();
            let id = store.engine.types().register(&ty);
            let imp = host_impl::<T>(f, fast);
            Extern::Func(Func::new_erased(store, Arc::new(ty), id, imp))
        }
    }
}

/// The store-independent implementation of a linker's host function.
fn host_impl<T: 'static>(f: Arc<HostFn<T>>, fast: Option<FastHostFn>) -> HostImpl {
    HostImpl {
        erased: erase_host_fn::<T, _>(move |caller, params, results| f(caller, params, results)),
        fast,
    }
}

/// A module with its imports resolved by a [`Linker`]: instantiating it looks up no name.
/// Host functions are created in each store that instantiates (their types registered and
/// implementations wrapped once, here); entities of a particular store can only be used
/// with that store.
pub struct InstancePre<T> {
    module: Module,
    defs: Vec<PreDefinition>,
    _data: core::marker::PhantomData<fn(&mut T)>,
}

/// An import of an [`InstancePre`].
#[derive(Clone)]
enum PreDefinition {
    /// An entity of a particular store.
    Extern(Extern),
    /// A host function: its type, the type's canonical id, the implementation for stores
    /// of the `InstancePre`'s data type.
    HostFunc(Arc<FuncType>, u32, HostImpl),
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            module: self.module.clone(),
            defs: self.defs.clone(),
            _data: core::marker::PhantomData,
        }
    }
}

impl<T> core::fmt::Debug for InstancePre<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InstancePre")
            .field("module", &self.module)
            .field("imports", &self.defs.len())
            .finish()
    }
}

impl<T: 'static> InstancePre<T> {
    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Instantiates the module in `store`.
    pub fn instantiate(&self, store: &mut Store<T>) -> Result<Instance, Error> {
        if !Engine::same(&store.as_store_mut().engine, self.module.engine()) {
            // The type ids below are the module engine's: create nothing, let instantiation
            // report the mismatch.
            return Instance::new(store, &self.module, &[]);
        }
        // Inline for typical modules: no allocation per instantiation.
        let mut imports: SmallVec<[Extern; 8]> = SmallVec::with_capacity(self.defs.len());
        for def in &self.defs {
            imports.push(match def {
                PreDefinition::Extern(e) => *e,
                PreDefinition::HostFunc(ty, id, f) => Extern::Func(Func::new_erased(
                    store.as_store_mut(),
                    ty.clone(),
                    *id,
                    f.clone(),
                )),
            });
        }
        Instance::new(store, &self.module, &imports)
    }
}

/// A linker's host function over [`Val`]s.
pub(crate) type HostFn<T> =
    dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync;

/// A dispatch specialized to a typed closure, and the closure.
pub(crate) type FastHostFn = (DispatchFn, Arc<dyn core::any::Any + Send + Sync>);

enum Definition<T> {
    /// An entity of a particular store.
    Extern(Extern),
    /// A host function, created in each store that instantiates with it.
    HostFunc(FuncType, Arc<HostFn<T>>, Option<FastHostFn>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::HostFunc(t, f, fast) => {
                Definition::HostFunc(t.clone(), f.clone(), fast.clone())
            }
        }
    }
}

/// Name-based import resolution for stores with data `T`.
pub struct Linker<T> {
    engine: Engine,
    defs: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T> core::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Linker")
            .field("definitions", &self.defs.len())
            .finish()
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            defs: HashMap::new(),
            allow_shadowing: false,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a later definition of the same name replaces an earlier one (default: an
    /// error).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<(), Error> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.defs.contains_key(&key) {
            return Err(LinkError::Duplicate {
                module: module.into(),
                name: name.into(),
            }
            .into());
        }
        self.defs.insert(key, def);
        Ok(())
    }

    /// Defines every function import of `module` that this linker does not define as a host
    /// function returning default values (zeros and nulls), like Wasmtime's method of the
    /// same name. Useful to run programs whose extra imports do not matter, such as
    /// benchmark markers.
    pub fn define_unknown_imports_as_default_values(
        &mut self,
        module: &Module,
    ) -> Result<&mut Self, Error> {
        let missing: Vec<(String, String, FuncType)> = module
            .imports()
            .filter_map(|i| match i.ty {
                crate::api::module::ExternType::Func(ty)
                    if !self
                        .defs
                        .contains_key(&(i.module.to_string(), i.name.to_string())) =>
                {
                    Some((i.module.to_string(), i.name.to_string(), ty))
                }
                _ => None,
            })
            .collect();
        for (m, n, ty) in missing {
            // Host functions receive their results pre-filled with default values.
            self.func_new(&m, &n, ty, |_, _, _| Ok(()))?;
        }
        Ok(self)
    }

    /// Defines `module::name` as a host function of type `ty`.
    pub fn func_new<F>(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: F,
    ) -> Result<&mut Self, Error>
    where
        F: Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
    {
        self.define_host_func(module, name, ty, Arc::new(f), None)
    }

    /// Defines `module::name` as the host function `f` of type `ty`, with its specialized
    /// dispatch when it has one.
    pub(crate) fn define_host_func(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: Arc<HostFn<T>>,
        fast: Option<FastHostFn>,
    ) -> Result<&mut Self, Error> {
        self.insert(module, name, Definition::HostFunc(ty, f, fast))?;
        Ok(self)
    }

    /// Defines `module::name` as an entity of `store` (only usable with that store).
    pub fn define(
        &mut self,
        store: impl AsStore,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self, Error> {
        let item = item.into();
        let id = match &item {
            Extern::Func(f) => f.store,
            Extern::Memory(m) => m.store,
            Extern::Table(t) => t.store,
            Extern::Global(g) => g.store,
        };
        store.as_store().check(id)?;
        self.insert(module, name, Definition::Extern(item))?;
        Ok(self)
    }

    /// Defines every export of `instance` under module name `name`.
    pub fn instance(
        &mut self,
        store: &mut Store<T>,
        name: &str,
        instance: &Instance,
    ) -> Result<&mut Self, Error> {
        for (export, ext) in instance.exports(&*store) {
            self.insert(name, &export, Definition::Extern(ext))?;
        }
        Ok(self)
    }

    /// The definition of `module::name` as an entity of `store` (host functions are created
    /// in the store).
    pub fn get(&self, store: &mut Store<T>, module: &str, name: &str) -> Option<Extern> {
        let def = self
            .defs
            .get(&(module.to_string(), name.to_string()))?
            .clone();
        Some(self.materialize(store, def))
    }

    fn materialize(&self, store: &mut Store<T>, def: Definition<T>) -> Extern {
        materialize(store, def)
    }

    /// The definitions of `module`'s imports, in order.
    fn resolve(&self, module: &Module) -> Result<Vec<Definition<T>>, Error> {
        let imports = &module.info().imports;
        let mut defs = Vec::with_capacity(imports.len());
        for imp in imports {
            let def = self
                .defs
                .get(&(imp.module.clone(), imp.name.clone()))
                .ok_or_else(|| LinkError::UnknownImport {
                    module: imp.module.clone(),
                    name: imp.name.clone(),
                })?
                .clone();
            defs.push(def);
        }
        Ok(defs)
    }

    /// Resolves `module`'s imports and instantiates it in `store`.
    pub fn instantiate(&self, store: &mut Store<T>, module: &Module) -> Result<Instance, Error> {
        let defs = self.resolve(module)?;
        let imports: SmallVec<[Extern; 8]> = defs
            .into_iter()
            .map(|def| self.materialize(store, def))
            .collect();
        Instance::new(store, module, &imports)
    }

    /// Resolves `module`'s imports once, for instantiating it many times (a server's
    /// per-request instances): see [`InstancePre`]. Also decodes the module info now if that
    /// has not happened yet.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>, Error> {
        // Registered in the module's engine: instantiation refuses stores of another.
        let types = module.engine().types();
        let defs = self
            .resolve(module)?
            .into_iter()
            .map(|def| match def {
                Definition::Extern(e) => PreDefinition::Extern(e),
                Definition::HostFunc(ty, f, fast) => {
                    let id = types.register(&ty);
                    PreDefinition::HostFunc(Arc::new(ty), id, host_impl::<T>(f, fast))
                }
            })
            .collect();
        Ok(InstancePre {
            module: module.clone(),
            defs,
            _data: core::marker::PhantomData,
        })
    }

    /// Instantiates `module` and registers its exports under `name`.
    pub fn module(
        &mut self,
        store: &mut Store<T>,
        name: &str,
        module: &Module,
    ) -> Result<Instance, Error> {
        let instance = self.instantiate(store, module)?;
        self.instance(store, name, &instance)?;
        Ok(instance)
    }
}
