//! Resource limits: how far a store's memories and tables may grow and how many instances,
//! memories and tables it may hold. [`ResourceLimiter`] is the embedder's policy
//! ([`Store::limiter`](crate::Store::limiter)); [`StoreLimits`] the ready-made one, also used
//! as the engine-wide static limits ([`Config::limits`](crate::Config::limits)).

use crate::runtime::error::Error;
pub use crate::runtime::error::{Limit, LimitExceeded};

/// Instances a store may hold by default.
pub const DEFAULT_INSTANCE_LIMIT: usize = 10_000;
/// Tables a store may hold by default.
pub const DEFAULT_TABLE_LIMIT: usize = 10_000;
/// Memories a store may hold by default.
pub const DEFAULT_MEMORY_LIMIT: usize = 10_000;

/// Decides whether a store's memories and tables may grow, and how many instances, memories
/// and tables the store may hold.
///
/// Asked before every growth: `memory.grow` and `table.grow` in wasm, [`Memory::grow`] and
/// [`Table::grow`] from the host, and the creation of each memory and table (from 0 to its
/// initial size) when an instance or a host object is created. Growth beyond the type's
/// declared maximum fails before the limiter is asked.
///
/// [`Memory::grow`]: crate::Memory::grow
/// [`Table::grow`]: crate::Table::grow
pub trait ResourceLimiter: Send {
    /// A memory grows from `current` to `desired` bytes (`maximum`: its declared maximum in
    /// bytes). `Ok(true)` lets it grow; `Ok(false)` refuses: `memory.grow` returns -1, and
    /// creating a memory fails; `Err` traps the guest (or fails the host call) with it.
    fn memory_growing(
        &mut self,
        current: u64,
        desired: u64,
        maximum: Option<u64>,
    ) -> Result<bool, Error>;

    /// A table grows from `current` to `desired` elements, as
    /// [`memory_growing`](Self::memory_growing).
    fn table_growing(
        &mut self,
        current: u64,
        desired: u64,
        maximum: Option<u64>,
    ) -> Result<bool, Error>;

    /// How many instances the store may hold.
    fn instances(&self) -> usize {
        DEFAULT_INSTANCE_LIMIT
    }

    /// How many tables the store may hold (defined by its instances or created by the host).
    fn tables(&self) -> usize {
        DEFAULT_TABLE_LIMIT
    }

    /// How many memories the store may hold (defined by its instances, created by the host
    /// or attached shared memories).
    fn memories(&self) -> usize {
        DEFAULT_MEMORY_LIMIT
    }

    /// The limit this limiter refused last, if it can name it: errors for refused memories
    /// and tables then name it. Default: `None` (the error says the limiter refused).
    fn exceeded(&self) -> Option<LimitExceeded> {
        None
    }
}

/// The ready-made [`ResourceLimiter`]: a maximum size for each memory and each table, counts
/// of instances, tables and memories, and whether refused growth traps. Records the last
/// limit reached ([`StoreLimits::exceeded`]), so a host can tell a guest that failed after
/// `memory.grow` returned -1 what it ran into.
#[derive(Clone, Debug)]
pub struct StoreLimits {
    /// Bytes each memory may have (`None`: no limit but its type's and its reservation).
    pub memory_size: Option<u64>,
    /// Elements each table may have (`None`: no limit but its type's).
    pub table_elements: Option<u64>,
    /// Instances the store may hold.
    pub instances: usize,
    /// Tables the store may hold.
    pub tables: usize,
    /// Memories the store may hold.
    pub memories: usize,
    /// Growth beyond a limit traps with [`Error::Limit`] instead of failing (-1).
    pub trap_on_grow_failure: bool,
    exceeded: Option<LimitExceeded>,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            memory_size: None,
            table_elements: None,
            instances: DEFAULT_INSTANCE_LIMIT,
            tables: DEFAULT_TABLE_LIMIT,
            memories: DEFAULT_MEMORY_LIMIT,
            trap_on_grow_failure: false,
            exceeded: None,
        }
    }
}

impl StoreLimits {
    /// No limits beyond the default counts.
    pub fn new() -> StoreLimits {
        StoreLimits::default()
    }

    /// Sets [`StoreLimits::memory_size`].
    pub fn memory_size(mut self, bytes: u64) -> Self {
        self.memory_size = Some(bytes);
        self
    }

    /// Sets [`StoreLimits::table_elements`].
    pub fn table_elements(mut self, elements: u64) -> Self {
        self.table_elements = Some(elements);
        self
    }

    /// Sets [`StoreLimits::instances`].
    pub fn instances(mut self, n: usize) -> Self {
        self.instances = n;
        self
    }

    /// Sets [`StoreLimits::tables`].
    pub fn tables(mut self, n: usize) -> Self {
        self.tables = n;
        self
    }

    /// Sets [`StoreLimits::memories`].
    pub fn memories(mut self, n: usize) -> Self {
        self.memories = n;
        self
    }

    /// Sets [`StoreLimits::trap_on_grow_failure`].
    pub fn trap_on_grow_failure(mut self, trap: bool) -> Self {
        self.trap_on_grow_failure = trap;
        self
    }

    /// The last limit reached, if any.
    pub fn exceeded(&self) -> Option<LimitExceeded> {
        self.exceeded
    }

    fn growing(
        &mut self,
        limit: Option<u64>,
        desired: u64,
        make: fn(u64) -> Limit,
    ) -> Result<bool, Error> {
        match limit {
            Some(n) if desired > n => {
                let e = LimitExceeded {
                    limit: make(n),
                    requested: desired,
                };
                self.record(e);
                if self.trap_on_grow_failure {
                    Err(Error::Limit(e))
                } else {
                    Ok(false)
                }
            }
            _ => Ok(true),
        }
    }

    /// Records `e` as the last limit reached.
    pub(crate) fn record(&mut self, e: LimitExceeded) {
        self.exceeded = Some(e);
    }
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(&mut self, _: u64, desired: u64, _: Option<u64>) -> Result<bool, Error> {
        self.growing(self.memory_size, desired, Limit::MemorySize)
    }

    fn table_growing(&mut self, _: u64, desired: u64, _: Option<u64>) -> Result<bool, Error> {
        self.growing(self.table_elements, desired, Limit::TableElements)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }

    fn exceeded(&self) -> Option<LimitExceeded> {
        self.exceeded
    }
}
