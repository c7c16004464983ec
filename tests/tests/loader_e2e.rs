//! End-to-end tests: wat compiled by `precast-compiler`, loaded and run by the loader.

use precast_loader::*;

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

fn trap_of(store: &mut Store<()>, inst: &Instance, name: &str, args: &[Val]) -> Trap {
    match call(store, inst, name, args) {
        Ok(v) => panic!("{name} returned {v:?}, expected a trap"),
        Err(Error::Trap(t)) => t,
        Err(e) => panic!("{name}: expected a trap, got {e}"),
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

#[test]
fn bulk_memory_and_table_builtins() {
    let (mut store, inst) = setup(
        r#"(module
          (memory (export "mem") 1 2)
          (data $d "hello")
          (data (i32.const 100) "xy")
          (table $t 4 10 funcref)
          (table $u 2 funcref)
          (elem $e func $a $b)
          (elem declare func $b)
          (func $a (result i32) (i32.const 1))
          (func $b (result i32) (i32.const 2))
          (func (export "size") (result i32) (memory.size))
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
          (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
          (func (export "init") (param i32 i32 i32) (memory.init $d (local.get 0) (local.get 1) (local.get 2)))
          (func (export "drop") (data.drop $d))
          (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
          (func (export "tinit") (param i32 i32 i32) (table.init $t $e (local.get 0) (local.get 1) (local.get 2)))
          (func (export "edrop") (elem.drop $e))
          (func (export "tgrow") (param i32) (result i32) (table.grow $t (ref.func $b) (local.get 0)))
          (func (export "tsize") (result i32) (table.size $t))
          (func (export "tfill") (param i32 i32) (table.fill $t (local.get 0) (ref.null func) (local.get 1)))
          (func (export "tcopy") (param i32 i32 i32) (table.copy $u $t (local.get 0) (local.get 1) (local.get 2)))
          (func (export "tcopy_self") (param i32 i32 i32) (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))
          (func (export "tcall") (param i32) (result i32) (call_indirect $t (result i32) (local.get 0)))
          (func (export "ucall") (param i32) (result i32) (call_indirect $u (result i32) (local.get 0))))"#,
    );
    let i = |v: i32| Val::I32(v);
    let mut run = |name: &str, args: &[Val]| call(&mut store, &inst, name, args);
    let oob = |r: Result<Vec<Val>, Error>, code| match r {
        Err(Error::Trap(t)) => assert_eq!(t.code(), code, "{t}"),
        other => panic!("expected {code:?}, got {other:?}"),
    };
    // Active data landed; memory.init / data.drop.
    assert_eq!(run("load8", &[i(101)]).unwrap(), vec![i(b'y' as i32)]);
    run("init", &[i(10), i(1), i(4)]).unwrap();
    assert_eq!(run("load8", &[i(10)]).unwrap(), vec![i(b'e' as i32)]);
    run("init", &[i(65536), i(5), i(0)]).unwrap(); // zero length at both ends is fine
    oob(
        run("init", &[i(65536), i(0), i(1)]),
        TrapCode::MemoryOutOfBounds,
    );
    oob(
        run("init", &[i(0), i(3), i(3)]),
        TrapCode::MemoryOutOfBounds,
    );
    run("drop", &[]).unwrap();
    run("init", &[i(0), i(0), i(0)]).unwrap();
    oob(
        run("init", &[i(0), i(0), i(1)]),
        TrapCode::MemoryOutOfBounds,
    );
    // memory.fill / memory.copy: whole-range check before writing.
    run("fill", &[i(200), i(0xab), i(3)]).unwrap();
    assert_eq!(run("load8", &[i(202)]).unwrap(), vec![i(0xab)]);
    oob(
        run("fill", &[i(65535), i(1), i(2)]),
        TrapCode::MemoryOutOfBounds,
    );
    assert_eq!(
        run("load8", &[i(65535)]).unwrap(),
        vec![i(0)],
        "nothing written"
    );
    run("copy", &[i(201), i(200), i(3)]).unwrap(); // overlapping
    assert_eq!(run("load8", &[i(203)]).unwrap(), vec![i(0xab)]);
    oob(
        run("copy", &[i(0), i(65535), i(2)]),
        TrapCode::MemoryOutOfBounds,
    );
    // memory.grow / size.
    assert_eq!(run("grow", &[i(1)]).unwrap(), vec![i(1)]);
    assert_eq!(run("grow", &[i(1)]).unwrap(), vec![i(-1)]);
    assert_eq!(run("size", &[]).unwrap(), vec![i(2)]);
    run("fill", &[i(65536), i(1), i(65536)]).unwrap();
    // Tables.
    oob(run("tcall", &[i(0)]), TrapCode::IndirectCallToNull);
    run("tinit", &[i(1), i(0), i(2)]).unwrap();
    assert_eq!(run("tcall", &[i(1)]).unwrap(), vec![i(1)]);
    assert_eq!(run("tcall", &[i(2)]).unwrap(), vec![i(2)]);
    oob(
        run("tinit", &[i(3), i(0), i(2)]),
        TrapCode::TableOutOfBounds,
    );
    oob(
        run("tinit", &[i(0), i(1), i(2)]),
        TrapCode::TableOutOfBounds,
    );
    run("edrop", &[]).unwrap();
    oob(
        run("tinit", &[i(0), i(0), i(1)]),
        TrapCode::TableOutOfBounds,
    );
    run("tinit", &[i(4), i(0), i(0)]).unwrap();
    assert_eq!(run("tgrow", &[i(2)]).unwrap(), vec![i(4)]);
    assert_eq!(run("tsize", &[]).unwrap(), vec![i(6)]);
    assert_eq!(
        run("tcall", &[i(5)]).unwrap(),
        vec![i(2)],
        "grown elements hold the init value"
    );
    assert_eq!(run("tgrow", &[i(5)]).unwrap(), vec![i(-1)]);
    run("tcopy_self", &[i(0), i(1), i(2)]).unwrap();
    assert_eq!(run("tcall", &[i(0)]).unwrap(), vec![i(1)]);
    run("tcopy", &[i(0), i(4), i(2)]).unwrap();
    assert_eq!(run("ucall", &[i(1)]).unwrap(), vec![i(2)]);
    oob(
        run("tcopy", &[i(1), i(0), i(2)]),
        TrapCode::TableOutOfBounds,
    );
    run("tfill", &[i(0), i(6)]).unwrap();
    oob(run("tcall", &[i(5)]), TrapCode::IndirectCallToNull);
    oob(run("tfill", &[i(5), i(2)]), TrapCode::TableOutOfBounds);
    // Host view of the memory.
    let mem = inst.get_memory(&store, "mem").unwrap();
    assert_eq!(mem.data_size(&store), 2 * 65536);
    assert_eq!(mem.grow(&mut store, 1).ok(), None);
}

#[test]
fn failed_instantiation_keeps_earlier_writes() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let provider = load(
        &engine,
        r#"(module (memory (export "mem") 1) (table (export "tab") 3 funcref)
          (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
          (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
    );
    let p = linker.module(&mut store, "p", &provider).unwrap();
    // The element segment writes slot 0, then the data segment traps: the element write and
    // the function it refers to stay usable.
    let failing = load(
        &engine,
        r#"(module (import "p" "mem" (memory 1)) (import "p" "tab" (table 3 funcref))
          (func $f (result i32) (i32.const 77))
          (elem (i32.const 0) $f)
          (data (i32.const 0) "a")
          (data (i32.const 65536) "b"))"#,
    );
    let e = linker.instantiate(&mut store, &failing).unwrap_err();
    assert_eq!(
        e.as_trap().map(Trap::code),
        Some(TrapCode::MemoryOutOfBounds),
        "{e}"
    );
    assert_eq!(
        call(&mut store, &p, "call", &[Val::I32(0)]).unwrap(),
        vec![Val::I32(77)]
    );
    assert_eq!(
        call(&mut store, &p, "load", &[Val::I32(0)]).unwrap(),
        vec![Val::I32(97)]
    );
    let elem_oob = load(
        &engine,
        r#"(module (import "p" "tab" (table 3 funcref)) (func $f) (elem (i32.const 2) $f $f))"#,
    );
    let e = linker.instantiate(&mut store, &elem_oob).unwrap_err();
    assert_eq!(
        e.as_trap().map(Trap::code),
        Some(TrapCode::TableOutOfBounds),
        "{e}"
    );
    // A trapping start function fails instantiation with the trap.
    let start = load(&engine, r#"(module (func $s unreachable) (start $s))"#);
    let e = linker.instantiate(&mut store, &start).unwrap_err();
    assert_eq!(
        e.as_trap().map(Trap::code),
        Some(TrapCode::UnreachableCodeReached),
        "{e}"
    );
}

#[test]
fn references_globals_and_host_objects() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let host_table = Table::new(
        &mut store,
        TableType {
            element: RefType::FUNCREF,
            minimum: 2,
            maximum: None,
            table64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap();
    let host_global = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: true,
        },
        Val::I32(5),
    )
    .unwrap();
    let host_mem = Memory::new(
        &mut store,
        MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: 16,
        },
    )
    .unwrap();
    host_mem.write(&mut store, 16, &[9]).unwrap();
    let ty_i = FuncType {
        params: vec![],
        results: vec![ValType::I32],
    };
    let host_fn = Func::new(&mut store, ty_i.clone(), |_, _, r| {
        r[0] = Val::I32(1000);
        Ok(())
    });
    linker.define(&store, "h", "tab", host_table).unwrap();
    linker.define(&store, "h", "g", host_global).unwrap();
    linker.define(&store, "h", "mem", host_mem).unwrap();
    linker.define(&store, "h", "f", host_fn).unwrap();
    let module = load(
        &engine,
        r#"(module
          (import "h" "tab" (table $t 2 funcref))
          (import "h" "g" (global $g (mut i32)))
          (import "h" "mem" (memory 1))
          (import "h" "f" (func $hf (result i32)))
          (global $base i32 (i32.add (i32.const 40) (i32.const 2)))
          (global $r funcref (ref.func $seven))
          (elem declare func $hf)
          (func $seven (export "seven") (result i32) (i32.const 7))
          (func (export "get-g") (result i32) (global.get $g))
          (func (export "set-g") (param i32) (global.set $g (local.get 0)))
          (func (export "base") (result i32) (global.get $base))
          (func (export "ref") (result funcref) (global.get $r))
          (func (export "ref-host") (result funcref) (ref.func $hf))
          (func (export "call-slot") (param i32) (result i32) (call_indirect $t (result i32) (local.get 0)))
          (func (export "set-slot") (param i32 funcref) (table.set $t (local.get 0) (local.get 1)))
          (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
    );
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let run = |store: &mut Store<()>, name: &str, args: &[Val]| call(store, &inst, name, args);
    assert_eq!(run(&mut store, "get-g", &[]).unwrap(), vec![Val::I32(5)]);
    host_global.set(&mut store, Val::I32(6)).unwrap();
    assert_eq!(run(&mut store, "get-g", &[]).unwrap(), vec![Val::I32(6)]);
    run(&mut store, "set-g", &[Val::I32(9)]).unwrap();
    assert_eq!(host_global.get(&store), Val::I32(9));
    assert_eq!(run(&mut store, "base", &[]).unwrap(), vec![Val::I32(42)]);
    assert_eq!(
        run(&mut store, "peek", &[Val::I32(16)]).unwrap(),
        vec![Val::I32(9)]
    );
    // A funcref returned to the host can be called and stored in a table.
    let Val::FuncRef(Some(seven)) = run(&mut store, "ref", &[]).unwrap()[0] else {
        panic!("expected a function reference");
    };
    let mut out = [Val::I32(0)];
    seven.call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out, [Val::I32(7)]);
    host_table
        .set(&mut store, 0, Val::FuncRef(Some(seven)))
        .unwrap();
    assert_eq!(
        run(&mut store, "call-slot", &[Val::I32(0)]).unwrap(),
        vec![Val::I32(7)]
    );
    // A host function placed in the table from the host is callable by wasm.
    host_table
        .set(&mut store, 1, Val::FuncRef(Some(host_fn)))
        .unwrap();
    assert_eq!(
        run(&mut store, "call-slot", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(1000)]
    );
    // ... and from wasm through ref.func of the import.
    let Val::FuncRef(Some(hf)) = run(&mut store, "ref-host", &[]).unwrap()[0] else {
        panic!("expected a function reference");
    };
    run(
        &mut store,
        "set-slot",
        &[Val::I32(0), Val::FuncRef(Some(hf))],
    )
    .unwrap();
    assert_eq!(
        run(&mut store, "call-slot", &[Val::I32(0)]).unwrap(),
        vec![Val::I32(1000)]
    );
    hf.call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out, [Val::I32(1000)]);
    assert!(matches!(
        host_table.get(&store, 0),
        Some(Val::FuncRef(Some(_)))
    ));
    assert_eq!(host_table.get(&store, 2), None);
    assert_eq!(
        host_table.grow(&mut store, 3, Val::FuncRef(None)).unwrap(),
        2
    );
    assert_eq!(host_table.size(&store), 5);
    // Immutable globals refuse writes; types are checked.
    let e = host_global.set(&mut store, Val::I64(1)).unwrap_err();
    assert!(
        e.to_string().contains("does not match global type i32"),
        "{e}"
    );
    let c = Global::new(
        &mut store,
        GlobalType {
            content: ValType::F64,
            mutable: false,
        },
        Val::F64(1.5f64.to_bits()),
    )
    .unwrap();
    let e = c.set(&mut store, Val::F64(0)).unwrap_err();
    assert!(e.to_string().contains("immutable"), "{e}");
    assert_eq!(c.get(&store).f64(), Some(1.5));
    // Objects of another store are refused.
    let mut other = Store::new(&engine, ());
    assert!(matches!(
        seven.call(&mut other, &[], &mut out),
        Err(Error::Api(_))
    ));
}

#[test]
fn module_metadata() {
    let engine = Engine::default();
    let module = load(
        &engine,
        r#"(module $meta (import "a" "b" (func (param i32))) (memory (export "m") 1)
           (func (export "f") (result i64) (i64.const 0)))"#,
    );
    assert_eq!(module.name(), Some("meta"));
    assert!(module.text_size() > 0);
    assert_eq!(module.header().pointer_size, 8);
    let imports: Vec<_> = module.imports().collect();
    assert_eq!(imports.len(), 1);
    assert_eq!((imports[0].module, imports[0].name), ("a", "b"));
    assert!(matches!(&imports[0].ty, ExternType::Func(t) if t.params == [ValType::I32]));
    let exports: Vec<_> = module.exports().map(|e| e.name.to_string()).collect();
    assert_eq!(exports, ["m", "f"]);
}

#[test]
fn from_file_maps_the_artifact() {
    let dir = std::env::temp_dir().join(format!("precast-loader-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.precast");
    std::fs::write(
        &path,
        compile(r#"(module (func (export "f") (result i32) (i32.const 3)))"#),
    )
    .unwrap();
    let engine = Engine::default();
    let module = Module::from_file(&engine, &path).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    assert_eq!(
        call(&mut store, &inst, "f", &[]).unwrap(),
        vec![Val::I32(3)]
    );
    let missing = Module::from_file(&engine, dir.join("missing")).unwrap_err();
    assert!(
        matches!(missing, Error::Load(LoadError::Io { .. })),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn trap_in_nested_call_propagates_through_the_host() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_new(
            "env",
            "reenter",
            FuncType::default(),
            |mut caller: Caller<'_, ()>, _, _| {
                let f = caller
                    .get_export("boom")
                    .and_then(Extern::into_func)
                    .unwrap();
                f.call(&mut caller, &[], &mut [])
            },
        )
        .unwrap();
    let module = load(
        &engine,
        r#"(module $n (import "env" "reenter" (func $r))
          (func $boom (export "boom") unreachable)
          (func $outer (export "outer") (call $r)))"#,
    );
    let inst = linker.instantiate(&mut store, &module).unwrap();
    for _ in 0..3 {
        let t = trap_of(&mut store, &inst, "outer", &[]);
        assert_eq!(t.code(), TrapCode::UnreachableCodeReached);
        assert_eq!(t.backtrace()[0].display_name(), "boom", "{t}");
    }
    // Entry bookkeeping unwound: a plain call afterwards still traps cleanly.
    assert_eq!(
        trap_of(&mut store, &inst, "boom", &[]).code(),
        TrapCode::UnreachableCodeReached
    );
}

#[test]
fn extern_references_round_trip() {
    let (mut store, inst) = setup(
        r#"(module
          (table $t 2 externref)
          (global $g (mut externref) (ref.null extern))
          (func (export "id") (param externref) (result externref) (local.get 0))
          (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0)))
          (func (export "set") (param i32 externref) (table.set $t (local.get 0) (local.get 1)))
          (func (export "get") (param i32) (result externref) (table.get $t (local.get 0)))
          (func (export "set_g") (param externref) (global.set $g (local.get 0)))
          (func (export "get_g") (result externref) (global.get $g)))"#,
    );
    let e = |v| Val::ExternRef(Some(v));
    for v in [0, 1, u64::MAX, 42] {
        assert_eq!(call(&mut store, &inst, "id", &[e(v)]).unwrap(), vec![e(v)]);
        assert_eq!(
            call(&mut store, &inst, "is_null", &[e(v)]).unwrap(),
            vec![Val::I32(0)]
        );
    }
    assert_eq!(
        call(&mut store, &inst, "is_null", &[Val::ExternRef(None)]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_eq!(
        call(&mut store, &inst, "id", &[Val::ExternRef(None)]).unwrap(),
        vec![Val::ExternRef(None)]
    );
    call(&mut store, &inst, "set", &[Val::I32(1), e(7)]).unwrap();
    assert_eq!(
        call(&mut store, &inst, "get", &[Val::I32(1)]).unwrap(),
        vec![e(7)]
    );
    assert_eq!(
        call(&mut store, &inst, "get", &[Val::I32(0)]).unwrap(),
        vec![Val::ExternRef(None)]
    );
    call(&mut store, &inst, "set_g", &[e(9)]).unwrap();
    assert_eq!(call(&mut store, &inst, "get_g", &[]).unwrap(), vec![e(9)]);
    // A funcref where an externref is expected is refused before entering wasm.
    assert!(matches!(
        call(&mut store, &inst, "id", &[Val::FuncRef(None)]),
        Err(Error::Api(_))
    ));
}
