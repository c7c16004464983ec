//! Running a module's exports in Precast and in Wasmtime, recording everything observable in
//! a common form so the two can be compared.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use precast_loader as pl;

/// A wasm value, references reduced to null or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// A reference: `true` when null.
    Ref(bool),
}

/// The wasm-level trap kinds common to both systems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    StackOverflow,
    MemoryOutOfBounds,
    TableOutOfBounds,
    /// A data or element segment access out of bounds: Precast reports it as its own code,
    /// Wasmtime as a memory or table out-of-bounds access.
    SegmentOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    Unreachable,
    NullReference,
    HeapMisaligned,
    OutOfMemory,
    Other(String),
}

impl TrapKind {
    /// Whether the two kinds are the same wasm trap.
    pub fn same(&self, other: &TrapKind) -> bool {
        use TrapKind::*;
        match (self, other) {
            (SegmentOutOfBounds, MemoryOutOfBounds | TableOutOfBounds | SegmentOutOfBounds)
            | (MemoryOutOfBounds | TableOutOfBounds, SegmentOutOfBounds) => true,
            (a, b) => a == b,
        }
    }
}

/// The outcome of one call (or of instantiation: `Ok(vec![])` when it succeeded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok(Vec<Value>),
    Trap(TrapKind),
    /// A failure that is not a wasm trap (link or resource error, API error).
    Error(String),
}

impl Outcome {
    pub fn same(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Ok(a), Outcome::Ok(b)) => a == b,
            (Outcome::Trap(a), Outcome::Trap(b)) => a.same(b),
            (Outcome::Error(_), Outcome::Error(_)) => true,
            _ => false,
        }
    }

    pub fn is_stack_overflow(&self) -> bool {
        matches!(self, Outcome::Trap(TrapKind::StackOverflow))
    }
}

/// What the exports hold after a call.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Exported globals by name.
    pub globals: Vec<(String, Value)>,
    /// Exported memories by name: size in bytes and hash of the contents.
    pub memories: Vec<(String, u64, u64)>,
    /// Exported tables by name: size and which of the first 64 elements are null.
    pub tables: Vec<(String, u64, u64)>,
}

/// A module run: instantiation, then per exported function (in export order) the call and
/// the snapshot after it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    pub instantiation: Option<Outcome>,
    pub calls: Vec<(String, Outcome, Snapshot)>,
}

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// Argument values for a call: derived from `seed` per position, typed by `ty`.
#[derive(Clone, Copy, Debug)]
pub enum ArgTy {
    I32,
    I64,
    F32,
    F64,
    V128,
    Ref,
}

pub fn arg_value(ty: ArgTy, seed: &mut crate::XorShift) -> Value {
    let r = seed.next_u64();
    // Small values half of the time: they make loops, indices and shifts interesting.
    let r = if r & 1 == 0 { (r >> 1) % 17 } else { r };
    match ty {
        ArgTy::I32 => Value::I32(r as i32),
        ArgTy::I64 => Value::I64(r as i64),
        ArgTy::F32 => Value::F32(canon_f32(r as u32)),
        ArgTy::F64 => Value::F64(canon_f64(r)),
        ArgTy::V128 => Value::V128((r as u128) << 64 | seed.next_u64() as u128),
        ArgTy::Ref => Value::Ref(true),
    }
}

fn canon_f32(b: u32) -> u32 {
    if f32::from_bits(b).is_nan() {
        0x7fc0_0000
    } else {
        b
    }
}

fn canon_f64(b: u64) -> u64 {
    if f64::from_bits(b).is_nan() {
        0x7ff8_0000_0000_0000
    } else {
        b
    }
}

// ---- Precast ----

fn pl_argty(t: &pl::ValType) -> ArgTy {
    match t {
        pl::ValType::I32 => ArgTy::I32,
        pl::ValType::I64 => ArgTy::I64,
        pl::ValType::F32 => ArgTy::F32,
        pl::ValType::F64 => ArgTy::F64,
        pl::ValType::V128 => ArgTy::V128,
        pl::ValType::Ref(_) => ArgTy::Ref,
    }
}

fn pl_value(v: &pl::Val) -> Value {
    match v {
        pl::Val::I32(x) => Value::I32(*x),
        pl::Val::I64(x) => Value::I64(*x),
        pl::Val::F32(x) => Value::F32(*x),
        pl::Val::F64(x) => Value::F64(*x),
        pl::Val::V128(x) => Value::V128(*x),
        pl::Val::FuncRef(f) => Value::Ref(f.is_none()),
        pl::Val::ExternRef(r) => Value::Ref(r.is_none()),
    }
}

fn pl_arg(v: Value, ty: &pl::ValType) -> pl::Val {
    match v {
        Value::I32(x) => pl::Val::I32(x),
        Value::I64(x) => pl::Val::I64(x),
        Value::F32(x) => pl::Val::F32(x),
        Value::F64(x) => pl::Val::F64(x),
        Value::V128(x) => pl::Val::V128(x),
        Value::Ref(_) => pl::Val::default_for(ty),
    }
}

pub fn pl_trap(code: pl::TrapCode) -> TrapKind {
    use pl::TrapCode as T;
    match code {
        T::StackOverflow => TrapKind::StackOverflow,
        T::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        // Wasmtime reports both as a table access out of bounds.
        T::TableOutOfBounds | T::UndefinedElement => TrapKind::TableOutOfBounds,
        T::SegmentOutOfBounds => TrapKind::SegmentOutOfBounds,
        T::IndirectCallToNull => TrapKind::IndirectCallToNull,
        T::BadSignature => TrapKind::BadSignature,
        T::IntegerOverflow => TrapKind::IntegerOverflow,
        T::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        T::BadConversionToInteger => TrapKind::BadConversionToInteger,
        T::UnreachableCodeReached => TrapKind::Unreachable,
        T::NullReference | T::NullFunctionReference => TrapKind::NullReference,
        T::HeapMisaligned => TrapKind::HeapMisaligned,
        T::OutOfMemory => TrapKind::OutOfMemory,
        other => TrapKind::Other(format!("{other:?}")),
    }
}

fn pl_outcome<T>(r: Result<T, pl::Error>, ok: impl FnOnce(T) -> Vec<Value>) -> Outcome {
    match r {
        Ok(v) => Outcome::Ok(ok(v)),
        Err(pl::Error::Trap(t)) => Outcome::Trap(pl_trap(t.code())),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

fn pl_snapshot(store: &pl::Store<()>, exports: &[(String, pl::Extern)]) -> Snapshot {
    let mut s = Snapshot::default();
    for (name, e) in exports {
        match e {
            pl::Extern::Global(g) => s.globals.push((name.clone(), pl_value(&g.get(store)))),
            pl::Extern::Memory(m) => {
                let data = m.data(store);
                s.memories
                    .push((name.clone(), data.len() as u64, hash_bytes(data)));
            }
            pl::Extern::Table(t) => {
                let size = t.size(store);
                let mut nulls = 0u64;
                for i in 0..size.min(64) {
                    if matches!(
                        t.get(store, i),
                        Some(pl::Val::FuncRef(None) | pl::Val::ExternRef(None))
                    ) {
                        nulls |= 1 << i;
                    }
                }
                s.tables.push((name.clone(), size, nulls));
            }
            _ => {}
        }
    }
    s
}

/// Loads `artifact` through the verified path, instantiates it with no imports and calls
/// every exported function once (arguments from `seed`). `Err` when loading fails.
pub fn run_precast(artifact: &[u8], seed: u64) -> Result<Run, pl::Error> {
    let engine = crate::precast_engine();
    let module = pl::Module::from_bytes(engine, artifact)?;
    let mut store = pl::Store::new(engine, ());
    let mut run = Run::default();
    let instance = match pl::Instance::new(&mut store, &module, &[]) {
        Ok(i) => {
            run.instantiation = Some(Outcome::Ok(vec![]));
            i
        }
        Err(e) => {
            run.instantiation = Some(pl_outcome::<()>(Err(e), |_| vec![]));
            return Ok(run);
        }
    };
    let exports = instance.exports(&store);
    let mut rng = crate::XorShift(seed | 1);
    for (name, e) in &exports {
        let pl::Extern::Func(f) = e else { continue };
        let ty = f.ty(&store)?;
        let args: Vec<pl::Val> = ty
            .params
            .iter()
            .map(|t| pl_arg(arg_value(pl_argty(t), &mut rng), t))
            .collect();
        let mut results: Vec<pl::Val> = ty.results.iter().map(pl::Val::default_for).collect();
        let r = f.call(&mut store, &args, &mut results);
        let outcome = pl_outcome(r, |()| results.iter().map(pl_value).collect());
        let stop = outcome.is_stack_overflow();
        run.calls
            .push((name.clone(), outcome, pl_snapshot(&store, &exports)));
        if stop {
            break;
        }
    }
    Ok(run)
}

// ---- Wasmtime ----

pub fn wasmtime_engine() -> &'static wasmtime::Engine {
    static ENGINE: std::sync::OnceLock<wasmtime::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut c = wasmtime::Config::new();
        c.wasm_multi_memory(true)
            .wasm_memory64(true)
            .wasm_reference_types(true)
            .wasm_bulk_memory(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(false)
            .wasm_tail_call(true)
            .wasm_extended_const(true)
            .wasm_wide_arithmetic(true)
            .wasm_custom_page_sizes(true)
            .wasm_multi_value(true);
        wasmtime::Engine::new(&c).expect("wasmtime engine")
    })
}

fn wt_argty(t: &wasmtime::ValType) -> ArgTy {
    match t {
        wasmtime::ValType::I32 => ArgTy::I32,
        wasmtime::ValType::I64 => ArgTy::I64,
        wasmtime::ValType::F32 => ArgTy::F32,
        wasmtime::ValType::F64 => ArgTy::F64,
        wasmtime::ValType::V128 => ArgTy::V128,
        wasmtime::ValType::Ref(_) => ArgTy::Ref,
    }
}

fn wt_value(v: &wasmtime::Val) -> Value {
    match v {
        wasmtime::Val::I32(x) => Value::I32(*x),
        wasmtime::Val::I64(x) => Value::I64(*x),
        wasmtime::Val::F32(x) => Value::F32(*x),
        wasmtime::Val::F64(x) => Value::F64(*x),
        wasmtime::Val::V128(x) => Value::V128(x.as_u128()),
        wasmtime::Val::FuncRef(f) => Value::Ref(f.is_none()),
        wasmtime::Val::ExternRef(r) => Value::Ref(r.is_none()),
        wasmtime::Val::AnyRef(r) => Value::Ref(r.is_none()),
        wasmtime::Val::ExnRef(r) => Value::Ref(r.is_none()),
        wasmtime::Val::ContRef(r) => Value::Ref(r.is_none()),
    }
}

fn wt_arg(v: Value, ty: &wasmtime::ValType) -> wasmtime::Val {
    match v {
        Value::I32(x) => wasmtime::Val::I32(x),
        Value::I64(x) => wasmtime::Val::I64(x),
        Value::F32(x) => wasmtime::Val::F32(x),
        Value::F64(x) => wasmtime::Val::F64(x),
        Value::V128(x) => wasmtime::Val::V128(x.into()),
        Value::Ref(_) => match ty {
            wasmtime::ValType::Ref(r) => wasmtime::Val::null_ref(r.heap_type()),
            _ => unreachable!(),
        },
    }
}

fn wt_trap(e: &wasmtime::Error) -> Option<TrapKind> {
    use wasmtime::Trap as T;
    let t = e.downcast_ref::<T>()?;
    Some(match t {
        T::StackOverflow => TrapKind::StackOverflow,
        T::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        T::TableOutOfBounds => TrapKind::TableOutOfBounds,
        T::IndirectCallToNull => TrapKind::IndirectCallToNull,
        T::BadSignature => TrapKind::BadSignature,
        T::IntegerOverflow => TrapKind::IntegerOverflow,
        T::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        T::BadConversionToInteger => TrapKind::BadConversionToInteger,
        T::UnreachableCodeReached => TrapKind::Unreachable,
        T::NullReference => TrapKind::NullReference,
        T::HeapMisaligned => TrapKind::HeapMisaligned,
        other => TrapKind::Other(format!("{other:?}")),
    })
}

fn wt_outcome<T>(r: wasmtime::Result<T>, ok: impl FnOnce(T) -> Vec<Value>) -> Outcome {
    match r {
        Ok(v) => Outcome::Ok(ok(v)),
        Err(e) => match wt_trap(&e) {
            Some(t) => Outcome::Trap(t),
            None => Outcome::Error(format!("{e:?}")),
        },
    }
}

fn wt_snapshot(
    store: &mut wasmtime::Store<()>,
    exports: &[(String, wasmtime::Extern)],
) -> Snapshot {
    let mut s = Snapshot::default();
    for (name, e) in exports {
        match e {
            wasmtime::Extern::Global(g) => {
                let v = g.get(&mut *store);
                s.globals.push((name.clone(), wt_value(&v)));
            }
            wasmtime::Extern::Memory(m) => {
                let data = m.data(&*store);
                s.memories
                    .push((name.clone(), data.len() as u64, hash_bytes(data)));
            }
            wasmtime::Extern::Table(t) => {
                let size = t.size(&*store);
                let mut nulls = 0u64;
                for i in 0..size.min(64) {
                    if let Some(r) = t.get(&mut *store, i)
                        && r.is_null()
                    {
                        nulls |= 1 << i;
                    }
                }
                s.tables.push((name.clone(), size, nulls));
            }
            _ => {}
        }
    }
    s
}

/// [`run_precast`] in Wasmtime, from the wasm. `Err` when Wasmtime does not compile it.
pub fn run_wasmtime(wasm: &[u8], seed: u64) -> wasmtime::Result<Run> {
    let engine = wasmtime_engine();
    let module = wasmtime::Module::new(engine, wasm)?;
    let mut store = wasmtime::Store::new(engine, ());
    let mut run = Run::default();
    let instance = match wasmtime::Instance::new(&mut store, &module, &[]) {
        Ok(i) => {
            run.instantiation = Some(Outcome::Ok(vec![]));
            i
        }
        Err(e) => {
            run.instantiation = Some(wt_outcome::<()>(Err(e), |_| vec![]));
            return Ok(run);
        }
    };
    let exports: Vec<(String, wasmtime::Extern)> = instance
        .exports(&mut store)
        .map(|e| (e.name().to_string(), e.into_extern()))
        .collect();
    let mut rng = crate::XorShift(seed | 1);
    for (name, e) in &exports {
        let wasmtime::Extern::Func(f) = e else {
            continue;
        };
        let ty = f.ty(&store);
        let params: Vec<wasmtime::ValType> = ty.params().collect();
        let args: Vec<wasmtime::Val> = params
            .iter()
            .map(|t| wt_arg(arg_value(wt_argty(t), &mut rng), t))
            .collect();
        let mut results: Vec<wasmtime::Val> = ty
            .results()
            .map(|t| wasmtime::Val::default_for_ty(&t).unwrap_or(wasmtime::Val::I32(0)))
            .collect();
        let r = f.call(&mut store, &args, &mut results);
        let outcome = wt_outcome(r, |()| results.iter().map(wt_value).collect());
        let stop = outcome.is_stack_overflow();
        let snap = wt_snapshot(&mut store, &exports);
        run.calls.push((name.clone(), outcome, snap));
        if stop {
            break;
        }
    }
    Ok(run)
}
