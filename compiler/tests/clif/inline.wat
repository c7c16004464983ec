;; clif: optimized
;; Inlining: a small helper called in a loop is inlined (its trap, a division, keeps its code);
;; a callee's own call of an import stays a call from the inlined code; recursion is never
;; inlined into itself; a tail call of a small function becomes its body.
(module
  (import "host" "f" (func $host (param i32) (result i32)))
  (memory 1)
  (func $avg (param i32 i32) (result i32)
    (i32.div_u (i32.add (local.get 0) (local.get 1)) (i32.const 2)))
  (func $ratio (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func $via_host (param i32) (result i32)
    (i32.add (call $host (local.get 0)) (i32.const 1)))
  (func $fact (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 1))
      (else (i32.mul (local.get 0) (call $fact (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "sum_ratios") (param i32 i32) (result i32) (local i32)
    (loop $l
      (local.set 2 (i32.add (local.get 2) (call $ratio (local.get 0) (local.get 1))))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 2))
  (func (export "mean_host") (param i32 i32) (result i32)
    (call $via_host (call $avg (local.get 0) (local.get 1))))
  (func (export "fact") (param i32) (result i32) (call $fact (local.get 0)))
  (func (export "tail") (param i32 i32) (result i32)
    (return_call $avg (local.get 0) (local.get 1))))
