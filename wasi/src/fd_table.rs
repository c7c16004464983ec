//! The guest's file descriptor table: what each preview1 fd refers to, and its rights.

use super::errno::{Errno, WasiResult};
use super::stdio::{Input, Output};
use std::collections::BTreeMap;
use std::fs::File;
use std::net::{TcpListener, TcpStream};

/// What an fd refers to.
pub(crate) enum Handle {
    /// Standard input.
    Stdin(Input),
    /// Standard output or error.
    Stdout(Output),
    /// A regular file (or anything else that is not a directory: devices, FIFOs).
    File(File),
    /// A directory; `preopen` is the guest name of a preopened one.
    Dir {
        /// The open directory.
        dir: File,
        /// Guest name, for preopens.
        preopen: Option<Vec<u8>>,
    },
    /// A listening socket given by the embedder.
    Listener(TcpListener),
    /// A connected socket (accepted from a listener).
    Stream(TcpStream),
}

/// One open fd.
pub(crate) struct Entry {
    /// What it refers to.
    pub handle: Handle,
    /// Rights for operations on this fd.
    pub base: u64,
    /// Rights passed on to fds opened through this one.
    pub inheriting: u64,
    /// The `fdflags` last set.
    pub fdflags: u16,
}

impl Entry {
    /// An entry with the given rights and no flags.
    pub fn new(handle: Handle, base: u64, inheriting: u64) -> Entry {
        Entry {
            handle,
            base,
            inheriting,
            fdflags: 0,
        }
    }

    /// `Ok` when every right in `needed` is held, else `errno::notcapable`.
    pub fn require(&self, needed: u64) -> WasiResult<()> {
        if self.base & needed == needed {
            Ok(())
        } else {
            Err(Errno::NotCapable)
        }
    }
}

/// The most fds a guest may hold at once.
pub(crate) const MAX_FDS: usize = 1 << 16;

/// fd number -> entry. New fds take the lowest free number from 3 up.
#[derive(Default)]
pub(crate) struct FdTable {
    entries: BTreeMap<u32, Entry>,
}

impl FdTable {
    /// Puts `entry` at `fd` (replacing what was there).
    pub fn insert_at(&mut self, fd: u32, entry: Entry) {
        self.entries.insert(fd, entry);
    }

    /// Adds `entry` under the lowest free number from 3 up.
    pub fn push(&mut self, entry: Entry) -> WasiResult<u32> {
        if self.entries.len() >= MAX_FDS {
            return Err(Errno::Mfile);
        }
        let mut fd = 3u32;
        for &k in self.entries.range(3..).map(|(k, _)| k) {
            if k != fd {
                break;
            }
            fd = fd.checked_add(1).ok_or(Errno::Mfile)?;
        }
        self.entries.insert(fd, entry);
        Ok(fd)
    }

    /// The entry for `fd`, or `errno::badf`.
    pub fn get(&self, fd: u32) -> WasiResult<&Entry> {
        self.entries.get(&fd).ok_or(Errno::Badf)
    }

    /// The entry for `fd`, mutably, or `errno::badf`.
    pub fn get_mut(&mut self, fd: u32) -> WasiResult<&mut Entry> {
        self.entries.get_mut(&fd).ok_or(Errno::Badf)
    }

    /// Removes `fd`.
    pub fn remove(&mut self, fd: u32) -> WasiResult<Entry> {
        self.entries.remove(&fd).ok_or(Errno::Badf)
    }

    /// Moves `from` to `to`, closing what `to` held; both must be open.
    pub fn renumber(&mut self, from: u32, to: u32) -> WasiResult<()> {
        if !self.entries.contains_key(&from) || !self.entries.contains_key(&to) {
            return Err(Errno::Badf);
        }
        if from != to {
            let e = self.remove(from)?;
            self.entries.insert(to, e);
        }
        Ok(())
    }

    /// Number of open fds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stdio::Output;

    fn entry() -> Entry {
        Entry::new(Handle::Stdout(Output::Null), 0, 0)
    }

    #[test]
    fn lowest_free_from_three() {
        let mut t = FdTable::default();
        t.insert_at(0, entry());
        assert_eq!(t.push(entry()), Ok(3));
        assert_eq!(t.push(entry()), Ok(4));
        assert_eq!(t.push(entry()), Ok(5));
        t.remove(4).map(|_| ()).unwrap();
        assert_eq!(t.push(entry()), Ok(4));
        assert!(t.get(9).is_err());
        assert_eq!(t.renumber(3, 9).err(), Some(Errno::Badf));
        t.renumber(3, 5).unwrap();
        assert!(t.get(3).is_err());
        assert!(t.get(5).is_ok());
        assert_eq!(t.len(), 3);
    }
}
