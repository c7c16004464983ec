//! [`Config`] and [`Engine`]: process-level settings and the engine-wide type registry.

use precast_format::module::FuncType;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Loader settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes of native stack wasm may use below the point where the host first enters it.
    pub max_wasm_stack: usize,
    /// Bytes of address space reserved for each linear memory (its maximum size).
    pub memory_reservation: u64,
    /// Bytes of inaccessible guard region after each memory's reservation.
    pub memory_guard_size: u64,
}

impl Default for Config {
    fn default() -> Self {
        let s = precast_format::Settings::default();
        Config {
            max_wasm_stack: 512 * 1024,
            memory_reservation: s.memory_reservation,
            memory_guard_size: s.memory_guard_size,
        }
    }
}

impl Config {
    /// The default configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Sets [`Config::max_wasm_stack`].
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
        self
    }
}

/// Canonical ids for function types, shared by everything created from one engine: two
/// structurally equal types get the same id, so `call_indirect` checks are one comparison.
#[derive(Debug, Default)]
pub(crate) struct TypeRegistry {
    inner: RwLock<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    ids: HashMap<Arc<FuncType>, u32>,
    types: Vec<Arc<FuncType>>,
}

impl TypeRegistry {
    /// The canonical id of `ty`, registering it if new.
    pub fn register(&self, ty: &FuncType) -> u32 {
        if let Ok(r) = self.inner.read()
            && let Some(&id) = r.ids.get(ty)
        {
            return id;
        }
        let mut w = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = w.ids.get(ty) {
            return id;
        }
        let id = u32::try_from(w.types.len()).unwrap_or(u32::MAX - 1);
        let ty = Arc::new(ty.clone());
        w.types.push(ty.clone());
        w.ids.insert(ty, id);
        id
    }

    /// A fresh id for `ty` that no other registration shares.
    pub fn register_unique(&self, ty: &FuncType) -> u32 {
        let mut w = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let id = u32::try_from(w.types.len()).unwrap_or(u32::MAX - 1);
        w.types.push(Arc::new(ty.clone()));
        id
    }

    /// The type with canonical id `id`.
    pub fn get(&self, id: u32) -> Option<Arc<FuncType>> {
        let r = self.inner.read().unwrap_or_else(|e| e.into_inner());
        r.types.get(id as usize).cloned()
    }
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    pub config: Config,
    pub types: TypeRegistry,
}

/// Shared, thread-safe loader context: configuration and type registry. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&Config::default())
    }
}

impl Engine {
    /// Creates an engine and installs the process's trap signal handlers (once).
    pub fn new(config: &Config) -> Engine {
        crate::traphandlers::init_signals();
        Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                types: TypeRegistry::default(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether two handles refer to the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    pub(crate) fn types(&self) -> &TypeRegistry {
        &self.inner.types
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use precast_format::module::ValType;

    #[test]
    fn registry_canonicalizes() {
        let r = TypeRegistry::default();
        let a = FuncType {
            params: vec![ValType::I32],
            results: vec![ValType::I64],
        };
        let b = FuncType {
            params: vec![ValType::I64],
            results: vec![],
        };
        let ia = r.register(&a);
        let ib = r.register(&b);
        assert_ne!(ia, ib);
        assert_eq!(r.register(&a.clone()), ia);
        assert_eq!(*r.get(ia).unwrap(), a);
        assert_eq!(*r.get(ib).unwrap(), b);
        assert!(r.get(99).is_none());
        let u = r.register_unique(&a);
        assert!(u != ia && *r.get(u).unwrap() == a);
        assert_eq!(r.register(&a), ia);
    }
}
