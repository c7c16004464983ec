//! Compiles every function and trampoline with Cranelift, in parallel.

use crate::environ::FunctionInput;
use crate::translate::{self, ModuleEnv};
use crate::{CompileError, Config, trampolines};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExternalName};
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::isa::unwind::{UnwindInfo, systemv};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::FunctionBuilderContext;
use precast_format::ModuleInfo;
use precast_format::TrapCode;
use rayon::prelude::*;

/// A call from compiled code to a defined wasm function, to resolve when laying out `.text`.
pub struct CallReloc {
    /// Offset of the relocated field from the start of the function.
    pub offset: u32,
    /// Relocation kind.
    pub kind: Reloc,
    /// Target function index.
    pub target: u32,
    /// Addend.
    pub addend: i64,
}

/// Machine code for one function or trampoline.
pub struct CompiledFunc {
    /// Code bytes (with any constant pool).
    pub code: Vec<u8>,
    /// Required alignment of the start.
    pub alignment: u32,
    /// Calls to resolve.
    pub relocs: Vec<CallReloc>,
    /// Trapping instructions: offset from the function start and code.
    pub traps: Vec<(u32, TrapCode)>,
    /// The innermost loops small enough for their placement to matter
    /// ([`innermost_loops`]): start offset and length in bytes.
    pub loops: Vec<(u32, u32)>,
    /// `(code offset, wasm offset)` where the code of each wasm operator starts, sorted, the
    /// prologue at the function body's offset (the DWARF line table); empty for trampolines.
    pub lines: Vec<(u32, u32)>,
    /// How to unwind out of the code (`None` where the target has no System V unwind
    /// information).
    pub unwind: Option<systemv::UnwindInfo>,
}

/// All compiled code of a module.
pub struct CompiledModule {
    /// Defined functions, in index order.
    pub functions: Vec<CompiledFunc>,
    /// Entry trampolines, by module type index.
    pub entry_trampolines: Vec<CompiledFunc>,
    /// Exit trampolines, by module type index.
    pub exit_trampolines: Vec<CompiledFunc>,
}

enum Job<'a> {
    Func(FunctionInput<'a>),
    Entry(u32),
    Exit(u32),
}

impl Job<'_> {
    /// Bytes of wasm to compile: an estimate of the work.
    fn size(&self) -> usize {
        match self {
            Job::Func(input) => input.body.range().len(),
            Job::Entry(_) | Job::Exit(_) => 0,
        }
    }
}

/// Compiles the module's functions and trampolines.
pub fn compile_all(
    info: &ModuleInfo,
    functions: Vec<FunctionInput<'_>>,
    isa: &dyn TargetIsa,
    config: &Config,
) -> Result<CompiledModule, CompileError> {
    let env = ModuleEnv::new(info, isa, config.settings);
    let ntypes = info.types.len() as u32;
    let nfuncs = functions.len();
    let mut jobs: Vec<Job<'_>> = functions.into_iter().map(Job::Func).collect();
    jobs.extend((0..ntypes).map(Job::Entry));
    jobs.extend((0..ntypes).map(Job::Exit));

    let run = |(builder_ctx, ctx): &mut (FunctionBuilderContext, Context), job: Job<'_>| {
        // Wasm functions without signal-based traps get their traps rewritten into calls.
        let mut calls_for_traps = false;
        let mut body_start = None;
        let (func, what) = match job {
            Job::Func(input) => {
                body_start = Some(input.body.range().start as u32);
                let mut validator = input.validator.into_validator(Default::default());
                let f = translate::translate_function(
                    &env,
                    input.index,
                    &input.body,
                    &mut validator,
                    builder_ctx,
                )?;
                calls_for_traps = !config.settings.signals_based_traps;
                (f, format!("{}", input.index))
            }
            Job::Entry(ty) => (
                trampolines::entry(&env, ty, builder_ctx),
                format!("entry trampoline for type {ty}"),
            ),
            Job::Exit(ty) => (
                trampolines::exit(&env, ty, builder_ctx),
                format!("exit trampoline for type {ty}"),
            ),
        };
        let rewrite = calls_for_traps.then_some(&env);
        let mut f = compile_one(
            ctx,
            isa,
            func,
            &what,
            rewrite,
            config.settings.signals_based_traps,
        )?;
        // The prologue belongs to the function's start in the module (where DWARF puts the
        // function's opening line), its first operator to the next row.
        if let Some(start) = body_start
            && f.lines.first().is_some_and(|&(at, _)| at > 0)
        {
            f.lines.insert(0, (0, start));
        }
        Ok::<_, CompileError>(f)
    };

    let compiled: Vec<CompiledFunc> = if config.parallel {
        // Largest bodies first, one job per task: the cores finish together instead of one
        // compiling a big function alone at the end.
        let mut ordered: Vec<(usize, Job<'_>)> = jobs.into_iter().enumerate().collect();
        ordered.sort_by_key(|(_, job)| std::cmp::Reverse(job.size()));
        let mut done = ordered
            .into_par_iter()
            .with_max_len(1)
            .map_init(
                || (FunctionBuilderContext::new(), Context::new()),
                |state, (i, job)| run(state, job).map(|f| (i, f)),
            )
            .collect::<Result<Vec<_>, _>>()?;
        done.sort_unstable_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, f)| f).collect()
    } else {
        let mut state = (FunctionBuilderContext::new(), Context::new());
        jobs.into_iter()
            .map(|j| run(&mut state, j))
            .collect::<Result<_, _>>()?
    };
    let mut it = compiled.into_iter();
    let functions = it.by_ref().take(nfuncs).collect();
    let entry_trampolines = it.by_ref().take(ntypes as usize).collect();
    let exit_trampolines = it.collect();
    Ok(CompiledModule {
        functions,
        entry_trampolines,
        exit_trampolines,
    })
}

/// The Cranelift IR of each defined function, as the translator produces it or, with
/// `optimized`, after Cranelift's mid-end (what instruction selection then lowers), in
/// index order with the function index.
pub fn clif(
    info: &ModuleInfo,
    functions: Vec<FunctionInput<'_>>,
    isa: &dyn TargetIsa,
    config: &Config,
    optimized: bool,
) -> Result<Vec<(u32, String)>, CompileError> {
    let env = ModuleEnv::new(info, isa, config.settings);
    let mut builder_ctx = FunctionBuilderContext::new();
    let mut ctx = Context::new();
    functions
        .into_iter()
        .map(|input| {
            let index = input.index;
            let mut validator = input.validator.into_validator(Default::default());
            let func = translate::translate_function(
                &env,
                index,
                &input.body,
                &mut validator,
                &mut builder_ctx,
            )?;
            ctx.clear();
            ctx.func = func;
            if optimized {
                ctx.optimize(isa, &mut ControlPlane::default())
                    .map_err(|e| CompileError::Codegen {
                        func: index.to_string(),
                        message: format!("{e:?}"),
                    })?;
            }
            // Without the wasm offsets of the line table: they would make every snapshot
            // change with any edit of its module.
            ctx.func.srclocs.clear();
            Ok((index, ctx.func.display().to_string()))
        })
        .collect()
}

fn compile_one(
    ctx: &mut Context,
    isa: &dyn TargetIsa,
    func: ir::Function,
    what: &str,
    rewrite_traps: Option<&ModuleEnv<'_>>,
    signals_based_traps: bool,
) -> Result<CompiledFunc, CompileError> {
    ctx.clear();
    ctx.func = func;
    let err = |message: String| CompileError::Codegen {
        func: what.to_string(),
        message,
    };
    if let Some(env) = rewrite_traps {
        // Optimize first (merging redundant trap checks), then turn the remaining traps
        // into calls; `compile` optimizes the result again.
        ctx.optimize(isa, &mut ControlPlane::default())
            .map_err(|e| err(format!("{e:?}")))?;
        translate::raise_traps_by_calls(&mut ctx.func, env).map_err(err)?;
        // The control flow changed: the verifier checks the analyses against it.
        ctx.compute_cfg();
        ctx.compute_domtree();
    }
    let compiled = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| err(format!("{:?}", e.inner)))?;
    let code = compiled.code_buffer().to_vec();
    let alignment = compiled.buffer.alignment;
    let loops = innermost_loops(&compiled.bb_starts, &compiled.bb_edges, code.len() as u32);
    let mut traps = Vec::new();
    for t in compiled.buffer.traps() {
        let code = translate::from_ir_trap(t.code)
            .ok_or_else(|| err(format!("unknown trap code {}", t.code)))?;
        traps.push((t.offset, code));
    }
    let unwind = match compiled
        .create_unwind_info(isa)
        .map_err(|e| err(format!("unwind information: {e:?}")))?
    {
        Some(UnwindInfo::SystemV(info)) => Some(info),
        _ => None,
    };
    let lines = compiled
        .buffer
        .get_srclocs_sorted()
        .iter()
        .filter(|l| !l.loc.is_default() && l.start < l.end)
        .map(|l| (l.start, l.loc.bits()))
        .collect();
    let raw_relocs: Vec<_> = compiled.buffer.relocs().to_vec();
    let frame_to_fp = compiled.buffer.frame_layout().map(|l| l.frame_to_fp_offset);
    if !signals_based_traps {
        // The explicit stack checks assume every frame fits the bound (see
        // `abi::store::STACK_FRAME_BOUND`).
        let frame_to_fp =
            frame_to_fp.ok_or_else(|| err("Cranelift reported no frame layout".into()))?;
        let bound = precast_format::abi::store::STACK_FRAME_BOUND;
        let size = translate::frame_size_bound(&ctx.func, frame_to_fp, isa.pointer_bytes().into());
        if size > u64::from(bound) {
            return Err(err(format!(
                "its stack frame of up to {size} bytes exceeds the {bound}-byte bound of \
                 explicit stack checks (code compiled without signal-based traps)"
            )));
        }
    }
    let mut relocs = Vec::new();
    for r in raw_relocs {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                let n = &ctx.func.params.user_named_funcs()[*name];
                if n.namespace != 0 {
                    return Err(err(format!(
                        "relocation to unknown namespace {}",
                        n.namespace
                    )));
                }
                n.index
            }
            other => {
                return Err(err(format!(
                    "unsupported relocation {:?} to {other:?}",
                    r.kind
                )));
            }
        };
        relocs.push(CallReloc {
            offset: r.offset,
            kind: r.kind,
            target,
            addend: r.addend,
        });
    }
    Ok(CompiledFunc {
        code,
        alignment,
        relocs,
        traps,
        loops,
        lines,
        unwind,
    })
}

/// Loops longer than this many bytes are left to chance: their iterations cross several
/// fetch blocks wherever they start.
pub const PLACED_LOOP_MAX: u32 = 192;

/// The innermost loops of a function's machine code, from Cranelift's block starts and
/// edges (`machine_code_cfg_info`): a branch from a block back to one at or before it closes
/// a loop spanning the blocks from its target to the end of the branching block. A loop
/// holding another is not innermost; loops over [`PLACED_LOOP_MAX`] bytes are left out.
pub fn innermost_loops(starts: &[u32], edges: &[(u32, u32)], code_len: u32) -> Vec<(u32, u32)> {
    let end_of = |block: u32| {
        starts
            .iter()
            .copied()
            .filter(|&s| s > block)
            .min()
            .unwrap_or(code_len)
    };
    let mut loops: Vec<(u32, u32)> = edges
        .iter()
        .filter(|&&(from, to)| to <= from)
        .map(|&(from, to)| (to, end_of(from)))
        .collect();
    loops.sort_unstable();
    loops.dedup();
    let holds_another = |&(s, e): &(u32, u32)| {
        loops
            .iter()
            .any(|&(s2, e2)| (s2, e2) != (s, e) && s <= s2 && e2 <= e)
    };
    loops
        .iter()
        .filter(|l| !holds_another(l))
        .map(|&(s, e)| (s, e - s))
        .filter(|&(_, len)| len <= PLACED_LOOP_MAX)
        .collect()
}
