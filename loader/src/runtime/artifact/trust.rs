//! [`TrustedKey`]: a public key whose artifact signatures an engine accepts.

use crate::prelude::*;

/// An ed25519 public key whose signatures the engine accepts ([`Config::trust`](crate::Config::trust)).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TrustedKey(
    #[cfg(feature = "signatures")] pub(crate) ed25519_dalek::VerifyingKey,
    /// Without the `signatures` feature no key can be made (the constructors refuse).
    #[cfg(not(feature = "signatures"))]
    pub(crate) core::convert::Infallible,
);

/// Why a key cannot be made without the `signatures` feature.
#[cfg(not(feature = "signatures"))]
const NO_SIGNATURES: &str =
    "this loader was built without signature verification (the `signatures` feature)";

impl TrustedKey {
    /// The key from its 32 bytes; `None` if they are not a valid ed25519 public key (always
    /// `None` without the `signatures` feature).
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<TrustedKey> {
        #[cfg(feature = "signatures")]
        return ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .ok()
            .map(TrustedKey);
        #[cfg(not(feature = "signatures"))]
        {
            let _ = bytes;
            None
        }
    }

    /// The key from a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`), as
    /// `precast keygen` writes to `KEY.pub` and `openssl pkey -pubout` writes.
    pub fn from_pem(pem: &str) -> Result<TrustedKey, String> {
        #[cfg(feature = "signatures")]
        {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                .map(TrustedKey)
                .map_err(|e| format!("not an ed25519 public key in PEM: {e}"))
        }
        #[cfg(not(feature = "signatures"))]
        {
            let _ = pem;
            Err(NO_SIGNATURES.into())
        }
    }

    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        #[cfg(feature = "signatures")]
        return self.0.to_bytes();
        #[cfg(not(feature = "signatures"))]
        match self.0 {}
    }

    /// A short fingerprint for messages (the first 8 bytes of the key's SHA-256, hex).
    pub fn fingerprint(&self) -> String {
        precast_format::signature::fingerprint(&self.to_bytes())
    }
}

impl core::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TrustedKey({})", self.fingerprint())
    }
}
