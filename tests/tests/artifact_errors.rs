//! Every way an artifact can be wrong gets a distinct, clear error, and no corruption crashes
//! the loader.

use precast_format::header::{HEADER_SIZE, Header, MAGIC};
use precast_loader::{Engine, Error, LoadError, Module};
use precast_tests::harness::{TestInstance, artifact};

const WAT: &str = r#"(module
  (memory 1) (data (i32.const 0) "abc")
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2))))))))"#;

fn load(bytes: &[u8]) -> Result<Module, Error> {
    Module::from_bytes(&Engine::default(), bytes)
}

fn load_err(bytes: &[u8]) -> LoadError {
    match load(bytes) {
        Ok(_) => panic!("artifact loaded, expected an error"),
        Err(Error::Load(e)) => e,
        Err(e) => panic!("expected a load error, got {e}"),
    }
}

fn header_offset(bytes: &[u8]) -> usize {
    bytes
        .windows(MAGIC.len())
        .position(|w| w == MAGIC)
        .expect("artifact has a header")
}

/// Rewrites the header (with a valid header checksum).
fn with_header(bytes: &[u8], edit: impl FnOnce(&mut Header)) -> Vec<u8> {
    let at = header_offset(bytes);
    let mut h = Header::decode(&bytes[at..at + HEADER_SIZE], crc32fast::hash).unwrap();
    edit(&mut h);
    let mut out = bytes.to_vec();
    out[at..at + HEADER_SIZE].copy_from_slice(&h.encode(crc32fast::hash));
    out
}

#[test]
fn good_artifact_loads_from_file_and_bytes() {
    let bytes = artifact(WAT);
    let dir = std::env::temp_dir().join(format!("precast-art-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fib.pcst");
    std::fs::write(&path, &bytes).unwrap();
    let m = Module::from_file(&Engine::default(), &path).unwrap();
    assert_eq!(m.info().exports[0].name, "fib");
    load(&bytes).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn distinct_errors() {
    let good = artifact(WAT);
    assert!(matches!(
        load_err(b"\0asm\x01\0\0\0"),
        LoadError::NotElf { .. }
    ));
    assert!(matches!(
        load_err(b""),
        LoadError::NotElf { .. } | LoadError::Truncated { .. }
    ));
    let exe = std::fs::read("/proc/self/exe").unwrap();
    assert!(
        matches!(load_err(&exe), LoadError::NotPrecast),
        "foreign ELF"
    );

    let at = header_offset(&good);
    let mut bad = good.clone();
    bad[at] = b'X';
    assert!(matches!(load_err(&bad), LoadError::BadMagic));

    let v = with_header(&good, |h| h.format_version = 99);
    assert!(matches!(
        load_err(&v),
        LoadError::FormatVersion { found: 99, .. }
    ));

    let t = with_header(&good, |h| h.target = "riscv64gc-unknown-linux-gnu".into());
    let e = load_err(&t);
    assert!(matches!(e, LoadError::Target { .. }), "{e}");
    assert!(e.to_string().contains("riscv64"), "{e}");

    let c = with_header(&good, |h| {
        h.cpu_features.insert("lse");
    });
    let e = load_err(&c);
    assert!(matches!(e, LoadError::CpuFeatures { .. }), "{e}");
    assert!(e.to_string().contains("lse"), "{e}");

    let s = with_header(&good, |h| h.pointer_size = 4);
    assert!(matches!(load_err(&s), LoadError::Settings(_)));

    let mut hc = good.clone();
    hc[at + 40] ^= 0x01;
    assert!(matches!(load_err(&hc), LoadError::HeaderChecksum { .. }));

    let mut sc = good.clone();
    sc[0x1000] ^= 0x01; // first byte of .text (page aligned)
    assert!(matches!(load_err(&sc), LoadError::SectionsChecksum { .. }));

    let e = load_err(&good[..good.len() - 10]);
    assert!(matches!(e, LoadError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");

    let missing = Module::from_file(&Engine::default(), "/nonexistent/x.pcst");
    assert!(matches!(missing, Err(Error::Load(LoadError::Io { .. }))));
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let good = artifact(WAT);
    for len in (0..good.len()).step_by(7).chain([good.len() - 1]) {
        // A load error that says the file is cut short or not an artifact, nothing else.
        let e = load_err(&good[..len]);
        assert!(
            matches!(
                e,
                LoadError::NotElf { .. }
                    | LoadError::NotPrecast
                    | LoadError::Truncated { .. }
                    | LoadError::MalformedElf(_)
            ),
            "truncated to {len} bytes: {e}"
        );
    }
}

#[test]
fn flipped_bytes_never_crash() {
    let good = artifact(WAT);
    let mut loaded = 0;
    for at in (0..good.len()).step_by(3) {
        for bit in [0x01u8, 0x80] {
            let mut bad = good.clone();
            bad[at] ^= bit;
            if let Ok(m) = load(&bad) {
                // Only bytes the loader never reads (padding) may change without an error,
                // and then the module must behave exactly as the original.
                loaded += 1;
                let engine = m.engine().clone();
                let mut store = precast_loader::Store::new(&engine, ());
                let linker = precast_loader::Linker::new(&engine);
                let inst = linker.instantiate(&mut store, &m).expect("instantiate");
                let f = inst.get_func(&store, "fib").expect("fib");
                let mut out = [precast_loader::Val::I32(0)];
                f.call(&mut store, &[precast_loader::Val::I32(10)], &mut out)
                    .expect("call");
                assert_eq!(out[0], precast_loader::Val::I32(55), "flip at {at}");
            }
        }
    }
    // Padding exists (page alignment), but most bytes are checked.
    assert!(
        loaded < good.len(),
        "{loaded} of {} flips loaded",
        good.len()
    );
    let mut i = TestInstance::new(WAT);
    assert_eq!(
        i.call("fib", &[precast_loader::Val::I32(20)]).unwrap(),
        vec![precast_loader::Val::I32(6765)]
    );
}

/// Replaces a section's bytes (same length) and fixes both checksums, so that only the
/// section's content is wrong.
fn with_section(bytes: &[u8], section: &str, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(bytes).unwrap();
    let mut ranges = std::collections::HashMap::new();
    for s in file.sections() {
        if let (Ok(name), Some((off, len))) = (s.name(), s.file_range()) {
            ranges.insert(name.to_string(), (off as usize, len as usize));
        }
    }
    let mut out = bytes.to_vec();
    let (off, len) = ranges[section];
    let mut content = out[off..off + len].to_vec();
    edit(&mut content);
    assert_eq!(content.len(), len, "edit must keep the length");
    out[off..off + len].copy_from_slice(&content);
    let (all, metadata) = precast_format::checksums(
        |name| ranges.get(name).map(|&(o, l)| &out[o..o + l]),
        |parts| {
            let mut hasher = crc32fast::Hasher::new();
            for p in parts {
                hasher.update(p);
            }
            hasher.finalize()
        },
    );
    with_header(&out, |h| {
        h.sections_checksum = all;
        h.metadata_checksum = metadata;
    })
}

#[test]
fn recorded_vmcontext_layout_must_match() {
    let good = artifact(WAT);
    let bad = with_section(&good, precast_format::sections::VMOFFSETS, |bytes| {
        let mut o: precast_format::VMOffsets = precast_format::decode(bytes).unwrap();
        o.store += 1; // one-byte varint either way
        *bytes = precast_format::encode(&o);
    });
    let e = load_err(&bad);
    assert!(matches!(e, LoadError::VMOffsets(_)), "{e}");
    // Undecodable module info is its own error.
    let bad = with_section(&good, precast_format::sections::INFO, |bytes| {
        for b in bytes.iter_mut() {
            *b = 0xff;
        }
    });
    assert!(matches!(load_err(&bad), LoadError::Decode { .. }));
}
