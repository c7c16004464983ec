//! `precast inspect`: a readable summary of an artifact.

use anyhow::{Context, Result};
use object::{Object, ObjectSection};
use precast_format::module::{ExternKind, FuncType, ImportKind, ModuleInfo};
use precast_loader::{Engine, Module, Signature};
use std::path::Path;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_sections(bytes: &[u8]) -> Result<()> {
    use object::ObjectSymbol;
    let file = object::File::parse(bytes).context("not an ELF object")?;
    let prefix = precast_format::linked::SYMBOL_PREFIX;
    let link_name = file
        .symbols()
        .filter(|s| s.is_global() && s.is_definition())
        .find_map(|s| s.name().ok()?.strip_prefix(prefix).map(str::to_string));
    match link_name {
        Some(name) => println!("linkable object: link name `{name}` (symbol `{prefix}{name}`)"),
        None => println!("linkable object: no (an artifact file)"),
    }
    println!("sections:");
    for s in file.sections() {
        let name = s.name().unwrap_or("?");
        if name.is_empty() {
            continue;
        }
        println!("  {name:<24} {:>10} bytes", s.size());
    }
    Ok(())
}

fn func(ty: Option<&FuncType>) -> String {
    match ty {
        Some(t) => format!("func {t}"),
        None => "func <invalid type>".into(),
    }
}

fn limits(min: u64, max: Option<u64>) -> String {
    match max {
        Some(m) => format!("{min}..{m}"),
        None => format!("{min}.."),
    }
}

fn print_module(info: &ModuleInfo) {
    println!(
        "functions: {} ({} imported), types: {}, tables: {}, memories: {}, globals: {}, data segments: {}, element segments: {}",
        info.functions.len(),
        info.num_imported_funcs,
        info.types.len(),
        info.tables.len(),
        info.memories.len(),
        info.globals.len(),
        info.data.len(),
        info.elements.len()
    );
    println!("imports:");
    for i in &info.imports {
        let what = match &i.kind {
            ImportKind::Func(t) => func(info.types.get(*t as usize)),
            ImportKind::Memory(m) => format!(
                "memory{} {} pages",
                if m.memory64 { "64" } else { "" },
                limits(m.minimum, m.maximum)
            ),
            ImportKind::Table(t) => {
                format!("table {} of {}", limits(t.minimum, t.maximum), t.element)
            }
            ImportKind::Global(g) => format!(
                "global {}{}",
                if g.mutable { "mut " } else { "" },
                g.content
            ),
        };
        println!("  {}::{}: {what}", i.module, i.name);
    }
    println!("exports:");
    for e in &info.exports {
        let what = match e.kind {
            ExternKind::Func => func(info.func_type(e.index)),
            ExternKind::Memory => format!("memory {}", e.index),
            ExternKind::Table => format!("table {}", e.index),
            ExternKind::Global => format!("global {}", e.index),
        };
        println!("  {}: {what}", e.name);
    }
}

/// Prints the summary of the artifact at `path` (for any target), after verifying its
/// checksums and metadata with the loader.
pub fn print(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let inspected = precast_loader::inspect(&bytes)
        .with_context(|| format!("cannot read artifact {}", path.display()))?;
    let h = &inspected.header;
    println!("artifact: {} ({} bytes)", path.display(), bytes.len());
    println!("format version: {}", h.format_version);
    println!(
        "precast version: {} (build {:016x})",
        h.precast_version, h.build_id
    );
    println!("target: {}", h.target);
    println!("cpu features: {}", h.cpu_features);
    println!(
        "settings: bounds checks {:?}, memory reservation {} bytes, guard {} bytes, signals {}, frame pointers {}, spectre mitigations {}, epoch interruption {}, fuel {}",
        h.settings.bounds_checks,
        h.settings.memory_reservation,
        h.settings.memory_guard_size,
        h.settings.signals_based_traps,
        h.settings.frame_pointers,
        h.settings.spectre_mitigations,
        match (
            h.settings.epoch_interruption,
            h.settings.epoch_probe,
            h.settings.epoch_signal
        ) {
            (false, ..) => "false",
            (true, true, true) => "true (signal checks)",
            (true, true, false) => "true (fault checks)",
            (true, false, _) => "true (compare checks)",
        },
        h.settings.consume_fuel
    );
    match &inspected.signature {
        Signature::Unsigned => println!("signature: none"),
        Signature::Valid { fingerprint, .. } => println!("signature: valid, key {fingerprint}"),
        Signature::Invalid(why) => println!("signature: INVALID: {why}"),
    }
    println!("wasm sha256: {}", hex(&h.wasm_hash));
    println!("sections checksum: {:#010x}", h.sections_checksum);
    if let Some(name) = &inspected.info.name {
        println!("module name: {name}");
    }
    print_sections(&bytes)?;
    print_module(&inspected.info);
    // Whether this machine could load it, and if not why.
    match Module::from_file(&Engine::default(), path) {
        Ok(_) => println!("loads here: yes"),
        Err(e) => println!("loads here: no: {e}"),
    }
    Ok(())
}
