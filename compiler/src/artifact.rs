//! Lays out `.text`, resolves intra-module calls and writes the ELF artifact.

use crate::codegen::{CompiledFunc, CompiledModule};
use crate::{CompileError, Config, isa};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::isa::TargetIsa;
use object::write::{Object, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};
use precast_format::header::{FORMAT_VERSION, Header};
use precast_format::{ModuleInfo, sections, tables};
use sha2::Digest;
use std::collections::HashMap;

/// Page alignment of `.text` and `.precast.data` in the file.
const PAGE: u64 = 4096;
/// Minimum alignment of each function.
const FUNC_ALIGN: u32 = 16;

struct Layout {
    text: Vec<u8>,
    /// Start offsets of functions, entry trampolines, exit trampolines.
    funcs: Vec<u32>,
    entries: Vec<u32>,
    exits: Vec<u32>,
}

fn place(text: &mut Vec<u8>, f: &CompiledFunc) -> u32 {
    let align = f.alignment.max(FUNC_ALIGN) as usize;
    let start = text.len().div_ceil(align) * align;
    text.resize(start, 0xcc);
    text.extend_from_slice(&f.code);
    start as u32
}

fn layout(compiled: &CompiledModule) -> Layout {
    let mut text = Vec::new();
    let funcs = compiled
        .functions
        .iter()
        .map(|f| place(&mut text, f))
        .collect();
    let entries = compiled
        .entry_trampolines
        .iter()
        .map(|f| place(&mut text, f))
        .collect();
    let exits = compiled
        .exit_trampolines
        .iter()
        .map(|f| place(&mut text, f))
        .collect();
    Layout {
        text,
        funcs,
        entries,
        exits,
    }
}

/// Patches every call between defined functions so that `.text` needs no relocation.
fn resolve_calls(
    l: &mut Layout,
    compiled: &CompiledModule,
    info: &ModuleInfo,
) -> Result<(), CompileError> {
    let all = compiled
        .functions
        .iter()
        .zip(&l.funcs)
        .chain(compiled.entry_trampolines.iter().zip(&l.entries))
        .chain(compiled.exit_trampolines.iter().zip(&l.exits));
    let mut patches = Vec::new();
    for (f, &start) in all {
        for r in &f.relocs {
            let defined = r
                .target
                .checked_sub(info.num_imported_funcs)
                .and_then(|i| l.funcs.get(i as usize))
                .ok_or_else(|| {
                    CompileError::Artifact(format!(
                        "call to function {} that has no code",
                        r.target
                    ))
                })?;
            let site = i64::from(start) + i64::from(r.offset);
            let delta = i64::from(*defined) + r.addend - site;
            patches.push((site as usize, r.kind, delta));
        }
    }
    for (site, kind, delta) in patches {
        match kind {
            Reloc::X86CallPCRel4 | Reloc::X86PCRel4 | Reloc::X86CallPLTRel4 => {
                let v = i32::try_from(delta)
                    .map_err(|_| CompileError::Artifact("call displacement out of range".into()))?;
                l.text[site..site + 4].copy_from_slice(&v.to_le_bytes());
            }
            Reloc::Arm64Call => {
                // `delta` was computed with the addend; aarch64 BL encodes (target - site) / 4.
                let imm = delta >> 2;
                if !(-(1 << 25)..(1 << 25)).contains(&imm) {
                    return Err(CompileError::Artifact(
                        "call displacement out of range".into(),
                    ));
                }
                let mut insn =
                    u32::from_le_bytes(l.text[site..site + 4].try_into().unwrap_or([0; 4]));
                insn = (insn & 0xfc00_0000) | (imm as u32 & 0x03ff_ffff);
                l.text[site..site + 4].copy_from_slice(&insn.to_le_bytes());
            }
            other => {
                return Err(CompileError::Artifact(format!(
                    "unsupported relocation kind {other:?}"
                )));
            }
        }
    }
    Ok(())
}

/// An ELF symbol name for `name`: NUL cannot appear in a string table, so it is escaped.
fn symbol_safe(name: &str) -> String {
    name.replace('\0', "\\0")
}

/// Symbol names: the name section's name where present and unique, else `wasm-function[N]`.
fn symbol_names(info: &ModuleInfo) -> Vec<String> {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for (_, n) in &info.func_names {
        *seen.entry(n.as_str()).or_default() += 1;
    }
    (info.num_imported_funcs..info.functions.len() as u32)
        .map(|i| match info.func_name(i) {
            Some(n) if seen.get(n) == Some(&1) && !n.is_empty() => symbol_safe(n),
            Some(n) if !n.is_empty() => format!("{}[{i}]", symbol_safe(n)),
            _ => format!("wasm-function[{i}]"),
        })
        .collect()
}

fn architecture(isa: &dyn TargetIsa) -> Result<Architecture, CompileError> {
    match isa.triple().architecture {
        target_lexicon::Architecture::X86_64 => Ok(Architecture::X86_64),
        target_lexicon::Architecture::Aarch64(_) => Ok(Architecture::Aarch64),
        other => Err(CompileError::Target(format!(
            "no artifact support for {other}"
        ))),
    }
}

/// Writes the artifact.
pub fn write(
    wasm: &[u8],
    info: &ModuleInfo,
    data: &[u8],
    compiled: &CompiledModule,
    isa: &dyn TargetIsa,
    config: &Config,
) -> Result<Vec<u8>, CompileError> {
    let mut l = layout(compiled);
    resolve_calls(&mut l, compiled, info)?;

    let funcs = tables::encode(
        compiled
            .functions
            .iter()
            .zip(&l.funcs)
            .map(|(f, &s)| [s, f.code.len() as u32]),
    );
    let trampolines = tables::encode(l.entries.iter().zip(&l.exits).map(|(&e, &x)| [e, x]));
    let mut traps: Vec<[u32; 2]> = compiled
        .functions
        .iter()
        .zip(&l.funcs)
        .chain(compiled.entry_trampolines.iter().zip(&l.entries))
        .chain(compiled.exit_trampolines.iter().zip(&l.exits))
        .flat_map(|(f, &s)| f.traps.iter().map(move |(o, c)| [s + o, *c as u32]))
        .collect();
    traps.sort_unstable();
    let traps = tables::encode(traps);
    let info_bytes = precast_format::encode(info);
    let pointer_size = isa.pointer_bytes();
    let offsets_bytes = precast_format::encode(&info.vmoffsets(pointer_size));

    let checksummed: [(&str, &[u8]); 7] = [
        (sections::TEXT, &l.text),
        (sections::INFO, &info_bytes),
        (sections::VMOFFSETS, &offsets_bytes),
        (sections::FUNCS, &funcs),
        (sections::TRAMPOLINES, &trampolines),
        (sections::TRAPS, &traps),
        (sections::DATA, data),
    ];
    let mut hasher = crc32fast::Hasher::new();
    for (_, bytes) in &checksummed {
        hasher.update(bytes);
    }
    let header = Header {
        format_version: FORMAT_VERSION,
        precast_version: env!("CARGO_PKG_VERSION").to_string(),
        target: isa.triple().to_string(),
        cpu_features: isa::cpu_features(isa),
        settings: config.settings,
        pointer_size: u32::from(pointer_size),
        wasm_hash: sha2::Sha256::digest(wasm).into(),
        sections_checksum: hasher.finalize(),
    };
    let header_bytes = header.encode(crc32fast::hash);

    let mut obj = Object::new(BinaryFormat::Elf, architecture(isa)?, Endianness::Little);
    let header_id = obj.add_section(
        Vec::new(),
        sections::HEADER.as_bytes().to_vec(),
        SectionKind::ReadOnlyData,
    );
    obj.set_section_data(header_id, header_bytes.to_vec(), 8);
    let mut text_id = None;
    for (name, bytes) in checksummed {
        let (kind, align) = match name {
            sections::TEXT => (SectionKind::Text, PAGE),
            sections::DATA => (SectionKind::ReadOnlyData, PAGE),
            _ => (SectionKind::ReadOnlyData, 8),
        };
        let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), kind);
        obj.set_section_data(id, bytes.to_vec(), align);
        if name == sections::TEXT {
            text_id = Some(id);
        }
    }
    let text_id = text_id.ok_or_else(|| CompileError::Artifact("no text section".into()))?;
    let mut add_symbol = |name: String, start: u32, len: usize| {
        obj.add_symbol(Symbol {
            name: name.into_bytes(),
            value: u64::from(start),
            size: len as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text_id),
            flags: SymbolFlags::None,
        });
    };
    for ((name, f), &s) in symbol_names(info)
        .into_iter()
        .zip(&compiled.functions)
        .zip(&l.funcs)
    {
        add_symbol(name, s, f.code.len());
    }
    for (ty, (f, &s)) in compiled
        .entry_trampolines
        .iter()
        .zip(&l.entries)
        .enumerate()
    {
        add_symbol(format!("precast-entry-trampoline[{ty}]"), s, f.code.len());
    }
    for (ty, (f, &s)) in compiled.exit_trampolines.iter().zip(&l.exits).enumerate() {
        add_symbol(format!("precast-exit-trampoline[{ty}]"), s, f.code.len());
    }
    obj.write()
        .map_err(|e| CompileError::Artifact(e.to_string()))
}
