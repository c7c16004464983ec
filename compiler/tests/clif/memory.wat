;; clif: optimized
;; Loads and stores of a 32-bit memory with guard pages (no bounds check), the same with
;; explicit checks in `memory_explicit.wat`, and a sieve-like inner loop.
(module
  (memory 1)
  (func (export "load") (param i32) (result i32)
    (i32.load offset=8 (local.get 0)))
  (func (export "store") (param i32 i64)
    (i64.store offset=16 (local.get 0) (local.get 1)))
  (func (export "narrow") (param i32) (result i32)
    (i32.add (i32.load8_u (local.get 0)) (i32.load16_s offset=2 (local.get 0))))
  ;; Clears every `step`-th byte below `end`: the shape of shootout-sieve's hot loop.
  (func (export "strike") (param $i i32) (param $step i32) (param $end i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (i32.store8 (local.get $i) (i32.const 0))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (br $next))))
  (func (export "grow") (param i32) (result i32)
    (drop (memory.grow (local.get 0)))
    (memory.size)))
