//! The credentials of staff accounts: argon2id password hashes, TOTP second factors (RFC 6238),
//! and random one-time secrets (enrolment links, session ids, API tokens) kept only as hashes.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, Totp};

/// The password policy (等保 habits): length, character classes, not the account id.
pub fn password_problems(password: &str, account: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if password.chars().count() < 12 {
        problems.push("密码至少 12 个字符 the password needs at least 12 characters".to_owned());
    }
    if password.chars().count() > 256 {
        problems.push("密码最多 256 个字符 the password may have at most 256 characters".to_owned());
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|&&c| c).count() < 3 {
        problems.push(
            "密码须包含小写字母、大写字母、数字、其他字符中的至少三类 the password needs three of: lower case, upper case, digits, other characters"
                .to_owned(),
        );
    }
    if !account.is_empty() && password.to_lowercase().contains(&account.to_lowercase()) {
        problems.push("密码不得包含账号 the password must not contain the account id".to_owned());
    }
    problems
}

/// An argon2id hash (PHC string) of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    let salt = random_bytes::<16>()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| SecretError::Hash(err.to_string()))
}

/// Whether `password` matches a stored hash; a malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash to verify against when the account does not exist, so that the answer takes as long
/// as for a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing").unwrap_or_default())
}

/// The TOTP parameters every authenticator app understands: SHA-1, 6 digits, 30-second steps,
/// one step of clock skew either way.
pub fn totp(secret: &[u8], account: &str) -> Result<Totp, SecretError> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_issuer(Some("ronghe"))
        .with_account_name(account)
        .build()
        .map_err(|err| SecretError::Totp(err.to_string()))
}

/// A fresh 160-bit TOTP secret (RFC 4226 recommends 160 bits).
pub fn new_totp_secret() -> Result<Vec<u8>, SecretError> {
    Ok(random_bytes::<20>()?.to_vec())
}

/// The secret in base32, as authenticator apps take it by hand.
pub fn totp_base32(secret: &[u8]) -> String {
    Secret::new(secret.to_vec().into_boxed_slice()).to_base32()
}

/// The secret from its base32 form (as an authenticator app holds it).
pub fn totp_secret_from_base32(text: &str) -> Result<Vec<u8>, SecretError> {
    Secret::try_from_base32(text)
        .map(|secret| secret.as_bytes().to_vec())
        .map_err(|err| SecretError::Totp(format!("{err:?}")))
}

/// The step a code is valid for at `unix_seconds`, if it is valid; the caller refuses a step
/// already used (RFC 6238 §5.2: a code is accepted once).
pub fn check_totp(secret: &[u8], account: &str, code: &str, unix_seconds: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, account).ok()?.check(code, unix_seconds)
}

/// The current code (for tests and the demo, which play the authenticator app).
pub fn totp_code(secret: &[u8], account: &str, unix_seconds: u64) -> Result<String, SecretError> {
    Ok(totp(secret, account)?.generate(unix_seconds).to_string())
}

/// `bytes` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| SecretError::Random(err.to_string()))?;
    Ok(bytes)
}

/// A random secret for a link, cookie or token: 256 bits, URL-safe base64.
pub fn random_secret() -> Result<String, SecretError> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What the store keeps of a secret: SHA-256 in hex (the secrets are random, so no salt).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two hashes in hex.
pub fn same_hash(a: &str, b: &str) -> bool {
    ronghe_crypto::constant_time_eq(a.as_bytes(), b.as_bytes())
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("cannot set up the second factor: {0}")]
    Totp(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890", 8 digits, 30-second steps.
    #[test]
    fn totp_matches_rfc_6238_test_vectors() {
        let cases: [(u64, &str, Algorithm, &[u8]); 6] = [
            (59, "94287082", Algorithm::SHA1, b"12345678901234567890"),
            (1111111109, "07081804", Algorithm::SHA1, b"12345678901234567890"),
            (1234567890, "89005924", Algorithm::SHA1, b"12345678901234567890"),
            (2000000000, "69279037", Algorithm::SHA1, b"12345678901234567890"),
            (
                59,
                "46119246",
                Algorithm::SHA256,
                b"12345678901234567890123456789012",
            ),
            (
                20000000000,
                "47863826",
                Algorithm::SHA512,
                b"1234567890123456789012345678901234567890123456789012345678901234",
            ),
        ];
        for (time, expected, algorithm, seed) in cases {
            let totp = totp_rs::Builder::new()
                .with_algorithm(algorithm)
                .with_digits(8)
                .with_step_duration(30)
                .with_skew(0)
                .with_secret(Secret::new(seed.to_vec().into_boxed_slice()))
                .with_account_name("rfc")
                .build()
                .unwrap();
            assert_eq!(
                totp.generate(time).to_string(),
                expected,
                "T = {time}, {algorithm:?}"
            );
        }
    }

    /// The 6-digit codes we accept are the last six digits of the RFC's 8-digit values (RFC 4226
    /// truncation mod 10^6), and a step either side is accepted, no more.
    #[test]
    fn our_codes_are_the_rfc_values_truncated_with_one_step_of_skew() {
        let seed = b"12345678901234567890";
        assert_eq!(totp_code(seed, "a", 1111111109).unwrap(), "081804");
        assert_eq!(check_totp(seed, "a", "081804", 1111111109), Some(1111111109 / 30));
        assert!(check_totp(seed, "a", "081804", 1111111109 + 30).is_some());
        assert!(check_totp(seed, "a", "081804", 1111111109 + 90).is_none());
        assert!(check_totp(seed, "a", "08180", 1111111109).is_none());
        assert!(check_totp(seed, "a", "abcdef", 1111111109).is_none());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("Correct-Horse-9").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-9", &hash));
        assert!(!verify_password("Correct-Horse-8", &hash));
        assert!(!verify_password("Correct-Horse-9", "not a hash"));
        assert_ne!(hash, hash_password("Correct-Horse-9").unwrap(), "salted");
    }

    #[test]
    fn password_policy() {
        assert!(password_problems("Correct-Horse-9", "wang-li").is_empty());
        assert_eq!(password_problems("short1A!", "x").len(), 1);
        assert_eq!(password_problems("alllowercaseletters", "x").len(), 1);
        assert_eq!(password_problems("Wang-Li-Password-1", "wang-li").len(), 1);
    }
}
