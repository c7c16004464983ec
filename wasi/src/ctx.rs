//! [`WasiCtx`], the state of one WASI program (arguments, environment, open fds), and
//! [`WasiCtxBuilder`], which sets it up.

use super::fd_table::{Entry, FdTable, Handle};
use super::stdio::{Input, Output, OutputBuffer};
use super::types::rights;
use std::fs::File;
use std::net::TcpListener;
use std::path::Path;

/// The state of one WASI preview1 program: arguments, environment, and its fd table
/// (stdio, preopened directories, files it opened).
///
/// Build one with [`WasiCtxBuilder`], keep it in the store's data, and hand
/// [`add_to_linker`](super::add_to_linker) a closure that finds it there.
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: FdTable,
}

impl std::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtx")
            .field("args", &self.args.len())
            .field("env", &self.env.len())
            .field("fds", &self.fds.len())
            .finish()
    }
}

impl WasiCtx {
    /// A builder with no arguments, no environment, empty stdin, discarded output and no
    /// preopened directories.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }
}

/// Sets up a [`WasiCtx`], in the style of Wasmtime's builder.
///
/// ```no_run
/// use precast_wasi::{OutputBuffer, WasiCtxBuilder};
/// # fn main() -> std::io::Result<()> {
/// let stdout = OutputBuffer::new();
/// let ctx = WasiCtxBuilder::new()
///     .args(["app.wasm", "--verbose"])
///     .env("HOME", "/")
///     .stdout(stdout.clone())
///     .inherit_stderr()
///     .preopened_dir("/srv/data", "/data")?
///     .build();
/// # Ok(())
/// # }
/// ```
pub struct WasiCtxBuilder {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    preopens: Vec<(Handle, u64, u64)>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

impl std::fmt::Debug for WasiCtxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtxBuilder")
            .field("args", &self.args.len())
            .field("env", &self.env.len())
            .field("preopens", &self.preopens.len())
            .finish()
    }
}

impl WasiCtxBuilder {
    /// No arguments, no environment, empty stdin, discarded output, no preopens.
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Input::Null,
            stdout: Output::Null,
            stderr: Output::Null,
            preopens: Vec::new(),
        }
    }

    /// Appends one argument (the first one is the program name, `argv[0]`).
    pub fn arg(&mut self, arg: impl AsRef<[u8]>) -> &mut Self {
        self.args.push(arg.as_ref().to_vec());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Uses this process's arguments.
    pub fn inherit_args(&mut self) -> &mut Self {
        use std::os::unix::ffi::OsStringExt;
        self.args = std::env::args_os().map(|a| a.into_vec()).collect();
        self
    }

    /// Sets environment variable `key` to `value`.
    pub fn env(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        let key = key.as_ref();
        let mut var = key.to_vec();
        var.push(b'=');
        var.extend_from_slice(value.as_ref());
        self.env
            .retain(|v| !(v.starts_with(key) && v.get(key.len()) == Some(&b'=')));
        self.env.push(var);
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Uses this process's environment.
    pub fn inherit_env(&mut self) -> &mut Self {
        use std::os::unix::ffi::OsStringExt;
        for (k, v) in std::env::vars_os() {
            self.env(k.into_vec(), v.into_vec());
        }
        self
    }

    /// Reads stdin from this process's stdin.
    pub fn inherit_stdin(&mut self) -> &mut Self {
        self.stdin = Input::Inherit;
        self
    }

    /// Reads stdin from `bytes`, then end of file.
    pub fn stdin_bytes(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Input::Bytes {
            data: bytes.into(),
            pos: 0,
        };
        self
    }

    /// Writes stdout to this process's stdout.
    pub fn inherit_stdout(&mut self) -> &mut Self {
        self.stdout = Output::Inherit { stderr: false };
        self
    }

    /// Writes stderr to this process's stderr.
    pub fn inherit_stderr(&mut self) -> &mut Self {
        self.stderr = Output::Inherit { stderr: true };
        self
    }

    /// Inherits stdin, stdout and stderr.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// Captures stdout into `buffer`.
    pub fn stdout(&mut self, buffer: OutputBuffer) -> &mut Self {
        self.stdout = Output::Buffer(buffer);
        self
    }

    /// Captures stderr into `buffer`.
    pub fn stderr(&mut self, buffer: OutputBuffer) -> &mut Self {
        self.stderr = Output::Buffer(buffer);
        self
    }

    /// Preopens host directory `host` under the guest name `guest` (for example `/`, `.` or
    /// `/data`). The guest reaches nothing outside it. Fails if `host` cannot be opened as a
    /// directory.
    pub fn preopened_dir(
        &mut self,
        host: impl AsRef<Path>,
        guest: impl AsRef<str>,
    ) -> std::io::Result<&mut Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let host = host.as_ref();
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(host)
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot preopen directory {}: {e}", host.display()),
                )
            })?;
        self.preopened_dir_file(dir, guest);
        Ok(self)
    }

    /// Preopens an already open directory under the guest name `guest`.
    pub fn preopened_dir_file(&mut self, dir: File, guest: impl AsRef<str>) -> &mut Self {
        self.preopens.push((
            Handle::Dir {
                dir,
                preopen: Some(guest.as_ref().as_bytes().to_vec()),
            },
            rights::DIR,
            rights::DIR_INHERITING,
        ));
        self
    }

    /// Hands the guest a listening TCP socket as the next preopened fd, for
    /// `sock_accept` (the only way preview1 gets sockets).
    pub fn preopened_socket(&mut self, listener: TcpListener) -> &mut Self {
        self.preopens
            .push((Handle::Listener(listener), rights::LISTENER, rights::SOCKET));
        self
    }

    /// The context. Preopens get fds 3, 4, ... in the order they were added.
    pub fn build(&mut self) -> WasiCtx {
        let b = std::mem::take(self);
        let mut fds = FdTable::default();
        fds.insert_at(
            0,
            Entry::new(Handle::Stdin(b.stdin), rights::READ_STREAM, 0),
        );
        fds.insert_at(
            1,
            Entry::new(Handle::Stdout(b.stdout), rights::WRITE_STREAM, 0),
        );
        fds.insert_at(
            2,
            Entry::new(Handle::Stdout(b.stderr), rights::WRITE_STREAM, 0),
        );
        for (i, (handle, base, inheriting)) in b.preopens.into_iter().enumerate() {
            fds.insert_at(3 + i as u32, Entry::new(handle, base, inheriting));
        }
        WasiCtx {
            args: b.args,
            env: b.env,
            fds,
        }
    }
}
