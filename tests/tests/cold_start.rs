//! The cold-start path: loading writes no code page, memory images are mapped copy-on-write
//! from the artifact file, the instance pool resets and limits its slots, fast and full
//! verification, and what an idle instance costs.

use precast_format::sections;
use precast_loader::{Config, Engine, Error, Linker, LoadError, Module, PoolConfig, Store, Val};
use precast_tests::harness::artifact;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// A hello-world-like module: one memory with a data segment, a table with an element
/// segment, a constant global.
const WAT: &str = r#"(module
  (memory (export "memory") 2 5)
  (data (i32.const 16) "Hello, world!\n")
  (data (i32.const 60000) "far")
  (data $passive "passive")
  (table 4 funcref)
  (elem (i32.const 1) $seven $eight)
  (global $g (mut i32) (i32.const 42))
  (func $seven (result i32) (i32.const 7))
  (func $eight (result i32) (i32.const 8))
  (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "global") (result i32) (global.get $g))
  (func (export "set_global") (param i32) (global.set $g (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "init") (param i32) (memory.init $passive (local.get 0) (i32.const 0) (i32.const 7))))"#;

/// The tests here read process-wide memory figures (RSS, smaps), so they run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("precast-cold-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_artifact(dir: &Path, name: &str, wat: &str) -> PathBuf {
    use std::io::Write;
    let path = dir.join(format!("{name}.pcst"));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&artifact(wat)).unwrap();
    // Written back, so that page-cache pages are clean (smaps counts dirty file pages).
    f.sync_all().unwrap();
    path
}

fn call(store: &mut Store<()>, inst: &precast_loader::Instance, name: &str, args: &[Val]) -> Val {
    let f = inst.get_func(&*store, name).unwrap();
    let n = f.ty(&*store).unwrap().results.len();
    let mut out = vec![Val::I32(0); n];
    f.call(store, args, &mut out).unwrap();
    out.first().copied().unwrap_or(Val::I32(0))
}

/// A new instance of `WAT` shows its image and initial size, whatever earlier instances
/// wrote to the memory they used.
fn assert_fresh(store: &mut Store<()>, inst: &precast_loader::Instance, label: &str) {
    let mem = inst.get_memory(&*store, "memory").unwrap();
    assert_eq!(&mem.data(&*store)[16..30], b"Hello, world!\n", "{label}");
    assert_eq!(mem.data(&*store)[5], 0, "{label}");
    assert_eq!(i32(call(store, inst, "size", &[])), 2, "{label}");
}

fn i32(v: Val) -> i32 {
    match v {
        Val::I32(x) => x,
        other => panic!("not an i32: {other:?}"),
    }
}

/// `/proc/self/smaps` blocks of mappings of `path`: (header line, block text).
fn smaps_of(path: &Path) -> Vec<(String, String)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.to_str().unwrap();
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in smaps.lines() {
        let is_header = line.split_whitespace().next().is_some_and(|f| {
            f.contains('-') && f.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        });
        if is_header {
            if let Some(c) = current.take() {
                out.push(c);
            }
            if line.ends_with(name) {
                current = Some((line.to_string(), String::new()));
            }
        } else if let Some((_, body)) = &mut current {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.extend(current);
    out
}

fn field_kb(body: &str, field: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {body}"))
}

#[test]
fn loading_writes_no_code_page() {
    let _serial = serial();
    let dir = scratch("code");
    // A small artifact (read whole, its code mapped apart) and one past READ_WHOLE_LIMIT
    // (mapped whole, its code made executable in place): a 300 KiB data segment.
    let big = WAT
        .replacen(
            "(memory (export \"memory\") 2 5)",
            "(memory (export \"memory\") 6 8)",
            1,
        )
        .replacen(
            "(data (i32.const 60000) \"far\")",
            &format!("(data (i32.const 60000) \"{}\")", "far".repeat(100_000)),
            1,
        );
    for (name, wat) in [("small", WAT.to_string()), ("big", big)] {
        let path = write_artifact(&dir, name, &wat);
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(size > 256 * 1024, name == "big", "{name}: {size} bytes");
        loaded_code_stays_clean(&path);
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn loaded_code_stays_clean(path: &Path) {
    let engine = Engine::default();
    let module = Module::from_file(&engine, path).unwrap();
    // Run code too: executing must not dirty code pages either.
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    assert_eq!(i32(call(&mut store, &inst, "call", &[Val::I32(2)])), 8);
    let maps = smaps_of(path);
    let code: Vec<_> = maps
        .iter()
        .filter(|(h, _)| h.split_whitespace().nth(1) == Some("r-xp"))
        .collect();
    assert_eq!(
        code.len(),
        1,
        "one executable mapping of the artifact: {maps:#?}"
    );
    let (header, body) = code[0];
    assert_eq!(field_kb(body, "Private_Dirty:"), 0, "{header}\n{body}");
    assert!(
        field_kb(body, "Rss:") > 0,
        "the code was executed from the mapping"
    );
    drop((store, module));
}

#[test]
fn released_code_mappings_are_reused_correctly() {
    // Loads alternate between modules with different code (and sizes), each mapped over
    // the previous one's released code mapping: each must run its own code.
    let _serial = serial();
    let dir = scratch("code-cache");
    let small = |k: i32| format!("(module (func (export \"f\") (result i32) (i32.const {k})))");
    let mut big = String::from("(module (func (export \"f\") (result i32) (i32.const 7))");
    for i in 0..600 {
        big.push_str(&format!(" (func (export \"g{i}\") (param i32) (result i32) (i32.mul (local.get 0) (i32.const {i})))"));
    }
    big.push(')');
    let paths = [
        (write_artifact(&dir, "a", &small(1)), 1),
        (write_artifact(&dir, "b", &small(2)), 2),
        (write_artifact(&dir, "big", &big), 7),
    ];
    let mut config = precast_loader::Config::new();
    config.code_cache = 1;
    for engine in [Engine::default(), Engine::new(&config)] {
        for round in 0..20 {
            let (path, want) = &paths[round % paths.len()];
            let module = Module::from_file(&engine, path).unwrap();
            let mut store = Store::new(&engine, ());
            let inst = Linker::new(&engine)
                .instantiate(&mut store, &module)
                .unwrap();
            assert_eq!(i32(call(&mut store, &inst, "f", &[])), *want, "{path:?}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn memory_image_is_copy_on_write() {
    let _serial = serial();
    let dir = scratch("cow");
    let path = write_artifact(&dir, "m", WAT);
    let engine = Engine::default();
    let module = Module::from_file(&engine, &path).unwrap();
    assert_eq!(
        module.info().memory_images.len(),
        1,
        "constant, in-bounds data segments make an image"
    );
    let linker = Linker::new(&engine);
    let mut a = Store::new(&engine, ());
    let ia = linker.instantiate(&mut a, &module).unwrap();
    // The image is a private mapping of the artifact file, writable.
    assert!(
        smaps_of(&path)
            .iter()
            .any(|(h, _)| h.split_whitespace().nth(1) == Some("rw-p")),
        "memory image mapped from the artifact"
    );
    let mut b = Store::new(&engine, ());
    let ib = linker.instantiate(&mut b, &module).unwrap();
    let mem_a = ia.get_memory(&a, "memory").unwrap();
    let mem_b = ib.get_memory(&b, "memory").unwrap();
    assert_eq!(&mem_a.data(&a)[16..30], b"Hello, world!\n");
    assert_eq!(&mem_a.data(&a)[60000..60003], b"far");
    assert_eq!(mem_a.data(&a)[0..16], [0; 16]);
    // Writes in one instance are not seen by the other, nor by a later one.
    call(
        &mut a,
        &ia,
        "store",
        &[Val::I32(16), Val::I32(i32::from(b'J'))],
    );
    call(&mut a, &ia, "store", &[Val::I32(5), Val::I32(9)]);
    assert_eq!(mem_a.data(&a)[16], b'J');
    assert_eq!(mem_b.data(&b)[16], b'H');
    assert_eq!(mem_b.data(&b)[5], 0);
    let mut c = Store::new(&engine, ());
    let ic = linker.instantiate(&mut c, &module).unwrap();
    assert_eq!(
        i32(call(&mut c, &ic, "load", &[Val::I32(16)])),
        i32::from(b'H')
    );
    // The file is untouched.
    drop((a, b, c));
    let again = Module::from_file(&engine, &path).unwrap();
    again.verify_integrity().unwrap();
    // Passive segments keep their bytes.
    let mut d = Store::new(&engine, ());
    let id = linker.instantiate(&mut d, &again).unwrap();
    call(&mut d, &id, "init", &[Val::I32(100)]);
    let mem_d = id.get_memory(&d, "memory").unwrap();
    assert_eq!(&mem_d.data(&d)[100..107], b"passive");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn memory_image_from_bytes_is_copied() {
    let _serial = serial();
    let bytes = artifact(WAT);
    let engine = Engine::default();
    let module = Module::from_bytes(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let mem = inst.get_memory(&store, "memory").unwrap();
    assert_eq!(&mem.data(&store)[16..30], b"Hello, world!\n");
    assert_eq!(i32(call(&mut store, &inst, "call", &[Val::I32(1)])), 7);
}

#[test]
fn sparse_or_dynamic_segments_get_no_image() {
    let _serial = serial();
    // A segment offset read from an imported global is not constant; far-apart segments
    // are too sparse for an image.
    let dynamic = r#"(module (import "env" "base" (global i32)) (memory 1)
        (data (global.get 0) "x") (data (i32.const 8) "y")
        (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#;
    let sparse = r#"(module (memory 200)
        (data (i32.const 0) "x") (data (i32.const 13000000) "y")
        (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#;
    let engine = Engine::default();
    for wat in [dynamic, sparse] {
        let m = Module::from_bytes(&engine, &artifact(wat)).unwrap();
        assert!(m.info().memory_images.is_empty(), "{wat}");
    }
    let m = Module::from_bytes(&engine, &artifact(sparse)).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine).instantiate(&mut store, &m).unwrap();
    assert_eq!(
        i32(call(&mut store, &inst, "load", &[Val::I32(13000000)])),
        i32::from(b'y')
    );
}

#[test]
fn empty_segments_outside_the_image_are_ignored() {
    let _serial = serial();
    // Found by differential fuzzing: empty segments below and above the image's pages made
    // the image builder index out of range.
    let wat = r#"(module (memory 1)
        (data (i32.const 40000) "abc") (data (i32.const 0) "") (data (i32.const 65536) "")
        (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#;
    let engine = Engine::default();
    let m = Module::from_bytes(&engine, &artifact(wat)).unwrap();
    assert_eq!(m.info().memory_images.len(), 1);
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine).instantiate(&mut store, &m).unwrap();
    for (at, byte) in [(40000, b'a'), (40002, b'c'), (0, 0), (65535, 0)] {
        assert_eq!(
            i32(call(&mut store, &inst, "load", &[Val::I32(at)])),
            i32::from(byte)
        );
    }
}

#[test]
fn images_end_at_a_memory_size_that_is_not_page_aligned() {
    let _serial = serial();
    // Found by differential fuzzing: with 1-byte pages the image builder rounded the image
    // up to a 4 KiB page past the memory's 506 bytes, and the loader's copy panicked. Such
    // segments are applied as segments; a memory of whole pages still gets its image.
    let wat = r#"(module (memory 506 (pagesize 1))
        (data (i32.const 500) "abcdef")
        (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#;
    let engine = Engine::default();
    let m = Module::from_bytes(&engine, &artifact(wat)).unwrap();
    assert!(m.info().memory_images.is_empty());
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine).instantiate(&mut store, &m).unwrap();
    for (at, byte) in [(500, b'a'), (505, b'f'), (0, 0)] {
        assert_eq!(
            i32(call(&mut store, &inst, "load", &[Val::I32(at)])),
            i32::from(byte)
        );
    }
    let whole = r#"(module (memory 8192 (pagesize 1)) (data (i32.const 500) "abcdef"))"#;
    let m = Module::from_bytes(&engine, &artifact(whole)).unwrap();
    assert_eq!(m.info().memory_images.len(), 1);
}

fn pooled_engine(limits: PoolConfig) -> Engine {
    Engine::try_new(Config::new().pooling(limits)).unwrap()
}

#[test]
fn pool_resets_slots_to_the_image() {
    let _serial = serial();
    let dir = scratch("pool");
    let path = write_artifact(&dir, "m", WAT);
    let engine = pooled_engine(PoolConfig {
        instances: 1,
        memories: 1,
        tables: 1,
        ..PoolConfig::default()
    });
    let module = Module::from_file(&engine, &path).unwrap();
    let pre = Linker::new(&engine).instantiate_pre(&module).unwrap();
    for round in 0..4 {
        let mut store = Store::new(&engine, ());
        let inst = pre.instantiate(&mut store).unwrap();
        assert_fresh(&mut store, &inst, &format!("round {round}"));
        assert_eq!(
            i32(call(&mut store, &inst, "global", &[])),
            42,
            "round {round}"
        );
        assert_eq!(i32(call(&mut store, &inst, "call", &[Val::I32(2)])), 8);
        // Dirty everything: image bytes, zero bytes, a grown page, the global.
        call(&mut store, &inst, "store", &[Val::I32(16), Val::I32(0)]);
        call(&mut store, &inst, "store", &[Val::I32(5), Val::I32(1)]);
        assert_eq!(i32(call(&mut store, &inst, "grow", &[Val::I32(2)])), 2);
        call(
            &mut store,
            &inst,
            "store",
            &[Val::I32(4 * 65536 - 1), Val::I32(1)],
        );
        call(&mut store, &inst, "set_global", &[Val::I32(-1)]);
    }
    // A different module takes over the slot: the old image is gone.
    // Its functions and table take the VMContext block's function references too.
    let other = write_artifact(
        &dir,
        "other",
        r#"(module (memory (export "memory") 1)
             (table 2 funcref) (elem (i32.const 0) $nine $ten)
             (func $nine (result i32) (i32.const 9)) (func $ten (result i32) (i32.const 10))
             (func (export "call") (param i32) (result i32)
               (call_indirect (result i32) (local.get 0))))"#,
    );
    let other = Module::from_file(&engine, &other).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &other)
        .unwrap();
    let mem = inst.get_memory(&store, "memory").unwrap();
    assert!(mem.data(&store).iter().all(|&b| b == 0));
    assert_eq!(i32(call(&mut store, &inst, "call", &[Val::I32(1)])), 10);
    drop(store);
    // And back: the block's function references are this module's again.
    let mut store = Store::new(&engine, ());
    let inst = pre.instantiate(&mut store).unwrap();
    let mem = inst.get_memory(&store, "memory").unwrap();
    assert_eq!(&mem.data(&store)[16..30], b"Hello, world!\n");
    assert_eq!(i32(call(&mut store, &inst, "call", &[Val::I32(1)])), 7);
    assert_eq!(i32(call(&mut store, &inst, "call", &[Val::I32(2)])), 8);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pool_limits_and_exhaustion() {
    let _serial = serial();
    let engine = pooled_engine(PoolConfig {
        instances: 2,
        memories: 2,
        tables: 2,
        ..PoolConfig::default()
    });
    let module = Module::from_bytes(&engine, &artifact(WAT)).unwrap();
    let linker = Linker::new(&engine);
    let mut s1 = Store::new(&engine, ());
    let mut s2 = Store::new(&engine, ());
    linker.instantiate(&mut s1, &module).unwrap();
    linker.instantiate(&mut s2, &module).unwrap();
    let mut s3 = Store::new(&engine, ());
    let e = linker.instantiate(&mut s3, &module).unwrap_err();
    assert!(matches!(e, Error::Resource(_)), "{e}");
    assert!(e.to_string().contains("pool exhausted"), "{e}");
    drop(s1);
    let inst = linker.instantiate(&mut s3, &module).unwrap();
    assert_eq!(i32(call(&mut s3, &inst, "call", &[Val::I32(1)])), 7);

    // Per-slot limits: VMContext size, table size, memory size.
    let small = pooled_engine(PoolConfig {
        max_vmctx_size: 64,
        ..PoolConfig::default()
    });
    let m = Module::from_bytes(&small, &artifact(WAT)).unwrap();
    let e = Linker::new(&small)
        .instantiate(&mut Store::new(&small, ()), &m)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Resource(m)
            if m.contains("the pool's limit is 64 (PoolConfig::max_vmctx_size)")),
        "{e:?}"
    );
    let tables = pooled_engine(PoolConfig {
        max_table_elements: 3,
        ..PoolConfig::default()
    });
    let m = Module::from_bytes(&tables, &artifact(WAT)).unwrap();
    let e = Linker::new(&tables)
        .instantiate(&mut Store::new(&tables, ()), &m)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Resource(m)
            if m == "table minimum of 4 elements exceeds the pool's limit of 3 \
                     (PoolConfig::max_table_elements)"),
        "{e:?}"
    );
    let mut config = Config::new();
    config.memory_reservation = 1 << 20;
    config.memory_guard_size = 0;
    config.pooling(PoolConfig::default());
    let bytes = precast_compiler::compile(
        b"(module (memory 17))",
        &precast_compiler::Config {
            settings: precast_format::Settings {
                bounds_checks: precast_format::header::BoundsChecks::Explicit,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let engine = Engine::try_new(&config).unwrap();
    let m = Module::from_bytes(&engine, &bytes).unwrap();
    let e = Linker::new(&engine)
        .instantiate(&mut Store::new(&engine, ()), &m)
        .unwrap_err();
    assert!(matches!(e, Error::Resource(_)), "{e}");
    assert!(e.to_string().contains("reservation"), "{e}");
}

/// Offset and length of section `name` in `bytes` (via the object crate).
fn section_range(bytes: &[u8], name: &str) -> (usize, usize) {
    use object::{Object, ObjectSection};
    let file = object::File::parse(bytes).unwrap();
    let s = file.section_by_name(name).unwrap();
    let (o, l) = s.file_range().unwrap();
    (o as usize, l as usize)
}

#[test]
fn unchecked_loads_and_integrity_check() {
    let _serial = serial();
    let dir = scratch("verify");
    let good = artifact(WAT);
    // Corrupt the last byte of .text (padding or code, never executed here).
    let (text, len) = section_range(&good, sections::TEXT);
    let mut bad = good.clone();
    bad[text + len - 1] ^= 0x5a;
    let path = dir.join("bad.pcst");
    std::fs::write(&path, &bad).unwrap();
    let engine = Engine::default();
    let refused = |e: Error| {
        assert!(
            matches!(
                e,
                Error::Load(LoadError::SectionsChecksum {
                    sections: "all",
                    ..
                })
            ),
            "{e}"
        )
    };
    // The safe constructors verify every section: from a file or bytes.
    refused(Module::from_file(&engine, &path).unwrap_err());
    refused(Module::from_bytes(&engine, &bad).unwrap_err());
    // The unchecked forms do not read the code; `verify_integrity` finds it later.
    // SAFETY: the corrupted byte is never executed, and the module is never instantiated.
    let m = unsafe { Module::from_file_unchecked(&engine, &path) }.unwrap();
    refused(m.verify_integrity().unwrap_err());
    // SAFETY: as above.
    let m = unsafe { Module::from_bytes_unchecked(&engine, &bad) }.unwrap();
    refused(m.verify_integrity().unwrap_err());
    // The metadata checksum is always verified.
    let (info, _) = section_range(&good, sections::INFO);
    let mut bad_info = good.clone();
    bad_info[info] ^= 1;
    std::fs::write(&path, &bad_info).unwrap();
    let e = Module::from_file(&engine, &path).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Load(LoadError::SectionsChecksum {
                sections: "metadata",
                ..
            })
        ),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn idle_instance_memory() {
    let _serial = serial();
    // What an idle instance of a hello-world module costs beyond its wasm pages (which it
    // has not touched: the image is mapped, not copied).
    let dir = scratch("rss");
    let hello = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "Hello, world!\n")
      (func (export "_start")))"#;
    let path = write_artifact(&dir, "hello", hello);
    let engine = Engine::default();
    let module = Module::from_file(&engine, &path).unwrap();
    let mut linker = Linker::new(&engine);
    for import in module.imports() {
        if let precast_loader::ExternType::Func(ty) = import.ty {
            linker
                .func_new(import.module, import.name, ty, |_, _, _| Ok(()))
                .unwrap();
        }
    }
    let pre = linker.instantiate_pre(&module).unwrap();
    let rss = || -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    };
    // Warm up the allocator.
    let warm: Vec<_> = (0..16)
        .map(|_| {
            let mut s = Store::new(&engine, ());
            pre.instantiate(&mut s).unwrap();
            s
        })
        .collect();
    drop(warm);
    const N: u64 = 256;
    let before = rss();
    let stores: Vec<_> = (0..N)
        .map(|_| {
            let mut s = Store::new(&engine, ());
            pre.instantiate(&mut s).unwrap();
            s
        })
        .collect();
    let per_instance = rss().saturating_sub(before) / N;
    assert!(
        per_instance <= 64 * 1024,
        "an idle instance costs {per_instance} bytes of resident memory"
    );
    eprintln!("idle hello-world instance: {per_instance} bytes resident");
    drop(stores);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn reused_reservations_are_reset() {
    let _serial = serial();
    // Without pooling the engine keeps a few released reservations for reuse; a reused one
    // must look exactly like a fresh memory.
    let dir = scratch("cache");
    let path = write_artifact(&dir, "m", WAT);
    for keep in [0, 8] {
        let mut config = Config::new();
        config.memory_cache = keep;
        let engine = Engine::new(&config);
        let module = Module::from_file(&engine, &path).unwrap();
        let pre = Linker::new(&engine).instantiate_pre(&module).unwrap();
        for round in 0..3 {
            let mut store = Store::new(&engine, ());
            let inst = pre.instantiate(&mut store).unwrap();
            assert_fresh(&mut store, &inst, &format!("{keep} {round}"));
            call(&mut store, &inst, "store", &[Val::I32(16), Val::I32(0)]);
            call(&mut store, &inst, "store", &[Val::I32(5), Val::I32(1)]);
            assert_eq!(i32(call(&mut store, &inst, "grow", &[Val::I32(1)])), 2);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn instance_pre_host_functions_see_their_store() {
    // An InstancePre wraps its host functions once; each store's instance calls them with
    // that store's data, and a store of another engine is refused before anything is made.
    let dir = scratch("pre-host");
    let path = write_artifact(
        &dir,
        "m",
        r#"(module (import "host" "add" (func $add (param i32) (result i32)))
             (func (export "run") (param i32) (result i32) (call $add (local.get 0))))"#,
    );
    let engine = Engine::default();
    let module = Module::from_file(&engine, &path).unwrap();
    let mut linker: Linker<i32> = Linker::new(&engine);
    let ty = match module.imports().next().unwrap().ty {
        precast_loader::ExternType::Func(ty) => ty,
        other => panic!("not a function import: {other:?}"),
    };
    linker
        .func_new("host", "add", ty, |mut caller, params, results| {
            let Val::I32(x) = params[0] else {
                return Err(Error::Host("not an i32".into()));
            };
            *caller.data_mut() += x;
            results[0] = Val::I32(*caller.data());
            Ok(())
        })
        .unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    for base in [100, 200] {
        let mut store = Store::new(&engine, base);
        let inst = pre.instantiate(&mut store).unwrap();
        let run = inst.get_func(&store, "run").unwrap();
        let mut out = [Val::I32(0)];
        run.call(&mut store, &[Val::I32(5)], &mut out).unwrap();
        assert!(matches!(out[0], Val::I32(x) if x == base + 5), "{out:?}");
        assert_eq!(*store.data(), base + 5);
    }
    let other = Engine::default();
    let e = pre.instantiate(&mut Store::new(&other, 0)).unwrap_err();
    assert!(
        matches!(&e, Error::Api(m) if m == "module and store belong to different engines"),
        "{e:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
