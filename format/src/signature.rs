//! Artifact signatures: an ed25519 signature over every byte that affects execution.
//!
//! Every artifact (file or linkable object) has a [`sections::SIGNATURE`] section of
//! [`SIZE`] bytes, all zero until it is signed (`precast compile --sign KEY` or, afterwards,
//! `precast sign`, which fill it in place). A signed one holds:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic [`MAGIC`] |
//! | 8 | 32 | the signer's ed25519 public key |
//! | 40 | 64 | the ed25519 signature of [`message`] |
//! | 104 | 24 | zero |
//!
//! The signed message is [`DOMAIN`] followed by the SHA-256 of every section in [`SIGNED`]
//! (the header, with the target, CPU features, settings, version and build id; the code; all
//! metadata; the trap table; the data; the names), each preceded by its name and length, so
//! no byte the loader reads to run the module can change without invalidating it. The ELF
//! headers and symbol table only locate or describe those bytes.

use crate::sections;
use sha2::{Digest, Sha256};

/// Size of the signature section.
pub const SIZE: usize = 128;
/// First bytes of a signed signature section.
pub const MAGIC: [u8; 8] = *b"PCSTSIG1";
/// Domain separation prefix of the signed message.
pub const DOMAIN: &[u8; 24] = b"precast artifact v1 sig\0";
/// Length of the signed message.
pub const MESSAGE_LEN: usize = DOMAIN.len() + 32;
/// Offset of the public key.
pub const KEY_OFFSET: usize = 8;
/// Offset of the signature.
pub const SIG_OFFSET: usize = 40;

/// The sections covered by a signature, in hashing order.
pub const SIGNED: [&str; 9] = [
    sections::HEADER,
    sections::TEXT,
    sections::INFO,
    sections::VMOFFSETS,
    sections::FUNCS,
    sections::TRAMPOLINES,
    sections::TRAPS,
    sections::DATA,
    sections::NAMES,
];

/// The message an artifact's signature signs; `section` returns a section's bytes (empty
/// when absent).
pub fn message<'a>(section: impl Fn(&str) -> &'a [u8]) -> [u8; MESSAGE_LEN] {
    let mut h = Sha256::new();
    for name in SIGNED {
        let bytes = section(name);
        h.update(name.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let mut m = [0u8; MESSAGE_LEN];
    m[..DOMAIN.len()].copy_from_slice(DOMAIN);
    m[DOMAIN.len()..].copy_from_slice(&h.finalize());
    m
}

/// A signature section's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// All zero: the artifact is not signed.
    Unsigned,
    /// Signed by `key`.
    Signed {
        /// The signer's public key.
        key: [u8; 32],
        /// The signature.
        signature: [u8; 64],
    },
}

/// Decodes a signature section; `None` when it is neither all zero nor a well-formed
/// signature.
pub fn parse(bytes: &[u8]) -> Option<Parsed> {
    if bytes.len() != SIZE {
        return None;
    }
    if bytes.iter().all(|&b| b == 0) {
        return Some(Parsed::Unsigned);
    }
    if bytes[..8] != MAGIC || bytes[SIG_OFFSET + 64..].iter().any(|&b| b != 0) {
        return None;
    }
    let mut key = [0; 32];
    key.copy_from_slice(&bytes[KEY_OFFSET..KEY_OFFSET + 32]);
    let mut signature = [0; 64];
    signature.copy_from_slice(&bytes[SIG_OFFSET..SIG_OFFSET + 64]);
    Some(Parsed::Signed { key, signature })
}

/// Encodes a signed signature section.
pub fn encode(key: &[u8; 32], signature: &[u8; 64]) -> [u8; SIZE] {
    let mut b = [0u8; SIZE];
    b[..8].copy_from_slice(&MAGIC);
    b[KEY_OFFSET..KEY_OFFSET + 32].copy_from_slice(key);
    b[SIG_OFFSET..SIG_OFFSET + 64].copy_from_slice(signature);
    b
}

/// A short fingerprint of a public key for messages: the first 8 bytes of its SHA-256, hex.
pub fn fingerprint(key: &[u8; 32]) -> alloc::string::String {
    use core::fmt::Write;
    let d = Sha256::digest(key);
    let mut s = alloc::string::String::new();
    for b in &d[..8] {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_coverage() {
        assert_eq!(parse(&[0; SIZE]), Some(Parsed::Unsigned));
        let b = encode(&[1; 32], &[2; 64]);
        assert_eq!(
            parse(&b),
            Some(Parsed::Signed {
                key: [1; 32],
                signature: [2; 64]
            })
        );
        let mut bad = b;
        bad[0] ^= 1;
        assert_eq!(parse(&bad), None);
        assert_eq!(parse(&b[..100]), None);
        // Every signed section, and its boundaries, changes the message.
        let base = message(|_| b"abc");
        for name in SIGNED {
            let m = message(|n| if n == name { b"abd" } else { b"abc" });
            assert_ne!(m, base, "{name}");
        }
        let split = message(|n| {
            if n == sections::TEXT {
                b"abcabc"
            } else if n == sections::INFO {
                b""
            } else {
                b"abc"
            }
        });
        assert_ne!(split, base);
    }
}
