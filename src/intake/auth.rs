//! Authentication of pushed requests: the key id names one of the system's keys, the timestamp
//! is inside that key's window, the signature (over method, path, timestamp, nonce and the body
//! as sent) verifies in constant time; the nonce is then taken, once, in the same transaction
//! that stores the request's records (`pipeline::ingest`, `Ingested::Replayed`), so a forged
//! request cannot burn nonces, a replay is refused on every node, and a request that stored
//! nothing did not use its nonce. An encrypted body is opened after the signature. Every refusal keeps its real reason for the log; callers answer them all
//! alike.

use axum::http::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ronghe_adapters::signing::{self, SignedParts};
use ronghe_crypto::{Cipher, Named as _};

use super::Writeback;

/// Why a request was not authenticated (logged, never answered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("header {0} is missing or not text")]
    MissingHeader(&'static str),
    #[error("key id {0:?} is not one of the system's keys")]
    UnknownKey(String),
    #[error("key id {0:?} is retired")]
    RetiredKey(String),
    #[error("the timestamp is not unix seconds")]
    BadTimestamp,
    #[error("the timestamp is {skew_seconds} s from the platform's clock (window {window_seconds} s)")]
    OutsideWindow { skew_seconds: i64, window_seconds: u32 },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the nonce is longer than 128 characters")]
    LongNonce,
}

impl Refusal {
    /// A known key that is not allowed is forbidden (403); everything else is unauthenticated (401).
    pub fn forbidden(&self) -> bool {
        matches!(self, Refusal::RetiredKey(_))
    }
}

/// Why an authenticated body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("this system's bodies must be encrypted (X-Ronghe-Encryption: sm4-gcm)")]
    EncryptionRequired,
    #[error("the body is encrypted but this system has no [encryption] key")]
    NoKey,
    #[error("X-Ronghe-Encryption names an unknown scheme; use sm4-gcm")]
    UnknownScheme,
    #[error("the encrypted body does not open with this system's SM4 key")]
    Undecryptable,
}

/// What went wrong while authenticating.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("not authenticated: {0}")]
    Refused(Refusal),
    #[error(transparent)]
    Body(BodyError),
}

/// An authenticated request.
#[derive(Debug)]
pub struct Authenticated {
    pub key_id: String,
    /// To be taken with the request's writes.
    pub nonce: String,
    /// The body, decrypted when it came encrypted (a plain body is the request's own bytes, not
    /// a copy).
    pub body: Bytes,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Refusal> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::MissingHeader(name))
}

/// Checks a signed request; see the module doc for the order of checks.
pub fn authenticate(
    writeback: &Writeback,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
    now: DateTime<Utc>,
) -> Result<Authenticated, AuthError> {
    let refused = AuthError::Refused;
    let key_id = header(headers, signing::KEY_ID).map_err(refused)?;
    let key = writeback
        .keys
        .get(key_id)
        .ok_or_else(|| refused(Refusal::UnknownKey(key_id.to_owned())))?;
    if key.retired {
        return Err(refused(Refusal::RetiredKey(key_id.to_owned())));
    }
    let timestamp = header(headers, signing::TIMESTAMP).map_err(refused)?;
    let nonce = header(headers, signing::NONCE).map_err(refused)?;
    let signature = header(headers, signing::SIGNATURE).map_err(refused)?;
    let at: i64 = timestamp.parse().map_err(|_| refused(Refusal::BadTimestamp))?;
    let skew_seconds = now.timestamp().saturating_sub(at);
    if skew_seconds.unsigned_abs() > u64::from(key.window_seconds) {
        return Err(refused(Refusal::OutsideWindow {
            skew_seconds,
            window_seconds: key.window_seconds,
        }));
    }
    if nonce.len() > 128 {
        return Err(refused(Refusal::LongNonce));
    }
    let parts = SignedParts {
        method,
        path,
        timestamp,
        nonce,
        signature,
    };
    if !signing::verify(key.algorithm, &key.secret, &parts, &body) {
        return Err(refused(Refusal::BadSignature));
    }
    let body = match headers.get(signing::ENCRYPTION).map(|v| v.to_str()) {
        None => {
            if writeback.config.encryption.as_ref().is_some_and(|e| e.required) {
                return Err(AuthError::Body(BodyError::EncryptionRequired));
            }
            body
        }
        Some(Ok(scheme)) if scheme.eq_ignore_ascii_case(Cipher::Sm4Gcm.name()) => {
            let key = writeback.sm4.as_ref().ok_or(AuthError::Body(BodyError::NoKey))?;
            key.open(&[], &body)
                .map(Bytes::from)
                .map_err(|_| AuthError::Body(BodyError::Undecryptable))?
        }
        Some(_) => return Err(AuthError::Body(BodyError::UnknownScheme)),
    };
    Ok(Authenticated {
        key_id: key_id.to_owned(),
        nonce: nonce.to_owned(),
        body,
    })
}
