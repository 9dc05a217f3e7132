//! Request authentication of the REST driver: bearer, basic, API key header, or an HMAC-SHA256
//! signature over the request — the scheme of `signing` (the write-back's string to sign), sent
//! in this driver's own headers with a 16-hex-digit nonce.

use reqwest::RequestBuilder;
use ronghe_crypto::MacAlgorithm;

use super::config::Auth;
use crate::signing::{self, HeaderNames};
use crate::{AdapterError, Secrets};

/// The headers the `hmac` auth sends, as legacy systems configured for it expect them.
const HMAC_HEADERS: HeaderNames = HeaderNames {
    key_id: "x-key-id",
    timestamp: "x-timestamp",
    nonce: "x-nonce",
    signature: "x-signature",
};

/// Auth with its secrets resolved.
#[derive(Clone)]
pub(super) enum Signer {
    None,
    Bearer(String),
    Basic(String, String),
    Header(String, String),
    Hmac(signing::Signer),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.write_str(match self {
            Signer::None => "Signer::None",
            Signer::Bearer(_) => "Signer::Bearer(***)",
            Signer::Basic(..) => "Signer::Basic(***)",
            Signer::Header(..) => "Signer::Header(***)",
            Signer::Hmac(_) => "Signer::Hmac(***)",
        })
    }
}

impl Signer {
    pub(super) fn new(auth: &Auth, secrets: &dyn Secrets) -> Result<Signer, AdapterError> {
        Ok(match auth {
            Auth::None => Signer::None,
            Auth::Bearer { token } => Signer::Bearer(secrets.resolve(token)?),
            Auth::Basic { username, password } => Signer::Basic(username.clone(), secrets.resolve(password)?),
            Auth::ApiKey { header, key } => Signer::Header(header.clone(), secrets.resolve(key)?),
            Auth::Hmac { key_id, secret } => Signer::Hmac(
                signing::Signer::new(
                    key_id.as_str(),
                    MacAlgorithm::HmacSha256,
                    secrets.resolve(secret)?,
                )
                .with_header_names(HMAC_HEADERS),
            ),
        })
    }

    /// Adds the credentials to a request whose method, path-and-query and body are given.
    pub(super) fn sign(
        &self,
        request: RequestBuilder,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> RequestBuilder {
        match self {
            Signer::None => request,
            Signer::Bearer(token) => request.bearer_auth(token),
            Signer::Basic(user, password) => request.basic_auth(user, Some(password)),
            Signer::Header(name, key) => request.header(name.as_str(), key.as_str()),
            Signer::Hmac(signer) => {
                let nonce = format!("{:016x}", fastrand::u64(..));
                let timestamp = chrono::Utc::now().timestamp();
                signer
                    .headers_at(method, path_and_query, body, timestamp, &nonce)
                    .into_iter()
                    .fold(request, |request, (name, value)| request.header(name, value))
            }
        }
    }
}
