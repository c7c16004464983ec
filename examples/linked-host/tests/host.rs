//! Runs the example host, whose modules its build script linked in. Cross-built, the tests
//! run under an emulator and start the host through it too: `PRECAST_TARGET_RUNNER` holds
//! the emulator's command line (`cargo xtask cross` sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HOST: &str = env!("CARGO_BIN_EXE_linked-host");
/// Where `build.rs` wrote the linkable objects and archives.
const OBJECTS: &str = concat!(env!("OUT_DIR"), "/precast");

/// The emulator command line the host binaries run under, when cross-built.
fn emulator() -> Option<Vec<String>> {
    let runner = std::env::var("PRECAST_TARGET_RUNNER").ok()?;
    Some(runner.split_whitespace().map(str::to_string).collect())
}

/// A command starting the executable `exe` (through the emulator, when there is one).
fn command(exe: impl AsRef<std::ffi::OsStr>) -> Command {
    match emulator().as_deref() {
        Some([program, args @ ..]) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        _ => Command::new(exe),
    }
}

fn run(args: &[&str]) -> Output {
    command(HOST).args(args).output().expect("the host runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("linked-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const DEMO: &str = "\
math: add(2, 3) = 5, fib(20) = 6765, quadruple(5) = 20, memory = \"precast\"
math_again: add(2, 3) = 5, fib(20) = 6765, quadruple(5) = 20, memory = \"precast\"
math: counter = 1, first byte = 'P'
math_again: counter = 2, first byte = 'Q'
pooled instance 0: first byte 'p'
pooled instance 1: first byte 'p'
pooled instance 2: first byte 'p'
";

#[test]
fn two_modules_and_one_linked_twice_run_in_one_binary() {
    let o = run(&["demo"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), DEMO);
}

#[test]
fn wasi_command_gets_args_env_and_preopen() {
    let dir = scratch("greet");
    std::fs::write(dir.join("greeting.txt"), "linked hello\n").unwrap();
    let preopen = format!("{}::/", dir.display());
    let o = run(&[
        "greet",
        "--dir",
        &preopen,
        "--env",
        "GREETING=hi",
        "--",
        "one",
        "two",
    ]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        stdout(&o),
        "arg: greet\narg: one\narg: two\nenv: GREETING=hi\nfile: linked hello\n"
    );
    // Without the preopen the program cannot open the file and exits with status 3.
    let o = run(&["greet", "--", "x"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert_eq!(stdout(&o), "arg: greet\narg: x\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trap_in_linked_module_names_its_functions() {
    let o = run(&["trap"]);
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    let trap = out.find("ratio(1, 0): wasm trap: integer divide by zero");
    let divide = out.find("math!divide");
    let ratio = out.find("math!ratio");
    assert!(
        trap.is_some() && divide.is_some() && ratio.is_some() && divide < ratio,
        "{out}"
    );
    // The store keeps working after the trap.
    assert!(out.ends_with("ratio(6, 3) = 200\n"), "{out}");
}

#[test]
fn module_for_other_cpu_features_is_refused_naming_them() {
    let o = run(&["cpu"]);
    assert!(o.status.success(), "{o:?}");
    let feature = if cfg!(target_arch = "aarch64") {
        "lse"
    } else if cfg!(target_arch = "riscv64") {
        "zbb"
    } else {
        "avx2"
    };
    assert_eq!(
        stdout(&o),
        format!(
            "math_avx2: artifact needs CPU features this host lacks: {feature} \
             (not allowed by Config::cpu_features)\n"
        )
    );
}

/// Puts the build's objects and archives out of reach while it lives.
struct Hidden {
    from: PathBuf,
    to: PathBuf,
}

impl Hidden {
    fn new(dir: &Path) -> Hidden {
        let to = dir.with_extension(format!("hidden-{}", std::process::id()));
        std::fs::rename(dir, &to).expect("hide the build's objects");
        Hidden {
            from: dir.to_path_buf(),
            to,
        }
    }
}

impl Drop for Hidden {
    fn drop(&mut self) {
        std::fs::rename(&self.to, &self.from).expect("restore the build's objects");
    }
}

#[test]
fn runs_without_any_artifact_file() {
    let objects = Path::new(OBJECTS);
    let built: Vec<String> = std::fs::read_dir(objects)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in ["greet", "math", "math_again", "math_avx2", "hello"] {
        assert!(built.contains(&format!("libprecast_{name}.a")), "{built:?}");
    }
    // A copy of the binary, run elsewhere, with the objects gone.
    let dir = scratch("moved");
    let host = dir.join("linked-host");
    std::fs::copy(HOST, &host).unwrap();
    let _hidden = Hidden::new(objects);
    // Another test's child forked while the copy's write handle was open holds that handle
    // until it execs, and until then the copy cannot run ("text file busy"): retry.
    let mut tries = 0;
    let o = loop {
        match command(&host).arg("demo").current_dir(&dir).output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => break r.unwrap(),
        }
    };
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), DEMO);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn strace_shows_no_module_file_and_no_executable_mapping() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("SKIPPED: strace is not installed (.ci/run installs it)");
        return;
    }
    if emulator().is_some() {
        // The emulator maps its own translated code executable: the check says nothing.
        eprintln!("SKIPPED under emulation: the emulator's translator maps executable memory");
        return;
    }
    let dir = scratch("strace");
    let log = dir.join("trace");
    // Cargo points LD_LIBRARY_PATH at the build's link-search folders, the objects' among
    // them; a deployed host has no such setting.
    let o = Command::new("strace")
        .env_remove("LD_LIBRARY_PATH")
        .args(["-f", "-e", "trace=%file,%desc,mmap,mprotect", "-o"])
        .arg(&log)
        .args([HOST, "demo"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), DEMO);
    let trace = std::fs::read_to_string(&log).unwrap();
    for line in trace.lines() {
        let l = line.to_ascii_lowercase();
        for needle in [
            ".pcst", ".wasm", ".wat\"", ".o\"", ".a\"", "precast_", OBJECTS,
        ] {
            assert!(
                !l.contains(&needle.to_ascii_lowercase()),
                "the host touched a module file: {line}"
            );
        }
        // Code is never made executable at run time (the dynamic loader maps the binary and
        // its libraries before `main`, with `mmap`, not `mprotect`).
        assert!(
            !(l.contains("mprotect(") && l.contains("prot_exec")),
            "the host made memory executable: {line}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn runaway_guests_are_stopped_by_epoch_and_by_fuel_with_the_same_fuel_everywhere() {
    let o = run(&["contain"]);
    assert!(o.status.success(), "{o:?}");
    let interrupt = "interrupt: the epoch deadline was reached; then answer() = 42";
    let out_of_fuel = "all fuel consumed; then answer() = 42";
    // The fuel figures are the translator's count of wasm operators, so a cross-built host
    // under emulation must print exactly these.
    assert_eq!(
        stdout(&o),
        format!(
            "epoch: spin: {interrupt}\n\
             epoch: fib: {interrupt}\n\
             epoch: host-loop: {interrupt}\n\
             fuel: spin: {out_of_fuel}\n\
             fuel: fib: {out_of_fuel}\n\
             fuel: host-loop: {out_of_fuel}\n\
             fuel: count(0) = 0 used 5 fuel\n\
             fuel: count(1) = 1 used 14 fuel\n\
             fuel: count(1000) = 1000 used 9005 fuel\n"
        )
    );
}

/// `gdb -batch` on this host with `args`, running `commands` then `kill`; its output.
/// `None` (after a loud skip) under an emulator, or without gdb unless
/// `PRECAST_GDB_REQUIRED` (CI) is set.
fn gdb(commands: &[&str], args: &[&str]) -> Option<String> {
    if emulator().is_some() {
        eprintln!("SKIPPED: gdb does not debug through the emulator");
        return None;
    }
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx"]);
    for c in commands.iter().chain(&["kill"]) {
        cmd.args(["-ex", c]);
    }
    match cmd.arg("--args").arg(HOST).args(args).output() {
        Ok(o) => Some(format!(
            "{}{}",
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) if std::env::var_os("PRECAST_GDB_REQUIRED").is_none() => {
            eprintln!("SKIPPED: no gdb on this machine: {e}");
            None
        }
        Err(e) => panic!("PRECAST_GDB_REQUIRED is set but gdb cannot run: {e}"),
    }
}

/// gdb on this statically linked host (the linked objects carry `.eh_frame`, symbols and a
/// line table): a breakpoint on the wasm function `quadruple` by name, and one on the host
/// function it calls (`host.double`); `bt` goes from the host function through
/// the exit trampoline, `quadruple () at math.wasm:OFFSET` and the entry trampoline into
/// `demo` and `main`. Not under an emulator; without gdb, a loud skip unless
/// `PRECAST_GDB_REQUIRED` (CI) is set.
#[test]
fn gdb_breaks_in_and_backtraces_through_linked_wasm_functions() {
    let commands = [
        "break quadruple",
        "break double",
        "run",
        "bt 1",
        "continue",
        "bt 30",
    ];
    let Some(text) = gdb(&commands, &["demo"]) else {
        return;
    };
    assert!(text.contains(", quadruple () at math.wasm:"), "{text}");
    let frames: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    let at = |from: usize, what: &str| {
        (from..frames.len())
            .find(|&i| frames[i].contains(what))
            .unwrap_or_else(|| panic!("no frame `{what}` after #{from}:\n{text}"))
    };
    // The second stop: in the host function, below it the wasm frames, below them the host.
    let host = at(1, " double () at ");
    let exit = at(host, "precast-exit-trampoline[");
    let wasm = at(exit, "quadruple () at math.wasm:");
    let entry = at(wasm, "precast-entry-trampoline[");
    let catch = at(entry, "precast_call_catch");
    at(catch, "demo () at ");
}

/// The C module `examples/debug/fib.c`, linked with its source lines (`-g`): gdb breaks on
/// `fib.c:7`, and `bt` shows the recursive `fib` frames at `fib.c:10`, `compute` at
/// `fib.c:18`, then the trampoline and the host's `cfib` below; on the inlined `square`, its
/// frame inside `compute`'s.
#[test]
fn gdb_breaks_on_c_source_lines_of_a_linked_module() {
    let o = run(&["cfib", "10"]);
    assert_eq!(stdout(&o), "compute(10) = 3026\n", "{o:?}");
    let commands = ["break fib.c:7", "run", "continue 2", "bt 30"];
    let Some(text) = gdb(&commands, &["cfib", "5"]) else {
        return;
    };
    let frames: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert!(frames[0].contains(" fib () at fib.c:7"), "{text}");
    let recursive = frames
        .iter()
        .filter(|l| l.contains(" fib () at fib.c:10"))
        .count();
    assert_eq!(recursive, 2, "{text}");
    let compute = frames
        .iter()
        .position(|l| l.contains(" compute () at fib.c:18"));
    let host = frames.iter().position(|l| l.contains(" cfib () at "));
    assert!(compute.is_some() && host > compute, "{text}");
    // The inlined `square`: its own frame at its line, inside `compute` at the call site.
    let text = gdb(&["break square", "run", "bt 3"], &["cfib", "5"]).unwrap();
    let frames: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert!(frames.len() > 1, "{text}");
    assert!(frames[0].contains(" square () at fib.c:14"), "{text}");
    assert!(frames[1].contains(" compute () at fib.c:19"), "{text}");
}
