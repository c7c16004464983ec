;; Memory and table growth, for the resource-limit tests (`tests/tests/limits.rs`).
(module $limits
  (memory (export "memory") 1 100)
  (table $t (export "table") 2 1000 funcref)
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "grow_table") (param i32) (result i32)
    (table.grow $t (ref.null func) (local.get 0)))
  ;; Grows a page at a time until refused, then fails as C's abort() after a failed malloc.
  (func (export "hog") (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (unreachable)))
