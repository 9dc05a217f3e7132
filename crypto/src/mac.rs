//! Message authentication: HMAC (RFC 2104) over SHA-256 or SM3 (GB/T 32905), one generic
//! construction for both, and the constant-time comparison every check goes through.

use hmac::digest::Digest;
use hmac::digest::core_api::BlockSizeUser;
use hmac::{Mac as _, SimpleHmac};
use subtle::ConstantTimeEq as _;

use crate::names::{Named, by_name};

/// A MAC algorithm: write-back signatures, webhook and outbound REST signatures, ticket MACs and
/// blind indexes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    #[default]
    HmacSha256,
    /// HMAC with SM3 (GB/T 32905), for systems bound to the national commercial algorithms.
    HmacSm3,
}

impl Named for MacAlgorithm {
    const KIND: &'static str = "MAC algorithm";
    const ALL: &'static [MacAlgorithm] = &[MacAlgorithm::HmacSha256, MacAlgorithm::HmacSm3];

    fn name(self) -> &'static str {
        match self {
            MacAlgorithm::HmacSha256 => "hmac-sha256",
            MacAlgorithm::HmacSm3 => "hmac-sm3",
        }
    }
}

by_name!(MacAlgorithm);

impl MacAlgorithm {
    /// The tag of `message` under `key` (HMAC takes keys of any length).
    pub fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            MacAlgorithm::HmacSha256 => hmac::<sha2::Sha256>(key, message),
            MacAlgorithm::HmacSm3 => hmac::<sm3::Sm3>(key, message),
        }
    }

    /// Whether `tag` is the tag of `message` under `key`; constant time in the tag's bytes.
    pub fn verify(self, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        constant_time_eq(&self.mac(key, message), tag)
    }
}

/// HMAC over any block hash: the one construction behind every `MacAlgorithm`.
fn hmac<D: Digest + BlockSizeUser>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = <SimpleHmac<D> as hmac::digest::KeyInit>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
