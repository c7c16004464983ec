//! Imports and exports: host functions, host and cross-instance memories, globals and tables,
//! and the link errors for missing or mismatched imports.

use precast_format::module::{FuncType, GlobalType, MemoryType, ValType};
use precast_loader::Val::{self, I32, I64};
use precast_loader::{Engine, Error, Global, LinkError, Linker, Memory, Module, Store};
use precast_tests::harness::{TestInstance, artifact};
use std::sync::{Arc, Mutex};

const PROVIDER: &str = r#"(module
  (memory (export "mem") 1)
  (global (export "g") (mut i32) (i32.const 41))
  (table (export "tab") 2 funcref)
  (elem (i32.const 0) $double)
  (func $double (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "poke") (param i32 i32) (i32.store (local.get 0) (local.get 1))))"#;

const CONSUMER: &str = r#"(module
  (import "env" "log" (func $log (param i32 i64) (result i32)))
  (import "env" "fail" (func $fail))
  (import "p" "mem" (memory 1))
  (import "p" "g" (global $g (mut i32)))
  (import "p" "tab" (table 2 funcref))
  (import "p" "double" (func $double (param i32) (result i32)))
  (type $i (func (param i32) (result i32)))
  (func (export "call-host") (param i32) (result i32) (call $log (local.get 0) (i64.const 77)))
  (func (export "call-fail") (call $fail))
  (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "inc-g") (result i32) (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
  (func (export "via-table") (param i32) (result i32) (call_indirect (type $i) (local.get 0) (i32.const 0)))
  (func (export "via-import") (param i32) (result i32) (call $double (local.get 0))))"#;

#[test]
fn host_functions_and_cross_instance_imports() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let log_ty = FuncType {
        params: vec![ValType::I32, ValType::I64],
        results: vec![ValType::I32],
    };
    linker
        .func_new("env", "log", log_ty, move |_caller, params, results| {
            seen2.lock().unwrap().push(params.to_vec());
            let (Val::I32(a), Val::I64(b)) = (params[0], params[1]) else {
                return Err(Error::Host("bad args".into()));
            };
            results[0] = I32(a + b as i32);
            Ok(())
        })
        .unwrap();
    linker
        .func_new("env", "fail", FuncType::default(), |_, _, _| {
            Err(Error::Host("host says no".into()))
        })
        .unwrap();
    let provider = Module::from_bytes(&engine, &artifact(PROVIDER)).unwrap();
    let p = linker.instantiate(&mut store, &provider).unwrap();
    linker.instance(&mut store, "p", &p).unwrap();
    let consumer = Module::from_bytes(&engine, &artifact(CONSUMER)).unwrap();
    let c = linker.instantiate(&mut store, &consumer).unwrap();

    let mut call = |inst: &precast_loader::Instance, name: &str, args: &[Val]| {
        let f = inst.get_func(&store, name).unwrap();
        let mut out: Vec<Val> = f
            .ty(&store)
            .unwrap()
            .results
            .iter()
            .map(Val::default_for)
            .collect();
        f.call(&mut store, args, &mut out).map(|()| out)
    };
    assert_eq!(call(&c, "call-host", &[I32(5)]).unwrap(), vec![I32(82)]);
    assert_eq!(seen.lock().unwrap().as_slice(), &[vec![I32(5), I64(77)]]);
    let err = call(&c, "call-fail", &[]).unwrap_err();
    assert!(err.to_string().contains("host says no"), "{err}");
    call(&p, "poke", &[I32(8), I32(1234)]).unwrap();
    assert_eq!(call(&c, "peek", &[I32(8)]).unwrap(), vec![I32(1234)]);
    assert_eq!(call(&c, "inc-g", &[]).unwrap(), vec![I32(42)]);
    assert_eq!(call(&c, "via-table", &[I32(21)]).unwrap(), vec![I32(42)]);
    assert_eq!(call(&c, "via-import", &[I32(4)]).unwrap(), vec![I32(8)]);
    // The exported global reflects the consumer's write.
    let g = p.get_global(&store, "g").unwrap();
    assert_eq!(g.get(&store), I32(42));
    // Host-side memory view.
    let mem = p.get_memory(&store, "mem").unwrap();
    assert_eq!(&mem.data(&store)[8..12], &1234i32.to_le_bytes());
}

#[test]
fn host_created_memory_and_global() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let mem_ty = MemoryType {
        minimum: 1,
        maximum: Some(2),
        memory64: false,
        shared: false,
        page_size_log2: 16,
    };
    let mem = Memory::new(&mut store, mem_ty).unwrap();
    mem.data_mut(&mut store)[0..4].copy_from_slice(&99i32.to_le_bytes());
    let g = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I64,
            mutable: false,
        },
        I64(-3),
    )
    .unwrap();
    linker.define(&store, "h", "mem", mem).unwrap();
    linker.define(&store, "h", "g", g).unwrap();
    let wat = r#"(module (import "h" "mem" (memory 1)) (import "h" "g" (global i64))
        (func (export "f") (result i64) (i64.add (i64.extend_i32_u (i32.load (i32.const 0))) (global.get 0))))"#;
    let mut i = TestInstance::with_linker(wat, &engine, store, &linker).unwrap();
    assert_eq!(i.call("f", &[]).unwrap(), vec![I64(96)]);
}

#[test]
fn link_errors() {
    let engine = Engine::default();
    let linker = Linker::new(&engine);
    let missing = r#"(module (import "env" "nope" (func)))"#;
    let e = TestInstance::with_linker(missing, &engine, Store::new(&engine, ()), &linker)
        .err()
        .expect("missing import must fail");
    assert!(
        matches!(e, Error::Link(LinkError::UnknownImport { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("env::nope"), "{e}");

    let mut linker = Linker::new(&engine);
    linker
        .func_new("env", "f", FuncType::default(), |_, _, _| Ok(()))
        .unwrap();
    let wrong = r#"(module (import "env" "f" (func (param i32))))"#;
    let e = TestInstance::with_linker(wrong, &engine, Store::new(&engine, ()), &linker)
        .err()
        .expect("mismatched import must fail");
    assert!(
        matches!(e, Error::Link(LinkError::IncompatibleImport { .. })),
        "{e}"
    );
    let mem = r#"(module (import "env" "f" (memory 1)))"#;
    let e = TestInstance::with_linker(mem, &engine, Store::new(&engine, ()), &linker)
        .err()
        .expect("wrong kind must fail");
    assert!(
        matches!(e, Error::Link(LinkError::IncompatibleImport { .. })),
        "{e}"
    );
}

#[test]
fn start_function_and_data_segment_trap() {
    let engine = Engine::default();
    let linker = Linker::new(&engine);
    let start = r#"(module (memory 1) (global $g (mut i32) (i32.const 0))
        (func $s (global.set $g (i32.const 5))) (start $s)
        (func (export "g") (result i32) (global.get $g)))"#;
    let mut i =
        TestInstance::with_linker(start, &engine, Store::new(&engine, ()), &linker).unwrap();
    assert_eq!(i.call("g", &[]).unwrap(), vec![I32(5)]);
    let oob = r#"(module (memory 1) (data (i32.const 65535) "ab"))"#;
    let e = TestInstance::with_linker(oob, &engine, Store::new(&engine, ()), &linker)
        .err()
        .expect("out-of-bounds data segment must fail");
    assert!(e.as_trap().is_some(), "{e}");
}
