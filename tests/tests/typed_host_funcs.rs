//! Typed host functions (`Linker::func_wrap`, `Func::wrap`): every value type in both
//! directions, multiple results, the caller's store data and exports, errors and panics that
//! trap, and calls from the host through the untyped API.

use precast_loader::{Caller, Engine, Error, Extern, Func, LinkError, Linker, Module, Store, Val};
use precast_tests::harness::artifact;

const WAT: &str = r#"(module
  (import "h" "add" (func $add (param i32 i32) (result i32)))
  (import "h" "mix" (func $mix (param i64 f32 f64) (result f64 i64)))
  (import "h" "v128" (func $v128 (param v128) (result v128)))
  (import "h" "count" (func $count))
  (import "h" "peek" (func $peek (param i32) (result i32)))
  (import "h" "fail" (func $fail (param i32) (result i32)))
  (import "h" "panic" (func $panic))
  (memory (export "memory") 1)
  (data (i32.const 8) "\2a")
  (func (export "add") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  (func (export "mix") (param i64 f32 f64) (result f64 i64)
    (call $mix (local.get 0) (local.get 1) (local.get 2)))
  (func (export "v128") (param v128) (result v128) (call $v128 (local.get 0)))
  (func (export "count3") (call $count) (call $count) (call $count))
  (func (export "peek") (param i32) (result i32) (call $peek (local.get 0)))
  (func (export "fail") (param i32) (result i32) (call $fail (local.get 0)))
  (func (export "panic") (call $panic)))"#;

fn linker(engine: &Engine) -> Linker<u32> {
    let mut l = Linker::new(engine);
    l.func_wrap("h", "add", |a: i32, b: i32| a.wrapping_add(b))
        .unwrap()
        .func_wrap("h", "mix", |a: i64, b: f32, c: f64| {
            (f64::from(b) * c, a.wrapping_sub(1))
        })
        .unwrap()
        .func_wrap("h", "v128", |v: u128| v.rotate_left(8))
        .unwrap()
        .func_wrap("h", "count", |mut c: Caller<'_, u32>| *c.data_mut() += 1)
        .unwrap()
        .func_wrap("h", "peek", |c: Caller<'_, u32>, at: i32| {
            let Some(Extern::Memory(m)) = c.get_export("memory") else {
                return Err(Error::Host("no memory export".into()));
            };
            Ok(i32::from(m.data(&c)[at as usize]))
        })
        .unwrap()
        .func_wrap("h", "fail", |x: i32| -> Result<i32, Error> {
            if x < 0 {
                Err(Error::Host(format!("negative: {x}")))
            } else {
                Ok(x * 2)
            }
        })
        .unwrap()
        .func_wrap("h", "panic", || -> () { panic!("boom") })
        .unwrap();
    l
}

#[test]
fn typed_host_functions_from_wasm() {
    let engine = Engine::default();
    let module = Module::from_bytes(&engine, &artifact(WAT)).unwrap();
    let mut store = Store::new(&engine, 0u32);
    let instance = linker(&engine).instantiate(&mut store, &module).unwrap();
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (i32::MAX, 2)).unwrap(), i32::MIN + 1);
    let mix = instance
        .get_typed_func::<(i64, f32, f64), (f64, i64)>(&store, "mix")
        .unwrap();
    assert_eq!(
        mix.call(&mut store, (i64::MIN, 1.5, -4.0)).unwrap(),
        (-6.0, i64::MAX)
    );
    let v = instance
        .get_typed_func::<u128, u128>(&store, "v128")
        .unwrap();
    let x = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
    assert_eq!(v.call(&mut store, x).unwrap(), x.rotate_left(8));
    let count3 = instance.get_typed_func::<(), ()>(&store, "count3").unwrap();
    count3.call(&mut store, ()).unwrap();
    assert_eq!(*store.data(), 3);
    let peek = instance.get_typed_func::<i32, i32>(&store, "peek").unwrap();
    assert_eq!(peek.call(&mut store, 8).unwrap(), 0x2a);
    let fail = instance.get_typed_func::<i32, i32>(&store, "fail").unwrap();
    assert_eq!(fail.call(&mut store, 21).unwrap(), 42);
    let e = fail.call(&mut store, -1).unwrap_err();
    assert!(matches!(&e, Error::Host(m) if m == "negative: -1"), "{e}");
    let e = instance
        .get_typed_func::<(), ()>(&store, "panic")
        .unwrap()
        .call(&mut store, ())
        .unwrap_err();
    assert!(
        matches!(&e, Error::Host(m) if m == "host function panicked: boom"),
        "{e:?}"
    );
    // The store works on after errors and panics.
    assert_eq!(add.call(&mut store, (1, 2)).unwrap(), 3);
}

#[test]
fn typed_host_functions_through_instance_pre_in_many_stores() {
    let engine = Engine::default();
    let module = Module::from_bytes(&engine, &artifact(WAT)).unwrap();
    let pre = linker(&engine).instantiate_pre(&module).unwrap();
    for n in 1..4u32 {
        let mut store = Store::new(&engine, 10 * n);
        let instance = pre.instantiate(&mut store).unwrap();
        let count3 = instance.get_typed_func::<(), ()>(&store, "count3").unwrap();
        count3.call(&mut store, ()).unwrap();
        assert_eq!(*store.data(), 10 * n + 3);
    }
}

#[test]
fn wrapped_func_called_from_the_host() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, 5u32);
    let f = Func::wrap(
        &mut store,
        |c: Caller<'_, u32>, x: i64, y: f32| -> (i64, f32) { (x + i64::from(*c.data()), y / 2.0) },
    );
    let ty = f.ty(&store).unwrap();
    assert_eq!(ty.to_string(), "(i64, f32) -> (i64, f32)");
    let mut out = [Val::I64(0), Val::F32(0)];
    f.call(
        &mut store,
        &[Val::I64(1), Val::F32(3.0f32.to_bits())],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [Val::I64(6), Val::F32(1.5f32.to_bits())]);
    let e = f
        .call(&mut store, &[Val::I32(1), Val::F32(0)], &mut out)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Api(m)
            if m == "argument 0 of function of type (i64, f32) -> (i64, f32) has the wrong type: I32(1)"),
        "{e:?}"
    );
    let typed = f.typed::<(i64, f32), (i64, f32)>(&store).unwrap();
    assert_eq!(typed.call(&mut store, (-5, 1.0)).unwrap(), (0, 0.5));
}

#[test]
fn wrapped_func_imported_by_wasm() {
    let engine = Engine::default();
    let module = Module::from_bytes(
        &engine,
        &artifact(
            r#"(module (import "h" "add" (func $add (param i32 i32) (result i32)))
               (func (export "run") (result i32) (call $add (i32.const 40) (i32.const 2))))"#,
        ),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let add = Func::wrap(&mut store, |a: i32, b: i32| a + b);
    let mut l = Linker::new(&engine);
    l.define(&store, "h", "add", add).unwrap();
    let instance = l.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<(), i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 42);
    // A signature mismatch is a link error, as for any function.
    let mut l = Linker::new(&engine);
    l.func_wrap("h", "add", |a: i64| a).unwrap();
    let e = l.instantiate(&mut store, &module).unwrap_err();
    match &e {
        Error::Link(LinkError::IncompatibleImport {
            module,
            name,
            reason,
        }) => {
            assert_eq!((module.as_str(), name.as_str()), ("h", "add"));
            assert_eq!(
                reason, "expected function type (i32, i32) -> (i32), found (i64) -> (i64)",
                "{e}"
            );
        }
        other => panic!("want an incompatible-import link error, got {other:?}"),
    }
}
