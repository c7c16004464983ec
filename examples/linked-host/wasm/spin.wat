;; Guests that never stop on their own: `linked-host contain` stops them by epoch
;; interruption and by fuel (`build.rs` links this module twice, once with each).
(module $spin
  (import "host" "tick" (func $tick))
  ;; An infinite loop with no call in it.
  (func (export "spin") (loop $l (br $l)))
  ;; Exponential recursion (fib(50) takes minutes): function entries, no loop.
  (func $fib (export "fib") (param i64) (result i64)
    (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
      (then (local.get 0))
      (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                     (call $fib (i64.sub (local.get 0) (i64.const 2)))))))
  ;; A loop calling the host forever.
  (func (export "host-loop") (loop $l (call $tick) (br $l)))
  ;; Counts to n: terminates, its fuel is linear in n.
  (func (export "count") (param i32) (result i32) (local i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 1) (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 1))
  (func (export "answer") (result i32) (i32.const 42)))
