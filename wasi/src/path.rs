//! Sandboxed path resolution: every guest path is resolved relative to a directory fd with
//! Linux `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so neither `..`, an absolute
//! path, nor a symlink (absolute, relative, or a chain of them) can reach outside the
//! directory the guest holds. Operations on a final component (mkdir, unlink, rename, ...)
//! open the parent that way and act on the last component with the `*at` calls, which never
//! follow that component; operations that inspect a file (stat, utimens) open the whole path
//! as `O_PATH` beneath the directory and act on that fd.

use super::errno::{Errno, WasiResult};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Checks a guest path: `noent` if empty, `notcapable` if absolute, `ilseq` if not UTF-8
/// (preview1 paths are strings), `inval` if it contains NUL.
pub(crate) fn check(path: &[u8]) -> WasiResult<()> {
    match path.first() {
        None => Err(Errno::NoEnt),
        Some(b'/') => Err(Errno::NotCapable),
        Some(_) if std::str::from_utf8(path).is_err() => Err(Errno::Ilseq),
        Some(_) if path.contains(&0) => Err(Errno::Inval),
        Some(_) => Ok(()),
    }
}

/// Opens `path` beneath `dir` with `flags` (plus `O_CLOEXEC`). Escapes are `notcapable`.
pub(crate) fn open(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
    mode: Mode,
) -> WasiResult<OwnedFd> {
    check(path)?;
    // openat2 insists on a zero mode unless a file may be created.
    let mode = if flags.contains(OFlags::CREATE) || flags.contains(OFlags::TMPFILE) {
        mode
    } else {
        Mode::empty()
    };
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    // `EAGAIN` means a concurrent rename raced the `..` check: try again a few times.
    for _ in 0..32 {
        match rustix::fs::openat2(dir, path, flags | OFlags::CLOEXEC, mode, resolve) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
            // The path (or a symlink in it) leads outside `dir`.
            Err(rustix::io::Errno::XDEV) => return Err(Errno::NotCapable),
            Err(e) => return Err(e.into()),
        }
    }
    Err(Errno::Again)
}

/// Opens `path` as an `O_PATH` handle for inspection; the final symlink is followed only if
/// `follow` (or the path ends in `/`).
pub(crate) fn open_path(dir: BorrowedFd<'_>, path: &[u8], follow: bool) -> WasiResult<OwnedFd> {
    let mut flags = OFlags::PATH;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    open(dir, path, flags, Mode::empty())
}

/// A directory fd: the one the guest passed, or a parent opened beneath it.
pub(crate) enum DirFd<'a> {
    /// The guest's own directory.
    Borrowed(BorrowedFd<'a>),
    /// A parent directory opened beneath it.
    Owned(OwnedFd),
}

impl DirFd<'_> {
    /// The fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            DirFd::Borrowed(b) => *b,
            DirFd::Owned(o) => o.as_fd(),
        }
    }
}

/// A path split into its parent directory and final component.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Split<'p> {
    /// Everything before the final component (empty: the directory itself).
    pub parent: &'p [u8],
    /// The final component with any trailing slashes, as the `*at` calls should see it.
    pub name: &'p [u8],
    /// The final component without trailing slashes.
    pub base: &'p [u8],
}

impl Split<'_> {
    /// Whether the path ends in `/` (the target must be a directory).
    pub fn trailing_slash(&self) -> bool {
        self.name.len() != self.base.len()
    }

    /// Whether the final component is `.` or `..`.
    pub fn is_dot(&self) -> bool {
        self.base == b"." || self.base == b".."
    }
}

/// Splits a checked (relative, non-empty) path.
pub(crate) fn split(path: &[u8]) -> Split<'_> {
    let end = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    let start = path[..end]
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |i| i + 1);
    Split {
        parent: &path[..start],
        name: &path[start..],
        base: &path[start..end],
    }
}

/// Opens the parent of `path` beneath `dir` and returns it with the split path. The final
/// component is not looked up.
pub(crate) fn parent<'d, 'p>(
    dir: BorrowedFd<'d>,
    path: &'p [u8],
) -> WasiResult<(DirFd<'d>, Split<'p>)> {
    check(path)?;
    let s = split(path);
    let fd = if s.parent.is_empty() {
        DirFd::Borrowed(dir)
    } else {
        DirFd::Owned(open(
            dir,
            s.parent,
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )?)
    };
    Ok((fd, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let p = std::env::temp_dir()
                .join(format!("precast-wasi-path-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(p: &Path) -> OwnedFd {
        std::fs::File::open(p).unwrap().into()
    }

    #[test]
    fn splits_paths() {
        let s = split(b"a/b/c");
        assert_eq!(
            (s.parent, s.name, s.base),
            (&b"a/b/"[..], &b"c"[..], &b"c"[..])
        );
        let s = split(b"dir//");
        assert_eq!(
            (s.parent, s.name, s.base),
            (&b""[..], &b"dir//"[..], &b"dir"[..])
        );
        assert!(s.trailing_slash());
        let s = split(b"a/..");
        assert!(s.is_dot());
        assert_eq!(s.parent, b"a/");
    }

    #[test]
    fn refuses_every_escape() {
        // outside/secret, and a sandbox beside it with symlinks pointing out.
        let t = Scratch::new("escape");
        let outside = t.0.join("outside");
        let sandbox = t.0.join("sandbox");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(sandbox.join("sub")).unwrap();
        std::fs::write(outside.join("secret"), b"x").unwrap();
        std::fs::write(sandbox.join("inside"), b"y").unwrap();
        let link = |target: &str, name: &str| {
            std::os::unix::fs::symlink(target, sandbox.join(name)).unwrap();
        };
        link("../outside/secret", "rel-out");
        link(outside.join("secret").to_str().unwrap(), "abs-out");
        link("sub/../../outside", "dotdot-out");
        link("chain2", "chain1");
        link("chain3", "chain2");
        link("../outside", "chain3");
        link("inside", "good");
        link("sub/../inside", "good-dotdot");
        link("loop2", "loop1");
        link("loop1", "loop2");
        let d = dir(&sandbox);
        let d = d.as_fd();
        let ro = OFlags::RDONLY;
        let m = Mode::empty();

        for p in [
            &b"../outside/secret"[..],
            b"..",
            b"sub/../..",
            b"sub/../../outside/secret",
            b"rel-out",
            b"abs-out",
            b"dotdot-out/secret",
            b"chain1/secret",
            b"chain1",
        ] {
            assert_eq!(
                open(d, p, ro, m).err(),
                Some(Errno::NotCapable),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        // Absolute guest paths are refused before any lookup.
        assert_eq!(
            open(d, b"/etc/passwd", ro, m).err(),
            Some(Errno::NotCapable)
        );
        // Parents are resolved beneath too: a final-component operation through an escaping
        // parent never runs.
        assert_eq!(
            parent(d, b"dotdot-out/secret").err(),
            Some(Errno::NotCapable)
        );
        assert_eq!(parent(d, b"../outside/x").err(), Some(Errno::NotCapable));
        assert_eq!(parent(d, b"chain1/x").err(), Some(Errno::NotCapable));
        // Inspection handles refuse escapes whether or not the last symlink is followed.
        assert_eq!(
            open_path(d, b"abs-out", true).err(),
            Some(Errno::NotCapable)
        );
        assert!(
            open_path(d, b"abs-out", false).is_ok(),
            "the link itself is inside"
        );
        assert_eq!(
            open_path(d, b"rel-out/", false).err(),
            Some(Errno::NotCapable)
        );
        // Symlink loops are `loop`.
        assert_eq!(open(d, b"loop1", ro, m).err(), Some(Errno::Loop));
        // What stays inside works.
        assert!(open(d, b"inside", ro, m).is_ok());
        assert!(open(d, b"good", ro, m).is_ok());
        assert!(open(d, b"good-dotdot", ro, m).is_ok());
        assert!(open(d, b"sub/../inside", ro, m).is_ok());
        assert!(open(d, b".", ro, m).is_ok());
        // Not following the final symlink: `loop` as POSIX says for O_NOFOLLOW.
        assert_eq!(
            open(d, b"good", ro | OFlags::NOFOLLOW, m).err(),
            Some(Errno::Loop)
        );
        // Bad strings.
        assert_eq!(open(d, b"", ro, m).err(), Some(Errno::NoEnt));
        assert_eq!(open(d, b"a\0b", ro, m).err(), Some(Errno::Inval));
        assert_eq!(open(d, b"\xff", ro, m).err(), Some(Errno::Ilseq));
        // The secret was never touched.
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"x");
    }
}
