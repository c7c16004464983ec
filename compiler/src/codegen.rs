//! Compiles every function and trampoline with Cranelift, in parallel.

use crate::environ::FunctionInput;
use crate::translate::{self, ModuleEnv};
use crate::{CompileError, Config, inline, trampolines};
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
    /// A wasm function's body: its offset and length in the module (`(0, 0)` for
    /// trampolines).
    pub body: (u32, u32),
    /// The calls inlined into the function ([`inline::Inlined`]), for the DWARF and the
    /// backtraces' inline table.
    pub inlined: Vec<inline::Inlined>,
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

enum Job {
    Func {
        /// Wasm function index.
        index: u32,
        /// Its translation.
        func: Box<ir::Function>,
        /// The body's offset in the module.
        start: u32,
        /// Bytes of wasm: an estimate of the work.
        size: usize,
    },
    Entry(u32),
    Exit(u32),
}

impl Job {
    /// An estimate of the work.
    fn size(&self) -> usize {
        match self {
            Job::Func { size, .. } => *size,
            Job::Entry(_) | Job::Exit(_) => 0,
        }
    }
}

/// A translated defined function: its IR, its body's offset and size in the module.
struct Translated {
    index: u32,
    func: ir::Function,
    start: u32,
    size: usize,
}

/// Translates (and validates) every defined function, in index order.
fn translate_all(
    env: &ModuleEnv<'_>,
    functions: Vec<FunctionInput<'_>>,
    parallel: bool,
) -> Result<Vec<Translated>, CompileError> {
    let one = |builder_ctx: &mut FunctionBuilderContext, input: FunctionInput<'_>| {
        let range = input.body.range();
        let mut validator = input.validator.into_validator(Default::default());
        let func = translate::translate_function(
            env,
            input.index,
            &input.body,
            &mut validator,
            builder_ctx,
        )?;
        Ok::<_, CompileError>(Translated {
            index: input.index,
            func,
            start: range.start as u32,
            size: range.len(),
        })
    };
    if parallel {
        // Largest bodies first, one per task (see `compile_all`).
        let mut ordered: Vec<FunctionInput<'_>> = functions;
        ordered.sort_by_key(|f| std::cmp::Reverse(f.body.range().len()));
        let mut done = ordered
            .into_par_iter()
            .with_max_len(1)
            .map_init(FunctionBuilderContext::new, |b, input| one(b, input))
            .collect::<Result<Vec<_>, _>>()?;
        done.sort_unstable_by_key(|t| t.index);
        Ok(done)
    } else {
        let mut b = FunctionBuilderContext::new();
        functions
            .into_iter()
            .map(|input| one(&mut b, input))
            .collect()
    }
}

/// The inlining candidates of the translated functions, if `config` inlines.
fn candidates(
    info: &ModuleInfo,
    funcs: &[Translated],
    config: &Config,
) -> Result<Option<inline::Candidates>, CompileError> {
    if !config.inlining || config.inline_threshold == 0 {
        return Ok(None);
    }
    let irs: Vec<&ir::Function> = funcs.iter().map(|t| &t.func).collect();
    inline::Candidates::prepare(
        &irs,
        info.num_imported_funcs,
        config.inline_threshold as usize,
        config.parallel,
    )
    .map(Some)
}

/// Compiles the module's functions and trampolines: every function translated first, then
/// each compiled with the calls [`inline`] chooses inlined.
pub fn compile_all(
    info: &ModuleInfo,
    functions: Vec<FunctionInput<'_>>,
    isa: &dyn TargetIsa,
    config: &Config,
) -> Result<CompiledModule, CompileError> {
    let env = ModuleEnv::new(info, isa, config.settings);
    let ntypes = info.types.len() as u32;
    let nfuncs = functions.len();
    let translated = translate_all(&env, functions, config.parallel)?;
    let candidates = candidates(info, &translated, config)?;
    // The defined functions' bodies, in module order: which function a wasm offset is in.
    let bodies: Vec<(u32, u32)> = translated
        .iter()
        .map(|t| (t.start, t.size as u32))
        .collect();
    let body_of = |loc: ir::SourceLoc| {
        let at = loc.bits();
        match bodies.partition_point(|b| b.0 <= at).checked_sub(1) {
            Some(i) if !loc.is_default() && at - bodies[i].0 < bodies[i].1 => i as u32,
            _ => u32::MAX,
        }
    };
    let mut jobs: Vec<Job> = translated
        .into_iter()
        .map(|t| Job::Func {
            index: t.index,
            func: Box::new(t.func),
            start: t.start,
            size: t.size,
        })
        .collect();
    jobs.extend((0..ntypes).map(Job::Entry));
    jobs.extend((0..ntypes).map(Job::Exit));
    let signals = config.settings.signals_based_traps;

    let run = |(builder_ctx, ctx): &mut (FunctionBuilderContext, Context), job: Job| {
        let mut inlined_any = true;
        let (func, what, body, plain) = match job {
            Job::Func {
                index,
                func,
                start,
                size,
            } => {
                let (func, plain, inlined) = match &candidates {
                    Some(c) => {
                        // Without signal-based traps every frame must fit the bound of the
                        // explicit stack checks: a function whose inlined callees take it
                        // over is compiled as translated.
                        let plain = (!signals).then(|| (*func).clone());
                        let (func, inlined) = c.function(index, *func)?;
                        (func, plain, inlined)
                    }
                    None => (*func, None, Vec::new()),
                };
                (
                    func,
                    format!("{index}"),
                    Some((start, size as u32, inlined)),
                    plain,
                )
            }
            Job::Entry(ty) => (
                trampolines::entry(&env, ty, builder_ctx),
                format!("entry trampoline for type {ty}"),
                None,
                None,
            ),
            Job::Exit(ty) => (
                trampolines::exit(&env, ty, builder_ctx),
                format!("exit trampoline for type {ty}"),
                None,
                None,
            ),
        };
        // Wasm functions without signal-based traps get their traps rewritten into calls.
        let rewrite = (body.is_some() && !signals).then_some((&env, &body_of as &dyn Fn(_) -> _));
        let mut f = match compile_one(ctx, isa, func, &what, rewrite, signals) {
            Err(Failure::FrameTooLarge(_)) if plain.is_some() => {
                inlined_any = false;
                compile_one(ctx, isa, plain.unwrap(), &what, rewrite, signals)
            }
            other => other,
        }
        .map_err(Failure::into_error)?;
        if let Some((start, size, inlined)) = body {
            // The prologue belongs to the function's start in the module (where DWARF puts
            // the function's opening line), its first operator to the next row.
            if f.lines.first().is_some_and(|&(at, _)| at > 0) {
                f.lines.insert(0, (0, start));
            }
            f.body = (start, size);
            if inlined_any {
                f.inlined = inlined;
            }
        }
        Ok::<_, CompileError>(f)
    };

    let compiled: Vec<CompiledFunc> = if config.parallel {
        // Largest bodies first, one job per task: the cores finish together instead of one
        // compiling a big function alone at the end.
        let mut ordered: Vec<(usize, Job)> = jobs.into_iter().enumerate().collect();
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

/// The Cranelift IR of each defined function, as the translator produces it (with the calls
/// [`inline`] chooses inlined) or, with `optimized`, after Cranelift's mid-end (what
/// instruction selection then lowers), in index order with the function index.
pub fn clif(
    info: &ModuleInfo,
    functions: Vec<FunctionInput<'_>>,
    isa: &dyn TargetIsa,
    config: &Config,
    optimized: bool,
) -> Result<Vec<(u32, String)>, CompileError> {
    let env = ModuleEnv::new(info, isa, config.settings);
    let translated = translate_all(&env, functions, false)?;
    let candidates = candidates(info, &translated, config)?;
    let mut ctx = Context::new();
    translated
        .into_iter()
        .map(|t| {
            let index = t.index;
            let func = match &candidates {
                Some(c) => c.function(index, t.func)?.0,
                None => t.func,
            };
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

/// Why [`compile_one`] failed.
enum Failure {
    /// Without signal-based traps: the frame exceeds the bound of explicit stack checks.
    FrameTooLarge(CompileError),
    Other(CompileError),
}

impl Failure {
    fn into_error(self) -> CompileError {
        match self {
            Failure::FrameTooLarge(e) | Failure::Other(e) => e,
        }
    }
}

impl From<CompileError> for Failure {
    fn from(e: CompileError) -> Failure {
        Failure::Other(e)
    }
}

fn compile_one(
    ctx: &mut Context,
    isa: &dyn TargetIsa,
    func: ir::Function,
    what: &str,
    rewrite_traps: Option<(&ModuleEnv<'_>, &dyn Fn(ir::SourceLoc) -> u32)>,
    signals_based_traps: bool,
) -> Result<CompiledFunc, Failure> {
    ctx.clear();
    ctx.func = func;
    let err = |message: String| CompileError::Codegen {
        func: what.to_string(),
        message,
    };
    if let Some((env, group)) = rewrite_traps {
        // Optimize first (merging redundant trap checks), then turn the remaining traps
        // into calls; `compile` optimizes the result again.
        ctx.optimize(isa, &mut ControlPlane::default())
            .map_err(|e| err(format!("{e:?}")))?;
        translate::raise_traps_by_calls(&mut ctx.func, env, group).map_err(err)?;
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
            return Err(Failure::FrameTooLarge(err(format!(
                "its stack frame of up to {size} bytes exceeds the {bound}-byte bound of \
                 explicit stack checks (code compiled without signal-based traps)"
            ))));
        }
    }
    let mut relocs = Vec::new();
    for r in raw_relocs {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                let n = &ctx.func.params.user_named_funcs()[*name];
                if n.namespace != 0 {
                    return Err(
                        err(format!("relocation to unknown namespace {}", n.namespace)).into(),
                    );
                }
                n.index
            }
            other => {
                return Err(
                    err(format!("unsupported relocation {:?} to {other:?}", r.kind)).into(),
                );
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
        body: (0, 0),
        inlined: Vec::new(),
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
