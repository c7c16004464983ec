//! [`Store`]: owns every instance, memory, table, global and host function created in it,
//! and frees them all when dropped.

use crate::api::engine::Engine;
use crate::api::func::{Caller, HostFuncContext};
use crate::api::limits::{Limit, LimitExceeded, ResourceLimiter, StoreLimits};
use crate::api::module::Module;
use crate::prelude::*;
use crate::runtime::error::{Error, api};
#[cfg(feature = "std")]
use crate::runtime::memory::SharedStorage;
use crate::runtime::memory::{MemoryEntry, MemoryStorage, fresh_memory};
use crate::runtime::store::{Entities, GlobalEntry, Growth, Owned, VMStore};
use crate::runtime::table::{TableElements, TableEntry};
use crate::runtime::trap::{Trap, symbolize};
use crate::runtime::traphandlers::{Pending, RawTrap, take_pending};
use crate::runtime::vm::{VMGlobal, VMMemoryDefinition, VMTableDefinition};
#[cfg(feature = "std")]
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use hashbrown::HashMap;
use precast_format::TrapCode;
use precast_format::module::{GlobalType, MemoryType, TableType};

/// Identifies a store; handles carry it so they are only used with their own store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn fresh() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Trampolines of one canonical function type, from any module registered in the store.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TypeTrampolines {
    pub entry: Option<*const u8>,
    pub exit: Option<*const u8>,
}

/// What a store does when the engine's epoch reaches its deadline.
enum EpochBehavior {
    /// Trap with [`TrapCode::Interrupt`].
    Trap,
    /// Ask the embedder's callback (over the typed store, from the raw `StoreOpaque` and
    /// the calling wasm function's VMContext).
    Callback(Box<EpochCallback>),
}

type EpochCallback =
    dyn FnMut(*mut StoreOpaque, *const u8) -> Result<UpdateDeadline, Error> + Send + 'static;

/// What an epoch deadline callback ([`Store::epoch_deadline_callback`]) decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateDeadline {
    /// Keep running, with a new deadline this many epochs after the current one.
    Continue(u64),
    /// Stop the guest: it traps with [`TrapCode::Interrupt`].
    Interrupt,
}

/// The part of a store that does not depend on its data type.
pub struct StoreOpaque {
    pub(crate) id: StoreId,
    pub(crate) engine: Engine,
    /// What the runtime core works on (instances, memories, tables, globals, state).
    pub(crate) entities: Entities,
    /// Number of active host-to-wasm entries on the stack.
    pub(crate) entry_depth: usize,
    pub(crate) modules: Vec<Module>,
    pub(crate) host_funcs: Vec<Owned<HostFuncContext>>,
    externs: Vec<u64>,
    extern_ids: HashMap<u64, usize>,
    epoch_behavior: EpochBehavior,
    /// The engine's static limits, with what they refused.
    limits: StoreLimits,
    /// The embedder's limiter, found in the store's data.
    limiter: Option<LimiterAccess>,
}

/// Finds the embedder's [`ResourceLimiter`] in the store's data.
type LimiterPtr = *mut dyn ResourceLimiter;
struct LimiterAccess(Box<dyn FnMut() -> LimiterPtr + Send>);

impl core::fmt::Debug for StoreOpaque {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("instances", &self.entities.instances.len())
            .field("memories", &self.entities.memories.len())
            .field("tables", &self.entities.tables.len())
            .field("globals", &self.entities.globals.len())
            .finish()
    }
}

impl StoreOpaque {
    fn new(engine: &Engine) -> StoreOpaque {
        StoreOpaque {
            id: StoreId::fresh(),
            engine: engine.clone(),
            entities: Entities::new(&engine.inner.epoch, engine.inner.probes.clone()),
            entry_depth: 0,
            modules: Vec::new(),
            host_funcs: Vec::new(),
            externs: Vec::new(),
            extern_ids: HashMap::new(),
            epoch_behavior: EpochBehavior::Trap,
            limits: engine.config().limits.clone(),
            limiter: None,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Errors unless `id` is this store's.
    pub(crate) fn check(&self, id: StoreId) -> Result<(), Error> {
        if id == self.id {
            Ok(())
        } else {
            api("object used with a store it does not belong to")
        }
    }

    /// Keeps `module` alive for the store's lifetime; its trampolines serve every function
    /// of the store (looked up in the module's precomputed table).
    pub(crate) fn register_module(&mut self, module: &Module) {
        if self.modules.iter().any(|m| Module::same(m, module)) {
            return;
        }
        self.modules.push(module.clone());
    }

    /// The trampolines known for canonical type `id`, from the store's modules in the order
    /// they were registered.
    pub(crate) fn type_trampolines(&self, id: u32) -> TypeTrampolines {
        let mut t = TypeTrampolines::default();
        for m in &self.modules {
            let (entry, exit) = m.loaded().trampolines_for_id(id);
            if t.entry.is_none() && entry != 0 {
                t.entry = Some(entry as *const u8);
            }
            if t.exit.is_none() && exit != 0 {
                t.exit = Some(exit as *const u8);
            }
            if t.entry.is_some() && t.exit.is_some() {
                break;
            }
        }
        t
    }

    /// The raw value (index + 1) standing for host value `v` in extern references.
    pub(crate) fn extern_to_raw(&mut self, v: u64) -> usize {
        if let Some(&i) = self.extern_ids.get(&v) {
            return i + 1;
        }
        let i = self.externs.len();
        self.externs.push(v);
        self.extern_ids.insert(v, i);
        i + 1
    }

    /// The host value a raw extern reference stands for.
    pub(crate) fn extern_from_raw(&self, raw: usize) -> Option<u64> {
        self.externs.get(raw.checked_sub(1)?).copied()
    }

    /// Turns a caught trap into the error reported to the host.
    pub(crate) fn trap_error(&self, raw: RawTrap) -> Error {
        let frames = || symbolize(&raw.pcs, self.modules.iter().map(|m| &**m.loaded()));
        if raw.code == TrapCode::OutOfFuel {
            // The code traps without writing its fuel counter back: record it as used up.
            // SAFETY: the store state is this store's own allocation, which no reference
            // points into while no wasm of the store runs (the trap ended it).
            unsafe { (*self.entities.state.as_ptr()).fuel = 0 };
        }
        if raw.code != TrapCode::Pending {
            return Trap::new(raw.code, frames()).into();
        }
        match take_pending() {
            Some(Pending::Trap(code)) => Trap::new(code, frames()).into(),
            Some(Pending::Error(e)) => e,
            None => Trap::new(TrapCode::Pending, frames()).into(),
        }
    }
}

/// Interruption and fuel (for code compiled with them: [`Config::epoch_interruption`],
/// [`Config::consume_fuel`]).
///
/// [`Config::epoch_interruption`]: crate::Config::epoch_interruption
/// [`Config::consume_fuel`]: crate::Config::consume_fuel
impl StoreOpaque {
    /// Sets the deadline `ticks` epochs after the engine's current one: code of this store
    /// reaching a check once [`Engine::increment_epoch`] got there runs the deadline
    /// behaviour (by default a trap with [`TrapCode::Interrupt`]). A new store's deadline
    /// is already reached.
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        let deadline = self.engine.current_epoch().saturating_add(ticks);
        self.entities.set_epoch_deadline(deadline);
    }

    /// Reaching the deadline traps with [`TrapCode::Interrupt`] (the default).
    pub fn epoch_deadline_trap(&mut self) {
        self.epoch_behavior = EpochBehavior::Trap;
    }

    /// Gives the store `fuel` units (replacing what was left): each wasm operator costs 1
    /// (0 for `nop`, `drop`, `block`, `loop`, `else`, `end`, `unreachable`, `return`), and
    /// code that used more than it was given traps with [`TrapCode::OutOfFuel`] at its next
    /// function entry or loop header. Fails unless the engine consumes fuel.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        self.fuel_enabled()?;
        let consumed_beyond = i64::try_from(fuel).map_or(i64::MIN, |f| -f);
        // SAFETY: as in `set_epoch_deadline`.
        unsafe { (*self.entities.state.as_ptr()).fuel = consumed_beyond };
        Ok(())
    }

    /// The fuel left (0 once it ran out). Exact between calls into wasm; fails unless the
    /// engine consumes fuel.
    pub fn get_fuel(&self) -> Result<u64, Error> {
        self.fuel_enabled()?;
        // SAFETY: the store state lives as long as the store.
        let consumed_beyond = unsafe { (*self.entities.state.as_ptr()).fuel };
        Ok(consumed_beyond.min(0).unsigned_abs())
    }

    fn fuel_enabled(&self) -> Result<(), Error> {
        if self.engine.config().consume_fuel {
            Ok(())
        } else {
            api(
                "fuel is not enabled: the engine needs Config::consume_fuel (and code compiled \
                 with `precast compile --consume-fuel`)",
            )
        }
    }
}

/// Resource limits: the engine's static ones ([`Config::limits`](crate::Config::limits)),
/// then the embedder's limiter ([`Store::limiter`]).
impl StoreOpaque {
    /// The engine's static limits of this store, with the last one reached
    /// ([`StoreLimits::exceeded`]).
    pub fn limits(&self) -> &StoreLimits {
        &self.limits
    }

    fn limiter(&mut self) -> Option<&mut dyn ResourceLimiter> {
        // SAFETY: the accessor points into the store's data, which lives as long as the
        // store and is not otherwise borrowed while the store is borrowed exclusively (see
        // `Store::limiter`).
        self.limiter.as_mut().map(|f| unsafe { &mut *(f.0)() })
    }

    /// Errors unless the store may hold `instances`, `memories` and `tables` more.
    pub(crate) fn check_counts(
        &mut self,
        instances: usize,
        memories: usize,
        tables: usize,
    ) -> Result<(), Error> {
        // The common case: no limiter, room under the static limits.
        if self.limiter.is_none()
            && self.entities.instances.len() + instances <= self.limits.instances
            && self.entities.memories.len() + memories <= self.limits.memories
            && self.entities.tables.len() + tables <= self.limits.tables
        {
            return Ok(());
        }
        let held = [
            self.entities.instances.len(),
            self.entities.memories.len(),
            self.entities.tables.len(),
        ];
        let limits = [
            self.limits.instances,
            self.limits.memories,
            self.limits.tables,
        ];
        let custom = self
            .limiter()
            .map(|l| [l.instances(), l.memories(), l.tables()]);
        let kinds: [fn(usize) -> Limit; 3] = [Limit::Instances, Limit::Memories, Limit::Tables];
        for (k, add) in [instances, memories, tables].into_iter().enumerate() {
            let limit = custom.map_or(limits[k], |c| c[k].min(limits[k]));
            let total = held[k].saturating_add(add);
            if add > 0 && total > limit {
                let e = LimitExceeded {
                    limit: kinds[k](limit),
                    requested: total as u64,
                };
                self.limits.record(e);
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Errors unless the limits let memories of types `memories` and tables of types
    /// `tables` be created at their initial sizes.
    pub(crate) fn check_initial_sizes<'a>(
        &mut self,
        memories: impl IntoIterator<Item = &'a MemoryType>,
        tables: impl IntoIterator<Item = &'a TableType>,
    ) -> Result<(), Error> {
        // Nothing to ask without a limiter and size limits: the types' own bounds hold.
        if self.limiter.is_none()
            && self.limits.memory_size.is_none()
            && self.limits.table_elements.is_none()
        {
            return Ok(());
        }
        for ty in memories {
            let page = ty.page_size();
            let bytes = ty.minimum.saturating_mul(page);
            let max = ty.maximum.map(|m| m.saturating_mul(page));
            if !self.growing(Growth::Memory, 0, bytes, max)? {
                return Err(self.refused("memory", bytes, "bytes"));
            }
        }
        for ty in tables {
            if !self.growing(Growth::Table, 0, ty.minimum, ty.maximum)? {
                return Err(self.refused("table", ty.minimum, "elements"));
            }
        }
        Ok(())
    }

    /// The error for a memory or table the limits refused at its initial `size`.
    fn refused(&mut self, what: &str, size: u64, unit: &str) -> Error {
        let named = self
            .limits
            .exceeded()
            .into_iter()
            .chain(self.limiter().and_then(|l| l.exceeded()))
            .find(|e| e.requested == size);
        match named {
            Some(e) => e.into(),
            None => Error::Resource(format!(
                "the store's resource limiter refused a {what} of {size} {unit}"
            )),
        }
    }
}

impl VMStore for StoreOpaque {
    fn entities(&mut self) -> &mut Entities {
        &mut self.entities
    }

    fn epoch_interrupt(&mut self, caller_vmctx: *mut u8) -> Result<(), Pending> {
        let ticks = match core::mem::replace(&mut self.epoch_behavior, EpochBehavior::Trap) {
            EpochBehavior::Trap => return Err(Pending::Trap(TrapCode::Interrupt)),
            EpochBehavior::Callback(mut f) => {
                let this: *mut StoreOpaque = self;
                let decision = crate::platform::catch_panic(|| f(this, caller_vmctx));
                self.epoch_behavior = EpochBehavior::Callback(f);
                match decision {
                    Ok(Ok(UpdateDeadline::Continue(ticks))) => ticks,
                    Ok(Ok(UpdateDeadline::Interrupt)) => {
                        return Err(Pending::Trap(TrapCode::Interrupt));
                    }
                    Ok(Err(e)) => return Err(Pending::Error(e)),
                    Err(_) => {
                        return Err(Pending::Error(Error::Host(
                            "the epoch deadline callback panicked".into(),
                        )));
                    }
                }
            }
        };
        self.set_epoch_deadline(ticks);
        Ok(())
    }

    fn growing(
        &mut self,
        what: Growth,
        current: u64,
        desired: u64,
        maximum: Option<u64>,
    ) -> Result<bool, Error> {
        let ok = match what {
            Growth::Memory => self.limits.memory_growing(current, desired, maximum)?,
            Growth::Table => self.limits.table_growing(current, desired, maximum)?,
        };
        match self.limiter() {
            Some(l) if ok => match what {
                Growth::Memory => l.memory_growing(current, desired, maximum),
                Growth::Table => l.table_growing(current, desired, maximum),
            },
            _ => Ok(ok),
        }
    }
}

/// The store's data, for its limiter accessor.
struct DataPtr<T>(*mut T);

// SAFETY: only the store holds the pointer (in its limiter accessor), and dereferences it only
// while borrowed exclusively; it moves to another thread only with the store, which is `Send`
// only when `T` is.
unsafe impl<T> Send for DataPtr<T> {}

/// The store proper: the type-erased part followed by the embedder's data. `repr(C)` so a
/// `*mut StoreOpaque` can be turned back into the typed store by host-function wrappers.
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub opaque: StoreOpaque,
    pub data: T,
}

/// A collection of wasm instances and host objects, with embedder data of type `T`.
pub struct Store<T> {
    inner: Owned<StoreInner<T>>,
}

// SAFETY: the raw pointers a store holds point into memory the store owns; nothing in it is
// tied to a thread (trap state is per call, thread-local). Moving the store moves ownership.
unsafe impl<T: Send> Send for Store<T> {}

impl<T: core::fmt::Debug> core::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("opaque", &self.inner_ref().opaque)
            .field("data", &self.inner_ref().data)
            .finish()
    }
}

impl<T> Store<T> {
    /// A new, empty store.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: Owned::new(StoreInner {
                opaque: StoreOpaque::new(engine),
                data,
            }),
        }
    }

    fn inner_ref(&self) -> &StoreInner<T> {
        // SAFETY: owned by this store; `&self` gives shared access.
        unsafe { &*self.inner.as_ptr() }
    }

    fn inner_mut(&mut self) -> &mut StoreInner<T> {
        // SAFETY: owned by this store; `&mut self` gives exclusive access.
        unsafe { &mut *self.inner.as_ptr() }
    }

    /// The embedder data.
    pub fn data(&self) -> &T {
        &self.inner_ref().data
    }

    /// The embedder data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner_mut().data
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner_ref().opaque.engine
    }

    /// See [`StoreOpaque::set_epoch_deadline`].
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        self.inner_mut().opaque.set_epoch_deadline(ticks);
    }

    /// See [`StoreOpaque::epoch_deadline_trap`].
    pub fn epoch_deadline_trap(&mut self) {
        self.inner_mut().opaque.epoch_deadline_trap();
    }

    /// Reaching the epoch deadline calls `f` with the store (as a [`Caller`] of the wasm
    /// function that reached it), which returns [`UpdateDeadline::Continue`] with a new
    /// deadline, [`UpdateDeadline::Interrupt`] to trap with [`TrapCode::Interrupt`], or an
    /// error the guest then traps with. `f` must not call into wasm of this store.
    pub fn epoch_deadline_callback(
        &mut self,
        mut f: impl FnMut(Caller<'_, T>) -> Result<UpdateDeadline, Error> + Send + 'static,
    ) where
        T: 'static,
    {
        let erased = move |store: *mut StoreOpaque, caller_vmctx: *const u8| {
            // SAFETY: every `StoreOpaque` of a `Store<T>` is the first field of a `repr(C)`
            // `StoreInner<T>`, and the runtime calls this from a builtin of that store's
            // code, which has exclusive access to the store for the call's duration (the
            // callback itself was moved out of the store while it runs).
            let caller = Caller {
                inner: unsafe { &mut *store.cast::<StoreInner<T>>() },
                caller_vmctx,
            };
            f(caller)
        };
        self.inner_mut().opaque.epoch_behavior = EpochBehavior::Callback(Box::new(erased));
    }

    /// See [`StoreOpaque::set_fuel`].
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        self.inner_mut().opaque.set_fuel(fuel)
    }

    /// See [`StoreOpaque::get_fuel`].
    pub fn get_fuel(&self) -> Result<u64, Error> {
        self.inner_ref().opaque.get_fuel()
    }

    /// Makes the [`ResourceLimiter`] that `f` finds in the store's data decide, after the
    /// engine's static limits, every growth of the store's memories and tables and how many
    /// instances, memories and tables it holds (as Wasmtime's `Store::limiter`):
    ///
    /// ```ignore
    /// let mut store = Store::new(&engine, StoreLimits::new().memory_size(1 << 20));
    /// store.limiter(|limits| limits);
    /// ```
    pub fn limiter(
        &mut self,
        mut f: impl (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + 'static,
    ) where
        T: 'static,
    {
        // The data never moves (the store is on the heap) and is only reached through this
        // pointer while the store is borrowed exclusively, by the runtime or the API.
        let data = DataPtr(
            // SAFETY: the store's own allocation; the place is only projected, not read.
            unsafe { &raw mut (*self.inner.as_ptr()).data },
        );
        let access = move || {
            let data = &data;
            // SAFETY: see `StoreOpaque::limiter`: called while the store is exclusively
            // borrowed, so nothing else refers to the data.
            let limiter: *mut (dyn ResourceLimiter + '_) = f(unsafe { &mut *data.0 });
            limiter as LimiterPtr
        };
        self.inner_mut().opaque.limiter = Some(LimiterAccess(Box::new(access)));
    }

    /// See [`StoreOpaque::limits`].
    pub fn limits(&self) -> &StoreLimits {
        self.inner_ref().opaque.limits()
    }
}

pub(crate) mod sealed {
    /// Only the loader's store types implement the store access traits (host-function
    /// wrappers rely on every `StoreOpaque` living inside a `StoreInner<Data>`).
    pub trait Sealed {}
}

impl<T> sealed::Sealed for Store<T> {}
impl<T> sealed::Sealed for crate::api::func::Caller<'_, T> {}
impl<S: sealed::Sealed + ?Sized> sealed::Sealed for &S {}
impl<S: sealed::Sealed + ?Sized> sealed::Sealed for &mut S {}

/// Anything that gives shared access to a store: [`Store`], [`Caller`](crate::Caller), and
/// references to them.
pub trait AsStore: sealed::Sealed {
    /// The embedder data type.
    type Data;
    /// The type-erased store.
    fn as_store(&self) -> &StoreOpaque;
}

/// Anything that gives exclusive access to a store.
pub trait AsStoreMut: AsStore {
    /// The type-erased store, mutably.
    fn as_store_mut(&mut self) -> &mut StoreOpaque;
}

impl<T> AsStore for Store<T> {
    type Data = T;
    fn as_store(&self) -> &StoreOpaque {
        &self.inner_ref().opaque
    }
}

impl<T> AsStoreMut for Store<T> {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        &mut self.inner_mut().opaque
    }
}

impl<S: AsStore + ?Sized> AsStore for &S {
    type Data = S::Data;
    fn as_store(&self) -> &StoreOpaque {
        (**self).as_store()
    }
}

impl<S: AsStore + ?Sized> AsStore for &mut S {
    type Data = S::Data;
    fn as_store(&self) -> &StoreOpaque {
        (**self).as_store()
    }
}

impl<S: AsStoreMut + ?Sized> AsStoreMut for &mut S {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        (**self).as_store_mut()
    }
}

/// Creates the memory entries of host-created objects.
impl StoreOpaque {
    pub(crate) fn push_host_memory(&mut self, ty: MemoryType) -> Result<usize, Error> {
        self.check_counts(0, 1, 0)?;
        self.check_initial_sizes([&ty], [])?;
        let config = self.engine.config();
        let mem = fresh_memory(&ty, config.reservation_for(&ty), config.reservation(), None)
            .map_err(Error::Resource)?;
        let owned = Owned::new(VMMemoryDefinition {
            base: core::ptr::null_mut(),
            length: 0,
        });
        let mut entry = MemoryEntry {
            mem: MemoryStorage::Own(mem),
            ty,
            def: owned.as_ptr(),
            _owned: Some(owned),
        };
        entry.sync();
        self.entities.memories.push(entry);
        Ok(self.entities.memories.len() - 1)
    }

    /// Attaches `shared` as a memory of this store; returns its index.
    #[cfg(feature = "std")]
    pub(crate) fn push_shared_memory(
        &mut self,
        shared: Arc<SharedStorage>,
    ) -> Result<usize, Error> {
        self.check_counts(0, 1, 0)?;
        self.entities.memories.push(MemoryEntry {
            ty: shared.declared_ty(),
            def: shared.def_ptr(),
            mem: MemoryStorage::Shared(shared),
            _owned: None,
        });
        Ok(self.entities.memories.len() - 1)
    }

    pub(crate) fn push_host_table(&mut self, ty: TableType, init: usize) -> Result<usize, Error> {
        self.check_counts(0, 0, 1)?;
        self.check_initial_sizes([], [&ty])?;
        let elems = TableElements::new(&ty, init).map_err(Error::Resource)?;
        let owned = Owned::new(VMTableDefinition {
            base: core::ptr::null_mut(),
            length: 0,
        });
        let mut entry = TableEntry {
            elems,
            ty,
            def: owned.as_ptr(),
            _owned: Some(owned),
        };
        entry.sync();
        self.entities.tables.push(entry);
        Ok(self.entities.tables.len() - 1)
    }

    pub(crate) fn push_host_global(&mut self, ty: GlobalType, raw: [u8; 16]) -> usize {
        let owned = Owned::new(VMGlobal(raw));
        self.entities.globals.push(GlobalEntry {
            ty,
            ptr: owned.as_ptr(),
            _owned: Some(owned),
        });
        self.entities.globals.len() - 1
    }
}
