;; Imports a memory and a table (from the host, or from `basic` through a linker).
(module $imports
  (import "basic" "memory" (memory 1))
  (import "basic" "table" (table 1 funcref))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "tsize") (result i32) (table.size))
  (func (export "call0") (param i32) (result i32)
    (call_indirect (param i32) (result i32) (local.get 0) (i32.const 0))))
