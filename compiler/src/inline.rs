//! Intra-module inlining with Cranelift's inliner ([`cranelift_codegen::inline`]).
//!
//! Every defined function is translated first. A function is a *candidate* (may be inlined
//! into its callers) when its IR, with its own calls to candidates already inlined, has at
//! most [`Config::inline_threshold`](crate::Config::inline_threshold) instructions. The
//! candidates are prepared bottom-up: the strongly connected components of the call graph
//! between them (Tarjan), callees before callers, a level of components at a time in
//! parallel; a callee in the caller's own component (recursion, direct or mutual) is never
//! inlined into it. Every function is then compiled with its direct calls (`call`,
//! `return_call`) of candidates inlined, its own IR cloned from the translation.
//!
//! What each caller takes: its call sites of candidates outside cold blocks, smallest callee
//! first, while the instructions added stay within its growth budget
//! ([`growth_budget`]: the caller's own size, at least [`MIN_GROWTH`] and at most
//! [`MAX_GROWTH`] instructions): a function at most doubles (a small one may grow by
//! `MIN_GROWTH`, a large one by `MAX_GROWTH` at most), which bounds the module's growth by the
//! sum of those budgets. The plan is made before inlining, from the caller alone: the result
//! does not depend on the order in which threads compile.
//!
//! The inlined IR is the translator's (before Cranelift's mid-end), so it carries every check
//! the call would have run: trap instructions with their codes (rewritten into calls with the
//! caller's after the mid-end when compiling without signal-based traps), the callee's
//! explicit stack check, its fuel accounting (the call saves the counter to the store, the
//! callee's entry reloads and checks it, its return saves it again and the caller reloads:
//! the same fuel as the call), its epoch checks. Two things Cranelift's inliner does not do
//! are done here: the inlined instructions get the callee's source locations (the wasm
//! offsets of the line table; Cranelift leaves them unset), and fault-based epoch checks are
//! renumbered so that each of the caller's loads from the probe page has its own offset
//! again (two loads of one address could be merged, dropping a loop's check).

use crate::CompileError;
use cranelift_codegen::Context;
use cranelift_codegen::inline::{Inline, InlineCommand};
use cranelift_codegen::ir::{self, ExternalName, Opcode};
use cranelift_codegen::traversals::Dfs;
use precast_format::TrapCode;
use rayon::prelude::*;
use std::borrow::Cow;

/// Growth budget of a caller, at least.
pub const MIN_GROWTH: usize = 200;
/// Growth budget of a caller, at most.
pub const MAX_GROWTH: usize = 4000;

/// The instructions inlining may add to a function of `size` instructions.
pub fn growth_budget(size: usize) -> usize {
    size.clamp(MIN_GROWTH, MAX_GROWTH)
}

/// The instructions in `func`'s layout.
pub fn size(func: &ir::Function) -> usize {
    func.layout
        .blocks()
        .map(|b| func.layout.block_insts(b).count())
        .sum()
}

/// The defined functions `func` calls directly (`call`, `return_call`), by defined index.
fn direct_callees(func: &ir::Function, num_imported: u32) -> Vec<u32> {
    let mut out: Vec<u32> = func
        .dfg
        .ext_funcs
        .values()
        .filter_map(|f| callee_index(func, &f.name))
        .filter_map(|i| i.checked_sub(num_imported))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The wasm function index an external name refers to (namespace 0), if any.
fn callee_index(func: &ir::Function, name: &ExternalName) -> Option<u32> {
    match name {
        ExternalName::User(r) => {
            let n = &func.params.user_named_funcs()[*r];
            (n.namespace == 0).then_some(n.index)
        }
        _ => None,
    }
}

/// Fault-based epoch checks: byte loads trapping with `Interrupt`.
fn is_probe(func: &ir::Function, inst: ir::Inst) -> bool {
    match func.dfg.insts[inst] {
        ir::InstructionData::Load {
            opcode: Opcode::Load,
            flags,
            ..
        } => {
            func.dfg.mem_flags[flags].trap_code()
                == Some(crate::translate::trap(TrapCode::Interrupt))
                && func.dfg.ctrl_typevar(inst) == ir::types::I8
        }
        _ => false,
    }
}

fn probes(func: &ir::Function) -> u32 {
    func.layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b))
        .filter(|&i| is_probe(func, i))
        .count() as u32
}

/// Gives each probe load of `func` its own offset, in layout order.
fn renumber_probes(func: &mut ir::Function) {
    let mut next = 0i32;
    let blocks: Vec<ir::Block> = func.layout.blocks().collect();
    for b in blocks {
        let insts: Vec<ir::Inst> = func.layout.block_insts(b).collect();
        for inst in insts {
            if is_probe(func, inst)
                && let ir::InstructionData::Load { offset, .. } = &mut func.dfg.insts[inst]
            {
                *offset = next.into();
                next += 1;
            }
        }
    }
}

/// What the module's functions may inline.
pub struct Candidates {
    /// The first defined function's index.
    num_imported: u32,
    /// By defined index: the candidate's IR with its own callees inlined, if a candidate.
    inlined: Vec<Option<ir::Function>>,
    /// By defined index: the instructions of `inlined`.
    sizes: Vec<usize>,
    /// By defined index: the probe loads of `inlined`.
    probes: Vec<u32>,
    /// By defined index: the call-graph component of a candidate (`u32::MAX` for others).
    scc: Vec<u32>,
    /// By defined index: what was inlined into the candidate ([`Inlined`]).
    calls: Vec<Vec<Inlined>>,
}

impl Candidates {
    /// Prepares the candidates among `funcs` (the translated defined functions, in index
    /// order), bottom-up.
    pub fn prepare(
        funcs: &[&ir::Function],
        num_imported: u32,
        threshold: usize,
        parallel: bool,
    ) -> Result<Candidates, CompileError> {
        let n = funcs.len();
        let raw_sizes: Vec<usize> = funcs.iter().map(|f| size(f)).collect();
        let small: Vec<bool> = raw_sizes.iter().map(|&s| s <= threshold).collect();
        // Edges between small functions only: what a candidate can inline.
        let edges: Vec<Vec<u32>> = funcs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if small[i] {
                    direct_callees(f, num_imported)
                        .into_iter()
                        .filter(|&c| (c as usize) < n && small[c as usize])
                        .collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let sccs = tarjan(&edges, &small);
        let mut scc = vec![u32::MAX; n];
        for (id, members) in sccs.iter().enumerate() {
            for &m in members {
                scc[m as usize] = id as u32;
            }
        }
        // Level of a component: 1 + the highest level among the components it calls (Tarjan
        // lists callees' components first).
        let mut level = vec![0u32; sccs.len()];
        for (id, members) in sccs.iter().enumerate() {
            let mut l = 0;
            for &m in members {
                for &c in &edges[m as usize] {
                    let cs = scc[c as usize] as usize;
                    if cs != id {
                        l = l.max(level[cs] + 1);
                    }
                }
            }
            level[id] = l;
        }
        let mut c = Candidates {
            num_imported,
            inlined: (0..n).map(|_| None).collect(),
            sizes: raw_sizes,
            probes: vec![0; n],
            scc,
            calls: vec![Vec::new(); n],
        };
        let max_level = level.iter().copied().max().unwrap_or(0);
        let mut by_level: Vec<Vec<u32>> = vec![Vec::new(); max_level as usize + 1];
        for (id, members) in sccs.iter().enumerate() {
            by_level[level[id] as usize].extend(members.iter().copied());
        }
        for members in by_level {
            let prepare = |&i: &u32| {
                let mut f = ir::Function::clone(funcs[i as usize]);
                c.inline_into(i, &mut f).map(|calls| (i, f, calls))
            };
            let done: Vec<(u32, ir::Function, Vec<Inlined>)> = if parallel {
                members.par_iter().map(prepare).collect::<Result<_, _>>()?
            } else {
                members.iter().map(prepare).collect::<Result<_, _>>()?
            };
            for (i, f, calls) in done {
                let i = i as usize;
                c.calls[i] = calls;
                c.sizes[i] = size(&f);
                c.probes[i] = probes(&f);
                c.inlined[i] = Some(f);
            }
        }
        // Candidates whose own inlining took them over the threshold stay out of line.
        for i in 0..n {
            if c.sizes[i] > threshold {
                c.inlined[i] = None;
            }
        }
        Ok(c)
    }

    /// The IR defined function `index` is compiled from: its prepared IR if a candidate, else
    /// `func` (its translation) with its calls of candidates inlined.
    /// What was inlined into it comes with it.
    pub fn function(
        &self,
        index: u32,
        func: ir::Function,
    ) -> Result<(ir::Function, Vec<Inlined>), CompileError> {
        let defined = index - self.num_imported;
        if let Some(f) = &self.inlined[defined as usize] {
            return Ok((f.clone(), self.calls[defined as usize].clone()));
        }
        let mut func = func;
        let calls = self.inline_into(defined, &mut func)?;
        Ok((func, calls))
    }

    /// Inlines into `func` (defined function `index`) what its budget allows.
    fn inline_into(
        &self,
        index: u32,
        func: &mut ir::Function,
    ) -> Result<Vec<Inlined>, CompileError> {
        let own_scc = self.scc[index as usize];
        // The call sites worth inlining, smallest callee first.
        let mut sites: Vec<(usize, ir::Inst, u32)> = Vec::new();
        for block in func.layout.blocks() {
            if func.layout.is_cold(block) {
                continue;
            }
            for inst in func.layout.block_insts(block) {
                let ir::InstructionData::Call {
                    opcode: Opcode::Call | Opcode::ReturnCall,
                    func_ref,
                    ..
                } = func.dfg.insts[inst]
                else {
                    continue;
                };
                let Some(callee) = callee_index(func, &func.dfg.ext_funcs[func_ref].name)
                    .and_then(|c| c.checked_sub(self.num_imported))
                else {
                    continue;
                };
                let c = callee as usize;
                if c >= self.inlined.len()
                    || self.inlined[c].is_none()
                    || callee == index
                    || (own_scc != u32::MAX && self.scc[c] == own_scc)
                {
                    continue;
                }
                sites.push((self.sizes[c], inst, callee));
            }
        }
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        sites.sort_by_key(|&(s, inst, _)| (s, inst));
        let mut budget = growth_budget(size(func));
        let mut probe_budget = precast_format::abi::epoch_probe::SPAN.saturating_sub(probes(func));
        let mut chosen: Vec<(ir::Inst, u32)> = Vec::new();
        for (s, inst, callee) in sites {
            let p = self.probes[callee as usize];
            if s <= budget && p <= probe_budget {
                budget -= s;
                probe_budget -= p;
                chosen.push((inst, callee));
            }
        }
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        chosen.sort_unstable();
        let mut inliner = Chosen {
            candidates: self,
            chosen: &chosen,
            done: Vec::new(),
        };
        let mut ctx = Context::for_function(std::mem::replace(func, ir::Function::new()));
        // Cranelift's inliner only fails on an entity-count limit of the IR.
        let inlined = ctx.inline(&mut inliner);
        let mut result = ctx.func;
        if let Err(e) = inlined {
            return Err(CompileError::Codegen {
                func: index.to_string(),
                message: format!("inlining: {e:?}"),
            });
        }
        copy_srclocs(&mut result, &inliner.done, self);
        if chosen.iter().any(|&(_, c)| self.probes[c as usize] > 0) {
            renumber_probes(&mut result);
        }
        *func = result;
        // What was inlined, the callees' own inlined calls after each.
        let mut calls: Vec<Inlined> = Vec::new();
        for d in &inliner.done {
            calls.push(Inlined {
                callee: d.callee,
                call_site: d.loc.bits(),
            });
            calls.extend_from_slice(&self.calls[d.callee as usize]);
        }
        Ok(calls)
    }
}

/// A call inlined into a function, directly or inside an inlined callee: the callee's
/// defined-function index and the wasm offset of the call (`u32::MAX` if unknown), which lies in the
/// body of the function that made the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inlined {
    pub callee: u32,
    pub call_site: u32,
}

/// One inlined call: the first instruction the inliner made for it, the callee, the call's
/// opcode and source location.
struct Done {
    first: u32,
    callee: u32,
    opcode: Opcode,
    loc: ir::SourceLoc,
}

/// The [`Inline`] of a planned set of call sites.
struct Chosen<'a> {
    candidates: &'a Candidates,
    /// `(call instruction, callee)`, sorted.
    chosen: &'a [(ir::Inst, u32)],
    done: Vec<Done>,
}

impl Inline for Chosen<'_> {
    fn inline(
        &mut self,
        caller: &ir::Function,
        call_inst: ir::Inst,
        call_opcode: Opcode,
        _callee: ir::FuncRef,
        _call_args: &[ir::Value],
    ) -> InlineCommand<'_> {
        let Ok(at) = self.chosen.binary_search_by_key(&call_inst, |c| c.0) else {
            return InlineCommand::KeepCall;
        };
        let callee = self.chosen[at].1;
        let Some(body) = &self.candidates.inlined[callee as usize] else {
            return InlineCommand::KeepCall;
        };
        self.done.push(Done {
            first: caller.dfg.num_insts() as u32,
            callee,
            opcode: call_opcode,
            loc: caller.srcloc(call_inst),
        });
        InlineCommand::Inline {
            callee: Cow::Borrowed(body),
            visit_callee: false,
        }
    }
}

/// Gives the instructions each inlined call made the source locations of the callee's
/// instructions they copy. Cranelift's inliner makes one instruction per instruction of the
/// callee's reachable blocks, in depth-first preorder of the blocks and layout order within
/// them, plus a `jump` after each `return_call` it turns into a `call`; what does not match
/// that (a change of the inliner) gets the call's location.
fn copy_srclocs(func: &mut ir::Function, done: &[Done], c: &Candidates) {
    let total = func.dfg.num_insts() as u32;
    for (k, d) in done.iter().enumerate() {
        let end = done.get(k + 1).map_or(total, |n| n.first);
        let Some(callee) = &c.inlined[d.callee as usize] else {
            continue;
        };
        let mut next = d.first;
        let mut ok = true;
        'blocks: for block in Dfs::new().pre_order_iter(callee) {
            for inst in callee.layout.block_insts(block) {
                if next >= end {
                    ok = false;
                    break 'blocks;
                }
                let made = ir::Inst::from_u32(next);
                let op = callee.dfg.insts[inst].opcode();
                let got = func.dfg.insts[made].opcode();
                let (expected, extra_jump) = match op {
                    Opcode::Return if d.opcode == Opcode::Call => (Opcode::Jump, false),
                    Opcode::ReturnCall if d.opcode == Opcode::Call => (Opcode::Call, true),
                    Opcode::ReturnCallIndirect if d.opcode == Opcode::Call => {
                        (Opcode::CallIndirect, true)
                    }
                    other => (other, false),
                };
                if got != expected {
                    ok = false;
                    break 'blocks;
                }
                let loc = callee.srcloc(inst);
                if !loc.is_default() {
                    func.set_srcloc(made, loc);
                }
                next += 1;
                if extra_jump {
                    if next < end
                        && func.dfg.insts[ir::Inst::from_u32(next)].opcode() == Opcode::Jump
                    {
                        if !loc.is_default() {
                            func.set_srcloc(ir::Inst::from_u32(next), loc);
                        }
                        next += 1;
                    } else {
                        ok = false;
                        break 'blocks;
                    }
                }
            }
        }
        if !ok || next != end {
            debug_assert!(false, "the inliner's instruction order changed");
            for i in d.first..end {
                if !d.loc.is_default() {
                    func.set_srcloc(ir::Inst::from_u32(i), d.loc);
                }
            }
        }
    }
}

/// Strongly connected components of the graph `edges` restricted to the nodes with
/// `member`, callees' components first (iterative Tarjan).
fn tarjan(edges: &[Vec<u32>], member: &[bool]) -> Vec<Vec<u32>> {
    let n = edges.len();
    const NONE: u32 = u32::MAX;
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut next = 0u32;
    // (node, next edge to visit)
    let mut work: Vec<(u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if !member[root as usize] || index[root as usize] != NONE {
            continue;
        }
        work.push((root, 0));
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            let vi = v as usize;
            if let Some(&w) = edges[vi].get(*e) {
                *e += 1;
                let wi = w as usize;
                if index[wi] == NONE {
                    index[wi] = next;
                    low[wi] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[wi] = true;
                    work.push((w, 0));
                } else if on_stack[wi] {
                    low[vi] = low[vi].min(index[wi]);
                }
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                low[u as usize] = low[u as usize].min(low[vi]);
            }
            if low[vi] == index[vi] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comp.sort_unstable();
                out.push(comp);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tarjan;

    #[test]
    fn components_come_callees_first() {
        // 0 -> 1 -> 2 -> 1, 3 -> 0, 4 alone, 5 not a member.
        let edges = vec![vec![1], vec![2], vec![1], vec![0], vec![], vec![0]];
        let member = [true, true, true, true, true, false];
        let sccs = tarjan(&edges, &member);
        assert_eq!(sccs, vec![vec![1, 2], vec![0], vec![3], vec![4]]);
    }
}
