//! Running a loaded module from the command line: choosing the export, parsing arguments,
//! printing results. Shared by the deploy-side `precast-run` and by `precast run`.

use anyhow::{Context, Result, anyhow, bail};
use precast_format::module::{ExternKind, ValType};
use precast_loader::{Engine, Extern, Linker, Module, Store, Val};

/// What to invoke and with which arguments.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    /// Export to call; `_start` (then `main`) when absent.
    pub invoke: Option<String>,
    /// Arguments as written on the command line.
    pub args: Vec<String>,
}

/// Parses a command-line argument as a value of type `ty`.
pub fn parse_val(ty: ValType, s: &str) -> Result<Val> {
    let int = |s: &str| -> Result<i128> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        let v = match digits.strip_prefix("0x") {
            Some(h) => i128::from_str_radix(h, 16),
            None => digits.parse(),
        }
        .with_context(|| format!("`{s}` is not an integer"))?;
        Ok(if neg { -v } else { v })
    };
    Ok(match ty {
        ValType::I32 => {
            let v = int(s)?;
            if v < i128::from(i32::MIN) || v > i128::from(u32::MAX) {
                bail!("`{s}` does not fit in i32");
            }
            Val::I32(v as i32)
        }
        ValType::I64 => {
            let v = int(s)?;
            if v < i128::from(i64::MIN) || v > i128::from(u64::MAX) {
                bail!("`{s}` does not fit in i64");
            }
            Val::I64(v as i64)
        }
        ValType::F32 => Val::F32(
            s.parse::<f32>()
                .with_context(|| format!("`{s}` is not an f32"))?
                .to_bits(),
        ),
        ValType::F64 => Val::F64(
            s.parse::<f64>()
                .with_context(|| format!("`{s}` is not an f64"))?
                .to_bits(),
        ),
        ValType::V128 => Val::V128(int(s)? as u128),
        ValType::Ref(_) => bail!("reference arguments cannot be given on the command line"),
    })
}

/// Formats a result for printing.
pub fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".into(),
        Val::FuncRef(Some(_)) => "funcref".into(),
        Val::ExternRef(Some(x)) => format!("externref({x})"),
    }
}

/// Instantiates `module` with `linker` and calls the chosen export, returning its results.
pub fn invoke<T: 'static>(
    store: &mut Store<T>,
    linker: &Linker<T>,
    module: &Module,
    call: &Invocation,
) -> Result<Vec<Val>> {
    let instance = linker.instantiate(&mut *store, module)?;
    let name = match &call.invoke {
        Some(n) => n.clone(),
        None => ["_start", "main"]
            .into_iter()
            .find(|n| {
                module
                    .info()
                    .export(n)
                    .is_some_and(|e| e.kind == ExternKind::Func)
            })
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow!("the module exports no `_start`; name a function with --invoke")
            })?,
    };
    let func = match instance.get_export(&*store, &name) {
        Some(Extern::Func(f)) => f,
        Some(_) => bail!("export `{name}` is not a function"),
        None => bail!("the module has no export `{name}`"),
    };
    let ty = func.ty(&*store)?;
    if ty.params.len() != call.args.len() {
        bail!(
            "`{name}` takes {} arguments, {} given",
            ty.params.len(),
            call.args.len()
        );
    }
    let args = ty
        .params
        .iter()
        .zip(&call.args)
        .map(|(t, s)| parse_val(*t, s))
        .collect::<Result<Vec<_>>>()?;
    let mut results: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
    func.call(&mut *store, &args, &mut results)?;
    Ok(results)
}

/// Loads the artifact at `path` and runs it with no imports, printing the results.
pub fn run_artifact(path: &std::path::Path, call: &Invocation) -> Result<()> {
    let engine = Engine::default();
    let module = Module::from_file(&engine, path)
        .with_context(|| format!("cannot load {}", path.display()))?;
    run_loaded(&engine, &module, call)
}

/// Runs a loaded module with no imports, printing the results one per line.
pub fn run_loaded(engine: &Engine, module: &Module, call: &Invocation) -> Result<()> {
    let mut store = Store::new(engine, ());
    let linker = Linker::new(engine);
    for v in invoke(&mut store, &linker, module, call)? {
        println!("{}", format_val(&v));
    }
    Ok(())
}
