;; A WASI command: prints its arguments and environment, one per line, then the contents of
;; `greeting.txt` in its first preopened directory. Exits with status 3 when that file
;; cannot be opened.
(module $greet
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0: count, 4: buffer size, 8: iovec, 16: written/read count, 20: opened fd
  ;; 64: pointer arrays (up to 1984 entries), 8192: string buffers, 32768: file buffer
  (data (i32.const 24) "\n")
  (data (i32.const 28) "greeting.txt")
  (data (i32.const 40) "arg: ")
  (data (i32.const 48) "env: ")
  (data (i32.const 56) "file: ")

  ;; Writes `len` bytes at `ptr` to stdout.
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 8) (local.get $ptr))
    (i32.store (i32.const 12) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16))))

  ;; Writes `prefix`, the NUL-terminated string at `s` and a newline.
  (func $line (param $prefix i32) (param $plen i32) (param $s i32)
    (local $end i32)
    (local.set $end (local.get $s))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (local.get $end))))
        (local.set $end (i32.add (local.get $end) (i32.const 1)))
        (br $scan)))
    (call $write (local.get $prefix) (local.get $plen))
    (call $write (local.get $s) (i32.sub (local.get $end) (local.get $s)))
    (call $write (i32.const 24) (i32.const 1)))

  ;; Prints every string of a `count`-entry pointer array at 64.
  (func $lines (param $prefix i32) (param $plen i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 0))))
        (call $line (local.get $prefix) (local.get $plen)
          (i32.load (i32.add (i32.const 64) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (func (export "_start")
    (local $n i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 64) (i32.const 8192)))
    (call $lines (i32.const 40) (i32.const 5))
    (drop (call $environ_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $environ_get (i32.const 64) (i32.const 8192)))
    (call $lines (i32.const 48) (i32.const 5))
    ;; path_open(fd 3, no lookup flags, "greeting.txt", no oflags, rights: fd_read, 0, 0)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 28) (i32.const 12)
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 20))
      (then (call $proc_exit (i32.const 3))))
    (i32.store (i32.const 8) (i32.const 32768))
    (i32.store (i32.const 12) (i32.const 4096))
    (drop (call $fd_read (i32.load (i32.const 20)) (i32.const 8) (i32.const 1) (i32.const 16)))
    (local.set $n (i32.load (i32.const 16)))
    (call $write (i32.const 56) (i32.const 6))
    (call $write (i32.const 32768) (local.get $n))))
