//! Replays every fuzz target over a fixed set of pseudo-random inputs (a seeded xorshift per
//! target) and over every file of `regressions/<target>/` (each finding of a fuzzing run is
//! one). Quick enough for CI: `cargo xtask fuzz --smoke`.

use std::path::Path;

use precast_fuzzing::XorShift;

fn inputs(target: &str, seed: u64, count: usize, max_len: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = XorShift(seed);
    let mut v: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| {
            let len = (rng.next_u64() as usize) % max_len;
            (format!("{target} random #{i}"), rng.bytes(len))
        })
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "md") {
                continue;
            }
            v.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    v
}

fn replay(target: &str, seed: u64, count: usize, max_len: usize) {
    let start = std::time::Instant::now();
    let all = inputs(target, seed, count, max_len);
    let n = all.len();
    for (name, data) in all {
        let r = std::panic::catch_unwind(|| precast_fuzzing::run(target, &data));
        if r.is_err() {
            panic!("{name} found a bug (message above)");
        }
    }
    eprintln!("{target}: {n} inputs in {:?}", start.elapsed());
}

#[test]
fn differential() {
    replay("differential", 0x5eed_0001, 400, 16384);
    eprintln!(
        "differential: {} modules, {} compared in full, {} calls",
        precast_fuzzing::differential::MODULES.load(std::sync::atomic::Ordering::Relaxed),
        precast_fuzzing::differential::EXECUTED.load(std::sync::atomic::Ordering::Relaxed),
        precast_fuzzing::differential::CALLS.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn compile() {
    replay("compile", 0x5eed_0002, 500, 4096);
}

#[test]
fn artifacts() {
    replay("artifacts", 0x5eed_0003, 1000, 64);
}

#[test]
fn wasi() {
    replay("wasi", 0x5eed_0004, 500, 4096);
    eprintln!(
        "wasi: {} calls",
        precast_fuzzing::wasi::CALLS.load(std::sync::atomic::Ordering::Relaxed)
    );
}
