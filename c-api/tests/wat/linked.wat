;; Linked into the precast.h test binary (`--link-name ctest`), and signed as an artifact.
(module $linked
  (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func $ratio (export "ratio") (param i32 i32) (result i32)
    (i32.div_u (local.get 0) (local.get 1))))
