//! Standard streams: the host's own (inherited), in-memory ones for tests, or nothing.

use super::errno::{Errno, WasiResult};
use super::types::filetype;
use std::io::IoSlice;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, OnceLock};

/// A shared, growable byte buffer that captures a guest's stdout or stderr.
///
/// Clones share the buffer: keep one, hand the other to [`WasiCtxBuilder`], read it after the
/// run.
///
/// [`WasiCtxBuilder`]: super::WasiCtxBuilder
#[derive(Clone, Debug, Default)]
pub struct OutputBuffer(Arc<Mutex<Vec<u8>>>);

impl OutputBuffer {
    /// An empty buffer.
    pub fn new() -> OutputBuffer {
        OutputBuffer::default()
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// Takes everything written so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(&self, bufs: &[&[u8]]) -> usize {
        let mut v = self.lock();
        let mut n = 0;
        for b in bufs {
            v.extend_from_slice(b);
            n += b.len();
        }
        n
    }
}

/// Where the guest's stdin comes from.
pub(crate) enum Input {
    /// The host process's stdin.
    Inherit,
    /// Fixed bytes, then end of file.
    Bytes { data: Vec<u8>, pos: usize },
    /// Immediately at end of file.
    Null,
}

/// Where the guest's stdout or stderr goes.
pub(crate) enum Output {
    /// The host process's stdout (`stderr == false`) or stderr.
    Inherit { stderr: bool },
    /// A capture buffer.
    Buffer(OutputBuffer),
    /// Discarded.
    Null,
}

/// The host's stdio fds as borrowed handles (stdio lives as long as the process).
pub(crate) fn host_fd(which: u8) -> BorrowedFd<'static> {
    static IN: OnceLock<std::io::Stdin> = OnceLock::new();
    static OUT: OnceLock<std::io::Stdout> = OnceLock::new();
    static ERR: OnceLock<std::io::Stderr> = OnceLock::new();
    match which {
        0 => IN.get_or_init(std::io::stdin).as_fd(),
        1 => OUT.get_or_init(std::io::stdout).as_fd(),
        _ => ERR.get_or_init(std::io::stderr).as_fd(),
    }
}

/// The preview1 file type of an inherited stdio fd: a character device for a terminal,
/// unknown otherwise (pipes and files are not seekable through stdio).
pub(crate) fn host_filetype(which: u8) -> u8 {
    if rustix::termios::isatty(host_fd(which)) {
        filetype::CHARACTER_DEVICE
    } else {
        filetype::UNKNOWN
    }
}

impl Input {
    /// Reads into `buf`; returns the byte count (0 at end of file).
    pub fn read(&mut self, buf: &mut [u8]) -> WasiResult<usize> {
        match self {
            Input::Inherit => loop {
                match rustix::io::read(host_fd(0), &mut *buf) {
                    Err(rustix::io::Errno::INTR) => continue,
                    r => return r.map_err(Errno::from),
                }
            },
            Input::Bytes { data, pos } => {
                let rest = data.get(*pos..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
            Input::Null => Ok(0),
        }
    }

    /// Bytes available without blocking, for `poll_oneoff` (`None`: ask the host).
    pub fn ready_bytes(&self) -> Option<u64> {
        match self {
            Input::Inherit => None,
            Input::Bytes { data, pos } => Some(data.len().saturating_sub(*pos) as u64),
            Input::Null => Some(0),
        }
    }

    /// The preview1 file type.
    pub fn filetype(&self) -> u8 {
        match self {
            Input::Inherit => host_filetype(0),
            _ => filetype::UNKNOWN,
        }
    }
}

impl Output {
    /// Writes the buffers; returns the byte count.
    pub fn write(&mut self, bufs: &[&[u8]]) -> WasiResult<usize> {
        match self {
            Output::Inherit { stderr } => {
                let fd = host_fd(if *stderr { 2 } else { 1 });
                let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
                loop {
                    match rustix::io::writev(fd, &slices) {
                        Err(rustix::io::Errno::INTR) => continue,
                        r => return r.map_err(Errno::from),
                    }
                }
            }
            Output::Buffer(b) => Ok(b.append(bufs)),
            Output::Null => Ok(bufs.iter().map(|b| b.len()).sum()),
        }
    }

    /// The host fd to poll, if any.
    pub fn host_fd(&self) -> Option<BorrowedFd<'static>> {
        match self {
            Output::Inherit { stderr } => Some(host_fd(if *stderr { 2 } else { 1 })),
            _ => None,
        }
    }

    /// The preview1 file type.
    pub fn filetype(&self) -> u8 {
        match self {
            Output::Inherit { stderr } => host_filetype(if *stderr { 2 } else { 1 }),
            _ => filetype::UNKNOWN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_capture_and_inputs_drain() {
        let buf = OutputBuffer::new();
        let mut out = Output::Buffer(buf.clone());
        assert_eq!(out.write(&[b"ab", b"c"]), Ok(3));
        assert_eq!(buf.contents(), b"abc");
        assert_eq!(buf.take(), b"abc");
        assert!(buf.contents().is_empty());
        let mut input = Input::Bytes {
            data: b"xyz".to_vec(),
            pos: 0,
        };
        let mut b = [0u8; 2];
        assert_eq!(input.read(&mut b), Ok(2));
        assert_eq!(input.ready_bytes(), Some(1));
        assert_eq!(input.read(&mut b), Ok(1));
        assert_eq!(input.read(&mut b), Ok(0));
        assert_eq!(Input::Null.read(&mut b), Ok(0));
    }
}
