//! WASI: a module importing WASI preview1 functions (each re-exported through a wasm
//! wrapper, so calls go through the real import path) is called in a sequence decoded from
//! the input, with random guest pointers, lengths, flags, fds and path strings (`..`,
//! absolute paths, symlink names), against a preopen of a fresh temporary directory that
//! holds files, a subdirectory and symlinks leading out. The host must not crash, no call may
//! trap, and nothing outside the preopen may be opened, created or changed: a sibling
//! sentinel directory is compared before and after, and after every call no open fd of the
//! process may refer to the sentinel or to the directories above the preopen.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Unstructured;
use precast_loader::{Linker, Module, Store, Val};
use precast_wasi::{self as wasi, OutputBuffer, WasiCtx, WasiCtxBuilder};

/// How the host fills a parameter (or two).
#[derive(Clone, Copy, Debug)]
enum K {
    /// An fd: mostly small (stdio, the preopen, files opened so far).
    F,
    /// A guest pointer.
    P,
    /// A length.
    N,
    /// A path string: (pointer, length), the host writing the string.
    S,
    /// An iovec array: (pointer, count), the host writing the iovecs.
    V,
    /// An i32 of flags, whence, clock ids, ...
    R,
    /// A random i64 (rights, timestamps).
    L,
    /// An i64 size or offset, kept below 1 MiB (the host allocates what it is asked).
    Z,
    /// `poll_oneoff`'s four parameters, with a host-written subscription array that always
    /// holds a clock subscription of at most 1 ms (so the call cannot block).
    Q,
}
use K::*;

const FUNCS: &[(&str, &[K])] = &[
    ("args_get", &[P, P]),
    ("args_sizes_get", &[P, P]),
    ("environ_get", &[P, P]),
    ("environ_sizes_get", &[P, P]),
    ("clock_res_get", &[R, P]),
    ("clock_time_get", &[R, L, P]),
    ("fd_advise", &[F, Z, Z, R]),
    ("fd_allocate", &[F, Z, Z]),
    ("fd_close", &[F]),
    ("fd_datasync", &[F]),
    ("fd_fdstat_get", &[F, P]),
    ("fd_fdstat_set_flags", &[F, R]),
    ("fd_fdstat_set_rights", &[F, L, L]),
    ("fd_filestat_get", &[F, P]),
    ("fd_filestat_set_size", &[F, Z]),
    ("fd_filestat_set_times", &[F, L, L, R]),
    ("fd_pread", &[F, V, Z, P]),
    ("fd_prestat_get", &[F, P]),
    ("fd_prestat_dir_name", &[F, P, N]),
    ("fd_pwrite", &[F, V, Z, P]),
    ("fd_read", &[F, V, P]),
    ("fd_readdir", &[F, P, N, L, P]),
    ("fd_renumber", &[F, F]),
    ("fd_seek", &[F, L, R, P]),
    ("fd_sync", &[F]),
    ("fd_tell", &[F, P]),
    ("fd_write", &[F, V, P]),
    ("path_create_directory", &[F, S]),
    ("path_filestat_get", &[F, R, S, P]),
    ("path_filestat_set_times", &[F, R, S, L, L, R]),
    ("path_link", &[F, R, S, F, S]),
    ("path_open", &[F, R, S, R, L, L, R, P]),
    ("path_readlink", &[F, S, P, N, P]),
    ("path_remove_directory", &[F, S]),
    ("path_rename", &[F, S, F, S]),
    ("path_symlink", &[S, F, S]),
    ("path_unlink_file", &[F, S]),
    ("poll_oneoff", &[Q]),
    ("proc_raise", &[R]),
    ("random_get", &[P, N]),
    ("sched_yield", &[]),
    ("sock_accept", &[F, R, P]),
    ("sock_recv", &[F, V, R, P, P]),
    ("sock_send", &[F, V, R, P]),
    ("sock_shutdown", &[F, R]),
];

/// The wasm types of a kind's parameters.
fn wasm_params(k: K) -> &'static [&'static str] {
    match k {
        F | P | N | R => &["i32"],
        S | V => &["i32", "i32"],
        L | Z => &["i64"],
        Q => &["i32", "i32", "i32", "i32"],
    }
}

fn module_wat() -> String {
    let mut w = String::from("(module\n");
    for (name, kinds) in FUNCS {
        let params: Vec<&str> = kinds
            .iter()
            .flat_map(|k| wasm_params(*k))
            .copied()
            .collect();
        let p = params.join(" ");
        w += &format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {p}) (result i32)))\n"
        );
    }
    w += "  (memory (export \"memory\") 1 1)\n";
    for (name, kinds) in FUNCS {
        let n: usize = kinds.iter().map(|k| wasm_params(*k).len()).sum();
        let params: Vec<&str> = kinds
            .iter()
            .flat_map(|k| wasm_params(*k))
            .copied()
            .collect();
        let gets: String = (0..n).map(|i| format!("(local.get {i})")).collect();
        w += &format!(
            "  (func (export \"{name}\") (param {}) (result i32) (call ${name} {gets}))\n",
            params.join(" ")
        );
    }
    w + ")\n"
}

fn module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        let wasm = wat::parse_str(module_wat()).expect("the WASI module parses");
        let artifact = precast_compiler::compile(&wasm, &crate::compiler_config())
            .expect("the WASI module compiles");
        Module::from_bytes(crate::precast_engine(), &artifact).expect("the WASI module loads")
    })
}

/// Calls made, over all inputs.
pub static CALLS: AtomicU64 = AtomicU64::new(0);

const PAGE: u32 = 65536;
/// Where host-written strings and arrays go (the guest's own pointers are random).
const SCRATCH: u32 = 32768;

struct Dirs {
    root: PathBuf,
    base: PathBuf,
    sandbox: PathBuf,
    sentinel: PathBuf,
}

fn make_dirs() -> Dirs {
    static N: AtomicU64 = AtomicU64::new(0);
    let root = std::env::temp_dir().join(format!("precast-fuzz-wasi-{}", std::process::id()));
    let base = root.join(format!("run{}", N.fetch_add(1, Ordering::Relaxed)));
    let sandbox = base.join("sandbox");
    let sentinel = base.join("sentinel");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::create_dir_all(&sentinel).unwrap();
    std::fs::write(sentinel.join("secret"), b"do not touch").unwrap();
    std::fs::write(sandbox.join("a.txt"), b"alpha").unwrap();
    std::fs::write(sandbox.join("sub/b.txt"), b"beta beta").unwrap();
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, sandbox.join(name)).unwrap();
    };
    link(Path::new("../sentinel"), "escape");
    link(&sentinel, "escape_abs");
    link(Path::new("../sentinel/secret"), "escape_file");
    link(Path::new("sub/../../sentinel/secret"), "escape_chain");
    link(Path::new("sub"), "link_to_sub");
    link(Path::new("loop"), "loop");
    Dirs {
        root,
        base,
        sandbox,
        sentinel,
    }
}

/// Everything observable about the sentinel tree and the directories above the sandbox.
fn outside_state(d: &Dirs) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut describe = |p: &Path| {
        let key = p.display().to_string();
        let v = match std::fs::symlink_metadata(p) {
            Ok(md) => {
                let contents = if md.is_file() {
                    format!("{:?}", std::fs::read(p).ok())
                } else if md.is_dir() {
                    let mut names: Vec<String> = std::fs::read_dir(p)
                        .map(|r| {
                            r.filter_map(|e| e.ok())
                                .map(|e| e.file_name().to_string_lossy().into_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    names.sort();
                    format!("{names:?}")
                } else {
                    String::new()
                };
                format!(
                    "ino {} mode {:o} nlink {} size {} mtime {}.{} ctime {}.{} {contents}",
                    md.ino(),
                    md.mode(),
                    md.nlink(),
                    md.size(),
                    md.mtime(),
                    md.mtime_nsec(),
                    md.ctime(),
                    md.ctime_nsec()
                )
            }
            Err(e) => format!("missing: {e}"),
        };
        m.insert(key, v);
    };
    describe(&d.sentinel);
    describe(&d.sentinel.join("secret"));
    // The listings of the directories above the sandbox (their times change when the sandbox
    // changes, so only the names count).
    for dir in [&d.base, &d.root] {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        if dir == &d.root {
            names.retain(|n| *n == d.base.file_name().unwrap().to_string_lossy());
        }
        m.insert(format!("{} (names)", dir.display()), format!("{names:?}"));
    }
    m
}

/// Open fds of this process that refer to the sentinel or to a directory above the sandbox.
fn escaped_fds(d: &Dirs) -> Vec<String> {
    let mut bad = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc/self/fd") else {
        return bad;
    };
    for e in rd.flatten() {
        if let Ok(target) = std::fs::read_link(e.path())
            && (target.starts_with(&d.sentinel) || target == d.base || target == d.root)
        {
            bad.push(format!(
                "fd {} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            ));
        }
    }
    bad
}

fn path_string(u: &mut Unstructured<'_>, d: &Dirs) -> arbitrary::Result<Vec<u8>> {
    let sentinel = d.sentinel.display().to_string();
    let secret = d.sentinel.join("secret").display().to_string();
    let base = d.base.display().to_string();
    let words: [&str; 30] = [
        ".",
        "..",
        "/",
        "a.txt",
        "sub",
        "sub/b.txt",
        "sub/..",
        "../sentinel",
        "../sentinel/secret",
        "escape",
        "escape/secret",
        "escape_abs",
        "escape_abs/secret",
        "escape_file",
        "escape_chain",
        "link_to_sub",
        "link_to_sub/b.txt",
        "loop",
        "new",
        "sub/new",
        "a.txt/",
        "sub/../../sentinel/secret",
        "//",
        "./a.txt",
        "",
        &sentinel,
        &secret,
        &base,
        "/proc/self/fd/3",
        "/etc/passwd",
    ];
    let parts = u.int_in_range(1..=3)?;
    let mut s = Vec::new();
    for i in 0..parts {
        if i > 0 {
            s.push(b'/');
        }
        if u.ratio(1, 8)? {
            let n = u.int_in_range(0..=12)?;
            for _ in 0..n {
                s.push(u.arbitrary()?);
            }
        } else {
            s.extend_from_slice(words[u.choose_index(words.len())?].as_bytes());
        }
    }
    Ok(s)
}

fn fd(u: &mut Unstructured<'_>) -> arbitrary::Result<i32> {
    Ok(match u.int_in_range(0..=9)? {
        0 => u.arbitrary()?,
        1 => u.int_in_range(0..=2)?,
        2..=4 => 3,
        _ => u.int_in_range(4..=12)?,
    })
}

fn ptr(u: &mut Unstructured<'_>) -> arbitrary::Result<i32> {
    Ok(match u.int_in_range(0..=7)? {
        0 => u.arbitrary()?,
        1 => PAGE as i32 - u.int_in_range(0..=16)?,
        2 => PAGE as i32 + u.int_in_range(0..=16)?,
        _ => u.int_in_range(0..=SCRATCH - 1)? as i32,
    })
}

fn len(u: &mut Unstructured<'_>) -> arbitrary::Result<i32> {
    Ok(match u.int_in_range(0..=5)? {
        0 => u.arbitrary()?,
        1 => PAGE as i32,
        _ => u.int_in_range(0..=256)?,
    })
}

/// Runs one input. Panics when the host crashes, a call traps, or the run reached outside.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let d = make_dirs();
    let before = outside_state(&d);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| calls(&mut u, &d)));
    let after = outside_state(&d);
    let _ = std::fs::remove_dir_all(&d.base);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    if before != after {
        let diff: Vec<String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: {:?} -> {v}", before.get(k)))
            .collect();
        panic!("WASI calls changed something outside the preopen: {diff:#?}");
    }
}

fn calls(u: &mut Unstructured<'_>, d: &Dirs) {
    let module = module();
    let engine = crate::precast_engine();
    let ctx = WasiCtxBuilder::new()
        .args(["fuzz", "--arg"])
        .env("K", "V")
        .stdin_bytes("input bytes")
        .stdout(OutputBuffer::new())
        .stderr(OutputBuffer::new())
        .preopened_dir(&d.sandbox, "/sandbox")
        .expect("preopen")
        .build();
    let mut store = Store::new(engine, ctx);
    let mut linker: Linker<WasiCtx> = Linker::new(engine);
    wasi::add_to_linker(&mut linker, |cx| cx).expect("WASI links");
    let instance = linker
        .instantiate(&mut store, module)
        .expect("instantiates");
    let memory = instance.get_memory(&store, "memory").expect("memory");
    // Fill the guest memory with input bytes: random structures for the host to read.
    let fill = u.int_in_range(0..=4096).unwrap_or(0);
    for i in 0..fill {
        memory.data_mut(&mut store)[i] = u.arbitrary().unwrap_or(0);
    }
    let mut history = Vec::new();
    for _ in 0..64 {
        if u.is_empty() {
            break;
        }
        let Ok(which) = u.choose_index(FUNCS.len()) else {
            break;
        };
        let (name, kinds) = FUNCS[which];
        let Ok(args) = args(u, d, kinds, &memory, &mut store) else {
            break;
        };
        history.push(format!("{name}{args:?}"));
        let f = instance.get_func(&store, name).expect("wrapper export");
        let mut out = [Val::I32(0)];
        CALLS.fetch_add(1, Ordering::Relaxed);
        match f.call(&mut store, &args, &mut out) {
            Ok(()) => {
                let Val::I32(errno) = out[0] else {
                    unreachable!()
                };
                if !(0..=76).contains(&errno) {
                    panic!(
                        "{name} returned errno {errno}, outside preview1's range; calls: {history:?}"
                    );
                }
            }
            Err(e) => {
                panic!("{name} failed instead of returning an errno: {e}; calls: {history:?}")
            }
        }
        let bad = escaped_fds(d);
        if !bad.is_empty() {
            panic!("after {name}, open fds lead outside the preopen: {bad:?}; calls: {history:?}");
        }
    }
}

fn args(
    u: &mut Unstructured<'_>,
    d: &Dirs,
    kinds: &[K],
    memory: &precast_loader::Memory,
    store: &mut Store<WasiCtx>,
) -> arbitrary::Result<Vec<Val>> {
    let mut out = Vec::new();
    // Host-written data goes to consecutive spots of the scratch area.
    let mut spot = SCRATCH + u.int_in_range(0..=64)?;
    let mut write = |store: &mut Store<WasiCtx>, bytes: &[u8]| -> u32 {
        let at = spot;
        let end = (at as usize + bytes.len()).min(PAGE as usize);
        let n = end - at as usize;
        memory.data_mut(store)[at as usize..end].copy_from_slice(&bytes[..n]);
        spot = (end as u32 + 8) & !7;
        if spot >= PAGE - 512 {
            spot = SCRATCH;
        }
        at
    };
    for &k in kinds {
        match k {
            F => out.push(Val::I32(fd(u)?)),
            P => out.push(Val::I32(ptr(u)?)),
            N => out.push(Val::I32(len(u)?)),
            R => out.push(Val::I32(if u.arbitrary()? {
                u.arbitrary()?
            } else {
                u.int_in_range(0..=15)?
            })),
            L => out.push(Val::I64(if u.arbitrary()? {
                u.arbitrary()?
            } else {
                u.int_in_range(0..=0x3fff_ffff)?
            })),
            Z => out.push(Val::I64(u.int_in_range(0..=(1 << 20))?)),
            S => {
                let s = path_string(u, d)?;
                if u.ratio(1, 10)? {
                    out.push(Val::I32(ptr(u)?));
                    out.push(Val::I32(len(u)?));
                } else {
                    let at = write(store, &s);
                    out.push(Val::I32(at as i32));
                    out.push(Val::I32(s.len() as i32));
                }
            }
            V => {
                if u.ratio(1, 8)? {
                    out.push(Val::I32(ptr(u)?));
                    out.push(Val::I32(len(u)?));
                } else {
                    let n = u.int_in_range(0..=4)?;
                    let mut iovs = Vec::new();
                    for _ in 0..n {
                        iovs.extend_from_slice(&(ptr(u)? as u32).to_le_bytes());
                        iovs.extend_from_slice(&(len(u)? as u32).to_le_bytes());
                    }
                    let at = write(store, &iovs);
                    out.push(Val::I32(at as i32));
                    out.push(Val::I32(n));
                }
            }
            Q => {
                let n = u.int_in_range(1..=4)?;
                let mut subs = Vec::new();
                for i in 0..n {
                    let mut s = [0u8; 48];
                    s[..8].copy_from_slice(&u.arbitrary::<u64>()?.to_le_bytes());
                    let tag: u8 = if i == 0 { 0 } else { u.int_in_range(0..=2)? };
                    s[8] = tag;
                    if tag == 0 {
                        s[16..20].copy_from_slice(&u.int_in_range(0u32..=3)?.to_le_bytes());
                        s[24..32].copy_from_slice(&u.int_in_range(0u64..=1_000_000)?.to_le_bytes());
                        s[32..40].copy_from_slice(&u.arbitrary::<u64>()?.to_le_bytes());
                        // Relative only: an absolute time could lie far in the future.
                        s[40] = 0;
                    } else {
                        s[16..20].copy_from_slice(&(fd(u)? as u32).to_le_bytes());
                    }
                    subs.extend_from_slice(&s);
                }
                let at = write(store, &subs);
                out.push(Val::I32(at as i32));
                out.push(Val::I32(ptr(u)?));
                out.push(Val::I32(n));
                out.push(Val::I32(ptr(u)?));
            }
        }
    }
    Ok(out)
}
