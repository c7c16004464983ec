//! Computes [`BUILD_ID`](crate::BUILD_ID): a hash of everything that decides what the
//! compiler generates and what the loader expects of it, so that a loader refuses artifacts
//! of any other compiler build.
//!
//! Hashed (FNV-1a, 64 bits): the sources of this crate (the artifact contract), the
//! compiler's sources when built in the workspace (`../compiler/src`), and the versions of
//! the code generator crates (`cranelift-*`) in the workspace's `Cargo.lock`.

use std::path::{Path, PathBuf};

struct Fnv(u64);

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that concatenations of different parts differ.
        self.0 = self.0.rotate_left(7) ^ bytes.len() as u64;
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
    hash.write(
        std::env::var("CARGO_PKG_VERSION")
            .unwrap_or_default()
            .as_bytes(),
    );
    for (root, label) in [
        (manifest.join("src"), "format"),
        (workspace.join("compiler").join("src"), "compiler"),
    ] {
        println!("cargo:rerun-if-changed={}", root.display());
        let mut list = Vec::new();
        files(&root, &mut list);
        list.sort();
        for path in list {
            let rel = path.strip_prefix(&root).unwrap_or(&path);
            hash.write(label.as_bytes());
            hash.write(rel.to_string_lossy().as_bytes());
            hash.write(&std::fs::read(&path).unwrap_or_default());
        }
    }
    let lock = workspace.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    if let Ok(text) = std::fs::read_to_string(&lock) {
        // `name = "cranelift-..."` followed by its `version = "..."` line.
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.starts_with("name = \"cranelift") {
                hash.write(line.as_bytes());
                if let Some(version) = lines.next() {
                    hash.write(version.as_bytes());
                }
            }
        }
    }
    println!("cargo:rustc-env=PRECAST_BUILD_ID={:016x}", hash.0);
}
