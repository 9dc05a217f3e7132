//! The user bridge in the store: per-system bridge configs, platform identities, departmental
//! accounts, links, auto-link conflicts, and issued tokens for single use. The store never sees a
//! personal value in clear: callers hand it sealed values (`KEYID:base64`) and blind indexes
//! (`KEYID:hex`, one per key for lookups, so that rows written before a key rotation are found).
//! Every change is audited in its transaction, with masked values only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::audit_log::AuditLog;
use super::{Store, StoreError, SystemDocument, audit, on_pool, placeholders};

/// A platform identity as stored: name and number sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SealedIdentity {
    pub user_id: String,
    pub kind: String,
    pub certificate_type: String,
    /// Blind index of the number under the key that sealed it.
    pub certificate_index: String,
    pub certificate_no: String,
    pub name: String,
    pub level: i64,
    pub updated_at: DateTime<Utc>,
}

/// A departmental account as stored: its id and number sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SealedAccount {
    /// Opaque reference (random), what links and link proofs point at.
    pub id: String,
    pub system_id: String,
    pub account_index: String,
    pub account_id: String,
    pub certificate_index: Option<String>,
    pub certificate_no: Option<String>,
}

/// An account to record: sealed values, plus its id's index under every key for the lookup.
#[derive(Debug, Clone)]
pub struct AccountWrite {
    /// Blind indexes of the account id, the active key's first.
    pub account_indexes: Vec<String>,
    pub account_id: String,
    /// Index (active key) and sealed number, when the account carries a certificate number.
    pub certificate: Option<(String, String)>,
}

/// A link between a platform user and a departmental account; the account id comes sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkRow {
    pub id: String,
    pub user_id: String,
    pub system_id: String,
    pub account_ref: String,
    pub account_id: String,
    pub method: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

const LINK_COLUMNS: &str = "l.id, l.user_id, l.system_id, l.account_ref, a.account_id, l.method, l.created_at, \
     l.created_by, l.revoked_at, l.revoked_by, l.revoke_reason";

/// What auto-linking did in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AutoLink {
    /// A new link through the certificate number.
    Linked { system_id: String, link_id: String },
    /// The user already has a link in this system.
    AlreadyLinked { system_id: String },
    /// The user's link in this system was revoked: an unlink is a decision the auto-linker
    /// respects. Only the user's new link proof or an administrator links them again.
    Unlinked { system_id: String },
    /// No single answer; recorded for people to settle, nothing linked.
    Conflict {
        system_id: String,
        reason: ConflictReason,
    },
}

/// Why auto-linking could not choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictReason {
    /// Several accounts of the system carry the user's certificate number.
    DuplicateCertificate,
    /// The one account with the number is linked to another platform user.
    AccountLinkedElsewhere,
}

impl ConflictReason {
    fn name(self) -> &'static str {
        match self {
            ConflictReason::DuplicateCertificate => "duplicate_certificate",
            ConflictReason::AccountLinkedElsewhere => "account_linked_elsewhere",
        }
    }
}

/// An open conflict: the accounts come sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictRow {
    pub system_id: String,
    pub user_id: String,
    pub reason: String,
    pub account_ids: Vec<String>,
    pub detected_at: DateTime<Utc>,
}

/// A `bridge_conflicts` row: the accounts by reference, a JSON list.
#[derive(sqlx::FromRow)]
struct ConflictDbRow {
    system_id: String,
    user_id: String,
    reason: String,
    account_refs: String,
    detected_at: DateTime<Utc>,
}

impl ConflictDbRow {
    /// The references of the accounts in conflict.
    fn refs(&self) -> Result<Vec<String>, StoreError> {
        serde_json::from_str(&self.account_refs).map_err(|e| StoreError::Corrupt {
            what: "bridge conflict",
            detail: e.to_string(),
        })
    }

    /// The conflict with the accounts at `refs` named by their sealed ids in `sealed`.
    fn with_accounts(self, refs: &[String], sealed: &HashMap<String, String>) -> ConflictRow {
        ConflictRow {
            account_ids: refs.iter().filter_map(|r| sealed.get(r).cloned()).collect(),
            system_id: self.system_id,
            user_id: self.user_id,
            reason: self.reason,
            detected_at: self.detected_at,
        }
    }
}

/// An account that write-backs named while it was linked to no one; its id comes sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UnresolvedRow {
    pub system_id: String,
    pub account_id: String,
    pub unresolved_count: i64,
    pub unresolved_first: Option<DateTime<Utc>>,
    pub unresolved_last: Option<DateTime<Utc>>,
    pub unresolved_context: Option<String>,
}

/// What an attempt to use a token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUse {
    /// First use: the token's subject (a link id or an account ref).
    Fresh(String),
    /// Used before.
    Used,
    /// Never issued here (or issued for another system or purpose).
    Unknown,
    /// A link proof issued for another platform user (or before proofs named their user).
    OtherUser,
}

impl TokenUse {
    fn result(&self) -> &'static str {
        match self {
            TokenUse::Fresh(_) => "used",
            TokenUse::Used => "replayed",
            TokenUse::Unknown => "unknown",
            TokenUse::OtherUser => "other_user",
        }
    }
}

/// A token to record for single use.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub jti: &'a str,
    /// `ticket` or `link_proof`.
    pub kind: &'a str,
    pub system_id: &'a str,
    /// The link id (tickets) or the account ref (link proofs).
    pub subject: &'a str,
    /// The platform user it was issued for.
    pub user_id: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// What a link made with a proof came to; a link refused because either side is linked already
/// is `StoreError::AlreadyExists`, and leaves the proof unused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofLink {
    Linked(String),
    Refused(TokenUse),
}

/// A new explicit or automatic link.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub user_id: &'a str,
    pub system_id: &'a str,
    pub account_ref: &'a str,
    /// `certificate`, `legacy_login` or `administrator`.
    pub method: &'a str,
    pub reason: Option<&'a str>,
}

/// Marks a token used if it is fresh (and, with `user_id`, issued for that user): one statement
/// that only one transaction wins; only a token it did not take is read to say why. Inside the
/// caller's write transaction.
async fn take_token<C: BridgeWrites>(
    conn: &mut C,
    (jti, kind): (&str, &str),
    system_id: &str,
    user_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TokenUse, sqlx::Error> {
    if let Some(subject) = conn.mark_token_used((jti, kind), system_id, user_id, now).await? {
        return Ok(TokenUse::Fresh(subject));
    }
    Ok(match conn.token_used_at(jti, kind, system_id).await? {
        None => TokenUse::Unknown,
        Some(Some(_)) => TokenUse::Used,
        Some(None) => TokenUse::OtherUser,
    })
}

/// A system's account whose certificate matches a user's, with the user it is linked to now.
#[derive(sqlx::FromRow)]
struct Candidate {
    system_id: String,
    id: String,
    user_id: Option<String>,
}

/// A random opaque id with a prefix, e.g. `lk_3f…`.
pub fn random_id(prefix: &str) -> Result<String, StoreError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Corrupt {
        what: "random source",
        detail: e.to_string(),
    })?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// Runs `$body` in a write transaction `$tx` on whichever backend, then commits.
macro_rules! in_write_tx {
    ($store:expr, $tx:ident => $body:expr) => {
        on_pool!($store, pool => {
            let mut $tx = pool.begin_with($store.backend().begin_write()).await?;
            let result = $body;
            $tx.commit().await?;
            result
        })
    };
}

/// The bridge's writes shared by several calls, inside the caller's transaction: statements one
/// per method, stamped for SQLite's and PostgreSQL's connections by `bridge_statements!` (no
/// logic), and the logic in the provided methods.
pub(crate) trait BridgeWrites: AuditLog + Send {
    /// The account of a system whose id has one of these blind indexes.
    async fn find_account(
        &mut self,
        system_id: &str,
        indexes: &[String],
    ) -> Result<Option<String>, sqlx::Error>;

    /// Replaces an account's certificate (index and sealed number).
    async fn set_account_certificate(
        &mut self,
        id: &str,
        certificate: (&Option<String>, &Option<String>),
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error>;

    async fn insert_account(
        &mut self,
        id: &str,
        system_id: &str,
        account: &AccountWrite,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error>;

    async fn insert_link_row(
        &mut self,
        id: &str,
        link: &NewLink<'_>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error>;

    /// Settles the user's auto-link conflict in the system and the account's unresolved count.
    async fn settle_conflicts(&mut self, link: &NewLink<'_>) -> Result<(), sqlx::Error>;

    /// An active link of the user in the system, or of the account.
    async fn active_link_of(&mut self, link: &NewLink<'_>) -> Result<Option<String>, sqlx::Error>;

    /// When a token of the system was used: `None` for no such token, `Some(None)` unused.
    async fn token_used_at(
        &mut self,
        jti: &str,
        kind: &str,
        system_id: &str,
    ) -> Result<Option<Option<DateTime<Utc>>>, sqlx::Error>;

    /// Marks a fresh token of the system used (with `user_id`: only one issued for that user);
    /// its subject, or `None` when it is not such a token or another transaction took it first.
    async fn mark_token_used(
        &mut self,
        token: (&str, &str),
        system_id: &str,
        user_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, sqlx::Error>;

    /// Inserts or refreshes one account; answers its ref and whether it is new. With `refresh`,
    /// a certificate given replaces the stored one.
    async fn upsert_account(
        &mut self,
        system_id: &str,
        account: &AccountWrite,
        now: DateTime<Utc>,
        refresh: bool,
    ) -> Result<(String, bool), StoreError> {
        let (certificate_index, certificate_no) = account.certificate.clone().unzip();
        match self.find_account(system_id, &account.account_indexes).await? {
            Some(id) => {
                if refresh && certificate_index.is_some() {
                    self.set_account_certificate(&id, (&certificate_index, &certificate_no), now)
                        .await?;
                }
                Ok((id, false))
            }
            None => {
                let id = random_id("ac")?;
                self.insert_account(&id, system_id, account, now).await?;
                Ok((id, true))
            }
        }
    }

    /// Inserts a link, settles the user's conflict in the system and the account's unresolved
    /// count, and audits; answers the new link id.
    async fn insert_link(
        &mut self,
        link: &NewLink<'_>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let id = random_id("lk")?;
        self.insert_link_row(&id, link, actor, now).await?;
        self.settle_conflicts(link).await?;
        self.append_audit(
            actor,
            "bridge.link",
            &id,
            json!({
                "user_id": link.user_id, "system_id": link.system_id, "account_ref": link.account_ref,
                "method": link.method, "reason": link.reason,
            }),
        )
        .await?;
        Ok(id)
    }

    /// `insert_link`, refused when the user has an active link in the system or the account
    /// has one.
    async fn link_if_free(
        &mut self,
        link: &NewLink<'_>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        if let Some(existing) = self.active_link_of(link).await? {
            return Err(StoreError::AlreadyExists {
                what: "link of this user or account in the system (unlink it first)",
                id: existing,
            });
        }
        self.insert_link(link, actor, now).await
    }
}

/// Stamps out `BridgeWrites`'s statements for a backend's connection (no logic: one statement
/// each, its binds).
macro_rules! bridge_statements {
    ($conn:ty) => {
        impl BridgeWrites for $conn {
            async fn find_account(&mut self, system_id: &str, indexes: &[String]) -> Result<Option<String>, sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM bridge_accounts WHERE system_id = $1 AND account_index IN ({})",
                    placeholders(2, indexes.len())
                ));
                let mut query = sqlx::query_as::<_, (String,)>(sql).bind(system_id);
                for index in indexes {
                    query = query.bind(index);
                }
                Ok(query.fetch_optional(&mut *self).await?.map(|(id,)| id))
            }

            async fn set_account_certificate(
                &mut self,
                id: &str,
                (index, number): (&Option<String>, &Option<String>),
                now: DateTime<Utc>,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE bridge_accounts SET certificate_index = $2, certificate_no = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(index)
                .bind(number)
                .bind(now)
                .execute(&mut *self)
                .await
                .map(|_| ())
            }

            async fn insert_account(
                &mut self,
                id: &str,
                system_id: &str,
                account: &AccountWrite,
                now: DateTime<Utc>,
            ) -> Result<(), sqlx::Error> {
                let (certificate_index, certificate_no) = account.certificate.clone().unzip();
                sqlx::query(
                    "INSERT INTO bridge_accounts (id, system_id, account_index, account_id, certificate_index, certificate_no, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(system_id)
                .bind(&account.account_indexes[0])
                .bind(&account.account_id)
                .bind(certificate_index)
                .bind(certificate_no)
                .bind(now)
                .execute(&mut *self)
                .await
                .map(|_| ())
            }

            async fn insert_link_row(&mut self, id: &str, link: &NewLink<'_>, actor: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO bridge_links (id, user_id, system_id, account_ref, method, created_at, created_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(link.user_id)
                .bind(link.system_id)
                .bind(link.account_ref)
                .bind(link.method)
                .bind(now)
                .bind(actor)
                .execute(&mut *self)
                .await
                .map(|_| ())
            }

            async fn settle_conflicts(&mut self, link: &NewLink<'_>) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM bridge_conflicts WHERE system_id = $1 AND user_id = $2")
                    .bind(link.system_id)
                    .bind(link.user_id)
                    .execute(&mut *self)
                    .await?;
                sqlx::query("UPDATE bridge_accounts SET unresolved_count = 0 WHERE id = $1")
                    .bind(link.account_ref)
                    .execute(&mut *self)
                    .await
                    .map(|_| ())
            }

            async fn active_link_of(&mut self, link: &NewLink<'_>) -> Result<Option<String>, sqlx::Error> {
                let row: Option<(String,)> = sqlx::query_as(
                    "SELECT id FROM bridge_links WHERE revoked_at IS NULL AND ((user_id = $1 AND system_id = $2) OR account_ref = $3)",
                )
                .bind(link.user_id)
                .bind(link.system_id)
                .bind(link.account_ref)
                .fetch_optional(&mut *self)
                .await?;
                Ok(row.map(|(id,)| id))
            }

            async fn token_used_at(
                &mut self,
                jti: &str,
                kind: &str,
                system_id: &str,
            ) -> Result<Option<Option<DateTime<Utc>>>, sqlx::Error> {
                sqlx::query_scalar("SELECT used_at FROM bridge_tokens WHERE jti = $1 AND kind = $2 AND system_id = $3")
                    .bind(jti)
                    .bind(kind)
                    .bind(system_id)
                    .fetch_optional(&mut *self)
                    .await
            }

            async fn mark_token_used(
                &mut self,
                (jti, kind): (&str, &str),
                system_id: &str,
                user_id: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<Option<String>, sqlx::Error> {
                let used: Option<(String,)> = sqlx::query_as(
                    "UPDATE bridge_tokens SET used_at = $5 WHERE jti = $1 AND kind = $2 AND system_id = $3
                     AND used_at IS NULL AND ($4 IS NULL OR user_id = $4) RETURNING subject",
                )
                .bind(jti)
                .bind(kind)
                .bind(system_id)
                .bind(user_id)
                .bind(now)
                .fetch_optional(&mut *self)
                .await?;
                Ok(used.map(|(subject,)| subject))
            }
        }
    };
}
bridge_statements!(sqlx::SqliteConnection);
bridge_statements!(sqlx::PgConnection);

impl Store {
    /// Attaches (or replaces) a system's bridge config; the caller has validated it.
    pub async fn set_bridge_config(
        &self,
        system_id: &str,
        toml: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.set_document(SystemDocument::BridgeConfig, system_id, toml, actor)
            .await
    }

    /// A system's bridge config, as attached.
    pub async fn bridge_config(&self, system_id: &str) -> Result<String, StoreError> {
        self.document(SystemDocument::BridgeConfig, system_id).await
    }

    /// Records or refreshes a platform identity. Refuses one whose certificate number (any of
    /// `certificate_indexes`) belongs to another user id.
    pub async fn put_identity(
        &self,
        identity: &SealedIdentity,
        certificate_indexes: &[String],
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT user_id FROM bridge_identities WHERE user_id <> $1 AND certificate_index IN ({})",
                placeholders(2, certificate_indexes.len())
            ));
            let mut query = sqlx::query_as::<_, (String,)>(sql).bind(&identity.user_id);
            for index in certificate_indexes {
                query = query.bind(index);
            }
            if let Some((other,)) = query.fetch_optional(&mut *tx).await? {
                return Err(StoreError::AlreadyExists { what: "platform identity with this certificate number", id: other });
            }
            sqlx::query(
                "INSERT INTO bridge_identities (user_id, kind, certificate_type, certificate_index, certificate_no, name, level, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 ON CONFLICT (user_id) DO UPDATE SET kind = excluded.kind, certificate_type = excluded.certificate_type,
                 certificate_index = excluded.certificate_index, certificate_no = excluded.certificate_no,
                 name = excluded.name, level = excluded.level, updated_at = excluded.updated_at",
            )
            .bind(&identity.user_id)
            .bind(&identity.kind)
            .bind(&identity.certificate_type)
            .bind(&identity.certificate_index)
            .bind(&identity.certificate_no)
            .bind(&identity.name)
            .bind(identity.level)
            .bind(identity.updated_at)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "bridge.identity.put", &identity.user_id, detail)?;
        });
        Ok(())
    }

    /// One platform identity.
    pub async fn identity(&self, user_id: &str) -> Result<SealedIdentity, StoreError> {
        let row: Option<SealedIdentity> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT user_id, kind, certificate_type, certificate_index, certificate_no, name, level, updated_at
                 FROM bridge_identities WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or_else(|| StoreError::NotFound {
            what: "platform identity",
            id: user_id.to_owned(),
        })
    }

    /// The platform identity whose certificate number has one of these indexes.
    pub async fn identity_by_certificate(&self, indexes: &[String]) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT user_id FROM bridge_identities WHERE certificate_index IN ({})",
                placeholders(1, indexes.len())
            ));
            let mut query = sqlx::query_as(sql);
            for index in indexes {
                query = query.bind(index);
            }
            query.fetch_optional(pool).await?
        });
        Ok(row.map(|(user,)| user))
    }

    /// Records accounts of a system (new ones, or a refreshed certificate on known ones);
    /// returns each account's reference, in order.
    pub async fn put_accounts(
        &self,
        system_id: &str,
        accounts: &[AccountWrite],
        actor: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.get_system(system_id).await?;
        let now = Utc::now();
        let refs = in_write_tx!(self, tx => {
            let mut refs = Vec::with_capacity(accounts.len());
            for account in accounts {
                let (id, _) = BridgeWrites::upsert_account(&mut *tx, system_id, account, now, true).await?;
                refs.push(id);
            }
            audit!(tx, actor, "bridge.accounts.import", system_id, json!({ "accounts": accounts.len() }))?;
            refs
        });
        Ok(refs)
    }

    /// The account of a system with one of these id indexes.
    pub async fn find_account(
        &self,
        system_id: &str,
        indexes: &[String],
    ) -> Result<Option<SealedAccount>, StoreError> {
        let row: Option<SealedAccount> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT id, system_id, account_index, account_id, certificate_index, certificate_no
                 FROM bridge_accounts WHERE system_id = $1 AND account_index IN ({})",
                placeholders(2, indexes.len())
            ));
            let mut query = sqlx::query_as(sql).bind(system_id);
            for index in indexes {
                query = query.bind(index);
            }
            query.fetch_optional(pool).await?
        });
        Ok(row)
    }

    /// Links `user_id` to the one account of each system that carries the certificate number
    /// (`certificate_indexes`: its index under every key), in `only_system` or in every system.
    /// Several accounts with the number, or an account linked to someone else, is a conflict:
    /// recorded and reported, never a choice.
    pub async fn auto_link(
        &self,
        user_id: &str,
        certificate_indexes: &[String],
        only_system: Option<&str>,
        actor: &str,
    ) -> Result<Vec<AutoLink>, StoreError> {
        let now = Utc::now();
        let outcomes = in_write_tx!(self, tx => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT a.system_id, a.id, l.user_id FROM bridge_accounts a
                 LEFT JOIN bridge_links l ON l.account_ref = a.id AND l.revoked_at IS NULL
                 WHERE a.certificate_index IN ({}) ORDER BY a.system_id, a.id",
                placeholders(1, certificate_indexes.len())
            ));
            let mut query = sqlx::query_as::<_, Candidate>(sql);
            for index in certificate_indexes {
                query = query.bind(index);
            }
            let mut candidates = query.fetch_all(&mut *tx).await?;
            candidates.retain(|c| only_system.is_none_or(|only| only == c.system_id));
            let mut outcomes = Vec::new();
            for group in candidates.chunk_by(|a, b| a.system_id == b.system_id) {
                let system_id = group[0].system_id.clone();
                // The user's latest link in the system, an active one first: when it was revoked.
                let linked: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
                    "SELECT revoked_at FROM bridge_links WHERE user_id = $1 AND system_id = $2
                     ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END LIMIT 1",
                )
                .bind(user_id)
                .bind(&system_id)
                .fetch_optional(&mut *tx)
                .await?;
                let conflict = match (linked, group) {
                    (Some(None), _) => {
                        outcomes.push(AutoLink::AlreadyLinked { system_id });
                        continue;
                    }
                    (Some(Some(_)), _) => {
                        outcomes.push(AutoLink::Unlinked { system_id });
                        continue;
                    }
                    (None, [Candidate { id: account, user_id: None, .. }]) => {
                        let link = NewLink { user_id, system_id: &system_id, account_ref: account, method: "certificate", reason: None };
                        let link_id = BridgeWrites::insert_link(&mut *tx, &link, actor, now).await?;
                        outcomes.push(AutoLink::Linked { system_id, link_id });
                        continue;
                    }
                    (None, [_]) => ConflictReason::AccountLinkedElsewhere,
                    (None, _) => ConflictReason::DuplicateCertificate,
                };
                let refs: Vec<&str> = group.iter().map(|c| c.id.as_str()).collect();
                sqlx::query(
                    "INSERT INTO bridge_conflicts (system_id, user_id, reason, account_refs, detected_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (system_id, user_id) DO UPDATE SET reason = excluded.reason,
                     account_refs = excluded.account_refs, detected_at = excluded.detected_at",
                )
                .bind(&system_id)
                .bind(user_id)
                .bind(conflict.name())
                .bind(json!(refs).to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                audit!(tx, actor, "bridge.conflict", &format!("{system_id}/{user_id}"),
                    json!({ "reason": conflict.name(), "accounts": refs.len() }))?;
                outcomes.push(AutoLink::Conflict { system_id, reason: conflict });
            }
            outcomes
        });
        Ok(outcomes)
    }

    /// Links a user to an account explicitly (proved by a legacy login, or by an administrator);
    /// settles any conflict of the user in that system. Refuses when either side is linked.
    pub async fn insert_link(&self, link: &NewLink<'_>, actor: &str) -> Result<String, StoreError> {
        let now = Utc::now();
        let id = in_write_tx!(self, tx => {
            BridgeWrites::link_if_free(&mut *tx, link, actor, now).await?
        });
        Ok(id)
    }

    /// Revokes the active link of a user in a system; it stays in the history.
    pub async fn revoke_link(
        &self,
        user_id: &str,
        system_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<String, StoreError> {
        let now = Utc::now();
        let id = in_write_tx!(self, tx => {
            let row: Option<(String,)> = sqlx::query_as(
                "UPDATE bridge_links SET revoked_at = $3, revoked_by = $4, revoke_reason = $5
                 WHERE user_id = $1 AND system_id = $2 AND revoked_at IS NULL RETURNING id",
            )
            .bind(user_id)
            .bind(system_id)
            .bind(now)
            .bind(actor)
            .bind(reason)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = row else {
                return Err(StoreError::NotFound { what: "link of user in system", id: format!("{user_id}/{system_id}") });
            };
            audit!(tx, actor, "bridge.unlink", &id, json!({ "user_id": user_id, "system_id": system_id, "reason": reason }))?;
            id
        });
        Ok(id)
    }

    /// Links, newest first: of a user, of a system, or all; active ones only unless `history`.
    pub async fn links(
        &self,
        user_id: Option<&str>,
        system_id: Option<&str>,
        history: bool,
    ) -> Result<Vec<LinkRow>, StoreError> {
        let rows = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {LINK_COLUMNS} FROM bridge_links l JOIN bridge_accounts a ON a.id = l.account_ref
                 WHERE ($1 IS NULL OR l.user_id = $1) AND ($2 IS NULL OR l.system_id = $2) AND ($3 OR l.revoked_at IS NULL)
                 ORDER BY l.created_at DESC, l.id"
            ));
            sqlx::query_as(sql).bind(user_id).bind(system_id).bind(history).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// One link by id.
    pub async fn link(&self, link_id: &str) -> Result<LinkRow, StoreError> {
        let row: Option<LinkRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {LINK_COLUMNS} FROM bridge_links l JOIN bridge_accounts a ON a.id = l.account_ref WHERE l.id = $1"
            ));
            sqlx::query_as(sql).bind(link_id).fetch_optional(pool).await?
        });
        row.ok_or_else(|| StoreError::NotFound {
            what: "link",
            id: link_id.to_owned(),
        })
    }

    /// The active link of an account, if any.
    pub async fn link_of_account(&self, account_ref: &str) -> Result<Option<LinkRow>, StoreError> {
        let row = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {LINK_COLUMNS} FROM bridge_links l JOIN bridge_accounts a ON a.id = l.account_ref
                 WHERE l.account_ref = $1 AND l.revoked_at IS NULL"
            ));
            sqlx::query_as(sql).bind(account_ref).fetch_optional(pool).await?
        });
        Ok(row)
    }

    /// Records that a write-back named an account no one is linked to: the account (created if
    /// new), how often, when, and in what (e.g. the case number).
    pub async fn record_unresolved(
        &self,
        system_id: &str,
        account: &AccountWrite,
        context: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        in_write_tx!(self, tx => {
            let (id, _) = BridgeWrites::upsert_account(&mut *tx, system_id, account, now, false).await?;
            sqlx::query(
                "UPDATE bridge_accounts SET unresolved_count = unresolved_count + 1,
                 unresolved_first = COALESCE(unresolved_first, $2), unresolved_last = $2, unresolved_context = $3 WHERE id = $1",
            )
            .bind(&id)
            .bind(now)
            .bind(context)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "bridge.account.unresolved", system_id, json!({ "account_ref": id, "context": context }))?;
        });
        Ok(())
    }

    /// Open conflicts and unresolved accounts (those still linked to no one), of one system or all.
    pub async fn bridge_report(
        &self,
        system_id: Option<&str>,
    ) -> Result<(Vec<ConflictRow>, Vec<UnresolvedRow>), StoreError> {
        let (conflicts, unresolved, sealed) = on_pool!(self, pool => {
            let conflicts: Vec<ConflictDbRow> = sqlx::query_as(
                "SELECT system_id, user_id, reason, account_refs, detected_at FROM bridge_conflicts
                 WHERE ($1 IS NULL OR system_id = $1) ORDER BY system_id, user_id",
            )
            .bind(system_id)
            .fetch_all(pool)
            .await?;
            let unresolved: Vec<UnresolvedRow> = sqlx::query_as(
                "SELECT a.system_id, a.account_id, a.unresolved_count, a.unresolved_first, a.unresolved_last, a.unresolved_context
                 FROM bridge_accounts a WHERE a.unresolved_count > 0 AND ($1 IS NULL OR a.system_id = $1)
                 AND NOT EXISTS (SELECT 1 FROM bridge_links l WHERE l.account_ref = a.id AND l.revoked_at IS NULL)
                 ORDER BY a.system_id, a.unresolved_last DESC",
            )
            .bind(system_id)
            .fetch_all(pool)
            .await?;
            let mut parsed = Vec::with_capacity(conflicts.len());
            for conflict in conflicts {
                let refs = conflict.refs()?;
                parsed.push((conflict, refs));
            }
            let all: Vec<&String> = parsed.iter().flat_map(|(_, refs)| refs).collect();
            let mut sealed = HashMap::new();
            if !all.is_empty() {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT id, account_id FROM bridge_accounts WHERE id IN ({})",
                    placeholders(1, all.len())
                ));
                let mut query = sqlx::query_as::<_, (String, String)>(sql);
                for id in all {
                    query = query.bind(id);
                }
                sealed.extend(query.fetch_all(pool).await?);
            }
            (parsed, unresolved, sealed)
        });
        let conflicts = conflicts
            .into_iter()
            .map(|(conflict, refs)| conflict.with_accounts(&refs, &sealed))
            .collect();
        Ok((conflicts, unresolved))
    }

    /// Records an issued token for single use. Expired tokens are purged by housekeeping
    /// (`Purge::BridgeTokens`), not on this request's path.
    pub async fn insert_token(&self, token: &NewToken<'_>, actor: &str) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO bridge_tokens (jti, kind, system_id, subject, user_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(token.jti)
            .bind(token.kind)
            .bind(token.system_id)
            .bind(token.subject)
            .bind(token.user_id)
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, &format!("bridge.{}.issue", token.kind), token.system_id, json!({
                "jti": token.jti, "subject": token.subject, "user_id": token.user_id, "expires_at": token.expires_at,
            }))?;
        });
        Ok(())
    }

    /// Uses a token once: only the first caller gets `Fresh`, across every node.
    pub async fn use_token(
        &self,
        (jti, kind): (&str, &str),
        system_id: &str,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<TokenUse, StoreError> {
        let outcome = in_write_tx!(self, tx => {
            let outcome = take_token(&mut *tx, (jti, kind), system_id, None, now).await?;
            audit!(tx, actor, &format!("bridge.{kind}.use"), system_id, json!({ "jti": jti, "result": outcome.result() }))?;
            outcome
        });
        Ok(outcome)
    }

    /// Links `link.user_id` to the account a link proof (`jti`) was issued for, in one
    /// transaction: the proof is used up only when the link is made. A proof issued for another
    /// user, used before or unknown is refused (and audited); either side already linked is
    /// `AlreadyExists`, with the proof left unused.
    pub async fn link_by_proof(
        &self,
        jti: &str,
        (user_id, system_id): (&str, &str),
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<ProofLink, StoreError> {
        let kind = "link_proof";
        let outcome = in_write_tx!(self, tx => {
            let used = take_token(&mut *tx, (jti, kind), system_id, Some(user_id), now).await?;
            let outcome = match &used {
                TokenUse::Fresh(account_ref) => {
                    let link = NewLink { user_id, system_id, account_ref, method: "legacy_login", reason: None };
                    ProofLink::Linked(BridgeWrites::link_if_free(&mut *tx, &link, actor, now).await?)
                }
                refused => ProofLink::Refused(refused.clone()),
            };
            audit!(tx, actor, &format!("bridge.{kind}.use"), system_id, json!({
                "jti": jti, "user_id": user_id, "result": used.result(),
            }))?;
            outcome
        });
        Ok(outcome)
    }

    /// Every sealed value and index not written under `current_key`, for a re-key: identities
    /// (user id, index, number, name) and accounts (ref, account index, account id, certificate
    /// index, number), at most `limit` of each.
    pub async fn stale_sealed(
        &self,
        current_key: &str,
        limit: i64,
    ) -> Result<(Vec<SealedIdentity>, Vec<SealedAccount>), StoreError> {
        let prefix = format!("{current_key}:");
        let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        let rows = on_pool!(self, pool => {
            let identities: Vec<SealedIdentity> = sqlx::query_as(
                "SELECT user_id, kind, certificate_type, certificate_index, certificate_no, name, level, updated_at
                 FROM bridge_identities WHERE substr(certificate_index, 1, $2) <> $1 OR substr(certificate_no, 1, $2) <> $1 OR substr(name, 1, $2) <> $1
                 ORDER BY user_id LIMIT $3",
            )
            .bind(&prefix)
            .bind(length)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let accounts: Vec<SealedAccount> = sqlx::query_as(
                "SELECT id, system_id, account_index, account_id, certificate_index, certificate_no FROM bridge_accounts
                 WHERE substr(account_index, 1, $2) <> $1 OR substr(account_id, 1, $2) <> $1
                 OR substr(certificate_index, 1, $2) <> $1 OR substr(certificate_no, 1, $2) <> $1
                 ORDER BY id LIMIT $3",
            )
            .bind(&prefix)
            .bind(length)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            (identities, accounts)
        });
        Ok(rows)
    }

    /// Writes re-sealed values, each `(as read, re-sealed)`, in one transaction, with one audit
    /// event. A row changed since it was read keeps its new values (a sealed value is never
    /// written twice the same, each sealing having its own nonce). Returns how many identities
    /// and accounts were written.
    pub async fn reseal(
        &self,
        identities: &[(SealedIdentity, SealedIdentity)],
        accounts: &[(SealedAccount, SealedAccount)],
        actor: &str,
    ) -> Result<(u64, u64), StoreError> {
        let (mut written_identities, mut written_accounts) = (0, 0);
        in_write_tx!(self, tx => {
            for (was, now) in identities {
                written_identities += sqlx::query(
                    "UPDATE bridge_identities SET certificate_index = $2, certificate_no = $3, name = $4
                     WHERE user_id = $1 AND certificate_no = $5 AND name = $6",
                )
                .bind(&now.user_id)
                .bind(&now.certificate_index)
                .bind(&now.certificate_no)
                .bind(&now.name)
                .bind(&was.certificate_no)
                .bind(&was.name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            for (was, now) in accounts {
                written_accounts += sqlx::query(
                    "UPDATE bridge_accounts SET account_index = $2, account_id = $3, certificate_index = $4, certificate_no = $5
                     WHERE id = $1 AND account_id = $6 AND certificate_no IS NOT DISTINCT FROM $7",
                )
                .bind(&now.id)
                .bind(&now.account_index)
                .bind(&now.account_id)
                .bind(&now.certificate_index)
                .bind(&now.certificate_no)
                .bind(&was.account_id)
                .bind(&was.certificate_no)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            if written_identities + written_accounts > 0 {
                audit!(tx, actor, "bridge.rekey", "bridge", json!({ "identities": written_identities, "accounts": written_accounts }))?;
            }
        });
        Ok((written_identities, written_accounts))
    }
}
