//! Native DWARF for every artifact and linkable object, written with gimli: one compile unit
//! per module named `<module>.wasm`, a subprogram per function and trampoline (name, code
//! range), and a line table whose "line" for each native instruction is the wasm byte offset
//! (in the module file) of the operator it was compiled from. `addr2line`, `gdb` and `perf`
//! thus report `function at module.wasm:OFFSET`.
//!
//! Addresses are relocations against `.text` and references between the debug sections are
//! relocations against those sections, so the system linker can merge several modules' (and
//! the host's) debug information into one executable.

use crate::CompileError;
use gimli::write::{
    Address, AttributeValue, DwarfUnit, EndianVec, LineProgram, LineString, RelocateWriter,
    Relocation, RelocationTarget, Sections,
};
use gimli::{Encoding, Format, LineEncoding, LittleEndian};

/// One function or trampoline: name, start and length in `.text`, and its line rows
/// (`(code offset from the start, wasm offset)`, sorted by code offset).
pub struct Func<'a> {
    pub name: &'a str,
    pub start: u32,
    pub len: u32,
    pub lines: &'a [(u32, u32)],
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

#[derive(Clone)]
struct Relocating {
    out: EndianVec<LittleEndian>,
    relocs: Vec<Relocation>,
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

/// A string DWARF can hold: no NUL, not empty.
fn dwarf_string(s: &str, empty: &str) -> Vec<u8> {
    match s.replace('\0', "\\0") {
        s if s.is_empty() => empty.as_bytes().to_vec(),
        s => s.into_bytes(),
    }
}

const TEXT_SYMBOL: usize = 0;

fn text(offset: u32) -> Address {
    Address::Symbol {
        symbol: TEXT_SYMBOL,
        addend: i64::from(offset),
    }
}

/// The debug sections of a module named `module` (empty: `module`) whose code is `funcs`.
pub fn sections(
    module: &str,
    funcs: &[Func<'_>],
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
    let file = program.add_file(LineString::String(file_name.clone()), dir, None);
    for f in funcs.iter().filter(|f| !f.lines.is_empty()) {
        program.begin_sequence(Some(text(f.start)));
        let mut last = None;
        // The prologue belongs to the function's first operator.
        let first = (f.lines[0].0 > 0).then_some((0, f.lines[0].1));
        for &(at, wasm) in first.iter().chain(f.lines) {
            if last == Some(wasm) {
                continue;
            }
            last = Some(wasm);
            let row = program.row();
            row.address_offset = u64::from(at);
            row.file = file;
            row.line = u64::from(wasm);
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
    cu.set(
        gimli::DW_AT_name,
        AttributeValue::StringRef(strings.add(file_name)),
    );
    cu.set(
        gimli::DW_AT_comp_dir,
        AttributeValue::StringRef(strings.add(".")),
    );
    cu.set(
        gimli::DW_AT_language,
        // No DW_LANG for WebAssembly: the wasm operators are the "source".
        AttributeValue::Language(gimli::DW_LANG_Mips_Assembler),
    );
    cu.set(gimli::DW_AT_low_pc, AttributeValue::Address(text(0)));
    cu.set(
        gimli::DW_AT_high_pc,
        AttributeValue::Udata(u64::from(text_len)),
    );
    cu.set(gimli::DW_AT_stmt_list, AttributeValue::LineProgramRef);
    for f in funcs {
        let id = dwarf.unit.add(root, gimli::DW_TAG_subprogram);
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
            sub.set(
                gimli::DW_AT_decl_file,
                AttributeValue::FileIndex(Some(file)),
            );
            sub.set(
                gimli::DW_AT_decl_line,
                AttributeValue::Udata(u64::from(wasm)),
            );
        }
    }

    let mut out = Sections::new(Relocating {
        out: EndianVec::new(LittleEndian),
        relocs: Vec::new(),
    });
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
