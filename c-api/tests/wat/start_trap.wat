;; A start function that traps: instantiation fails with the trap.
(module $start_trap
  (func $start unreachable)
  (start $start))
