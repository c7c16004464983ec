//! Every artifact check has its own typed error: garbage, foreign ELF files, truncation,
//! header fields, checksums, metadata and lookup tables. Corrupted artifacts are derived from
//! a real compiled one, with checksums recomputed where the test targets a later check.

use precast_format::header::{BoundsChecks, HEADER_SIZE, Header};
use precast_format::sections;
use precast_loader::*;

/// A minimal ELF64 section table reader for the tests (the loader's own is private).
mod elf {
    /// One section: name and file range.
    pub struct Section {
        pub name: String,
        pub offset: usize,
        pub size: usize,
    }

    fn u16_at(b: &[u8], at: usize) -> usize {
        u16::from_le_bytes([b[at], b[at + 1]]) as usize
    }

    fn u64_at(b: &[u8], at: usize) -> usize {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
    }

    /// Every section header, by index (index 0 is the null section).
    pub fn sections(b: &[u8]) -> Result<Vec<Section>, String> {
        let (shoff, shnum, shstrndx) = (u64_at(b, 0x28), u16_at(b, 0x3c), u16_at(b, 0x3e));
        let hdr = |i: usize| shoff + i * 64;
        let strtab = u64_at(b, hdr(shstrndx) + 0x18);
        Ok((0..shnum)
            .map(|i| {
                let name_off =
                    strtab + u32::from_le_bytes(b[hdr(i)..hdr(i) + 4].try_into().unwrap()) as usize;
                let end = b[name_off..].iter().position(|&c| c == 0).unwrap_or(0);
                Section {
                    name: String::from_utf8_lossy(&b[name_off..name_off + end]).into_owned(),
                    offset: u64_at(b, hdr(i) + 0x18),
                    size: u64_at(b, hdr(i) + 0x20),
                }
            })
            .collect())
    }
}

const WAT: &str = r#"(module $m (memory 1) (data (i32.const 0) "hi")
  (func (export "f") (param i32) (result i32) (i32.div_u (i32.const 10) (local.get 0)))
  (func (export "g") (result i64) (i64.const 1)))"#;

fn artifact() -> Vec<u8> {
    precast_compiler::compile(WAT.as_bytes(), &precast_compiler::Config::default()).unwrap()
}

fn load(bytes: &[u8]) -> Result<Module, LoadError> {
    load_in(&Engine::default(), bytes)
}

fn load_in(engine: &Engine, bytes: &[u8]) -> Result<Module, LoadError> {
    match Module::from_bytes(engine, bytes) {
        Ok(m) => Ok(m),
        Err(Error::Load(e)) => Err(e),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

fn err(bytes: &[u8]) -> LoadError {
    load(bytes).expect_err("artifact must be refused")
}

/// (index, section) of the section called `name`.
fn section(bytes: &[u8], name: &str) -> (usize, elf::Section) {
    elf::sections(bytes)
        .unwrap()
        .into_iter()
        .enumerate()
        .find(|(_, s)| s.name == name)
        .unwrap_or_else(|| panic!("no section {name}"))
}

fn contents<'a>(bytes: &'a mut [u8], name: &str) -> &'a mut [u8] {
    let (_, s) = section(bytes, name);
    &mut bytes[s.offset..s.offset + s.size]
}

/// Offset of the section header of section `index`.
fn shdr(bytes: &[u8], index: usize) -> usize {
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    shoff + index * 64
}

fn header(bytes: &[u8]) -> Header {
    let (_, s) = section(bytes, sections::HEADER);
    Header::decode(&bytes[s.offset..s.offset + s.size], crc32fast::hash).unwrap()
}

/// Writes `h`, with the sections checksum recomputed, into the header section.
fn write_header(bytes: &mut [u8], mut h: Header) {
    let all = elf::sections(bytes).unwrap();
    (h.sections_checksum, h.metadata_checksum) = precast_format::checksums(
        |name| {
            all.iter()
                .find(|s| s.name == name)
                .map(|s| &bytes[s.offset..s.offset + s.size])
        },
        |parts| {
            let mut hasher = crc32fast::Hasher::new();
            for p in parts {
                hasher.update(p);
            }
            hasher.finalize()
        },
    );
    contents(bytes, sections::HEADER)[..HEADER_SIZE].copy_from_slice(&h.encode(crc32fast::hash));
}

/// Recomputes the sections checksum after editing section contents.
fn rechecksum(bytes: &mut [u8]) {
    let h = header(bytes);
    write_header(bytes, h);
}

#[test]
fn the_unmodified_artifact_loads() {
    let m = load(&artifact()).unwrap();
    assert_eq!(m.name(), Some("m"));
}

#[test]
fn not_elf() {
    for bytes in [
        &b""[..],
        b"garbage that is not an object file at all",
        b"\0asm\x01\0\0\0",
    ] {
        let e = err(bytes);
        assert!(matches!(e, LoadError::NotElf { .. }), "{e}");
        assert!(e.to_string().starts_with("not a Precast artifact"), "{e}");
    }
    // ELF32 and big-endian ELF64 are foreign.
    let mut elf32 = artifact();
    elf32[4] = 1;
    assert!(err(&elf32).to_string().contains("ELF class 1"));
    let mut be = artifact();
    be[5] = 2;
    assert!(err(&be).to_string().contains("not little-endian"));
}

#[test]
fn elf_without_precast_sections() {
    use object::write::Object;
    let mut obj = Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    let text = obj.section_id(object::write::StandardSection::Text);
    obj.append_section_data(text, &[0xc3], 16);
    let bytes = obj.write().unwrap();
    let e = err(&bytes);
    assert!(matches!(e, LoadError::NotPrecast), "{e}");
    assert!(e.to_string().contains(".precast.header"), "{e}");
}

#[test]
fn truncated() {
    let a = artifact();
    let e = err(&a[..3]);
    assert!(
        matches!(
            e,
            LoadError::Truncated {
                expected: 64,
                actual: 3,
                ..
            }
        ),
        "{e}"
    );
    let e = err(&a[..40]);
    assert!(matches!(e, LoadError::Truncated { .. }), "{e}");
    let half = &a[..a.len() / 2];
    let e = err(half);
    match &e {
        LoadError::Truncated {
            expected, actual, ..
        } => {
            assert_eq!(*actual, half.len() as u64);
            assert!(*expected > *actual);
        }
        _ => panic!("{e}"),
    }
    assert!(e.to_string().contains("truncated artifact"), "{e}");
    // A section that extends past the end of the file is named.
    let mut long = a.clone();
    let (i, _) = section(&long, sections::INFO);
    let at = shdr(&long, i) + 0x20;
    long[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let e = err(&long);
    assert!(matches!(e, LoadError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("`.precast.info`"), "{e}");
}

#[test]
fn relocations_against_text_are_refused() {
    let mut a = artifact();
    // Rename `.precast.traps` (same length as `.rela.text` plus padding) in the name table.
    let (_, names) = section(&a, ".shstrtab");
    let table = &mut a[names.offset..names.offset + names.size];
    let at = table
        .windows(15)
        .position(|w| w == b".precast.traps\0")
        .unwrap();
    table[at..at + 15].copy_from_slice(b".rela.text\0\0\0\0\0");
    let e = err(&a);
    assert!(matches!(e, LoadError::MalformedElf(_)), "{e}");
    assert!(e.to_string().contains("relocations"), "{e}");
}

#[test]
fn header_magic_version_checksum() {
    let a = artifact();
    let mut bad = a.clone();
    contents(&mut bad, sections::HEADER)[0] = b'X';
    assert!(matches!(err(&bad), LoadError::BadMagic));
    let mut bad = a.clone();
    contents(&mut bad, sections::HEADER)[8] = 99;
    let e = err(&bad);
    assert!(
        matches!(
            e,
            LoadError::FormatVersion {
                found: 99,
                expected: precast_format::header::FORMAT_VERSION
            }
        ),
        "{e}"
    );
    let mut bad = a.clone();
    contents(&mut bad, sections::HEADER)[40] ^= 1;
    assert!(matches!(err(&bad), LoadError::HeaderChecksum { .. }));
}

#[test]
fn other_target() {
    let mut a = artifact();
    let mut h = header(&a);
    h.target = if cfg!(target_arch = "aarch64") {
        "x86_64-unknown-linux-gnu".into()
    } else {
        "aarch64-unknown-linux-gnu".into()
    };
    write_header(&mut a, h);
    let e = err(&a);
    assert!(matches!(e, LoadError::Target { .. }), "{e}");
    assert!(e.to_string().contains(HOST_TARGET), "{e}");
    // Vendor and environment do not matter.
    let mut a = artifact();
    let mut h = header(&a);
    let (arch, os) = precast_format::header::arch_and_os(HOST_TARGET);
    h.target = format!("{arch}-whatever-{os}-musl");
    write_header(&mut a, h);
    load(&a).unwrap();
}

#[test]
fn missing_cpu_features() {
    let mut a = artifact();
    let mut h = header(&a);
    h.cpu_features.0 |= 1 << 60;
    let lacking = precast_format::CpuFeatures::NAMES
        .iter()
        .map(|(_, n)| *n)
        .find(|n| !has_cpu_feature(n));
    if let Some(n) = lacking {
        h.cpu_features.insert(n);
    }
    write_header(&mut a, h);
    let e = err(&a);
    let LoadError::CpuFeatures { missing } = &e else {
        panic!("{e}");
    };
    assert!(
        missing.iter().any(|m| m.contains("unknown feature bits")),
        "{e}"
    );
    if let Some(n) = lacking {
        assert!(missing.iter().any(|m| m == n), "{e}");
    }
}

#[test]
fn settings_mismatch() {
    let a = artifact();
    let mut p4 = a.clone();
    let mut h = header(&p4);
    h.pointer_size = 4;
    write_header(&mut p4, h);
    let e = err(&p4);
    assert!(
        matches!(e, LoadError::Settings(_)) && e.to_string().contains("pointer size"),
        "{e}"
    );
    let mut big = a.clone();
    let mut h = header(&big);
    h.settings.memory_reservation = 1 << 40;
    write_header(&mut big, h);
    assert!(matches!(err(&big), LoadError::Settings(_)));
    // Explicit bounds checks need no particular reservation.
    let mut explicit = a.clone();
    let mut h = header(&explicit);
    h.settings.bounds_checks = BoundsChecks::Explicit;
    h.settings.memory_reservation = 1 << 40;
    write_header(&mut explicit, h);
    load(&explicit).unwrap();
}

#[test]
fn corrupted_sections() {
    let a = artifact();
    for name in [
        sections::TEXT,
        sections::INFO,
        sections::FUNCS,
        sections::DATA,
    ] {
        let mut bad = a.clone();
        contents(&mut bad, name)[0] ^= 0x40;
        let e = err(&bad);
        assert!(
            matches!(e, LoadError::SectionsChecksum { .. }),
            "{name}: {e}"
        );
    }
}

#[test]
fn undecodable_metadata() {
    let a = artifact();
    let mut bad = a.clone();
    contents(&mut bad, sections::INFO).fill(0xff);
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(
        matches!(
            e,
            LoadError::Decode {
                section: ".precast.info",
                ..
            }
        ),
        "{e}"
    );
    let mut bad = a.clone();
    contents(&mut bad, sections::VMOFFSETS).fill(0xff);
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(
        matches!(
            e,
            LoadError::Decode {
                section: ".precast.vmoffsets",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn recorded_vmoffsets_must_match() {
    let mut a = artifact();
    let s = contents(&mut a, sections::VMOFFSETS);
    let mut offsets: precast_format::VMOffsets = precast_format::decode(s).unwrap();
    offsets.pointer_size = 4;
    let encoded = precast_format::encode(&offsets);
    assert_eq!(encoded.len(), s.len());
    s.copy_from_slice(&encoded);
    rechecksum(&mut a);
    let e = err(&a);
    assert!(matches!(e, LoadError::VMOffsets(_)), "{e}");
    assert!(e.to_string().contains("pointer_size"), "{e}");
}

#[test]
fn malformed_inline_table() {
    // `outer` inlines `helper`: the inline table has one range.
    let wat = r#"(module
      (func $helper (param i32) (result i32) (i32.div_u (i32.const 100) (local.get 0)))
      (func (export "outer") (param i32) (result i32) (call $helper (local.get 0))))"#;
    let a =
        precast_compiler::compile(wat.as_bytes(), &precast_compiler::Config::default()).unwrap();
    let (_, inlines) = section(&a, sections::INLINES);
    assert_eq!(inlines.size, 16, "one range of one inlined function");
    load(&a).unwrap();
    let cases: [(usize, u32, &str); 3] = [
        (8, 7, "function 7 of 2"),
        (4, 0x7fff_0000, "outside .text"),
        (12, 2, "not depth 1"),
    ];
    for (at, value, message) in cases {
        let mut bad = a.clone();
        contents(&mut bad, sections::INLINES)[at..at + 4].copy_from_slice(&value.to_le_bytes());
        rechecksum(&mut bad);
        let e = err(&bad);
        assert!(
            matches!(
                e,
                LoadError::Malformed {
                    section: ".precast.inlines",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(message), "{message}: {e}");
    }
}

#[test]
fn malformed_tables() {
    let a = artifact();
    // A function outside .text.
    let mut bad = a.clone();
    contents(&mut bad, sections::FUNCS)[..4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(
        matches!(
            e,
            LoadError::Malformed {
                section: ".precast.funcs",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("outside"), "{e}");
    // A trampoline outside .text.
    let mut bad = a.clone();
    contents(&mut bad, sections::TRAMPOLINES)[..4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(
        matches!(
            e,
            LoadError::Malformed {
                section: ".precast.trampolines",
                ..
            }
        ),
        "{e}"
    );
    // A table whose length is not a whole number of entries.
    let mut bad = a.clone();
    let (i, s) = section(&bad, sections::FUNCS);
    let at = shdr(&bad, i) + 0x20;
    bad[at..at + 8].copy_from_slice(&(s.size as u64 - 4).to_le_bytes());
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(
        matches!(
            e,
            LoadError::Malformed {
                section: ".precast.funcs",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("whole number"), "{e}");
    // Trap sites: unknown code, unsorted, counts that disagree with the length.
    let (_, traps) = section(&a, sections::TRAPS);
    let t = &a[traps.offset..traps.offset + traps.size];
    let count = u32::from_le_bytes(t[..4].try_into().unwrap()) as usize;
    assert!(count >= 2, "the module has several trap sites");
    let (low, codes) = (traps.size - 3 * count, traps.size - count);
    let mut bad = a.clone();
    contents(&mut bad, sections::TRAPS)[codes] = 200;
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(e.to_string().contains("unknown code 200"), "{e}");
    let mut bad = a.clone();
    contents(&mut bad, sections::TRAPS)[low..low + 4].rotate_left(2);
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(e.to_string().contains("not sorted"), "{e}");
    let mut bad = a.clone();
    contents(&mut bad, sections::TRAPS)[..4].copy_from_slice(&(count as u32 + 1).to_le_bytes());
    rechecksum(&mut bad);
    let e = err(&bad);
    assert!(e.to_string().contains("disagree"), "{e}");
    // The unwind table: a fixup outside the frames, an FDE start outside `.text`, a record
    // length past the end, a fixup count past the end.
    let (_, unwind) = section(&a, sections::UNWIND);
    let u = &a[unwind.offset..unwind.offset + unwind.size];
    let fixups = u32::from_le_bytes(u[..4].try_into().unwrap()) as usize;
    assert!(fixups >= 2, "an FDE per function and trampoline");
    let frames = 4 + 4 * fixups;
    let first = frames + u32::from_le_bytes(u[4..8].try_into().unwrap()) as usize;
    type Corrupt<'a> = &'a dyn Fn(&mut [u8]);
    let cases: [(Corrupt<'_>, &str); 4] = [
        (
            &|t| t[4..8].copy_from_slice(&(unwind.size as u32).to_le_bytes()),
            "outside the frames",
        ),
        (
            &|t| t[first..first + 8].copy_from_slice(&u64::MAX.to_le_bytes()),
            "outside the code",
        ),
        (
            &|t| t[frames..frames + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes()),
            "runs past the end",
        ),
        (
            &|t| t[..4].copy_from_slice(&u32::MAX.to_le_bytes()),
            "disagree with the fixup count",
        ),
    ];
    for (corrupt, reason) in cases {
        let mut bad = a.clone();
        corrupt(contents(&mut bad, sections::UNWIND));
        rechecksum(&mut bad);
        let e = err(&bad);
        assert!(
            matches!(
                e,
                LoadError::Malformed {
                    section: ".precast.unwind",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(reason), "{reason}: {e}");
    }
}

/// What a loaded module does: its name, `f(2)`, the trap of `f(0)` with its backtrace, `g()`.
#[derive(Debug, PartialEq)]
struct Behaviour {
    name: Option<String>,
    f2: Vec<Val>,
    f0: (TrapCode, Vec<String>),
    g: Vec<Val>,
}

fn behaviour(engine: &Engine, m: &Module) -> Behaviour {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine)
        .instantiate(&mut store, m)
        .unwrap_or_else(|e| panic!("instantiate: {e}"));
    let mut call = |name: &str, args: &[Val]| {
        let f = instance.get_func(&store, name).expect("export");
        let ty = f.ty(&store).unwrap();
        let mut out: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
        f.call(&mut store, args, &mut out).map(|()| out)
    };
    let f2 = call("f", &[Val::I32(2)]).unwrap_or_else(|e| panic!("f(2): {e}"));
    let f0 = match call("f", &[Val::I32(0)]) {
        Err(Error::Trap(t)) => (
            t.code(),
            t.backtrace().iter().map(|f| f.display_name()).collect(),
        ),
        other => panic!("f(0): want a trap, got {other:?}"),
    };
    let g = call("g", &[]).unwrap_or_else(|e| panic!("g(): {e}"));
    Behaviour {
        name: m.name().map(str::to_owned),
        f2,
        f0,
        g,
    }
}

/// Which part of the artifact a byte is in, by what checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Region {
    /// The ELF file header (class, byte order, section table position, ...).
    ElfHeader,
    /// The section header table.
    SectionTable,
    /// `.shstrtab`: the section names.
    SectionNames,
    /// `.precast.header`: magic, version, its own CRC.
    PrecastHeader,
    /// Covered by the metadata checksum (verified at every load).
    Metadata,
    /// Covered only by the checksum over every section (`.text`, traps, data, names,
    /// unwind table).
    Checksummed,
    /// Read by no check and by nothing the module does: the ELF symbol table and its
    /// strings, the (unsigned, so unchecked) signature, padding between sections.
    Unchecked,
}

/// The region of every byte of `bytes`.
fn regions(bytes: &[u8]) -> Vec<Region> {
    let mut r = vec![Region::Unchecked; bytes.len()];
    let all = elf::sections(bytes).unwrap();
    for s in &all {
        let region = match s.name.as_str() {
            ".shstrtab" => Region::SectionNames,
            sections::HEADER => Region::PrecastHeader,
            n if sections::METADATA.contains(&n) => Region::Metadata,
            n if sections::CHECKSUMMED.contains(&n) => Region::Checksummed,
            _ => continue,
        };
        r[s.offset..s.offset + s.size].fill(region);
    }
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    r[shoff..shoff + all.len() * 64].fill(Region::SectionTable);
    r[..64].fill(Region::ElfHeader);
    r
}

/// Whether `e` is an acceptable refusal of a flipped byte in `region`.
fn refusal_fits(region: Region, e: &LoadError) -> bool {
    use LoadError::*;
    // Structure: the ELF header and section table decide where everything is, so a flip
    // there can also move a section onto other bytes, which then fail that section's check.
    let structural = matches!(
        e,
        NotElf { .. } | NotPrecast | Truncated { .. } | MalformedElf(_)
    );
    let moved = matches!(
        e,
        BadMagic
            | FormatVersion { .. }
            | HeaderChecksum { .. }
            | MalformedHeader(_)
            | SectionsChecksum { .. }
    );
    match region {
        Region::ElfHeader | Region::SectionTable => structural || moved,
        // A renamed section is missing (or unknown, or a relocation section); a missing
        // checksummed section counts as empty, so its checksum fails first.
        Region::SectionNames => matches!(e, NotPrecast | MalformedElf(_) | SectionsChecksum { .. }),
        Region::PrecastHeader => matches!(
            e,
            BadMagic | FormatVersion { .. } | HeaderChecksum { .. } | MalformedHeader(_)
        ),
        Region::Metadata => matches!(
            e,
            SectionsChecksum {
                sections: "metadata",
                ..
            }
        ),
        Region::Checksummed => matches!(
            e,
            SectionsChecksum {
                sections: "all",
                ..
            }
        ),
        Region::Unchecked => false,
    }
}

#[test]
fn every_flip_is_refused_by_its_check_or_harmless() {
    // Flip every byte of the artifact, one at a time, and load it with full verification
    // (`Module::from_bytes`): each flip is refused with an error of the check that covers
    // its region (see `refusal_fits`), or, in a region no check covers (symbols, padding)
    // or one a check does not read (the ELF header's entry point, a section's flags), loads
    // and behaves exactly like the original. A flip in `.text` is always refused.
    let a = artifact();
    let engine = Engine::default();
    let want = behaviour(&engine, &load_in(&engine, &a).unwrap());
    let region = regions(&a);
    let mut outcomes = std::collections::BTreeMap::<(Region, String), usize>::new();
    let mut bad_outcomes = Vec::new();
    for (at, &r) in region.iter().enumerate() {
        let mut bad = a.clone();
        bad[at] ^= 0xa5;
        let kind = match load_in(&engine, &bad) {
            Err(e) => {
                if !refusal_fits(r, &e) {
                    bad_outcomes.push(format!("byte {at:#x} ({r:?}): refused with `{e}`"));
                }
                format!("{e:?}")
                    .split([' ', '(', '{'])
                    .next()
                    .unwrap()
                    .to_owned()
            }
            Ok(m) => {
                if matches!(
                    r,
                    Region::Metadata | Region::Checksummed | Region::PrecastHeader
                ) {
                    bad_outcomes.push(format!("byte {at:#x} ({r:?}): loaded"));
                } else {
                    let got = behaviour(&engine, &m);
                    if got != want {
                        bad_outcomes.push(format!("byte {at:#x} ({r:?}): behaves as {got:?}"));
                    }
                }
                "accepted".to_owned()
            }
        };
        *outcomes.entry((r, kind)).or_default() += 1;
    }
    assert!(
        bad_outcomes.is_empty(),
        "{} of {} flips: {bad_outcomes:#?}\noutcomes: {outcomes:#?}",
        bad_outcomes.len(),
        a.len()
    );
    // Every region was reached, and the checked regions were refused by their own check.
    for r in [
        Region::ElfHeader,
        Region::SectionTable,
        Region::SectionNames,
        Region::PrecastHeader,
        Region::Metadata,
        Region::Checksummed,
        Region::Unchecked,
    ] {
        assert!(
            outcomes.keys().any(|(o, _)| *o == r),
            "{r:?}: {outcomes:#?}"
        );
    }
    assert!(
        outcomes.contains_key(&(Region::Unchecked, "accepted".into())),
        "{outcomes:#?}"
    );
}

#[test]
fn text_flips_are_refused_when_loading_files() {
    // The safe file path verifies the code too: every flipped byte of `.text` is refused
    // with the checksum over every section, before any of it can run.
    let a = artifact();
    let (_, text) = section(&a, sections::TEXT);
    let dir = std::env::temp_dir().join(format!("precast-text-flips-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flipped.pcst");
    let engine = Engine::default();
    for at in text.offset..text.offset + text.size {
        let mut bad = a.clone();
        bad[at] ^= 0xa5;
        std::fs::write(&path, &bad).unwrap();
        match Module::from_file(&engine, &path) {
            Err(Error::Load(LoadError::SectionsChecksum {
                sections: "all", ..
            })) => {}
            Err(e) => panic!(".text byte {at:#x}: refused with the wrong error: {e}"),
            Ok(_) => panic!(".text byte {at:#x}: a corrupted file loaded"),
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_truncation_is_refused() {
    // Any prefix of the artifact is refused as not an artifact, truncated or malformed.
    let a = artifact();
    for len in (0..a.len()).step_by(7).chain([a.len() - 1]) {
        match load(&a[..len]) {
            Err(
                LoadError::NotElf { .. } | LoadError::Truncated { .. } | LoadError::MalformedElf(_),
            ) => {}
            Err(e) => panic!("truncated to {len} bytes: refused with an unexpected error: {e}"),
            Ok(_) => panic!("truncated to {len} bytes: loaded"),
        }
    }
}

#[test]
fn rechecksummed_metadata_flips_fail_typed() {
    // Flips with the checksums recomputed (a writer's bug, or a forger: what a signature
    // check is for), so the corruption reaches decoding, validation and instantiation. The
    // loader cannot tell every such change from a real module, but what it refuses, it
    // refuses with the decoding or validation error of the flipped section, and
    // instantiating what it accepts fails, if at all, with a typed error.
    let a = artifact();
    let engine = Engine::default();
    let mut refused = 0;
    let mut accepted = 0;
    for name in [
        sections::INFO,
        sections::VMOFFSETS,
        sections::FUNCS,
        sections::TRAMPOLINES,
        sections::TRAPS,
    ] {
        let (_, s) = section(&a, name);
        for at in s.offset..s.offset + s.size {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = a.clone();
                bad[at] ^= flip;
                rechecksum(&mut bad);
                match load_in(&engine, &bad) {
                    Err(e) => {
                        refused += 1;
                        let fits = match &e {
                            LoadError::Decode { section, .. }
                            | LoadError::Malformed { section, .. } => *section == name,
                            LoadError::VMOffsets(_) => name == sections::VMOFFSETS,
                            _ => false,
                        };
                        assert!(fits, "{name} byte {at:#x} ^ {flip:#x}: refused with `{e}`");
                    }
                    Ok(m) => {
                        accepted += 1;
                        let mut store = Store::new(&engine, ());
                        match Linker::new(&engine).instantiate(&mut store, &m) {
                            Ok(_)
                            | Err(
                                Error::Link(_)
                                | Error::Trap(_)
                                | Error::Resource(_)
                                | Error::Api(_),
                            ) => {}
                            Err(e) => panic!(
                                "{name} byte {at:#x} ^ {flip:#x}: instantiation failed with `{e:?}`"
                            ),
                        }
                    }
                }
            }
        }
    }
    assert!(
        refused > 0 && accepted > 0,
        "refused {refused}, accepted {accepted}"
    );
}
