//! Per-operator semantics: each operator is exported as a function and checked on edge values
//! (NaNs, -0.0, overflow, minimum integers, traps).

use precast_format::TrapCode;
use precast_loader::Val;
use precast_tests::harness::TestInstance;

#[derive(Clone, Copy)]
enum T {
    I32,
    I64,
    F32,
    F64,
}

impl T {
    fn name(self) -> &'static str {
        match self {
            T::I32 => "i32",
            T::I64 => "i64",
            T::F32 => "f32",
            T::F64 => "f64",
        }
    }
}

/// (operator, params, result)
const OPS: &[(&str, &[T], T)] = &[
    ("i32.add", &[T::I32, T::I32], T::I32),
    ("i32.sub", &[T::I32, T::I32], T::I32),
    ("i32.mul", &[T::I32, T::I32], T::I32),
    ("i32.div_s", &[T::I32, T::I32], T::I32),
    ("i32.div_u", &[T::I32, T::I32], T::I32),
    ("i32.rem_s", &[T::I32, T::I32], T::I32),
    ("i32.rem_u", &[T::I32, T::I32], T::I32),
    ("i32.and", &[T::I32, T::I32], T::I32),
    ("i32.or", &[T::I32, T::I32], T::I32),
    ("i32.xor", &[T::I32, T::I32], T::I32),
    ("i32.shl", &[T::I32, T::I32], T::I32),
    ("i32.shr_s", &[T::I32, T::I32], T::I32),
    ("i32.shr_u", &[T::I32, T::I32], T::I32),
    ("i32.rotl", &[T::I32, T::I32], T::I32),
    ("i32.rotr", &[T::I32, T::I32], T::I32),
    ("i32.clz", &[T::I32], T::I32),
    ("i32.ctz", &[T::I32], T::I32),
    ("i32.popcnt", &[T::I32], T::I32),
    ("i32.eqz", &[T::I32], T::I32),
    ("i32.lt_s", &[T::I32, T::I32], T::I32),
    ("i32.lt_u", &[T::I32, T::I32], T::I32),
    ("i32.ge_s", &[T::I32, T::I32], T::I32),
    ("i32.extend8_s", &[T::I32], T::I32),
    ("i32.extend16_s", &[T::I32], T::I32),
    ("i64.add", &[T::I64, T::I64], T::I64),
    ("i64.mul", &[T::I64, T::I64], T::I64),
    ("i64.div_s", &[T::I64, T::I64], T::I64),
    ("i64.div_u", &[T::I64, T::I64], T::I64),
    ("i64.rem_s", &[T::I64, T::I64], T::I64),
    ("i64.rem_u", &[T::I64, T::I64], T::I64),
    ("i64.shl", &[T::I64, T::I64], T::I64),
    ("i64.shr_s", &[T::I64, T::I64], T::I64),
    ("i64.rotr", &[T::I64, T::I64], T::I64),
    ("i64.clz", &[T::I64], T::I64),
    ("i64.ctz", &[T::I64], T::I64),
    ("i64.popcnt", &[T::I64], T::I64),
    ("i64.eqz", &[T::I64], T::I32),
    ("i64.gt_u", &[T::I64, T::I64], T::I32),
    ("i64.extend8_s", &[T::I64], T::I64),
    ("i64.extend32_s", &[T::I64], T::I64),
    ("f32.add", &[T::F32, T::F32], T::F32),
    ("f32.div", &[T::F32, T::F32], T::F32),
    ("f32.min", &[T::F32, T::F32], T::F32),
    ("f32.max", &[T::F32, T::F32], T::F32),
    ("f32.copysign", &[T::F32, T::F32], T::F32),
    ("f32.nearest", &[T::F32], T::F32),
    ("f32.sqrt", &[T::F32], T::F32),
    ("f32.neg", &[T::F32], T::F32),
    ("f32.abs", &[T::F32], T::F32),
    ("f32.ceil", &[T::F32], T::F32),
    ("f32.floor", &[T::F32], T::F32),
    ("f32.trunc", &[T::F32], T::F32),
    ("f32.eq", &[T::F32, T::F32], T::I32),
    ("f32.ne", &[T::F32, T::F32], T::I32),
    ("f32.lt", &[T::F32, T::F32], T::I32),
    ("f64.add", &[T::F64, T::F64], T::F64),
    ("f64.mul", &[T::F64, T::F64], T::F64),
    ("f64.min", &[T::F64, T::F64], T::F64),
    ("f64.max", &[T::F64, T::F64], T::F64),
    ("f64.nearest", &[T::F64], T::F64),
    ("f64.copysign", &[T::F64, T::F64], T::F64),
    ("f64.ge", &[T::F64, T::F64], T::I32),
    ("i32.wrap_i64", &[T::I64], T::I32),
    ("i64.extend_i32_s", &[T::I32], T::I64),
    ("i64.extend_i32_u", &[T::I32], T::I64),
    ("i32.trunc_f32_s", &[T::F32], T::I32),
    ("i32.trunc_f32_u", &[T::F32], T::I32),
    ("i32.trunc_f64_s", &[T::F64], T::I32),
    ("i64.trunc_f64_u", &[T::F64], T::I64),
    ("i32.trunc_sat_f32_s", &[T::F32], T::I32),
    ("i32.trunc_sat_f32_u", &[T::F32], T::I32),
    ("i64.trunc_sat_f64_s", &[T::F64], T::I64),
    ("i64.trunc_sat_f64_u", &[T::F64], T::I64),
    ("f32.convert_i32_u", &[T::I32], T::F32),
    ("f64.convert_i64_s", &[T::I64], T::F64),
    ("f64.convert_i64_u", &[T::I64], T::F64),
    ("f32.demote_f64", &[T::F64], T::F32),
    ("f64.promote_f32", &[T::F32], T::F64),
    ("i32.reinterpret_f32", &[T::F32], T::I32),
    ("f64.reinterpret_i64", &[T::I64], T::F64),
];

fn module() -> String {
    let mut wat = String::from("(module\n");
    for (op, params, result) in OPS {
        let ps: Vec<&str> = params.iter().map(|t| t.name()).collect();
        let gets: String = (0..params.len())
            .map(|i| format!("(local.get {i}) "))
            .collect();
        wat.push_str(&format!(
            "  (func (export \"{op}\") (param {}) (result {}) ({op} {gets}))\n",
            ps.join(" "),
            result.name()
        ));
    }
    wat.push(')');
    wat
}

enum Expect {
    Val(Val),
    Trap(TrapCode),
}

fn f32(v: f32) -> Val {
    Val::F32(v.to_bits())
}
fn f64(v: f64) -> Val {
    Val::F64(v.to_bits())
}
fn ok(v: Val) -> Expect {
    Expect::Val(v)
}
fn trap(c: TrapCode) -> Expect {
    Expect::Trap(c)
}

const F32_NAN: u32 = 0x7fc0_0000;
const F64_NAN: u64 = 0x7ff8_0000_0000_0000;

#[test]
fn operator_semantics() {
    use Val::{I32, I64};
    let cases: Vec<(&str, Vec<Val>, Expect)> = vec![
        ("i32.add", vec![I32(i32::MAX), I32(1)], ok(I32(i32::MIN))),
        ("i32.sub", vec![I32(i32::MIN), I32(1)], ok(I32(i32::MAX))),
        ("i32.mul", vec![I32(0x1000_0001), I32(16)], ok(I32(16))),
        ("i32.div_s", vec![I32(-7), I32(2)], ok(I32(-3))),
        (
            "i32.div_s",
            vec![I32(1), I32(0)],
            trap(TrapCode::IntegerDivisionByZero),
        ),
        (
            "i32.div_s",
            vec![I32(i32::MIN), I32(-1)],
            trap(TrapCode::IntegerOverflow),
        ),
        ("i32.div_u", vec![I32(-1), I32(2)], ok(I32(0x7fff_ffff))),
        (
            "i32.div_u",
            vec![I32(1), I32(0)],
            trap(TrapCode::IntegerDivisionByZero),
        ),
        ("i32.rem_s", vec![I32(i32::MIN), I32(-1)], ok(I32(0))),
        ("i32.rem_s", vec![I32(-7), I32(2)], ok(I32(-1))),
        (
            "i32.rem_s",
            vec![I32(5), I32(0)],
            trap(TrapCode::IntegerDivisionByZero),
        ),
        ("i32.rem_u", vec![I32(-1), I32(10)], ok(I32(5))),
        ("i32.and", vec![I32(0b1100), I32(0b1010)], ok(I32(0b1000))),
        ("i32.or", vec![I32(0b1100), I32(0b1010)], ok(I32(0b1110))),
        ("i32.xor", vec![I32(0b1100), I32(0b1010)], ok(I32(0b0110))),
        ("i32.shl", vec![I32(1), I32(33)], ok(I32(2))),
        ("i32.shr_s", vec![I32(i32::MIN), I32(31)], ok(I32(-1))),
        ("i32.shr_u", vec![I32(i32::MIN), I32(31)], ok(I32(1))),
        (
            "i32.rotl",
            vec![I32(0x8000_0001u32 as i32), I32(1)],
            ok(I32(3)),
        ),
        ("i32.rotr", vec![I32(1), I32(1)], ok(I32(i32::MIN))),
        ("i32.clz", vec![I32(0)], ok(I32(32))),
        ("i32.clz", vec![I32(1)], ok(I32(31))),
        ("i32.ctz", vec![I32(0)], ok(I32(32))),
        ("i32.ctz", vec![I32(i32::MIN)], ok(I32(31))),
        ("i32.popcnt", vec![I32(-1)], ok(I32(32))),
        ("i32.eqz", vec![I32(0)], ok(I32(1))),
        ("i32.eqz", vec![I32(i32::MIN)], ok(I32(0))),
        ("i32.lt_s", vec![I32(-1), I32(0)], ok(I32(1))),
        ("i32.lt_u", vec![I32(-1), I32(0)], ok(I32(0))),
        ("i32.ge_s", vec![I32(i32::MIN), I32(i32::MIN)], ok(I32(1))),
        ("i32.extend8_s", vec![I32(0x80)], ok(I32(-128))),
        ("i32.extend8_s", vec![I32(0x17f)], ok(I32(127))),
        ("i32.extend16_s", vec![I32(0x8000)], ok(I32(-32768))),
        ("i64.add", vec![I64(i64::MAX), I64(1)], ok(I64(i64::MIN))),
        ("i64.mul", vec![I64(i64::MIN), I64(-1)], ok(I64(i64::MIN))),
        (
            "i64.div_s",
            vec![I64(i64::MIN), I64(-1)],
            trap(TrapCode::IntegerOverflow),
        ),
        (
            "i64.div_s",
            vec![I64(i64::MIN), I64(2)],
            ok(I64(i64::MIN / 2)),
        ),
        (
            "i64.div_u",
            vec![I64(-1), I64(0)],
            trap(TrapCode::IntegerDivisionByZero),
        ),
        ("i64.rem_s", vec![I64(i64::MIN), I64(-1)], ok(I64(0))),
        ("i64.rem_u", vec![I64(-1), I64(3)], ok(I64(0))),
        ("i64.shl", vec![I64(1), I64(65)], ok(I64(2))),
        ("i64.shr_s", vec![I64(-8), I64(1)], ok(I64(-4))),
        ("i64.rotr", vec![I64(1), I64(1)], ok(I64(i64::MIN))),
        ("i64.clz", vec![I64(0)], ok(I64(64))),
        ("i64.ctz", vec![I64(0)], ok(I64(64))),
        ("i64.popcnt", vec![I64(0x00ff_00ff_00ff_00ff)], ok(I64(32))),
        ("i64.eqz", vec![I64(0)], ok(I32(1))),
        ("i64.gt_u", vec![I64(-1), I64(1)], ok(I32(1))),
        ("i64.extend8_s", vec![I64(0xff)], ok(I64(-1))),
        (
            "i64.extend32_s",
            vec![I64(0x8000_0000)],
            ok(I64(-2147483648)),
        ),
        ("f32.add", vec![f32(1.5), f32(2.25)], ok(f32(3.75))),
        ("f32.div", vec![f32(1.0), f32(0.0)], ok(f32(f32::INFINITY))),
        (
            "f32.div",
            vec![f32(-1.0), f32(0.0)],
            ok(f32(f32::NEG_INFINITY)),
        ),
        ("f32.min", vec![f32(0.0), f32(-0.0)], ok(f32(-0.0))),
        ("f32.min", vec![f32(-0.0), f32(0.0)], ok(f32(-0.0))),
        ("f32.max", vec![f32(-0.0), f32(0.0)], ok(f32(0.0))),
        (
            "f32.min",
            vec![Val::F32(F32_NAN), f32(1.0)],
            ok(Val::F32(F32_NAN)),
        ),
        (
            "f32.max",
            vec![f32(1.0), Val::F32(F32_NAN)],
            ok(Val::F32(F32_NAN)),
        ),
        ("f32.copysign", vec![f32(1.0), f32(-0.0)], ok(f32(-1.0))),
        (
            "f32.copysign",
            vec![f32(-2.0), Val::F32(F32_NAN)],
            ok(f32(2.0)),
        ),
        ("f32.nearest", vec![f32(2.5)], ok(f32(2.0))),
        ("f32.nearest", vec![f32(3.5)], ok(f32(4.0))),
        ("f32.nearest", vec![f32(-0.5)], ok(f32(-0.0))),
        ("f32.sqrt", vec![f32(-0.0)], ok(f32(-0.0))),
        ("f32.neg", vec![f32(0.0)], ok(f32(-0.0))),
        (
            "f32.neg",
            vec![Val::F32(F32_NAN)],
            ok(Val::F32(F32_NAN | 0x8000_0000)),
        ),
        (
            "f32.abs",
            vec![Val::F32(0xffc0_0001)],
            ok(Val::F32(0x7fc0_0001)),
        ),
        ("f32.ceil", vec![f32(-0.5)], ok(f32(-0.0))),
        ("f32.floor", vec![f32(-0.5)], ok(f32(-1.0))),
        ("f32.trunc", vec![f32(-1.7)], ok(f32(-1.0))),
        (
            "f32.eq",
            vec![Val::F32(F32_NAN), Val::F32(F32_NAN)],
            ok(I32(0)),
        ),
        ("f32.eq", vec![f32(0.0), f32(-0.0)], ok(I32(1))),
        (
            "f32.ne",
            vec![Val::F32(F32_NAN), Val::F32(F32_NAN)],
            ok(I32(1)),
        ),
        ("f32.lt", vec![f32(-0.0), f32(0.0)], ok(I32(0))),
        ("f64.add", vec![f64(0.1), f64(0.2)], ok(f64(0.1 + 0.2))),
        ("f64.mul", vec![f64(-0.0), f64(5.0)], ok(f64(-0.0))),
        ("f64.min", vec![f64(0.0), f64(-0.0)], ok(f64(-0.0))),
        (
            "f64.max",
            vec![Val::F64(F64_NAN), f64(1.0)],
            ok(Val::F64(F64_NAN)),
        ),
        ("f64.nearest", vec![f64(-2.5)], ok(f64(-2.0))),
        (
            "f64.nearest",
            vec![f64(4503599627370497.0)],
            ok(f64(4503599627370497.0)),
        ),
        ("f64.copysign", vec![f64(3.0), f64(-1.0)], ok(f64(-3.0))),
        ("f64.ge", vec![Val::F64(F64_NAN), f64(0.0)], ok(I32(0))),
        (
            "i32.wrap_i64",
            vec![I64(0x1_2345_6789)],
            ok(I32(0x2345_6789)),
        ),
        ("i64.extend_i32_s", vec![I32(-1)], ok(I64(-1))),
        ("i64.extend_i32_u", vec![I32(-1)], ok(I64(0xffff_ffff))),
        ("i32.trunc_f32_s", vec![f32(-2.9)], ok(I32(-2))),
        (
            "i32.trunc_f32_s",
            vec![f32(2147483648.0)],
            trap(TrapCode::IntegerOverflow),
        ),
        (
            "i32.trunc_f32_s",
            vec![f32(-2147483648.0)],
            ok(I32(i32::MIN)),
        ),
        (
            "i32.trunc_f32_s",
            vec![Val::F32(F32_NAN)],
            trap(TrapCode::BadConversionToInteger),
        ),
        ("i32.trunc_f32_u", vec![f32(-0.9)], ok(I32(0))),
        (
            "i32.trunc_f32_u",
            vec![f32(-1.0)],
            trap(TrapCode::IntegerOverflow),
        ),
        ("i32.trunc_f32_u", vec![f32(4294967040.0)], ok(I32(-256))),
        (
            "i32.trunc_f64_s",
            vec![f64(2147483647.9)],
            ok(I32(i32::MAX)),
        ),
        (
            "i32.trunc_f64_s",
            vec![f64(-2147483649.0)],
            trap(TrapCode::IntegerOverflow),
        ),
        (
            "i64.trunc_f64_u",
            vec![f64(18446744073709549568.0)],
            ok(I64(-2048)),
        ),
        (
            "i64.trunc_f64_u",
            vec![f64(f64::INFINITY)],
            trap(TrapCode::IntegerOverflow),
        ),
        ("i32.trunc_sat_f32_s", vec![Val::F32(F32_NAN)], ok(I32(0))),
        ("i32.trunc_sat_f32_s", vec![f32(1e10)], ok(I32(i32::MAX))),
        ("i32.trunc_sat_f32_s", vec![f32(-1e10)], ok(I32(i32::MIN))),
        ("i32.trunc_sat_f32_u", vec![f32(-5.0)], ok(I32(0))),
        ("i32.trunc_sat_f32_u", vec![f32(1e10)], ok(I32(-1))),
        (
            "i64.trunc_sat_f64_s",
            vec![f64(f64::NEG_INFINITY)],
            ok(I64(i64::MIN)),
        ),
        ("i64.trunc_sat_f64_u", vec![f64(1e30)], ok(I64(-1))),
        ("f32.convert_i32_u", vec![I32(-1)], ok(f32(4294967296.0))),
        (
            "f64.convert_i64_s",
            vec![I64(i64::MIN)],
            ok(f64(-9223372036854775808.0)),
        ),
        (
            "f64.convert_i64_u",
            vec![I64(-1)],
            ok(f64(18446744073709551616.0)),
        ),
        ("f32.demote_f64", vec![f64(1e300)], ok(f32(f32::INFINITY))),
        ("f32.demote_f64", vec![f64(-0.0)], ok(f32(-0.0))),
        ("f64.promote_f32", vec![f32(-1.5)], ok(f64(-1.5))),
        ("i32.reinterpret_f32", vec![f32(-0.0)], ok(I32(i32::MIN))),
        (
            "f64.reinterpret_i64",
            vec![I64(0x3ff0_0000_0000_0000)],
            ok(f64(1.0)),
        ),
    ];
    let mut inst = TestInstance::new(&module());
    let mut failures = Vec::new();
    for (op, args, expect) in &cases {
        let got = inst.call(op, args);
        let good = match (&got, expect) {
            (Ok(v), Expect::Val(e)) => v.len() == 1 && v[0] == *e,
            (Err(e), Expect::Trap(code)) => e.as_trap().map(|t| t.code()) == Some(*code),
            _ => false,
        };
        if !good {
            let want = match expect {
                Expect::Val(v) => format!("{v:?}"),
                Expect::Trap(c) => format!("trap {c:?}"),
            };
            failures.push(format!("{op}{args:?}: expected {want}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every trap above was recoverable: the instance still works.
    assert_eq!(
        inst.call("i32.add", &[I32(2), I32(3)]).unwrap(),
        vec![I32(5)]
    );
}
