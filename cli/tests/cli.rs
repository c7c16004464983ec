//! The `precast` command line: compile, run, inspect, and the error paths.

use std::path::PathBuf;
use std::process::{Command, Output};

fn precast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_precast"))
        .args(args)
        .output()
        .expect("run precast")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("precast-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn example() -> String {
    format!("{}/../examples/fib.wat", env!("CARGO_MANIFEST_DIR"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn compile_inspect_and_run() {
    let out = tmp("fib.pcst");
    let o = precast(&["compile", &example(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");

    let o = precast(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        ".text",
        ".precast.header",
        "fib",
        "target:",
        "cpu features:",
    ] {
        assert!(
            text.contains(needle),
            "inspect output lacks {needle}:\n{text}"
        );
    }

    let o = precast(&["run", out.to_str().unwrap(), "--invoke", "fib", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "6765");

    // A .wat file is compiled in memory and runs the same way.
    let o = precast(&["run", &example(), "--invoke", "sum", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "36");
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    // A trap exits with 134, as Wasmtime's command line does; other errors with 1.
    let o = precast(&["run", &example(), "--invoke", "divide", "1", "0"]);
    assert_eq!(o.status.code(), Some(134));
    let e = stderr(&o);
    assert!(
        e.contains("integer divide by zero") && e.contains("divide"),
        "{e}"
    );

    let bad = tmp("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x01\x02").unwrap();
    let o = precast(&[
        "compile",
        bad.to_str().unwrap(),
        "-o",
        tmp("bad.pcst").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("invalid wasm"), "{}", stderr(&o));

    let junk = tmp("junk.pcst");
    std::fs::write(&junk, b"\x7fELF garbage").unwrap();
    let o = precast(&["run", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("artifact"), "{}", stderr(&o));

    let o = precast(&["run", &example(), "--invoke", "nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));

    let o = precast(&["run", &example(), "--invoke", "fib", "notanumber"]);
    assert!(!o.status.success());

    let imports = tmp("imports.wat");
    std::fs::write(
        &imports,
        r#"(module (import "env" "f" (func)) (func (export "_start") (call 0)))"#,
    )
    .unwrap();
    let o = precast(&["run", imports.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("env::f"), "{}", stderr(&o));
    // Unless unknown imports are asked to return default values.
    let o = precast(&[
        "run",
        "--default-values-unknown-imports",
        imports.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn wasi_example() -> String {
    format!("{}/../examples/wasi_echo.wat", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn wasi_program_gets_args_env_dirs_and_exit_status() {
    let dir = tmp("wasi-dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "from the host\n").unwrap();
    let preopen = format!("{}::/", dir.display());
    let o = precast(&[
        "run",
        &wasi_example(),
        "--dir",
        &preopen,
        "--env",
        "GREETING=hi",
        "--",
        "one",
        "two words",
        "--not-a-flag",
    ]);
    // proc_exit(argc) becomes the exit status.
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "wasi_echo.wat\none\ntwo words\n--not-a-flag\nGREETING=hi\nfrom the host\n"
    );

    // No preopen: the file is not reachable; no --env: an empty environment.
    let o = precast(&["run", &wasi_example()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "wasi_echo.wat\n");

    // A missing directory is a clear error.
    let o = precast(&["run", &wasi_example(), "--dir", "/nonexistent/precast"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/precast"),
        "{}",
        stderr(&o)
    );

    // A trap in a WASI program: non-zero, with the backtrace.
    let trap = tmp("wasi-trap.wat");
    std::fs::write(
        &trap,
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func $boom (export "_start") unreachable))"#,
    )
    .unwrap();
    let o = precast(&["run", trap.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("unreachable") && e.contains("boom"), "{e}");
}

/// The global symbols an object defines.
fn globals(object: &[u8]) -> Vec<String> {
    use object::{Object, ObjectSymbol};
    let file = object::File::parse(object).unwrap();
    file.symbols()
        .filter(|s| s.is_global() && s.is_definition())
        .map(|s| s.name().unwrap().to_string())
        .collect()
}

#[test]
fn linkable_objects_link_with_cc_and_are_artifacts_too() {
    use object::{Object, ObjectSection};
    let fib = tmp("fib.o");
    let fib2 = tmp("fib2.o");
    for (path, name) in [(&fib, "fib"), (&fib2, "fib_again")] {
        let o = precast(&[
            "compile",
            &example(),
            "-o",
            path.to_str().unwrap(),
            "--link-name",
            name,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let bytes = std::fs::read(&fib).unwrap();
    // Exactly one global symbol; no relocation against code; a non-executable stack.
    assert_eq!(globals(&bytes), ["precast_module_fib"]);
    let file = object::File::parse(&*bytes).unwrap();
    let text = file.section_by_name(".text").unwrap();
    assert_eq!(text.relocations().count(), 0);
    assert!(file.section_by_name(".note.GNU-stack").is_some());
    let descriptor = file.section_by_name(".precast.descriptor").unwrap();
    assert_eq!(
        descriptor.relocations().count(),
        precast_format::linked::SECTIONS.len()
    );

    // The same object is an artifact file: it runs and inspects like one.
    let o = precast(&["run", fib.to_str().unwrap(), "--invoke", "fib", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "6765");
    let o = precast(&["inspect", fib.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("linkable object: link name `fib` (symbol `precast_module_fib`)"),
        "{}",
        stdout(&o)
    );

    // A C host links both (PIE, no text relocations, warnings fatal) and finds them.
    let main_c = tmp("main.c");
    std::fs::write(
        &main_c,
        "#include <string.h>\n\
         extern const char precast_module_fib[], precast_module_fib_again[];\n\
         int main(void) {\n\
           return memcmp(precast_module_fib, \"PCSTLNK\", 8) != 0\n\
               || memcmp(precast_module_fib_again, \"PCSTLNK\", 8) != 0;\n\
         }\n",
    )
    .unwrap();
    let exe = tmp("linked-c");
    let cc = Command::new("cc")
        .args(["-pie", "-fPIE", "-Wl,-z,text", "-Wl,--fatal-warnings", "-o"])
        .arg(&exe)
        .arg(&main_c)
        .arg(&fib)
        .arg(&fib2)
        .output();
    let Ok(cc) = cc else {
        eprintln!("SKIPPED linking with cc: no C compiler");
        return;
    };
    assert!(cc.status.success(), "{}", stderr(&cc));
    let st = Command::new(&exe).status().unwrap();
    assert!(st.success());
    // The executable's stack stays non-executable.
    let exe_bytes = std::fs::read(&exe).unwrap();
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(&*exe_bytes).unwrap();
    let e = elf.endian();
    use object::read::elf::ProgramHeader;
    let stack = elf
        .elf_program_headers()
        .iter()
        .find(|p| p.p_type(e) == object::elf::PT_GNU_STACK)
        .expect("a GNU_STACK header");
    assert_eq!(stack.p_flags(e) & object::elf::PF_X, 0);

    let o = precast(&[
        "compile",
        &example(),
        "-o",
        tmp("bad.o").to_str().unwrap(),
        "--link-name",
        "not-a-name",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("link name `not-a-name` is not a C identifier"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cross_compiled_artifacts_inspect_anywhere_and_load_only_on_their_target() {
    let host = precast_compiler::host_target();
    for (target, features) in [
        ("aarch64-unknown-linux-gnu", "(none)"),
        ("riscv64gc-unknown-linux-gnu", "c"),
        (
            "x86_64-unknown-linux-gnu",
            "sse3,ssse3,sse4.1,sse4.2,popcnt",
        ),
    ] {
        let out = tmp(&format!("fib-{target}.pcst"));
        // Without --cpu another target gets its baseline.
        let cpu: &[&str] = if target == host {
            &["--cpu", "baseline"]
        } else {
            &[]
        };
        let mut args = vec!["compile", "--target", target, "-o", out.to_str().unwrap()];
        args.extend(cpu);
        let example = example();
        args.push(&example);
        let o = precast(&args);
        assert!(o.status.success(), "{target}: {}", stderr(&o));
        let o = precast(&["inspect", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(&format!("target: {target}\n")), "{text}");
        assert!(
            text.contains(&format!("cpu features: {features}\n")),
            "{text}"
        );
        let o = precast(&["run", out.to_str().unwrap(), "--invoke", "fib", "10"]);
        if target == host {
            assert!(text.contains("loads here: yes"), "{text}");
            assert_eq!(stdout(&o).trim(), "55");
        } else {
            assert!(text.contains("loads here: no"), "{text}");
            assert_eq!(o.status.code(), Some(1));
            let msg = stderr(&o);
            assert!(
                msg.contains(&format!("compiled for target `{target}`")) && msg.contains(&host),
                "{msg}"
            );
        }
    }
}

#[test]
fn targets_lists_cpus_and_features_and_bad_cpus_are_refused() {
    let o = precast(&["targets"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in [
        "aarch64-unknown-linux-gnu",
        "cortex-a76",
        "rva23u64",
        "zicond",
        "x86-64-v3",
    ] {
        assert!(text.contains(needle), "{text}");
    }
    let out = tmp("never.pcst");
    for (args, needle) in [
        (
            vec!["--target", "aarch64-unknown-linux-gnu", "--cpu", "native"],
            "--cpu native",
        ),
        (
            vec!["--target", "aarch64-unknown-linux-gnu", "--cpu", "+avx2"],
            "not a feature of aarch64",
        ),
        (
            vec!["--target", "sparc-unknown-linux-gnu"],
            "unsupported target",
        ),
        (vec!["--cpu", "+nosuch"], "unknown CPU feature `nosuch`"),
    ] {
        let mut all = vec!["compile", "-o", out.to_str().unwrap()];
        all.extend(args);
        let example = example();
        all.push(&example);
        let o = precast(&all);
        assert!(!o.status.success(), "{all:?}");
        assert!(stderr(&o).contains(needle), "{all:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    assert!(!out.exists());
}

#[test]
fn keygen_sign_and_trust() {
    let dir = tmp("keys");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    for k in ["a", "b"] {
        let o = precast(&["keygen", "-o", &path(k)]);
        assert!(o.status.success(), "{}", stderr(&o));
        let private = std::fs::read_to_string(path(k)).unwrap();
        assert!(
            private.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{private}"
        );
        let public = std::fs::read_to_string(path(&format!("{k}.pub"))).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(k)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // keygen never overwrites a key.
    let o = precast(&["keygen", "-o", &path("a")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));

    let signed = path("signed.pcst");
    let o = precast(&["compile", &example(), "-o", &signed, "--sign", &path("a")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |file: &str, trust: &str| {
        precast(&["run", file, "--trust", trust, "--invoke", "fib", "10"])
    };
    let o = run(&signed, &path("a.pub"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "55");
    let o = precast(&["inspect", &signed]);
    assert!(
        stdout(&o).contains("signature: valid, key "),
        "{}",
        stdout(&o)
    );
    // Another key's public half: refused, naming the signer.
    let o = run(&signed, &path("b.pub"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a trusted key"), "{}", stderr(&o));
    // Unsigned: refused; signed afterwards with `precast sign`: accepted.
    let unsigned = path("unsigned.pcst");
    let o = precast(&["compile", &example(), "-o", &unsigned]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&unsigned, &path("b.pub"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not signed"), "{}", stderr(&o));
    let o = precast(&["sign", &unsigned, "--key", &path("b")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&unsigned, &path("b.pub"));
    assert!(o.status.success(), "{}", stderr(&o));
    // A byte changed after signing: refused, also with --unchecked.
    let mut bytes = std::fs::read(&signed).unwrap();
    let at = text_byte(&bytes);
    bytes[at] ^= 1;
    let tampered = path("tampered.pcst");
    std::fs::write(&tampered, &bytes).unwrap();
    for extra in [None, Some("--unchecked")] {
        let mut args = vec!["run", &tampered, "--trust"];
        let a_pub = path("a.pub");
        args.push(&a_pub);
        args.extend(extra);
        args.extend(["--invoke", "fib", "10"]);
        let o = precast(&args);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("error: "), "{}", stderr(&o));
    }
    // Bad key files are clear errors.
    let o = run(&signed, &path("a"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not an ed25519 public key"),
        "{}",
        stderr(&o)
    );
    let o = precast(&["sign", &unsigned, "--key", &path("a.pub")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not an ed25519 private key"),
        "{}",
        stderr(&o)
    );
}

/// File offset of the last byte of `.text` (alignment padding, never executed).
fn text_byte(bytes: &[u8]) -> usize {
    use object::{Object, ObjectSection};
    let f = object::File::parse(bytes).unwrap();
    let (at, len) = f.section_by_name(".text").unwrap().file_range().unwrap();
    (at + len - 1) as usize
}

#[test]
fn unchecked_runs_skip_only_the_code_checksum() {
    let out = tmp("unchecked.pcst");
    let o = precast(&["compile", &example(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = precast(&[
        "run",
        out.to_str().unwrap(),
        "--unchecked",
        "--invoke",
        "fib",
        "10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "55");
    // The last byte of .text (alignment padding, never executed): the default run refuses
    // it, --unchecked does not read it.
    let mut bad = std::fs::read(&out).unwrap();
    let at = text_byte(&bad);
    bad[at] ^= 0x5a;
    std::fs::write(&out, &bad).unwrap();
    let o = precast(&["run", out.to_str().unwrap(), "--invoke", "fib", "10"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("sections are corrupted"),
        "{}",
        stderr(&o)
    );
    let o = precast(&[
        "run",
        out.to_str().unwrap(),
        "--unchecked",
        "--invoke",
        "fib",
        "10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn run_and_compile_with_a_timeout_and_fuel() {
    let wat = tmp("spin.wat");
    std::fs::write(
        &wat,
        r#"(module (func (export "spin") (loop $l (br $l))) (func (export "two") (result i32) (i32.const 2)))"#,
    )
    .unwrap();
    let w = wat.to_str().unwrap();
    // `precast run` compiles the checks in by itself.
    let o = precast(&["run", w, "--invoke", "spin", "--timeout", "100ms"]);
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));
    assert!(stderr(&o).contains("--timeout 100ms"), "{}", stderr(&o));
    let o = precast(&["run", w, "--invoke", "spin", "--fuel", "5000"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let o = precast(&[
        "run",
        w,
        "--invoke",
        "two",
        "--fuel",
        "5000",
        "--timeout",
        "5s",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "2");
    let o = precast(&["run", w, "--invoke", "two", "--epoch-interruption"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--timeout"), "{}", stderr(&o));
    // An artifact compiled with both runs under both limits.
    let art = tmp("spin.pcst");
    let a = art.to_str().unwrap();
    let o = precast(&[
        "compile",
        w,
        "-o",
        a,
        "--epoch-interruption",
        "--consume-fuel",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = precast(&[
        "run",
        a,
        "--invoke",
        "spin",
        "--timeout",
        "100ms",
        "--fuel",
        "1000000000000",
    ]);
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));
    let o = precast(&["inspect", a]);
    assert!(stdout(&o).contains("epoch"), "{}", stdout(&o));
}

/// The entries of a perf map: `(start, size, name)`.
fn perf_map_entries(text: &str) -> Vec<(u64, u64, String)> {
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let start = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
            let size = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
            (start, size, parts.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn profile_perfmap_names_every_function_and_trampoline() {
    let child = Command::new(env!("CARGO_BIN_EXE_precast"))
        .args([
            "run",
            "--profile",
            "perfmap",
            &example(),
            "--invoke",
            "fib",
            "20",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let map = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "6765");
    let text = std::fs::read_to_string(&map).expect("the run wrote its perf map");
    std::fs::remove_file(&map).unwrap();
    let entries = perf_map_entries(&text);
    let names: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    for want in ["example!fib", "example!precast-entry-trampoline[0]"] {
        assert!(names.contains(&want), "{want} missing from:\n{text}");
    }
    // Entries are sorted, non-empty and disjoint.
    for w in entries.windows(2) {
        assert!(w[0].1 > 0 && w[0].0 + w[0].1 <= w[1].0, "{text}");
    }
    // Without the flag, no map is written.
    let child = Command::new(env!("CARGO_BIN_EXE_precast"))
        .args(["run", &example(), "--invoke", "fib", "5"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let map = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    assert!(child.wait_with_output().unwrap().status.success());
    assert!(!map.exists());
}

/// `perf record` of a module compiled in memory (its code in anonymous memory, which no
/// file names) attributes samples to the wasm function through the perf map.
#[test]
fn perf_report_names_wasm_functions_of_modules_loaded_from_bytes() {
    let data = tmp("perf.data");
    let record = Command::new("perf")
        .args(["record", "-q", "-o", data.to_str().unwrap(), "--"])
        .args([env!("CARGO_BIN_EXE_precast"), "run", "--profile", "perfmap"])
        .args([&example(), "--invoke", "fib", "32"])
        .output();
    let record = match record {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "SKIPPED: perf record cannot sample here (perf_event_paranoid?): {}",
                stderr(&o)
            );
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED: no perf on this machine: {e}");
            return;
        }
    };
    assert_eq!(stdout(&record).trim(), "2178309");
    let report = Command::new("perf")
        .args(["report", "--stdio", "--no-children", "--sort", "symbol"])
        .args(["-i", data.to_str().unwrap()])
        .output()
        .unwrap();
    let text = stdout(&report);
    assert!(
        text.contains("example!fib"),
        "{}\n{}",
        text,
        stderr(&report)
    );
}

/// Runs `gdb -batch` with `commands` on `args`; `None` (after a loud skip) where there is no
/// gdb and `PRECAST_GDB_REQUIRED` (CI) is not set.
fn gdb(commands: &[&str], args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx", "-ex", "set breakpoint pending on"]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    match cmd.arg("--args").args(args).output() {
        Ok(o) => Some(format!("{}{}", stdout(&o), stderr(&o))),
        Err(e) if std::env::var_os("PRECAST_GDB_REQUIRED").is_none() => {
            eprintln!("SKIPPED: no gdb on this machine: {e}");
            None
        }
        Err(e) => panic!("PRECAST_GDB_REQUIRED is set but gdb cannot run: {e}"),
    }
}

/// `precast run --debugger` announces the artifact's code to gdb (the GDB JIT interface):
/// a breakpoint on a wasm function by name and on a wasm offset ("line" of `example.wasm`)
/// hits, `bt` shows the recursive wasm frames with their offsets and the host frames below;
/// without `--debugger` gdb knows nothing of the code and the breakpoint never hits.
#[test]
fn gdb_breaks_in_and_backtraces_through_wasm_functions_of_precast_run() {
    let artifact = tmp("gdb-fib.pcst");
    let out = precast(&["compile", &example(), "-o", artifact.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let precast = env!("CARGO_BIN_EXE_precast");
    let run = [
        precast,
        "run",
        "--debugger",
        artifact.to_str().unwrap(),
        "--invoke",
        "fib",
        "6",
    ];
    // The third hit of `fib` is two calls deep.
    let Some(text) = gdb(&["break fib", "run", "continue 2", "bt", "kill"], &run) else {
        return;
    };
    let frames: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert!(
        text.contains("Breakpoint 1, fib () at example.wasm:"),
        "{text}"
    );
    let fib = frames
        .iter()
        .filter(|l| l.contains(" fib () at example.wasm:"))
        .count();
    assert_eq!(fib, 3, "{text}");
    for below in [
        "precast-entry-trampoline[",
        "precast_call_catch",
        "real_main",
    ] {
        assert!(
            frames.iter().any(|l| l.contains(below)),
            "no `{below}` frame:\n{text}"
        );
    }
    // A breakpoint on the wasm offset of the first `fib` frame's line.
    let line = text
        .split("Breakpoint 1, fib () at example.wasm:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let Some(text) = gdb(
        &[&format!("break example.wasm:{line}"), "run", "bt 1", "kill"],
        &run,
    ) else {
        return;
    };
    assert!(
        text.contains(&format!("fib () at example.wasm:{line}")),
        "{text}"
    );
    // Without --debugger: never hit, the program runs to its end.
    let plain = [
        precast,
        "run",
        artifact.to_str().unwrap(),
        "--invoke",
        "fib",
        "6",
    ];
    let text = gdb(&["break fib", "run"], &plain).unwrap();
    assert!(!text.contains("Breakpoint 1, fib"), "{text}");
    assert!(text.contains("exited normally"), "{text}");
}

/// Every artifact carries native DWARF: `addr2line` maps an instruction of `fib` to the
/// function and to `example.wasm:OFFSET`, an offset inside the module's code; with
/// `--no-debug-info` it finds nothing (the symbols stay).
#[test]
fn addr2line_maps_code_to_functions_and_wasm_offsets() {
    let wasm = wat::parse_file(example()).unwrap();
    let code = {
        let mut range = 0..0;
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let Ok(wasmparser::Payload::CodeSectionStart { range: r, .. }) = payload {
                range = r;
            }
        }
        range
    };
    let with = tmp("dwarf.pcst");
    let without = tmp("no-dwarf.pcst");
    let source = example();
    for (path, extra) in [(&with, None), (&without, Some("--no-debug-info"))] {
        let mut args = vec!["compile", &source, "-o", path.to_str().unwrap()];
        args.extend(extra);
        let out = precast(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let addr2line = |path: &PathBuf| {
        let out = Command::new("addr2line")
            .args(["-f", "-e", path.to_str().unwrap(), "0x10"])
            .output();
        match out {
            Ok(o) => Some(stdout(&o)),
            Err(e) if std::env::var_os("PRECAST_GDB_REQUIRED").is_none() => {
                eprintln!("SKIPPED: no addr2line on this machine: {e}");
                None
            }
            Err(e) => panic!("addr2line (binutils) cannot run: {e}"),
        }
    };
    let Some(text) = addr2line(&with) else {
        return;
    };
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("fib"), "{text}");
    let location = lines.next().unwrap();
    let offset: usize = location
        .rsplit_once("example.wasm:")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or_else(|| panic!("not a wasm offset: {text}"));
    assert!(code.contains(&offset), "{offset} outside the code {code:?}");
    let text = addr2line(&without).unwrap();
    assert!(text.contains("??:"), "{text}");
}

/// `precast compile -g` of a C module built with debug information
/// (`examples/debug/fib.c`), run with `--debugger`: gdb breaks on `fib.c:7`, and `bt` shows
/// the recursive `fib` frames at `fib.c:10`, `compute` at `fib.c:18` and the runner below;
/// a breakpoint on the inlined `square` stops in its frame, inside `compute`'s.
/// Without `-g` the same code has wasm offsets for lines, and `fib.c` is unknown.
#[test]
fn gdb_breaks_on_c_source_lines_with_compile_g() {
    let source = format!("{}/../examples/debug/fib.wasm", env!("CARGO_MANIFEST_DIR"));
    let with = tmp("cfib-g.pcst");
    let without = tmp("cfib.pcst");
    for (path, g) in [(&with, true), (&without, false)] {
        let mut args = vec!["compile", &source, "-o", path.to_str().unwrap()];
        if g {
            args.push("-g");
        }
        let out = precast(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let precast = env!("CARGO_BIN_EXE_precast");
    let run = |path: &PathBuf| {
        let path = path.to_str().unwrap().to_string();
        [
            precast.to_string(),
            "run".into(),
            "--debugger".into(),
            path,
            "--invoke".into(),
        ]
        .into_iter()
        .chain(["compute".into(), "5".into()])
        .collect::<Vec<String>>()
    };
    let args = run(&with);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(text) = gdb(
        &["break fib.c:7", "run", "continue 2", "bt 30", "kill"],
        &args,
    ) else {
        return;
    };
    let frames: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert!(
        frames
            .first()
            .is_some_and(|f| f.contains(" fib () at fib.c:7")),
        "{text}"
    );
    let recursive = frames
        .iter()
        .filter(|l| l.contains(" fib () at fib.c:10"))
        .count();
    assert_eq!(recursive, 2, "{text}");
    let compute = frames
        .iter()
        .position(|l| l.contains(" compute () at fib.c:18"));
    let runner = frames.iter().position(|l| l.contains("real_main"));
    assert!(compute.is_some() && runner > compute, "{text}");
    // An inlined function: its frame, at its line, inside its caller's at the call site.
    let Some(text) = gdb(&["break square", "run", "bt 3", "kill"], &args) else {
        return;
    };
    let frames: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert!(frames.len() > 1, "{text}");
    assert!(frames[0].contains(" square () at fib.c:14"), "{text}");
    assert!(frames[1].contains(" compute () at fib.c:19"), "{text}");
    let args = run(&without);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = gdb(&["break fib", "run", "bt 1", "kill"], &args).unwrap();
    let stop = text
        .lines()
        .find(|l| l.starts_with("#0"))
        .unwrap_or_default();
    assert!(
        stop.contains(" fib () at ") && stop.contains(".wasm:"),
        "{text}"
    );
    assert!(!text.contains("fib.c"), "{text}");
}

/// `-g` on a module whose DWARF is malformed fails with the reason; without `-g` the same
/// module compiles (its custom sections are not read).
#[test]
fn compile_g_refuses_malformed_dwarf_with_the_reason() {
    let wat = tmp("bad-dwarf.wat");
    std::fs::write(
        &wat,
        r#"(module (@custom ".debug_line" "\ff") (@custom ".debug_info" "\07\00\00\00\04\00") (func (export "f")))"#,
    )
    .unwrap();
    let out_path = tmp("bad-dwarf.pcst");
    let (src, dst) = (wat.to_str().unwrap(), out_path.to_str().unwrap());
    let out = precast(&["compile", "-g", src, "-o", dst]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the module's DWARF (-g)"),
        "{}",
        stderr(&out)
    );
    let out = precast(&["compile", src, "-o", dst]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `--profile jitdump`: `perf record -k mono`, `perf inject --jit` and `perf report` name
/// the wasm function, in the ELF image perf made from the dump's record (its code copied).
#[test]
fn perf_inject_jit_names_wasm_functions_from_the_jitdump() {
    let dir = tmp("jitdump");
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("perf.data");
    let record = Command::new("perf")
        .args([
            "record",
            "-k",
            "mono",
            "-q",
            "-o",
            data.to_str().unwrap(),
            "--",
        ])
        .args([env!("CARGO_BIN_EXE_precast"), "run", "--profile", "jitdump"])
        .args([&example(), "--invoke", "fib", "32"])
        .output();
    match record {
        Ok(o) if o.status.success() => assert_eq!(stdout(&o).trim(), "2178309"),
        Ok(o) => {
            eprintln!("SKIPPED: perf record cannot sample here: {}", stderr(&o));
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED: no perf on this machine: {e}");
            return;
        }
    }
    let injected = dir.join("perf.jit.data");
    let inject = Command::new("perf")
        .args(["inject", "--jit", "-i", data.to_str().unwrap()])
        .args(["-o", injected.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(inject.status.success(), "{}", stderr(&inject));
    let report = Command::new("perf")
        .args(["report", "--stdio", "--no-children", "--sort", "symbol,dso"])
        .args(["-i", injected.to_str().unwrap()])
        .output()
        .unwrap();
    let text = stdout(&report);
    let line = text.lines().find(|l| l.contains("example!fib"));
    assert!(
        line.is_some_and(|l| l.contains("jitted-")),
        "{text}\n{}",
        stderr(&report)
    );
}

#[test]
fn memory64_grows_past_4_gib_up_to_the_memory64_reservation() {
    // Grows a 64-bit memory by the given pages, stores past 4 GiB when that worked.
    let wat = tmp("memory64.wat");
    std::fs::write(
        &wat,
        r#"(module (memory i64 1)
  (func (export "grow") (param i64) (result i64)
    (local $old i64)
    (local.set $old (memory.grow (local.get 0)))
    (if (i64.ne (local.get $old) (i64.const -1))
      (then (i64.store (i64.const 0x1_0000_1000) (i64.const 42))
            (return (i64.load (i64.const 0x1_0000_1000)))))
    (local.get $old)))"#,
    )
    .unwrap();
    let wat = wat.to_str().unwrap();
    // 6 GiB of pages: fine by default (64 GiB of address space), refused under 5 GiB.
    let o = precast(&["run", wat, "--invoke", "grow", "98304"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "42");
    let o = precast(&[
        "run",
        "--memory64-reservation",
        "5G",
        wat,
        "--invoke",
        "grow",
        "98304",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "-1");
    let o = precast(&["run", "--memory64-reservation", "5X", wat]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a size in bytes"), "{}", stderr(&o));
}
