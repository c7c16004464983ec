//! Compile: arbitrary bytes and arbitrary `wasm-smith` modules into
//! `precast_compiler::compile`. It must return, never panic; a module that `wasmparser`
//! validates with the features Precast compiles must compile.

use arbitrary::Unstructured;
use wasmparser::{Validator, WasmFeatures};

/// The proposals Precast compiles (README, Conformance): everything its validator accepts
/// except GC proper and exception handling (refused as unsupported).
pub fn supported_features() -> WasmFeatures {
    precast_compiler::validated_features()
        - WasmFeatures::GC
        - WasmFeatures::EXCEPTIONS
        - WasmFeatures::LEGACY_EXCEPTIONS
}

/// Runs one input. Panics on a compiler panic or on a valid module refused.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let wasm = match mode % 4 {
        // Raw bytes, with the wasm header in front half of the time so that the parser
        // gets past it.
        0 => rest.to_vec(),
        1 => {
            let mut w = b"\0asm\x01\0\0\0".to_vec();
            w.extend_from_slice(rest);
            w
        }
        _ => {
            let mut u = Unstructured::new(rest);
            match crate::smith::compile_module(&mut u) {
                Ok(w) => w,
                Err(_) => return,
            }
        }
    };
    check(&wasm, mode & 4 != 0);
}

/// Compiles `wasm` (with the Cranelift verifier when `verify`) and checks the result
/// against validation.
pub fn check(wasm: &[u8], verify: bool) {
    let mut config = crate::compiler_config();
    config.verify = verify;
    let result = precast_compiler::compile(wasm, &config);
    match &result {
        Ok(_) => {
            // The compiler's own validator also knows GC and exceptions (it refuses their code
            // later).
            let all = precast_compiler::validated_features();
            if let Err(e) = Validator::new_with_features(all).validate_all(wasm) {
                panic!("compiled a module wasmparser refuses ({e})");
            }
        }
        Err(e) => {
            if Validator::new_with_features(supported_features())
                .validate_all(wasm)
                .is_ok()
            {
                panic!("a valid module of the supported features was refused: {e}");
            }
        }
    }
    if let Ok(artifact) = result {
        // What the compiler writes, the verified loader accepts.
        if let Err(e) = precast_loader::Module::from_bytes(crate::precast_engine(), &artifact) {
            panic!("the loader refuses a fresh artifact: {e}");
        }
    }
}
