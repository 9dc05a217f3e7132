//! The one registry of the algorithms ronghe protects data with, below every other crate of the
//! workspace: one enum per kind — `MacAlgorithm` (HMAC-SHA256, HMAC-SM3), `Cipher` (AES-256-GCM,
//! SM4-GCM) and `Signature` (a MAC or Ed25519) — each with its config and wire names in one table
//! (`Named`), and one function per operation: `MacAlgorithm::mac` / `verify` (constant time),
//! `SealingKey::seal` / `open`, `Ed25519Key::sign` / `verify_ed25519`. Every primitive is the
//! RustCrypto crates' (SM4-GCM is their generic GCM over SM4); `known_answers` checks each
//! against its standard's published vectors.

mod aead;
#[cfg(test)]
mod known_answers;
mod mac;
mod names;
mod signature;

pub use aead::{Cipher, NONCE_BYTES, SealingKey, TAG_BYTES};
pub use mac::{MacAlgorithm, constant_time_eq};
pub use names::{Named, UnknownName};
pub use signature::{Ed25519Key, Signature, verify_ed25519};

/// Why a key cannot be used or sealed bytes cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the {cipher} key must be {} hex characters ({bytes} bytes)", bytes * 2)]
    KeyLength { cipher: Cipher, bytes: usize },
    #[error("no random bytes available")]
    Random,
    #[error("the message is too long for the cipher (GCM takes at most 64 GiB)")]
    TooLong,
    #[error("the sealed bytes do not open with this key (altered, or sealed under another key or purpose)")]
    Open,
}
