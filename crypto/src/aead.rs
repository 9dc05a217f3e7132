//! Authenticated encryption: AES-256-GCM and SM4-GCM (SM4, GB/T 32907, in the aes-gcm crate's
//! generic Galois/counter mode), both with a 96-bit nonce and a 128-bit tag. Sealed bytes are
//! `nonce || ciphertext || tag`, with a fresh random nonce each time and optional associated
//! data (what the bytes are for) that must be given again to open them.

use aes_gcm::aead::generic_array::typenum::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm};

use crate::CryptoError;
use crate::names::{Named, by_name};

/// SM4 in Galois/counter mode with a 96-bit nonce.
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

/// Bytes of the nonce that starts sealed bytes.
pub const NONCE_BYTES: usize = 12;
/// Bytes of the tag that ends them.
pub const TAG_BYTES: usize = 16;

/// An authenticated cipher: personal values at rest, write-back bodies in transit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Cipher {
    #[default]
    Aes256Gcm,
    /// SM4 (GB/T 32907), for systems bound to the national commercial algorithms.
    Sm4Gcm,
}

impl Named for Cipher {
    const KIND: &'static str = "cipher";
    const ALL: &'static [Cipher] = &[Cipher::Aes256Gcm, Cipher::Sm4Gcm];

    fn name(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "aes-256-gcm",
            Cipher::Sm4Gcm => "sm4-gcm",
        }
    }
}

by_name!(Cipher);

impl Cipher {
    /// Bytes of this cipher's key.
    pub fn key_bytes(self) -> usize {
        match self {
            Cipher::Aes256Gcm => 32,
            Cipher::Sm4Gcm => 16,
        }
    }

    /// A key of this cipher from its bytes; refused unless exactly `key_bytes` long.
    pub fn key(self, bytes: &[u8]) -> Result<SealingKey, CryptoError> {
        let wrong_length = || CryptoError::KeyLength {
            cipher: self,
            bytes: self.key_bytes(),
        };
        let engine = match self {
            Cipher::Aes256Gcm => Engine::Aes256Gcm(Box::new(
                Aes256Gcm::new_from_slice(bytes).map_err(|_| wrong_length())?,
            )),
            Cipher::Sm4Gcm => Engine::Sm4Gcm(Box::new(
                Sm4Gcm::new_from_slice(bytes).map_err(|_| wrong_length())?,
            )),
        };
        Ok(SealingKey { cipher: self, engine })
    }

    /// A key of this cipher from hex (surrounding white space ignored).
    pub fn key_from_hex(self, text: &str) -> Result<SealingKey, CryptoError> {
        let bytes = hex::decode(text.trim()).map_err(|_| CryptoError::KeyLength {
            cipher: self,
            bytes: self.key_bytes(),
        })?;
        self.key(&bytes)
    }
}

#[derive(Clone)]
enum Engine {
    Aes256Gcm(Box<Aes256Gcm>),
    Sm4Gcm(Box<Sm4Gcm>),
}

/// A cipher with its key, ready to seal and open. Never printed.
#[derive(Clone)]
pub struct SealingKey {
    cipher: Cipher,
    engine: Engine,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// The cipher this key is for.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Seals `plain`, bound to `aad`: `nonce || ciphertext || tag` with a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0_u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&self.seal_with_nonce(&nonce, aad, plain)?);
        Ok(sealed)
    }

    /// Opens what `seal` produced with this key and the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_BYTES + TAG_BYTES {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let payload = Payload { msg: ciphertext, aad };
        match &self.engine {
            Engine::Aes256Gcm(cipher) => cipher.decrypt(nonce.into(), payload),
            Engine::Sm4Gcm(cipher) => cipher.decrypt(nonce.into(), payload),
        }
        .map_err(|_| CryptoError::Open)
    }

    /// `ciphertext || tag` under a given nonce: what `seal` does after drawing one (and what the
    /// known-answer tests drive with the standards' nonces). A nonce must never repeat under a key.
    pub(crate) fn seal_with_nonce(
        &self,
        nonce: &[u8; NONCE_BYTES],
        aad: &[u8],
        plain: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let payload = Payload { msg: plain, aad };
        match &self.engine {
            Engine::Aes256Gcm(cipher) => cipher.encrypt(nonce.into(), payload),
            Engine::Sm4Gcm(cipher) => cipher.encrypt(nonce.into(), payload),
        }
        // GCM refuses only messages longer than 64 GiB.
        .map_err(|_| CryptoError::TooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_with_their_key_and_purpose() {
        for cipher in Cipher::ALL.iter().copied() {
            let key = cipher.key(&vec![7; cipher.key_bytes()]).unwrap();
            let sealed = key.seal(b"purpose", "办件".as_bytes()).unwrap();
            assert_ne!(sealed, key.seal(b"purpose", "办件".as_bytes()).unwrap());
            assert_eq!(key.open(b"purpose", &sealed).unwrap(), "办件".as_bytes());
            assert_eq!(key.open(b"other", &sealed), Err(CryptoError::Open));
            let other = cipher.key(&vec![8; cipher.key_bytes()]).unwrap();
            assert_eq!(other.open(b"purpose", &sealed), Err(CryptoError::Open));
            let mut tampered = sealed.clone();
            *tampered.last_mut().unwrap() ^= 1;
            assert_eq!(key.open(b"purpose", &tampered), Err(CryptoError::Open));
            assert_eq!(key.open(b"purpose", &sealed[..27]), Err(CryptoError::Open));
        }
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused_with_the_length_needed() {
        let err = Cipher::Sm4Gcm.key_from_hex("0011").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the sm4-gcm key must be 32 hex characters (16 bytes)"
        );
        assert!(Cipher::Sm4Gcm.key_from_hex("not hex").is_err());
        assert!(Cipher::Aes256Gcm.key(&[0; 16]).is_err());
        assert!(
            Cipher::Sm4Gcm
                .key_from_hex(" 00112233445566778899aabbccddeeff\n")
                .is_ok()
        );
    }
}
