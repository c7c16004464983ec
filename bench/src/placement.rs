//! Code placements for `--placements N`: the same program with all of its code moved, to
//! tell a codegen difference from alignment luck. The module gets one more function, never
//! called, defined before all others: its machine code moves every later function in both
//! systems alike (by a multiple of their 32-byte function alignment, so loops land at other
//! offsets in their 64-byte lines), while each system's code is otherwise unchanged.

use anyhow::{Context, Result, bail};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{CodeSection, FunctionSection, TypeSection, ValType};

/// Re-encodes a module with the padding function: indices of defined functions move up by
/// one; the `name` section (which would name the wrong functions) is left out.
struct Pad {
    /// Multiplications in the padding function's body (its size).
    ops: u32,
    imported_funcs: u32,
    pad_type: Option<u32>,
}

impl Reencode for Pad {
    type Error = anyhow::Error;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<Self::Error>> {
        Ok(if func >= self.imported_funcs {
            func + 1
        } else {
            func
        })
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let mut count = 0;
        for group in section.clone() {
            count += group?.types().len() as u32;
        }
        reencode::utils::parse_type_section(self, types, section)?;
        self.pad_type = Some(count);
        types.ty().function([ValType::I32], [ValType::I32]);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        for import in section.clone().into_imports() {
            if let wasmparser::TypeRef::Func(_) = import?.ty {
                self.imported_funcs += 1;
            }
        }
        reencode::utils::parse_import_section(self, imports, section)
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let ty = self
            .pad_type
            .ok_or_else(|| reencode::Error::UserError(anyhow::anyhow!("no type section")))?;
        functions.function(ty);
        reencode::utils::parse_function_section(self, functions, section)
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let mut f = wasm_encoder::Function::new([]);
        f.instructions().local_get(0);
        for i in 0..self.ops {
            f.instructions().i32_const(0x0037_79b9 + i as i32).i32_mul();
        }
        f.instructions().end();
        code.function(&f);
        reencode::utils::parse_code_section(self, code, section)
    }

    fn parse_custom_section(
        &mut self,
        module: &mut wasm_encoder::Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        if section.name() == "name" {
            return Ok(());
        }
        reencode::utils::parse_custom_section(self, module, section)
    }
}

/// `wasm` with its code moved by placement `seed` (1, 2, ...: a padding function of
/// `8 * seed` multiplications, about 50 bytes of code each step on x86_64).
pub fn shifted(wasm: &[u8], seed: u32) -> Result<Vec<u8>> {
    if seed == 0 {
        bail!("placement 0 is the program as it is");
    }
    let mut pad = Pad {
        ops: 8 * seed,
        imported_funcs: 0,
        pad_type: None,
    };
    let mut module = wasm_encoder::Module::new();
    pad.parse_core_module(&mut module, wasmparser::Parser::new(0), wasm)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("cannot re-encode the module with a padding function")?;
    Ok(module.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An import, a table with a `ref.func`, direct and indirect calls, a start function and
    /// an export: every kind of function index the padding function moves.
    const MODULE: &str = r#"
        (module
          (type $t (func (param i32) (result i32)))
          (import "host" "add1" (func $add1 (param i32) (result i32)))
          (table 2 funcref)
          (elem (i32.const 0) func $double $add1)
          (global $g (mut i32) (i32.const 0))
          (global $r funcref (ref.func $double))
          (func $double (type $t) (i32.mul (local.get 0) (i32.const 2)))
          (func $init (global.set $g (i32.const 5)))
          (start $init)
          (func (export "f") (param i32) (result i32)
            (i32.add
              (i32.add (call $double (local.get 0)) (call $add1 (local.get 0)))
              (i32.add (call_indirect (type $t) (local.get 0) (i32.const 1)) (global.get $g)))))
    "#;

    fn run(wasm: &[u8], x: i32) -> i32 {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, wasm).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        let add1 = wasmtime::Func::wrap(&mut store, |x: i32| x + 1);
        let instance = wasmtime::Instance::new(&mut store, &module, &[add1.into()]).unwrap();
        let f = instance
            .get_typed_func::<i32, i32>(&mut store, "f")
            .unwrap();
        f.call(&mut store, x).unwrap()
    }

    #[test]
    fn a_moved_module_is_valid_and_computes_the_same() {
        let wasm = wat::parse_str(MODULE).unwrap();
        for seed in 1..=3 {
            let moved = shifted(&wasm, seed).unwrap();
            wasmparser::Validator::new().validate_all(&moved).unwrap();
            assert!(moved.len() > wasm.len());
            assert_eq!(run(&moved, 7), run(&wasm, 7));
            // The precast compiler takes it too.
            precast_compiler::compile(&moved, &precast_compiler::Config::default()).unwrap();
        }
        assert_eq!(run(&wasm, 7), 14 + 8 + 8 + 5);
        assert!(shifted(&wasm, 0).is_err());
    }
}
