//! No epoch probe pages without virtual memory and signals: code compiled with fault-based
//! epoch checks needs signal-based traps, which this platform refuses at load.

/// Uninhabited: [`ProbePage::new`] always fails.
#[derive(Debug)]
pub(crate) enum ProbePage {}

impl ProbePage {
    pub fn new(_owner: usize) -> Result<ProbePage, alloc::string::String> {
        Err("fault-based epoch checks need signal handlers and virtual memory".into())
    }

    pub fn addr(&self) -> usize {
        match *self {}
    }

    pub fn arm(&self) {
        match *self {}
    }
}

/// Never called: no store here has signal-interrupted code.
pub(crate) fn interrupt(_thread: u64) {}
