// A C module with debug information, for the `-g` tests (cli/tests/cli.rs,
// examples/linked-host/tests/host.rs):
//   clang --target=wasm32-wasi -g -O1 -nostdlib -Wl,--no-entry -o fib.wasm fib.c
// (clang 14, wasi-libc not needed). `fib.wasm` is checked in, built by that command.

__attribute__((noinline)) static int fib(int n) {
  if (n < 2) {
    return n;
  }
  return fib(n - 1) + fib(n - 2);
}

static inline int square(int x) {
  return x * x;
}

__attribute__((export_name("compute"))) int compute(int n) {
  int r = fib(n);
  return square(r) + 1;
}
