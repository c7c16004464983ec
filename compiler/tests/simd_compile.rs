//! Compiles every module of the SIMD and relaxed-SIMD spec tests (with the Cranelift
//! verifier on): each valid module must compile, each module of an `assert_invalid` or
//! `assert_malformed` must be rejected. Running the code is the spec runner's job.
//!
//! `tests/relaxed_precast_choices.wast` (Precast's fixed relaxed-SIMD results) is compiled
//! too. The testsuite is found at `$PRECAST_SHARED/testsuite`, else `../shared/testsuite` beside
//! the repository; the test is skipped (with a message) if it is missing.

use std::path::{Path, PathBuf};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute};

fn testsuite() -> Option<PathBuf> {
    let shared = match std::env::var("PRECAST_SHARED") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    let dir = shared.join("testsuite");
    dir.is_dir().then_some(dir)
}

fn is_simd_wast(name: &str) -> bool {
    name.ends_with(".wast") && (name.starts_with("simd_") || name.contains("relaxed_"))
}

#[derive(Default)]
struct Tally {
    compiled: usize,
    rejected: usize,
    failures: Vec<String>,
}

impl Tally {
    /// A module that must compile.
    fn valid(
        &mut self,
        file: &str,
        line: usize,
        module: &mut QuoteWat<'_>,
        config: &precast_compiler::Config,
    ) {
        let wasm = match module.encode() {
            Ok(w) => w,
            Err(e) => {
                self.failures
                    .push(format!("{file}:{line}: cannot encode: {e}"));
                return;
            }
        };
        match precast_compiler::compile(&wasm, config) {
            Ok(_) => self.compiled += 1,
            Err(e) => self.failures.push(format!("{file}:{line}: {e}")),
        }
    }

    /// A module that must be rejected (when it can be encoded at all).
    fn invalid(
        &mut self,
        file: &str,
        line: usize,
        module: &mut QuoteWat<'_>,
        config: &precast_compiler::Config,
    ) {
        let Ok(wasm) = module.encode() else {
            self.rejected += 1;
            return;
        };
        match precast_compiler::compile(&wasm, config) {
            Ok(_) => self
                .failures
                .push(format!("{file}:{line}: invalid module compiled")),
            Err(_) => self.rejected += 1,
        }
    }
}

#[test]
fn simd_spec_modules_compile() {
    let Some(dir) = testsuite() else {
        eprintln!("skipped: spec testsuite not found (set PRECAST_SHARED)");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read testsuite")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_simd_wast)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no simd_*.wast in {}", dir.display());
    // Our own checks of the relaxed-SIMD choices (run by the spec runner, see the file).
    files.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/relaxed_precast_choices.wast"));

    for cpu in [
        precast_compiler::CpuTarget::Native,
        precast_compiler::CpuTarget::Baseline,
    ] {
        for opt_level in ["speed", "none"] {
            let config = precast_compiler::Config {
                verify: true,
                cpu: cpu.clone(),
                opt_level: opt_level.into(),
                ..Default::default()
            };
            eprint!("{cpu:?}, opt_level {opt_level}: ");
            run(&files, &config);
        }
    }
}

fn run(files: &[PathBuf], config: &precast_compiler::Config) {
    let mut tally = Tally::default();
    for path in files {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let text = std::fs::read_to_string(path).expect("read wast");
        let buf = match ParseBuffer::new(&text) {
            Ok(b) => b,
            Err(e) => {
                tally.failures.push(format!("{file}: lex: {e}"));
                continue;
            }
        };
        let wast: Wast<'_> = match parser::parse(&buf) {
            Ok(w) => w,
            Err(e) => {
                tally.failures.push(format!("{file}: parse: {e}"));
                continue;
            }
        };
        for directive in wast.directives {
            let (line, _) = directive.span().linecol_in(&text);
            let line = line + 1;
            match directive {
                WastDirective::Module(mut m) | WastDirective::ModuleDefinition(mut m) => {
                    tally.valid(&file, line, &mut m, config)
                }
                WastDirective::AssertTrap {
                    exec: WastExecute::Wat(w),
                    ..
                }
                | WastDirective::AssertReturn {
                    exec: WastExecute::Wat(w),
                    ..
                }
                | WastDirective::AssertUnlinkable { module: w, .. } => {
                    tally.valid(&file, line, &mut QuoteWat::Wat(w), config)
                }
                WastDirective::AssertInvalid { mut module, .. }
                | WastDirective::AssertMalformed { mut module, .. } => {
                    tally.invalid(&file, line, &mut module, config)
                }
                _ => {}
            }
        }
    }
    eprintln!(
        "{} files: {} modules compiled, {} invalid modules rejected, {} failures",
        files.len(),
        tally.compiled,
        tally.rejected,
        tally.failures.len()
    );
    for f in &tally.failures {
        eprintln!("  {f}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} failures",
        tally.failures.len()
    );
}
