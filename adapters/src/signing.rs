//! Signed HTTP requests, one scheme for every direction: pushes from legacy systems to ronghe's
//! write-back intake (verified there), ronghe's webhook notifications, and the REST driver's
//! `hmac` auth towards legacy systems. The string to sign is
//! `METHOD\nTARGET\nTIMESTAMP\nNONCE\nhex(SHA-256(body as sent))` (TARGET is the path, with the
//! query when there is one), MACed with a `ronghe_crypto::MacAlgorithm` and sent in lowercase
//! hex; the headers that carry key id, timestamp, nonce and signature are the write-back's
//! `X-Ronghe-*` unless a `HeaderNames` says otherwise. Write-back bodies may be sealed with
//! SM4-GCM (`X-Ronghe-Encryption: sm4-gcm`, body = 12-byte nonce || ciphertext and tag); a
//! signature covers the bytes as sent, so an encrypted body is signed encrypted.

use ronghe_crypto::{CryptoError, MacAlgorithm, Named as _, SealingKey};
use sha2::{Digest, Sha256};

/// The key id the request is signed with.
pub const KEY_ID: &str = "x-ronghe-key-id";
/// Unix seconds when the request was signed.
pub const TIMESTAMP: &str = "x-ronghe-timestamp";
/// A value used once per key and system inside the timestamp window.
pub const NONCE: &str = "x-ronghe-nonce";
/// The MAC of the string to sign, in lowercase hex.
pub const SIGNATURE: &str = "x-ronghe-signature";
/// The cipher's name (`sm4-gcm`) when the body is encrypted.
pub const ENCRYPTION: &str = "x-ronghe-encryption";

/// The headers a signed request carries its key id, timestamp, nonce and signature in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderNames {
    pub key_id: &'static str,
    pub timestamp: &'static str,
    pub nonce: &'static str,
    pub signature: &'static str,
}

/// The write-back's (and the webhook's) headers.
pub const RONGHE_HEADERS: HeaderNames = HeaderNames {
    key_id: KEY_ID,
    timestamp: TIMESTAMP,
    nonce: NONCE,
    signature: SIGNATURE,
};

/// The string a signature covers.
pub fn string_to_sign(method: &str, target: &str, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    format!(
        "{}\n{target}\n{timestamp}\n{nonce}\n{}",
        method.to_ascii_uppercase(),
        hex::encode(Sha256::digest(body))
    )
}

/// The hex signature of a request.
pub fn sign(
    algorithm: MacAlgorithm,
    secret: &[u8],
    method: &str,
    target: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    hex::encode(algorithm.mac(
        secret,
        string_to_sign(method, target, timestamp, nonce, body).as_bytes(),
    ))
}

/// Whether `signature` (hex, as received) is right for the request; constant time in the MAC.
pub fn verify(algorithm: MacAlgorithm, secret: &[u8], request: &SignedParts<'_>, body: &[u8]) -> bool {
    let Ok(given) = hex::decode(request.signature) else {
        return false;
    };
    let message = string_to_sign(
        request.method,
        request.path,
        request.timestamp,
        request.nonce,
        body,
    );
    algorithm.verify(secret, message.as_bytes(), &given)
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

/// A client's credentials: builds the headers (and the body as sent) for a request.
#[derive(Clone)]
pub struct Signer {
    pub key_id: String,
    pub algorithm: MacAlgorithm,
    secret: Vec<u8>,
    headers: HeaderNames,
    encryption: Option<SealingKey>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("encryption", &self.encryption.as_ref().map(SealingKey::cipher))
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
    pub fn new(key_id: impl Into<String>, algorithm: MacAlgorithm, secret: impl Into<Vec<u8>>) -> Signer {
        Signer {
            key_id: key_id.into(),
            algorithm,
            secret: secret.into(),
            headers: RONGHE_HEADERS,
            encryption: None,
        }
    }

    /// Sends key id, timestamp, nonce and signature in these headers instead.
    pub fn with_header_names(mut self, headers: HeaderNames) -> Signer {
        self.headers = headers;
        self
    }

    /// Seals every body with this key (the write-back takes `sm4-gcm`) before signing it.
    pub fn with_encryption(mut self, key: SealingKey) -> Signer {
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
            Some(key) => key.seal(&[], body)?,
            None => body.to_vec(),
        };
        let mut headers = self.headers_at(method, path, &body, timestamp, nonce);
        if let Some(key) = &self.encryption {
            headers.push((ENCRYPTION, key.cipher().name().to_owned()));
        }
        Ok(Signed { headers, body })
    }

    /// The key id, timestamp, nonce and signature headers for `body` exactly as it is sent.
    pub fn headers_at(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        timestamp: i64,
        nonce: &str,
    ) -> Vec<(&'static str, String)> {
        let timestamp = timestamp.to_string();
        let signature = sign(
            self.algorithm,
            &self.secret,
            method,
            path,
            &timestamp,
            nonce,
            body,
        );
        vec![
            (self.headers.key_id, self.key_id.clone()),
            (self.headers.timestamp, timestamp),
            (self.headers.nonce, nonce.to_owned()),
            (self.headers.signature, signature),
        ]
    }
}

#[cfg(test)]
mod tests {
    use ronghe_crypto::Cipher;

    use super::*;

    #[test]
    fn signatures_verify_and_tampering_does_not() {
        for algorithm in [MacAlgorithm::HmacSha256, MacAlgorithm::HmacSm3] {
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
            sign(MacAlgorithm::HmacSha256, b"s", "POST", "/", "1", "n", b""),
            sign(MacAlgorithm::HmacSm3, b"s", "POST", "/", "1", "n", b"")
        );
    }

    #[test]
    fn the_signature_matches_an_independent_computation() {
        // Computed with Python: hmac.new(b"k", b"GET\n/api/cases?page=1\n1700000000\nabc\n" +
        // hashlib.sha256(b"").hexdigest().encode(), hashlib.sha256).hexdigest()
        assert_eq!(
            sign(
                MacAlgorithm::HmacSha256,
                b"k",
                "GET",
                "/api/cases?page=1",
                "1700000000",
                "abc",
                b""
            ),
            "50992288a8daca779a0a1dc5c3db30d679c65c968761cb5b1b1be01300ffd043"
        );
    }

    #[test]
    fn encrypted_bodies_are_signed_as_sent_and_open_with_the_key() {
        let key = Cipher::Sm4Gcm
            .key_from_hex("00112233445566778899aabbccddeeff")
            .unwrap();
        let signer =
            Signer::new("k1", MacAlgorithm::HmacSm3, b"secret".to_vec()).with_encryption(key.clone());
        let signed = signer.sign_at("POST", "/w", "办件".as_bytes(), 1, "n").unwrap();
        assert!(signed.headers.contains(&(ENCRYPTION, "sm4-gcm".to_owned())));
        assert_eq!(key.open(&[], &signed.body).unwrap(), "办件".as_bytes());
        let signature = &signed.headers[3].1;
        let parts = SignedParts {
            method: "POST",
            path: "/w",
            timestamp: "1",
            nonce: "n",
            signature,
        };
        assert!(verify(MacAlgorithm::HmacSm3, b"secret", &parts, &signed.body));
    }
}
