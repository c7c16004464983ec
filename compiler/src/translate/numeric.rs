//! Helpers for numeric operators.

use super::Translator;
use cranelift_codegen::ir::{
    self, InstBuilder,
    condcodes::{FloatCC, IntCC},
    types::*,
};

impl Translator<'_, '_> {
    /// Pushes the i32 result of an integer comparison.
    pub(crate) fn icmp(&mut self, cc: IntCC) {
        let (a, b) = self.pop2();
        let c = self.b.ins().icmp(cc, a, b);
        let v = self.b.ins().uextend(I32, c);
        self.push(v);
    }

    /// Pushes the i32 result of a float comparison.
    pub(crate) fn fcmp(&mut self, cc: FloatCC) {
        let (a, b) = self.pop2();
        let c = self.b.ins().fcmp(cc, a, b);
        let v = self.b.ins().uextend(I32, c);
        self.push(v);
    }

    /// `eqz`.
    pub(crate) fn eqz(&mut self) {
        let a = self.pop();
        let c = self.b.ins().icmp_imm_u(IntCC::Equal, a, 0);
        let v = self.b.ins().uextend(I32, c);
        self.push(v);
    }

    /// Sign-extends the low `from` bits of the operand in place (`extend8_s` etc).
    pub(crate) fn sign_extend_low(&mut self, from: ir::Type, to: ir::Type) {
        let a = self.pop();
        let low = self.b.ins().ireduce(from, a);
        let v = self.b.ins().sextend(to, low);
        self.push(v);
    }
}
