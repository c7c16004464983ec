;; clif: optimized
;; config: no-inline
;; Direct, indirect, by-reference and tail calls, and a host import (not inlined: see
;; inline.wat).
(module
  (type $ii (func (param i32) (result i32)))
  (import "host" "f" (func $host (param i32) (result i32)))
  (table $t 4 funcref)
  (elem (table $t) (i32.const 0) func $double $host)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "direct") (param i32) (result i32) (call $double (local.get 0)))
  (func (export "import") (param i32) (result i32) (call $host (local.get 0)))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect $t (type $ii) (local.get 0) (local.get 1)))
  (func (export "by_ref") (param i32 (ref null $ii)) (result i32)
    (call_ref $ii (local.get 0) (local.get 1)))
  (func (export "tail") (param i32) (result i32)
    (return_call $double (local.get 0))))
