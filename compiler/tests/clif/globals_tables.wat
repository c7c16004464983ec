;; clif: optimized
;; Immutable and mutable globals, an imported global, and table accesses.
(module
  (import "host" "g" (global $imported (mut i32)))
  (global $k i32 (i32.const 42))
  (global $counter (mut i64) (i64.const 0))
  (table $t 2 10 funcref)
  (table $e 2 externref)
  (func (export "constant") (result i32) (global.get $k))
  (func (export "bump") (result i64)
    (global.set $counter (i64.add (global.get $counter) (i64.const 1)))
    (global.get $counter))
  (func (export "imported") (result i32)
    (global.set $imported (i32.add (global.get $imported) (i32.const 1)))
    (global.get $imported))
  (func (export "get") (param i32) (result externref) (table.get $e (local.get 0)))
  (func (export "set") (param i32 externref) (table.set $e (local.get 0) (local.get 1)))
  (func (export "size") (result i32) (table.size $t)))
