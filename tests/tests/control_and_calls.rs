//! Control flow, calls, tables, memory and globals.

use precast_format::TrapCode;
use precast_loader::Error;
use precast_loader::Val::{self, I32, I64};
use precast_tests::harness::TestInstance;

const WAT: &str = r#"
(module
  (type $binop (func (param i32 i32) (result i32)))
  (memory 1 3)
  (data (i32.const 100) "\01\02\03\04\05\06\07\08")
  (global $counter (mut i32) (i32.const 10))
  (global $k i64 (i64.const -5))
  (table $t 4 funcref)
  (elem (table $t) (i32.const 0) func $add $sub $fac)
  (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func $sub (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
  (func $fac (param i64) (result i64)
    (if (result i64) (i64.le_u (local.get 0) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "fac") (param i64) (result i64) (call $fac (local.get 0)))
  (func (export "dispatch") (param i32 i32 i32) (result i32)
    (call_indirect (type $binop) (local.get 1) (local.get 2) (local.get 0)))
  (func (export "switch") (param i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (local.get 0)))
      (return (i32.const 100)))
      (return (i32.const 101)))
      (return (i32.const 102)))
    (i32.const 103))
  (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "multi-block") (param i32) (result i32)
    (local.get 0)
    (block (param i32) (result i32 i32) (i32.const 7) (i32.const 8) (drop))
    (i32.add))
  (func (export "loop-sum") (param i32) (result i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (local.get 0)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $acc))
  (func (export "br-value") (param i32) (result i32)
    (block (result i32) (br_if 0 (i32.const 42) (local.get 0)) (drop) (i32.const 7)))
  (func (export "select") (param i32) (result i64) (select (i64.const 1) (i64.const 2) (local.get 0)))
  (func (export "bump") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))
  (func (export "k") (result i64) (global.get $k))
  (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "load16s") (param i32) (result i32) (i32.load16_s (local.get 0)))
  (func (export "store-load") (param i32 i32) (result i32)
    (i32.store8 (local.get 0) (local.get 1)) (i32.load8_u (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "fill-copy") (result i64)
    (memory.fill (i32.const 200) (i32.const 0xab) (i32.const 8))
    (memory.copy (i32.const 300) (i32.const 200) (i32.const 8))
    (i64.load (i32.const 300)))
  (func (export "table-size") (result i32) (table.size $t))
  (func (export "table-grow") (result i32) (table.grow $t (ref.null func) (i32.const 2)))
  (func (export "is-null") (param i32) (result i32) (ref.is_null (table.get $t (local.get 0))))
  (func (export "unreachable-tail") (param i32) (result i32)
    (if (local.get 0) (then (return (i32.const 1))) (else (unreachable)))
    (i32.const 99))
)
"#;

fn call(inst: &mut TestInstance, name: &str, args: &[Val]) -> Vec<Val> {
    inst.call(name, args)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn control_flow_calls_and_state() {
    let mut i = TestInstance::new(WAT);
    assert_eq!(
        call(&mut i, "fac", &[I64(20)]),
        vec![I64(2432902008176640000)]
    );
    assert_eq!(
        call(&mut i, "dispatch", &[I32(0), I32(7), I32(5)]),
        vec![I32(12)]
    );
    assert_eq!(
        call(&mut i, "dispatch", &[I32(1), I32(7), I32(5)]),
        vec![I32(2)]
    );
    for (x, want) in [(0, 100), (1, 101), (2, 102), (3, 103), (4, 103), (-1, 103)] {
        assert_eq!(
            call(&mut i, "switch", &[I32(x)]),
            vec![I32(want)],
            "switch {x}"
        );
    }
    assert_eq!(
        call(&mut i, "swap", &[I32(1), I64(2)]),
        vec![I64(2), I32(1)]
    );
    assert_eq!(call(&mut i, "multi-block", &[I32(5)]), vec![I32(12)]);
    assert_eq!(call(&mut i, "loop-sum", &[I32(100)]), vec![I32(5050)]);
    assert_eq!(call(&mut i, "br-value", &[I32(1)]), vec![I32(42)]);
    assert_eq!(call(&mut i, "br-value", &[I32(0)]), vec![I32(7)]);
    assert_eq!(call(&mut i, "select", &[I32(1)]), vec![I64(1)]);
    assert_eq!(call(&mut i, "select", &[I32(0)]), vec![I64(2)]);
    assert_eq!(call(&mut i, "bump", &[]), vec![I32(11)]);
    assert_eq!(call(&mut i, "bump", &[]), vec![I32(12)]);
    assert_eq!(call(&mut i, "k", &[]), vec![I64(-5)]);
    assert_eq!(
        call(&mut i, "load64", &[I32(100)]),
        vec![I64(0x0807060504030201)]
    );
    assert_eq!(
        call(&mut i, "store-load", &[I32(5), I32(0x1ff)]),
        vec![I32(0xff)]
    );
    assert_eq!(call(&mut i, "load16s", &[I32(5)]), vec![I32(0xff)]);
    assert_eq!(call(&mut i, "size", &[]), vec![I32(1)]);
    assert_eq!(call(&mut i, "grow", &[I32(1)]), vec![I32(1)]);
    assert_eq!(call(&mut i, "size", &[]), vec![I32(2)]);
    assert_eq!(
        call(&mut i, "grow", &[I32(2)]),
        vec![I32(-1)],
        "beyond maximum"
    );
    // The new page is usable, the end of it is not.
    assert_eq!(
        call(&mut i, "store-load", &[I32(131071), I32(9)]),
        vec![I32(9)]
    );
    // 131065 + 8 bytes ends one byte past the second page: an out-of-bounds trap.
    match i.call("load64", &[I32(131065)]) {
        Err(Error::Trap(t)) => assert_eq!(t.code(), TrapCode::MemoryOutOfBounds, "{t}"),
        other => panic!("load64 past the end: want a MemoryOutOfBounds trap, got {other:?}"),
    }
    assert_eq!(
        call(&mut i, "fill-copy", &[]),
        vec![I64(0xabababababababab_u64 as i64)]
    );
    assert_eq!(call(&mut i, "table-size", &[]), vec![I32(4)]);
    assert_eq!(call(&mut i, "is-null", &[I32(2)]), vec![I32(0)]);
    assert_eq!(call(&mut i, "is-null", &[I32(3)]), vec![I32(1)]);
    assert_eq!(call(&mut i, "table-grow", &[]), vec![I32(4)]);
    assert_eq!(call(&mut i, "table-size", &[]), vec![I32(6)]);
    assert_eq!(call(&mut i, "unreachable-tail", &[I32(1)]), vec![I32(1)]);
}

#[test]
fn odd_export_names_become_valid_symbols() {
    let mut i = TestInstance::new(
        r#"(module (func (export "a\00b") (result i32) (i32.const 7)) (func (export "") (result i32) (i32.const 8)))"#,
    );
    assert_eq!(call(&mut i, "a\0b", &[]), vec![I32(7)]);
    assert_eq!(call(&mut i, "", &[]), vec![I32(8)]);
}

#[test]
fn typed_calls() {
    let mut i = TestInstance::new(WAT);
    let fac = i
        .instance
        .get_typed_func::<i64, i64>(&i.store, "fac")
        .unwrap();
    assert_eq!(fac.call(&mut i.store, 10).unwrap(), 3628800);
    let swap = i
        .instance
        .get_typed_func::<(i32, i64), (i64, i32)>(&i.store, "swap")
        .unwrap();
    assert_eq!(swap.call(&mut i.store, (1, 2)).unwrap(), (2, 1));
    let bump = i
        .instance
        .get_typed_func::<(), i32>(&i.store, "bump")
        .unwrap();
    assert_eq!(bump.call(&mut i.store, ()).unwrap(), 11);
    // A wrong signature is refused up front, naming both types.
    let e = i
        .instance
        .get_typed_func::<i32, i32>(&i.store, "fac")
        .unwrap_err();
    assert!(
        matches!(&e, Error::Api(m) if m == "function of type (i64) -> (i64) used as (i32) -> (i32)"),
        "{e:?}"
    );
    let e = i
        .instance
        .get_typed_func::<(), ()>(&i.store, "nope")
        .unwrap_err();
    assert!(
        matches!(&e, Error::Api(m) if m == "no exported function `nope`"),
        "{e:?}"
    );
    // A typed function only runs in its own store.
    let mut other = TestInstance::new(WAT);
    let e = bump.call(&mut other.store, ()).unwrap_err();
    assert!(
        matches!(&e, Error::Api(m) if m.contains("store it does not belong to")),
        "{e:?}"
    );
    assert_eq!(bump.call(&mut i.store, ()).unwrap(), 12);
}
