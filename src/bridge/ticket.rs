//! Tickets (platform → department) and link proofs (department → platform): compact signed
//! tokens `HEADER.CLAIMS.SIGNATURE`, each part base64url, laid out as a JWS compact
//! serialisation so that a system verifying offline can use a JWT library (`HS256`, `EdDSA`;
//! `HSM3` is HMAC-SM3). The algorithm is the configured `Signature` of the system the token is
//! bound to (its `aud`), never the token's say: a header naming another `alg` is refused
//! (`ticket_wrong_algorithm`) before any key is used. Claims hold random ids, the system id, times and the real-name level: never a name, a
//! certificate number or an account id. Single use, binding to the system and expiry are checked
//! by the bridge; this module only signs, verifies and says why it refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ronghe_crypto::Signature;
use serde::{Deserialize, Serialize};

use super::keys::Keyring;

/// What a token is for; written in its header's `typ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Lets the holder in to a departmental system as the linked account.
    Ticket,
    /// Says that a user just logged in to a departmental system as one of its accounts.
    LinkProof,
}

impl TokenKind {
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Ticket => "ticket",
            TokenKind::LinkProof => "link_proof",
        }
    }

    fn typ(self) -> &'static str {
        match self {
            TokenKind::Ticket => "ronghe-ticket",
            TokenKind::LinkProof => "ronghe-link-proof",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    typ: String,
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Random id; single use is enforced on it.
    pub jti: String,
    /// The system the token is bound to.
    pub aud: String,
    /// Opaque: the link id (tickets) or the account reference (link proofs).
    pub sub: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch; refused from this second on.
    pub exp: i64,
    /// The user's real-name level (1-3), on tickets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lvl: Option<u8>,
}

/// Why a token was refused; each reason has its own stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a ronghe {0}")]
    Malformed(&'static str),
    #[error("the signature does not verify: the token was altered or not issued by this platform")]
    Tampered,
    #[error("the token names another signature algorithm than the one configured for this system")]
    WrongAlgorithm,
    #[error("the token has expired; send the user back to the platform for a new one")]
    Expired,
    #[error("the token was already used; each token is single-use")]
    Replayed,
    #[error("the token was issued for another system")]
    WrongSystem,
    #[error("the user's real-name level is below the minimum this system requires")]
    LevelTooLow,
    #[error("the link between the platform user and the account has been revoked")]
    LinkRevoked,
    #[error("the link proof was issued for another platform user; the user must log in to the system again")]
    WrongUser,
}

impl Refusal {
    /// The stable code a redeeming system can act on.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "ticket_malformed",
            Refusal::Tampered => "ticket_tampered",
            Refusal::WrongAlgorithm => "ticket_wrong_algorithm",
            Refusal::Expired => "ticket_expired",
            Refusal::Replayed => "ticket_replayed",
            Refusal::WrongSystem => "ticket_wrong_system",
            Refusal::LevelTooLow => "ticket_level_too_low",
            Refusal::LinkRevoked => "ticket_link_revoked",
            Refusal::WrongUser => "proof_wrong_user",
        }
    }
}

fn json_part(value: &impl Serialize) -> String {
    // Serialising these plain structs cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// Signs `claims` with the active key.
pub(super) fn encode(keys: &Keyring, signature: Signature, kind: TokenKind, claims: &Claims) -> String {
    let header = Header {
        alg: signature.jws_alg().to_owned(),
        kid: keys.active_id().to_owned(),
        typ: kind.typ().to_owned(),
    };
    let signed = format!("{}.{}", json_part(&header), json_part(claims));
    let (_, tag) = keys.sign(signature, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Verifies a token of `kind` signed with `signature` (the system's, whatever the header says)
/// and returns its claims; says nothing yet of expiry or use.
pub(super) fn decode(
    keys: &Keyring,
    signature: Signature,
    kind: TokenKind,
    token: &str,
) -> Result<Claims, Refusal> {
    let malformed = Refusal::Malformed(kind.name());
    let token = token.trim();
    let mut parts = token.splitn(3, '.');
    let (Some(header), Some(claims), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed);
    };
    let part = |text: &str| URL_SAFE_NO_PAD.decode(text).map_err(|_| malformed);
    let header: Header = serde_json::from_slice(&part(header)?).map_err(|_| malformed)?;
    if header.typ != kind.typ() {
        return Err(malformed);
    }
    if header.alg != signature.jws_alg() {
        return Err(Refusal::WrongAlgorithm);
    }
    let tag = part(tag)?;
    let signed = &token[..token.len() - tag_len(token)];
    if !keys.verify(signature, &header.kid, signed.as_bytes(), &tag) {
        return Err(Refusal::Tampered);
    }
    serde_json::from_slice(&part(claims)?).map_err(|_| malformed)
}

/// The system a token says it is bound to, not verified: the one whose configured algorithm
/// `decode` must be given.
pub(super) fn audience(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Audience {
        aud: String,
    }
    let claims = token.trim().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(claims).ok()?;
    serde_json::from_slice::<Audience>(&bytes).ok().map(|a| a.aud)
}

/// Length of `.SIGNATURE` at the end of a token.
fn tag_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

#[cfg(test)]
mod tests {
    use ronghe_crypto::{Cipher, MacAlgorithm, Named as _};

    use super::*;
    use crate::bridge::keys::tests::keyring;

    const HS256: Signature = Signature::Mac(MacAlgorithm::HmacSha256);

    fn claims() -> Claims {
        Claims {
            jti: "j1".into(),
            aud: "gy-scjg".into(),
            sub: "lk1".into(),
            iat: 1_700_000_000,
            exp: 1_700_000_060,
            lvl: Some(2),
        }
    }

    /// The token with its header's `alg` replaced, signature part kept.
    fn with_alg(token: &str, alg: &str) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
        header["alg"] = alg.into();
        parts[0] = json_part(&header);
        parts.join(".")
    }

    #[test]
    fn every_signature_round_trips_and_refuses_changes() {
        let keys = keyring("a", &[("a", Cipher::Aes256Gcm)]);
        for signature in Signature::ALL.iter().copied() {
            let token = encode(&keys, signature, TokenKind::Ticket, &claims());
            assert_eq!(decode(&keys, signature, TokenKind::Ticket, &token), Ok(claims()));
            assert_eq!(audience(&token).as_deref(), Some("gy-scjg"));
            assert_eq!(
                decode(&keys, signature, TokenKind::LinkProof, &token),
                Err(Refusal::Malformed("link_proof"))
            );
            // Another audience in the claims, signature kept.
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            parts[1] = json_part(&Claims {
                aud: "other".into(),
                ..claims()
            });
            assert_eq!(
                decode(&keys, signature, TokenKind::Ticket, &parts.join(".")),
                Err(Refusal::Tampered)
            );
            assert_eq!(
                decode(&keys, signature, TokenKind::Ticket, "a.b"),
                Err(Refusal::Malformed("ticket"))
            );
            assert_eq!(audience("a.b"), None);
        }
    }

    #[test]
    fn the_algorithm_is_the_systems_not_the_tokens() {
        let keys = keyring("a", &[("a", Cipher::Aes256Gcm)]);
        for signature in Signature::ALL.iter().copied() {
            let token = encode(&keys, signature, TokenKind::Ticket, &claims());
            for expected in Signature::ALL.iter().copied().filter(|s| *s != signature) {
                // A genuine token of another algorithm than the system's.
                assert_eq!(
                    decode(&keys, expected, TokenKind::Ticket, &token),
                    Err(Refusal::WrongAlgorithm),
                    "{signature} token, {expected} system"
                );
                // A token whose header claims the system's algorithm but was signed otherwise.
                assert_eq!(
                    decode(
                        &keys,
                        expected,
                        TokenKind::Ticket,
                        &with_alg(&token, expected.jws_alg())
                    ),
                    Err(Refusal::Tampered),
                    "{signature} token relabelled {expected}"
                );
            }
            for alg in ["none", "RS256", "hs256", ""] {
                assert_eq!(
                    decode(&keys, signature, TokenKind::Ticket, &with_alg(&token, alg)),
                    Err(Refusal::WrongAlgorithm),
                    "{alg}"
                );
            }
        }
        assert_eq!(Refusal::WrongAlgorithm.code(), "ticket_wrong_algorithm");
    }

    #[test]
    fn tokens_signed_before_a_rotation_still_verify() {
        let old = keyring("a", &[("a", Cipher::Aes256Gcm)]);
        let token = encode(&old, HS256, TokenKind::Ticket, &claims());
        let rotated = keyring("b", &[("a", Cipher::Aes256Gcm), ("b", Cipher::Aes256Gcm)]);
        assert_eq!(decode(&rotated, HS256, TokenKind::Ticket, &token), Ok(claims()));
        let other = keyring("c", &[("c", Cipher::Aes256Gcm)]);
        assert_eq!(
            decode(&other, HS256, TokenKind::Ticket, &token),
            Err(Refusal::Tampered)
        );
    }
}
