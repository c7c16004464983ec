//! End-to-end tests: wat compiled by `precast-compiler`, loaded and run by the loader.

use crate::*;

fn compile(wat: &str) -> Vec<u8> {
    precast_compiler::compile(wat.as_bytes(), &precast_compiler::Config::default())
        .unwrap_or_else(|e| panic!("compile failed: {e}"))
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
