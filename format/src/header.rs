//! The fixed-layout artifact header: the first thing the loader reads and checks.
//!
//! Layout (little-endian, [`HEADER_SIZE`] bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `PRECAST\0` |
//! | 8 | 4 | format version |
//! | 12 | 4 | header size |
//! | 16 | 16 | precast version (UTF-8, zero padded) |
//! | 32 | 48 | target triple (UTF-8, zero padded) |
//! | 80 | 8 | required CPU features ([`CpuFeatures`]) |
//! | 88 | 4 | settings flags |
//! | 92 | 4 | pointer size in bytes |
//! | 96 | 8 | memory reservation in bytes |
//! | 104 | 8 | memory guard size in bytes |
//! | 112 | 32 | SHA-256 of the input wasm |
//! | 144 | 4 | CRC-32 of every checksummed section ([`crate::sections::CHECKSUMMED`]) |
//! | 148 | 4 | CRC-32 of the metadata sections ([`crate::sections::METADATA`]) |
//! | 152 | 8 | compiler build id ([`crate::BUILD_ID`]) |
//! | 160 | 4 | CRC-32 of header bytes 0..160 |
//!
//! A loader only accepts the precast version and build id of its own build (see
//! [`crate::BUILD_ID`]): artifacts from any other compiler build are refused.
//!
//! The loader always verifies the metadata checksum (a few KiB that instantiation reads);
//! the checksum over every section, including `.text`, the trap table and the data images, is
//! verified at load when the loader's verification mode asks for it (see the loader's
//! `Verification`).

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;

/// Magic bytes at the start of the header.
pub const MAGIC: [u8; 8] = *b"PRECAST\0";
/// Version of the artifact format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 10;
/// Size of the encoded header.
pub const HEADER_SIZE: usize = 164;
const VERSION_LEN: usize = 16;
const TRIPLE_LEN: usize = 48;

/// How linear memory accesses are bounds-checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BoundsChecks {
    /// 32-bit memories are reserved with guard pages; accesses within the reservation need no
    /// explicit check and out-of-bounds accesses fault.
    GuardPages,
    /// Every access is checked against the memory's current length (targets without virtual
    /// memory).
    Explicit,
}

/// ABI-relevant settings the code was compiled with; the loader must match them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The bounds-check strategy.
    pub bounds_checks: BoundsChecks,
    /// Bytes of address space reserved per 32-bit memory (guard-page strategy).
    pub memory_reservation: u64,
    /// Bytes of inaccessible guard after the reservation.
    pub memory_guard_size: u64,
    /// Traps are raised by faulting instructions and a signal handler. When `false`, no trap
    /// depends on a fault or an illegal instruction: every trap condition is tested
    /// explicitly and raised by calling the
    /// [`Trap`](crate::builtins::Builtin::Trap) builtin, stack overflow is checked in every
    /// function body (see [`abi::store::STACK_FRAME_BOUND`](crate::abi::store::STACK_FRAME_BOUND)),
    /// and memory bases are reloaded after anything that may move a memory. Requires
    /// [`BoundsChecks::Explicit`]; such code runs whether or not the loader installed signal
    /// handlers.
    pub signals_based_traps: bool,
    /// Functions keep frame pointers (backtraces walk them).
    pub frame_pointers: bool,
    /// Explicitly bounds-checked memory and table accesses cannot be speculated out of
    /// bounds: the address is forced to null by a conditional move on the checked condition
    /// (Spectre variant 1). Not ABI-relevant; recorded so a loader can require it.
    pub spectre_mitigations: bool,
    /// Epoch interruption: every function entry and loop header compares the engine's
    /// epoch with the store's deadline ([`abi::store`](crate::abi::store)) and calls the
    /// [`EpochInterrupt`](crate::builtins::Builtin::EpochInterrupt) builtin when it is
    /// reached. An engine must be configured the same way to load the artifact.
    pub epoch_interruption: bool,
    /// Fuel: every operator costs fuel (1, or 0 for `nop`, `drop`, `block`, `loop`, `else`,
    /// `end`, `unreachable` and `return`), consumed from the store's counter; function
    /// entries and loop headers trap with [`OutOfFuel`](crate::TrapCode::OutOfFuel) once it
    /// is exhausted. An engine must be configured the same way to load the artifact.
    pub consume_fuel: bool,
    /// With epoch interruption, how a check learns that the deadline was reached. `true`: a
    /// dead load from a page of the instance's that the engine makes unreadable once the
    /// deadline is reached (the fault's handler runs the deadline behaviour and resumes the
    /// load): one instruction, no compare, no branch. `false`: a load of the engine's epoch
    /// and a compare with the deadline. Only where [`Settings::epoch_probe_applies`]; a
    /// compiler given `true` elsewhere compiles the compare.
    pub epoch_probe: bool,
    /// With [`Settings::epoch_probe`], where the checks sit. `true`: nowhere in function
    /// bodies; the engine interrupts the thread running a store whose deadline it reached
    /// with a signal, whose handler redirects wasm code, at whatever instruction it is, into
    /// the deadline behaviour. Probe loads sit only where control comes back into wasm from
    /// code the signal cannot redirect: entry trampolines, exit trampolines after the host
    /// function returns, and after builtin calls. `false`: at function entries and loop
    /// headers. Only where [`Settings::epoch_signal_applies`]; a compiler given `true`
    /// elsewhere places the checks in function bodies.
    pub epoch_signal: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bounds_checks: BoundsChecks::GuardPages,
            memory_reservation: 1 << 32,
            memory_guard_size: 2 << 30,
            signals_based_traps: true,
            frame_pointers: true,
            spectre_mitigations: true,
            epoch_interruption: false,
            consume_fuel: false,
            epoch_probe: true,
            epoch_signal: true,
        }
    }
}

impl Settings {
    /// The default settings for code that must not depend on signals (targets without a
    /// signal handler or virtual memory): explicit bounds checks and no signal-based traps.
    pub fn without_signals() -> Settings {
        Settings {
            bounds_checks: BoundsChecks::Explicit,
            signals_based_traps: false,
            epoch_probe: false,
            epoch_signal: false,
            ..Settings::default()
        }
    }

    /// Whether fault-based epoch checks ([`Settings::epoch_probe`]) are possible for code of
    /// `arch` (`x86_64`, `aarch64`, ...) with these settings: epoch interruption with
    /// signal-based traps, without fuel (whose counter the deadline behaviour must see
    /// exactly, which a fault cannot flush), on x86_64 or aarch64 (where the loader's
    /// resumption stub saves every register the code may hold live).
    pub fn epoch_probe_applies(&self, arch: &str) -> bool {
        self.epoch_interruption
            && self.signals_based_traps
            && !self.consume_fuel
            && matches!(arch, "x86_64" | "aarch64")
    }

    /// Whether signal-interrupted epoch checks ([`Settings::epoch_signal`]) are possible for
    /// code of `arch`: where fault-based checks are, on x86_64, where the resumption stub
    /// returns to any instruction with every register intact (aarch64's returns through a
    /// scratch register compiled code may hold live between two instructions).
    pub fn epoch_signal_applies(&self, arch: &str) -> bool {
        self.epoch_probe_applies(arch) && arch == "x86_64"
    }
}

const FLAG_EXPLICIT_BOUNDS: u32 = 1 << 0;
const FLAG_SIGNALS: u32 = 1 << 1;
const FLAG_FRAME_POINTERS: u32 = 1 << 2;
const FLAG_SPECTRE: u32 = 1 << 3;
const FLAG_EPOCH: u32 = 1 << 4;
const FLAG_FUEL: u32 = 1 << 5;
const FLAG_EPOCH_PROBE: u32 = 1 << 6;
const FLAG_EPOCH_SIGNAL: u32 = 1 << 7;
const KNOWN_FLAGS: u32 = FLAG_EXPLICIT_BOUNDS
    | FLAG_SIGNALS
    | FLAG_FRAME_POINTERS
    | FLAG_SPECTRE
    | FLAG_EPOCH
    | FLAG_FUEL
    | FLAG_EPOCH_PROBE
    | FLAG_EPOCH_SIGNAL;

impl Settings {
    fn flags(&self) -> u32 {
        let mut f = 0;
        if self.bounds_checks == BoundsChecks::Explicit {
            f |= FLAG_EXPLICIT_BOUNDS;
        }
        if self.signals_based_traps {
            f |= FLAG_SIGNALS;
        }
        if self.frame_pointers {
            f |= FLAG_FRAME_POINTERS;
        }
        if self.spectre_mitigations {
            f |= FLAG_SPECTRE;
        }
        if self.epoch_interruption {
            f |= FLAG_EPOCH;
        }
        if self.consume_fuel {
            f |= FLAG_FUEL;
        }
        if self.epoch_probe {
            f |= FLAG_EPOCH_PROBE;
        }
        if self.epoch_signal {
            f |= FLAG_EPOCH_SIGNAL;
        }
        f
    }
}

/// CPU features, as a bit set; the code needs every feature set in the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuFeatures(pub u64);

impl CpuFeatures {
    /// Feature names by bit index: x86_64 features from bit 0, aarch64 features from bit 32,
    /// riscv64 features from bit 40 (see [`CpuFeatures::arch_of`]). The names are Cranelift's
    /// ISA flags without `has_` and dots (riscv64's `c` is Zca plus Zcd).
    pub const NAMES: [(u32, &'static str); 35] = [
        (0, "sse3"),
        (1, "ssse3"),
        (2, "sse4.1"),
        (3, "sse4.2"),
        (4, "popcnt"),
        (5, "avx"),
        (6, "avx2"),
        (7, "bmi1"),
        (8, "bmi2"),
        (9, "lzcnt"),
        (10, "fma"),
        (11, "avx512f"),
        (12, "avx512vl"),
        (13, "avx512dq"),
        (14, "avx512bw"),
        (15, "avx512vbmi"),
        (16, "cmpxchg16b"),
        (32, "lse"),
        (33, "pauth"),
        (34, "fp16"),
        (35, "dotprod"),
        (36, "i8mm"),
        (40, "c"),
        (41, "zcb"),
        (42, "v"),
        (43, "zba"),
        (44, "zbb"),
        (45, "zbc"),
        (46, "zbs"),
        (47, "zbkb"),
        (48, "zicond"),
        (49, "zfa"),
        (50, "zfhmin"),
        (51, "zfh"),
        (52, "zvbb"),
    ];

    /// The architecture (`x86_64`, `aarch64`, `riscv64`) a feature bit belongs to.
    pub fn arch_of(bit: u32) -> &'static str {
        match bit {
            0..32 => "x86_64",
            32..40 => "aarch64",
            _ => "riscv64",
        }
    }

    /// The feature names of `arch` (a triple's architecture: `riscv64gc` counts as
    /// `riscv64`), in bit order.
    pub fn names_of_arch(arch: &str) -> impl Iterator<Item = &'static str> + '_ {
        let arch = normalize_arch(arch);
        Self::NAMES
            .iter()
            .filter(move |(b, _)| Self::arch_of(*b) == arch)
            .map(|(_, n)| *n)
    }

    /// Bit index of a feature name.
    pub fn bit(name: &str) -> Option<u32> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(b, _)| *b)
    }

    /// Adds the named feature; unknown names are ignored and reported as `false`.
    pub fn insert(&mut self, name: &str) -> bool {
        match Self::bit(name) {
            Some(b) => {
                self.0 |= 1 << b;
                true
            }
            None => false,
        }
    }

    /// Whether the named feature is set.
    pub fn contains(&self, name: &str) -> bool {
        Self::bit(name).is_some_and(|b| self.0 & (1 << b) != 0)
    }

    /// Names of the features set.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        Self::NAMES
            .iter()
            .filter(|(b, _)| self.0 & (1 << b) != 0)
            .map(|(_, n)| *n)
    }
}

impl fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for n in self.names() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(n)?;
        }
        if first {
            f.write_str("(none)")?;
        }
        Ok(())
    }
}

/// The decoded artifact header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version ([`FORMAT_VERSION`] when written by this crate).
    pub format_version: u32,
    /// The precast version that wrote the artifact.
    pub precast_version: String,
    /// Target triple the code was compiled for.
    pub target: String,
    /// CPU features the code requires.
    pub cpu_features: CpuFeatures,
    /// ABI-relevant settings.
    pub settings: Settings,
    /// Pointer size of the target in bytes.
    pub pointer_size: u32,
    /// SHA-256 of the input wasm.
    pub wasm_hash: [u8; 32],
    /// CRC-32 over the checksummed sections (see [`crate::sections::CHECKSUMMED`]).
    pub sections_checksum: u32,
    /// CRC-32 over the metadata sections (see [`crate::sections::METADATA`]).
    pub metadata_checksum: u32,
    /// Build id of the compiler that wrote the artifact ([`crate::BUILD_ID`]).
    pub build_id: u64,
}

/// Why a header was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than a header needs.
    Truncated { len: usize },
    /// The magic bytes are wrong: this is not a Precast header.
    BadMagic,
    /// The format version is not the one this build reads.
    Version { found: u32, expected: u32 },
    /// The header's own checksum does not match.
    Checksum { stored: u32, computed: u32 },
    /// A field holds a value no writer produces.
    Malformed(&'static str),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Truncated { len } => {
                write!(f, "header truncated: {len} bytes, need {HEADER_SIZE}")
            }
            HeaderError::BadMagic => f.write_str("bad magic: not a Precast artifact header"),
            HeaderError::Version { found, expected } => write!(
                f,
                "artifact format version {found} is not supported (this build reads version {expected})"
            ),
            HeaderError::Checksum { stored, computed } => write!(
                f,
                "header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            HeaderError::Malformed(what) => write!(f, "malformed header: {what}"),
        }
    }
}

fn put_str(out: &mut [u8], s: &str) {
    let n = s.len().min(out.len());
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
}

fn get_str(bytes: &[u8]) -> Result<String, HeaderError> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end])
        .map(str::to_owned)
        .map_err(|_| HeaderError::Malformed("string field is not UTF-8"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Header {
    /// Encodes the header, computing its own checksum with `crc32`.
    pub fn encode(&self, crc32: impl Fn(&[u8]) -> u32) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        put_str(&mut b[16..16 + VERSION_LEN], &self.precast_version);
        put_str(&mut b[32..32 + TRIPLE_LEN], &self.target);
        b[80..88].copy_from_slice(&self.cpu_features.0.to_le_bytes());
        b[88..92].copy_from_slice(&self.settings.flags().to_le_bytes());
        b[92..96].copy_from_slice(&self.pointer_size.to_le_bytes());
        b[96..104].copy_from_slice(&self.settings.memory_reservation.to_le_bytes());
        b[104..112].copy_from_slice(&self.settings.memory_guard_size.to_le_bytes());
        b[112..144].copy_from_slice(&self.wasm_hash);
        b[144..148].copy_from_slice(&self.sections_checksum.to_le_bytes());
        b[148..152].copy_from_slice(&self.metadata_checksum.to_le_bytes());
        b[152..160].copy_from_slice(&self.build_id.to_le_bytes());
        let own = crc32(&b[..160]);
        b[160..164].copy_from_slice(&own.to_le_bytes());
        b
    }

    /// Decodes and validates a header; `crc32` checks the header's own checksum.
    pub fn decode(b: &[u8], crc32: impl Fn(&[u8]) -> u32) -> Result<Header, HeaderError> {
        if b.len() < 8 || b[0..8] != MAGIC {
            if b.len() < 8 && MAGIC.starts_with(b) {
                return Err(HeaderError::Truncated { len: b.len() });
            }
            return Err(HeaderError::BadMagic);
        }
        if b.len() < 12 {
            return Err(HeaderError::Truncated { len: b.len() });
        }
        let format_version = u32_at(b, 8);
        if format_version != FORMAT_VERSION {
            return Err(HeaderError::Version {
                found: format_version,
                expected: FORMAT_VERSION,
            });
        }
        if b.len() < HEADER_SIZE {
            return Err(HeaderError::Truncated { len: b.len() });
        }
        let stored = u32_at(b, 160);
        let computed = crc32(&b[..160]);
        if stored != computed {
            return Err(HeaderError::Checksum { stored, computed });
        }
        if u32_at(b, 12) as usize != HEADER_SIZE {
            return Err(HeaderError::Malformed("header size"));
        }
        let flags = u32_at(b, 88);
        if flags & !KNOWN_FLAGS != 0 {
            return Err(HeaderError::Malformed("unknown settings flags"));
        }
        let mut wasm_hash = [0; 32];
        wasm_hash.copy_from_slice(&b[112..144]);
        Ok(Header {
            format_version,
            precast_version: get_str(&b[16..16 + VERSION_LEN])?,
            target: get_str(&b[32..32 + TRIPLE_LEN])?,
            cpu_features: CpuFeatures(u64_at(b, 80)),
            settings: Settings {
                bounds_checks: if flags & FLAG_EXPLICIT_BOUNDS != 0 {
                    BoundsChecks::Explicit
                } else {
                    BoundsChecks::GuardPages
                },
                memory_reservation: u64_at(b, 96),
                memory_guard_size: u64_at(b, 104),
                signals_based_traps: flags & FLAG_SIGNALS != 0,
                frame_pointers: flags & FLAG_FRAME_POINTERS != 0,
                spectre_mitigations: flags & FLAG_SPECTRE != 0,
                epoch_interruption: flags & FLAG_EPOCH != 0,
                consume_fuel: flags & FLAG_FUEL != 0,
                epoch_probe: flags & FLAG_EPOCH_PROBE != 0,
                epoch_signal: flags & FLAG_EPOCH_SIGNAL != 0,
            },
            pointer_size: u32_at(b, 92),
            wasm_hash,
            sections_checksum: u32_at(b, 144),
            metadata_checksum: u32_at(b, 148),
            build_id: u64_at(b, 152),
        })
    }
}

/// The architecture family of a triple's architecture: `riscv64gc` and `riscv64imac` are
/// `riscv64`; other names are returned as they are.
pub fn normalize_arch(arch: &str) -> &str {
    if arch.starts_with("riscv64") {
        "riscv64"
    } else {
        arch
    }
}

/// Splits a target triple into (architecture, operating system), ignoring vendor and
/// environment, which do not change the generated code.
pub fn arch_and_os(triple: &str) -> (&str, &str) {
    let mut parts = triple.split('-');
    let arch = parts.next().unwrap_or("");
    let second = parts.next().unwrap_or("");
    // `arch-os` has two parts; `arch-vendor-os[-env]` has the OS third.
    let os = parts.next().unwrap_or(second);
    (arch, os)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    fn crc(b: &[u8]) -> u32 {
        b.iter().fold(0u32, |a, &x| a.rotate_left(5) ^ u32::from(x))
    }

    fn sample() -> Header {
        let mut cpu = CpuFeatures::default();
        cpu.insert("sse4.1");
        Header {
            format_version: FORMAT_VERSION,
            precast_version: "0.1.0".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            cpu_features: cpu,
            settings: Settings::default(),
            pointer_size: 8,
            wasm_hash: [7; 32],
            sections_checksum: 0xdead_beef,
            metadata_checksum: 0x1234_5678,
            build_id: 0x0123_4567_89ab_cdef,
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let bytes = h.encode(crc);
        assert_eq!(Header::decode(&bytes, crc).unwrap(), h);
    }

    #[test]
    fn errors() {
        let bytes = sample().encode(crc);
        assert_eq!(
            Header::decode(&bytes[..100], crc),
            Err(HeaderError::Truncated { len: 100 })
        );
        let mut bad = bytes;
        bad[0] = b'X';
        assert_eq!(Header::decode(&bad, crc), Err(HeaderError::BadMagic));
        let mut bad = bytes;
        bad[8] = 99;
        assert!(matches!(
            Header::decode(&bad, crc),
            Err(HeaderError::Version { found: 99, .. })
        ));
        let mut bad = bytes;
        bad[40] ^= 1;
        assert!(matches!(
            Header::decode(&bad, crc),
            Err(HeaderError::Checksum { .. })
        ));
    }

    #[test]
    fn triple_parts() {
        assert_eq!(arch_and_os("x86_64-unknown-linux-gnu"), ("x86_64", "linux"));
        assert_eq!(arch_and_os("aarch64-linux"), ("aarch64", "linux"));
    }
}
