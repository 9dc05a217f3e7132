//! Signatures: a MAC under a shared key, or Ed25519 (RFC 8032) for peers that verify with a
//! public key. `Signature` names them in config (`hmac-sha256`, `hmac-sm3`, `ed25519`) and in
//! JWS headers (`HS256`, `HSM3`, `EdDSA`).

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::mac::MacAlgorithm;
use crate::names::{Named, by_name};

/// How a token or statement is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signature {
    /// A MAC under a shared key.
    Mac(MacAlgorithm),
    /// Ed25519: anyone holding the public key can verify.
    Ed25519,
}

impl Default for Signature {
    fn default() -> Self {
        Signature::Mac(MacAlgorithm::default())
    }
}

impl Named for Signature {
    const KIND: &'static str = "signature";
    const ALL: &'static [Signature] = &[
        Signature::Mac(MacAlgorithm::HmacSha256),
        Signature::Mac(MacAlgorithm::HmacSm3),
        Signature::Ed25519,
    ];

    fn name(self) -> &'static str {
        match self {
            Signature::Mac(mac) => mac.name(),
            Signature::Ed25519 => "ed25519",
        }
    }
}

by_name!(Signature);

impl Signature {
    /// The JWS `alg` (RFC 7518 §3.1, RFC 8037 §3.1; `HSM3` is ours for HMAC-SM3).
    pub fn jws_alg(self) -> &'static str {
        match self {
            Signature::Mac(MacAlgorithm::HmacSha256) => "HS256",
            Signature::Mac(MacAlgorithm::HmacSm3) => "HSM3",
            Signature::Ed25519 => "EdDSA",
        }
    }
}

/// An Ed25519 private key. Never printed.
#[derive(Clone)]
pub struct Ed25519Key(SigningKey);

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Ed25519Key")
            .field(&hex::encode(self.public()))
            .finish()
    }
}

impl Ed25519Key {
    /// The key whose 32-byte secret (RFC 8032 §5.1.5) is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Ed25519Key {
        Ed25519Key(SigningKey::from_bytes(seed))
    }

    /// The 64-byte signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The 32-byte public key.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
}

/// Whether `signature` is an Ed25519 signature of `message` under `public`.
pub fn verify_ed25519(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}
