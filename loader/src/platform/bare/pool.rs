//! Without the Linux platform there is no pooling allocator: the pool types exist so the
//! core's allocation paths have one shape, but they are uninhabited, so no value of them can
//! be made and every path through them is statically unreachable. An engine configured with
//! [`Config::pooling`](crate::Config) is refused at creation.

use crate::platform::{PoolConfig, Reservation};
use crate::prelude::*;

/// Cannot exist.
#[derive(Debug)]
pub(crate) enum Never {}

/// The (absent) instance pool.
#[derive(Debug)]
pub(crate) struct Pool {
    never: Never,
}

/// A VMContext block of the pool: never taken.
#[derive(Debug)]
pub(crate) struct VMContextSlot {
    pub ptr: *mut u8,
    pub funcrefs_of: u64,
    never: Never,
}

impl Pool {
    pub fn new(_limits: &PoolConfig, _memories: Reservation) -> Result<Pool, String> {
        Err("pooling needs the Linux platform (the `std` feature)".into())
    }

    pub fn memory_cache(_keep: u32, _memories: Reservation) -> Result<Pool, String> {
        Err("the memory cache needs the Linux platform (the `std` feature)".into())
    }

    pub fn limits(&self) -> &PoolConfig {
        match self.never {}
    }

    pub fn take_vmctx(&self, _size: usize) -> Result<VMContextSlot, String> {
        match self.never {}
    }

    pub fn release_vmctx(&self, slot: VMContextSlot) {
        match slot.never {}
    }

    pub fn take_table(&self) -> Result<Vec<usize>, String> {
        match self.never {}
    }

    pub fn release_table(&self, _v: Vec<usize>) {
        match self.never {}
    }
}
