//! Evaluation of constant expressions (initializers and segment offsets): the evaluator is
//! `precast_format`'s, shared with the compiler, which folds the same constants into code.

pub(crate) use precast_format::module::{ConstContext, NoContext};

/// Evaluates `expr` to a raw value (low bytes, little-endian, zero-extended).
pub(crate) fn eval(
    expr: &precast_format::module::ConstExpr,
    ctx: &dyn ConstContext,
) -> Result<u128, alloc::string::String> {
    expr.eval(ctx)
}
