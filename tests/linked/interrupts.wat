;; Guests that never stop on their own, for epoch interruption and fuel
;; (`tests/tests/interrupts.rs`).
(module $interrupts
  (import "host" "tick" (func $tick))
  ;; An infinite loop with no call in it.
  (func $spin (export "spin") (loop $l (br $l)))
  ;; Infinite tail recursion: no loop, only function entries.
  (func $forever (export "forever") (return_call $forever))
  ;; Exponential recursion (fib(50) takes minutes).
  (func $fib (export "fib") (param i64) (result i64)
    (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
      (then (local.get 0))
      (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                     (call $fib (i64.sub (local.get 0) (i64.const 2)))))))
  ;; A guest spinning in a host call loop.
  (func (export "host-loop") (loop $l (call $tick) (br $l)))
  ;; Counts to n: fuel used is linear in n.
  (func (export "count") (param i32) (result i32) (local i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 1) (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 1))
  (func (export "answer") (result i32) (i32.const 42)))
