//! Trust: signed artifacts (files, bytes, linked modules), exact compiler-build binding, and
//! the Spectre-mitigation setting recorded in the header.

use precast_compiler::{Config as CompileConfig, SigningKey};
use precast_format::{Header, sections};
use precast_loader::{Config, Engine, Error, LoadError, Module, TrustedKey, linked};
// The linked modules come with this crate's library (its build script archives them).
use precast_tests as _;

const WAT: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 8) "signed")
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn trusting(keys: &[&SigningKey]) -> Engine {
    let mut config = Config::new();
    for k in keys {
        config.trust(TrustedKey::from_bytes(k.verifying_key().as_bytes()).unwrap());
    }
    Engine::new(&config)
}

fn compile(signing_key: Option<SigningKey>) -> Vec<u8> {
    let config = CompileConfig {
        signing_key,
        ..CompileConfig::default()
    };
    precast_compiler::compile(WAT.as_bytes(), &config).unwrap()
}

/// File range of section `name`.
fn range(bytes: &[u8], name: &str) -> std::ops::Range<usize> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(bytes).unwrap();
    let (at, len) = file.section_by_name(name).unwrap().file_range().unwrap();
    at as usize..(at + len) as usize
}

fn load_err(engine: &Engine, bytes: &[u8]) -> LoadError {
    match Module::from_bytes(engine, bytes) {
        Err(Error::Load(e)) => e,
        Err(e) => panic!("not a load error: {e}"),
        Ok(_) => panic!("loaded"),
    }
}

/// Rewrites the header with `edit` applied, with a valid header checksum.
fn edit_header(bytes: &[u8], edit: impl Fn(&mut Header)) -> Vec<u8> {
    let r = range(bytes, sections::HEADER);
    let mut h = Header::decode(&bytes[r.clone()], crc32fast::hash).unwrap();
    edit(&mut h);
    let mut out = bytes.to_vec();
    out[r].copy_from_slice(&h.encode(crc32fast::hash));
    out
}

fn add(module: &Module, engine: &Engine) -> i32 {
    let mut store = precast_loader::Store::new(engine, ());
    let instance = precast_loader::Linker::new(engine)
        .instantiate(&mut store, module)
        .unwrap();
    let f = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    f.call(&mut store, (2, 40)).unwrap()
}

#[test]
fn signed_artifacts_load_only_with_a_trusted_key() {
    let (a, b) = (key(1), key(2));
    let signed = compile(Some(a.clone()));
    let unsigned = compile(None);
    // No trusted key: both load.
    let open = Engine::default();
    Module::from_bytes(&open, &signed).unwrap();
    Module::from_bytes(&open, &unsigned).unwrap();
    // Trusting `a`: the signed one loads and runs, from bytes and from a file.
    let engine = trusting(&[&b, &a]);
    assert_eq!(
        add(&Module::from_bytes(&engine, &signed).unwrap(), &engine),
        42
    );
    let dir = std::env::temp_dir().join(format!("precast-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("signed.pcst");
    std::fs::write(&path, &signed).unwrap();
    Module::from_file(&engine, &path).unwrap();
    // SAFETY: the file is exactly what the compiler wrote.
    unsafe { Module::from_file_unchecked(&engine, &path) }.unwrap();
    // Unsigned and untrusted signatures are refused, on the unchecked path too.
    assert!(matches!(load_err(&engine, &unsigned), LoadError::Unsigned));
    let other = compile(Some(key(3)));
    match load_err(&engine, &other) {
        LoadError::UntrustedKey { fingerprint } => {
            assert_eq!(
                fingerprint,
                precast_format::signature::fingerprint(key(3).verifying_key().as_bytes())
            )
        }
        e => panic!("{e}"),
    }
    std::fs::write(&path, &unsigned).unwrap();
    // SAFETY: as above.
    let e = unsafe { Module::from_file_unchecked(&engine, &path) }.unwrap_err();
    assert!(matches!(e, Error::Load(LoadError::Unsigned)), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_signature_covers_code_data_and_header() {
    let a = key(1);
    let signed = compile(Some(a.clone()));
    let engine = trusting(&[&a]);
    // One flipped bit in any signed section: the signature no longer verifies (it is checked
    // before the section checksums).
    for name in [
        sections::TEXT,
        sections::DATA,
        sections::TRAPS,
        sections::NAMES,
    ] {
        let r = range(&signed, name);
        if r.is_empty() {
            continue;
        }
        let mut bad = signed.clone();
        bad[r.start + r.len() / 2] ^= 0x10;
        assert!(
            matches!(load_err(&engine, &bad), LoadError::BadSignature { .. }),
            "{name}"
        );
    }
    // A header changed consistently (its own checksum fixed): still refused.
    let bad = edit_header(&signed, |h| h.cpu_features.0 = 0);
    assert!(matches!(
        load_err(&engine, &bad),
        LoadError::BadSignature { .. }
    ));
    // A forged signature section: another key's signature copied over, public key kept.
    let mut forged = signed.clone();
    let other = compile(Some(key(2)));
    let s = range(&signed, sections::SIGNATURE);
    let sig = precast_format::signature::SIG_OFFSET;
    forged[s.start + sig..s.start + sig + 64]
        .copy_from_slice(&other[range(&other, sections::SIGNATURE)][sig..sig + 64]);
    assert!(matches!(
        load_err(&engine, &forged),
        LoadError::BadSignature { .. }
    ));
    // Garbage in the signature section.
    let mut garbage = signed.clone();
    garbage[s.start + 120] = 1;
    assert!(matches!(
        load_err(&engine, &garbage),
        LoadError::MalformedSignature(_)
    ));
}

#[test]
fn signing_afterwards_replaces_the_signature() {
    let (a, b) = (key(1), key(2));
    let mut bytes = compile(Some(a.clone()));
    precast_compiler::sign(&mut bytes, &b).unwrap();
    assert!(matches!(
        load_err(&trusting(&[&a]), &bytes),
        LoadError::UntrustedKey { .. }
    ));
    let engine = trusting(&[&b]);
    assert_eq!(
        add(&Module::from_bytes(&engine, &bytes).unwrap(), &engine),
        42
    );
    // Signing is deterministic and touches nothing but the signature section.
    let mut unsigned = compile(None);
    let before = unsigned.clone();
    precast_compiler::sign(&mut unsigned, &b).unwrap();
    assert_eq!(unsigned, bytes);
    let s = range(&before, sections::SIGNATURE);
    assert_eq!(unsigned[..s.start], before[..s.start]);
    assert_eq!(unsigned[s.end..], before[s.end..]);
    // Not an artifact: a clear error.
    let e = precast_compiler::sign(&mut b"not an artifact".to_vec(), &b).unwrap_err();
    assert!(e.to_string().contains("not an ELF64 artifact"), "{e}");
}

#[test]
fn linked_modules_are_checked_against_trusted_keys() {
    let test_key = include_str!("../keys/test-only.key.pub");
    let mut config = Config::new();
    config.trust(TrustedKey::from_pem(test_key).unwrap());
    let engine = Engine::new(&config);
    let signed = Module::from_linked(&engine, linked!(images_signed)).unwrap();
    signed.verify_integrity().unwrap();
    let e = Module::from_linked(&engine, linked!(images)).unwrap_err();
    assert!(matches!(e, Error::Load(LoadError::Unsigned)), "{e}");
    let other = trusting(&[&key(9)]);
    let e = Module::from_linked(&other, linked!(images_signed)).unwrap_err();
    assert!(
        matches!(e, Error::Load(LoadError::UntrustedKey { .. })),
        "{e}"
    );
}

#[test]
fn artifacts_of_another_compiler_build_are_refused() {
    let bytes = compile(None);
    let engine = Engine::default();
    Module::from_bytes(&engine, &bytes).unwrap();
    for edit in [
        &(|h: &mut Header| h.build_id ^= 1) as &dyn Fn(&mut Header),
        &|h: &mut Header| h.precast_version = "0.0.9".into(),
    ] {
        match load_err(&engine, &edit_header(&bytes, edit)) {
            LoadError::CompilerBuild {
                loader_version,
                loader_build,
                ..
            } => {
                assert_eq!(loader_version, precast_format::VERSION);
                assert_eq!(loader_build, precast_format::BUILD_ID);
            }
            e => panic!("{e}"),
        }
    }
    let e = load_err(&engine, &edit_header(&bytes, |h| h.build_id = 0)).to_string();
    assert!(e.contains("recompile the module"), "{e}");
}

#[test]
fn spectre_mitigations_are_on_by_default_and_recorded() {
    let on = compile(None);
    let engine = Engine::default();
    assert!(
        Module::from_bytes(&engine, &on)
            .unwrap()
            .header()
            .settings
            .spectre_mitigations
    );
    let mut config = CompileConfig::default();
    config.settings.spectre_mitigations = false;
    let off = precast_compiler::compile(WAT.as_bytes(), &config).unwrap();
    let m = Module::from_bytes(&engine, &off).unwrap();
    assert!(!m.header().settings.spectre_mitigations);
    assert_eq!(add(&m, &engine), 42);
    let mut strict = Config::new();
    strict.require_spectre_mitigations = true;
    let strict = Engine::new(&strict);
    Module::from_bytes(&strict, &on).unwrap();
    assert!(matches!(load_err(&strict, &off), LoadError::Settings(s) if s.contains("Spectre")));
}

#[test]
fn spectre_guards_explicit_bounds_checks() {
    // With explicit bounds checks every access is guarded: the code grows by a conditional
    // move per access (and only then).
    let loads: String = (0..16)
        .map(|i| format!("(i32.load offset={} (local.get 0)) i32.add ", i * 4))
        .collect();
    let gets: String = (0..8)
        .map(|_| "(table.get (local.get 0)) drop ".to_string())
        .collect();
    let wat = format!(
        r#"(module (memory 1) (table 4 funcref)
      (func (export "f") (param i32) (result i32) (i32.const 0) {loads})
      (func (export "g") (param i32) {gets}))"#
    );
    let text_len = |explicit: bool, spectre: bool| {
        let mut c = CompileConfig::default();
        if explicit {
            c.settings.bounds_checks = precast_format::header::BoundsChecks::Explicit;
        }
        c.settings.spectre_mitigations = spectre;
        let bytes = precast_compiler::compile(wat.as_bytes(), &c).unwrap();
        range(&bytes, sections::TEXT).len()
    };
    assert!(text_len(true, true) > text_len(true, false));
    // Guard-page accesses need no guard; the table access still has one.
    assert!(text_len(false, true) > text_len(false, false));
}
