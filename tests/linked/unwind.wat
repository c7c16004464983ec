(module
  ;; `tests/tests/unwind.rs`: host -> run -> inner -> the host's `h.bt`, which walks the stack.
  (import "h" "bt" (func $bt (param i32) (result i32)))
  (func $inner (param i32) (result i32)
    (i32.add (call $bt (local.get 0)) (i32.const 1)))
  (func (export "run") (param i32) (result i32)
    (i32.mul (call $inner (local.get 0)) (i32.const 2))))
