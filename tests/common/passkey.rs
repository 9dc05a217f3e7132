//! A software passkey authenticator for tests (no browser runs here for the API tests; the
//! console's browser tests use Chromium's virtual authenticator): it answers WebAuthn creation
//! and request options as a platform authenticator would — attestation `none`, an ES256 key,
//! user presence and verification flagged, a signature counter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct SoftAuthenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    origin: String,
    user: Option<String>,
}

impl SoftAuthenticator {
    /// A fresh authenticator answering for pages at `origin` (e.g. `http://localhost:8080`).
    pub fn new(origin: &str, seed: u8) -> SoftAuthenticator {
        let mut secret = [seed; 32];
        secret[0] = 1;
        SoftAuthenticator {
            key: SigningKey::from_slice(&secret).expect("a P-256 scalar"),
            credential_id: Sha256::digest([seed]).to_vec(),
            counter: 0,
            origin: origin.to_owned(),
            user: None,
        }
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"].as_str().expect("a challenge");
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    fn rp_hash(options: &Value, field: &str) -> Vec<u8> {
        let rp_id = options["publicKey"]
            .pointer(field)
            .and_then(Value::as_str)
            .expect("an RP id");
        Sha256::digest(rp_id.as_bytes()).to_vec()
    }

    /// Answers `navigator.credentials.create` options: a `RegisterPublicKeyCredential`.
    pub fn register(&mut self, options: &Value) -> Value {
        self.user = options["publicKey"]["user"]["id"].as_str().map(str::to_owned);
        let client_data = self.client_data("webauthn.create", options);
        let point = self.key.verifying_key().to_sec1_point(false);
        let cose = Cbor::Map(
            [
                (Cbor::Integer(1), Cbor::Integer(2)),
                (Cbor::Integer(3), Cbor::Integer(-7)),
                (Cbor::Integer(-1), Cbor::Integer(1)),
                (Cbor::Integer(-2), Cbor::Bytes(point.x().expect("x").to_vec())),
                (Cbor::Integer(-3), Cbor::Bytes(point.y().expect("y").to_vec())),
            ]
            .into_iter()
            .collect(),
        );
        let mut auth_data = Self::rp_hash(options, "/rp/id");
        auth_data.push(0x45); // user present, user verified, attested credential data
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend(u16::try_from(self.credential_id.len()).unwrap().to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(serde_cbor_2::to_vec(&cose).expect("CBOR"));
        let attestation = Cbor::Map(
            [
                (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
                (Cbor::Text("attStmt".into()), Cbor::Map(Default::default())),
                (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
            ]
            .into_iter()
            .collect(),
        );
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "attestationObject": B64.encode(serde_cbor_2::to_vec(&attestation).expect("CBOR")),
                "clientDataJSON": B64.encode(&client_data),
            }
        })
    }

    /// Answers `navigator.credentials.get` options: a `PublicKeyCredential`, signed with `key`
    /// (this authenticator's own unless a forger's is given).
    pub fn assert_with(&mut self, options: &Value, key: Option<&SigningKey>) -> Value {
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", options);
        let mut auth_data = Self::rp_hash(options, "/rpId");
        auth_data.push(0x05); // user present, user verified
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = key.unwrap_or(&self.key).sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": self.user,
            }
        })
    }

    /// Another authenticator's key, to forge assertions with.
    pub fn forger() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).expect("a P-256 scalar")
    }
}
