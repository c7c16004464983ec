;; clif: optimized
;; config: explicit
;; Explicit bounds checks (the embedded mode), for a 32-bit and a 64-bit memory.
(module
  (memory $m32 1)
  (memory $m64 i64 1)
  (func (export "load32") (param i32) (result i32)
    (i32.load $m32 offset=8 (local.get 0)))
  (func (export "load64") (param i64) (result i32)
    (i32.load $m64 offset=8 (local.get 0)))
  (func (export "store64") (param i64 i32)
    (i32.store $m64 (local.get 0) (local.get 1))))
