//! Artifact verification: every check between "some bytes" and "a module we can run",
//! in order, each with its own [`LoadError`] variant. Nothing here panics on any input.

pub(crate) mod checksum;
pub(crate) mod elf;
pub(crate) mod trust;

use trust::TrustedKey;

use crate::platform::{Reservation, host};
use crate::prelude::*;
use crate::runtime::error::LoadError;
use crate::runtime::vm::POINTER_SIZE;
use precast_format::header::{self, BoundsChecks, HeaderError};
use precast_format::linked::{self, Descriptor};
use precast_format::module::{ConstExpr, ConstOp, DataMode, ElementItems, ElementMode, ImportKind};
use precast_format::tables::{FuncTable, InlineTable, TrampolineTable, TrapTable, UnwindTable};
use precast_format::{Header, ModuleInfo, VMOffsets, sections};

/// An artifact's section bytes, wherever they are: in a file's bytes, or placed by the
/// linker in the executable (a linked module). An absent section is empty.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sections<'a> {
    pub header: &'a [u8],
    pub text: &'a [u8],
    pub info: &'a [u8],
    pub vmoffsets: &'a [u8],
    pub funcs: &'a [u8],
    pub trampolines: &'a [u8],
    pub traps: &'a [u8],
    pub data: &'a [u8],
    pub names: &'a [u8],
    pub unwind: &'a [u8],
    pub inlines: &'a [u8],
    pub signature: &'a [u8],
    /// A required section that is absent (reported after the header checks).
    missing: Option<&'static str>,
}

impl<'a> Sections<'a> {
    /// The bytes of section `name` (one of [`sections::CHECKSUMMED`] or the header).
    pub fn get(&self, name: &str) -> &'a [u8] {
        match name {
            sections::HEADER => self.header,
            sections::TEXT => self.text,
            sections::INFO => self.info,
            sections::VMOFFSETS => self.vmoffsets,
            sections::FUNCS => self.funcs,
            sections::TRAMPOLINES => self.trampolines,
            sections::TRAPS => self.traps,
            sections::DATA => self.data,
            sections::NAMES => self.names,
            sections::UNWIND => self.unwind,
            sections::INLINES => self.inlines,
            sections::SIGNATURE => self.signature,
            _ => &[],
        }
    }

    /// The field for section `name`.
    fn slot(&mut self, name: &str) -> Option<&mut &'a [u8]> {
        Some(match name {
            sections::HEADER => &mut self.header,
            sections::TEXT => &mut self.text,
            sections::INFO => &mut self.info,
            sections::VMOFFSETS => &mut self.vmoffsets,
            sections::FUNCS => &mut self.funcs,
            sections::TRAMPOLINES => &mut self.trampolines,
            sections::TRAPS => &mut self.traps,
            sections::DATA => &mut self.data,
            sections::NAMES => &mut self.names,
            sections::UNWIND => &mut self.unwind,
            sections::INLINES => &mut self.inlines,
            sections::SIGNATURE => &mut self.signature,
            _ => return None,
        })
    }
}

/// Module info decoded and validated against the lookup tables.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub info: ModuleInfo,
    pub offsets: VMOffsets,
}

fn malformed(section: &'static str, reason: impl Into<String>) -> LoadError {
    LoadError::Malformed {
        section,
        reason: reason.into(),
    }
}

fn crc_of(s: &Sections<'_>, names: &[&str]) -> u32 {
    let mut parts = [&[][..]; sections::CHECKSUMMED.len() + 1];
    for (part, name) in parts.iter_mut().zip(names) {
        *part = s.get(name);
    }
    checksum::crc32(&parts[..names.len().min(parts.len())])
}

/// Finds the sections of an artifact file: ELF structure, no duplicate sections, no
/// relocations against `.text`. O(number of sections).
pub(crate) fn elf_sections(file: &[u8]) -> Result<Sections<'_>, LoadError> {
    // Relocation sections against `.text`: code must arrive fully linked, as this loader
    // applies no relocations.
    const RELOCATIONS: [&str; 2] = [".rela.text", ".rel.text"];
    let mut out = Sections::default();
    let mut seen = [false; KNOWN.len()];
    let mut relocations = None;
    for s in elf::sections(file)? {
        let known = KNOWN.iter().position(|n| s.name == n.as_bytes());
        let first = if let Some(i) = known {
            let name = KNOWN[i];
            if let Some(slot) = out.slot(name) {
                *slot = &file[s.offset..s.offset + s.size];
            }
            !core::mem::replace(&mut seen[i], true)
        } else if s.size > 0 && RELOCATIONS.iter().any(|n| s.name == n.as_bytes()) {
            relocations = Some(format!(
                "`{}` holds {} bytes of relocations against `.text`, but artifacts must \
                 be fully linked (this loader applies no relocations)",
                s.display_name(),
                s.size
            ));
            true
        } else {
            true
        };
        if !first {
            return Err(LoadError::MalformedElf(format!(
                "duplicate section `{}`",
                s.display_name()
            )));
        }
    }
    if !seen[0] {
        return Err(LoadError::NotPrecast);
    }
    if let Some(reason) = relocations {
        return Err(LoadError::MalformedElf(reason));
    }
    out.missing = [
        sections::TEXT,
        sections::INFO,
        sections::VMOFFSETS,
        sections::SIGNATURE,
    ]
    .into_iter()
    .find(|name| {
        let i = KNOWN.iter().position(|n| n == name);
        i.is_some_and(|i| !seen[i])
    });
    Ok(out)
}

/// The sections a loader reads: the header, the checksummed ones, the signature.
const KNOWN: [&str; sections::CHECKSUMMED.len() + 2] = {
    let mut k = [sections::HEADER; sections::CHECKSUMMED.len() + 2];
    let mut i = 0;
    while i < sections::CHECKSUMMED.len() {
        k[i + 1] = sections::CHECKSUMMED[i];
        i += 1;
    }
    k[i + 1] = sections::SIGNATURE;
    k
};

/// Finds the sections of a linked module from its descriptor, after checking the
/// descriptor's magic, version and section count.
pub(crate) fn linked_sections(d: &Descriptor) -> Result<Sections<'static>, LoadError> {
    if d.magic != linked::MAGIC {
        return Err(LoadError::Linked(
            "the descriptor does not start with the magic `PCSTLNK\\0`".into(),
        ));
    }
    if d.version != linked::VERSION {
        return Err(LoadError::Linked(format!(
            "descriptor version {} is not supported (this loader reads version {})",
            d.version,
            linked::VERSION
        )));
    }
    if d.count as usize != linked::SECTIONS.len() {
        return Err(LoadError::Linked(format!(
            "the descriptor lists {} sections, expected {}",
            d.count,
            linked::SECTIONS.len()
        )));
    }
    let mut out = Sections::default();
    for (i, name) in linked::SECTIONS.iter().enumerate() {
        let (addr, len) = d.section(i).unwrap_or((0, 0));
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| addr.checked_add(l).is_some() && l <= isize::MAX as usize)
            .ok_or_else(|| LoadError::Linked(format!("section `{name}` does not fit in memory")))?;
        let bytes: &'static [u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the descriptor is the linker-placed one of a linkable object (its
            // magic and version checked above): each entry locates `len` bytes of an
            // allocated, read-only section of this executable, which is never unmapped.
            // The address comes from the linker, so it takes the exposed provenance of the
            // executable's image.
            unsafe { core::slice::from_raw_parts(core::ptr::with_exposed_provenance(addr), len) }
        };
        if let Some(slot) = out.slot(name) {
            *slot = bytes;
        }
    }
    Ok(out)
}

/// What an engine requires of the artifacts it loads (from its `Config`).
pub(crate) struct Requirements<'a> {
    /// Signatures must come from one of these keys (none: no signature required).
    #[cfg_attr(not(feature = "signatures"), allow(dead_code))]
    pub trusted_keys: &'a [TrustedKey],
    /// The CPU features an artifact may require (the CPU limits them further).
    pub cpu_features: precast_format::CpuFeatures,
    /// Refuse artifacts compiled without Spectre mitigations.
    pub spectre_mitigations: bool,
    /// Whether traps may rely on the signal handlers.
    pub signal_handlers: bool,
    /// The code must check the epoch (and must not, without it).
    pub epoch_interruption: bool,
    /// The code must consume fuel (and must not, without it).
    pub consume_fuel: bool,
    /// The memories' address space: an artifact that elides bounds checks assumes at most
    /// this much.
    pub reservation: Reservation,
}

/// The checks done at every load, in order: header (magic, version, own checksum), target,
/// CPU features, ABI settings, the checksum of the metadata sections, and the required
/// sections' presence. O(size of the metadata): nothing here reads the code, the trap table
/// or the data.
pub(crate) fn verify(s: &Sections<'_>, config: &Requirements<'_>) -> Result<Header, LoadError> {
    let header = decode_header(s.header)?;
    check_build(&header)?;
    check_target(&header)?;
    check_cpu(&header, config)?;
    check_settings(&header, config)?;
    let computed = crc_of(s, &sections::METADATA);
    if computed != header.metadata_checksum {
        return Err(LoadError::SectionsChecksum {
            sections: "metadata",
            stored: header.metadata_checksum,
            computed,
        });
    }
    if let Some(name) = s.missing {
        return Err(LoadError::MalformedElf(format!("no `{name}` section")));
    }
    // Without the `signatures` feature no key exists, so none is ever required (and the
    // signature code is left out of the build).
    #[cfg(feature = "signatures")]
    if !config.trusted_keys.is_empty() {
        verify_signature(s, config.trusted_keys)?;
    }
    Ok(header)
}

/// Checks the artifact's signature against `trusted` (see [`precast_format::signature`]):
/// hashes every signed section. O(size of the artifact).
pub(crate) fn verify_signature(s: &Sections<'_>, trusted: &[TrustedKey]) -> Result<(), LoadError> {
    use precast_format::signature::{self, Parsed};
    let (key, sig) = match signature::parse(s.signature) {
        Some(Parsed::Signed { key, signature }) => (key, signature),
        Some(Parsed::Unsigned) => return Err(LoadError::Unsigned),
        None => {
            return Err(LoadError::MalformedSignature(format!(
                "{} bytes that are neither all zero nor a `PCSTSIG1` signature",
                s.signature.len()
            )));
        }
    };
    let fingerprint = signature::fingerprint(&key);
    let Some(trusted) = trusted.iter().find(|t| t.to_bytes() == key) else {
        return Err(LoadError::UntrustedKey { fingerprint });
    };
    #[cfg(feature = "signatures")]
    {
        let message = signature::message(|name| s.get(name));
        trusted
            .0
            .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| LoadError::BadSignature { fingerprint })
    }
    // No key exists to have found.
    #[cfg(not(feature = "signatures"))]
    {
        let _ = sig;
        match trusted.0 {}
    }
}

/// The artifact must come from this build's compiler: same precast version, same build id.
fn check_build(h: &Header) -> Result<(), LoadError> {
    if h.precast_version != precast_format::VERSION || h.build_id != precast_format::BUILD_ID {
        return Err(LoadError::CompilerBuild {
            artifact_version: h.precast_version.clone(),
            artifact_build: h.build_id,
            loader_version: precast_format::VERSION,
            loader_build: precast_format::BUILD_ID,
        });
    }
    Ok(())
}

/// An artifact's header and module info, read without loading it.
#[derive(Clone, Debug)]
pub struct Inspected {
    /// The header.
    pub header: Header,
    /// The module's metadata.
    pub info: ModuleInfo,
    /// Who signed it.
    pub signature: Signature,
}

/// An artifact's signature, checked against the key it names (not against any trust).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signature {
    /// Not signed.
    Unsigned,
    /// A valid signature by the key with this public half and fingerprint.
    Valid {
        /// The signer's public key.
        key: [u8; 32],
        /// Its fingerprint.
        fingerprint: String,
    },
    /// A signature that does not verify, or a malformed signature section.
    Invalid(String),
}

/// Reads the artifact file `bytes` for any target, without loading it: every check of a
/// load except those against this host and engine (compiler build, target, CPU features,
/// settings, signature). For tools such as `precast inspect`.
pub fn inspect(bytes: &[u8]) -> Result<Inspected, LoadError> {
    let s = elf_sections(bytes)?;
    let header = decode_header(s.header)?;
    if let Some(name) = s.missing {
        return Err(LoadError::MalformedElf(format!("no `{name}` section")));
    }
    verify_integrity(&s, &header)?;
    let info = decode(&s)?.info;
    let signature = match precast_format::signature::parse(s.signature) {
        Some(precast_format::signature::Parsed::Signed { key, .. }) => {
            match TrustedKey::from_bytes(&key) {
                Some(k) => match verify_signature(&s, &[k]) {
                    Ok(()) => Signature::Valid {
                        key,
                        fingerprint: k.fingerprint(),
                    },
                    Err(e) => Signature::Invalid(e.to_string()),
                },
                None if cfg!(feature = "signatures") => {
                    Signature::Invalid("the signer's public key is not a valid key".into())
                }
                None => Signature::Invalid(
                    "signed, but this loader was built without signature verification".into(),
                ),
            }
        }
        Some(precast_format::signature::Parsed::Unsigned) => Signature::Unsigned,
        None => {
            Signature::Invalid(LoadError::MalformedSignature("not a signature".into()).to_string())
        }
    };
    Ok(Inspected {
        header,
        info,
        signature,
    })
}

/// The checks that read every byte: the checksum over all sections (code, metadata, trap
/// table, data, names, unwind and inline tables), the trap table's order and codes, and the
/// unwind and inline tables' structure.
pub(crate) fn verify_integrity(s: &Sections<'_>, header: &Header) -> Result<(), LoadError> {
    let computed = crc_of(s, &sections::CHECKSUMMED);
    if computed != header.sections_checksum {
        return Err(LoadError::SectionsChecksum {
            sections: "all",
            stored: header.sections_checksum,
            computed,
        });
    }
    validate_traps(s.text.len(), s.traps)?;
    validate_unwind(s.text.len(), s.unwind)?;
    validate_inlines(s)
}

/// Decodes the module info and the recorded VMContext layout, and checks them and the
/// function and trampoline tables for consistency.
pub(crate) fn decode(s: &Sections<'_>) -> Result<Decoded, LoadError> {
    let info: ModuleInfo = precast_format::decode(s.info).map_err(|e| LoadError::Decode {
        section: sections::INFO,
        reason: e.to_string(),
    })?;
    let recorded: VMOffsets =
        precast_format::decode(s.vmoffsets).map_err(|e| LoadError::Decode {
            section: sections::VMOFFSETS,
            reason: e.to_string(),
        })?;
    validate_info(&info, s.data.len())?;
    let expected = info.vmoffsets(POINTER_SIZE);
    if recorded != expected {
        return Err(LoadError::VMOffsets(describe_offsets_diff(
            &recorded, &expected,
        )));
    }
    validate_tables(&info, s.text.len(), s.funcs, s.trampolines)?;
    Ok(Decoded {
        info,
        offsets: expected,
    })
}

fn decode_header(bytes: &[u8]) -> Result<Header, LoadError> {
    Header::decode(bytes, |b| checksum::crc32(&[b])).map_err(|e| match e {
        HeaderError::BadMagic => LoadError::BadMagic,
        HeaderError::Version { found, expected } => LoadError::FormatVersion { found, expected },
        HeaderError::Checksum { stored, computed } => {
            LoadError::HeaderChecksum { stored, computed }
        }
        HeaderError::Truncated { len } => LoadError::MalformedHeader(format!(
            "`{}` is {len} bytes, a header needs {}",
            sections::HEADER,
            header::HEADER_SIZE
        )),
        HeaderError::Malformed(what) => LoadError::MalformedHeader(what.to_string()),
    })
}

fn check_target(h: &Header) -> Result<(), LoadError> {
    if h.target != host::HOST_TARGET
        && header::arch_and_os(&h.target) != header::arch_and_os(host::HOST_TARGET)
    {
        return Err(LoadError::Target {
            artifact: h.target.clone(),
            host: host::HOST_TARGET.to_string(),
        });
    }
    Ok(())
}

fn check_cpu(h: &Header, config: &Requirements<'_>) -> Result<(), LoadError> {
    // Bits no name describes cannot be checked: they count as missing.
    let detected = host::host_cpu_features().0;
    let available = detected & config.cpu_features.0;
    if h.cpu_features.0 & !available == 0 {
        return Ok(());
    }
    let named = |bits: u64| -> Vec<String> {
        let f = precast_format::CpuFeatures(bits);
        f.names().map(str::to_string).collect()
    };
    let mut missing = named(h.cpu_features.0 & !detected);
    missing.extend(
        named(h.cpu_features.0 & detected & !config.cpu_features.0)
            .into_iter()
            .map(|n| format!("{n} (not allowed by Config::cpu_features)")),
    );
    let known = precast_format::CpuFeatures::NAMES
        .iter()
        .fold(0u64, |acc, (b, _)| acc | (1 << b));
    let unknown = h.cpu_features.0 & !known;
    if unknown != 0 {
        missing.push(format!("unknown feature bits {unknown:#x}"));
    }
    Err(LoadError::CpuFeatures { missing })
}

fn check_settings(h: &Header, config: &Requirements<'_>) -> Result<(), LoadError> {
    if config.spectre_mitigations && !h.settings.spectre_mitigations {
        return Err(LoadError::Settings(
            "the artifact was compiled without Spectre mitigations, which this engine \
             requires (Config::require_spectre_mitigations)"
                .into(),
        ));
    }
    if h.pointer_size != u32::from(POINTER_SIZE) {
        return Err(LoadError::Settings(format!(
            "artifact pointer size is {} bytes, host pointer size is {POINTER_SIZE}",
            h.pointer_size
        )));
    }
    let s = &h.settings;
    if s.signals_based_traps && !config.signal_handlers {
        return Err(LoadError::Settings(
            "the artifact was compiled with signal-based traps (its traps fault and need a \
             signal handler), but this engine installs no signal handlers \
             (Config::signal_handlers(false)): compile it with `precast compile --no-signals`"
                .into(),
        ));
    }
    let compiled = |on: bool| if on { "with" } else { "without" };
    if s.epoch_interruption != config.epoch_interruption {
        return Err(LoadError::Settings(format!(
            "the artifact was compiled {} epoch interruption and this engine is configured {} \
             it (Config::epoch_interruption): compile it {}`precast compile \
             --epoch-interruption`, or configure the engine to match",
            compiled(s.epoch_interruption),
            compiled(config.epoch_interruption),
            if config.epoch_interruption {
                "with "
            } else {
                "without "
            },
        )));
    }
    if s.consume_fuel != config.consume_fuel {
        return Err(LoadError::Settings(format!(
            "the artifact was compiled {} fuel consumption and this engine is configured {} \
             it (Config::consume_fuel): compile it {}`precast compile --consume-fuel`, or \
             configure the engine to match",
            compiled(s.consume_fuel),
            compiled(config.consume_fuel),
            if config.consume_fuel {
                "with "
            } else {
                "without "
            },
        )));
    }
    match s.bounds_checks {
        BoundsChecks::Explicit => {}
        BoundsChecks::GuardPages => {
            if !s.signals_based_traps {
                return Err(LoadError::Settings(
                    "guard-page bounds checks need signal-based traps".into(),
                ));
            }
            if s.memory_reservation > config.reservation.size
                || s.memory_guard_size > config.reservation.guard
            {
                return Err(LoadError::Settings(format!(
                    "guard-page bounds checks compiled for a {:#x}-byte memory reservation and \
                     {:#x}-byte guard, but the loader reserves {:#x} + {:#x}",
                    s.memory_reservation,
                    s.memory_guard_size,
                    config.reservation.size,
                    config.reservation.guard
                )));
            }
        }
    }
    Ok(())
}

fn describe_offsets_diff(recorded: &VMOffsets, expected: &VMOffsets) -> String {
    let fields = [
        (
            "pointer_size",
            u32::from(recorded.pointer_size),
            u32::from(expected.pointer_size),
        ),
        ("store", recorded.store, expected.store),
        ("builtins", recorded.builtins, expected.builtins),
        ("type_ids", recorded.type_ids, expected.type_ids),
        ("instance", recorded.instance, expected.instance),
        (
            "imported_memories",
            recorded.imported_memories,
            expected.imported_memories,
        ),
        (
            "imported_tables",
            recorded.imported_tables,
            expected.imported_tables,
        ),
        (
            "imported_globals",
            recorded.imported_globals,
            expected.imported_globals,
        ),
        (
            "defined_memories",
            recorded.defined_memories,
            expected.defined_memories,
        ),
        (
            "defined_tables",
            recorded.defined_tables,
            expected.defined_tables,
        ),
        (
            "defined_globals",
            recorded.defined_globals,
            expected.defined_globals,
        ),
        ("func_refs", recorded.func_refs, expected.func_refs),
        ("size", recorded.size, expected.size),
    ];
    match fields.iter().find(|(_, r, e)| r != e) {
        Some((name, r, e)) => format!("field `{name}` is {r} in the artifact, expected {e}"),
        None => format!(
            "entity counts differ: artifact {:?}, module info {:?}",
            recorded.counts, expected.counts
        ),
    }
}

/// Checks the module info for internal consistency, so that instantiation can index it.
pub(crate) fn validate_info(info: &ModuleInfo, data_len: usize) -> Result<(), LoadError> {
    let bad = |reason: String| Err(malformed(sections::INFO, reason));
    let (mut funcs, mut tables, mut memories, mut globals) = (0u64, 0u64, 0u64, 0u64);
    for import in &info.imports {
        match import.kind {
            ImportKind::Func(_) => funcs += 1,
            ImportKind::Table(_) => tables += 1,
            ImportKind::Memory(_) => memories += 1,
            ImportKind::Global(_) => globals += 1,
        }
    }
    let counts = [
        (
            "functions",
            funcs,
            info.num_imported_funcs,
            info.functions.len(),
        ),
        (
            "tables",
            tables,
            info.num_imported_tables,
            info.tables.len(),
        ),
        (
            "memories",
            memories,
            info.num_imported_memories,
            info.memories.len(),
        ),
        (
            "globals",
            globals,
            info.num_imported_globals,
            info.globals.len(),
        ),
    ];
    for (what, imports, recorded, total) in counts {
        if imports != u64::from(recorded) || recorded as usize > total {
            return bad(format!(
                "{what}: {imports} imports listed, {recorded} recorded, {total} in total"
            ));
        }
    }
    // Keep every VMContext offset computation far from u32 overflow.
    let entities = info.functions.len() as u64 * 3
        + info.tables.len() as u64 * 2
        + info.memories.len() as u64 * 2
        + info.globals.len() as u64 * 2;
    if entities > (1 << 24) {
        return bad(format!(
            "{entities} entity slots is more than a VMContext can hold"
        ));
    }
    let ntypes = info.types.len();
    for (i, &ty) in info.functions.iter().enumerate() {
        if ty as usize >= ntypes {
            return bad(format!(
                "function {i} has type {ty}, but there are {ntypes} types"
            ));
        }
    }
    let mut imported = [0u32; 4];
    for import in &info.imports {
        let (k, declared) = match &import.kind {
            ImportKind::Func(ty) => (0, info.functions.get(imported[0] as usize) == Some(ty)),
            ImportKind::Table(t) => (
                1,
                info.tables.get(imported[1] as usize).map(|x| &x.ty) == Some(t),
            ),
            ImportKind::Memory(m) => (2, info.memories.get(imported[2] as usize) == Some(m)),
            ImportKind::Global(g) => (
                3,
                info.globals.get(imported[3] as usize).map(|x| &x.ty) == Some(g),
            ),
        };
        if !declared {
            return bad(format!(
                "import `{}::{}` disagrees with its entity declaration",
                import.module, import.name
            ));
        }
        imported[k] += 1;
    }
    for (i, m) in info.memories.iter().enumerate() {
        if m.page_size_log2 > 16 {
            return bad(format!("memory {i} has page size 2^{}", m.page_size_log2));
        }
    }
    let check_expr = |e: &ConstExpr, what: &dyn Fn() -> String| -> Result<(), LoadError> {
        for op in &e.0 {
            match *op {
                ConstOp::RefFunc(f) if f as usize >= info.functions.len() => {
                    return bad(format!("{}: ref.func {f} out of range", what()));
                }
                ConstOp::GlobalGet(g) if g as usize >= info.globals.len() => {
                    return bad(format!("{}: global.get {g} out of range", what()));
                }
                _ => {}
            }
        }
        Ok(())
    };
    for (i, g) in info.globals.iter().enumerate() {
        let defined = i >= info.num_imported_globals as usize;
        match (&g.init, defined) {
            (Some(e), true) => check_expr(e, &|| format!("global {i}"))?,
            (None, false) => {}
            _ => {
                return bad(format!(
                    "global {i} initializer does not match its import status"
                ));
            }
        }
    }
    for (i, t) in info.tables.iter().enumerate() {
        if let Some(e) = &t.init {
            check_expr(e, &|| format!("table {i} initializer"))?;
        }
    }
    for e in &info.exports {
        let len = match e.kind {
            precast_format::module::ExternKind::Func => info.functions.len(),
            precast_format::module::ExternKind::Table => info.tables.len(),
            precast_format::module::ExternKind::Memory => info.memories.len(),
            precast_format::module::ExternKind::Global => info.globals.len(),
        };
        if e.index as usize >= len {
            return bad(format!(
                "export `{}` index {} out of range",
                e.name, e.index
            ));
        }
    }
    if let Some(s) = info.start
        && s as usize >= info.functions.len()
    {
        return bad(format!("start function {s} out of range"));
    }
    for (i, seg) in info.elements.iter().enumerate() {
        if let ElementMode::Active { table, offset } = &seg.mode {
            if *table as usize >= info.tables.len() {
                return bad(format!("element segment {i} targets table {table}"));
            }
            check_expr(offset, &|| format!("element segment {i} offset"))?;
        }
        match &seg.items {
            ElementItems::Funcs(fs) => {
                if let Some(f) = fs.iter().find(|&&f| f as usize >= info.functions.len()) {
                    return bad(format!("element segment {i} names function {f}"));
                }
            }
            ElementItems::Exprs(es) => {
                for e in es {
                    check_expr(e, &|| format!("element segment {i} item"))?;
                }
            }
        }
    }
    for (i, seg) in info.data.iter().enumerate() {
        if let DataMode::Active { memory, offset } = &seg.mode {
            if *memory as usize >= info.memories.len() {
                return bad(format!("data segment {i} targets memory {memory}"));
            }
            check_expr(offset, &|| format!("data segment {i} offset"))?;
        }
        let end = seg.offset.checked_add(seg.len);
        if end.is_none_or(|end| end > data_len as u64) {
            return bad(format!(
                "data segment {i} bytes {}+{} exceed the {data_len}-byte data section",
                seg.offset, seg.len
            ));
        }
    }
    let mut prev = None;
    for img in &info.memory_images {
        let m = img.memory;
        if m < info.num_imported_memories || prev.is_some_and(|p| m <= p) {
            return bad(format!(
                "memory image for memory {m} is not for a defined memory, or out of order"
            ));
        }
        prev = Some(m);
        let Some(ty) = info.memories.get(m as usize) else {
            return bad(format!("memory image for memory {m}, which does not exist"));
        };
        let align = precast_format::IMAGE_ALIGN;
        let min_bytes = ty
            .minimum
            .checked_mul(ty.page_size())
            .filter(|b| b.checked_next_multiple_of(align).is_some());
        let mem_end = img.memory_offset.checked_add(img.len);
        let data_end = img.data_offset.checked_add(img.len);
        let fits = match (min_bytes, mem_end, data_end) {
            (Some(min), Some(mem_end), Some(data_end)) => {
                mem_end <= min.next_multiple_of(align) && data_end <= data_len as u64
            }
            _ => false,
        };
        if !fits
            || ty.shared
            || !(img.memory_offset | img.data_offset | img.len).is_multiple_of(align)
        {
            return bad(format!(
                "memory image for memory {m} ({:#x} bytes at {:#x}, data {:#x}) does not fit \
                 the memory or the data section, or is not page aligned",
                img.len, img.memory_offset, img.data_offset
            ));
        }
    }
    Ok(())
}

/// Checks the function and trampoline tables against `.text` and the module info.
pub(crate) fn validate_tables(
    info: &ModuleInfo,
    text_len: usize,
    funcs: &[u8],
    trampolines: &[u8],
) -> Result<(), LoadError> {
    let in_text = |start: u32, len: u32| (start as u64) + (len as u64) <= text_len as u64;
    let funcs_t = FuncTable::new(funcs).ok_or_else(|| {
        malformed(
            sections::FUNCS,
            format!(
                "{} bytes is not a whole number of 8-byte entries",
                funcs.len()
            ),
        )
    })?;
    let defined = info.functions.len() - info.num_imported_funcs as usize;
    if funcs_t.len() != defined {
        return Err(malformed(
            sections::FUNCS,
            format!("{} entries for {defined} defined functions", funcs_t.len()),
        ));
    }
    let mut prev_end = 0u64;
    for i in 0..funcs_t.len() {
        let f = funcs_t.func(i);
        if !in_text(f.start, f.len) {
            return Err(malformed(
                sections::FUNCS,
                format!(
                    "function {i} at {:#x}+{:#x} is outside the {text_len:#x}-byte .text",
                    f.start, f.len
                ),
            ));
        }
        if u64::from(f.start) < prev_end {
            return Err(malformed(
                sections::FUNCS,
                format!("function {i} overlaps or is out of order"),
            ));
        }
        prev_end = u64::from(f.start) + u64::from(f.len);
    }
    let tramps = TrampolineTable::new(trampolines).ok_or_else(|| {
        malformed(
            sections::TRAMPOLINES,
            format!(
                "{} bytes is not a whole number of 8-byte entries",
                trampolines.len()
            ),
        )
    })?;
    if tramps.len() != info.types.len() {
        return Err(malformed(
            sections::TRAMPOLINES,
            format!("{} entries for {} types", tramps.len(), info.types.len()),
        ));
    }
    for i in 0..tramps.len() {
        for (w, what) in [(0, "entry"), (1, "exit")] {
            let off = tramps.word(i, w);
            if off != u32::MAX && off as usize >= text_len {
                return Err(malformed(
                    sections::TRAMPOLINES,
                    format!(
                        "type {i} {what} trampoline offset {off:#x} is outside the {text_len:#x}-byte .text"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks the trap table: sizes, sites inside `.text` and sorted, known codes.
pub(crate) fn validate_traps(text_len: usize, traps: &[u8]) -> Result<(), LoadError> {
    let table = TrapTable::new(traps).ok_or_else(|| {
        malformed(
            sections::TRAPS,
            format!(
                "{} bytes disagree with the site and chunk counts",
                traps.len()
            ),
        )
    })?;
    table
        .check(text_len)
        .map_err(|reason| malformed(sections::TRAPS, reason))
}

/// Checks the inline table: ranges inside `.text`, sorted and disjoint, naming defined
/// functions.
pub(crate) fn validate_inlines(s: &Sections<'_>) -> Result<(), LoadError> {
    let bad = |reason| malformed(sections::INLINES, reason);
    let table = InlineTable::new(s.inlines)
        .ok_or_else(|| bad(format!("{} bytes are not whole entries", s.inlines.len())))?;
    let funcs = FuncTable::new(s.funcs).map_or(0, |t| t.len());
    table.check(s.text.len(), funcs).map_err(bad)
}

/// Checks the unwind table: its fixups inside the frames, pointing into `.text`, and frame
/// records that chain to the terminator (what the unwinder walks).
pub(crate) fn validate_unwind(text_len: usize, unwind: &[u8]) -> Result<(), LoadError> {
    let table = UnwindTable::new(unwind).ok_or_else(|| {
        malformed(
            sections::UNWIND,
            format!("{} bytes disagree with the fixup count", unwind.len()),
        )
    })?;
    table
        .check(text_len)
        .map_err(|reason| malformed(sections::UNWIND, reason))
}
