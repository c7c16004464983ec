;; clif: translated
;; config: epoch-signal
;; Signal-interrupted: no check at function entries or loop headers; a probe of the page
;; (read from the VMContext) only after a builtin call, where a signal that came while the
;; builtin ran finds the page armed.
(module
  (memory 1)
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
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0))))
