//! Lays out `.text`, resolves intra-module calls and writes the ELF artifact.

use crate::codegen::{CompiledFunc, CompiledModule};
use crate::{CodePlacement, CompileError, Config, debug, isa, unwind};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::isa::TargetIsa;
use object::write::{Object, Relocation, SectionId, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationEncoding, RelocationFlags, RelocationKind,
    SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};
use precast_format::header::{FORMAT_VERSION, Header};
use precast_format::module::{ConstExpr, DataMode, DataSegment, MemoryImage};
use precast_format::{IMAGE_ALIGN, ModuleInfo, TrapCode, linked, sections, signature, tables};
use sha2::Digest;
use std::collections::HashMap;

/// Page alignment of `.text` and `.precast.data` in the file.
const PAGE: u64 = IMAGE_ALIGN;
/// A memory image may hold this many bytes more than twice its segments' bytes (so a small
/// module's few data bytes always get an image, a sparse one's scattered segments do not).
const IMAGE_SLACK: u64 = 64 * 1024;
/// Minimum alignment of each function.
const FUNC_ALIGN: u32 = 16;
/// The fetch blocks whose boundaries a small loop should not cross: 32 bytes (the decoded
/// instruction cache's and the fetch unit's window on x86-64 cores) and 64 (a cache line).
const FETCH_BLOCKS: [u32; 2] = [32, 64];
/// Placement decisions repeat with this period (the largest fetch block).
const PERIOD: u32 = 64;

struct Layout {
    text: Vec<u8>,
    /// Start offsets of functions, entry trampolines, exit trampolines.
    funcs: Vec<u32>,
    entries: Vec<u32>,
    exits: Vec<u32>,
}

/// Where functions start in `.text`.
#[derive(Clone, Copy)]
struct Placement {
    mode: CodePlacement,
    /// The target's preferred function alignment (Cranelift's `function_alignment`).
    preferred: u32,
    /// Padding before the first function.
    shift: u32,
}

/// The fetch-block boundaries that the loops of a function starting at `start` (mod
/// [`PERIOD`]) cross, each boundary counted once per block size it ends.
fn crossings(loops: &[(u32, u32)], start: u32) -> u32 {
    loops
        .iter()
        .map(|&(offset, len)| {
            let first = start + offset;
            let last = first + len.max(1) - 1;
            FETCH_BLOCKS
                .iter()
                .map(|b| last / b - first / b)
                .sum::<u32>()
        })
        .sum()
}

/// The start of `f` placed at or after `at`. A function with small innermost loops starts
/// at the residue (mod [`PERIOD`], on its required alignment) where they cross the fewest
/// fetch-block boundaries; ties go to the preferred alignment, then to the least padding.
/// Any other function (and every function in [`CodePlacement::Aligned`]) starts at the
/// preferred alignment.
fn start_of(f: &CompiledFunc, at: u32, p: Placement) -> u32 {
    let required = f.alignment.max(1);
    let aligned = required.max(FUNC_ALIGN).max(p.preferred);
    let round_up = |x: u32, a: u32| x.div_ceil(a) * a;
    if p.mode == CodePlacement::Aligned || f.loops.is_empty() || required >= PERIOD {
        return round_up(at, aligned);
    }
    let first = round_up(at, required);
    (0..PERIOD / required)
        .map(|k| first + k * required)
        .min_by_key(|&start| {
            (
                crossings(&f.loops, start % PERIOD),
                start % aligned != 0,
                start - first,
            )
        })
        .expect("at least one candidate start")
}

fn place(text: &mut Vec<u8>, f: &CompiledFunc, p: Placement) -> u32 {
    let start = start_of(f, text.len() as u32, p);
    text.resize(start as usize, 0xcc);
    text.extend_from_slice(&f.code);
    start
}

fn layout(compiled: &CompiledModule, p: Placement) -> Layout {
    let mut text = vec![0xcc; p.shift as usize];
    let funcs = compiled
        .functions
        .iter()
        .map(|f| place(&mut text, f, p))
        .collect();
    let entries = compiled
        .entry_trampolines
        .iter()
        .map(|f| place(&mut text, f, p))
        .collect();
    let exits = compiled
        .exit_trampolines
        .iter()
        .map(|f| place(&mut text, f, p))
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
    let all = placed(compiled, l);
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
            Reloc::RiscvCallPlt => patch_riscv_call(&mut l.text, site, delta)?,
            other => {
                return Err(CompileError::Artifact(format!(
                    "unsupported relocation kind {other:?}"
                )));
            }
        }
    }
    Ok(())
}

/// Points the `auipc ra, hi20` / `jalr ra, lo12(ra)` pair at `site` to `site + delta`. The
/// jalr adds a sign-extended 12-bit offset, so the high part is rounded.
fn patch_riscv_call(text: &mut [u8], site: usize, delta: i64) -> Result<(), CompileError> {
    let range = || CompileError::Artifact("call displacement out of range".into());
    let v = i32::try_from(delta)
        .ok()
        .filter(|d| d.checked_add(0x800).is_some())
        .ok_or_else(range)?;
    let words = text.get_mut(site..site + 8).ok_or_else(range)?;
    let word = |w: &[u8]| u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    let hi = (v.wrapping_add(0x800) as u32) & 0xffff_f000;
    let lo = (v as u32).wrapping_sub(hi) & 0xfff;
    let auipc = (word(&words[..4]) & 0x0000_0fff) | hi;
    let jalr = (word(&words[4..]) & 0x000f_ffff) | (lo << 20);
    words[..4].copy_from_slice(&auipc.to_le_bytes());
    words[4..].copy_from_slice(&jalr.to_le_bytes());
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
        target_lexicon::Architecture::Riscv64(_) => Ok(Architecture::Riscv64),
        other => Err(CompileError::Target(format!(
            "no artifact support for {other}"
        ))),
    }
}

/// Value of a constant offset expression (constants and arithmetic only), as the memory's
/// index type reads it.
fn const_offset(expr: &ConstExpr, memory64: bool) -> Option<u64> {
    let v = expr.constant()?;
    Some(if memory64 {
        v as u64
    } else {
        u64::from(v as u32)
    })
}

/// Lays out the data section: bytes of the segments that stay segments, then a page-aligned
/// image per defined memory whose active segments all have constant, in-bounds offsets and
/// are dense enough. Returns the new data section and rewrites `info`'s segments and images.
fn layout_data(info: &mut ModuleInfo, data: &[u8]) -> Result<Vec<u8>, CompileError> {
    let bytes_of = |seg: &DataSegment| -> Result<&[u8], CompileError> {
        usize::try_from(seg.offset)
            .ok()
            .zip(usize::try_from(seg.len).ok())
            .and_then(|(o, l)| data.get(o..o.checked_add(l)?))
            .ok_or_else(|| CompileError::Artifact("data segment outside the data bytes".into()))
    };
    // Which memories get an image: (memory, lo, hi).
    let mut images: Vec<(u32, u64, u64)> = Vec::new();
    for m in info.num_imported_memories..info.memories.len() as u32 {
        let ty = info.memories[m as usize];
        let min_bytes = ty.minimum.checked_shl(u32::from(ty.page_size_log2));
        let min_bytes = match min_bytes {
            Some(b) if b >> u32::from(ty.page_size_log2) == ty.minimum && !ty.shared => b,
            _ => continue,
        };
        let (mut lo, mut hi, mut total, mut ok) = (u64::MAX, 0u64, 0u64, true);
        for seg in &info.data {
            let DataMode::Active { memory, offset } = &seg.mode else {
                continue;
            };
            if *memory != m {
                continue;
            }
            let end = const_offset(offset, ty.memory64)
                .and_then(|start| Some((start, start.checked_add(seg.len)?)));
            match end {
                Some((start, end)) if end <= min_bytes => {
                    if seg.len > 0 {
                        lo = lo.min(start);
                        hi = hi.max(end);
                        total += seg.len;
                    }
                }
                _ => ok = false,
            }
        }
        if !ok || total == 0 {
            continue;
        }
        let lo = lo / PAGE * PAGE;
        let hi = hi.div_ceil(PAGE) * PAGE;
        // Images are whole pages inside the memory's initial size, which need not be page
        // aligned (small custom page sizes): segments reaching past its last whole page are
        // applied one by one instead.
        if hi <= min_bytes && hi - lo <= total.saturating_mul(2).saturating_add(IMAGE_SLACK) {
            images.push((m, lo, hi));
        }
    }
    let mut out = Vec::with_capacity(data.len());
    let segments = std::mem::take(&mut info.data);
    for seg in &segments {
        let covered = matches!(&seg.mode, DataMode::Active { memory, .. }
            if images.iter().any(|(m, ..)| m == memory));
        let bytes = if covered { &[][..] } else { bytes_of(seg)? };
        info.data.push(DataSegment {
            mode: seg.mode.clone(),
            offset: out.len() as u64,
            len: bytes.len() as u64,
        });
        out.extend_from_slice(bytes);
    }
    for &(m, lo, hi) in &images {
        let start = (out.len() as u64).div_ceil(PAGE) * PAGE;
        let len = hi - lo;
        let total = usize::try_from(start + len)
            .map_err(|_| CompileError::Artifact("memory image too large".into()))?;
        out.resize(total, 0);
        let ty = info.memories[m as usize];
        for seg in &segments {
            match &seg.mode {
                // An empty segment has no bytes, and may lie outside the image's pages.
                DataMode::Active { memory, offset } if *memory == m && seg.len > 0 => {
                    let at = const_offset(offset, ty.memory64).unwrap_or(0);
                    let dst = (start + at - lo) as usize;
                    out[dst..dst + seg.len as usize].copy_from_slice(bytes_of(seg)?);
                }
                _ => {}
            }
        }
        info.memory_images.push(MemoryImage {
            memory: m,
            memory_offset: lo,
            data_offset: start,
            len,
        });
    }
    Ok(out)
}

/// The bytes of every checksummed section, and their checksums.
struct Sections {
    /// The module info as written (with its memory images).
    info: ModuleInfo,
    /// Function start offsets in `.text`, entry and exit trampoline offsets.
    layout: Layout,
    info_bytes: Vec<u8>,
    offsets_bytes: Vec<u8>,
    funcs: Vec<u8>,
    trampolines: Vec<u8>,
    traps: Vec<u8>,
    data: Vec<u8>,
    names: Vec<u8>,
    unwind: Vec<u8>,
    inlines: Vec<u8>,
    sections_checksum: u32,
    metadata_checksum: u32,
}

impl Sections {
    /// `(name, bytes)` of every checksummed section.
    fn all(&self) -> [(&'static str, &[u8]); 10] {
        [
            (sections::TEXT, &self.layout.text),
            (sections::INFO, &self.info_bytes),
            (sections::VMOFFSETS, &self.offsets_bytes),
            (sections::FUNCS, &self.funcs),
            (sections::TRAMPOLINES, &self.trampolines),
            (sections::TRAPS, &self.traps),
            (sections::DATA, &self.data),
            (sections::NAMES, &self.names),
            (sections::UNWIND, &self.unwind),
            (sections::INLINES, &self.inlines),
        ]
    }
}

/// Lays out code and data, encodes the tables and metadata and checksums them.
fn sections(
    info: &ModuleInfo,
    data: &[u8],
    compiled: &CompiledModule,
    isa: &dyn TargetIsa,
    linkable: bool,
    placement: Placement,
) -> Result<Sections, CompileError> {
    let pointer_size = isa.pointer_bytes();
    let mut l = layout(compiled, placement);
    resolve_calls(&mut l, compiled, info)?;
    let mut info = info.clone();
    info.memory_images.clear();
    let data = layout_data(&mut info, data)?;

    let funcs = tables::encode(
        compiled
            .functions
            .iter()
            .zip(&l.funcs)
            .map(|(f, &s)| [s, f.code.len() as u32]),
    );
    let trampolines = tables::encode(l.entries.iter().zip(&l.exits).map(|(&e, &x)| [e, x]));
    let mut traps: Vec<(u32, TrapCode)> = placed(compiled, &l)
        .flat_map(|(f, &s)| f.traps.iter().map(move |&(o, c)| (s + o, c)))
        .collect();
    traps.sort_unstable_by_key(|&(offset, _)| offset);
    // A linkable object's frames go to `.eh_frame`, for the system linker.
    let unwind = match linkable {
        true => Vec::new(),
        false => unwind::loader_table(isa, unwind_infos(compiled, &l))?,
    };
    let mut out = Sections {
        unwind,
        inlines: tables::InlineTable::encode(&inline_ranges(compiled, &l)),
        info_bytes: precast_format::encode(&info),
        offsets_bytes: precast_format::encode(&info.vmoffsets(pointer_size)),
        names: tables::NameTable::encode(&info.func_names),
        traps: tables::TrapTable::encode(&traps),
        info,
        layout: l,
        funcs,
        trampolines,
        data,
        sections_checksum: 0,
        metadata_checksum: 0,
    };
    let all = out.all();
    (out.sections_checksum, out.metadata_checksum) = precast_format::checksums(
        |name| all.iter().find(|(n, _)| *n == name).map(|(_, b)| *b),
        |parts| {
            let mut hasher = crc32fast::Hasher::new();
            for p in parts {
                hasher.update(p);
            }
            hasher.finalize()
        },
    );
    Ok(out)
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
    let placement = Placement {
        mode: config.code_placement,
        preferred: isa.function_alignment().preferred,
        shift: config.placement_shift,
    };
    // Hashing the input (16 MiB: ~6 ms) overlaps laying out and checksumming the output.
    let (wasm_hash, sections) = rayon::join(
        || sha2::Sha256::digest(wasm).into(),
        || {
            let linkable = config.link_name.is_some();
            sections(info, data, compiled, isa, linkable, placement)
        },
    );
    let s = sections?;
    let (info, l) = (&s.info, &s.layout);
    let header = Header {
        format_version: FORMAT_VERSION,
        precast_version: precast_format::VERSION.to_string(),
        target: isa.triple().to_string(),
        cpu_features: isa::cpu_features(isa),
        settings: config.settings,
        pointer_size: u32::from(isa.pointer_bytes()),
        wasm_hash,
        sections_checksum: s.sections_checksum,
        metadata_checksum: s.metadata_checksum,
        build_id: precast_format::BUILD_ID,
    };
    let header_bytes = header.encode(crc32fast::hash);
    let checksummed = s.all();
    let section_bytes = |name: &str| -> &[u8] {
        match name {
            sections::HEADER => &header_bytes[..],
            _ => checksummed
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(&[][..], |(_, b)| *b),
        }
    };
    let signature_bytes = match &config.signing_key {
        Some(key) => crate::signing::signature_section(key, section_bytes),
        None => [0; signature::SIZE],
    };

    let arch = architecture(isa)?;
    let mut obj = Object::new(BinaryFormat::Elf, arch, Endianness::Little);
    if arch == Architecture::Riscv64 {
        // The system linker refuses to mix float ABIs: the code passes floats in F/D
        // registers (lp64d), and may hold compressed instructions.
        obj.flags = object::FileFlags::Elf {
            os_abi: 0,
            abi_version: 0,
            e_flags: object::elf::EF_RISCV_FLOAT_ABI_DOUBLE | object::elf::EF_RISCV_RVC,
        };
    }
    // File order: header and metadata, then the data section (page aligned when it holds
    // memory images), then `.text` on a page boundary, mapped executable in place. Small
    // artifacts thus have no padding but the page before `.text`, and no data byte shares a
    // page with code. A linkable object's `.text` needs no page: it is never mapped alone.
    let order = [
        sections::HEADER,
        sections::SIGNATURE,
        sections::INFO,
        sections::VMOFFSETS,
        sections::FUNCS,
        sections::TRAMPOLINES,
        sections::TRAPS,
        sections::NAMES,
        sections::UNWIND,
        sections::INLINES,
        sections::DATA,
        sections::TEXT,
    ];
    let mut ids: Vec<(&str, SectionId)> = Vec::with_capacity(order.len());
    for name in order {
        let bytes = match name {
            sections::SIGNATURE => &signature_bytes[..],
            _ => section_bytes(name),
        };
        let (kind, align) = match name {
            sections::TEXT if config.link_name.is_some() => (SectionKind::Text, linked::TEXT_ALIGN),
            sections::TEXT => (SectionKind::Text, PAGE),
            sections::DATA if !info.memory_images.is_empty() => (SectionKind::ReadOnlyData, PAGE),
            _ => (SectionKind::ReadOnlyData, 8),
        };
        let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), kind);
        obj.set_section_data(id, bytes, align);
        ids.push((name, id));
    }
    // The code never needs an executable stack; without this note a linker marks the
    // whole executable's stack executable.
    obj.add_section(Vec::new(), b".note.GNU-stack".to_vec(), SectionKind::Other);
    let text_id = ids
        .iter()
        .find(|(n, _)| *n == sections::TEXT)
        .map(|&(_, id)| id);
    let text_id = text_id.ok_or_else(|| CompileError::Artifact("no text section".into()))?;
    if let Some(name) = &config.link_name {
        add_descriptor(&mut obj, name, &ids)?;
        add_eh_frame(&mut obj, text_id, isa, compiled, l)?;
    }
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
    let code = code_names(info, compiled, l);
    for &(ref name, f, s) in &code {
        add_symbol(name.clone(), s, f.code.len());
    }
    let module = info
        .name
        .as_deref()
        .or(config.link_name.as_deref())
        .unwrap_or("module");
    if config.debug_info {
        let source = match config.wasm_debug_info {
            true => debug::source::SourceLines::read(wasm)?,
            false => None,
        };
        add_debug_info(
            &mut obj,
            text_id,
            module,
            &code,
            source.as_ref(),
            l.text.len(),
        )?;
    }
    obj.write()
        .map_err(|e| CompileError::Artifact(e.to_string()))
}

/// Every function and trampoline with its start in `.text`: functions, entry trampolines,
/// exit trampolines (the order of the tables).
/// The `.precast.inlines` ranges: where code of one function was inlined into another, the
/// chain of inlined functions (outermost first) of each run of instructions, found from the
/// wasm offsets the instructions carry (whose function body holds them) and, for a callee
/// inlined into an inlined callee, the call site of each inlined call.
fn inline_ranges(compiled: &CompiledModule, l: &Layout) -> Vec<(u32, u32, Vec<u32>)> {
    let bodies: Vec<(u32, u32)> = compiled.functions.iter().map(|f| f.body).collect();
    // Bodies are in index order, which is their order in the module.
    let holder = |at: u32| {
        let i = bodies.partition_point(|b| b.0 <= at).checked_sub(1)?;
        (at - bodies[i].0 < bodies[i].1).then_some(i as u32)
    };
    let mut out = Vec::new();
    for (k, (f, &start)) in compiled.functions.iter().zip(&l.funcs).enumerate() {
        if f.inlined.is_empty() {
            continue;
        }
        let call_site = |callee: u32| {
            f.inlined
                .iter()
                .find(|c| c.callee == callee)
                .map(|c| c.call_site)
        };
        let chain = |wasm: u32| {
            let mut chain = Vec::new();
            let mut at = holder(wasm);
            while let Some(g) = at {
                if g as usize == k || chain.len() > f.inlined.len() || chain.contains(&g) {
                    break;
                }
                chain.push(g);
                at = call_site(g).and_then(holder);
            }
            chain.reverse();
            chain
        };
        // Runs of instructions with the same chain, as `.text` offsets.
        let len = f.code.len() as u32;
        let mut run: Option<(u32, u32, Vec<u32>)> = None;
        let mut flush = |run: Option<(u32, u32, Vec<u32>)>| {
            if let Some((a, b, c)) = run.filter(|r| !r.2.is_empty()) {
                out.push((start + a, start + b, c));
            }
        };
        for (i, &(code, wasm)) in f.lines.iter().enumerate() {
            let end = f.lines.get(i + 1).map_or(len, |n| n.0).min(len);
            if code >= end {
                continue;
            }
            let c = chain(wasm);
            match &mut run {
                Some((_, e, prev)) if *e == code && *prev == c => *e = end,
                _ => flush(run.replace((code, end, c))),
            }
        }
        flush(run);
    }
    out
}

fn placed<'a>(
    compiled: &'a CompiledModule,
    l: &'a Layout,
) -> impl Iterator<Item = (&'a CompiledFunc, &'a u32)> {
    compiled
        .functions
        .iter()
        .zip(&l.funcs)
        .chain(compiled.entry_trampolines.iter().zip(&l.entries))
        .chain(compiled.exit_trampolines.iter().zip(&l.exits))
}

/// `(symbol name, code, start in .text)` of every function and trampoline, in `.text` order
/// of the tables (functions, entry trampolines, exit trampolines).
fn code_names<'a>(
    info: &ModuleInfo,
    compiled: &'a CompiledModule,
    l: &Layout,
) -> Vec<(String, &'a CompiledFunc, u32)> {
    let funcs = symbol_names(info)
        .into_iter()
        .zip(compiled.functions.iter().zip(&l.funcs));
    let entries = compiled
        .entry_trampolines
        .iter()
        .zip(&l.entries)
        .enumerate();
    let exits = compiled.exit_trampolines.iter().zip(&l.exits).enumerate();
    funcs
        .chain(entries.map(|(ty, f)| (format!("precast-entry-trampoline[{ty}]"), f)))
        .chain(exits.map(|(ty, f)| (format!("precast-exit-trampoline[{ty}]"), f)))
        .map(|(name, (f, &s))| (name, f, s))
        .collect()
}

/// Adds the DWARF of [`crate::debug`]: each debug section with its relocations against
/// `.text` (absolute addresses) and against the other debug sections (offsets).
fn add_debug_info(
    obj: &mut Object<'_>,
    text: SectionId,
    module: &str,
    code: &[(String, &CompiledFunc, u32)],
    source: Option<&debug::source::SourceLines>,
    text_len: usize,
) -> Result<(), CompileError> {
    let funcs: Vec<debug::Func<'_>> = code
        .iter()
        .map(|(name, f, start)| debug::Func {
            name,
            start: *start,
            len: f.code.len() as u32,
            lines: &f.lines,
            body: f.body,
            inlined: &f.inlined,
        })
        .collect();
    let address_size = match obj.architecture().address_size() {
        Some(object::AddressSize::U32) => 4,
        _ => 8,
    };
    let sections = debug::sections(module, &funcs, source, text_len as u32, address_size)?;
    let ids: Vec<SectionId> = sections
        .iter()
        .map(|d| {
            let id = obj.add_section(Vec::new(), d.name.as_bytes().to_vec(), SectionKind::Debug);
            obj.set_section_data(id, d.bytes.clone(), 1);
            id
        })
        .collect();
    let bad = |e: String| CompileError::Artifact(format!("debug information: {e}"));
    for (d, &id) in sections.iter().zip(&ids) {
        for r in &d.relocs {
            let symbol = match r.target {
                debug::Target::Text => obj.section_symbol(text),
                debug::Target::Section(name) => {
                    let i = sections
                        .iter()
                        .position(|t| t.name == name)
                        .ok_or_else(|| bad(format!("{} refers to absent {name}", d.name)))?;
                    obj.section_symbol(ids[i])
                }
            };
            let flags = RelocationFlags::Generic {
                kind: RelocationKind::Absolute,
                encoding: RelocationEncoding::Generic,
                size: r.size * 8,
            };
            let reloc = Relocation {
                offset: u64::from(r.offset),
                symbol,
                addend: r.addend,
                flags,
            };
            obj.add_relocation(id, reloc)
                .map_err(|e| bad(format!("{}: {e}", d.name)))?;
        }
    }
    Ok(())
}

/// `(start in .text, unwind information)` of every function and trampoline that has some.
fn unwind_infos<'a>(
    compiled: &'a CompiledModule,
    l: &'a Layout,
) -> impl Iterator<Item = (u32, &'a cranelift_codegen::isa::unwind::systemv::UnwindInfo)> {
    placed(compiled, l).filter_map(|(f, &s)| f.unwind.as_ref().map(|u| (s, u)))
}

/// Adds a linkable object's `.eh_frame`: its FDE addresses are PC-relative relocations
/// against `.text`, and the system linker indexes them in the executable's `.eh_frame_hdr`.
fn add_eh_frame(
    obj: &mut Object<'_>,
    text: SectionId,
    isa: &dyn TargetIsa,
    compiled: &CompiledModule,
    l: &Layout,
) -> Result<(), CompileError> {
    let Some(frames) = unwind::frames(isa, unwind_infos(compiled, l), unwind::Encoding::Linker)?
    else {
        return Ok(());
    };
    let kind = match obj.architecture() {
        Architecture::X86_64 => SectionKind::Elf(object::elf::SHT_X86_64_UNWIND),
        _ => SectionKind::ReadOnlyData,
    };
    let id = obj.add_section(Vec::new(), b".eh_frame".to_vec(), kind);
    obj.set_section_data(id, frames.bytes, 8);
    let symbol = obj.section_symbol(text);
    for (offset, start) in frames.relocs {
        obj.add_relocation(
            id,
            Relocation {
                offset: u64::from(offset),
                symbol,
                addend: i64::from(start),
                flags: RelocationFlags::Generic {
                    kind: RelocationKind::Relative,
                    encoding: RelocationEncoding::Generic,
                    size: 32,
                },
            },
        )
        .map_err(|e| CompileError::Artifact(format!(".eh_frame: {e}")))?;
    }
    Ok(())
}

/// Adds the descriptor of a linkable object ([`linked::Descriptor`]) and its one global
/// symbol: every section entry is a 32-bit PC-relative relocation against the section,
/// resolved by the static linker.
fn add_descriptor(
    obj: &mut Object<'_>,
    name: &str,
    ids: &[(&str, SectionId)],
) -> Result<(), CompileError> {
    let mut bytes = vec![0u8; linked::SIZE];
    bytes[..8].copy_from_slice(&linked::MAGIC);
    bytes[8..12].copy_from_slice(&linked::VERSION.to_le_bytes());
    bytes[12..16].copy_from_slice(&(linked::SECTIONS.len() as u32).to_le_bytes());
    let mut relocations = Vec::with_capacity(linked::SECTIONS.len());
    for (i, section) in linked::SECTIONS.iter().enumerate() {
        let &(_, id) = ids
            .iter()
            .find(|(n, _)| n == section)
            .ok_or_else(|| CompileError::Artifact(format!("no `{section}` section")))?;
        let at = linked::section_offset(i);
        let len = obj.section(id).data().len() as u64;
        bytes[at + linked::LEN_OFFSET..at + linked::LEN_OFFSET + 8]
            .copy_from_slice(&len.to_le_bytes());
        relocations.push(Relocation {
            offset: at as u64,
            symbol: obj.section_symbol(id),
            addend: 0,
            flags: RelocationFlags::Generic {
                kind: RelocationKind::Relative,
                encoding: RelocationEncoding::Generic,
                size: 32,
            },
        });
    }
    let descriptor = obj.add_section(
        Vec::new(),
        sections::DESCRIPTOR.as_bytes().to_vec(),
        SectionKind::ReadOnlyData,
    );
    obj.set_section_data(descriptor, bytes, linked::ALIGN as u64);
    for r in relocations {
        obj.add_relocation(descriptor, r)
            .map_err(|e| CompileError::Artifact(e.to_string()))?;
    }
    obj.add_symbol(Symbol {
        name: linked::symbol(name).into_bytes(),
        value: 0,
        size: linked::SIZE as u64,
        kind: SymbolKind::Data,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(descriptor),
        flags: SymbolFlags::None,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The displacement an `auipc`/`jalr` pair adds to the `auipc`'s address.
    fn riscv_call_target(text: &[u8]) -> i64 {
        let auipc = u32::from_le_bytes(text[..4].try_into().unwrap());
        let jalr = u32::from_le_bytes(text[4..8].try_into().unwrap());
        i64::from((auipc & 0xffff_f000) as i32) + i64::from((jalr as i32) >> 20)
    }

    #[test]
    fn riscv_calls_reach_their_targets() {
        // `auipc ra, 0` and `jalr ra, 0(ra)`, as Cranelift emits them before relocation.
        let template = [0x97, 0x00, 0x00, 0x00, 0xe7, 0x80, 0x00, 0x00];
        for delta in [
            0,
            4,
            -8,
            0x7ff,
            0x800,
            0x801,
            -0x800,
            -0x801,
            0x12345,
            -0x12345,
            0x7fff_f7ff,
            -0x8000_0000,
        ] {
            let mut text = template.to_vec();
            patch_riscv_call(&mut text, 0, delta).unwrap();
            assert_eq!(riscv_call_target(&text), delta, "{delta:#x}");
            // Registers and opcodes are kept.
            assert_eq!(text[0] & 0x7f, 0x17);
            assert_eq!(
                u32::from_le_bytes(text[4..8].try_into().unwrap()) & 0xfffff,
                0x80e7
            );
        }
        let mut text = template.to_vec();
        assert!(patch_riscv_call(&mut text, 0, 0x7fff_f800).is_err());
        assert!(patch_riscv_call(&mut text, 4, 0).is_err());
    }

    fn func(alignment: u32, loops: Vec<(u32, u32)>) -> CompiledFunc {
        CompiledFunc {
            code: vec![0x90; 300],
            alignment,
            relocs: Vec::new(),
            traps: Vec::new(),
            loops,
            lines: Vec::new(),
            unwind: None,
            body: (0, 0),
            inlined: Vec::new(),
        }
    }

    const LOOPS: Placement = Placement {
        mode: CodePlacement::Loops,
        preferred: 32,
        shift: 0,
    };

    #[test]
    fn a_small_loop_is_kept_inside_one_fetch_block() {
        // A 26-byte loop at offset 0x17: from a 32-byte aligned start it crosses a 32-byte
        // boundary (0x17 + 26 > 0x20); it is moved so that it does not.
        let f = func(1, vec![(0x17, 26)]);
        assert_eq!(crossings(&f.loops, 0), 1);
        for at in [0, 1, 100, 4096 + 17] {
            let start = start_of(&f, at, LOOPS);
            assert!(start >= at && start - at < PERIOD, "{at} -> {start}");
            assert_eq!(crossings(&f.loops, start % PERIOD), 0, "{at} -> {start}");
        }
        // Aligned placement leaves it to chance.
        let aligned = Placement {
            mode: CodePlacement::Aligned,
            ..LOOPS
        };
        assert_eq!(start_of(&f, 1, aligned), 32);
        // The required alignment (constants, instruction size) is kept.
        let f = func(4, vec![(0x16, 26)]);
        let start = start_of(&f, 0, LOOPS);
        assert_eq!(start % 4, 0);
        assert_eq!(crossings(&f.loops, start % PERIOD), 0);
    }

    #[test]
    fn ties_take_the_preferred_alignment_then_the_least_padding() {
        // A loop that fits wherever the function starts on a 32-byte boundary.
        let f = func(1, vec![(0, 20)]);
        assert_eq!(start_of(&f, 1, LOOPS), 32);
        assert_eq!(start_of(&f, 40, LOOPS), 64);
        // Without loops: the preferred alignment (at least 16).
        let f = func(1, vec![]);
        assert_eq!(start_of(&f, 33, LOOPS), 64);
        let riscv = Placement {
            preferred: 4,
            ..LOOPS
        };
        assert_eq!(start_of(&f, 33, riscv), 48);
        // A shift moves all code.
        let shifted = Placement { shift: 8, ..LOOPS };
        let compiled = CompiledModule {
            functions: vec![func(1, vec![]), func(1, vec![(0x17, 26)])],
            entry_trampolines: vec![],
            exit_trampolines: vec![],
        };
        let l = layout(&compiled, shifted);
        assert_eq!(l.funcs[0], 32);
        assert_eq!(crossings(&[(0x17, 26)], l.funcs[1] % PERIOD), 0);
        assert!(l.text[..8].iter().all(|&b| b == 0xcc));
    }

    #[test]
    fn innermost_small_loops_are_found_from_block_edges() {
        // Blocks at 0, 10, 30, 50, 80, 400; 30..50 loops to itself, 10..80 to 10 (holding
        // it), 80..400 to 80 (too long), 0 -> 10 forward.
        let starts = [0, 10, 30, 50, 80, 400];
        let edges = [(0, 10), (30, 30), (30, 50), (50, 10), (80, 80), (400, 80)];
        assert_eq!(
            crate::codegen::innermost_loops(&starts, &edges, 420),
            vec![(30, 20)]
        );
    }
}
