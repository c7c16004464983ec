//! End-to-end tests: wat compiled by `precast-compiler`, loaded and run by the loader.

use crate::traphandlers;
use crate::*;

fn compile(wat: &str) -> Vec<u8> {
    precast_compiler::compile(wat.as_bytes(), &precast_compiler::Config::default())
        .unwrap_or_else(|e| panic!("compile failed: {e}\n{wat}"))
}

fn load(engine: &Engine, wat: &str) -> Module {
    Module::from_bytes(engine, &compile(wat)).unwrap_or_else(|e| panic!("load failed: {e}"))
}

fn call(
    store: &mut Store<()>,
    inst: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let f = inst
        .get_func(&*store, name)
        .unwrap_or_else(|| panic!("no export {name}"));
    let ty = f.ty(&*store)?;
    let mut out: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
    f.call(store, args, &mut out)?;
    Ok(out)
}

fn setup(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = load(&engine, wat);
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    (store, inst)
}

#[test]
fn add() {
    let (mut store, inst) = setup(
        r#"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#,
    );
    assert_eq!(
        call(&mut store, &inst, "add", &[Val::I32(2), Val::I32(40)]).unwrap(),
        vec![Val::I32(42)]
    );
}

const TRAPS: &str = r#"
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
  (func $unreachable (export "unreachable") (unreachable))
  (func $recurse (export "recurse") (param i32) (result i32) (i32.add (call $recurse (local.get 0)) (i32.const 1)))
  (func $null (export "null-call") (call_indirect (type $v) (i32.const 1)))
  (func $sig (export "bad-sig") (call_indirect (type $v) (i32.const 0)))
  (func $table_oob (export "table-oob") (result i32) (call_indirect (type $i) (i32.const 0) (i32.const 9)))
  (func $fill (export "fill-oob") (memory.fill (i32.const 65530) (i32.const 0) (i32.const 7)))
)
"#;

fn trap_of(store: &mut Store<()>, inst: &Instance, name: &str, args: &[Val]) -> Trap {
    match call(store, inst, name, args) {
        Ok(v) => panic!("{name} returned {v:?}, expected a trap"),
        Err(Error::Trap(t)) => t,
        Err(e) => panic!("{name}: expected a trap, got {e}"),
    }
}

#[test]
fn traps_with_backtraces() {
    let (mut store, inst) = setup(TRAPS);
    let t = trap_of(&mut store, &inst, "divide", &[Val::I32(0)]);
    assert_eq!(t.code(), TrapCode::IntegerDivisionByZero);
    let names: Vec<String> = t.backtrace().iter().map(FrameInfo::display_name).collect();
    assert_eq!(names, ["inner", "middle", "outer"], "{t}");
    assert!(
        t.backtrace()
            .iter()
            .all(|f| f.module_name.as_deref() == Some("traps"))
    );
    let shown = t.to_string();
    assert!(
        shown.contains("integer divide by zero") && shown.contains("traps!middle"),
        "{shown}"
    );

    let cases = [
        (
            "oob",
            vec![Val::I32(65536)],
            TrapCode::MemoryOutOfBounds,
            "oob",
        ),
        (
            "oob",
            vec![Val::I32(-1)],
            TrapCode::MemoryOutOfBounds,
            "oob",
        ),
        (
            "unreachable",
            vec![],
            TrapCode::UnreachableCodeReached,
            "unreachable",
        ),
        (
            "recurse",
            vec![Val::I32(0)],
            TrapCode::StackOverflow,
            "recurse",
        ),
        ("null-call", vec![], TrapCode::IndirectCallToNull, "null"),
        ("bad-sig", vec![], TrapCode::BadSignature, "sig"),
        ("table-oob", vec![], TrapCode::TableOutOfBounds, "table_oob"),
        ("fill-oob", vec![], TrapCode::MemoryOutOfBounds, "fill"),
    ];
    for (name, args, code, frame) in cases {
        let t = trap_of(&mut store, &inst, name, &args);
        assert_eq!(t.code(), code, "{name}: {t}");
        assert_eq!(
            t.backtrace()
                .first()
                .map(FrameInfo::display_name)
                .as_deref(),
            Some(frame),
            "{name}: {t}"
        );
    }
    // The recursion's backtrace is deep but bounded.
    let t = trap_of(&mut store, &inst, "recurse", &[Val::I32(0)]);
    assert!(t.backtrace().len() > 10 && t.backtrace().len() <= traphandlers::MAX_FRAMES);
    // Still usable afterwards.
    assert_eq!(
        call(&mut store, &inst, "inner", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(1)]
    );
}

#[test]
fn traps_on_many_threads() {
    let engine = Engine::default();
    let module = load(&engine, TRAPS);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (engine, module) = (engine.clone(), module.clone());
            std::thread::spawn(move || {
                let mut store = Store::new(&engine, ());
                let inst = Linker::new(&engine)
                    .instantiate(&mut store, &module)
                    .unwrap();
                for _ in 0..50 {
                    let t = trap_of(&mut store, &inst, "oob", &[Val::I32(-4)]);
                    assert_eq!(t.code(), TrapCode::MemoryOutOfBounds);
                    let t = trap_of(&mut store, &inst, "divide", &[Val::I32(0)]);
                    assert_eq!(t.backtrace().len(), 3);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn i32s(n: usize) -> Vec<ValType> {
    vec![ValType::I32; n]
}

#[test]
fn host_functions_reentrancy_errors_and_panics() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, 10i32);
    let mut linker = Linker::new(&engine);
    let add_ty = FuncType {
        params: i32s(1),
        results: i32s(1),
    };
    linker
        .func_new(
            "env",
            "add_data",
            add_ty.clone(),
            |mut caller: Caller<'_, i32>, params, results| {
                *caller.data_mut() += 1;
                results[0] = Val::I32(params[0].i32().unwrap() + *caller.data());
                Ok(())
            },
        )
        .unwrap();
    linker
        .func_new("env", "fail", FuncType::default(), |_, _, _| {
            Err(Error::Host("host says no".into()))
        })
        .unwrap();
    linker
        .func_new("env", "panic", FuncType::default(), |_, _, _| {
            panic!("boom")
        })
        .unwrap();
    // Calls back into the calling instance's export `twice`, through `Caller::get_export`.
    linker
        .func_new(
            "env",
            "reenter",
            add_ty.clone(),
            |mut caller: Caller<'_, i32>, params, results| {
                let f = caller
                    .get_export("twice")
                    .and_then(Extern::into_func)
                    .unwrap();
                let mut out = [Val::I32(0)];
                f.call(&mut caller, params, &mut out)?;
                // Memory access through the caller.
                let mem = caller
                    .get_export("memory")
                    .and_then(Extern::into_memory)
                    .unwrap();
                mem.write(&mut caller, 0, &7u32.to_le_bytes())?;
                results[0] = out[0];
                Ok(())
            },
        )
        .unwrap();
    let module = load(
        &engine,
        r#"(module $m
          (import "env" "add_data" (func $add (param i32) (result i32)))
          (import "env" "fail" (func $fail))
          (import "env" "panic" (func $panic))
          (import "env" "reenter" (func $reenter (param i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "call_add") (param i32) (result i32) (call $add (local.get 0)))
          (func $f (export "call_fail") (call $fail))
          (func (export "call_panic") (call $panic))
          (func (export "twice") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
          (func (export "call_reenter") (param i32) (result i32)
            (i32.add (call $reenter (local.get 0)) (i32.load (i32.const 0)))))"#,
    );
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let mut run = |name: &str, args: &[Val]| {
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
    assert_eq!(run("call_add", &[Val::I32(5)]).unwrap(), vec![Val::I32(16)]);
    let e = run("call_fail", &[]).unwrap_err();
    assert!(matches!(&e, Error::Host(m) if m == "host says no"), "{e}");
    let e = run("call_panic", &[]).unwrap_err();
    assert!(e.to_string().contains("panicked: boom"), "{e}");
    assert_eq!(
        run("call_reenter", &[Val::I32(4)]).unwrap(),
        vec![Val::I32(15)]
    );
    assert_eq!(run("call_add", &[Val::I32(0)]).unwrap(), vec![Val::I32(12)]);
    assert_eq!(*store.data(), 12);
    // Host functions can also be called directly from the host.
    let host = linker
        .get(&mut store, "env", "add_data")
        .and_then(Extern::into_func)
        .unwrap();
    let mut out = [Val::I32(0)];
    host.call(&mut store, &[Val::I32(1)], &mut out).unwrap();
    assert_eq!(out, [Val::I32(14)]);
    // Arity and type checks.
    assert!(matches!(
        host.call(&mut store, &[], &mut out),
        Err(Error::Api(_))
    ));
    assert!(matches!(
        host.call(&mut store, &[Val::I64(1)], &mut out),
        Err(Error::Api(_))
    ));
}

#[test]
fn imports_exports_and_link_errors() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let provider = load(
        &engine,
        r#"(module
          (memory (export "mem") 1 3)
          (global (export "g") (mut i32) (i32.const 41))
          (global (export "c") i64 (i64.const -5))
          (table (export "tab") 2 funcref)
          (elem (i32.const 0) $double)
          (func $double (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
          (func (export "poke") (param i32 i32) (i32.store (local.get 0) (local.get 1))))"#,
    );
    let p = linker.module(&mut store, "p", &provider).unwrap();
    let consumer = load(
        &engine,
        r#"(module
          (import "p" "mem" (memory 1))
          (import "p" "g" (global $g (mut i32)))
          (import "p" "c" (global $c i64))
          (import "p" "tab" (table 2 funcref))
          (import "p" "double" (func $double (param i32) (result i32)))
          (type $i (func (param i32) (result i32)))
          (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
          (func (export "inc-g") (result i32) (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
          (func (export "c") (result i64) (global.get $c))
          (func (export "via-table") (param i32) (result i32) (call_indirect (type $i) (local.get 0) (i32.const 0)))
          (func (export "via-import") (param i32) (result i32) (call $double (local.get 0)))
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let c = linker.instantiate(&mut store, &consumer).unwrap();
    call(&mut store, &p, "poke", &[Val::I32(8), Val::I32(1234)]).unwrap();
    assert_eq!(
        call(&mut store, &c, "peek", &[Val::I32(8)]).unwrap(),
        vec![Val::I32(1234)]
    );
    assert_eq!(
        call(&mut store, &c, "inc-g", &[]).unwrap(),
        vec![Val::I32(42)]
    );
    assert_eq!(call(&mut store, &c, "c", &[]).unwrap(), vec![Val::I64(-5)]);
    assert_eq!(
        call(&mut store, &c, "via-table", &[Val::I32(21)]).unwrap(),
        vec![Val::I32(42)]
    );
    assert_eq!(
        call(&mut store, &c, "via-import", &[Val::I32(4)]).unwrap(),
        vec![Val::I32(8)]
    );
    assert_eq!(p.get_global(&store, "g").unwrap().get(&store), Val::I32(42));
    // Growing through the importer is visible to the exporter; the maximum is enforced.
    assert_eq!(
        call(&mut store, &c, "grow", &[Val::I32(2)]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_eq!(
        call(&mut store, &c, "grow", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(-1)]
    );
    let mem = p.get_memory(&store, "mem").unwrap();
    assert_eq!(mem.size(&store), 3);
    assert_eq!(&mem.data(&store)[8..12], &1234i32.to_le_bytes());
    assert_eq!(
        call(&mut store, &c, "peek", &[Val::I32(3 * 65536 - 4)]).unwrap(),
        vec![Val::I32(0)]
    );

    // Link errors.
    let unknown = load(&engine, r#"(module (import "env" "nope" (func)))"#);
    let e = linker.instantiate(&mut store, &unknown).unwrap_err();
    assert_eq!(e.to_string(), "unknown import `env::nope`");
    let cases = [
        (
            r#"(module (import "p" "double" (func (param i64))))"#,
            "expected function type (i64) -> (), found (i32) -> (i32)",
        ),
        (
            r#"(module (import "p" "mem" (memory 4)))"#,
            "memory has size 3, the import needs at least 4",
        ),
        (
            r#"(module (import "p" "mem" (memory 1 2)))"#,
            "memory maximum 3 exceeds the import's maximum 2",
        ),
        (
            r#"(module (import "p" "tab" (table 1 5 funcref)))"#,
            "table has no maximum",
        ),
        (
            r#"(module (import "p" "g" (global i32)))"#,
            "global mutability differs",
        ),
        (
            r#"(module (import "p" "c" (global i32)))"#,
            "global type is i64, the import needs i32",
        ),
        (
            r#"(module (import "p" "double" (memory 1)))"#,
            "expected a memory, found a function",
        ),
    ];
    for (wat, why) in cases {
        let m = load(&engine, wat);
        let e = linker.instantiate(&mut store, &m).unwrap_err();
        let s = e.to_string();
        assert!(
            matches!(e, Error::Link(LinkError::IncompatibleImport { .. })),
            "{s}"
        );
        assert!(
            s.starts_with("incompatible import type for `p::") && s.contains(why),
            "{s}"
        );
    }
    // Duplicate definitions are refused unless shadowing is allowed.
    assert!(matches!(
        linker.instance(&mut store, "p", &p),
        Err(Error::Link(LinkError::Duplicate { .. }))
    ));
    linker
        .allow_shadowing(true)
        .instance(&mut store, "p", &p)
        .unwrap();
}
