//! How the conformance runners get artifacts.
//!
//! Built with the `compiler` feature (the default), a runner compiles in its own process for
//! the machine it runs on. Built without it, for another target and run under an emulator, a
//! runner has no compiler: it sends each module to a *compile server* on the build machine,
//! the native `compile-server` binary of this crate, started once per thread and compiling
//! for the target the runner runs on. The code under test (load, link, instantiate, run)
//! is the target's either way; only Cranelift runs natively, as it does when artifacts are
//! precompiled at build time.
//!
//! The protocol on the server's stdin/stdout: the runner writes a little-endian `u32` length
//! and that many bytes of wasm; the server answers with one status byte (0: artifact, 1:
//! compile error), a `u32` length and the artifact or the error message.

use std::io::{Read, Write};

/// The environment variable naming the compile server's executable.
pub const SERVER_ENV: &str = "PRECAST_COMPILE_SERVER";
/// The environment variable with the server's arguments (`--target T --cpu C`), split at
/// spaces.
pub const SERVER_ARGS_ENV: &str = "PRECAST_COMPILE_ARGS";

/// How a runner compiles and loads: with the default settings, or for a runtime without
/// signal handlers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Default settings (guard pages, signal-based traps), default engine.
    #[default]
    Default,
    /// Explicit bounds checks and no signal-based traps
    /// ([`Settings::without_signals`](precast_format::Settings::without_signals), `precast
    /// compile --no-signals`), run by an engine that installs no signal handlers.
    NoSignals,
}

impl Mode {
    /// The compiler settings of this mode.
    pub fn settings(self) -> precast_format::Settings {
        match self {
            Mode::Default => precast_format::Settings::default(),
            Mode::NoSignals => precast_format::Settings::without_signals(),
        }
    }

    /// The loader configuration of this mode.
    pub fn engine_config(self) -> precast_loader::Config {
        let mut config = precast_loader::Config::default();
        config.signal_handlers(self == Mode::Default);
        config
    }

    /// The compile server's extra argument for this mode.
    fn server_args(self) -> &'static [&'static str] {
        match self {
            Mode::Default => &[],
            Mode::NoSignals => &["--no-signals"],
        }
    }
}

/// Compiles wasm (binary or text) to artifact bytes for the machine this runs on.
pub fn compile(wasm: &[u8]) -> Result<Vec<u8>, String> {
    compile_in(wasm, Mode::Default)
}

/// Compiles wasm (binary or text) to artifact bytes for the machine this runs on, in `mode`.
pub fn compile_in(wasm: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    if std::env::var_os(SERVER_ENV).is_some() {
        return remote(wasm, mode);
    }
    local(wasm, mode)
}

#[cfg(feature = "compiler")]
fn local(wasm: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    let config = precast_compiler::Config {
        settings: mode.settings(),
        ..precast_compiler::Config::default()
    };
    precast_compiler::compile(wasm, &config).map_err(|e| e.to_string())
}

#[cfg(not(feature = "compiler"))]
fn local(_wasm: &[u8], _mode: Mode) -> Result<Vec<u8>, String> {
    Err(format!(
        "this runner was built without the compiler: set {SERVER_ENV} to the build machine's \
         `compile-server` (`cargo xtask spec --target TRIPLE` does)"
    ))
}

struct Server {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::process::ChildStdout,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(mode: Mode) -> Result<Server, String> {
    let program = std::env::var_os(SERVER_ENV).unwrap_or_default();
    let args = std::env::var(SERVER_ARGS_ENV).unwrap_or_default();
    let mut child = std::process::Command::new(&program)
        .args(args.split_whitespace())
        .args(mode.server_args())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the compile server {program:?}: {e}"))?;
    let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
        (Some(i), Some(o)) => (i, o),
        _ => return Err("the compile server has no pipes".into()),
    };
    Ok(Server {
        child,
        stdin,
        stdout,
    })
}

fn exchange(server: &mut Server, wasm: &[u8]) -> std::io::Result<Result<Vec<u8>, String>> {
    let len = u32::try_from(wasm.len()).map_err(std::io::Error::other)?;
    server.stdin.write_all(&len.to_le_bytes())?;
    server.stdin.write_all(wasm)?;
    server.stdin.flush()?;
    let mut head = [0u8; 5];
    server.stdout.read_exact(&mut head)?;
    let mut body = vec![0u8; u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize];
    server.stdout.read_exact(&mut body)?;
    Ok(match head[0] {
        0 => Ok(body),
        _ => Err(String::from_utf8_lossy(&body).into_owned()),
    })
}

fn remote(wasm: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    thread_local! {
        static SERVER: std::cell::RefCell<Option<(Mode, Server)>> =
            const { std::cell::RefCell::new(None) };
    }
    SERVER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(m, _)| *m != mode) {
            *slot = Some((mode, start(mode)?));
        }
        let (_, server) = slot.as_mut().ok_or("no compile server")?;
        match exchange(server, wasm) {
            Ok(result) => result,
            Err(e) => {
                // A dead server (it crashed on this module) is restarted for the next one.
                *slot = None;
                Err(format!("compile server: {e}"))
            }
        }
    })
}

/// Serves compile requests on stdin/stdout until stdin closes (the `compile-server` binary).
#[cfg(feature = "compiler")]
pub fn serve(config: &precast_compiler::Config) -> std::io::Result<()> {
    let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
    loop {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut wasm = vec![0u8; u32::from_le_bytes(len) as usize];
        input.read_exact(&mut wasm)?;
        let compiled = std::panic::catch_unwind(|| precast_compiler::compile(&wasm, config));
        let (status, body) = match compiled {
            Ok(Ok(artifact)) => (0u8, artifact),
            Ok(Err(e)) => (1u8, e.to_string().into_bytes()),
            Err(_) => (1u8, b"the compiler panicked".to_vec()),
        };
        let n = u32::try_from(body.len()).map_err(std::io::Error::other)?;
        output.write_all(&[status])?;
        output.write_all(&n.to_le_bytes())?;
        output.write_all(&body)?;
        output.flush()?;
    }
}
