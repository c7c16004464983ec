//! Signing artifacts ([`precast_format::signature`]) and ed25519 key files.
//!
//! Keys are PEM files, the format OpenSSL reads and writes: the private key as PKCS#8
//! (`-----BEGIN PRIVATE KEY-----`, what `openssl genpkey -algorithm ed25519` writes), the
//! public key as SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).

use crate::CompileError;
use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding,
};
use object::read::elf::ElfFile64;
use object::{Object, ObjectSection};
use precast_format::{sections, signature};
use std::path::Path;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

fn key_err(path: &Path, reason: impl std::fmt::Display) -> CompileError {
    CompileError::Key(format!("`{}`: {reason}", path.display()))
}

/// A new random signing key (from the operating system's random source).
pub fn generate_key() -> Result<SigningKey, CompileError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| CompileError::Key(format!("generation: no random source: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `key` to `path` (PKCS#8 PEM, readable by the owner only) and its public key to
/// `path.pub` (SubjectPublicKeyInfo PEM). Refuses to overwrite an existing key.
pub fn write_key_pair(key: &SigningKey, path: &Path) -> Result<std::path::PathBuf, CompileError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let public = path.with_file_name(format!(
        "{}.pub",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| key_err(path, e))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| key_err(&public, e))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| key_err(path, e))?;
    f.write_all(private.as_bytes())
        .map_err(|e| key_err(path, e))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&public)
        .and_then(|mut f| f.write_all(public_pem.as_bytes()))
        .map_err(|e| key_err(&public, e))?;
    Ok(public)
}

/// Reads a signing key written by [`write_key_pair`] (or by OpenSSL).
pub fn read_key(path: impl AsRef<Path>) -> Result<SigningKey, CompileError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| key_err(path, e))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        key_err(
            path,
            format!("not an ed25519 private key in PKCS#8 PEM (`precast keygen` writes one): {e}"),
        )
    })
}

/// The signature section for an artifact whose other sections are `section`.
pub(crate) fn signature_section<'a>(
    key: &SigningKey,
    section: impl Fn(&str) -> &'a [u8],
) -> [u8; signature::SIZE] {
    let message = signature::message(section);
    let sig = key.sign(&message);
    signature::encode(key.verifying_key().as_bytes(), &sig.to_bytes())
}

/// Signs the artifact (or linkable object) `bytes` in place: fills its signature section,
/// replacing any earlier signature.
pub fn sign(bytes: &mut [u8], key: &SigningKey) -> Result<(), CompileError> {
    let bad = CompileError::Sign;
    let (range, section) = {
        let file = ElfFile64::<object::Endianness>::parse(&*bytes)
            .map_err(|e| bad(format!("not an ELF64 artifact: {e}")))?;
        let mut found: Vec<(String, Option<(u64, u64)>)> = Vec::new();
        for s in file.sections() {
            let name = s.name().unwrap_or_default();
            if name == sections::SIGNATURE || signature::SIGNED.contains(&name) {
                if found.iter().any(|(n, _)| n == name) {
                    return Err(bad(format!("duplicate section `{name}`")));
                }
                found.push((name.to_string(), s.file_range()));
            }
        }
        let range = |name: &str| found.iter().find(|(n, _)| n == name).and_then(|(_, r)| *r);
        let Some((at, len)) = range(sections::SIGNATURE) else {
            return Err(bad(format!(
                "no `{}` section (an artifact of an older precast?)",
                sections::SIGNATURE
            )));
        };
        if len != signature::SIZE as u64 {
            return Err(bad(format!("the signature section is {len} bytes")));
        }
        if range(sections::HEADER).is_none() {
            return Err(bad("not a Precast artifact (no header section)".into()));
        }
        let ranges: Vec<(&str, Option<(u64, u64)>)> =
            signature::SIGNED.iter().map(|n| (*n, range(n))).collect();
        (at as usize..(at + len) as usize, ranges)
    };
    let all = &*bytes;
    let part = |name: &str| -> &[u8] {
        section
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, r)| *r)
            .and_then(|(at, len)| all.get(at as usize..(at + len) as usize))
            .unwrap_or(&[])
    };
    let encoded = signature_section(key, part);
    bytes[range].copy_from_slice(&encoded);
    Ok(())
}

/// Signs the artifact file at `path` in place (or writes the signed copy to `output`).
pub fn sign_file(
    path: impl AsRef<Path>,
    output: Option<&Path>,
    key: &SigningKey,
) -> Result<(), CompileError> {
    let path = path.as_ref();
    let mut bytes =
        std::fs::read(path).map_err(|e| CompileError::Io(path.display().to_string(), e))?;
    sign(&mut bytes, key)?;
    let out = output.unwrap_or(path);
    std::fs::write(out, bytes).map_err(|e| CompileError::Io(out.display().to_string(), e))
}
