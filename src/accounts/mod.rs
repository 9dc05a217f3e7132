//! The accounts service (Art. 20, 21, 23): creating staff accounts within an administrator's
//! scope, one-time enrolment (password, then an authenticator confirmed by a code), sign-in with
//! both factors and lockout, browser sessions with idle and absolute timeouts, personal API
//! tokens, grants and the account lifecycle. Personal fields are sealed with the node's keyring;
//! the server and the CLI resolve every caller to a [`Principal`] here.

mod passkey;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::access::secret::{self, SecretError};
use crate::access::{AccountStatus, Grant, Principal, PrincipalKind, Role, Scope, Via, account_id_problem};
use crate::bridge::{KeyError, Keyring};
use crate::store::{AccountRow, GrantRecord, GrantRequest, SessionRow, Store, StoreError, TokenRow};
pub use passkey::{Ceremony, PasskeyView, relying_party};

/// Timeouts and limits of sign-in.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session ends after this long without a request.
    pub session_idle: TimeDelta,
    /// A session ends this long after sign-in, active or not.
    pub session_absolute: TimeDelta,
    /// An enrolment link works this long.
    pub enrolment_lifetime: TimeDelta,
    /// Failed sign-ins in a row before the account is locked.
    pub lock_threshold: i64,
    /// The first lock's length; each further failure doubles it, up to `lock_cap`.
    pub lock_base: TimeDelta,
    pub lock_cap: TimeDelta,
    /// The longest a personal API token may live.
    pub token_max_days: i64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_idle: TimeDelta::minutes(30),
            session_absolute: TimeDelta::hours(12),
            enrolment_lifetime: TimeDelta::hours(72),
            lock_threshold: 5,
            lock_base: TimeDelta::minutes(1),
            lock_cap: TimeDelta::hours(1),
            token_max_days: 365,
        }
    }
}

/// A new staff account as an administrator describes it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The login id: 3-32 of a-z, 0-9, '.', '_', '-', starting with a letter.
    pub id: String,
    /// The person's real name (实名).
    pub name: String,
    /// Resident ID number (GB 11643), validated; stored sealed.
    pub resident_id: String,
    /// Mobile number (11 digits); stored sealed.
    pub mobile: String,
    /// The agency (department) the person works for.
    pub agency: String,
    /// The division code (GB/T 2260) of the agency.
    pub region: String,
    /// The roles the account starts with.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Who approved the grants (by default the creating administrator).
    #[serde(default)]
    pub approved_by: Option<String>,
    /// Why the account is created (kept with its grants).
    pub reason: String,
}

/// A field problem of a request, with the field's path.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

fn problem(field: &str, message: impl Into<String>) -> Problem {
    Problem {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn text_problem(field: &str, value: &str, max: usize) -> Option<Problem> {
    let value = value.trim();
    if value.is_empty() {
        Some(problem(field, "必填 required"))
    } else if value.chars().count() > max {
        Some(problem(
            field,
            format!("最多 {max} 个字符 at most {max} characters"),
        ))
    } else if value.chars().any(char::is_control) {
        Some(problem(field, "不得包含控制字符 no control characters"))
    } else {
        None
    }
}

impl NewAccount {
    /// Every problem at once; the resident ID is checked against today's date.
    pub fn problems(&self, today: chrono::NaiveDate) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(message) = account_id_problem(&self.id) {
            problems.push(problem("id", message));
        }
        problems.extend(text_problem("name", &self.name, 50));
        if let Err(v) = crate::validate::parse_resident_id(&self.resident_id, today) {
            problems.push(problem("resident_id", format!("{} ({})", v.message, v.rule)));
        }
        let mobile = self.mobile.trim();
        if !(mobile.len() == 11 && mobile.starts_with('1') && mobile.bytes().all(|b| b.is_ascii_digit())) {
            problems.push(problem(
                "mobile",
                "须为 11 位手机号码 must be an 11-digit mobile number",
            ));
        }
        problems.extend(text_problem("agency", &self.agency, 100));
        if let Err(v) = crate::validate::division(&self.region) {
            problems.push(problem("region", v.message));
        }
        problems.extend(text_problem("reason", &self.reason, 500));
        if self.grants.is_empty() {
            problems.push(problem("grants", "至少一个角色 at least one role"));
        }
        problems
    }

    /// Where the account lives: its agency in its division.
    pub fn home(&self) -> Scope {
        Scope::Agency {
            region: self.region.trim().to_owned(),
            name: self.agency.trim().to_owned(),
        }
    }
}

/// An account as shown to administrators and to its owner: personal fields masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub resident_id: String,
    pub mobile: String,
    pub agency: String,
    pub region: String,
    pub status: AccountStatus,
    pub grants: Vec<GrantRecord>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A one-time enrolment link's secret, shown once to whoever passes it to the person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnrolmentLink {
    pub account: String,
    /// The secret to put in the enrolment link (`/enrol?token=…`); shown once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl EnrolmentLink {
    /// The console's enrolment page for it: `{base}/enrol?token=…` at the platform's public URL
    /// `base`, or the path alone when it is not known. The command line prints it, the console
    /// shows it.
    pub fn page(&self, base: Option<&url::Url>) -> String {
        base.and_then(|base| base.join("enrol").ok())
            .map(|mut url| {
                url.query_pairs_mut().append_pair("token", &self.token);
                url.to_string()
            })
            .unwrap_or_else(|| format!("/enrol?token={}", self.token))
    }
}

/// What the person needs to set up their authenticator app.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TotpSetup {
    pub account: String,
    /// The TOTP secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The `otpauth://` URI (for a QR code).
    pub uri: String,
}

/// A new browser session: the cookie's secret and the token every change must carry.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: String,
    pub session: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// A new personal API token, its secret shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: TokenRow,
    /// `rh.ID.SECRET`: send as `Authorization: Bearer …`; shown once, stored only as a hash.
    pub secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the request has {} problem(s)", .0.len())]
    Invalid(Vec<Problem>),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Wrong account, password or code, or an account that cannot sign in: one answer for all.
    #[error("sign-in failed: account, password or code is wrong, or the account cannot sign in")]
    SignInFailed,
    #[error("the account is locked after repeated failures until {0}")]
    Locked(DateTime<Utc>),
    #[error("the enrolment link is unknown, used or expired; ask your administrator for a new one")]
    EnrolmentInvalid,
    #[error("the passkey ceremony is unknown, used, expired or not yours; start again")]
    CeremonyInvalid,
    #[error("passkeys: {0}")]
    Passkey(String),
    #[error(
        "staff accounts need the node's keys to seal names, ID numbers and authenticator secrets: configure [bridge] active_key and [[bridge.keys]] (see README)"
    )]
    NoKeys,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(StoreError),
}

/// Administrators act on other people's accounts: a change to one's own roles, status or
/// enrolment needs another administrator (separation of duties, and no one locks themselves out).
fn not_own(by: &Principal, id: &str, act: &str) -> Result<(), AccountError> {
    match by.account() == Some(id) {
        true => Err(AccountError::Forbidden(format!(
            "you cannot {act}: ask another administrator"
        ))),
        false => Ok(()),
    }
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> AccountError {
        match err {
            StoreError::AlreadyExists { what, id } => {
                AccountError::Conflict(format!("{what} {id:?} already exists"))
            }
            StoreError::NotFound { what, id } => AccountError::NotFound(format!("{what} {id:?}")),
            other => AccountError::Store(other),
        }
    }
}

const SEAL_NAME: &str = "account.name";
const SEAL_RESIDENT_ID: &str = "account.resident_id";
const SEAL_MOBILE: &str = "account.mobile";
const SEAL_TOTP: &str = "account.totp";
const TOKEN_PREFIX: &str = "rh";

/// Whether `key_id` of `keyring` opens a staff account's name it sealed in `store` (true when no
/// account has one to try). False means the key's secret or cipher is not the one that sealed
/// the store's values: every read under it would fail.
pub async fn key_opens_its_seals(store: &Store, keyring: &Keyring, key_id: &str) -> Result<bool, StoreError> {
    Ok(match store.staff_name_sealed_by(key_id).await? {
        Some(sealed) => keyring.open(SEAL_NAME, &sealed).is_ok(),
        None => true,
    })
}

/// The accounts service every entry point shares.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    keyring: Option<Arc<Keyring>>,
    settings: Arc<AuthSettings>,
    /// The relying party of passkeys, when the platform's public URL is known.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// The platform's public URL, where enrolment links lead, when known.
    public_url: Option<Arc<url::Url>>,
}

impl Accounts {
    pub fn new(store: Store, keyring: Option<Arc<Keyring>>, settings: AuthSettings) -> Accounts {
        Accounts {
            store,
            keyring,
            settings: Arc::new(settings),
            webauthn: None,
            public_url: None,
        }
    }

    /// The platform's public URL people open its pages at (enrolment links lead there).
    pub fn with_public_url(mut self, public_url: url::Url) -> Accounts {
        self.public_url = Some(Arc::new(public_url));
        self
    }

    /// The platform's public URL, when known.
    pub fn public_url(&self) -> Option<&url::Url> {
        self.public_url.as_deref()
    }

    /// Passkeys for the platform at this relying party (see [`relying_party`]).
    pub fn with_passkeys(mut self, webauthn: webauthn_rs::Webauthn) -> Accounts {
        self.webauthn = Some(Arc::new(webauthn));
        self
    }

    fn keyring(&self) -> Result<&Keyring, AccountError> {
        self.keyring.as_deref().ok_or(AccountError::NoKeys)
    }

    /// Re-seals and re-indexes every staff account's personal fields and authenticator secret
    /// under the active key, so that older keys can be retired; answers how many were rewritten.
    pub async fn rekey(&self, actor: &str) -> Result<u64, AccountError> {
        const BATCH: i64 = 100;
        let keyring = self.keyring()?;
        let mut done = 0;
        loop {
            let stale = self.store.stale_staff(keyring.active_id(), BATCH).await?;
            if stale.is_empty() {
                return Ok(done);
            }
            let reseal = |purpose: &str, sealed: &str| keyring.seal(purpose, &keyring.open(purpose, sealed)?);
            let changes = stale
                .into_iter()
                .map(|a| {
                    let resident_id = keyring.open(SEAL_RESIDENT_ID, &a.resident_id)?;
                    let now = crate::store::SealedStaff {
                        id: a.id.clone(),
                        name: reseal(SEAL_NAME, &a.name)?,
                        resident_id: keyring.seal(SEAL_RESIDENT_ID, &resident_id)?,
                        resident_id_index: keyring.index(SEAL_RESIDENT_ID, &resident_id),
                        mobile: reseal(SEAL_MOBILE, &a.mobile)?,
                        totp_secret: a
                            .totp_secret
                            .as_deref()
                            .map(|t| reseal(SEAL_TOTP, t))
                            .transpose()?,
                    };
                    Ok((a, now))
                })
                .collect::<Result<Vec<_>, KeyError>>()?;
            done += self.store.reseal_staff(&changes, actor).await?;
        }
    }

    /// Creates a pending account and its first enrolment link. The creator must administer the
    /// account's agency and be allowed to grant every role in its scope.
    pub async fn create(&self, by: &Principal, new: NewAccount) -> Result<EnrolmentLink, AccountError> {
        let now = Utc::now();
        let problems = new.problems(crate::calendar::beijing_date(&now));
        if !problems.is_empty() {
            return Err(AccountError::Invalid(problems));
        }
        if !by.administers(&new.home()) {
            return Err(AccountError::Forbidden(format!(
                "you do not administer {}",
                new.home()
            )));
        }
        if let Some(grant) = new.grants.iter().find(|g| !by.may_grant(g)) {
            return Err(AccountError::Forbidden(format!(
                "you may not grant {} in {}: nobody grants a role or scope wider than their own",
                grant.role.name(),
                grant.scope
            )));
        }
        let keyring = self.keyring()?;
        let resident_id =
            crate::validate::parse_resident_id(&new.resident_id, crate::calendar::beijing_date(&now))
                .map(|id| id.number)
                .unwrap_or_default();
        let (name, mobile) = (new.name.trim(), new.mobile.trim());
        let row = AccountRow {
            id: new.id.clone(),
            name: keyring.seal(SEAL_NAME, name)?,
            name_masked: crate::validate::mask_name(name),
            resident_id: keyring.seal(SEAL_RESIDENT_ID, &resident_id)?,
            resident_id_index: keyring.index(SEAL_RESIDENT_ID, &resident_id),
            resident_id_masked: crate::validate::mask_certificate(&resident_id),
            mobile: keyring.seal(SEAL_MOBILE, mobile)?,
            mobile_masked: crate::validate::mask_phone(mobile),
            agency: new.agency.trim().to_owned(),
            region: new.region.trim().to_owned(),
            status: AccountStatus::Pending.name().to_owned(),
            password_hash: None,
            totp_secret: None,
            totp_last_step: None,
            failed_sign_ins: 0,
            locked_until: None,
            created_by: by.actor.clone(),
            created_at: now,
            updated_at: now,
        };
        let approved_by = new.approved_by.clone().unwrap_or_else(|| by.actor.clone());
        let grants: Vec<GrantRequest> = new
            .grants
            .iter()
            .map(|grant| GrantRequest {
                grant: grant.clone(),
                approved_by: approved_by.clone(),
                reason: new.reason.trim().to_owned(),
            })
            .collect();
        let token = secret::random_secret()?;
        let expires_at = now + self.settings.enrolment_lifetime;
        self.store
            .create_account(
                &row,
                &keyring.indexes(SEAL_RESIDENT_ID, &resident_id),
                &grants,
                (&secret::secret_hash(&token), expires_at),
                &by.actor,
            )
            .await?;
        Ok(EnrolmentLink {
            account: row.id,
            token,
            expires_at,
        })
    }

    /// The first platform administrator of a fresh store (the host only; refused once one exists).
    pub async fn bootstrap(
        &self,
        host: &Principal,
        mut new: NewAccount,
    ) -> Result<EnrolmentLink, AccountError> {
        if host.kind != PrincipalKind::Host {
            return Err(AccountError::Forbidden("only the host bootstraps".into()));
        }
        for account in self.store.list_accounts().await? {
            let admin = self
                .store
                .account_grants(&account.id, false)
                .await?
                .iter()
                .any(|g| g.role == Role::PlatformAdmin.name());
            if admin && account.status()? != AccountStatus::Disabled {
                return Err(AccountError::Conflict(format!(
                    "the store already has a platform administrator ({}); use `ronghe accounts create`",
                    account.id
                )));
            }
        }
        new.grants = vec![Grant {
            role: Role::PlatformAdmin,
            scope: Scope::Province,
        }];
        self.create(host, new).await
    }

    /// A valid link's account, or `EnrolmentInvalid`.
    async fn enrolment_account(&self, token: &str) -> Result<AccountRow, AccountError> {
        let link = self
            .store
            .enrolment(&secret::secret_hash(token))
            .await?
            .filter(|link| link.used_at.is_none() && link.expires_at > Utc::now())
            .ok_or(AccountError::EnrolmentInvalid)?;
        let account = self
            .store
            .account(&link.account_id)
            .await?
            .ok_or(AccountError::EnrolmentInvalid)?;
        if account.status()? != AccountStatus::Pending {
            return Err(AccountError::EnrolmentInvalid);
        }
        Ok(account)
    }

    /// Enrolment, step one: the password (checked against the policy) and a fresh authenticator
    /// secret. The account stays pending until `confirm_enrolment` proves the authenticator.
    pub async fn start_enrolment(&self, token: &str, password: &str) -> Result<TotpSetup, AccountError> {
        let account = self.enrolment_account(token).await?;
        let problems: Vec<Problem> = secret::password_problems(password, &account.id)
            .into_iter()
            .map(|message| problem("password", message))
            .collect();
        if !problems.is_empty() {
            return Err(AccountError::Invalid(problems));
        }
        let keyring = self.keyring()?;
        let totp_secret = secret::new_totp_secret()?;
        let hash = secret::hash_password(password)?;
        let sealed = keyring.seal(SEAL_TOTP, &hex::encode(&totp_secret))?;
        self.store.set_credentials(&account.id, &hash, &sealed).await?;
        let uri = secret::totp(&totp_secret, &account.id)?
            .to_url()
            .map_err(|err| SecretError::Totp(err.to_string()))?;
        Ok(TotpSetup {
            account: account.id,
            secret: secret::totp_base32(&totp_secret),
            uri,
        })
    }

    /// Enrolment, step two: a code from the authenticator activates the account and uses up
    /// the link.
    pub async fn confirm_enrolment(&self, token: &str, code: &str) -> Result<String, AccountError> {
        let account = self.enrolment_account(token).await?;
        let totp_secret = self.totp_secret(&account)?.ok_or_else(|| {
            AccountError::Invalid(vec![problem("code", "先设置密码 set the password first")])
        })?;
        let step = secret::check_totp(&totp_secret, &account.id, code, unix(Utc::now()))
            .ok_or_else(|| AccountError::Invalid(vec![problem("code", "验证码不正确 the code is wrong")]))?;
        if !self
            .store
            .complete_enrolment(&secret::secret_hash(token), &account.id, step_i64(step))
            .await?
        {
            return Err(AccountError::EnrolmentInvalid);
        }
        Ok(account.id)
    }

    fn totp_secret(&self, account: &AccountRow) -> Result<Option<Vec<u8>>, AccountError> {
        let Some(sealed) = &account.totp_secret else {
            return Ok(None);
        };
        let hex_secret = self.keyring()?.open(SEAL_TOTP, sealed)?;
        Ok(Some(hex::decode(hex_secret).map_err(|_| KeyError::Corrupt)?))
    }

    /// Checks the password of an active, unlocked account; a failure is counted against an
    /// existing account (and locks it after `lock_threshold`). An unknown account takes as long.
    async fn verify_password_factor(&self, id: &str, password: &str) -> Result<AccountRow, AccountError> {
        let Some(account) = self.store.account(id).await? else {
            secret::verify_password(password, secret::decoy_hash());
            return Err(AccountError::SignInFailed);
        };
        if let Some(until) = account.locked_until.filter(|until| *until > Utc::now()) {
            return Err(AccountError::Locked(until));
        }
        let password_ok = account
            .password_hash
            .as_deref()
            .is_some_and(|hash| secret::verify_password(password, hash));
        match (password_ok, account.status()?) {
            (true, AccountStatus::Active) => Ok(account),
            (false, _) => Err(self.count_failure(&account.id, "password").await?),
            (true, _) => Err(self.count_failure(&account.id, "status").await?),
        }
    }

    /// Counts a failed sign-in; answers the error to give (locked, or the one answer for all).
    async fn count_failure(&self, account: &str, reason: &str) -> Result<AccountError, AccountError> {
        let s = &self.settings;
        Ok(
            match self
                .store
                .sign_in_failed(account, reason, s.lock_threshold, s.lock_base, s.lock_cap)
                .await?
            {
                Some(until) => AccountError::Locked(until),
                None => AccountError::SignInFailed,
            },
        )
    }

    /// Checks both factors, password and TOTP code; gives the account and the step to take.
    async fn verify_factors(
        &self,
        id: &str,
        password: &str,
        code: &str,
    ) -> Result<(AccountRow, i64), AccountError> {
        let account = self.verify_password_factor(id, password).await?;
        let step = match self.totp_secret(&account)? {
            Some(totp) => secret::check_totp(&totp, &account.id, code, unix(Utc::now())),
            None => None,
        };
        match step {
            Some(step) => Ok((account, step_i64(step))),
            None => Err(self.count_failure(&account.id, "totp").await?),
        }
    }

    /// Signs a person in with password and TOTP code: a new session.
    pub async fn sign_in(
        &self,
        id: &str,
        password: &str,
        code: &str,
        client_addr: Option<String>,
        user_agent: Option<String>,
    ) -> Result<SignedIn, AccountError> {
        let (account, step) = self.verify_factors(id, password, code).await?;
        self.open_session(&account.id, Some(step), "totp", client_addr, user_agent)
            .await
    }

    /// Opens a session after both factors passed; with a TOTP `step`, the step is taken (a
    /// code works once: a step already used fails the sign-in and counts as a failure).
    async fn open_session(
        &self,
        account: &str,
        step: Option<i64>,
        factor: &str,
        client_addr: Option<String>,
        user_agent: Option<String>,
    ) -> Result<SignedIn, AccountError> {
        let now = Utc::now();
        let session = secret::random_secret()?;
        let csrf = secret::random_secret()?;
        let row = SessionRow {
            id_hash: secret::secret_hash(&session),
            account_id: account.to_owned(),
            csrf_token: csrf.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.settings.session_absolute,
            revoked_at: None,
            client_addr,
            user_agent: user_agent.map(|ua| ua.chars().take(200).collect()),
        };
        if !self
            .store
            .sign_in_succeeded(account, step, factor, Some(&row))
            .await?
        {
            // The code's step was used already (a replayed or shoulder-surfed code).
            return Err(self.count_failure(account, "totp_replayed").await?);
        }
        Ok(SignedIn {
            account: account.to_owned(),
            session,
            csrf,
            expires_at: row.expires_at,
        })
    }

    /// The person behind a session cookie, if the session is alive (not ended, within both
    /// timeouts) and the account active.
    pub async fn session_principal(&self, session: &str) -> Result<Option<Principal>, AccountError> {
        let now = Utc::now();
        let Some(row) = self.store.session(&secret::secret_hash(session)).await? else {
            return Ok(None);
        };
        if row.revoked_at.is_some()
            || row.expires_at <= now
            || now - row.last_seen_at > self.settings.session_idle
        {
            return Ok(None);
        }
        let Some(grants) = self.active_grants(&row.account_id).await? else {
            return Ok(None);
        };
        // Written at most once a minute: the idle timeout does not need finer.
        if now - row.last_seen_at > TimeDelta::minutes(1) {
            self.store.touch_session(&row.id_hash, now).await?;
        }
        Ok(Some(Principal {
            actor: row.account_id.clone(),
            kind: PrincipalKind::Person {
                account: row.account_id,
                via: Via::Session {
                    id_hash: row.id_hash,
                    csrf: row.csrf_token,
                },
            },
            grants,
        }))
    }

    /// The person behind a personal API token (`rh.ID.SECRET`), with the grants the token
    /// carries, if it is in force and the account active.
    pub async fn token_principal(&self, presented: &str) -> Result<Option<Principal>, AccountError> {
        let now = Utc::now();
        let mut parts = presented.trim().splitn(3, '.');
        let (Some(TOKEN_PREFIX), Some(id), Some(secret_part)) = (parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let Some(token) = self.store.token(id).await? else {
            return Ok(None);
        };
        if token.revoked_at.is_some()
            || token.expires_at <= now
            || !secret::same_hash(&token.secret_hash, &secret::secret_hash(secret_part))
        {
            return Ok(None);
        }
        let Some(grants) = self.active_grants(&token.account_id).await? else {
            return Ok(None);
        };
        let roles: Vec<String> = serde_json::from_str(&token.roles).unwrap_or_default();
        let grants = grants
            .into_iter()
            .filter(|g| roles.iter().any(|r| r == g.role.name()))
            .collect();
        self.store.token_used(&token, now).await?;
        Ok(Some(Principal {
            actor: token.account_id.clone(),
            kind: PrincipalKind::Person {
                account: token.account_id,
                via: Via::Token { id: token.id },
            },
            grants,
        }))
    }

    /// An active account's grants in force (None when the account cannot act).
    async fn active_grants(&self, account: &str) -> Result<Option<Vec<Grant>>, AccountError> {
        match self.store.account(account).await? {
            Some(row) if row.status()? == AccountStatus::Active => {}
            _ => return Ok(None),
        }
        let grants = self
            .store
            .account_grants(account, false)
            .await?
            .iter()
            .map(GrantRecord::grant)
            .collect::<Result<_, _>>()?;
        Ok(Some(grants))
    }

    /// Ends the caller's session, or all of their sessions.
    pub async fn sign_out(&self, principal: &Principal, everywhere: bool) -> Result<u64, AccountError> {
        let PrincipalKind::Person { account, via } = &principal.kind else {
            return Ok(0);
        };
        let only = match (via, everywhere) {
            (Via::Session { id_hash, .. }, false) => Some(id_hash.as_str()),
            (Via::Token { .. }, false) => return Ok(0),
            (_, true) => None,
        };
        Ok(self.store.end_sessions(account, only, &principal.actor).await?)
    }

    /// A personal API token for the caller, carrying `roles` (a subset of what they hold; all
    /// of them when empty), living `days` (at most `token_max_days`).
    pub async fn create_token(
        &self,
        principal: &Principal,
        name: &str,
        roles: &[Role],
        days: i64,
    ) -> Result<IssuedToken, AccountError> {
        let Some(account) = principal.account() else {
            return Err(AccountError::Forbidden("the host uses no tokens".into()));
        };
        let mut problems: Vec<Problem> = text_problem("name", name, 64).into_iter().collect();
        if !(1..=self.settings.token_max_days).contains(&days) {
            problems.push(problem(
                "days",
                format!("1-{} days", self.settings.token_max_days),
            ));
        }
        let held = principal.roles();
        let roles: Vec<Role> = if roles.is_empty() {
            held.clone()
        } else {
            roles.to_vec()
        };
        if let Some(role) = roles.iter().find(|r| !held.contains(r)) {
            problems.push(problem(
                "roles",
                format!(
                    "you do not hold {}: a token carries only roles its owner holds",
                    role.name()
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(AccountError::Invalid(problems));
        }
        let now = Utc::now();
        let id = hex::encode(secret::random_bytes::<8>()?);
        let secret_part = secret::random_secret()?;
        let row = TokenRow {
            id: id.clone(),
            account_id: account.to_owned(),
            secret_hash: secret::secret_hash(&secret_part),
            name: name.trim().to_owned(),
            roles: serde_json::to_string(&roles.iter().map(|r| r.name()).collect::<Vec<_>>())
                .unwrap_or_default(),
            created_at: now,
            expires_at: now + TimeDelta::days(days),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.create_token(&row, &principal.actor).await?;
        Ok(IssuedToken {
            token: row,
            secret: format!("{TOKEN_PREFIX}.{id}.{secret_part}"),
        })
    }

    /// Signs in with both factors to issue a token carrying `roles` (all the account's when
    /// empty), for the command line, which keeps no session.
    pub async fn sign_in_for_token(
        &self,
        id: &str,
        password: &str,
        code: &str,
        name: &str,
        roles: &[Role],
        days: i64,
    ) -> Result<IssuedToken, AccountError> {
        let (account, step) = self.verify_factors(id, password, code).await?;
        let grants = self.active_grants(&account.id).await?.unwrap_or_default();
        let principal = Principal {
            actor: account.id.clone(),
            kind: PrincipalKind::Person {
                account: account.id.clone(),
                via: Via::Token { id: String::new() },
            },
            grants,
        };
        // The code is used once, as at a browser sign-in.
        if !self
            .store
            .sign_in_succeeded(&account.id, Some(step), "totp", None)
            .await?
        {
            return Err(self.count_failure(&account.id, "totp_replayed").await?);
        }
        self.create_token(&principal, name, roles, days).await
    }

    pub async fn tokens(&self, principal: &Principal) -> Result<Vec<TokenRow>, AccountError> {
        match principal.account() {
            Some(account) => Ok(self.store.account_tokens(account).await?),
            None => Ok(Vec::new()),
        }
    }

    pub async fn revoke_token(&self, principal: &Principal, id: &str) -> Result<(), AccountError> {
        let account = principal
            .account()
            .ok_or_else(|| AccountError::NotFound(format!("token {id:?}")))?;
        Ok(self.store.revoke_token(account, id, &principal.actor).await?)
    }

    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionRow>, AccountError> {
        match principal.account() {
            Some(account) => Ok(self.store.account_sessions(account, Utc::now()).await?),
            None => Ok(Vec::new()),
        }
    }

    fn view(&self, row: AccountRow, grants: Vec<GrantRecord>) -> Result<AccountView, AccountError> {
        Ok(AccountView {
            status: row.status()?,
            id: row.id,
            name: row.name_masked,
            resident_id: row.resident_id_masked,
            mobile: row.mobile_masked,
            agency: row.agency,
            region: row.region,
            grants,
            created_by: row.created_by,
            created_at: row.created_at,
            locked_until: row.locked_until,
        })
    }

    fn home(row: &AccountRow) -> Scope {
        Scope::Agency {
            region: row.region.clone(),
            name: row.agency.clone(),
        }
    }

    /// An account the caller administers (NotFound otherwise: existence is not confirmed), with
    /// its grant history.
    pub async fn show(&self, by: &Principal, id: &str) -> Result<AccountView, AccountError> {
        let row = self.administered(by, id).await?;
        let grants = self.store.account_grants(id, true).await?;
        self.view(row, grants)
    }

    /// The own account of a signed-in person.
    pub async fn me(&self, principal: &Principal) -> Result<AccountView, AccountError> {
        let account = principal
            .account()
            .ok_or_else(|| AccountError::NotFound("the host has no account".into()))?;
        let row = self
            .store
            .account(account)
            .await?
            .ok_or_else(|| AccountError::NotFound(format!("account {account:?}")))?;
        let grants = self.store.account_grants(account, false).await?;
        self.view(row, grants)
    }

    async fn administered(&self, by: &Principal, id: &str) -> Result<AccountRow, AccountError> {
        self.store
            .account(id)
            .await?
            .filter(|row| by.administers(&Self::home(row)))
            .ok_or_else(|| AccountError::NotFound(format!("account {id:?}")))
    }

    /// Whether the caller administers the account `id` (the policy's account scope).
    pub async fn in_scope(&self, by: &Principal, id: &str) -> Result<bool, AccountError> {
        match self.administered(by, id).await {
            Ok(_) => Ok(true),
            Err(AccountError::NotFound(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// The accounts the caller administers.
    pub async fn list(&self, by: &Principal) -> Result<Vec<AccountView>, AccountError> {
        let mut views = Vec::new();
        for row in self.store.list_accounts().await? {
            if by.administers(&Self::home(&row)) {
                let grants = self.store.account_grants(&row.id, false).await?;
                views.push(self.view(row, grants)?);
            }
        }
        Ok(views)
    }

    /// Refuses a panel member or chair who is not an account holding the expert role (they
    /// could never sign in to score). A pending account is fine: the person enrols first.
    pub async fn require_expert(&self, id: &str) -> Result<(), AccountError> {
        let row = self
            .store
            .account(id)
            .await?
            .ok_or_else(|| AccountError::NotFound(format!("expert account {id:?}")))?;
        let expert = self
            .store
            .account_grants(id, false)
            .await?
            .iter()
            .any(|g| g.role == Role::Expert.name());
        match row.status()? {
            AccountStatus::Active | AccountStatus::Pending if expert => Ok(()),
            AccountStatus::Active | AccountStatus::Pending => Err(AccountError::Conflict(format!(
                "account {id:?} does not hold the expert role; grant it first"
            ))),
            status => Err(AccountError::Conflict(format!(
                "account {id:?} is {}",
                status.name()
            ))),
        }
    }

    /// Grants a role (recorded with who approved it and why).
    pub async fn grant(
        &self,
        by: &Principal,
        id: &str,
        grant: Grant,
        approved_by: Option<String>,
        reason: &str,
    ) -> Result<i64, AccountError> {
        let row = self.administered(by, id).await?;
        if let Some(p) = text_problem("reason", reason, 500) {
            return Err(AccountError::Invalid(vec![p]));
        }
        not_own(by, id, "grant yourself a role")?;
        if !by.may_grant(&grant) {
            return Err(AccountError::Forbidden(format!(
                "you may not grant {} in {}: nobody grants a role or scope wider than their own",
                grant.role.name(),
                grant.scope
            )));
        }
        if row.status()? == AccountStatus::Disabled {
            return Err(AccountError::Conflict(format!("account {id:?} is disabled")));
        }
        let request = GrantRequest {
            grant,
            approved_by: approved_by.unwrap_or_else(|| by.actor.clone()),
            reason: reason.trim().to_owned(),
        };
        Ok(self.store.add_grant(id, &request, &by.actor).await?)
    }

    /// Revokes a grant in force.
    pub async fn revoke(
        &self,
        by: &Principal,
        id: &str,
        grant: i64,
        reason: &str,
    ) -> Result<(), AccountError> {
        self.administered(by, id).await?;
        if let Some(p) = text_problem("reason", reason, 500) {
            return Err(AccountError::Invalid(vec![p]));
        }
        not_own(by, id, "revoke your own grants")?;
        let record = self
            .store
            .account_grants(id, false)
            .await?
            .into_iter()
            .find(|g| g.id == grant)
            .ok_or_else(|| AccountError::NotFound(format!("grant {grant} of {id:?}")))?;
        if !by.may_grant(&record.grant()?) {
            return Err(AccountError::Forbidden(format!(
                "you may not revoke {} in {}: it is wider than your own",
                record.role, record.scope
            )));
        }
        Ok(self
            .store
            .revoke_grant(id, grant, &by.actor, reason.trim())
            .await?)
    }

    /// Suspends, reactivates or disables an account.
    pub async fn set_status(
        &self,
        by: &Principal,
        id: &str,
        status: AccountStatus,
        reason: &str,
    ) -> Result<(), AccountError> {
        let row = self.administered(by, id).await?;
        if let Some(p) = text_problem("reason", reason, 500) {
            return Err(AccountError::Invalid(vec![p]));
        }
        let current = row.status()?;
        if !current.can_become(status) {
            return Err(AccountError::Conflict(format!(
                "account {id:?} is {}; it cannot become {}",
                current.name(),
                status.name()
            )));
        }
        not_own(by, id, "change your own account's status")?;
        Ok(self
            .store
            .set_account_status(id, status, &by.actor, reason.trim())
            .await?)
    }

    /// A new enrolment link (a lost authenticator, an expired link): the account goes back to
    /// pending, its credentials, sessions and tokens end.
    pub async fn reenrol(&self, by: &Principal, id: &str) -> Result<EnrolmentLink, AccountError> {
        let row = self.administered(by, id).await?;
        not_own(
            by,
            id,
            "re-enrol your own account (it would end your own sign-in)",
        )?;
        if row.status()? == AccountStatus::Disabled {
            return Err(AccountError::Conflict(format!("account {id:?} is disabled")));
        }
        let token = secret::random_secret()?;
        let expires_at = Utc::now() + self.settings.enrolment_lifetime;
        self.store
            .new_enrolment(id, &secret::secret_hash(&token), expires_at, &by.actor)
            .await?;
        Ok(EnrolmentLink {
            account: id.to_owned(),
            token,
            expires_at,
        })
    }
}

fn unix(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).unwrap_or(0)
}

fn step_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}
