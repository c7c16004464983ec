//! Structured control flow: blocks, loops, ifs and branches.

use super::Translator;
use crate::CompileError;
use cranelift_codegen::ir::{self, BlockArg, InstBuilder};
use wasmparser::BlockType;

/// The kind of a control frame.
pub(crate) enum FrameKind {
    /// `block` (and the function body).
    Block,
    /// `loop`, branching to `header`.
    Loop { header: ir::Block },
    /// `if`: `else_block` runs the else arm; `params` are the arm inputs.
    If {
        else_block: ir::Block,
        params: Vec<ir::Value>,
        else_seen: bool,
    },
}

/// One entry of the control stack.
pub(crate) struct Frame {
    pub kind: FrameKind,
    /// The block after `end`, whose parameters are the frame's results.
    pub next: ir::Block,
    pub num_params: usize,
    pub num_results: usize,
    /// Operand stack height below the frame's parameters.
    pub height: usize,
    /// Whether any branch or fallthrough reaches `next`.
    pub branched_to: bool,
}

fn block_args(values: &[ir::Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

impl Translator<'_, '_> {
    /// Parameter and result types of a block type.
    fn block_sig(&self, bt: BlockType) -> (Vec<ir::Type>, Vec<ir::Type>) {
        match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => {
                let vt = crate::environ::val_type(t).map(|v| self.env.ir_type(v));
                (vec![], vt.into_iter().collect())
            }
            BlockType::FuncType(i) => {
                let ft = &self.env.info.types[i as usize];
                (
                    ft.params.iter().map(|t| self.env.ir_type(*t)).collect(),
                    ft.results.iter().map(|t| self.env.ir_type(*t)).collect(),
                )
            }
        }
    }

    fn new_block_with(&mut self, types: &[ir::Type]) -> ir::Block {
        let block = self.b.create_block();
        for t in types {
            self.b.append_block_param(block, *t);
        }
        block
    }

    /// `block`.
    pub(crate) fn op_block(&mut self, bt: BlockType) {
        let (params, results) = self.block_sig(bt);
        let next = self.new_block_with(&results);
        self.control.push(Frame {
            kind: FrameKind::Block,
            next,
            num_params: params.len(),
            num_results: results.len(),
            height: self.stack.len() - params.len(),
            branched_to: false,
        });
    }

    /// `loop`.
    pub(crate) fn op_loop(&mut self, bt: BlockType) {
        let (params, results) = self.block_sig(bt);
        let header = self.new_block_with(&params);
        let next = self.new_block_with(&results);
        let args = self.popn(params.len());
        self.b.ins().jump(header, &block_args(&args));
        self.b.switch_to_block(header);
        self.interrupt_checks();
        self.stack.extend_from_slice(self.b.block_params(header));
        self.control.push(Frame {
            kind: FrameKind::Loop { header },
            next,
            num_params: params.len(),
            num_results: results.len(),
            height: self.stack.len() - params.len(),
            branched_to: false,
        });
    }

    /// `if`.
    pub(crate) fn op_if(&mut self, bt: BlockType) {
        let (params, results) = self.block_sig(bt);
        let cond = self.pop();
        let then_block = self.b.create_block();
        let else_block = self.b.create_block();
        let next = self.new_block_with(&results);
        self.b.ins().brif(cond, then_block, &[], else_block, &[]);
        self.b.seal_block(then_block);
        self.b.seal_block(else_block);
        self.b.switch_to_block(then_block);
        let arm_params = self.peekn(params.len()).to_vec();
        self.control.push(Frame {
            kind: FrameKind::If {
                else_block,
                params: arm_params,
                else_seen: false,
            },
            next,
            num_params: params.len(),
            num_results: results.len(),
            height: self.stack.len() - params.len(),
            branched_to: false,
        });
    }

    /// `else`.
    pub(crate) fn op_else(&mut self) -> Result<(), CompileError> {
        let reachable = self.reachable;
        let frame = self.control.last_mut().ok_or_else(malformed)?;
        let FrameKind::If {
            else_block,
            params,
            else_seen,
        } = &mut frame.kind
        else {
            return Err(malformed());
        };
        *else_seen = true;
        let (else_block, params) = (*else_block, params.clone());
        let (next, n, height) = (frame.next, frame.num_results, frame.height);
        if reachable {
            frame.branched_to = true;
            let results = self.popn(n);
            self.b.ins().jump(next, &block_args(&results));
        }
        self.stack.truncate(height);
        self.b.switch_to_block(else_block);
        self.stack.extend(params);
        // Frames are only pushed while reachable, so the else arm's start is reachable.
        self.reachable = true;
        Ok(())
    }

    /// `end`.
    pub(crate) fn op_end(&mut self) -> Result<(), CompileError> {
        let mut frame = self.control.pop().ok_or_else(malformed)?;
        if self.reachable {
            frame.branched_to = true;
            let results = self.popn(frame.num_results);
            self.b.ins().jump(frame.next, &block_args(&results));
        }
        match &frame.kind {
            FrameKind::Loop { header } => self.b.seal_block(*header),
            FrameKind::If {
                else_block,
                params,
                else_seen: false,
            } => {
                // An `if` without `else` passes its parameters through.
                self.b.switch_to_block(*else_block);
                frame.branched_to = true;
                self.b.ins().jump(frame.next, &block_args(params));
            }
            _ => {}
        }
        self.stack.truncate(frame.height);
        self.b.switch_to_block(frame.next);
        self.b.seal_block(frame.next);
        self.stack
            .extend_from_slice(self.b.block_params(frame.next));
        self.reachable = frame.branched_to;
        Ok(())
    }

    /// The branch target and arity for relative depth `depth`, marking it as branched to.
    fn br_target(&mut self, depth: u32) -> (ir::Block, usize) {
        let i = self.control.len() - 1 - depth as usize;
        let frame = &mut self.control[i];
        match frame.kind {
            FrameKind::Loop { header } => (header, frame.num_params),
            _ => {
                frame.branched_to = true;
                (frame.next, frame.num_results)
            }
        }
    }

    /// `br`.
    pub(crate) fn op_br(&mut self, depth: u32) {
        let (block, n) = self.br_target(depth);
        let args = block_args(self.peekn(n));
        self.b.ins().jump(block, &args);
        self.reachable = false;
    }

    /// `br_if`.
    pub(crate) fn op_br_if(&mut self, depth: u32) {
        let cond = self.pop();
        let (block, n) = self.br_target(depth);
        let args = block_args(self.peekn(n));
        let cont = self.b.create_block();
        self.b.ins().brif(cond, block, &args, cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// `br_on_null` (`on_null`) and `br_on_non_null`.
    pub(crate) fn op_br_on_null(&mut self, depth: u32, on_null: bool) {
        let r = self.pop();
        let is_null = self.b.ins().icmp_imm_u(ir::condcodes::IntCC::Equal, r, 0);
        let cont = self.b.create_block();
        if on_null {
            // Branch without the reference; fall through with it.
            let (block, n) = self.br_target(depth);
            let args = block_args(self.peekn(n));
            self.b.ins().brif(is_null, block, &args, cont, &[]);
            self.push(r);
        } else {
            // Branch with the (non-null) reference; fall through without it.
            self.push(r);
            let (block, n) = self.br_target(depth);
            let args = block_args(self.peekn(n));
            self.pop();
            self.b.ins().brif(is_null, cont, &[], block, &args);
        }
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// `br_table`.
    pub(crate) fn op_br_table(
        &mut self,
        table: &wasmparser::BrTable<'_>,
    ) -> Result<(), CompileError> {
        let index = self.pop();
        let mut targets = Vec::with_capacity(table.len() as usize);
        for t in table.targets() {
            targets.push(t?);
        }
        let (default, n) = self.br_target(table.default());
        let args = block_args(self.peekn(n));
        let default_call = self.b.func.dfg.block_call(default, &args);
        let mut calls = Vec::with_capacity(targets.len());
        for depth in targets {
            let (block, _) = self.br_target(depth);
            calls.push(self.b.func.dfg.block_call(block, &args));
        }
        let jt = self
            .b
            .create_jump_table(ir::JumpTableData::new(default_call, &calls));
        self.b.ins().br_table(index, jt);
        self.reachable = false;
        Ok(())
    }

    /// `return`.
    pub(crate) fn op_return(&mut self) {
        let n = self.control[0].num_results;
        let results = self.popn(n);
        self.fuel_save();
        self.b.ins().return_(&results);
        self.reachable = false;
    }

    /// Handles a control operator while unreachable: only nesting matters.
    /// Returns `true` if the operator was consumed.
    pub(crate) fn skip_unreachable(
        &mut self,
        op: &wasmparser::Operator<'_>,
    ) -> Result<bool, CompileError> {
        use wasmparser::Operator as O;
        match op {
            O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                self.unreachable_depth += 1;
                Ok(true)
            }
            O::Else if self.unreachable_depth == 0 => {
                self.op_else()?;
                Ok(true)
            }
            O::End if self.unreachable_depth == 0 => {
                self.op_end()?;
                Ok(true)
            }
            O::End => {
                self.unreachable_depth -= 1;
                Ok(true)
            }
            _ => Ok(true),
        }
    }
}

fn malformed() -> CompileError {
    CompileError::Unsupported("unbalanced control flow".into())
}
