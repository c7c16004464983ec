//! The module's own DWARF (`precast compile -g`): C, C++, Rust or Zig compiled to wasm with
//! debug information carry `.debug_*` custom sections whose line tables map code-section
//! offsets to source files and lines. Read with gimli, they become the native line table's
//! rows: each instruction gets the source line of the wasm operator it was compiled from.

use crate::CompileError;
use gimli::{EndianSlice, LittleEndian, SectionId};
use std::collections::HashMap;

type Reader<'a> = EndianSlice<'a, LittleEndian>;

/// A source line: index into [`SourceLines::files`], line (0: none), column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub file: usize,
    pub line: u64,
    pub column: u64,
}

/// The module's line tables, by wasm file offset.
pub struct SourceLines {
    /// `(directory, file name)` of every source file.
    pub files: Vec<(Vec<u8>, Vec<u8>)>,
    /// Name, directory and language of the first compile unit.
    pub unit: Option<(Vec<u8>, Vec<u8>, gimli::DwLang)>,
    /// `[start, end)` wasm file offsets and their line, sorted by start.
    ranges: Vec<(u64, u64, Line)>,
}

fn err(e: impl std::fmt::Display) -> CompileError {
    CompileError::Artifact(format!("the module's DWARF (-g): {e}"))
}

impl SourceLines {
    /// The line tables of `wasm`; `None` when it has no `.debug_line`.
    pub fn read(wasm: &[u8]) -> Result<Option<SourceLines>, CompileError> {
        let mut sections: HashMap<&str, &[u8]> = HashMap::new();
        let mut code_start = None;
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload? {
                wasmparser::Payload::CustomSection(c) if c.name().starts_with(".debug_") => {
                    sections.insert(c.name(), c.data());
                }
                // DWARF addresses are offsets from the start of the code section's contents.
                wasmparser::Payload::CodeSectionStart { range, .. } => {
                    code_start = Some(range.start as u64)
                }
                _ => {}
            }
        }
        let (Some(code_start), true) = (code_start, sections.contains_key(".debug_line")) else {
            return Ok(None);
        };
        let load = |id: SectionId| -> Result<Reader<'_>, gimli::Error> {
            Ok(EndianSlice::new(
                sections.get(id.name()).copied().unwrap_or(&[]),
                LittleEndian,
            ))
        };
        let dwarf = gimli::Dwarf::load(load).map_err(err)?;
        let mut out = SourceLines {
            files: Vec::new(),
            unit: None,
            ranges: Vec::new(),
        };
        let mut file_ids: HashMap<(Vec<u8>, Vec<u8>), usize> = HashMap::new();
        let mut units = dwarf.units();
        while let Some(header) = units.next().map_err(err)? {
            let unit = dwarf.unit(header).map_err(err)?;
            let comp_dir = unit.comp_dir.map(|d| d.to_vec()).unwrap_or_default();
            if out.unit.is_none() {
                let mut entries = unit.entries();
                let language = match entries.next_dfs().map_err(err)? {
                    Some(root) => match root.attr_value(gimli::DW_AT_language) {
                        Some(gimli::AttributeValue::Language(l)) => l,
                        _ => gimli::DW_LANG_C99,
                    },
                    None => gimli::DW_LANG_C99,
                };
                let name = unit.name.map(|n| n.to_vec()).unwrap_or_default();
                out.unit = Some((name, comp_dir.clone(), language));
            }
            let Some(program) = unit.line_program.clone() else {
                continue;
            };
            let mut rows = program.rows();
            let mut open: Option<(u64, Line)> = None;
            while let Some((header, row)) = rows.next_row().map_err(err)? {
                let address = code_start + row.address();
                if let Some((start, line)) = open.take()
                    && address > start
                {
                    out.ranges.push((start, address, line));
                }
                if row.end_sequence() {
                    continue;
                }
                let Some(file) = row.file(header) else {
                    continue;
                };
                let name = dwarf
                    .attr_string(&unit, file.path_name())
                    .map_err(err)?
                    .to_vec();
                let mut dir = match file.directory(header) {
                    Some(d) => dwarf.attr_string(&unit, d).map_err(err)?.to_vec(),
                    None => Vec::new(),
                };
                if !dir.starts_with(b"/") && !comp_dir.is_empty() {
                    dir = match dir.is_empty() {
                        true => comp_dir.clone(),
                        false => [&comp_dir[..], b"/", &dir[..]].concat(),
                    };
                }
                let next = file_ids.len();
                let file = *file_ids.entry((dir.clone(), name.clone())).or_insert(next);
                if file == out.files.len() {
                    out.files.push((dir, name));
                }
                let line = row.line().map_or(0, |l| l.get());
                let column = match row.column() {
                    gimli::ColumnType::LeftEdge => 0,
                    gimli::ColumnType::Column(c) => c.get(),
                };
                open = Some((address, Line { file, line, column }));
            }
        }
        out.ranges.sort_by_key(|&(start, ..)| start);
        Ok(Some(out))
    }

    /// The source line of the operator at wasm file offset `offset`.
    pub fn at(&self, offset: u32) -> Option<Line> {
        let offset = u64::from(offset);
        let i = self.ranges.partition_point(|&(start, ..)| start <= offset);
        let &(_, end, line) = self.ranges.get(i.checked_sub(1)?)?;
        (offset < end).then_some(line)
    }
}
