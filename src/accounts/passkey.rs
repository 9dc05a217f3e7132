//! Passkeys (WebAuthn), the second factor that lets a platform authenticator's biometrics sign a
//! person in (Art. 21: multi-factor sign-in "such as biometrics"). A signed-in person registers a
//! passkey; afterwards password + passkey signs them in as password + TOTP code does. The
//! ceremonies' states live in the store for five minutes, so any node finishes what another began.

use chrono::{TimeDelta, Utc};
use serde::Serialize;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{AccountError, Accounts, SignedIn, problem, text_problem};
use crate::access::Principal;
use crate::access::secret;
use crate::store::{ChallengeRow, PasskeyRow};

/// How long a ceremony may take between its start and its finish.
const CEREMONY: TimeDelta = TimeDelta::minutes(5);
const REGISTRATION: &str = "passkey_registration";
const SIGN_IN: &str = "passkey_sign_in";

/// The relying party: the platform's public URL (its host is the passkeys' RP id; browsers refuse
/// IP addresses, so `localhost` rather than `127.0.0.1` on one machine).
pub fn relying_party(public_url: &Url) -> Result<Webauthn, AccountError> {
    let host = public_url
        .host_str()
        .ok_or_else(|| AccountError::Passkey(format!("public_url {public_url} has no host")))?;
    WebauthnBuilder::new(host, public_url)
        .and_then(|builder| builder.rp_name("ronghe 融合").build())
        .map_err(|err| AccountError::Passkey(format!("public_url {public_url}: {err}")))
}

/// A ceremony's first half: its id (send it back with the finish) and what the browser passes to
/// `navigator.credentials.create` / `.get`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ceremony<T> {
    pub ceremony: String,
    #[schema(value_type = Object)]
    pub options: T,
}

/// A registered passkey as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: chrono::DateTime<Utc>,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
}

impl From<&PasskeyRow> for PasskeyView {
    fn from(row: &PasskeyRow) -> PasskeyView {
        PasskeyView {
            id: row.id.clone(),
            name: row.name.clone(),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

fn state_error(err: impl std::fmt::Display) -> AccountError {
    AccountError::Passkey(format!("the ceremony's state is unreadable: {err}"))
}

/// The WebAuthn user handle of an account: stable, derived, revealing nothing.
fn user_handle(account: &str) -> Uuid {
    let digest = secret::secret_hash(&format!("ronghe passkey user {account}"));
    let bytes = hex::decode(&digest[..32]).unwrap_or_default();
    Uuid::from_slice(&bytes).unwrap_or_default()
}

impl Accounts {
    fn relying(&self) -> Result<&Webauthn, AccountError> {
        self.webauthn.as_deref().ok_or(AccountError::Passkey(
            "passkeys need the platform's public_url in the config".into(),
        ))
    }

    /// A registration ceremony for the signed-in person's new passkey.
    pub async fn start_passkey_registration(
        &self,
        principal: &Principal,
    ) -> Result<Ceremony<CreationChallengeResponse>, AccountError> {
        let account = principal
            .account()
            .ok_or_else(|| AccountError::Forbidden("the host has no passkeys".into()))?;
        let existing = self.store.passkeys(account).await?;
        let exclude = existing
            .iter()
            .filter_map(|row| serde_json::from_str::<Passkey>(&row.passkey).ok())
            .map(|passkey| passkey.cred_id().clone())
            .collect();
        let (options, state) = self
            .relying()?
            .start_passkey_registration(user_handle(account), account, account, Some(exclude))
            .map_err(|err| AccountError::Passkey(err.to_string()))?;
        let ceremony = self
            .open_ceremony(
                account,
                REGISTRATION,
                &serde_json::to_string(&state).map_err(state_error)?,
            )
            .await?;
        Ok(Ceremony { ceremony, options })
    }

    /// Finishes a registration: the authenticator's answer verified, the passkey stored.
    pub async fn finish_passkey_registration(
        &self,
        principal: &Principal,
        ceremony: &str,
        name: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<PasskeyView, AccountError> {
        let account = principal
            .account()
            .ok_or_else(|| AccountError::Forbidden("the host has no passkeys".into()))?;
        if let Some(p) = text_problem("name", name, 64) {
            return Err(AccountError::Invalid(vec![p]));
        }
        let row = self.take_ceremony(ceremony, REGISTRATION, Some(account)).await?;
        let state: PasskeyRegistration = serde_json::from_str(&row.state).map_err(state_error)?;
        let passkey = self
            .relying()?
            .finish_passkey_registration(credential, &state)
            .map_err(|err| AccountError::Invalid(vec![problem("credential", err.to_string())]))?;
        let stored = PasskeyRow {
            id: passkey_id(&passkey),
            account_id: account.to_owned(),
            name: name.trim().to_owned(),
            passkey: serde_json::to_string(&passkey).map_err(state_error)?,
            created_at: Utc::now(),
            last_used_at: None,
        };
        self.store.add_passkey(&stored, &principal.actor).await?;
        Ok(PasskeyView::from(&stored))
    }

    /// The first half of signing in with a passkey: the password checked (failures count and
    /// lock as with a TOTP code), then a challenge for the account's passkeys.
    pub async fn start_passkey_sign_in(
        &self,
        id: &str,
        password: &str,
    ) -> Result<Ceremony<RequestChallengeResponse>, AccountError> {
        let account = self.verify_password_factor(id, password).await?.id;
        let passkeys: Vec<Passkey> = self
            .store
            .passkeys(&account)
            .await?
            .iter()
            .filter_map(|row| serde_json::from_str(&row.passkey).ok())
            .collect();
        if passkeys.is_empty() {
            return Err(AccountError::SignInFailed);
        }
        let (options, state) = self
            .relying()?
            .start_passkey_authentication(&passkeys)
            .map_err(|err| AccountError::Passkey(err.to_string()))?;
        let ceremony = self
            .open_ceremony(
                &account,
                SIGN_IN,
                &serde_json::to_string(&state).map_err(state_error)?,
            )
            .await?;
        Ok(Ceremony { ceremony, options })
    }

    /// The second half: the authenticator's assertion verified, a session opened.
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
        client_addr: Option<String>,
        user_agent: Option<String>,
    ) -> Result<SignedIn, AccountError> {
        let row = self.take_ceremony(ceremony, SIGN_IN, None).await?;
        let state: PasskeyAuthentication = serde_json::from_str(&row.state).map_err(state_error)?;
        let result = match self.relying()?.finish_passkey_authentication(credential, &state) {
            Ok(result) => result,
            Err(err) => {
                tracing::info!(account = %row.account_id, error = %err, "passkey assertion refused");
                self.count_failure(&row.account_id, "passkey").await?;
                return Err(AccountError::SignInFailed);
            }
        };
        let mut used = None;
        for stored in self.store.passkeys(&row.account_id).await? {
            let mut passkey: Passkey = serde_json::from_str(&stored.passkey).map_err(state_error)?;
            if passkey.cred_id() == result.cred_id() {
                passkey.update_credential(&result);
                used = Some((stored.id, serde_json::to_string(&passkey).map_err(state_error)?));
            }
        }
        let (passkey_id, passkey) = used.ok_or(AccountError::SignInFailed)?;
        self.store.passkey_used(&passkey_id, &passkey).await?;
        self.open_session(&row.account_id, None, "passkey", client_addr, user_agent)
            .await
    }

    /// The caller's passkeys.
    pub async fn passkeys(&self, principal: &Principal) -> Result<Vec<PasskeyView>, AccountError> {
        match principal.account() {
            Some(account) => Ok(self
                .store
                .passkeys(account)
                .await?
                .iter()
                .map(PasskeyView::from)
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Removes one of the caller's passkeys.
    pub async fn remove_passkey(&self, principal: &Principal, id: &str) -> Result<(), AccountError> {
        let account = principal
            .account()
            .ok_or_else(|| AccountError::NotFound(format!("passkey {id:?}")))?;
        Ok(self.store.remove_passkey(account, id, &principal.actor).await?)
    }

    async fn open_ceremony(&self, account: &str, kind: &str, state: &str) -> Result<String, AccountError> {
        let id = secret::random_secret()?;
        let row = ChallengeRow {
            id: secret::secret_hash(&id),
            account_id: account.to_owned(),
            kind: kind.to_owned(),
            state: state.to_owned(),
            expires_at: Utc::now() + CEREMONY,
        };
        self.store.open_challenge(&row).await?;
        Ok(id)
    }

    /// Uses up a ceremony of `kind` (of `account`, when given); unknown, used, expired or
    /// someone else's is `CeremonyInvalid`.
    async fn take_ceremony(
        &self,
        ceremony: &str,
        kind: &str,
        account: Option<&str>,
    ) -> Result<ChallengeRow, AccountError> {
        self.store
            .take_challenge(&secret::secret_hash(ceremony), Utc::now())
            .await?
            .filter(|row| row.kind == kind && account.is_none_or(|a| a == row.account_id))
            .ok_or(AccountError::CeremonyInvalid)
    }
}

/// A passkey's id: its credential id in URL-safe base64.
fn passkey_id(passkey: &Passkey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode::<&[u8]>(passkey.cred_id().as_ref())
}
