//! The bridge's keys: the `[bridge]` table of the node config (key ids and secret references,
//! never key material), and the `Keyring` built from it. Each key id names one 32-byte master
//! secret from which HKDF-SHA256 derives separate subkeys: one that seals personal values at rest
//! (a `Cipher`: AES-256-GCM or SM4-GCM), one for the keyed blind indexes (HMAC-SHA256) that
//! lookups use, one that MACs tickets (HMAC-SHA256 or HMAC-SM3) and an Ed25519 signing key for
//! systems that verify tickets offline. The algorithms are `ronghe_crypto`'s. Rotation: one key
//! is active and protects everything new; the others still open, match and verify what they
//! protected.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ronghe_adapters::{SecretRef, Secrets};
use ronghe_crypto::{Cipher, CryptoError, Ed25519Key, MacAlgorithm, SealingKey, Signature, verify_ed25519};
use serde::Deserialize;
use sha2::Sha256;

/// `[bridge]` in the node config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeKeysConfig {
    /// Id of the key that seals, indexes and signs from now on; the other keys only open, match
    /// and verify what they protected before (rotation).
    pub active_key: String,
    /// Every key still needed, the active one included.
    pub keys: Vec<KeyConfig>,
}

/// One key of the bridge.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Short id (letters, digits, `-`, `_`; at most 32), stored with every value the key
    /// protects and named in every ticket it signs.
    pub id: String,
    /// Where the 32-byte master secret lives, as 64 hex characters: `env:NAME` or `file:PATH`.
    /// Never the secret itself.
    pub secret: SecretRef,
    /// How personal values are sealed at rest: `sm4-gcm` (GB/T 32907, the default, for 国密
    /// deployments) or `aes-256-gcm` (what a key without `cipher` sealed with before 2026-12:
    /// such a key must now say so; the node refuses to start when a key cannot open what it
    /// sealed, see `accounts::key_opens_its_seals`).
    #[serde(default = "default_sealing_cipher")]
    pub cipher: Cipher,
}

/// The cipher of a key that does not name one: SM4-GCM (issue 20).
fn default_sealing_cipher() -> Cipher {
    Cipher::Sm4Gcm
}

impl BridgeKeysConfig {
    /// Every problem of the table, each with its path; no I/O.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.keys.is_empty() {
            problems.push("bridge.keys: at least one key is needed".to_owned());
        }
        for (i, key) in self.keys.iter().enumerate() {
            let well_formed = (1..=32).contains(&key.id.len())
                && key
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !well_formed {
                problems.push(format!(
                    "bridge.keys[{i}].id: use 1-32 letters, digits, '-' or '_'"
                ));
            }
            if self.keys[..i].iter().any(|k| k.id == key.id) {
                problems.push(format!("bridge.keys[{i}].id: {:?} is listed twice", key.id));
            }
            if let Some(problem) = key.secret.problem() {
                problems.push(format!("bridge.keys[{i}].secret: {problem}"));
            }
        }
        if !self.keys.iter().any(|k| k.id == self.active_key) {
            problems.push(format!(
                "bridge.active_key: {:?} is not one of bridge.keys",
                self.active_key
            ));
        }
        problems
    }
}

/// Why keys cannot be built or a sealed value cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("bridge key {id}: {message}")]
    Secret { id: String, message: String },
    #[error("bridge keys are invalid: {0}")]
    Invalid(String),
    #[error(
        "no key {0:?} is configured in [bridge]; keep retired keys listed until `ronghe keys rotate` has run"
    )]
    UnknownKey(String),
    #[error("a sealed value is corrupt or was sealed under another key or purpose")]
    Corrupt,
    #[error("the system's random source failed")]
    Random,
}

/// The subkeys of one key id. Never printed.
struct Key {
    id: String,
    sealing: SealingKey,
    index: [u8; 32],
    mac: [u8; 32],
    signing: Ed25519Key,
}

/// The keys of a node, resolved; the active one first.
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring")
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Validates the table and resolves every key's secret through `secrets`.
    pub fn build(config: &BridgeKeysConfig, secrets: &dyn Secrets) -> Result<Keyring, KeyError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(KeyError::Invalid(problems.join("; ")));
        }
        let mut keys = Vec::with_capacity(config.keys.len());
        for key in &config.keys {
            let secret_error = |message: String| KeyError::Secret {
                id: key.id.clone(),
                message,
            };
            let text = secrets
                .resolve(&key.secret)
                .map_err(|e| secret_error(e.message))?;
            let master = hex::decode(text.trim())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| {
                    secret_error(format!(
                        "secret {} must be 32 bytes written as 64 hex characters (e.g. `openssl rand -hex 32`)",
                        key.secret
                    ))
                })?;
            keys.push(Key::derive(&key.id, key.cipher, &master));
        }
        // The active key goes first: it is the one `seal`, `index` and `sign` use.
        let active = keys.iter().position(|k| k.id == config.active_key).unwrap_or(0);
        keys.swap(0, active);
        Ok(Keyring { keys })
    }

    fn active(&self) -> &Key {
        // `build` refuses an empty key list.
        &self.keys[0]
    }

    /// The active key's id.
    pub fn active_id(&self) -> &str {
        &self.active().id
    }

    fn key(&self, id: &str) -> Result<&Key, KeyError> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| KeyError::UnknownKey(id.to_owned()))
    }

    /// Seals `plain` under the active key, bound to `purpose` (e.g. `identity/u1/certificate_no`):
    /// `KEYID:base64(nonce || ciphertext || tag)`.
    pub fn seal(&self, purpose: &str, plain: &str) -> Result<String, KeyError> {
        let key = self.active();
        let sealed = key
            .sealing
            .seal(purpose.as_bytes(), plain.as_bytes())
            .map_err(|err| match err {
                CryptoError::Random => KeyError::Random,
                _ => KeyError::Corrupt,
            })?;
        Ok(format!("{}:{}", key.id, STANDARD.encode(sealed)))
    }

    /// Opens a value `seal` produced for the same `purpose`, under whichever key sealed it.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<String, KeyError> {
        let (id, body) = sealed.split_once(':').ok_or(KeyError::Corrupt)?;
        let key = self.key(id)?;
        let bytes = STANDARD.decode(body).map_err(|_| KeyError::Corrupt)?;
        let plain = key
            .sealing
            .open(purpose.as_bytes(), &bytes)
            .map_err(|_| KeyError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| KeyError::Corrupt)
    }

    /// The blind index of `value` in `domain` under the active key: `KEYID:hex(HMAC-SHA256)`.
    /// Equal values give equal indexes; nothing about the value can be read from one.
    pub fn index(&self, domain: &str, value: &str) -> String {
        self.active().blind_index(domain, value)
    }

    /// The blind index of `value` under every key, the active one first: what a lookup matches,
    /// so that rows written before a rotation are still found.
    pub fn indexes(&self, domain: &str, value: &str) -> Vec<String> {
        self.keys.iter().map(|k| k.blind_index(domain, value)).collect()
    }

    /// Signs `message` with the active key (its MAC subkey, or its Ed25519 key); returns the key
    /// id and the signature.
    pub fn sign(&self, signature: Signature, message: &[u8]) -> (&str, Vec<u8>) {
        let key = self.active();
        let tag = match signature {
            Signature::Mac(algorithm) => algorithm.mac(&key.mac, message),
            Signature::Ed25519 => key.signing.sign(message).to_vec(),
        };
        (&key.id, tag)
    }

    /// Whether `tag` is `signature` over `message` by key `key_id` (MACs in constant time).
    pub fn verify(&self, signature: Signature, key_id: &str, message: &[u8], tag: &[u8]) -> bool {
        let Ok(key) = self.key(key_id) else {
            return false;
        };
        match signature {
            Signature::Mac(algorithm) => algorithm.verify(&key.mac, message, tag),
            Signature::Ed25519 => verify_ed25519(&key.signing.public(), message, tag),
        }
    }

    /// Every key's Ed25519 public key (id, 32 bytes), for systems that verify tickets offline.
    pub fn public_keys(&self) -> Vec<(String, [u8; 32])> {
        self.keys
            .iter()
            .map(|k| (k.id.clone(), k.signing.public()))
            .collect()
    }
}

/// The store seals applicants' personal values with the node's keys (issue 20).
impl crate::store::Sealer for Keyring {
    fn active_key(&self) -> &str {
        self.active_id()
    }

    fn seal(&self, purpose: &str, plain: &str) -> Result<String, crate::store::SealError> {
        Keyring::seal(self, purpose, plain).map_err(|e| crate::store::SealError(e.to_string()))
    }

    fn open(&self, purpose: &str, sealed: &str) -> Result<String, crate::store::SealError> {
        Keyring::open(self, purpose, sealed).map_err(|e| crate::store::SealError(e.to_string()))
    }

    fn index(&self, domain: &str, value: &str) -> String {
        Keyring::index(self, domain, value)
    }

    fn indexes(&self, domain: &str, value: &str) -> Vec<String> {
        Keyring::indexes(self, domain, value)
    }
}

impl Key {
    fn derive(id: &str, cipher: Cipher, master: &[u8; 32]) -> Key {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"ronghe-bridge-v1"), master);
        let subkey = |label: &str| {
            let mut out = [0_u8; 32];
            // 32 bytes is far below HKDF-SHA256's limit of 255 blocks.
            hkdf.expand(label.as_bytes(), &mut out)
                .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF length"));
            out
        };
        let sealing = cipher
            .key(&subkey("seal")[..cipher.key_bytes()])
            .unwrap_or_else(|_| unreachable!("a cipher's key is at most the 32 bytes derived"));
        Key {
            id: id.to_owned(),
            sealing,
            index: subkey("blind-index"),
            mac: subkey("ticket-mac"),
            signing: Ed25519Key::from_seed(&subkey("ed25519")),
        }
    }

    fn blind_index(&self, domain: &str, value: &str) -> String {
        let message = [domain.as_bytes(), &[0], value.as_bytes()].concat();
        let tag = MacAlgorithm::HmacSha256.mac(&self.index, &message);
        format!("{}:{}", self.id, hex::encode(tag))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use ronghe_adapters::Fixed;

    use super::*;

    pub(crate) fn keyring(active: &str, keys: &[(&str, Cipher)]) -> Keyring {
        let config = BridgeKeysConfig {
            active_key: active.to_owned(),
            keys: keys
                .iter()
                .map(|(id, cipher)| KeyConfig {
                    id: (*id).to_owned(),
                    secret: SecretRef(format!("env:KEY_{}", id.to_uppercase())),
                    cipher: *cipher,
                })
                .collect(),
        };
        let secrets: HashMap<String, String> = keys
            .iter()
            .enumerate()
            .map(|(i, (id, _))| {
                (
                    format!("env:KEY_{}", id.to_uppercase()),
                    format!("{:064x}", i + 1),
                )
            })
            .collect();
        Keyring::build(&config, &Fixed(secrets)).unwrap()
    }

    #[test]
    fn seals_open_under_either_cipher_and_only_for_their_purpose() {
        for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
            let keys = keyring("a", &[("a", cipher)]);
            let sealed = keys
                .seal("identity/u1/certificate_no", "52010219900101123X")
                .unwrap();
            assert!(sealed.starts_with("a:") && !sealed.contains("1990"), "{sealed}");
            assert_ne!(
                sealed,
                keys.seal("identity/u1/certificate_no", "52010219900101123X")
                    .unwrap()
            );
            assert_eq!(
                keys.open("identity/u1/certificate_no", &sealed).unwrap(),
                "52010219900101123X"
            );
            assert!(matches!(
                keys.open("identity/u2/certificate_no", &sealed),
                Err(KeyError::Corrupt)
            ));
            let (id, body) = sealed.split_once(':').unwrap();
            let mut bytes = STANDARD.decode(body).unwrap();
            *bytes.last_mut().unwrap() ^= 1;
            let tampered = format!("{id}:{}", STANDARD.encode(bytes));
            assert!(matches!(
                keys.open("identity/u1/certificate_no", &tampered),
                Err(KeyError::Corrupt)
            ));
        }
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_findable() {
        let old = keyring("a", &[("a", Cipher::Aes256Gcm)]);
        let sealed = old.seal("p", "v").unwrap();
        let index = old.index("certificate", "v");
        let rotated = keyring("b", &[("a", Cipher::Aes256Gcm), ("b", Cipher::Sm4Gcm)]);
        assert_eq!(rotated.active_id(), "b");
        assert_eq!(rotated.open("p", &sealed).unwrap(), "v");
        assert!(!sealed.starts_with(&format!("{}:", rotated.active_id())));
        let all = rotated.indexes("certificate", "v");
        assert_eq!(all.len(), 2);
        assert!(all[0].starts_with("b:") && all.contains(&index));
        assert_ne!(rotated.index("certificate", "v"), rotated.index("account", "v"));
        let gone = keyring("b", &[("b", Cipher::Aes256Gcm)]);
        assert!(matches!(gone.open("p", &sealed), Err(KeyError::UnknownKey(id)) if id == "a"));
    }

    #[test]
    fn macs_and_signatures_verify_only_unchanged() {
        let keys = keyring("a", &[("a", Cipher::Aes256Gcm)]);
        for signature in <Signature as ronghe_crypto::Named>::ALL.iter().copied() {
            let (id, tag) = keys.sign(signature, b"message");
            assert!(keys.verify(signature, id, b"message", &tag), "{signature}");
            assert!(!keys.verify(signature, id, b"messagf", &tag), "{signature}");
            assert!(!keys.verify(signature, "zz", b"message", &tag), "{signature}");
        }
        let (_, mac) = keys.sign(Signature::Mac(MacAlgorithm::HmacSha256), b"message");
        let sm3 = Signature::Mac(MacAlgorithm::HmacSm3);
        assert!(!keys.verify(sm3, "a", b"message", &mac));
        let (_, signature) = keys.sign(Signature::Ed25519, b"message");
        let (public_id, public) = &keys.public_keys()[0];
        assert!(public_id == "a" && verify_ed25519(public, b"message", &signature));
    }

    /// Values written before the algorithms moved to `ronghe_crypto` (and by any correct
    /// implementation of this key schedule) keep opening, matching and verifying. Computed
    /// independently with Python's `cryptography` 48 and `hmac`: HKDF-SHA256 (salt
    /// `ronghe-bridge-v1`, info = the subkey's label) of the master `{1:064x}`; AES-256-GCM and
    /// SM4-GCM (the seal subkey's first 16 bytes) under nonce 000102…0b with the purpose as
    /// associated data; HMAC-SHA256 of `certificate\0VALUE` and of `header.claims`; the Ed25519
    /// public key of the `ed25519` subkey.
    #[test]
    fn values_stored_before_keep_working() {
        let purpose = "identity/u1/certificate_no";
        for (cipher, sealed) in [
            (
                Cipher::Aes256Gcm,
                "a:AAECAwQFBgcICQoL2P7vQq2rSE8bi+yNq4yY94XDoiVMd3mXRauTrHYo3TY+Iw==",
            ),
            (
                Cipher::Sm4Gcm,
                "a:AAECAwQFBgcICQoLoNQWIMXwZSB6YZ24zXksziXbMmZWCg2ZKLRy/AbydgWmNg==",
            ),
        ] {
            let keys = keyring("a", &[("a", cipher)]);
            assert_eq!(keys.open(purpose, sealed).unwrap(), "52010219900101123X");
        }
        let keys = keyring("a", &[("a", Cipher::Aes256Gcm)]);
        assert_eq!(
            keys.index("certificate", "52010219900101123X"),
            "a:54052618d88e278dbccc5826a223abe4c0bf04e30df96b90a015ae4718ec81ad"
        );
        let hs256 = Signature::Mac(MacAlgorithm::HmacSha256);
        let tag = hex::decode("7fed29f1d9c12c7ec31364fe99acc6db2590fe06d3e13a63235a2f36d9572a79").unwrap();
        assert!(keys.verify(hs256, "a", b"header.claims", &tag));
        assert_eq!(
            hex::encode(keys.public_keys()[0].1),
            "7f5471b7ba9a56825465c269262cfaf902dff8ba8a7fc114d4da698397c68993"
        );
    }

    #[test]
    fn config_problems_are_all_reported() {
        let config: BridgeKeysConfig = toml::from_str(
            "active_key = \"c\"\n[[keys]]\nid = \"a b\"\nsecret = \"hunter2\"\n[[keys]]\nid = \"a b\"\nsecret = \"env:K\"\n",
        )
        .unwrap();
        let problems = config.problems().join("\n");
        for needle in [
            "keys[0].id",
            "keys[1].id: \"a b\" is listed twice",
            "keys[0].secret",
            "active_key",
        ] {
            assert!(problems.contains(needle), "{needle}: {problems}");
        }
        let short = BridgeKeysConfig {
            active_key: "a".into(),
            keys: vec![KeyConfig {
                id: "a".into(),
                secret: SecretRef("env:K".into()),
                cipher: Cipher::default(),
            }],
        };
        let err =
            Keyring::build(&short, &Fixed([("env:K".to_owned(), "abcd".to_owned())].into())).unwrap_err();
        assert!(
            err.to_string().contains("64 hex characters") && !err.to_string().contains("abcd"),
            "{err}"
        );
    }
}
