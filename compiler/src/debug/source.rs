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

/// A function inlined into another: its name, the call site, the wasm file offsets of its
/// code, and what was inlined into it.
pub struct Inlined {
    pub name: Vec<u8>,
    pub call_file: Option<usize>,
    pub call_line: u64,
    pub ranges: Vec<(u64, u64)>,
    pub children: Vec<Inlined>,
}

impl Inlined {
    /// Whether wasm file offset `at` is in this inlined code.
    pub fn contains(&self, at: u32) -> bool {
        let at = u64::from(at);
        self.ranges
            .iter()
            .any(|&(start, end)| start <= at && at < end)
    }
}

/// The module's line tables, by wasm file offset.
pub struct SourceLines {
    /// The inlined functions, outermost first.
    pub inlined: Vec<Inlined>,
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
            inlined: Vec::new(),
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
            let header = program.header().clone();
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
                let path = file_path(&dwarf, &unit, header, file, &comp_dir)?;
                let file = out.file_id(&mut file_ids, path);
                let line = row.line().map_or(0, |l| l.get());
                let column = match row.column() {
                    gimli::ColumnType::LeftEdge => 0,
                    gimli::ColumnType::Column(c) => c.get(),
                };
                open = Some((address, Line { file, line, column }));
            }
            // The inlined functions of every subprogram.
            let mut tree = unit.entries_tree(None).map_err(err)?;
            let root = tree.root().map_err(err)?;
            let mut ctx = InlineContext {
                dwarf: &dwarf,
                unit: &unit,
                header: &header,
                comp_dir: &comp_dir,
                code_start,
                file_ids: &mut file_ids,
            };
            let found = ctx.walk(root, &mut out)?;
            out.inlined.extend(found);
        }
        out.ranges.sort_by_key(|&(start, ..)| start);
        Ok(Some(out))
    }

    /// The index of the source file `path` in [`SourceLines::files`].
    fn file_id(
        &mut self,
        ids: &mut HashMap<(Vec<u8>, Vec<u8>), usize>,
        path: (Vec<u8>, Vec<u8>),
    ) -> usize {
        let next = ids.len();
        let id = *ids.entry(path.clone()).or_insert(next);
        if id == self.files.len() {
            self.files.push(path);
        }
        id
    }

    /// The source line of the operator at wasm file offset `offset`.
    pub fn at(&self, offset: u32) -> Option<Line> {
        let offset = u64::from(offset);
        let i = self.ranges.partition_point(|&(start, ..)| start <= offset);
        let &(_, end, line) = self.ranges.get(i.checked_sub(1)?)?;
        (offset < end).then_some(line)
    }
}

/// `(directory, name)` of a line table's file entry, the directory made absolute with the
/// unit's compilation directory.
fn file_path(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    header: &gimli::LineProgramHeader<Reader<'_>>,
    file: &gimli::FileEntry<Reader<'_>>,
    comp_dir: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CompileError> {
    let name = dwarf
        .attr_string(unit, file.path_name())
        .map_err(err)?
        .to_vec();
    let mut dir = match file.directory(header) {
        Some(d) => dwarf.attr_string(unit, d).map_err(err)?.to_vec(),
        None => Vec::new(),
    };
    if !dir.starts_with(b"/") && !comp_dir.is_empty() {
        dir = match dir.is_empty() {
            true => comp_dir.to_vec(),
            false => [comp_dir, b"/", &dir[..]].concat(),
        };
    }
    Ok((dir, name))
}

/// What reading the inlined functions of one unit needs.
struct InlineContext<'a, 'b> {
    dwarf: &'a gimli::Dwarf<Reader<'b>>,
    unit: &'a gimli::Unit<Reader<'b>>,
    header: &'a gimli::LineProgramHeader<Reader<'b>>,
    comp_dir: &'a [u8],
    code_start: u64,
    file_ids: &'a mut HashMap<(Vec<u8>, Vec<u8>), usize>,
}

impl<'b> InlineContext<'_, 'b> {
    /// The inlined functions at or below `node`.
    fn walk(
        &mut self,
        node: gimli::EntriesTreeNode<'_, '_, Reader<'b>>,
        out: &mut SourceLines,
    ) -> Result<Vec<Inlined>, CompileError> {
        let entry = node.entry().clone();
        let mut children = Vec::new();
        let mut iter = node.children();
        while let Some(child) = iter.next().map_err(err)? {
            children.extend(self.walk(child, out)?);
        }
        if entry.tag() != gimli::DW_TAG_inlined_subroutine {
            return Ok(children);
        }
        let name = match entry.attr_value(gimli::DW_AT_abstract_origin) {
            Some(gimli::AttributeValue::UnitRef(origin)) => {
                let origin = self.unit.entry(origin).map_err(err)?;
                match origin.attr_value(gimli::DW_AT_name) {
                    Some(n) => self.dwarf.attr_string(self.unit, n).map_err(err)?.to_vec(),
                    None => b"<inlined>".to_vec(),
                }
            }
            _ => b"<inlined>".to_vec(),
        };
        let call_file = match entry.attr_value(gimli::DW_AT_call_file) {
            Some(gimli::AttributeValue::FileIndex(i)) => match self.header.file(i) {
                Some(f) => {
                    let path = file_path(self.dwarf, self.unit, self.header, f, self.comp_dir)?;
                    Some(out.file_id(self.file_ids, path))
                }
                None => None,
            },
            _ => None,
        };
        let call_line = entry
            .attr_value(gimli::DW_AT_call_line)
            .and_then(|v| v.udata_value())
            .unwrap_or(0);
        let mut ranges = Vec::new();
        let mut iter = self.dwarf.die_ranges(self.unit, &entry).map_err(err)?;
        while let Some(r) = iter.next().map_err(err)? {
            ranges.push((self.code_start + r.begin, self.code_start + r.end));
        }
        Ok(vec![Inlined {
            name,
            call_file,
            call_line,
            ranges,
            children,
        }])
    }
}
