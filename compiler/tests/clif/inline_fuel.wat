;; clif: optimized
;; config: fuel
;; Fuel with inlining: the inlined callee's entry check and costs stay, so a call costs the
;; same fuel inlined or not; the counter stays in a register across the inlined body.
(module
  (func $avg (param i32 i32) (result i32)
    (i32.div_u (i32.add (local.get 0) (local.get 1)) (i32.const 2)))
  (func (export "mean") (param i32 i32) (result i32)
    (i32.add (call $avg (local.get 0) (local.get 1)) (i32.const 1))))
