;; Compiled with epoch interruption and fuel (`precast compile --epoch-interruption
;; --consume-fuel`) for the precast.h tests of both: guests that never stop on their own.
(module $interrupts
  (import "host" "tick" (func $tick))
  ;; An infinite loop with no call in it.
  (func $spin (export "spin") (loop $l (br $l)))
  ;; An infinite loop of host calls (the host refuels or moves the deadline).
  (func $host_loop (export "host_loop") (loop $l (call $tick) (br $l)))
  ;; One operator that costs fuel: 1 unit a call.
  (func $answer (export "answer") (result i32) (i32.const 42)))
