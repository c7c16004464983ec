//! The trap error reported to embedders, with its symbolized backtrace.

use crate::prelude::*;
use crate::runtime::module::LoadedModule;
use core::fmt;
use precast_format::TrapCode;
use precast_format::tables::{FuncTable, InlineTable};

/// One wasm frame of a trap backtrace, innermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Name of the module (from its name section), if it has one.
    pub module_name: Option<String>,
    /// Function index in the module's whole function index space.
    pub func_index: u32,
    /// Function name from the name section, if any.
    pub func_name: Option<String>,
    /// Offset of the frame's pc from the start of the module's `.text`.
    pub text_offset: u32,
}

impl FrameInfo {
    /// The function's display name: its name-section name or `wasm-function[N]`.
    pub fn display_name(&self) -> String {
        display_name(self.func_name.as_deref(), self.func_index)
    }
}

/// The display name of function `index` with name-section name `name`: the name, or
/// `wasm-function[N]` when it has none (or an empty one).
pub(crate) fn display_name(name: Option<&str>, index: u32) -> String {
    match name {
        Some(n) if !n.is_empty() => n.into(),
        _ => format!("wasm-function[{index}]"),
    }
}

/// Wasm execution stopped abnormally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    code: TrapCode,
    backtrace: Vec<FrameInfo>,
}

impl Trap {
    /// A trap with the given code and backtrace.
    pub fn new(code: TrapCode, backtrace: Vec<FrameInfo>) -> Trap {
        Trap { code, backtrace }
    }

    /// Why execution stopped.
    pub fn code(&self) -> TrapCode {
        self.code
    }

    /// The spec-style message (`"integer divide by zero"`, ...).
    pub fn message(&self) -> &'static str {
        self.code.message()
    }

    /// Wasm frames at the time of the trap, innermost first.
    pub fn backtrace(&self) -> &[FrameInfo] {
        &self.backtrace
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.code.message())?;
        if !self.backtrace.is_empty() {
            f.write_str("\nwasm backtrace:")?;
            for (i, frame) in self.backtrace.iter().enumerate() {
                write!(
                    f,
                    "\n  {i:>3}: {:#8x} - {}!{}",
                    frame.text_offset,
                    frame.module_name.as_deref().unwrap_or("<unknown>"),
                    frame.display_name()
                )?;
            }
        }
        Ok(())
    }
}

impl core::error::Error for Trap {}

/// Maps raw program counters (the faulting pc first, then return addresses) to wasm frames,
/// using the modules in `modules`. Pcs outside wasm functions (trampolines, unknown code) are
/// skipped.
pub(crate) fn symbolize<'a>(
    pcs: &[usize],
    modules: impl Iterator<Item = &'a LoadedModule> + Clone,
) -> Vec<FrameInfo> {
    let mut frames = Vec::new();
    for (i, &pc) in pcs.iter().enumerate() {
        // Return addresses point after the call; look up the call instruction itself.
        let lookup = if i == 0 { pc } else { pc.wrapping_sub(1) };
        let Some(module) = modules.clone().find(|m| m.text_contains(lookup)) else {
            continue;
        };
        let offset = lookup - module.text_start();
        let Ok(offset) = u32::try_from(offset) else {
            continue;
        };
        let Some(funcs) = FuncTable::new(module.funcs_bytes()) else {
            continue;
        };
        let Some(defined) = funcs.func_at(offset) else {
            continue;
        };
        let info = module.info();
        let Some(index) = u32::try_from(defined)
            .ok()
            .and_then(|d| d.checked_add(info.num_imported_funcs))
        else {
            continue;
        };
        let text_offset = u32::try_from(pc - module.text_start()).unwrap_or(offset);
        // Functions inlined at this pc are frames of their own, innermost first.
        let inlined = InlineTable::new(module.inlines_bytes())
            .into_iter()
            .flat_map(|t| t.frames_at(offset));
        for index in inlined
            .filter_map(|d| d.checked_add(info.num_imported_funcs))
            .chain(core::iter::once(index))
        {
            frames.push(FrameInfo {
                module_name: info.name.clone(),
                func_index: index,
                func_name: module.func_name(index).map(str::to_string),
                text_offset,
            });
        }
    }
    frames
}
