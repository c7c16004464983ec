//! `wasm-smith` configurations: the proposals both Precast and Wasmtime 48 compile, with small
//! limits so that a module compiles and runs in milliseconds.

use arbitrary::Unstructured;

/// The module shape of the differential and artifact targets: MVP, multi-value, bulk memory,
/// reference types, sign extension, saturating conversions, SIMD (not relaxed: its results
/// are implementation-defined), multi-memory, memory64, tail calls, extended constants, wide
/// arithmetic, custom page sizes. No GC, exceptions or threads; no imports; everything
/// exported; NaNs canonicalized so float bits compare; every memory and table has a small
/// maximum so growth fails the same way in both systems.
pub fn differential_config() -> wasm_smith::Config {
    wasm_smith::Config {
        allow_start_export: true,
        bulk_memory_enabled: true,
        canonicalize_nans: true,
        exceptions_enabled: false,
        export_everything: true,
        gc_enabled: false,
        custom_page_sizes_enabled: true,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 16,
        max_exports: 16,
        max_funcs: 8,
        max_globals: 8,
        max_imports: 0,
        max_instructions: 80,
        max_memories: 2,
        max_memory32_bytes: 2 * 65536,
        max_memory64_bytes: 2 * 65536,
        max_nesting_depth: 6,
        max_table_elements: 64,
        max_tables: 2,
        max_types: 10,
        max_values: 8,
        memory64_enabled: true,
        memory_max_size_required: true,
        table_max_size_required: true,
        multi_value_enabled: true,
        reference_types_enabled: true,
        relaxed_simd_enabled: false,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        simd_enabled: true,
        tail_call_enabled: true,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        wide_arithmetic_enabled: true,
        extended_const_enabled: true,
        ..Default::default()
    }
}

/// A module for the differential target, instrumented by `ensure_termination` (every loop
/// head and function entry decrements a fuel global and traps with `unreachable` at zero),
/// so both systems run the same bounded code.
pub fn differential_module(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut module = wasm_smith::Module::new(differential_config(), u)?;
    module
        .ensure_termination(2_000)
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(module.to_bytes())
}

/// A wider shape for the compile target, steered by the input: also GC, exceptions,
/// threads, relaxed SIMD and imports (the compiler must refuse what it does not compile
/// with an error, never a panic), optionally with invalid function bodies.
pub fn compile_module(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let flags: u16 = u.arbitrary()?;
    let bit = |n: u32| flags & (1 << n) != 0;
    let mut config = differential_config();
    config.gc_enabled = bit(0);
    config.exceptions_enabled = bit(1);
    config.threads_enabled = bit(2);
    config.relaxed_simd_enabled = bit(3);
    config.allow_invalid_funcs = bit(4);
    config.max_imports = if bit(5) { 8 } else { 0 };
    config.export_everything = !bit(6);
    config.canonicalize_nans = bit(7);
    config.memory_max_size_required = bit(8);
    config.table_max_size_required = bit(8);
    if bit(9) {
        config.max_funcs = 30;
        config.max_instructions = 300;
        config.max_nesting_depth = 12;
    }
    config.max_memory32_bytes = u32::MAX as u64 + 1;
    config.max_memory64_bytes = if bit(10) {
        u64::MAX as u128 + 1
    } else {
        1 << 32
    };
    config.max_memories = 3;
    config.max_tables = 3;
    config.max_table_elements = if bit(11) { 1_000_000 } else { 100 };
    let module = wasm_smith::Module::new(config, u)?;
    Ok(module.to_bytes())
}
