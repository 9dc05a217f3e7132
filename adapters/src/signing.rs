//! Signed requests between legacy systems and ronghe's write-back intake, shared by the
//! platform's verifier and by the clients (simulators, tests): the four `X-Ronghe-*` headers,
//! the string to sign (`METHOD\nPATH\nTIMESTAMP\nNONCE\nhex(SHA-256(body as sent))`), HMAC-SHA256
//! or HMAC-SM3 in hex compared in constant time, and optional SM4-GCM payload encryption
//! (`X-Ronghe-Encryption: sm4-gcm`, body = 12-byte nonce || ciphertext and tag). A signature
//! covers the bytes as sent, so an encrypted body is signed encrypted.

use aes_gcm::AesGcm;
use aes_gcm::aead::generic_array::typenum::U12;
use aes_gcm::aead::{Aead, KeyInit};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

/// The key id the request is signed with.
pub const KEY_ID: &str = "x-ronghe-key-id";
/// Unix seconds when the request was signed.
pub const TIMESTAMP: &str = "x-ronghe-timestamp";
/// A value used once per key and system inside the timestamp window.
pub const NONCE: &str = "x-ronghe-nonce";
/// The HMAC of the string to sign, in lowercase hex.
pub const SIGNATURE: &str = "x-ronghe-signature";
/// `sm4-gcm` when the body is encrypted.
pub const ENCRYPTION: &str = "x-ronghe-encryption";
/// The only payload encryption there is.
pub const SM4_GCM: &str = "sm4-gcm";

type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

/// The MAC of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    HmacSha256,
    /// HMAC with SM3 (GB/T 32905), for systems bound to the national commercial algorithms.
    HmacSm3,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSm3 => "hmac-sm3",
        }
    }

    fn mac(self, secret: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::HmacSha256 => {
                // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
                let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
                    unreachable!("HMAC accepts keys of any length")
                };
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            Algorithm::HmacSm3 => {
                let Ok(mut mac) = <Hmac<sm3::Sm3> as Mac>::new_from_slice(secret) else {
                    unreachable!("HMAC accepts keys of any length")
                };
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }
}

/// The string a signature covers.
pub fn string_to_sign(method: &str, path: &str, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    format!(
        "{}\n{path}\n{timestamp}\n{nonce}\n{}",
        method.to_ascii_uppercase(),
        hex::encode(Sha256::digest(body))
    )
}

/// The hex signature of a request.
pub fn sign(
    algorithm: Algorithm,
    secret: &[u8],
    method: &str,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    hex::encode(algorithm.mac(
        secret,
        string_to_sign(method, path, timestamp, nonce, body).as_bytes(),
    ))
}

/// Whether `signature` (hex, as received) is right for the request; constant time in the MAC.
pub fn verify(algorithm: Algorithm, secret: &[u8], request: &SignedParts<'_>, body: &[u8]) -> bool {
    let Ok(given) = hex::decode(request.signature) else {
        return false;
    };
    let expected = algorithm.mac(
        secret,
        string_to_sign(
            request.method,
            request.path,
            request.timestamp,
            request.nonce,
            body,
        )
        .as_bytes(),
    );
    given.len() == expected.len() && bool::from(expected.ct_eq(&given))
}

/// The signed parts of a received request.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
}

/// Why an encrypted payload could not be opened or sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the SM4 key must be 32 hex characters (16 bytes)")]
    Key,
    #[error("no random bytes available")]
    Random,
    #[error("the encrypted body does not open with this key")]
    Open,
}

/// An SM4 key from its hex form.
pub fn sm4_key(hex_key: &str) -> Result<[u8; 16], CryptoError> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::Key)?;
    bytes.try_into().map_err(|_| CryptoError::Key)
}

/// Encrypts a body: a fresh 12-byte nonce, then the ciphertext with its tag.
pub fn encrypt(key: &[u8; 16], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
    let sealed = Sm4Gcm::new(key.into())
        .encrypt((&nonce).into(), plaintext)
        .map_err(|_| CryptoError::Open)?;
    let mut out = Vec::with_capacity(12 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a body sealed by `encrypt`.
pub fn decrypt(key: &[u8; 16], body: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if body.len() < 12 + 16 {
        return Err(CryptoError::Open);
    }
    let (nonce, sealed) = body.split_at(12);
    Sm4Gcm::new(key.into())
        .decrypt(nonce.into(), sealed)
        .map_err(|_| CryptoError::Open)
}

/// A client's credentials: builds the headers (and the body as sent) for a request.
#[derive(Clone)]
pub struct Signer {
    pub key_id: String,
    pub algorithm: Algorithm,
    secret: Vec<u8>,
    encryption: Option<[u8; 16]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("encrypted", &self.encryption.is_some())
            .finish_non_exhaustive()
    }
}

/// A request ready to send: its headers and the body as sent.
#[derive(Debug, Clone)]
pub struct Signed {
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Signer {
    pub fn new(key_id: impl Into<String>, algorithm: Algorithm, secret: impl Into<Vec<u8>>) -> Signer {
        Signer {
            key_id: key_id.into(),
            algorithm,
            secret: secret.into(),
            encryption: None,
        }
    }

    /// Encrypts every body with this SM4 key before signing it.
    pub fn with_sm4(mut self, key: [u8; 16]) -> Signer {
        self.encryption = Some(key);
        self
    }

    /// Signs a request now, with a fresh random nonce.
    pub fn sign(&self, method: &str, path: &str, body: &[u8]) -> Result<Signed, CryptoError> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let timestamp = chrono::Utc::now().timestamp();
        self.sign_at(method, path, body, timestamp, &hex::encode(nonce))
    }

    /// Signs a request with a given timestamp and nonce (tests replay and age requests).
    pub fn sign_at(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        timestamp: i64,
        nonce: &str,
    ) -> Result<Signed, CryptoError> {
        let body = match &self.encryption {
            Some(key) => encrypt(key, body)?,
            None => body.to_vec(),
        };
        let timestamp = timestamp.to_string();
        let signature = sign(
            self.algorithm,
            &self.secret,
            method,
            path,
            &timestamp,
            nonce,
            &body,
        );
        let mut headers = vec![
            (KEY_ID, self.key_id.clone()),
            (TIMESTAMP, timestamp),
            (NONCE, nonce.to_owned()),
            (SIGNATURE, signature),
        ];
        if self.encryption.is_some() {
            headers.push((ENCRYPTION, SM4_GCM.to_owned()));
        }
        Ok(Signed { headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_does_not() {
        for algorithm in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
            let signer = Signer::new("k1", algorithm, b"secret".to_vec());
            let signed = signer
                .sign_at("post", "/api/v1/writeback/x", b"{}", 1_700_000_000, "n1")
                .unwrap();
            let header = |name| signed.headers.iter().find(|(h, _)| *h == name).unwrap().1.clone();
            let signature = header(SIGNATURE);
            let parts = SignedParts {
                method: "POST",
                path: "/api/v1/writeback/x",
                timestamp: "1700000000",
                nonce: "n1",
                signature: &signature,
            };
            assert!(verify(algorithm, b"secret", &parts, b"{}"));
            assert!(!verify(algorithm, b"secret", &parts, b"{ }"));
            assert!(!verify(algorithm, b"other", &parts, b"{}"));
            assert!(!verify(
                algorithm,
                b"secret",
                &SignedParts { nonce: "n2", ..parts },
                b"{}"
            ));
            assert!(!verify(
                algorithm,
                b"secret",
                &SignedParts {
                    signature: "zz",
                    ..parts
                },
                b"{}"
            ));
        }
        // The two MACs differ.
        assert_ne!(
            sign(Algorithm::HmacSha256, b"s", "POST", "/", "1", "n", b""),
            sign(Algorithm::HmacSm3, b"s", "POST", "/", "1", "n", b"")
        );
    }

    #[test]
    fn sm4_bodies_round_trip_and_refuse_other_keys() {
        let key = sm4_key("00112233445566778899aabbccddeeff").unwrap();
        let sealed = encrypt(&key, "办件".as_bytes()).unwrap();
        assert_eq!(decrypt(&key, &sealed).unwrap(), "办件".as_bytes());
        let other = sm4_key("ffeeddccbbaa99887766554433221100").unwrap();
        assert_eq!(decrypt(&other, &sealed), Err(CryptoError::Open));
        assert_eq!(sm4_key("abc"), Err(CryptoError::Key));
    }
}
