//! Parses and validates a wasm module into [`ModuleInfo`] plus the function bodies to compile.

use crate::{CompileError, Config};
use precast_format::module::{
    self as fm, ConstExpr, ConstOp, DataMode, DataSegment, ElementItems, ElementMode,
    ElementSegment, Export, ExternKind, FuncType, GlobalType, HeapType, Import, ImportKind,
    MemoryType, ModuleInfo, RefType, TableType, ValType,
};
use wasmparser::{
    FuncToValidate, FunctionBody, Operator, Parser, Payload, Validator, ValidatorResources,
    WasmFeatures,
};

/// A defined function waiting to be validated and compiled.
pub struct FunctionInput<'a> {
    /// Index in the function index space.
    pub index: u32,
    /// The validator for this body.
    pub validator: FuncToValidate<ValidatorResources>,
    /// The body.
    pub body: FunctionBody<'a>,
}

/// A parsed module.
pub struct ParsedModule<'a> {
    /// Module info for the artifact.
    pub info: ModuleInfo,
    /// Function bodies, in index order.
    pub functions: Vec<FunctionInput<'a>>,
    /// The bytes data segments point into (by offset and length): the wasm input itself,
    /// so parsing copies no segment.
    pub data: &'a [u8],
}

/// The wasm features Precast's validator accepts: what it compiles, plus GC proper and
/// exception handling, which it validates and then refuses as unsupported.
pub fn features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::FLOATS
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::MEMORY64
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::GC_TYPES
        | WasmFeatures::FUNCTION_REFERENCES
        | WasmFeatures::GC
        | WasmFeatures::WIDE_ARITHMETIC
        | WasmFeatures::CUSTOM_PAGE_SIZES
        | WasmFeatures::SIMD
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::THREADS
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::LEGACY_EXCEPTIONS
}

/// Validates the whole module, function bodies included.
pub fn validate(wasm: &[u8]) -> Result<(), CompileError> {
    Validator::new_with_features(features()).validate_all(wasm)?;
    Ok(())
}

/// Refuses a module that uses 128-bit SIMD, for a target whose code cannot (riscv64
/// without the V extension).
pub fn refuse_simd(wasm: &[u8], target: &str) -> Result<(), CompileError> {
    let scalar = features() - WasmFeatures::SIMD - WasmFeatures::RELAXED_SIMD;
    match Validator::new_with_features(scalar).validate_all(wasm) {
        // Other validation errors are reported by the normal path.
        Err(e) if e.message().contains("SIMD") => Err(CompileError::Target(format!(
            "the module uses 128-bit SIMD, which {target} code can only use with the V \
             extension: compile for a CPU that has it (`--cpu +v`, `--cpu rva23u64`)"
        ))),
        _ => Ok(()),
    }
}

fn unsupported(what: impl Into<String>) -> CompileError {
    CompileError::Unsupported(what.into())
}

/// Converts a wasmparser value type.
pub fn val_type(t: wasmparser::ValType) -> Result<ValType, CompileError> {
    Ok(match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ValType::Ref(ref_type(r)?),
    })
}

/// Converts a wasmparser reference type.
pub fn ref_type(r: wasmparser::RefType) -> Result<RefType, CompileError> {
    use wasmparser::{AbstractHeapType as A, HeapType as H};
    let heap = match r.heap_type() {
        H::Abstract { shared: false, ty } => match ty {
            A::Func => HeapType::Func,
            A::Extern => HeapType::Extern,
            A::NoFunc => HeapType::NoFunc,
            A::NoExtern => HeapType::NoExtern,
            other => return Err(unsupported(format!("heap type {other:?}"))),
        },
        H::Concrete(idx) | H::Exact(idx) => match idx.as_module_index() {
            Some(i) => HeapType::Concrete(i),
            None => return Err(unsupported("non-module type index")),
        },
        other => return Err(unsupported(format!("heap type {other:?}"))),
    };
    Ok(RefType {
        nullable: r.is_nullable(),
        heap,
    })
}

fn func_type(t: &wasmparser::FuncType) -> Result<FuncType, CompileError> {
    Ok(FuncType {
        params: t
            .params()
            .iter()
            .map(|&v| val_type(v))
            .collect::<Result<_, _>>()?,
        results: t
            .results()
            .iter()
            .map(|&v| val_type(v))
            .collect::<Result<_, _>>()?,
    })
}

fn table_type(t: &wasmparser::TableType) -> Result<TableType, CompileError> {
    Ok(TableType {
        element: ref_type(t.element_type)?,
        minimum: t.initial,
        maximum: t.maximum,
        table64: t.table64,
    })
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        minimum: m.initial,
        maximum: m.maximum,
        memory64: m.memory64,
        shared: m.shared,
        page_size_log2: m.page_size_log2.unwrap_or(16) as u8,
    }
}

fn global_type(g: &wasmparser::GlobalType) -> Result<GlobalType, CompileError> {
    Ok(GlobalType {
        content: val_type(g.content_type)?,
        mutable: g.mutable,
    })
}

/// Converts a constant expression into loader-evaluable operations.
pub fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, CompileError> {
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let op = match reader.read()? {
            Operator::I32Const { value } => ConstOp::I32Const(value),
            Operator::I64Const { value } => ConstOp::I64Const(value),
            Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            Operator::V128Const { value } => ConstOp::V128Const(value.i128() as u128),
            Operator::RefNull { .. } => ConstOp::RefNull,
            Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            Operator::End => continue,
            other => {
                return Err(unsupported(format!(
                    "constant expression operator {other:?}"
                )));
            }
        };
        ops.push(op);
    }
    Ok(ConstExpr(ops))
}

/// Parses and validates `wasm` (module-level; function bodies are validated when compiled).
pub fn parse<'a>(wasm: &'a [u8], _config: &Config) -> Result<ParsedModule<'a>, CompileError> {
    let mut validator = Validator::new_with_features(features());
    let mut info = ModuleInfo::default();
    let mut functions = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        if let wasmparser::ValidPayload::Func(validator, body) = validator.payload(&payload)? {
            // Imports precede the code section, so defined indices follow them.
            functions.push(FunctionInput {
                index: info.num_imported_funcs + functions.len() as u32,
                validator,
                body,
            });
        }
        match payload {
            Payload::Version { encoding, .. } if encoding != wasmparser::Encoding::Module => {
                return Err(unsupported("components"));
            }
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    info.types.push(func_type(&ty?)?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    let kind = match import.ty {
                        wasmparser::TypeRef::Func(t) | wasmparser::TypeRef::FuncExact(t) => {
                            info.functions.push(t);
                            info.num_imported_funcs += 1;
                            ImportKind::Func(t)
                        }
                        wasmparser::TypeRef::Table(t) => {
                            let ty = table_type(&t)?;
                            info.tables.push(fm::Table { ty, init: None });
                            info.num_imported_tables += 1;
                            ImportKind::Table(ty)
                        }
                        wasmparser::TypeRef::Memory(m) => {
                            let ty = memory_type(&m);
                            info.memories.push(ty);
                            info.num_imported_memories += 1;
                            ImportKind::Memory(ty)
                        }
                        wasmparser::TypeRef::Global(g) => {
                            let ty = global_type(&g)?;
                            info.globals.push(fm::Global { ty, init: None });
                            info.num_imported_globals += 1;
                            ImportKind::Global(ty)
                        }
                        wasmparser::TypeRef::Tag(_) => return Err(unsupported("tag imports")),
                    };
                    info.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    info.functions.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table?;
                    let init = match &table.init {
                        wasmparser::TableInit::RefNull => None,
                        wasmparser::TableInit::Expr(e) => Some(const_expr(e)?),
                    };
                    info.tables.push(fm::Table {
                        ty: table_type(&table.ty)?,
                        init,
                    });
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    info.memories.push(memory_type(&m?));
                }
            }
            Payload::TagSection(_) => return Err(unsupported("exception handling (tags)")),
            Payload::GlobalSection(reader) => {
                for g in reader {
                    let g = g?;
                    info.globals.push(fm::Global {
                        ty: global_type(&g.ty)?,
                        init: Some(const_expr(&g.init_expr)?),
                    });
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e?;
                    let kind = match e.kind {
                        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                            ExternKind::Func
                        }
                        wasmparser::ExternalKind::Table => ExternKind::Table,
                        wasmparser::ExternalKind::Memory => ExternKind::Memory,
                        wasmparser::ExternalKind::Global => ExternKind::Global,
                        wasmparser::ExternalKind::Tag => return Err(unsupported("tag exports")),
                    };
                    info.exports.push(Export {
                        name: e.name.to_string(),
                        kind,
                        index: e.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => info.start = Some(func),
            Payload::ElementSection(reader) => {
                for e in reader {
                    info.elements.push(element(e?)?);
                }
            }
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d?;
                    let mode = match d.kind {
                        wasmparser::DataKind::Passive => DataMode::Passive,
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => DataMode::Active {
                            memory: memory_index,
                            offset: const_expr(&offset_expr)?,
                        },
                    };
                    // The segment's bytes are a slice of `wasm`: record where.
                    let offset = (d.data.as_ptr() as usize).wrapping_sub(wasm.as_ptr() as usize);
                    let within = offset
                        .checked_add(d.data.len())
                        .and_then(|end| wasm.get(offset..end))
                        .is_some_and(|bytes| std::ptr::eq(bytes, d.data));
                    if !within {
                        return Err(CompileError::Artifact(
                            "data segment bytes are not part of the input".into(),
                        ));
                    }
                    info.data.push(DataSegment {
                        mode,
                        offset: offset as u64,
                        len: d.data.len() as u64,
                    });
                }
            }
            Payload::CustomSection(reader) => {
                if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
                    // A malformed name section is ignored, as the spec allows.
                    let _ = read_names(names, &mut info);
                }
            }
            _ => {}
        }
    }
    // Functions the name section leaves unnamed are named after their first export.
    let named: std::collections::HashSet<u32> = info.func_names.iter().map(|(i, _)| *i).collect();
    for e in &info.exports {
        if e.kind == ExternKind::Func && !named.contains(&e.index) {
            info.func_names.push((e.index, e.name.clone()));
        }
    }
    info.func_names.sort_by_key(|(i, _)| *i);
    info.func_names.dedup_by_key(|(i, _)| *i);
    Ok(ParsedModule {
        info,
        functions,
        data: wasm,
    })
}

fn element(e: wasmparser::Element<'_>) -> Result<ElementSegment, CompileError> {
    let mode = match e.kind {
        wasmparser::ElementKind::Passive => ElementMode::Passive,
        wasmparser::ElementKind::Declared => ElementMode::Declared,
        wasmparser::ElementKind::Active {
            table_index,
            offset_expr,
        } => ElementMode::Active {
            table: table_index.unwrap_or(0),
            offset: const_expr(&offset_expr)?,
        },
    };
    let (ty, items) = match e.items {
        wasmparser::ElementItems::Functions(funcs) => (
            RefType {
                nullable: false,
                heap: HeapType::Func,
            },
            ElementItems::Funcs(funcs.into_iter().collect::<Result<_, _>>()?),
        ),
        wasmparser::ElementItems::Expressions(ty, exprs) => {
            let mut items = Vec::new();
            for expr in exprs {
                items.push(const_expr(&expr?)?);
            }
            (ref_type(ty)?, ElementItems::Exprs(items))
        }
    };
    Ok(ElementSegment { mode, ty, items })
}

fn read_names(
    names: wasmparser::NameSectionReader<'_>,
    info: &mut ModuleInfo,
) -> Result<(), wasmparser::BinaryReaderError> {
    for name in names {
        match name? {
            wasmparser::Name::Module { name, .. } => info.name = Some(name.to_string()),
            wasmparser::Name::Function(map) => {
                for naming in map {
                    let naming = naming?;
                    info.func_names
                        .push((naming.index, naming.name.to_string()));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
