;; clif: optimized
;; Immutable and mutable globals, an imported global, and table accesses. Immutable globals
;; with constant initializers (extended constants included) fold to their values; one
;; initialized from an import is loaded.
(module
  (import "host" "g" (global $imported (mut i32)))
  (import "host" "base" (global $base i32))
  (global $k i32 (i32.const 42))
  (global $ext i64 (i64.mul (i64.const 6) (i64.const 7)))
  (global $half f64 (f64.const 0.5))
  (global $derived i32 (global.get $base))
  (global $counter (mut i64) (i64.const 0))
  (table $t 2 10 funcref)
  (table $e 2 externref)
  (func (export "constant") (result i32) (global.get $k))
  (func (export "folded") (param f64) (result f64)
    (f64.add (f64.mul (local.get 0) (global.get $half))
      (f64.convert_i64_s (i64.add (global.get $ext) (i64.extend_i32_s (global.get $k))))))
  (func (export "derived") (result i32) (global.get $derived))
  (func (export "bump") (result i64)
    (global.set $counter (i64.add (global.get $counter) (i64.const 1)))
    (global.get $counter))
  (func (export "imported") (result i32)
    (global.set $imported (i32.add (global.get $imported) (i32.const 1)))
    (global.get $imported))
  (func (export "get") (param i32) (result externref) (table.get $e (local.get 0)))
  (func (export "set") (param i32 externref) (table.set $e (local.get 0) (local.get 1)))
  (func (export "size") (result i32) (table.size $t)))
