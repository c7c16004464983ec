//! The preview1 functions called directly on a context and a plain byte buffer as guest
//! memory: sandbox escapes through every path function, bad guest pointers, rights.

use super::ctx::{WasiCtx, WasiCtxBuilder};
use super::errno::Errno;
use super::memory::GuestMemory;
use super::preview1::{Args, Impl, args, fd_io, fd_stat, path_ops, poll};
use super::types::{lookupflags, oflags, rights};
use precast_loader::MemoryView;
use precast_loader::Val;
use std::path::{Path, PathBuf};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("precast-wasi-{name}-{}", std::process::id()));
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

/// A context with `sandbox` preopened as fd 3 (`/`), and 64 KiB of guest memory.
struct Guest {
    cx: WasiCtx,
    mem: Vec<u8>,
}

/// Where `Guest::str` puts strings.
const STR_A: u32 = 1024;
const STR_B: u32 = 2048;
/// Scratch output slot.
const OUT: u32 = 16;

impl Guest {
    fn new(sandbox: &Path) -> Guest {
        let cx = WasiCtxBuilder::new()
            .args(["prog", "arg"])
            .env("K", "V")
            .preopened_dir(sandbox, "/")
            .unwrap()
            .build();
        Guest {
            cx,
            mem: vec![0; 65536],
        }
    }

    fn call(&mut self, f: Impl, args: &[Val]) -> Errno {
        let mut mem = GuestMemory::new(MemoryView::Exclusive(&mut self.mem));
        match f(&mut self.cx, &mut mem, &Args(args)) {
            Ok(()) => Errno::Success,
            Err(e) => e,
        }
    }

    /// Puts `s` at `at`; returns (ptr, len) arguments.
    fn str(&mut self, at: u32, s: &str) -> [Val; 2] {
        self.mem[at as usize..at as usize + s.len()].copy_from_slice(s.as_bytes());
        [Val::I32(at as i32), Val::I32(s.len() as i32)]
    }

    fn u32_at(&self, at: u32) -> u32 {
        u32::from_le_bytes(self.mem[at as usize..at as usize + 4].try_into().unwrap())
    }

    /// `path_open` on fd 3; the new fd or the error.
    fn open(&mut self, path: &str, dirflags: u32, oflags: u16, base: u64) -> Result<u32, Errno> {
        let [p, l] = self.str(STR_A, path);
        match self.call(
            path_ops::path_open,
            &[
                Val::I32(3),
                Val::I32(dirflags as i32),
                p,
                l,
                Val::I32(i32::from(oflags)),
                Val::I64(base as i64),
                Val::I64(0),
                Val::I32(0),
                Val::I32(OUT as i32),
            ],
        ) {
            Errno::Success => Ok(self.u32_at(OUT)),
            e => Err(e),
        }
    }

    /// A path function taking `(fd, path, path_len)`.
    fn on_path(&mut self, f: Impl, path: &str) -> Errno {
        let [p, l] = self.str(STR_A, path);
        self.call(f, &[Val::I32(3), p, l])
    }

    /// A path function taking `(fd, old, old_len, fd, new, new_len)`.
    fn two_paths(&mut self, f: Impl, old: &str, new: &str) -> Errno {
        let [op, ol] = self.str(STR_A, old);
        let [np, nl] = self.str(STR_B, new);
        self.call(f, &[Val::I32(3), op, ol, Val::I32(3), np, nl])
    }
}

/// `root/outside/secret` and `root/sandbox` with symlinks pointing out of it.
fn escape_fixture(t: &Scratch) -> (PathBuf, PathBuf) {
    let outside = t.0.join("outside");
    let sandbox = t.0.join("sandbox");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    std::fs::write(sandbox.join("inside"), b"inside").unwrap();
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, sandbox.join(name)).unwrap();
    };
    link("../outside/secret", "rel-out");
    link(outside.join("secret").to_str().unwrap(), "abs-out");
    link("sub/../../outside", "dir-out");
    link("chain2", "chain1");
    link("../outside", "chain2");
    (outside, sandbox)
}

#[test]
fn no_path_function_escapes_the_preopen() {
    let t = Scratch::new("escapes");
    let (outside, sandbox) = escape_fixture(&t);
    let before = mtime(&outside.join("secret"));
    let mut g = Guest::new(&sandbox);
    let nc = Errno::NotCapable;
    let follow = lookupflags::SYMLINK_FOLLOW;
    let read = rights::FD_READ;

    for p in [
        "..",
        "../outside/secret",
        "sub/../../outside/secret",
        "/etc/passwd",
        "rel-out",
        "abs-out",
        "dir-out/secret",
        "chain1/secret",
    ] {
        assert_eq!(g.open(p, follow, 0, read), Err(nc), "open {p}");
    }
    // Without following, opening the link itself is `loop` (O_NOFOLLOW), never the target.
    assert_eq!(g.open("rel-out", 0, 0, read), Err(Errno::Loop));
    // Creating through an escape.
    assert_eq!(g.open("../outside/new", 0, oflags::CREAT, read), Err(nc));
    assert_eq!(g.open("dir-out/new", 0, oflags::CREAT, read), Err(nc));
    assert_eq!(
        g.on_path(path_ops::path_create_directory, "../outside/d"),
        nc
    );
    assert_eq!(g.on_path(path_ops::path_create_directory, "chain1/d"), nc);
    assert_eq!(g.on_path(path_ops::path_create_directory, "/tmp/d"), nc);
    // Removing through an escape.
    assert_eq!(
        g.on_path(path_ops::path_unlink_file, "../outside/secret"),
        nc
    );
    assert_eq!(g.on_path(path_ops::path_unlink_file, "dir-out/secret"), nc);
    assert_eq!(
        g.on_path(path_ops::path_remove_directory, "../outside/dir"),
        nc
    );
    assert_eq!(g.on_path(path_ops::path_remove_directory, "chain1/dir"), nc);
    // Renaming and linking in or out.
    assert_eq!(
        g.two_paths(path_ops::path_rename, "inside", "../outside/moved"),
        nc
    );
    assert_eq!(
        g.two_paths(path_ops::path_rename, "dir-out/secret", "stolen"),
        nc
    );
    assert_eq!(
        g.two_paths(path_ops::path_rename, "chain1/secret", "stolen"),
        nc
    );
    let link = |g: &mut Guest, old: &str, new: &str, flags: u32| {
        let [op, ol] = g.str(STR_A, old);
        let [np, nl] = g.str(STR_B, new);
        g.call(
            path_ops::path_link,
            &[
                Val::I32(3),
                Val::I32(flags as i32),
                op,
                ol,
                Val::I32(3),
                np,
                nl,
            ],
        )
    };
    assert_eq!(link(&mut g, "../outside/secret", "stolen", 0), nc);
    assert_eq!(link(&mut g, "dir-out/secret", "stolen", 0), nc);
    assert_eq!(link(&mut g, "inside", "../outside/planted", 0), nc);
    // Linking the escaping symlink itself is fine (it stays a link inside)...
    assert_eq!(link(&mut g, "abs-out", "abs-out-2", 0), Errno::Success);
    // ...but following it is refused.
    assert_eq!(link(&mut g, "abs-out", "x", follow), Errno::Inval);
    // Symlinks can be created, but never placed outside, nor with absolute contents.
    let symlink = |g: &mut Guest, target: &str, new: &str| {
        let [tp, tl] = g.str(STR_A, target);
        let [np, nl] = g.str(STR_B, new);
        g.call(path_ops::path_symlink, &[tp, tl, Val::I32(3), np, nl])
    };
    assert_eq!(symlink(&mut g, "x", "../outside/evil"), nc);
    assert_eq!(symlink(&mut g, "/etc/passwd", "evil"), nc);
    assert_eq!(symlink(&mut g, "../outside/secret", "evil"), Errno::Success);
    assert_eq!(
        g.open("evil", follow, 0, read),
        Err(nc),
        "a new escaping link"
    );
    // Creating through a dangling link that points out.
    assert_eq!(
        symlink(&mut g, "../outside/created", "dangling"),
        Errno::Success
    );
    assert_eq!(g.open("dangling", follow, oflags::CREAT, read), Err(nc));
    assert_eq!(
        g.open("dangling", 0, oflags::CREAT | oflags::EXCL, read),
        Err(Errno::Exist)
    );
    // Inspecting through an escape.
    let stat = |g: &mut Guest, p: &str, flags: u32| {
        let [pp, pl] = g.str(STR_A, p);
        g.call(
            path_ops::path_filestat_get,
            &[Val::I32(3), Val::I32(flags as i32), pp, pl, Val::I32(256)],
        )
    };
    assert_eq!(stat(&mut g, "..", 0), nc);
    assert_eq!(stat(&mut g, "sub/../..", 0), nc);
    assert_eq!(stat(&mut g, "abs-out", follow), nc);
    assert_eq!(stat(&mut g, "rel-out/", 0), nc, "a trailing slash follows");
    assert_eq!(stat(&mut g, "chain1/secret", 0), nc);
    assert_eq!(
        stat(&mut g, "abs-out", 0),
        Errno::Success,
        "the link itself"
    );
    let times = |g: &mut Guest, p: &str, flags: u32| {
        let [pp, pl] = g.str(STR_A, p);
        g.call(
            path_ops::path_filestat_set_times,
            &[
                Val::I32(3),
                Val::I32(flags as i32),
                pp,
                pl,
                Val::I64(0),
                Val::I64(0),
                Val::I32(1 | 4),
            ],
        )
    };
    assert_eq!(times(&mut g, "rel-out", follow), nc);
    assert_eq!(times(&mut g, "..", 0), nc);
    // Reading a link's contents is allowed: they are data.
    let [pp, pl] = g.str(STR_A, "rel-out");
    let r = g.call(
        path_ops::path_readlink,
        &[
            Val::I32(3),
            pp,
            pl,
            Val::I32(512),
            Val::I32(64),
            Val::I32(OUT as i32),
        ],
    );
    assert_eq!(r, Errno::Success);
    assert_eq!(
        &g.mem[512..512 + g.u32_at(OUT) as usize],
        b"../outside/secret"
    );

    // Nothing outside changed.
    assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"secret");
    assert!(outside.join("dir").is_dir());
    let mut names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["dir", "secret"], "nothing created outside");
    assert_eq!(mtime(&outside.join("secret")), before, "times untouched");
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn bad_guest_pointers_are_fault() {
    let t = Scratch::new("fault");
    std::fs::write(t.0.join("f"), b"data").unwrap();
    let mut g = Guest::new(&t.0);
    let end = g.mem.len() as i32;
    // Output pointers past the end.
    assert_eq!(
        g.call(args::args_sizes_get, &[Val::I32(end - 2), Val::I32(0)]),
        Errno::Fault
    );
    assert_eq!(
        g.call(args::args_get, &[Val::I32(end - 4), Val::I32(0)]),
        Errno::Fault
    );
    assert_eq!(
        g.call(args::environ_get, &[Val::I32(0), Val::I32(-1)]),
        Errno::Fault
    );
    // A path pointer or length past the end.
    assert_eq!(
        g.call(
            path_ops::path_create_directory,
            &[Val::I32(3), Val::I32(end - 1), Val::I32(2)]
        ),
        Errno::Fault
    );
    assert_eq!(
        g.call(
            path_ops::path_create_directory,
            &[Val::I32(3), Val::I32(0), Val::I32(-1)]
        ),
        Errno::Fault
    );
    // An iovec whose buffer is past the end: nothing is read or written.
    let fd = g
        .open("f", 0, 0, rights::FD_READ | rights::FD_SEEK)
        .unwrap();
    g.mem[0..4].copy_from_slice(&(end as u32 - 2).to_le_bytes());
    g.mem[4..8].copy_from_slice(&4u32.to_le_bytes());
    let iov = [Val::I32(fd as i32), Val::I32(0), Val::I32(1), Val::I32(8)];
    assert_eq!(g.call(fd_io::fd_read, &iov), Errno::Fault);
    assert_eq!(g.call(fd_io::fd_write, &iov), Errno::Fault);
    // A huge iovec count.
    let many = [
        Val::I32(fd as i32),
        Val::I32(0),
        Val::I32(i32::MAX),
        Val::I32(8),
    ];
    assert_eq!(g.call(fd_io::fd_read, &many), Errno::Fault);
    // nread out of bounds: refused before reading, so the data is still there.
    g.mem[0..4].copy_from_slice(&64u32.to_le_bytes());
    let bad_out = [Val::I32(fd as i32), Val::I32(0), Val::I32(1), Val::I32(end)];
    assert_eq!(g.call(fd_io::fd_read, &bad_out), Errno::Fault);
    let ok = [Val::I32(fd as i32), Val::I32(0), Val::I32(1), Val::I32(8)];
    assert_eq!(g.call(fd_io::fd_read, &ok), Errno::Success);
    assert_eq!(g.u32_at(8), 4);
    assert_eq!(&g.mem[64..68], b"data");
    // Struct outputs.
    assert_eq!(
        g.call(
            fd_stat::fd_filestat_get,
            &[Val::I32(fd as i32), Val::I32(end - 63)]
        ),
        Errno::Fault
    );
    assert_eq!(
        g.call(fd_stat::fd_fdstat_get, &[Val::I32(3), Val::I32(end - 8)]),
        Errno::Fault
    );
    assert_eq!(
        g.call(
            fd_stat::fd_readdir,
            &[
                Val::I32(3),
                Val::I32(end - 10),
                Val::I32(64),
                Val::I64(0),
                Val::I32(0)
            ]
        ),
        Errno::Fault
    );
    assert_eq!(
        g.call(
            poll::poll_oneoff,
            &[Val::I32(0), Val::I32(end - 16), Val::I32(1), Val::I32(8)]
        ),
        Errno::Fault
    );
    // A guest without memory: every pointer faults, nothing panics.
    let mut empty: [u8; 0] = [];
    let mut mem = GuestMemory::new(MemoryView::Exclusive(&mut empty));
    let r = args::args_sizes_get(&mut g.cx, &mut mem, &Args(&[Val::I32(0), Val::I32(4)]));
    assert_eq!(r, Err(Errno::Fault));
}

#[test]
fn rights_are_enforced_and_only_dropped() {
    let t = Scratch::new("rights");
    std::fs::write(t.0.join("f"), b"data").unwrap();
    let mut g = Guest::new(&t.0);
    let fd = g.open("f", 0, 0, rights::FD_READ).unwrap() as i32;
    g.mem[0..4].copy_from_slice(&64u32.to_le_bytes());
    g.mem[4..8].copy_from_slice(&4u32.to_le_bytes());
    let iov = [Val::I32(fd), Val::I32(0), Val::I32(1), Val::I32(8)];
    assert_eq!(g.call(fd_io::fd_write, &iov), Errno::NotCapable);
    assert_eq!(
        g.call(
            fd_io::fd_seek,
            &[Val::I32(fd), Val::I64(1), Val::I32(0), Val::I32(8)]
        ),
        Errno::NotCapable
    );
    assert_eq!(g.call(fd_io::fd_read, &iov), Errno::Success);
    // Rights cannot be added back.
    let set = |g: &mut Guest, base: u64| {
        g.call(
            fd_stat::fd_fdstat_set_rights,
            &[Val::I32(fd), Val::I64(base as i64), Val::I64(0)],
        )
    };
    assert_eq!(
        set(&mut g, rights::FD_READ | rights::FD_WRITE),
        Errno::NotCapable
    );
    assert_eq!(set(&mut g, 0), Errno::Success);
    assert_eq!(g.call(fd_io::fd_read, &iov), Errno::NotCapable);
    assert_eq!(set(&mut g, rights::FD_READ), Errno::NotCapable);
    // A directory's rights bound what is opened through it.
    let dir = g
        .open(
            ".",
            0,
            oflags::DIRECTORY,
            rights::PATH_OPEN | rights::FD_READDIR,
        )
        .unwrap();
    let [p, l] = g.str(STR_A, "f");
    let r = g.call(
        path_ops::path_create_directory,
        &[Val::I32(dir as i32), p, l],
    );
    assert_eq!(r, Errno::NotCapable);
    // Not a directory, not open.
    let [p, l] = g.str(STR_A, "x");
    assert_eq!(
        g.call(path_ops::path_create_directory, &[Val::I32(fd), p, l]),
        Errno::NotDir
    );
    assert_eq!(
        g.call(path_ops::path_create_directory, &[Val::I32(99), p, l]),
        Errno::Badf
    );
    assert_eq!(g.call(fd_io::fd_close, &[Val::I32(fd)]), Errno::Success);
    assert_eq!(g.call(fd_io::fd_close, &[Val::I32(fd)]), Errno::Badf);
}

#[test]
fn readdir_lists_entries_and_hides_the_preopen_parent() {
    let t = Scratch::new("readdir");
    std::fs::write(t.0.join("a"), b"").unwrap();
    std::fs::create_dir(t.0.join("d")).unwrap();
    let mut g = Guest::new(&t.0);
    let call = |g: &mut Guest, len: i32, cookie: i64| {
        g.call(
            fd_stat::fd_readdir,
            &[
                Val::I32(3),
                Val::I32(4096),
                Val::I32(len),
                Val::I64(cookie),
                Val::I32(OUT as i32),
            ],
        )
    };
    assert_eq!(call(&mut g, 4096, 0), Errno::Success);
    let used = g.u32_at(OUT) as usize;
    let mut entries = Vec::new();
    let mut at = 4096;
    while at + 24 <= 4096 + used {
        let next = u64::from_le_bytes(g.mem[at..at + 8].try_into().unwrap());
        let ino = u64::from_le_bytes(g.mem[at + 8..at + 16].try_into().unwrap());
        let len = g.u32_at(at as u32 + 16) as usize;
        let ty = g.mem[at + 20];
        let name = String::from_utf8(g.mem[at + 24..at + 24 + len].to_vec()).unwrap();
        entries.push((name, ino, ty, next));
        at += 24 + len;
    }
    assert_eq!(at, 4096 + used);
    let find = |n: &str| entries.iter().find(|e| e.0 == n).cloned().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(
        find(".").1,
        find("..").1,
        "`..` of a preopen looks like itself"
    );
    assert_eq!(find("d").2, super::types::filetype::DIRECTORY);
    assert_eq!(find("a").2, super::types::filetype::REGULAR_FILE);
    // From the second entry's cookie on: the last two.
    assert_eq!(call(&mut g, 4096, entries[1].3 as i64), Errno::Success);
    let names: Vec<_> = entries[2..].iter().map(|e| e.0.len() + 24).collect();
    assert_eq!(g.u32_at(OUT) as usize, names.iter().sum::<usize>());
    // A small buffer is filled completely (the guest asks again).
    assert_eq!(call(&mut g, 30, 0), Errno::Success);
    assert_eq!(g.u32_at(OUT), 30);
}
