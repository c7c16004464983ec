//! Builds and runs the C example `examples/c-host` the way its README says (its modules
//! compiled here with the compiler library instead of the `precast` command), and checks
//! its output.

mod common;

use common::*;

#[test]
fn c_host_example_runs() {
    let dir = scratch("c-host");
    let example = crate_dir().join("../examples/c-host");
    let hello = dir.join("hello.pcst");
    std::fs::write(&hello, compile(&example.join("hello.wat"), None)).unwrap();
    let math = dir.join("math.o");
    std::fs::write(&math, compile(&example.join("math.wat"), Some("math"))).unwrap();

    let exe = dir.join("c-host");
    build_c(&[example.join("main.c")], &[math], &exe);
    let out = run(&exe, &[&hello]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "c-host failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "hello from WASI\n\
         the WASI program exited with status 0\n\
         linked module: math\n\
         math.add(2, 3) = 5\n\
         math.fib(20) = 6765\n\
         math.quadruple(5) = 20\n\
         math.ratio(1, 0): trap: integer divide by zero\n"
    );

    // The module is part of the executable: it still runs with the object deleted.
    std::fs::remove_file(dir.join("math.o")).unwrap();
    assert!(run(&exe, &[&hello]).status.success());
}
