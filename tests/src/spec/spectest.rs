//! The `spectest` host module every spec test may import.

use precast_format::module::{FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
use precast_loader::{Extern, Func, Global, Linker, Memory, Store, Table, Val};

fn table(store: &mut Store<()>, table64: bool) -> Result<Table, String> {
    let ty = TableType {
        element: RefType::FUNCREF,
        minimum: 10,
        maximum: Some(20),
        table64,
    };
    Table::new(store, ty, Val::FuncRef(None)).map_err(|e| e.to_string())
}

/// Defines `spectest` in `linker`.
pub fn define(linker: &mut Linker<()>, store: &mut Store<()>) -> Result<(), String> {
    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[ValType::I32]),
        ("print_i64", &[ValType::I64]),
        ("print_f32", &[ValType::F32]),
        ("print_f64", &[ValType::F64]),
        ("print_i32_f32", &[ValType::I32, ValType::F32]),
        ("print_f64_f64", &[ValType::F64, ValType::F64]),
    ];
    let mut items: Vec<(&str, Extern)> = Vec::new();
    for (name, params) in prints {
        let ty = FuncType {
            params: params.to_vec(),
            results: vec![],
        };
        items.push((name, Func::new(store, ty, |_, _, _| Ok(())).into()));
    }
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, content, v) in globals {
        let ty = GlobalType {
            content,
            mutable: false,
        };
        let g = Global::new(store, ty, v).map_err(|e| e.to_string())?;
        items.push((name, g.into()));
    }
    items.push(("table", table(store, false)?.into()));
    items.push(("table64", table(store, true)?.into()));
    let mem = MemoryType {
        minimum: 1,
        maximum: Some(2),
        memory64: false,
        shared: false,
        page_size_log2: 16,
    };
    items.push((
        "memory",
        Memory::new(store, mem).map_err(|e| e.to_string())?.into(),
    ));
    let shared = MemoryType {
        shared: true,
        ..mem
    };
    items.push((
        "shared_memory",
        Memory::new(store, shared)
            .map_err(|e| e.to_string())?
            .into(),
    ));
    for (name, item) in items {
        linker
            .define(&*store, "spectest", name, item)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
