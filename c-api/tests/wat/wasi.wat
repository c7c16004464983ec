;; A WASI command: prints "arg: A" per argument, "env: K=V" per variable, "stdin: ..." with
;; what it reads from stdin, "file: ..." with hello.txt from its first preopen (if any),
;; "err" on stderr, then exits with its argument count.
(module $wasi
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 4)
  ;; 0: count, 4: size, 8: iovec, 16: n, 20: fd, 32..: texts, 1024: pointers,
  ;; 8192: strings, 196608: read buffer
  (data (i32.const 32) "\n")
  (data (i32.const 36) "arg: ")
  (data (i32.const 44) "env: ")
  (data (i32.const 52) "stdin: ")
  (data (i32.const 60) "file: ")
  (data (i32.const 68) "hello.txt")
  (data (i32.const 80) "err\n")

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 8) (local.get $ptr))
    (i32.store (i32.const 12) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 8) (i32.const 1) (i32.const 16))))

  ;; prefix, the NUL-terminated string at $s, newline
  (func $line (param $prefix i32) (param $plen i32) (param $s i32)
    (local $end i32)
    (local.set $end (local.get $s))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (local.get $end))))
        (local.set $end (i32.add (local.get $end) (i32.const 1)))
        (br $scan)))
    (call $write (i32.const 1) (local.get $prefix) (local.get $plen))
    (call $write (i32.const 1) (local.get $s) (i32.sub (local.get $end) (local.get $s)))
    (call $write (i32.const 1) (i32.const 32) (i32.const 1)))

  (func $lines (param $prefix i32) (param $plen i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 0))))
        (call $line (local.get $prefix) (local.get $plen)
          (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Reads from $fd into the buffer and prints prefix + contents + newline.
  (func $dump (param $fd i32) (param $prefix i32) (param $plen i32)
    (local $n i32)
    (i32.store (i32.const 8) (i32.const 196608))
    (i32.store (i32.const 12) (i32.const 4096))
    (i32.store (i32.const 16) (i32.const 0))
    (drop (call $fd_read (local.get $fd) (i32.const 8) (i32.const 1) (i32.const 16)))
    (local.set $n (i32.load (i32.const 16)))
    (call $write (i32.const 1) (local.get $prefix) (local.get $plen))
    (call $write (i32.const 1) (i32.const 196608) (local.get $n))
    (call $write (i32.const 1) (i32.const 32) (i32.const 1)))

  (func (export "_start")
    (local $argc i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (local.set $argc (i32.load (i32.const 0)))
    (drop (call $args_get (i32.const 1024) (i32.const 8192)))
    (call $lines (i32.const 36) (i32.const 5))
    (drop (call $environ_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $environ_get (i32.const 1024) (i32.const 8192)))
    (call $lines (i32.const 44) (i32.const 5))
    (call $dump (i32.const 0) (i32.const 52) (i32.const 7))
    (if (i32.eqz (call $path_open (i32.const 3) (i32.const 0) (i32.const 68) (i32.const 9)
                   (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 20)))
      (then (call $dump (i32.load (i32.const 20)) (i32.const 60) (i32.const 6))))
    (call $write (i32.const 2) (i32.const 80) (i32.const 4))
    (call $proc_exit (local.get $argc))))
