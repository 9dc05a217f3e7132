//! The user bridge (用户互认, Art. 25(三)): platform identities and accounts of departmental
//! systems recognised across both sides. Identities and accounts are stored sealed with blind
//! indexes (`keys`); links are made through certificate numbers only, by a legacy login proved
//! once, or by an administrator; a linked user gets short-lived single-use tickets that the
//! system redeems server-to-server (`ticket`), and a system's account id in a write-back resolves
//! back to the platform user (`Bridge::resolve`). Each system's settings are its `BridgeConfig`.
//!
//! `Bridge` is the service the HTTP handlers and the CLI call; it seals and opens, decides, and
//! leaves SQL and single-use atomicity to the store. Every time-dependent call takes `now`.

mod config;
mod identity;
mod keys;
mod throttle;
mod ticket;

pub use self::config::{Attribute, AttributeMapping, BridgeConfig, Credentials};
pub use identity::{Account, Identity, IdentityView, Level, NewAccount, NewIdentity, shown_account};
pub use keys::{BridgeKeysConfig, KeyConfig, KeyError, Keyring};
pub use throttle::{LIMIT as CREDENTIAL_FAILURE_LIMIT, WINDOW_SECONDS as CREDENTIAL_WINDOW_SECONDS};
pub use ticket::{Claims, Refusal, TokenKind};

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ronghe_adapters::{ConfigIssue, Secrets};
use ronghe_crypto::Signature;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::case::{ApplicantKind, CertificateType, FieldIssue, Problems};
use crate::store::{
    AccountWrite, AutoLink, LinkRow, NewLink, NewToken, ProofLink, SealedAccount, SealedIdentity, Store,
    StoreError, TokenUse,
};
use crate::systems::{SystemStatus, summary};
use crate::validate::{mask_certificate, mask_name};
use throttle::{Failure, Gate, Throttle};

/// How long a link proof stays usable: the user goes back to the platform and confirms.
const PROOF_LIFETIME_SECONDS: i64 = 300;
/// Rows re-sealed per transaction by `rekey`.
const REKEY_BATCH: i64 = 500;
/// Longest `state` a department may have echoed back (RFC 6749 leaves it opaque).
const STATE_MAX_CHARS: usize = 512;
/// Who the audit names for credentials that were not accepted.
const UNAUTHENTICATED: &str = "unauthenticated";
/// The throttle key of every system id that is not registered, per address: a flood of
/// made-up ids is one pair, not a million.
const UNKNOWN_SYSTEM: &str = "?";

/// Why the bridge refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("invalid request: {}", summary(.0))]
    Invalid(Vec<FieldIssue>),
    /// The presenting system is unknown or its credentials are wrong (deliberately vague).
    #[error("the system's credentials were not accepted")]
    Unauthorized,
    /// Too many failed credentials from this address for this system; refused unchecked.
    #[error("too many failed credentials from this address; try again after {until}")]
    Throttled { until: DateTime<Utc> },
    /// A ticket was refused; the code tells the redeeming system why.
    #[error("ticket refused: {0}")]
    Ticket(Refusal),
    /// A link proof was refused.
    #[error("link proof refused: {0}")]
    Proof(Refusal),
    #[error("system {system:?} has no usable bridge config: {}", issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config {
        system: String,
        issues: Vec<ConfigIssue>,
    },
    #[error("system {system:?} is {why}; the bridge does not serve it")]
    Closed { system: String, why: &'static str },
    #[error("platform user {user:?} is not linked to an account of system {system:?}")]
    NotLinked { user: String, system: String },
    #[error("the real-name level of platform user {user:?} is {have}; system {system:?} requires {need}")]
    LevelTooLow {
        user: String,
        system: String,
        have: Level,
        need: Level,
    },
    #[error(
        "callback URL {0:?} is not one of the system's registered callback_urls exactly (same scheme, host, port, path and query; no dot segments, encoded separators, ';' parameters, ticket or state)"
    )]
    CallbackNotAllowed(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BridgeError {
    /// The stable code callers act on (the API's `error.code`, the audit's refusals).
    pub fn code(&self) -> &'static str {
        match self {
            BridgeError::Invalid(_) => "validation_failed",
            BridgeError::Unauthorized => "bridge_unauthorized",
            BridgeError::Throttled { .. } => "bridge_throttled",
            BridgeError::Ticket(refusal) => refusal.code(),
            BridgeError::Proof(Refusal::WrongUser) => "proof_wrong_user",
            BridgeError::Proof(_) => "invalid_proof",
            BridgeError::Config { .. } => "bridge_config_invalid",
            BridgeError::Closed { .. } => "system_closed",
            BridgeError::NotLinked { .. } => "not_linked",
            BridgeError::LevelTooLow { .. } => "level_too_low",
            BridgeError::CallbackNotAllowed(_) => "callback_not_allowed",
            BridgeError::Keys(_) => "internal_error",
            BridgeError::Store(StoreError::NotFound { .. }) => "not_found",
            BridgeError::Store(_) => "store_error",
        }
    }
}

/// Credentials a system presents (HTTP Basic: its id and secret), and the address they came
/// from (`None` when unknown, e.g. from the command line). `Debug` hides the secret.
#[derive(Clone)]
pub struct SystemCredentials {
    pub system_id: String,
    pub secret: String,
    pub source: Option<IpAddr>,
}

impl std::fmt::Debug for SystemCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SystemCredentials({}, ***, {:?})", self.system_id, self.source)
    }
}

/// An identity recorded, and what auto-linking did with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentityReport {
    pub identity: IdentityView,
    pub links: Vec<AutoLink>,
}

/// Accounts imported, and the links and conflicts found through their certificate numbers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub system_id: String,
    pub accounts: usize,
    pub links: Vec<UserAutoLink>,
}

/// What auto-linking did for one platform user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserAutoLink {
    pub user_id: String,
    #[serde(flatten)]
    pub outcome: AutoLink,
}

/// An explicit link: proved by a legacy login (`proof`), or made by an administrator
/// (`account_id` and `reason`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub user_id: String,
    pub system_id: String,
    /// A link proof the system handed out after the user logged in there.
    #[serde(default)]
    pub proof: Option<String>,
    /// The account, when an administrator links without a proof.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Why an administrator links (kept in the audit log); required with `account_id`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// How an explicit link is proved.
enum Via<'a> {
    Proof(&'a str),
    Administrator { account_id: &'a str, reason: &'a str },
}

impl LinkRequest {
    /// Either a proof, or an account id and a reason; every problem at once.
    fn via(&self) -> Result<Via<'_>, Vec<FieldIssue>> {
        let mut issues = Problems::default();
        match (&self.proof, &self.account_id, &self.reason) {
            (Some(proof), None, _) => Ok(Via::Proof(proof)),
            (None, Some(account_id), Some(reason)) => {
                identity::check_account_id(&mut issues, "account_id", account_id);
                issues.plain_text("reason", reason, 500);
                issues.result(Via::Administrator {
                    account_id: account_id.trim(),
                    reason: reason.trim(),
                })
            }
            _ => {
                issues.add(
                    "proof",
                    "link.proof_or_reason",
                    "give either a proof from the system, or account_id and reason as an administrator",
                );
                Err(issues.into_issues())
            }
        }
    }
}

/// How a link came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum LinkMethod {
    /// The account carries the user's certificate number.
    Certificate,
    /// The user logged in to the system once and the system vouched for it.
    LegacyLogin,
    /// An administrator linked them, with a reason.
    Administrator,
}

impl LinkMethod {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn label(self) -> &'static str {
        match self {
            LinkMethod::Certificate => "证件号码匹配",
            LinkMethod::LegacyLogin => "原系统登录确认",
            LinkMethod::Administrator => "管理员关联",
        }
    }

    fn parse(name: &str) -> Option<LinkMethod> {
        name.parse().ok()
    }
}

/// A link as shown: account ids that are certificate numbers are masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub link_id: String,
    pub user_id: String,
    pub system_id: String,
    pub account_id: String,
    pub method: LinkMethod,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
}

/// A ticket for a linked user and a system.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedTicket {
    /// Hand it to the system (the redirect does); single use.
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
    /// The registered callback with `state=…` (when the department sent one) and `ticket=…`
    /// added, when the system has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
}

/// Where a ticket goes: the callback the department asked for (one of its registered ones,
/// exactly; default its first) and the `state` its request carried, echoed back so that it can
/// tell its own login from a forged one (RFC 9700 §2.1, login CSRF).
#[derive(Debug, Clone, Default)]
pub struct Redirect<'a> {
    pub callback: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// A link proof for an account the user just logged in to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedProof {
    pub proof: String,
    pub expires_at: DateTime<Utc>,
}

/// What a system learns by redeeming a ticket: its own account id and the attributes its
/// config releases, under its names.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Redemption {
    pub account_id: String,
    /// Stable and opaque; the `sub` of this system's tickets for the same user.
    pub link_id: String,
    pub level: Level,
    pub attributes: BTreeMap<String, String>,
}

impl std::fmt::Debug for Redemption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redemption")
            .field("account_id", &mask_certificate(&self.account_id))
            .field("link_id", &self.link_id)
            .field("level", &self.level)
            .field("attributes", &self.attributes.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Where an account id from a departmental system leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Resolution {
    /// The platform user the account is linked to.
    Linked { user_id: String, link_id: String },
    /// Linked to no one: recorded and reported (`Bridge::report`), never guessed.
    Unknown,
}

/// What needs a person: auto-link conflicts and accounts write-backs named but no one is
/// linked to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = BridgeReport)]
pub struct Report {
    pub conflicts: Vec<ConflictView>,
    pub unresolved: Vec<UnresolvedView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub system_id: String,
    pub user_id: String,
    /// `duplicate_certificate` or `account_linked_elsewhere`.
    pub reason: String,
    pub account_ids: Vec<String>,
    pub detected_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnresolvedView {
    pub system_id: String,
    pub account_id: String,
    pub occurrences: i64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// What named it last, e.g. a case number.
    pub last_context: Option<String>,
}

/// An Ed25519 public key for offline verification of tickets.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    /// The `kid` in ticket headers.
    pub kid: String,
    /// Always `EdDSA` (Ed25519).
    pub alg: &'static str,
    /// The 32-byte key, base64url without padding (JWK `x`).
    pub x: String,
}

/// Blind-index domain of certificate numbers (identities and accounts share it to match).
const CERTIFICATE: &str = "certificate";

fn account_domain(system_id: &str) -> String {
    format!("account/{system_id}")
}

/// What a sealed field of an identity or an account is bound to (the AEAD's associated data):
/// a value cannot be moved to another row or field and still open.
fn purpose(owner: &str, field: &str) -> String {
    format!("{owner}/{field}")
}

fn identity_owner(user_id: &str) -> String {
    format!("identity/{user_id}")
}

/// Why a token the store would not hand out was refused.
fn token_refused(used: &TokenUse) -> Refusal {
    match used {
        TokenUse::Used | TokenUse::Fresh(_) => Refusal::Replayed,
        // Signed by our key but never recorded: not issued by this platform's store.
        TokenUse::Unknown => Refusal::Tampered,
        TokenUse::OtherUser => Refusal::WrongUser,
    }
}

/// A refused token, when it was offered as a link proof.
fn proof_refused(err: BridgeError) -> BridgeError {
    match err {
        BridgeError::Ticket(refusal) => BridgeError::Proof(refusal),
        other => other,
    }
}

/// The user bridge.
#[derive(Clone)]
pub struct Bridge {
    store: Store,
    keys: Arc<Keyring>,
    secrets: Arc<dyn Secrets>,
    throttle: Arc<Throttle>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// `secrets` resolves the systems' credential references.
    pub fn new(store: Store, keys: Arc<Keyring>, secrets: Arc<dyn Secrets>) -> Bridge {
        Bridge {
            store,
            keys,
            secrets,
            throttle: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A system's bridge config, and that the bridge may serve the system.
    pub async fn system_config(&self, system_id: &str) -> Result<BridgeConfig, BridgeError> {
        let system = self.store.get_system(system_id).await?;
        if system.secret {
            return Err(BridgeError::Closed {
                system: system.id,
                why: "bound by secrecy rules (涉密)",
            });
        }
        if system.status == SystemStatus::Retired {
            return Err(BridgeError::Closed {
                system: system.id,
                why: "retired",
            });
        }
        let text = self.store.bridge_config(system_id).await?;
        BridgeConfig::parse(&text).map_err(|issues| BridgeError::Config {
            system: system_id.to_owned(),
            issues,
        })
    }

    /// Checks a system's credentials at `now`: the one place where that happens. Every failure
    /// looks the same to the caller; the operator's log says why. Failures are throttled per
    /// system and address (`throttle`) and audited in aggregate.
    async fn authenticate(
        &self,
        presented: &SystemCredentials,
        now: DateTime<Utc>,
    ) -> Result<BridgeConfig, BridgeError> {
        let config = self.system_config(&presented.system_id).await;
        let registered = !matches!(config, Err(BridgeError::Store(StoreError::NotFound { .. })));
        let key = if registered {
            presented.system_id.as_str()
        } else {
            UNKNOWN_SYSTEM
        };
        match self.throttle.gate(key, presented.source, now) {
            Gate::Throttled { until } => return Err(BridgeError::Throttled { until }),
            Gate::Open { ended: Some(ended) } => {
                let detail = serde_json::json!({
                    "source": presented.source, "window_start": ended.started, "window_seconds": throttle::WINDOW_SECONDS,
                    "failures": ended.failures, "refused_unchecked": ended.throttled,
                });
                self.store
                    .record_audit(UNAUTHENTICATED, "bridge.credentials.window", key, detail)
                    .await?;
            }
            Gate::Open { ended: None } => {}
        }
        match self.check_credentials(presented, config) {
            Ok(config) => Ok(config),
            Err(err) => {
                let detail = |failures: u32, started: DateTime<Utc>| serde_json::json!({ "source": presented.source, "window_start": started, "failures": failures });
                let event = match self.throttle.failed(key, presented.source, now) {
                    Failure::First { started } => Some(("bridge.credentials.refused", detail(1, started))),
                    Failure::Limit { started, until } => {
                        tracing::warn!(system = %presented.system_id, source = ?presented.source, %until, "bridge credentials throttled");
                        let mut detail = detail(throttle::LIMIT, started);
                        detail["throttled_until"] = serde_json::json!(until);
                        Some(("bridge.credentials.throttled", detail))
                    }
                    Failure::Counted => None,
                };
                if let Some((action, detail)) = event {
                    self.store
                        .record_audit(UNAUTHENTICATED, action, key, detail)
                        .await?;
                }
                Err(err)
            }
        }
    }

    /// Compares the presented secret with the system's configured one.
    fn check_credentials(
        &self,
        presented: &SystemCredentials,
        config: Result<BridgeConfig, BridgeError>,
    ) -> Result<BridgeConfig, BridgeError> {
        let config = match config {
            Ok(config) => config,
            Err(BridgeError::Store(StoreError::NotFound { .. })) => return Err(BridgeError::Unauthorized),
            Err(err) => {
                tracing::warn!(system = %presented.system_id, error = %err, "system cannot authenticate to the bridge");
                return Err(BridgeError::Unauthorized);
            }
        };
        let expected = match &config.credentials {
            Credentials::Basic { secret } => self.secrets.resolve(secret),
        };
        let expected = expected.map_err(|err| {
            tracing::error!(system = %presented.system_id, error = %err, "bridge credentials of the system cannot be resolved");
            BridgeError::Unauthorized
        })?;
        // Digests first, so that the comparison takes the same time whatever the lengths.
        let same = ronghe_crypto::constant_time_eq(
            &Sha256::digest(expected.as_bytes()),
            &Sha256::digest(presented.secret.as_bytes()),
        );
        if same {
            Ok(config)
        } else {
            tracing::warn!(system = %presented.system_id, "bridge credentials refused");
            Err(BridgeError::Unauthorized)
        }
    }

    fn seal_identity(&self, identity: &Identity, now: DateTime<Utc>) -> Result<SealedIdentity, BridgeError> {
        let owner = identity_owner(&identity.user_id);
        let purpose = |field: &str| purpose(&owner, field);
        Ok(SealedIdentity {
            user_id: identity.user_id.clone(),
            kind: identity.kind.name().to_owned(),
            certificate_type: identity.certificate_type.name().to_owned(),
            certificate_index: self.keys.index(CERTIFICATE, &identity.certificate_no),
            certificate_no: self
                .keys
                .seal(&purpose("certificate_no"), &identity.certificate_no)?,
            name: self.keys.seal(&purpose("name"), &identity.name)?,
            level: i64::from(identity.level.code()),
            updated_at: now,
        })
    }

    fn open_identity(&self, row: &SealedIdentity) -> Result<Identity, BridgeError> {
        let owner = identity_owner(&row.user_id);
        let purpose = |field: &str| purpose(&owner, field);
        let corrupt = |detail: String| {
            BridgeError::Store(StoreError::Corrupt {
                what: "platform identity",
                detail,
            })
        };
        Ok(Identity {
            user_id: row.user_id.clone(),
            kind: ApplicantKind::parse(&row.kind).ok_or_else(|| corrupt(format!("kind {:?}", row.kind)))?,
            name: self.keys.open(&purpose("name"), &row.name)?,
            certificate_type: CertificateType::parse(&row.certificate_type)
                .ok_or_else(|| corrupt(format!("certificate type {:?}", row.certificate_type)))?,
            certificate_no: self.keys.open(&purpose("certificate_no"), &row.certificate_no)?,
            level: Level::from_code(row.level).ok_or_else(|| corrupt(format!("level {}", row.level)))?,
        })
    }

    fn account_write(&self, system_id: &str, account: &Account) -> Result<AccountWrite, BridgeError> {
        let certificate = match &account.certificate_no {
            Some(number) => Some((
                self.keys.index(CERTIFICATE, number),
                self.keys
                    .seal(&purpose(&account_domain(system_id), "certificate_no"), number)?,
            )),
            None => None,
        };
        Ok(AccountWrite {
            account_indexes: self.keys.indexes(&account_domain(system_id), &account.account_id),
            account_id: self.keys.seal(
                &purpose(&account_domain(system_id), "account_id"),
                &account.account_id,
            )?,
            certificate,
        })
    }

    fn open_account_id(&self, system_id: &str, sealed: &str) -> Result<String, BridgeError> {
        Ok(self
            .keys
            .open(&purpose(&account_domain(system_id), "account_id"), sealed)?)
    }

    fn view_link(&self, row: LinkRow, today: chrono::NaiveDate) -> Result<LinkView, BridgeError> {
        let account_id = self.open_account_id(&row.system_id, &row.account_id)?;
        Ok(LinkView {
            method: LinkMethod::parse(&row.method).ok_or_else(|| StoreError::Corrupt {
                what: "link",
                detail: format!("method {:?}", row.method),
            })?,
            account_id: shown_account(&account_id, today),
            link_id: row.id,
            user_id: row.user_id,
            system_id: row.system_id,
            created_at: row.created_at,
            created_by: row.created_by,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
            revoke_reason: row.revoke_reason,
        })
    }

    /// Records one account without a certificate number (or finds it); returns its reference.
    async fn record_account(
        &self,
        system_id: &str,
        account_id: &str,
        actor: &str,
    ) -> Result<String, BridgeError> {
        let account = Account {
            account_id: account_id.to_owned(),
            certificate_no: None,
        };
        let write = self.account_write(system_id, &account)?;
        let refs = self.store.put_accounts(system_id, &[write], actor).await?;
        refs.into_iter().next().ok_or_else(|| {
            BridgeError::Store(StoreError::Corrupt {
                what: "account",
                detail: "recording one account returned no reference".to_owned(),
            })
        })
    }

    /// Records or refreshes a platform identity from the real-name system, then links it to the
    /// one account per system that carries its certificate number.
    pub async fn put_identity(
        &self,
        new: NewIdentity,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<IdentityReport, BridgeError> {
        let identity = new.validate(now.date_naive()).map_err(BridgeError::Invalid)?;
        let sealed = self.seal_identity(&identity, now)?;
        let indexes = self.keys.indexes(CERTIFICATE, &identity.certificate_no);
        let view = identity.view(now);
        let detail = serde_json::json!({
            "kind": view.kind, "name": view.name, "certificate_no": view.certificate_no, "level": view.level,
        });
        self.store.put_identity(&sealed, &indexes, actor, detail).await?;
        let links = self
            .store
            .auto_link(&identity.user_id, &indexes, None, actor)
            .await?;
        tracing::info!(user = %identity.user_id, certificate = %view.certificate_no, links = links.len(), "platform identity recorded");
        Ok(IdentityReport {
            identity: view,
            links,
        })
    }

    /// A platform identity, masked; the read is audited (Art. 23).
    pub async fn identity(&self, user_id: &str, actor: &str) -> Result<IdentityView, BridgeError> {
        let row = self.store.identity(user_id).await?;
        let view = self.open_identity(&row)?.view(row.updated_at);
        self.store
            .record_audit(actor, "bridge.identity.read", user_id, serde_json::json!({}))
            .await?;
        Ok(view)
    }

    /// The cases written back under a platform user (their applicants' accounts resolved
    /// through the links); an unknown user is `NotFound`. The read is audited.
    pub async fn user_cases(
        &self,
        user_id: &str,
        actor: &str,
    ) -> Result<Vec<crate::store::OwnedCase>, BridgeError> {
        self.store.identity(user_id).await?;
        let cases = self.store.cases_of_user(user_id).await?;
        self.store
            .record_audit(
                actor,
                "bridge.user_cases",
                user_id,
                serde_json::json!({ "cases": cases.len() }),
            )
            .await?;
        Ok(cases)
    }

    /// Imports a system's accounts (every one validated first; nothing is written when one is
    /// invalid) and links each to the platform identity with its certificate number.
    pub async fn import_accounts(
        &self,
        system_id: &str,
        accounts: Vec<NewAccount>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, BridgeError> {
        let today = now.date_naive();
        let mut valid = Vec::with_capacity(accounts.len());
        let mut issues = Vec::new();
        for (i, account) in accounts.into_iter().enumerate() {
            match account.validate(today) {
                Ok(account) => valid.push(account),
                Err(found) => issues.extend(found.into_iter().map(|issue| FieldIssue {
                    field: format!("accounts[{i}].{}", issue.field),
                    ..issue
                })),
            }
        }
        if !issues.is_empty() {
            return Err(BridgeError::Invalid(issues));
        }
        let writes = valid
            .iter()
            .map(|a| self.account_write(system_id, a))
            .collect::<Result<Vec<_>, _>>()?;
        self.store.put_accounts(system_id, &writes, actor).await?;
        let mut links = Vec::new();
        let mut numbers: Vec<&String> = valid.iter().filter_map(|a| a.certificate_no.as_ref()).collect();
        numbers.sort();
        numbers.dedup();
        for number in numbers {
            let indexes = self.keys.indexes(CERTIFICATE, number);
            let Some(user_id) = self.store.identity_by_certificate(&indexes).await? else {
                continue;
            };
            for outcome in self
                .store
                .auto_link(&user_id, &indexes, Some(system_id), actor)
                .await?
            {
                links.push(UserAutoLink {
                    user_id: user_id.clone(),
                    outcome,
                });
            }
        }
        tracing::info!(system = %system_id, accounts = valid.len(), links = links.len(), "accounts imported");
        Ok(ImportReport {
            system_id: system_id.to_owned(),
            accounts: valid.len(),
            links,
        })
    }

    /// Links a user explicitly: with a link proof from the system, or as an administrator with
    /// the account id and a reason.
    pub async fn link(
        &self,
        request: LinkRequest,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<LinkView, BridgeError> {
        let via = request.via().map_err(BridgeError::Invalid)?;
        self.store.identity(&request.user_id).await?;
        let config = self.system_config(&request.system_id).await?;
        let link_id = match via {
            Via::Proof(proof) => {
                let claims = self
                    .verify_token(
                        TokenKind::LinkProof,
                        config.signature,
                        proof,
                        &request.system_id,
                        now,
                    )
                    .await
                    .map_err(proof_refused)?;
                let linked = self
                    .store
                    .link_by_proof(&claims.jti, (&request.user_id, &request.system_id), now, actor)
                    .await?;
                match linked {
                    ProofLink::Linked(link_id) => link_id,
                    ProofLink::Refused(used) => return Err(BridgeError::Proof(token_refused(&used))),
                }
            }
            Via::Administrator { account_id, reason } => {
                let account_ref = self.record_account(&request.system_id, account_id, actor).await?;
                self.store
                    .insert_link(
                        &NewLink {
                            user_id: &request.user_id,
                            system_id: &request.system_id,
                            account_ref: &account_ref,
                            method: LinkMethod::Administrator.name(),
                            reason: Some(reason),
                        },
                        actor,
                    )
                    .await?
            }
        };
        tracing::info!(user = %request.user_id, system = %request.system_id, "linked");
        self.view_link(self.store.link(&link_id).await?, now.date_naive())
    }

    /// Revokes a user's link to a system (by the user or an administrator; `actor` says who).
    pub async fn unlink(
        &self,
        user_id: &str,
        system_id: &str,
        reason: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<LinkView, BridgeError> {
        let mut issues = Problems::default();
        issues.plain_text("reason", reason, 500);
        issues.result(()).map_err(BridgeError::Invalid)?;
        let link_id = self
            .store
            .revoke_link(user_id, system_id, reason.trim(), actor)
            .await?;
        tracing::info!(user = %user_id, system = %system_id, "unlinked");
        self.view_link(self.store.link(&link_id).await?, now.date_naive())
    }

    /// Links of a user, of a system, or all; revoked ones too with `history`. Audited read.
    pub async fn links(
        &self,
        user_id: Option<&str>,
        system_id: Option<&str>,
        history: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<LinkView>, BridgeError> {
        let rows = self.store.links(user_id, system_id, history).await?;
        let target = format!("{}/{}", user_id.unwrap_or("*"), system_id.unwrap_or("*"));
        self.store
            .record_audit(
                actor,
                "bridge.links.read",
                &target,
                serde_json::json!({ "links": rows.len() }),
            )
            .await?;
        rows.into_iter()
            .map(|row| self.view_link(row, now.date_naive()))
            .collect()
    }

    /// Issues a ticket that lets a linked user in to a system, valid for the system's ticket
    /// lifetime from `now`; the registered callback asked for (or the system's first) gets the
    /// department's `state` and the ticket appended. A refusal is audited with its code.
    pub async fn issue(
        &self,
        user_id: &str,
        system_id: &str,
        redirect: &Redirect<'_>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedTicket, BridgeError> {
        let issued = self.issue_checked(user_id, system_id, redirect, actor, now).await;
        // A refusal, not a failure of the keys or the database.
        if let Err(err) = &issued
            && (!matches!(err, BridgeError::Keys(_) | BridgeError::Store(_))
                || matches!(err, BridgeError::Store(StoreError::NotFound { .. })))
        {
            tracing::warn!(user = %user_id, system = %system_id, code = err.code(), "ticket not issued");
            self.store
                .record_audit(
                    actor,
                    "bridge.ticket.refused_issue",
                    system_id,
                    serde_json::json!({ "user_id": user_id, "code": err.code() }),
                )
                .await?;
        }
        issued
    }

    async fn issue_checked(
        &self,
        user_id: &str,
        system_id: &str,
        redirect: &Redirect<'_>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedTicket, BridgeError> {
        let mut issues = Problems::default();
        if let Some(state) = redirect.state
            && (state.is_empty()
                || state.chars().count() > STATE_MAX_CHARS
                || state.chars().any(char::is_control))
        {
            issues.add(
                "state",
                "bridge.state",
                format!("state must be 1-{STATE_MAX_CHARS} characters without control characters, as the department sent it"),
            );
        }
        issues.result(()).map_err(BridgeError::Invalid)?;
        let config = self.system_config(system_id).await?;
        let identity = self.open_identity(&self.store.identity(user_id).await?)?;
        if identity.level < config.minimum_level {
            return Err(BridgeError::LevelTooLow {
                user: user_id.to_owned(),
                system: system_id.to_owned(),
                have: identity.level,
                need: config.minimum_level,
            });
        }
        let link = self
            .store
            .links(Some(user_id), Some(system_id), false)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| BridgeError::NotLinked {
                user: user_id.to_owned(),
                system: system_id.to_owned(),
            })?;
        let callback = match redirect.callback {
            Some(requested) => Some(
                config
                    .registered_callback(requested)
                    .ok_or_else(|| BridgeError::CallbackNotAllowed(requested.to_owned()))?,
            ),
            None => config.callback_urls.first().and_then(|u| url::Url::parse(u).ok()),
        };
        let expires_at = now + chrono::Duration::seconds(i64::from(config.ticket_lifetime_seconds));
        let claims = Claims {
            jti: crate::store::random_id("tk")?,
            aud: system_id.to_owned(),
            sub: link.id.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            lvl: Some(identity.level.code()),
        };
        let ticket = ticket::encode(&self.keys, config.signature, TokenKind::Ticket, &claims);
        self.store
            .insert_token(
                &NewToken {
                    jti: &claims.jti,
                    kind: TokenKind::Ticket.name(),
                    system_id,
                    subject: &link.id,
                    user_id,
                    expires_at,
                },
                actor,
            )
            .await?;
        let redirect_url = callback.map(|mut url| {
            let mut query = url.query_pairs_mut();
            if let Some(state) = redirect.state {
                query.append_pair("state", state);
            }
            query.append_pair("ticket", &ticket);
            drop(query);
            url.to_string()
        });
        tracing::info!(user = %user_id, system = %system_id, jti = %claims.jti, "ticket issued");
        Ok(IssuedTicket {
            ticket,
            expires_at,
            redirect_url,
        })
    }

    /// Verifies a token of `kind` presented by `system_id` (whose config signs with `signature`)
    /// at `now`, without using it: its claims. The token is verified with the algorithm of the
    /// system it is bound to: the presenter's, or (for a token of another system, refused after
    /// verifying as `WrongSystem`) that system's when its config can be read.
    async fn verify_token(
        &self,
        kind: TokenKind,
        signature: Signature,
        token: &str,
        system_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, BridgeError> {
        let signature = match ticket::audience(token) {
            Some(audience) if audience != system_id => self
                .system_config(&audience)
                .await
                .map_or(signature, |config| config.signature),
            _ => signature,
        };
        let claims = ticket::decode(&self.keys, signature, kind, token).map_err(BridgeError::Ticket)?;
        if claims.aud != system_id {
            return Err(BridgeError::Ticket(Refusal::WrongSystem));
        }
        if now.timestamp() >= claims.exp {
            return Err(BridgeError::Ticket(Refusal::Expired));
        }
        Ok(claims)
    }

    /// Redeems a ticket for the system that presents `credentials`, at `now`: the system's own
    /// account id and the attributes its config releases (`name` and `certificate_no` masked
    /// unless the config states a legal basis). Every refusal has its own code and is audited;
    /// every release is audited with what was released.
    pub async fn redeem(
        &self,
        credentials: &SystemCredentials,
        ticket: &str,
        now: DateTime<Utc>,
    ) -> Result<Redemption, BridgeError> {
        let config = self.authenticate(credentials, now).await?;
        let system_id = &credentials.system_id;
        let actor = format!("system:{system_id}");
        let result = self.redeem_for(&config, system_id, ticket, &actor, now).await;
        match &result {
            Ok(redemption) => {
                tracing::info!(system = %system_id, link = %redemption.link_id, "ticket redeemed");
            }
            Err(BridgeError::Ticket(refusal)) => {
                tracing::warn!(system = %system_id, code = refusal.code(), "ticket refused");
                self.store
                    .record_audit(
                        &actor,
                        "bridge.ticket.refused",
                        system_id,
                        serde_json::json!({ "code": refusal.code() }),
                    )
                    .await?;
            }
            Err(_) => {}
        }
        result
    }

    async fn redeem_for(
        &self,
        config: &BridgeConfig,
        system_id: &str,
        ticket: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Redemption, BridgeError> {
        let claims = self
            .verify_token(TokenKind::Ticket, config.signature, ticket, system_id, now)
            .await?;
        let link_id = match self
            .store
            .use_token((&claims.jti, TokenKind::Ticket.name()), system_id, now, actor)
            .await?
        {
            TokenUse::Fresh(subject) => subject,
            refused => return Err(BridgeError::Ticket(token_refused(&refused))),
        };
        let link = self.store.link(&link_id).await?;
        if link.revoked_at.is_some() {
            return Err(BridgeError::Ticket(Refusal::LinkRevoked));
        }
        let identity = self.open_identity(&self.store.identity(&link.user_id).await?)?;
        if identity.level < config.minimum_level {
            return Err(BridgeError::Ticket(Refusal::LevelTooLow));
        }
        let account_id = self.open_account_id(system_id, &link.account_id)?;
        let in_full = config.legal_basis.is_some();
        let mut released =
            vec![serde_json::json!({ "field": "account_id", "source": "account_id", "form": "full" })];
        let attributes = config
            .attributes
            .iter()
            .map(|mapping| {
                let masked = mapping.source.is_personal() && !in_full;
                let value = match mapping.source {
                    Attribute::UserId => identity.user_id.clone(),
                    Attribute::Kind => identity.kind.name().to_owned(),
                    Attribute::Name if masked => mask_name(&identity.name),
                    Attribute::Name => identity.name.clone(),
                    Attribute::CertificateType => identity.certificate_type.name().to_owned(),
                    Attribute::CertificateNo if masked => mask_certificate(&identity.certificate_no),
                    Attribute::CertificateNo => identity.certificate_no.clone(),
                    Attribute::Level => identity.level.name().to_owned(),
                };
                released.push(serde_json::json!({
                    "field": mapping.field, "source": mapping.source.name(),
                    "form": if masked { "masked" } else { "full" },
                }));
                let value = mapping.codes.get(&value).cloned().unwrap_or(value);
                (mapping.field.clone(), value)
            })
            .collect();
        // Audited before anything is released: no audit row, no release.
        self.store
            .record_audit(
                actor,
                "bridge.ticket.released",
                system_id,
                serde_json::json!({
                    "jti": claims.jti, "link_id": link.id, "user_id": link.user_id,
                    "released": released, "legal_basis": config.legal_basis,
                }),
            )
            .await?;
        Ok(Redemption {
            account_id,
            link_id: link.id,
            level: identity.level,
            attributes,
        })
    }

    /// Hands a system a link proof for one of its accounts, after the user logged in there on
    /// behalf of platform user `user_id` (who asked the platform to link that system): only a
    /// link of that user redeems it (`link` with `proof`).
    pub async fn prove(
        &self,
        credentials: &SystemCredentials,
        user_id: &str,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedProof, BridgeError> {
        let config = self.authenticate(credentials, now).await?;
        let system_id = &credentials.system_id;
        let account = NewAccount {
            account_id: account_id.to_owned(),
            certificate_no: None,
        }
        .validate(now.date_naive())
        .map_err(BridgeError::Invalid)?;
        self.store.identity(user_id).await?;
        let actor = format!("system:{system_id}");
        let account_ref = self
            .record_account(system_id, &account.account_id, &actor)
            .await?;
        let expires_at = now + chrono::Duration::seconds(PROOF_LIFETIME_SECONDS);
        let claims = Claims {
            jti: crate::store::random_id("pf")?,
            aud: system_id.clone(),
            sub: account_ref.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            lvl: None,
        };
        let proof = ticket::encode(&self.keys, config.signature, TokenKind::LinkProof, &claims);
        self.store
            .insert_token(
                &NewToken {
                    jti: &claims.jti,
                    kind: TokenKind::LinkProof.name(),
                    system_id,
                    subject: &account_ref,
                    user_id,
                    expires_at,
                },
                &actor,
            )
            .await?;
        Ok(IssuedProof { proof, expires_at })
    }

    /// The platform user a departmental account id belongs to, for write-back: through the
    /// links only. An account linked to no one is recorded with `context` (e.g. the case
    /// number) and reported; it is never guessed.
    pub async fn resolve(
        &self,
        system_id: &str,
        account_id: &str,
        context: &str,
        actor: &str,
    ) -> Result<Resolution, BridgeError> {
        let indexes = self.keys.indexes(&account_domain(system_id), account_id);
        if let Some(account) = self.store.find_account(system_id, &indexes).await?
            && let Some(link) = self.store.link_of_account(&account.id).await?
        {
            return Ok(Resolution::Linked {
                user_id: link.user_id,
                link_id: link.id,
            });
        }
        let account = Account {
            account_id: account_id.to_owned(),
            certificate_no: None,
        };
        self.store
            .record_unresolved(
                system_id,
                &self.account_write(system_id, &account)?,
                context,
                actor,
            )
            .await?;
        tracing::warn!(system = %system_id, account = %mask_certificate(account_id), context, "account linked to no platform user");
        Ok(Resolution::Unknown)
    }

    /// Open conflicts and unresolved accounts, of one system or all (audited read).
    pub async fn report(
        &self,
        system_id: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Report, BridgeError> {
        let today = now.date_naive();
        let (conflicts, unresolved) = self.store.bridge_report(system_id).await?;
        self.store
            .record_audit(
                actor,
                "bridge.report.read",
                system_id.unwrap_or("*"),
                serde_json::json!({}),
            )
            .await?;
        let conflicts = conflicts
            .into_iter()
            .map(|c| {
                let mut account_ids = c
                    .account_ids
                    .iter()
                    .map(|sealed| Ok(shown_account(&self.open_account_id(&c.system_id, sealed)?, today)))
                    .collect::<Result<Vec<_>, BridgeError>>()?;
                account_ids.sort();
                Ok(ConflictView {
                    account_ids,
                    system_id: c.system_id,
                    user_id: c.user_id,
                    reason: c.reason,
                    detected_at: c.detected_at,
                })
            })
            .collect::<Result<_, BridgeError>>()?;
        let unresolved = unresolved
            .into_iter()
            .map(|u| {
                Ok(UnresolvedView {
                    account_id: shown_account(&self.open_account_id(&u.system_id, &u.account_id)?, today),
                    system_id: u.system_id,
                    occurrences: u.unresolved_count,
                    first_seen: u.unresolved_first,
                    last_seen: u.unresolved_last,
                    last_context: u.unresolved_context,
                })
            })
            .collect::<Result<_, BridgeError>>()?;
        Ok(Report {
            conflicts,
            unresolved,
        })
    }

    /// Re-seals and re-indexes everything written under an older key with the active key, so
    /// that older keys can be retired; returns how many identities and accounts were rewritten.
    pub async fn rekey(&self, actor: &str) -> Result<(u64, u64), BridgeError> {
        let (mut identities, mut accounts) = (0, 0);
        loop {
            let (stale_identities, stale_accounts) = self
                .store
                .stale_sealed(self.keys.active_id(), REKEY_BATCH)
                .await?;
            if stale_identities.is_empty() && stale_accounts.is_empty() {
                return Ok((identities, accounts));
            }
            let fresh_identities = stale_identities
                .into_iter()
                .map(|row| {
                    let now = self.seal_identity(&self.open_identity(&row)?, row.updated_at)?;
                    Ok((row, now))
                })
                .collect::<Result<Vec<_>, BridgeError>>()?;
            let fresh_accounts = stale_accounts
                .into_iter()
                .map(|row| {
                    let now = self.reseal_account(&row)?;
                    Ok((row, now))
                })
                .collect::<Result<Vec<_>, BridgeError>>()?;
            let (written_identities, written_accounts) = self
                .store
                .reseal(&fresh_identities, &fresh_accounts, actor)
                .await?;
            identities += written_identities;
            accounts += written_accounts;
        }
    }

    fn reseal_account(&self, row: &SealedAccount) -> Result<SealedAccount, BridgeError> {
        let certificate_no = match &row.certificate_no {
            Some(sealed) => Some(self.keys.open(
                &purpose(&account_domain(&row.system_id), "certificate_no"),
                sealed,
            )?),
            None => None,
        };
        let account = Account {
            account_id: self.open_account_id(&row.system_id, &row.account_id)?,
            certificate_no,
        };
        let write = self.account_write(&row.system_id, &account)?;
        let (certificate_index, certificate_no) = write.certificate.unzip();
        Ok(SealedAccount {
            id: row.id.clone(),
            system_id: row.system_id.clone(),
            account_index: write.account_indexes[0].clone(),
            account_id: write.account_id,
            certificate_index,
            certificate_no,
        })
    }

    /// The Ed25519 public keys that verify `ed25519` tickets, for systems that verify offline.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        use base64::Engine as _;
        self.keys
            .public_keys()
            .into_iter()
            .map(|(kid, key)| PublicKey {
                kid,
                alg: "EdDSA",
                x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
            })
            .collect()
    }
}
