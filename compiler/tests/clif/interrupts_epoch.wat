;; clif: translated
;; config: epoch
;; Fault-based: a dead load from the probe page.
;; Interruption checks at a function entry and a loop header.
(module
  (func (export "count") (param i32) (result i32) (local i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 1) (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 1)))
