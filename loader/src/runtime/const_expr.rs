//! Evaluation of constant expressions (initializers and segment offsets).

use crate::prelude::*;
use precast_format::module::{ConstExpr, ConstOp};

/// What a constant expression can read.
pub(crate) trait ConstContext {
    /// The raw 16-byte value of global `index`.
    fn global(&self, index: u32) -> Option<u128>;
    /// The raw reference to function `index` (a `*const VMFuncRef`).
    fn func_ref(&self, index: u32) -> Option<usize>;
}

/// Evaluates `expr` to a raw value (low bytes, little-endian, zero-extended).
pub(crate) fn eval(expr: &ConstExpr, ctx: &dyn ConstContext) -> Result<u128, String> {
    let mut stack: Vec<u128> = Vec::with_capacity(4);
    let pop = |stack: &mut Vec<u128>| stack.pop().ok_or("constant expression stack underflow");
    for op in &expr.0 {
        let v = match *op {
            ConstOp::I32Const(v) => u128::from(v as u32),
            ConstOp::I64Const(v) => u128::from(v as u64),
            ConstOp::F32Const(v) => u128::from(v),
            ConstOp::F64Const(v) => u128::from(v),
            ConstOp::V128Const(v) => v,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(i) => {
                ctx.func_ref(i)
                    .ok_or_else(|| format!("ref.func {i} out of range"))? as u128
            }
            ConstOp::GlobalGet(i) => ctx
                .global(i)
                .ok_or_else(|| format!("global.get {i} out of range"))?,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = pop(&mut stack)? as u32;
                let a = pop(&mut stack)? as u32;
                u128::from(match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = pop(&mut stack)? as u64;
                let a = pop(&mut stack)? as u64;
                u128::from(match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
        };
        stack.push(v);
    }
    match stack.as_slice() {
        [v] => Ok(*v),
        _ => Err(format!(
            "constant expression leaves {} values, expected 1",
            stack.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ctx;
    impl ConstContext for Ctx {
        fn global(&self, index: u32) -> Option<u128> {
            (index < 2).then_some(u128::from(index) + 100)
        }
        fn func_ref(&self, index: u32) -> Option<usize> {
            (index == 0).then_some(0x1000)
        }
    }

    fn ev(ops: &[ConstOp]) -> Result<u128, String> {
        eval(&ConstExpr(ops.to_vec()), &Ctx)
    }

    #[test]
    fn constants_and_extended_ops() {
        use ConstOp::*;
        assert_eq!(ev(&[I32Const(-1)]).unwrap(), 0xffff_ffff);
        assert_eq!(ev(&[I64Const(-2)]).unwrap(), u128::from(u64::MAX - 1));
        assert_eq!(ev(&[F32Const(0x3f80_0000)]).unwrap(), 0x3f80_0000);
        assert_eq!(ev(&[F64Const(7)]).unwrap(), 7);
        assert_eq!(ev(&[V128Const(u128::MAX)]).unwrap(), u128::MAX);
        assert_eq!(ev(&[RefNull]).unwrap(), 0);
        assert_eq!(ev(&[RefFunc(0)]).unwrap(), 0x1000);
        assert_eq!(ev(&[GlobalGet(1)]).unwrap(), 101);
        assert_eq!(
            ev(&[I32Const(i32::MAX), I32Const(1), I32Add]).unwrap(),
            0x8000_0000
        );
        assert_eq!(
            ev(&[I32Const(0), I32Const(1), I32Sub]).unwrap(),
            0xffff_ffff
        );
        assert_eq!(
            ev(&[I32Const(0x10000), I32Const(0x10000), I32Mul]).unwrap(),
            0
        );
        assert_eq!(ev(&[GlobalGet(0), I32Const(5), I32Add]).unwrap(), 105);
        assert_eq!(
            ev(&[I64Const(3), I64Const(5), I64Sub]).unwrap(),
            u128::from(u64::MAX - 1)
        );
        assert_eq!(
            ev(&[I64Const(1 << 40), I64Const(1 << 30), I64Mul]).unwrap(),
            0
        );
        assert_eq!(ev(&[I64Const(1), I64Const(2), I64Add]).unwrap(), 3);
    }

    #[test]
    fn malformed_expressions_are_errors() {
        use ConstOp::*;
        assert!(ev(&[]).is_err());
        assert!(ev(&[I32Add]).is_err());
        assert!(ev(&[I32Const(1), I32Const(2)]).is_err());
        assert!(ev(&[RefFunc(9)]).is_err());
        assert!(ev(&[GlobalGet(9)]).is_err());
    }
}
