;; Atomic increments on an imported shared memory (linked-module tests).
(module $threads
  (import "env" "memory" (memory 1 4 shared))
  (func (export "inc") (param $n i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "get") (result i32) (i32.atomic.load (i32.const 0))))
