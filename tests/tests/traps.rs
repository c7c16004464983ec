//! Traps: each kind returns a typed trap with a wasm backtrace naming the functions, and the
//! process keeps working afterwards.

use precast_format::TrapCode;
use precast_loader::Val::{self, I32};
use precast_tests::harness::{TestInstance, artifact};

const WAT: &str = r#"
(module $traps
  (type $v (func))
  (type $i (func (param i32) (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $inner)
  (func $inner (export "inner") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $middle (param i32) (result i32) (call $inner (local.get 0)))
  (func $outer (export "divide") (param i32) (result i32) (i32.add (call $middle (local.get 0)) (i32.const 1)))
  (func $oob (export "oob") (param i32) (result i32) (i32.load (local.get 0)))
  (func $oob_store (export "oob-store") (param i32) (i32.store offset=8 (local.get 0) (i32.const 1)))
  (func $unreachable (export "unreachable") (unreachable))
  (func $recurse (export "recurse") (param i32) (result i32) (i32.add (call $recurse (local.get 0)) (i32.const 1)))
  (func $null (export "null-call") (call_indirect (type $v) (i32.const 1)))
  (func $sig (export "bad-sig") (call_indirect (type $v) (i32.const 0)))
  (func $table_oob (export "table-oob") (result i32) (call_indirect (type $i) (i32.const 0) (i32.const 9)))
  (func $conv (export "conv") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func $fill (export "fill-oob") (memory.fill (i32.const 65530) (i32.const 0) (i32.const 7)))
  (func $table_get (export "table-get") (result funcref) (table.get (i32.const 2)))
  (func $null_ref (export "null-call-ref") (call_ref $v (ref.null $v)))
)
"#;

fn trap_of(inst: &mut TestInstance, name: &str, args: &[Val]) -> precast_loader::Trap {
    match inst.call(name, args) {
        Ok(v) => panic!("{name} returned {v:?}, expected a trap"),
        Err(e) => e
            .as_trap()
            .cloned()
            .unwrap_or_else(|| panic!("{name}: expected a trap, got {e}")),
    }
}

fn names(t: &precast_loader::Trap) -> Vec<String> {
    t.backtrace().iter().map(|f| f.display_name()).collect()
}

#[test]
fn traps_have_codes_and_backtraces() {
    let mut i = TestInstance::new(WAT);
    let t = trap_of(&mut i, "divide", &[I32(0)]);
    assert_eq!(t.code(), TrapCode::IntegerDivisionByZero);
    assert_eq!(names(&t), ["inner", "middle", "outer"], "{t}");
    assert!(
        t.backtrace()
            .iter()
            .all(|f| f.module_name.as_deref() == Some("traps"))
    );
    let rendered = t.to_string();
    assert!(rendered.contains("integer divide by zero"), "{rendered}");
    assert!(rendered.contains("traps!middle"), "{rendered}");

    let cases: [(&str, Vec<Val>, TrapCode, &str); 11] = [
        ("oob", vec![I32(65536)], TrapCode::MemoryOutOfBounds, "oob"),
        ("oob", vec![I32(-1)], TrapCode::MemoryOutOfBounds, "oob"),
        (
            "oob-store",
            vec![I32(65530)],
            TrapCode::MemoryOutOfBounds,
            "oob_store",
        ),
        (
            "unreachable",
            vec![],
            TrapCode::UnreachableCodeReached,
            "unreachable",
        ),
        ("recurse", vec![I32(0)], TrapCode::StackOverflow, "recurse"),
        ("null-call", vec![], TrapCode::IndirectCallToNull, "null"),
        ("bad-sig", vec![], TrapCode::BadSignature, "sig"),
        ("table-oob", vec![], TrapCode::UndefinedElement, "table_oob"),
        ("fill-oob", vec![], TrapCode::MemoryOutOfBounds, "fill"),
        ("table-get", vec![], TrapCode::TableOutOfBounds, "table_get"),
        (
            "null-call-ref",
            vec![],
            TrapCode::NullFunctionReference,
            "null_ref",
        ),
    ];
    for (name, args, code, frame) in cases {
        let t = trap_of(&mut i, name, &args);
        assert_eq!(t.code(), code, "{name}");
        let n = names(&t);
        assert!(
            n.first().is_some_and(|f| f.contains(frame)),
            "{name}: backtrace {n:?}"
        );
    }
    // The recursion's backtrace is deep but bounded.
    let t = trap_of(&mut i, "recurse", &[I32(0)]);
    assert!(t.backtrace().len() > 10 && t.backtrace().len() <= 128);
    let t = trap_of(&mut i, "conv", &[Val::F64(f64::NAN.to_bits())]);
    assert_eq!(t.code(), TrapCode::BadConversionToInteger);
    // Still usable after all of that.
    assert_eq!(i.call("inner", &[I32(1)]).unwrap(), vec![I32(1)]);
    // And again, the stack limit resets after an overflow.
    assert_eq!(
        trap_of(&mut i, "recurse", &[I32(0)]).code(),
        TrapCode::StackOverflow
    );
}

#[test]
fn traps_on_many_threads() {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut i = TestInstance::new(WAT);
                for _ in 0..50 {
                    assert_eq!(
                        trap_of(&mut i, "oob", &[I32(70000)]).code(),
                        TrapCode::MemoryOutOfBounds
                    );
                    assert_eq!(trap_of(&mut i, "divide", &[I32(0)]).backtrace().len(), 3);
                    assert_eq!(i.call("inner", &[I32(1)]).unwrap(), vec![I32(1)]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread panicked");
    }
}

#[test]
fn stack_overflow_on_a_small_thread_stack_is_a_trap() {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut i = TestInstance::new(WAT);
            let t = trap_of(&mut i, "recurse", &[I32(0)]);
            assert_eq!(t.code(), TrapCode::StackOverflow);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn traps_beyond_64_kib_of_code() {
    // Trap sites are stored per 64 KiB chunk of `.text`: put memory accesses in several
    // chunks and trap in each.
    let mut wat = String::from("(module (memory 1)\n");
    for f in 0..96 {
        wat.push_str(&format!(
            "(func $f{f} (export \"f{f}\") (param i32) (result i32)\n"
        ));
        wat.push_str("  (local.get 0)");
        for k in 0..100 {
            wat.push_str(&format!(
                " (i32.load offset={} (local.get 0)) (i32.add)",
                k * 4
            ));
        }
        wat.push_str(")\n");
    }
    wat.push_str("(func (export \"last\") (unreachable)))");
    let engine = precast_loader::Engine::default();
    let module = precast_loader::Module::from_bytes(&engine, &artifact(&wat)).unwrap();
    let text_len = module.text_size();
    assert!(text_len > 3 * 65536, "only {text_len} bytes of code");
    let mut store = precast_loader::Store::new(&engine, ());
    let instance = precast_loader::Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let mut i = TestInstance { store, instance };
    for f in [0, 33, 66, 95] {
        let t = trap_of(&mut i, &format!("f{f}"), &[I32(65536)]);
        assert_eq!(t.code(), TrapCode::MemoryOutOfBounds, "f{f}: {t}");
        assert_eq!(names(&t), [format!("f{f}")]);
        assert_eq!(i.call(&format!("f{f}"), &[I32(0)]).unwrap(), [I32(0)]);
    }
    let t = trap_of(&mut i, "last", &[]);
    assert_eq!(t.code(), TrapCode::UnreachableCodeReached);
}
