//! Runs every directive of one `.wast` file through the compile -> artifact file -> load path
//! (compiling through [`crate::compile`]).

use super::{spectest, values};
use precast_loader::{Engine, Error, Extern, Instance, Linker, Module, Store, Val};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke};

/// The outcome of one file.
#[derive(Debug, Default)]
pub struct FileResult {
    /// Directives that behaved as expected.
    pub passed: usize,
    /// Directives that did not, with a description each.
    pub failures: Vec<String>,
}

/// Options for a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keep artifacts in this folder instead of deleting them.
    pub keep_artifacts: Option<PathBuf>,
    /// How modules are compiled and loaded.
    pub mode: crate::compile::Mode,
}

struct Runner<'o> {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    instances: HashMap<String, Instance>,
    definitions: HashMap<String, Module>,
    current: Option<Instance>,
    artifact_dir: PathBuf,
    keep: bool,
    file_stem: String,
    counter: usize,
    options: &'o RunOptions,
}

type Outcome = Result<(), String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Runner<'_> {
    /// Compiles `wasm` to an artifact file and loads it, as a deployment would.
    fn compile_and_load(&mut self, wasm: &[u8]) -> Result<Module, String> {
        let artifact = crate::compile::compile_in(wasm, self.options.mode)
            .map_err(|e| format!("compile: {e}"))?;
        self.counter += 1;
        let path = self
            .artifact_dir
            .join(format!("{}-{}.pcst", self.file_stem, self.counter));
        std::fs::write(&path, &artifact).map_err(|e| format!("{}: {e}", path.display()))?;
        let module = Module::from_file(&self.engine, &path).map_err(|e| format!("load: {e}"));
        if !self.keep {
            let _ = std::fs::remove_file(&path);
        }
        module
    }

    fn instantiate(&mut self, module: &Module) -> Result<Instance, Error> {
        self.linker.instantiate(&mut self.store, module)
    }

    fn instance(&self, name: Option<wast::token::Id<'_>>) -> Result<Instance, String> {
        match name {
            Some(id) => self
                .instances
                .get(id.name())
                .cloned()
                .ok_or_else(|| format!("unknown instance ${}", id.name())),
            None => self.current.ok_or_else(|| "no current instance".into()),
        }
    }

    fn module_directive(&mut self, mut wat: QuoteWat<'_>) -> Outcome {
        let name = wat.name().map(|id| id.name().to_string());
        let wasm = wat.encode().map_err(err)?;
        let module = self.compile_and_load(&wasm)?;
        let instance = self.instantiate(&module).map_err(err)?;
        if let Some(name) = name {
            self.instances.insert(name, instance);
        }
        self.current = Some(instance);
        Ok(())
    }

    fn invoke(&mut self, call: &WastInvoke<'_>) -> Result<Result<Vec<Val>, Error>, String> {
        let instance = self.instance(call.module)?;
        let func = match instance.get_export(&self.store, call.name) {
            Some(Extern::Func(f)) => f,
            _ => return Err(format!("no exported function `{}`", call.name)),
        };
        let args = call
            .args
            .iter()
            .map(values::arg)
            .collect::<Result<Vec<_>, _>>()?;
        let ty = func.ty(&self.store).map_err(err)?;
        let mut results: Vec<Val> = ty.results.iter().map(Val::default_for).collect();
        Ok(func
            .call(&mut self.store, &args, &mut results)
            .map(|()| results))
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Result<Vec<Val>, Error>, String> {
        match exec {
            WastExecute::Invoke(call) => self.invoke(&call),
            WastExecute::Wat(mut wat) => {
                let wasm = wat.encode().map_err(err)?;
                let module = self.compile_and_load(&wasm)?;
                Ok(self.instantiate(&module).map(|_| vec![]))
            }
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module)?;
                match instance.get_export(&self.store, global) {
                    Some(Extern::Global(g)) => Ok(Ok(vec![g.get(&self.store)])),
                    _ => Err(format!("no exported global `{global}`")),
                }
            }
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Outcome {
        match d {
            WastDirective::Module(wat) => self.module_directive(wat),
            WastDirective::ModuleDefinition(mut wat) => {
                let name = wat.name().map(|id| id.name().to_string());
                let wasm = wat.encode().map_err(err)?;
                let module = self.compile_and_load(&wasm)?;
                if let Some(name) = name {
                    self.definitions.insert(name, module);
                }
                Ok(())
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = module
                    .and_then(|m| self.definitions.get(m.name()).cloned())
                    .ok_or("unknown module definition")?;
                let inst = self.instantiate(&def).map_err(err)?;
                if let Some(name) = instance {
                    self.instances.insert(name.name().to_string(), inst);
                }
                self.current = Some(inst);
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module)?;
                self.linker
                    .instance(&mut self.store, name, &instance)
                    .map(|_| ())
                    .map_err(err)
            }
            WastDirective::Invoke(call) => self.invoke(&call)?.map(|_| ()).map_err(err),
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = self.execute(exec)?.map_err(err)?;
                if actual.len() != results.len() {
                    return Err(format!(
                        "expected {} results, got {}",
                        results.len(),
                        actual.len()
                    ));
                }
                for (a, e) in actual.iter().zip(&results) {
                    if !values::matches(a, e)? {
                        return Err(format!("result {a:?} does not match {e:?}"));
                    }
                }
                Ok(())
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec)? {
                Ok(v) => Err(format!("expected trap `{message}`, got {v:?}")),
                Err(e) => expect_trap(&e, message),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Ok(v) => Err(format!("expected exhaustion `{message}`, got {v:?}")),
                Err(e) => expect_trap(&e, message),
            },
            WastDirective::AssertInvalid {
                module, message, ..
            } => must_not_compile(module, "invalid", message, self.options.mode),
            WastDirective::AssertMalformed {
                module, message, ..
            } => must_not_compile(module, "malformed", message, self.options.mode),
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let wasm = module.encode().map_err(err)?;
                let module = self.compile_and_load(&wasm)?;
                match self.instantiate(&module) {
                    Ok(_) => Err(format!("module linked (expected `{message}`)")),
                    Err(e) if e.as_trap().is_none() && e.to_string().starts_with(message) => Ok(()),
                    Err(e) => Err(format!("expected link error `{message}`, got: {e}")),
                }
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => Ok(()),
            other => Err(format!("unsupported directive at {:?}", other.span())),
        }
    }
}

/// The error `e` is a trap whose message starts with `expected`, as the reference
/// interpreter's harness compares them (the one difference, with its reason, in
/// [`TRAP_MESSAGE_DIFFERENCES`]).
fn expect_trap(e: &Error, expected: &str) -> Outcome {
    let Some(trap) = e.as_trap() else {
        return Err(format!("expected trap `{expected}`, got error: {e}"));
    };
    let actual = trap.message();
    let accepted = TRAP_MESSAGE_DIFFERENCES
        .iter()
        .any(|(theirs, ours)| *theirs == expected && *ours == actual);
    if actual.starts_with(expected) || accepted {
        Ok(())
    } else {
        Err(format!("expected trap `{expected}`, got trap `{actual}`"))
    }
}

/// Expected trap messages the reference interpreter produces and Precast's traps cannot,
/// with the message Precast reports instead: the interpreter appends the table index to
/// "uninitialized element", which a trap raised by a fault does not know.
const TRAP_MESSAGE_DIFFERENCES: &[(&str, &str)] =
    &[("uninitialized element 2", "uninitialized element")];

/// An `assert_invalid` / `assert_malformed` module must fail to encode (malformed text), or
/// fail validation (a malformed binary may also fail as not being wasm at all: the compiler
/// then reads it as text); an "unsupported" refusal, or a feature the validator was not
/// asked to accept, does not count.
fn must_not_compile(
    mut module: QuoteWat<'_>,
    what: &str,
    message: &str,
    mode: crate::compile::Mode,
) -> Outcome {
    let Ok(wasm) = module.encode() else {
        return Ok(());
    };
    match crate::compile::compile_in(&wasm, mode) {
        Ok(_) => Err(format!("{what} module compiled (expected `{message}`)")),
        Err(e) if e.starts_with("invalid wasm:") && !e.contains("not enabled") => Ok(()),
        Err(e) if what == "malformed" && e.starts_with("cannot parse text format:") => Ok(()),
        Err(e) => Err(format!(
            "{what} module refused for another reason (expected `{message}`): {e}"
        )),
    }
}

/// Runs one `.wast` file.
pub fn run_file(path: &Path, options: &RunOptions) -> Result<FileResult, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // The testsuite uses bidirectional-text characters in names on purpose.
    let mut lexer = wast::lexer::Lexer::new(&text);
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).map_err(|e| format!("{}: {e}", path.display()))?;
    let wast: Wast<'_> = parser::parse(&buf).map_err(|mut e| {
        e.set_path(path);
        e.set_text(&text);
        e.to_string()
    })?;
    let engine = Engine::new(&options.mode.engine_config());
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    spectest::define(&mut linker, &mut store)?;
    let (artifact_dir, keep) = match &options.keep_artifacts {
        Some(d) => (d.clone(), true),
        None => (
            std::env::temp_dir().join(format!("precast-spec-{}", std::process::id())),
            false,
        ),
    };
    std::fs::create_dir_all(&artifact_dir).map_err(err)?;
    let file_stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut runner = Runner {
        engine,
        store,
        linker,
        instances: HashMap::new(),
        definitions: HashMap::new(),
        current: None,
        artifact_dir,
        keep,
        file_stem,
        counter: 0,
        options,
    };
    let mut result = FileResult::default();
    for d in wast.directives {
        let (line, col) = d.span().linecol_in(&text);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.directive(d)))
                .unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(format!("panic: {msg}"))
                });
        match outcome {
            Ok(()) => result.passed += 1,
            Err(e) => {
                result
                    .failures
                    .push(format!("{}:{}:{}: {e}", path.display(), line + 1, col + 1))
            }
        }
    }
    Ok(result)
}
