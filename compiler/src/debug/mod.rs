//! Native DWARF for every artifact and linkable object, written with gimli: one compile unit
//! per module named `<module>.wasm`, a subprogram per function and trampoline (name, code
//! range), and a line table whose "line" for each native instruction is the wasm byte offset
//! (in the module file) of the operator it was compiled from. `addr2line`, `gdb` and `perf`
//! thus report `function at module.wasm:OFFSET`.
//!
//! With `-g` ([`source`]), the rows carry the module's own source lines instead, and the
//! unit the source's name, directory and language: `break file.c:LINE` and backtraces with
//! source lines work in the precompiled code.
//!
//! Addresses are relocations against `.text` and references between the debug sections are
//! relocations against those sections, so the system linker can merge several modules' (and
//! the host's) debug information into one executable.

pub mod source;

use crate::CompileError;
use gimli::write::{
    Address, AttributeValue, DwarfUnit, EndianVec, FileId, LineProgram, LineString, Range,
    RangeList, RelocateWriter, Relocation, RelocationTarget, Sections, UnitEntryId,
};
use gimli::{Encoding, Format, LineEncoding, LittleEndian};
use std::collections::HashMap;

/// One function or trampoline: name, start and length in `.text`, and its line rows
/// (`(code offset from the start, wasm offset)`, sorted by code offset); for a wasm
/// function its body (offset and length in the module) and the calls Precast inlined into
/// it. The functions come first, in defined-index order.
pub struct Func<'a> {
    pub name: &'a str,
    pub start: u32,
    pub len: u32,
    pub lines: &'a [(u32, u32)],
    pub body: (u32, u32),
    pub inlined: &'a [crate::inline::Inlined],
}

/// What a relocated field refers to.
pub enum Target {
    /// An offset into `.text`.
    Text,
    /// An offset into another debug section, by name.
    Section(&'static str),
}

/// A field to relocate: offset in its section, size in bytes, target and addend.
pub struct Reloc {
    pub offset: u32,
    pub size: u8,
    pub target: Target,
    pub addend: i64,
}

/// One debug section: name, bytes, relocations.
pub struct DebugSection {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub relocs: Vec<Reloc>,
}

/// A gimli writer that collects the fields it writes against symbols and sections (the
/// debug sections here, the unwind tables in [`crate::unwind`]).
#[derive(Clone)]
pub(crate) struct Relocating {
    pub out: EndianVec<LittleEndian>,
    pub relocs: Vec<Relocation>,
}

impl Default for Relocating {
    fn default() -> Self {
        Relocating {
            out: EndianVec::new(LittleEndian),
            relocs: Vec::new(),
        }
    }
}

impl RelocateWriter for Relocating {
    type Writer = EndianVec<LittleEndian>;
    fn writer(&self) -> &Self::Writer {
        &self.out
    }
    fn writer_mut(&mut self) -> &mut Self::Writer {
        &mut self.out
    }
    fn relocate(&mut self, relocation: Relocation) {
        self.relocs.push(relocation);
    }
}

fn err(e: impl std::fmt::Display) -> CompileError {
    CompileError::Artifact(format!("debug information: {e}"))
}

/// Bytes DWARF can hold as a string: no NUL, not empty.
fn dwarf_string_bytes(s: &[u8]) -> Vec<u8> {
    match s
        .iter()
        .map(|&b| if b == 0 { b'_' } else { b })
        .collect::<Vec<u8>>()
    {
        s if s.is_empty() => b".".to_vec(),
        s => s,
    }
}

/// A string DWARF can hold: no NUL, not empty.
fn dwarf_string(s: &str, empty: &str) -> Vec<u8> {
    match s.replace('\0', "\\0") {
        s if s.is_empty() => empty.as_bytes().to_vec(),
        s => s.into_bytes(),
    }
}

const TEXT_SYMBOL: usize = 0;

/// `(start, end, wasm offset)` of each native line row of `f`, offsets from its start.
fn rows_of(f: &Func<'_>) -> Vec<(u32, u32, u32)> {
    let ends = f.lines.iter().skip(1).map(|&(at, _)| at).chain([f.len]);
    f.lines
        .iter()
        .zip(ends)
        .map(|(&(at, wasm), end)| (at, end, wasm))
        .collect()
}

/// Adds the inlined functions of a function to its subprogram.
struct Inlining<'a> {
    dwarf: &'a mut DwarfUnit,
    origins: &'a mut HashMap<Vec<u8>, UnitEntryId>,
    files: &'a [FileId],
    rows: Vec<(u32, u32, u32)>,
    start: u32,
}

impl Inlining<'_> {
    /// `node` (and what is inlined into it) under `parent`, if any of the function's code
    /// comes from it.
    fn add(&mut self, parent: UnitEntryId, node: &source::Inlined) {
        let mut native: Vec<(u32, u32)> = Vec::new();
        for &(start, end, wasm) in &self.rows {
            if !node.contains(wasm) || start >= end {
                continue;
            }
            match native.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => native.push((start, end)),
            }
        }
        if native.is_empty() {
            return;
        }
        let root = self.dwarf.unit.root();
        let origin = *self.origins.entry(node.name.clone()).or_insert_with(|| {
            let o = self.dwarf.unit.add(root, gimli::DW_TAG_subprogram);
            let entry = self.dwarf.unit.get_mut(o);
            entry.set(
                gimli::DW_AT_name,
                AttributeValue::String(dwarf_string_bytes(&node.name)),
            );
            entry.set(
                gimli::DW_AT_inline,
                AttributeValue::Inline(gimli::DW_INL_inlined),
            );
            o
        });
        let id = self
            .dwarf
            .unit
            .add(parent, gimli::DW_TAG_inlined_subroutine);
        let ranges = match native.len() {
            1 => None,
            _ => Some(
                self.dwarf.unit.ranges.add(RangeList(
                    native
                        .iter()
                        .map(|&(a, b)| Range::OffsetPair {
                            begin: u64::from(self.start + a),
                            end: u64::from(self.start + b),
                        })
                        .collect(),
                )),
            ),
        };
        let entry = self.dwarf.unit.get_mut(id);
        entry.set(
            gimli::DW_AT_abstract_origin,
            AttributeValue::UnitRef(origin),
        );
        if let Some(file) = node.call_file.and_then(|f| self.files.get(f)) {
            entry.set(
                gimli::DW_AT_call_file,
                AttributeValue::FileIndex(Some(*file)),
            );
        }
        entry.set(
            gimli::DW_AT_call_line,
            AttributeValue::Udata(node.call_line),
        );
        match ranges {
            Some(r) => entry.set(gimli::DW_AT_ranges, AttributeValue::RangeListRef(r)),
            None => {
                let (a, b) = native[0];
                entry.set(
                    gimli::DW_AT_low_pc,
                    AttributeValue::Address(text(self.start + a)),
                );
                entry.set(
                    gimli::DW_AT_high_pc,
                    AttributeValue::Udata(u64::from(b - a)),
                );
            }
        }
        for child in &node.children {
            self.add(id, child);
        }
    }
}

/// The `DW_TAG_inlined_subroutine` entries of the calls inlined into `f` (subprogram `id`),
/// one per callee (its first call site), nested where the call is in an inlined callee's
/// body. A callee's native ranges are the rows of `f` at wasm offsets in its body, and
/// those of what is nested in it. `defined` are the module's functions by defined index.
fn precast_inlined(
    dwarf: &mut DwarfUnit,
    origins: &mut HashMap<Vec<u8>, UnitEntryId>,
    f: &Func<'_>,
    id: UnitEntryId,
    rows: &[(u32, u32, u32)],
    defined: &[Func<'_>],
    row_of: &dyn Fn(u32) -> (FileId, u64, u64),
) {
    let in_body = |body: (u32, u32), at: u32| at >= body.0 && at - body.0 < body.1;
    // The defined function whose body holds wasm offset `at`.
    let holder = |at: u32| defined.iter().position(|g| in_body(g.body, at));
    let own = holder(f.body.0);
    // One record per callee, by defined index: (callee, call site, parent record).
    let mut records: Vec<(usize, u32, Option<usize>)> = Vec::new();
    for call in f.inlined {
        let callee = call.callee as usize;
        if callee >= defined.len() {
            continue;
        }
        if Some(callee) == own || records.iter().any(|r| r.0 == callee) {
            continue;
        }
        let caller = holder(call.call_site);
        let parent = records.iter().position(|r| Some(r.0) == caller);
        records.push((callee, call.call_site, parent));
    }
    // Native ranges of each record: its callee's rows, then its children's.
    let mut ranges: Vec<Vec<(u32, u32)>> = records
        .iter()
        .map(|&(callee, _, _)| {
            rows.iter()
                .filter(|&&(a, b, wasm)| a < b && in_body(defined[callee].body, wasm))
                .map(|&(a, b, _)| (a, b))
                .collect()
        })
        .collect();
    for r in (0..records.len()).rev() {
        if let Some(p) = records[r].2 {
            let child = ranges[r].clone();
            ranges[p].extend(child);
        }
    }
    let mut entries: Vec<Option<UnitEntryId>> = vec![None; records.len()];
    let root = dwarf.unit.root();
    for (r, &(callee, call_site, parent)) in records.iter().enumerate() {
        let mut native = std::mem::take(&mut ranges[r]);
        native.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (a, b) in native {
            match merged.last_mut() {
                Some(last) if last.1 >= a => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        if merged.is_empty() {
            continue;
        }
        let name = dwarf_string(defined[callee].name, "?");
        let origin = *origins.entry(name.clone()).or_insert_with(|| {
            let o = dwarf.unit.add(root, gimli::DW_TAG_subprogram);
            let entry = dwarf.unit.get_mut(o);
            entry.set(gimli::DW_AT_name, AttributeValue::String(name));
            entry.set(
                gimli::DW_AT_inline,
                AttributeValue::Inline(gimli::DW_INL_inlined),
            );
            o
        });
        let under = parent.and_then(|p| entries[p]).unwrap_or(id);
        let e = dwarf.unit.add(under, gimli::DW_TAG_inlined_subroutine);
        entries[r] = Some(e);
        let list = match merged.len() {
            1 => None,
            _ => Some(
                dwarf.unit.ranges.add(RangeList(
                    merged
                        .iter()
                        .map(|&(a, b)| Range::OffsetPair {
                            begin: u64::from(f.start + a),
                            end: u64::from(f.start + b),
                        })
                        .collect(),
                )),
            ),
        };
        let entry = dwarf.unit.get_mut(e);
        entry.set(
            gimli::DW_AT_abstract_origin,
            AttributeValue::UnitRef(origin),
        );
        if call_site != u32::MAX {
            let (file, line, column) = row_of(call_site);
            entry.set(
                gimli::DW_AT_call_file,
                AttributeValue::FileIndex(Some(file)),
            );
            entry.set(gimli::DW_AT_call_line, AttributeValue::Udata(line));
            if column != 0 {
                entry.set(gimli::DW_AT_call_column, AttributeValue::Udata(column));
            }
        }
        match list {
            Some(l) => entry.set(gimli::DW_AT_ranges, AttributeValue::RangeListRef(l)),
            None => {
                let (a, b) = merged[0];
                entry.set(
                    gimli::DW_AT_low_pc,
                    AttributeValue::Address(text(f.start + a)),
                );
                entry.set(
                    gimli::DW_AT_high_pc,
                    AttributeValue::Udata(u64::from(b - a)),
                );
            }
        }
    }
}

fn text(offset: u32) -> Address {
    Address::Symbol {
        symbol: TEXT_SYMBOL,
        addend: i64::from(offset),
    }
}

/// The debug sections of a module named `module` (empty: `module`) whose code is `funcs`,
/// with the module's own source lines when there are `source` lines.
pub fn sections(
    module: &str,
    funcs: &[Func<'_>],
    source: Option<&source::SourceLines>,
    text_len: u32,
    address_size: u8,
) -> Result<Vec<DebugSection>, CompileError> {
    let encoding = Encoding {
        format: Format::Dwarf32,
        version: 4,
        address_size,
    };
    let file_name = dwarf_string(&format!("{module}.wasm"), "module.wasm");
    let mut dwarf = DwarfUnit::new(encoding);
    let mut program = LineProgram::new(
        encoding,
        LineEncoding::default(),
        LineString::String(b".".to_vec()),
        None,
        LineString::String(file_name.clone()),
        None,
    );
    let dir = program.default_directory();
    let wasm_file = program.add_file(LineString::String(file_name.clone()), dir, None);
    let source_files: Vec<_> = source.map_or(Vec::new(), |s| {
        s.files
            .iter()
            .map(|(d, name)| {
                let d = match d.is_empty() {
                    true => dir,
                    false => program.add_directory(LineString::String(dwarf_string_bytes(d))),
                };
                program.add_file(LineString::String(dwarf_string_bytes(name)), d, None)
            })
            .collect()
    });
    // The row of a wasm offset: its source line with `-g` where the module has one, else the
    // offset itself as the line of `<module>.wasm`.
    let row_of = |wasm: u32| match source.and_then(|s| s.at(wasm)) {
        Some(l) => (source_files[l.file], l.line, l.column),
        None => (wasm_file, u64::from(wasm), 0),
    };
    for f in funcs.iter().filter(|f| !f.lines.is_empty()) {
        program.begin_sequence(Some(text(f.start)));
        let mut last = None;
        for &(at, wasm) in f.lines {
            let (file, line, column) = row_of(wasm);
            if last == Some((file, line, column)) {
                continue;
            }
            last = Some((file, line, column));
            let row = program.row();
            row.address_offset = u64::from(at);
            row.file = file;
            row.line = line;
            row.column = column;
            program.generate_row();
        }
        program.end_sequence(u64::from(f.len));
    }
    dwarf.unit.line_program = program;

    let root = dwarf.unit.root();
    let cu = dwarf.unit.get_mut(root);
    let strings = &mut dwarf.strings;
    cu.set(
        gimli::DW_AT_producer,
        AttributeValue::StringRef(strings.add(format!("Precast {}", env!("CARGO_PKG_VERSION")))),
    );
    let (name, comp_dir, language) = match source.and_then(|s| s.unit.clone()) {
        Some((name, dir, language)) => (
            dwarf_string_bytes(&name),
            dwarf_string_bytes(&dir),
            language,
        ),
        // No DW_LANG for WebAssembly: the wasm operators are the "source".
        None => (file_name, b".".to_vec(), gimli::DW_LANG_Mips_Assembler),
    };
    cu.set(
        gimli::DW_AT_name,
        AttributeValue::StringRef(strings.add(name)),
    );
    cu.set(
        gimli::DW_AT_comp_dir,
        AttributeValue::StringRef(strings.add(comp_dir)),
    );
    cu.set(gimli::DW_AT_language, AttributeValue::Language(language));
    cu.set(gimli::DW_AT_low_pc, AttributeValue::Address(text(0)));
    cu.set(
        gimli::DW_AT_high_pc,
        AttributeValue::Udata(u64::from(text_len)),
    );
    cu.set(gimli::DW_AT_stmt_list, AttributeValue::LineProgramRef);
    // The inlined functions by the start of their code, and the abstract subprogram each
    // inlined function's entries refer to (one per name).
    let mut inlined: Vec<(u64, &source::Inlined)> = source.map_or(Vec::new(), |s| {
        s.inlined
            .iter()
            .filter_map(|n| n.ranges.iter().map(|r| r.0).min().map(|m| (m, n)))
            .collect()
    });
    inlined.sort_by_key(|n| n.0);
    let mut origins: HashMap<Vec<u8>, UnitEntryId> = HashMap::new();
    let mut subprograms = Vec::with_capacity(funcs.len());
    for f in funcs {
        let id = dwarf.unit.add(root, gimli::DW_TAG_subprogram);
        subprograms.push(id);
        let sub = dwarf.unit.get_mut(id);
        // Inline, not in `.debug_str`: one relocation less per function.
        let name = AttributeValue::String(dwarf_string(f.name, "?"));
        sub.set(gimli::DW_AT_name, name);
        sub.set(gimli::DW_AT_external, AttributeValue::Flag(true));
        sub.set(gimli::DW_AT_low_pc, AttributeValue::Address(text(f.start)));
        sub.set(
            gimli::DW_AT_high_pc,
            AttributeValue::Udata(u64::from(f.len)),
        );
        if let Some(&(_, wasm)) = f.lines.first() {
            let (file, line, _) = row_of(wasm);
            sub.set(
                gimli::DW_AT_decl_file,
                AttributeValue::FileIndex(Some(file)),
            );
            sub.set(gimli::DW_AT_decl_line, AttributeValue::Udata(line));
        }
        if !inlined.is_empty() && !f.lines.is_empty() {
            let mut inlining = Inlining {
                dwarf: &mut dwarf,
                origins: &mut origins,
                files: &source_files,
                rows: rows_of(f),
                start: f.start,
            };
            let (lo, hi) = f
                .lines
                .iter()
                .fold((u32::MAX, 0), |(lo, hi), &(_, w)| (lo.min(w), hi.max(w)));
            let first = inlined.partition_point(|n| n.0 < u64::from(lo));
            for (_, node) in inlined[first..].iter().take_while(|n| n.0 <= u64::from(hi)) {
                inlining.add(id, node);
            }
        }
    }

    // The calls Precast inlined: entries under the caller's subprogram (or under the inlined
    // function that made the call), their code the rows from the callee's body.
    let ndefined = funcs.iter().take_while(|f| f.body != (0, 0)).count();
    let defined = &funcs[..ndefined];
    for (f, &id) in defined.iter().zip(&subprograms) {
        if f.inlined.is_empty() {
            continue;
        }
        let rows = rows_of(f);
        precast_inlined(&mut dwarf, &mut origins, f, id, &rows, defined, &row_of);
    }

    let mut out = Sections::new(Relocating::default());
    dwarf.write(&mut out).map_err(err)?;
    let mut result = Vec::new();
    out.for_each(|id, w| {
        if w.out.slice().is_empty() {
            return Ok(());
        }
        let relocs = w
            .relocs
            .iter()
            .map(|r| {
                let target = match r.target {
                    RelocationTarget::Symbol(_) => Target::Text,
                    RelocationTarget::Section(s) => Target::Section(s.name()),
                };
                Ok(Reloc {
                    offset: u32::try_from(r.offset).map_err(err)?,
                    size: r.size,
                    target,
                    addend: r.addend,
                })
            })
            .collect::<Result<Vec<_>, CompileError>>()?;
        result.push(DebugSection {
            name: id.name(),
            bytes: w.out.slice().to_vec(),
            relocs,
        });
        Ok::<_, CompileError>(())
    })?;
    Ok(result)
}
