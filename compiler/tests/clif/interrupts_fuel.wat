;; clif: translated
;; config: fuel
;; Interruption checks at a loop header and at function entries; epoch checks leave out the
;; entry check of functions that do not call (fuel keeps it).
(module
  (func (export "count") (param i32) (result i32) (local i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 1) (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 1))
  (func (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call 1 (i32.sub (local.get 0) (i32.const 1)))
                     (call 1 (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "leaf") (param i32) (result i32)
    (i32.mul (local.get 0) (local.get 0))))
