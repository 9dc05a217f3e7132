//! A system's write-back config (`ronghe writeback attach`): the keys it signs pushes with (by
//! reference, several for rotation), the timestamp window, optional SM4 payload encryption, the
//! intake's limits, and room for pull mode's schedule. `parse` and `validate` are pure and report
//! every problem with its path; `build` resolves the secrets.

use std::collections::HashMap;
use std::str::FromStr as _;

use ronghe_adapters::config::{Issues, parse_toml};
use ronghe_adapters::{ConfigIssue, SecretRef, Secrets};
use ronghe_crypto::{Cipher, MacAlgorithm, SealingKey};
use serde::Deserialize;

/// The largest batch a config may allow: one store transaction per batch.
pub const MAX_BATCH: usize = 500;
/// The widest timestamp window a config may set, in seconds (nonces are kept longer).
pub const MAX_WINDOW_SECONDS: u32 = 3600;

/// One system's write-back settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackConfig {
    /// The keys the system signs with; a request names one in `X-Ronghe-Key-Id`.
    pub keys: Vec<KeyConfig>,
    /// How far a request's `X-Ronghe-Timestamp` may be from the platform's clock, in seconds,
    /// for keys that set no window of their own (1–3600; default 300).
    #[serde(default = "default_window")]
    pub timestamp_window_seconds: u32,
    /// SM4-GCM payload encryption, when the system encrypts its bodies.
    #[serde(default)]
    pub encryption: Option<EncryptionConfig>,
    /// Limits of the intake.
    #[serde(default)]
    pub intake: IntakeConfig,
    /// Pull mode, for a system that cannot push (read by the pull job).
    #[serde(default)]
    pub pull: Option<PullConfig>,
}

fn default_window() -> u32 {
    300
}

/// One signing key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key id requests name: 1–64 letters, digits, `-`, `_` or `.`.
    pub id: String,
    /// `hmac-sha256` or `hmac-sm3`.
    pub algorithm: MacAlgorithm,
    /// Where the shared secret lives: `env:NAME` or `file:PATH`; never the secret itself.
    pub secret: SecretRef,
    /// This key's own timestamp window, in seconds (1–3600).
    #[serde(default)]
    pub timestamp_window_seconds: Option<u32>,
    /// A retired key is still recognised but no longer allowed (answered 403), while a rotation
    /// completes.
    #[serde(default)]
    pub retired: bool,
}

/// SM4-GCM payload encryption.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// Where the SM4 key lives (32 hex characters): `env:NAME` or `file:PATH`.
    pub key: SecretRef,
    /// Refuse bodies that are not encrypted (default false: both are accepted).
    #[serde(default)]
    pub required: bool,
}

/// Limits of the intake.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// Most records one push may carry (1–500; default 500).
    #[serde(default = "default_batch")]
    pub max_batch: usize,
    /// The local name of each case element in a SOAP push's Body (default `办件`).
    #[serde(default = "default_record")]
    pub soap_record: String,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            max_batch: default_batch(),
            soap_record: default_record(),
        }
    }
}

fn default_batch() -> usize {
    MAX_BATCH
}

fn default_record() -> String {
    "办件".to_owned()
}

/// Pull mode's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullConfig {
    /// When to pull, as a cron expression with seconds (`sec min hour day month weekday`),
    /// e.g. `0 */5 * * * *`.
    pub schedule: String,
}

/// A key ready to verify with.
#[derive(Clone)]
pub struct Key {
    pub algorithm: MacAlgorithm,
    pub secret: Vec<u8>,
    pub window_seconds: u32,
    pub retired: bool,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .field("window_seconds", &self.window_seconds)
            .field("retired", &self.retired)
            .finish_non_exhaustive()
    }
}

/// A config with its secrets resolved.
#[derive(Debug, Clone)]
pub struct Writeback {
    pub config: WritebackConfig,
    pub keys: HashMap<String, Key>,
    /// The SM4-GCM key of `[encryption]`.
    pub sm4: Option<SealingKey>,
}

impl WritebackConfig {
    /// Parses and checks every field; no I/O.
    pub fn parse(text: &str) -> Result<WritebackConfig, Vec<ConfigIssue>> {
        parse_toml::<WritebackConfig>(text)?.validate()
    }

    /// Checks every field; no I/O.
    pub fn validate(self) -> Result<WritebackConfig, Vec<ConfigIssue>> {
        let mut issues = Issues::default();
        if self.keys.is_empty() {
            issues.add("keys", "list at least one key");
        }
        let window = |issues: &mut Issues, path: &str, seconds: u32| {
            if !(1..=MAX_WINDOW_SECONDS).contains(&seconds) {
                issues.add(path, format!("must be 1 to {MAX_WINDOW_SECONDS} seconds"));
            }
        };
        window(
            &mut issues,
            "timestamp_window_seconds",
            self.timestamp_window_seconds,
        );
        for (i, key) in self.keys.iter().enumerate() {
            let path = format!("keys[{i}]");
            let id_ok = !key.id.is_empty()
                && key.id.len() <= 64
                && key
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !id_ok {
                issues.add(format!("{path}.id"), "use 1-64 letters, digits, '-', '_' or '.'");
            } else if self.keys[..i].iter().any(|k| k.id == key.id) {
                issues.add(
                    format!("{path}.id"),
                    format!("key id {:?} is listed twice", key.id),
                );
            }
            issues.secret(&format!("{path}.secret"), &key.secret);
            if let Some(seconds) = key.timestamp_window_seconds {
                window(&mut issues, &format!("{path}.timestamp_window_seconds"), seconds);
            }
        }
        if !self.keys.is_empty() && self.keys.iter().all(|k| k.retired) {
            issues.add("keys", "every key is retired; keep at least one in use");
        }
        if let Some(encryption) = &self.encryption {
            issues.secret("encryption.key", &encryption.key);
        }
        if !(1..=MAX_BATCH).contains(&self.intake.max_batch) {
            issues.add("intake.max_batch", format!("must be 1 to {MAX_BATCH}"));
        }
        let record = self.intake.soap_record.trim();
        if record.is_empty() || record.contains([':', '/', ' ', '<', '>']) {
            issues.add("intake.soap_record", "must be an element's local name, e.g. 办件");
        }
        if let Some(pull) = &self.pull
            && let Err(e) = cron::Schedule::from_str(&pull.schedule)
        {
            issues.add(
                "pull.schedule",
                format!("not a cron expression (sec min hour day month weekday): {e}"),
            );
        }
        if issues.0.is_empty() {
            Ok(self)
        } else {
            Err(issues.0)
        }
    }

    /// Resolves the secrets (the only I/O); every failure with its path.
    pub fn build(self, secrets: &dyn Secrets) -> Result<Writeback, Vec<ConfigIssue>> {
        let mut issues = Issues::default();
        let mut keys = HashMap::new();
        for (i, key) in self.keys.iter().enumerate() {
            match secrets.resolve(&key.secret) {
                Ok(secret) if !secret.is_empty() => {
                    keys.insert(
                        key.id.clone(),
                        Key {
                            algorithm: key.algorithm,
                            secret: secret.into_bytes(),
                            window_seconds: key
                                .timestamp_window_seconds
                                .unwrap_or(self.timestamp_window_seconds),
                            retired: key.retired,
                        },
                    );
                }
                Ok(_) => issues.add(format!("keys[{i}].secret"), "the secret is empty"),
                Err(e) => issues.add(format!("keys[{i}].secret"), e.to_string()),
            }
        }
        let sm4 = match &self.encryption {
            Some(encryption) => match secrets.resolve(&encryption.key) {
                Ok(text) => match Cipher::Sm4Gcm.key_from_hex(&text) {
                    Ok(key) => Some(key),
                    Err(e) => {
                        issues.add("encryption.key", e.to_string());
                        None
                    }
                },
                Err(e) => {
                    issues.add("encryption.key", e.to_string());
                    None
                }
            },
            None => None,
        };
        if issues.0.is_empty() {
            Ok(Writeback {
                config: self,
                keys,
                sm4,
            })
        } else {
            Err(issues.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
timestamp_window_seconds = 120

[[keys]]
id = "sbdy-2026"
algorithm = "hmac-sm3"
secret = "env:SBDY_WRITEBACK_SECRET"

[[keys]]
id = "sbdy-2025"
algorithm = "hmac-sha256"
secret = "file:/etc/ronghe/sbdy-2025"
timestamp_window_seconds = 600
retired = true

[encryption]
key = "env:SBDY_WRITEBACK_SM4"

[intake]
max_batch = 200
soap_record = "办件"

[pull]
schedule = "0 */5 * * * *"
"#;

    #[test]
    fn the_example_parses_and_builds() {
        let config = WritebackConfig::parse(EXAMPLE).unwrap();
        assert_eq!(config.intake.max_batch, 200);
        let secrets = ronghe_adapters::Fixed(
            [
                ("env:SBDY_WRITEBACK_SECRET", "s1"),
                ("file:/etc/ronghe/sbdy-2025", "s2"),
                ("env:SBDY_WRITEBACK_SM4", "00112233445566778899aabbccddeeff"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        let built = config.build(&secrets).unwrap();
        assert_eq!(built.keys["sbdy-2026"].window_seconds, 120);
        assert_eq!(built.keys["sbdy-2025"].window_seconds, 600);
        assert!(built.keys["sbdy-2025"].retired);
        assert!(built.sm4.is_some());
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let text = r#"
timestamp_window_seconds = 0
[[keys]]
id = "a b"
algorithm = "hmac-sha256"
secret = "plain-secret"
[[keys]]
id = "k"
algorithm = "hmac-sm3"
secret = "env:K"
timestamp_window_seconds = 99999
[[keys]]
id = "k"
algorithm = "hmac-sm3"
secret = "env:K"
[encryption]
key = "0011"
[intake]
max_batch = 501
soap_record = "sb:办件"
[pull]
schedule = "every five minutes"
"#;
        let issues = WritebackConfig::parse(text).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "timestamp_window_seconds",
                "keys[0].id",
                "keys[0].secret",
                "keys[1].timestamp_window_seconds",
                "keys[2].id",
                "encryption.key",
                "intake.max_batch",
                "intake.soap_record",
                "pull.schedule",
            ]
        );
        let unknown = WritebackConfig::parse("keys = []\nsecret = \"x\"\n").unwrap_err();
        assert!(unknown[0].message.contains("unknown field"), "{unknown:?}");
    }

    #[test]
    fn unresolved_secrets_fail_the_build() {
        let config = WritebackConfig::parse(EXAMPLE).unwrap();
        let issues = config.build(&ronghe_adapters::Fixed::default()).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["keys[0].secret", "keys[1].secret", "encryption.key"]);
    }
}
