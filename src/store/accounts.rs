//! Staff accounts in the store: the accounts with their sealed personal fields, grants of roles,
//! one-time enrolment links, browser sessions and personal API tokens. Every change is audited in
//! its own transaction; secrets arrive sealed or hashed from the accounts service.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, audit, on_pool};
use crate::access::{AccountStatus, Grant, Role, Scope};

/// The grant insert, shared by account creation and a later grant, inside the caller's
/// transaction; stamped for SQLite's and PostgreSQL's connections by `grant_statements!`.
pub(crate) trait GrantWrites: Send {
    /// Inserts one grant and gives its id.
    async fn insert_grant(
        &mut self,
        account: &str,
        request: &GrantRequest,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error>;
}

/// Stamps out `GrantWrites` for a backend's connection (one statement, its binds).
macro_rules! grant_statements {
    ($conn:ty) => {
        impl GrantWrites for $conn {
            async fn insert_grant(
                &mut self,
                account: &str,
                request: &GrantRequest,
                actor: &str,
                now: DateTime<Utc>,
            ) -> Result<i64, sqlx::Error> {
                sqlx::query_as::<_, (i64,)>(
                    "INSERT INTO account_grants (account_id, role, scope, granted_by, approved_by, reason, granted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(account)
                .bind(request.grant.role.name())
                .bind(request.grant.scope.to_string())
                .bind(actor)
                .bind(&request.approved_by)
                .bind(&request.reason)
                .bind(now)
                .fetch_one(&mut *self)
                .await
                .map(|(id,)| id)
            }
        }
    };
}
grant_statements!(sqlx::SqliteConnection);
grant_statements!(sqlx::PgConnection);

/// An account as stored (personal fields sealed; their masked forms for display).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub name_masked: String,
    pub resident_id: String,
    pub resident_id_index: String,
    pub resident_id_masked: String,
    pub mobile: String,
    pub mobile_masked: String,
    pub agency: String,
    pub region: String,
    pub status: String,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountRow {
    pub fn status(&self) -> Result<AccountStatus, StoreError> {
        AccountStatus::parse(&self.status).ok_or_else(|| StoreError::Corrupt {
            what: "account",
            detail: format!("{}: unknown status {:?}", self.id, self.status),
        })
    }
}

/// A grant of a role, as recorded (who granted and who approved it, and why).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct GrantRecord {
    pub id: i64,
    pub account_id: String,
    pub role: String,
    pub scope: String,
    pub granted_by: String,
    pub approved_by: String,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl GrantRecord {
    /// The grant it records; a row this build cannot read is corrupt.
    pub fn grant(&self) -> Result<Grant, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            what: "grant",
            detail,
        };
        Ok(Grant {
            role: Role::parse(&self.role)
                .ok_or_else(|| corrupt(format!("{}: role {:?}", self.id, self.role)))?,
            scope: Scope::parse(&self.scope).map_err(corrupt)?,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentRow {
    pub token_hash: String,
    pub account_id: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct SessionRow {
    #[serde(skip)]
    pub id_hash: String,
    pub account_id: String,
    #[serde(skip)]
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct TokenRow {
    pub id: String,
    pub account_id: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub name: String,
    /// The roles the token carries, as a JSON array of role names.
    pub roles: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A registered passkey: the webauthn-rs `Passkey` as JSON (public key, counter; nothing secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub passkey: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A WebAuthn ceremony between its start and its finish (its id kept as a hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// A grant to record: the role and scope, who grants it, who approved it and why.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub grant: Grant,
    pub approved_by: String,
    pub reason: String,
}

const ACCOUNT_COLUMNS: &str = "id, name, name_masked, resident_id, resident_id_index, resident_id_masked, mobile, mobile_masked, agency, region, status, password_hash, totp_secret, totp_last_step, failed_sign_ins, locked_until, created_by, created_at, updated_at";

/// Ends an account's sessions and revokes its tokens ($1 the account, $2 the time).
const END_SESSIONS_AND_TOKENS: [&str; 2] = [
    "UPDATE account_sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
    "UPDATE account_tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
];

/// How often a token's use is written to the audit log (its `last_used_at` is kept exactly).
const TOKEN_USE_AUDIT_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A staff account's sealed fields, as a re-key reads and rewrites them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedStaff {
    pub id: String,
    pub name: String,
    pub resident_id: String,
    pub resident_id_index: String,
    pub mobile: String,
    pub totp_secret: Option<String>,
}

impl Store {
    /// Up to `limit` accounts with a field sealed or indexed under a key other than
    /// `current_key` (the accounts are few: a scan, for a re-key only).
    pub async fn stale_staff(&self, current_key: &str, limit: i64) -> Result<Vec<SealedStaff>, StoreError> {
        let prefix = format!("{current_key}:");
        let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, name, resident_id, resident_id_index, mobile, totp_secret FROM accounts
                 WHERE substr(name, 1, $2) <> $1 OR substr(resident_id, 1, $2) <> $1
                 OR substr(resident_id_index, 1, $2) <> $1 OR substr(mobile, 1, $2) <> $1
                 OR substr(totp_secret, 1, $2) <> $1
                 ORDER BY id LIMIT $3",
            )
            .bind(&prefix)
            .bind(length)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// One staff account's sealed name under `key_id`, if any account has one (a sample for
    /// the start-up check that a configured key opens what it sealed; the accounts are few).
    pub async fn staff_name_sealed_by(&self, key_id: &str) -> Result<Option<String>, StoreError> {
        let prefix = format!("{key_id}:");
        let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        let row: Option<(String,)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT name FROM accounts WHERE substr(name, 1, $2) = $1 LIMIT 1")
                .bind(&prefix)
                .bind(length)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(name,)| name))
    }

    /// Writes accounts' fields re-sealed under the active key, each `(as read, re-sealed)`, in one
    /// transaction, audited. An account changed since it was read (a new phone, a re-enrolled
    /// authenticator) is left as it now is: its sealed values differ from those read, each
    /// sealing having its own nonce. Returns how many accounts were written.
    pub async fn reseal_staff(
        &self,
        accounts: &[(SealedStaff, SealedStaff)],
        actor: &str,
    ) -> Result<u64, StoreError> {
        let mut written = 0;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let mut ids = Vec::new();
            for (was, now) in accounts {
                let done = sqlx::query(
                    "UPDATE accounts SET name = $2, resident_id = $3, resident_id_index = $4, mobile = $5, totp_secret = $6
                     WHERE id = $1 AND name = $7 AND resident_id = $8 AND mobile = $9 AND totp_secret IS NOT DISTINCT FROM $10",
                )
                .bind(&now.id)
                .bind(&now.name)
                .bind(&now.resident_id)
                .bind(&now.resident_id_index)
                .bind(&now.mobile)
                .bind(&now.totp_secret)
                .bind(&was.name)
                .bind(&was.resident_id)
                .bind(&was.mobile)
                .bind(&was.totp_secret)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done > 0 {
                    ids.push(now.id.as_str());
                }
                written += done;
            }
            if !ids.is_empty() {
                audit!(tx, actor, "keys.reseal", "keys/accounts", serde_json::json!({ "accounts": ids }))?;
            }
            tx.commit().await?;
        });
        Ok(written)
    }

    /// Creates a pending account with its grants and one enrolment link. Refused when the id
    /// exists or another account has the same resident ID (any of its blind indexes).
    pub async fn create_account(
        &self,
        account: &AccountRow,
        resident_indexes: &[String],
        grants: &[GrantRequest],
        enrolment: (&str, DateTime<Utc>),
        actor: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM accounts WHERE id = $1")
                .bind(&account.id)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::AlreadyExists { what: "account", id: account.id.clone() });
            }
            for index in resident_indexes {
                let same: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM accounts WHERE resident_id_index = $1 AND status <> 'disabled'")
                        .bind(index)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some((other,)) = same {
                    return Err(StoreError::AlreadyExists {
                        what: "account for this resident ID",
                        id: other,
                    });
                }
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
            )))
            .bind(&account.id)
            .bind(&account.name)
            .bind(&account.name_masked)
            .bind(&account.resident_id)
            .bind(&account.resident_id_index)
            .bind(&account.resident_id_masked)
            .bind(&account.mobile)
            .bind(&account.mobile_masked)
            .bind(&account.agency)
            .bind(&account.region)
            .bind(&account.status)
            .bind(&account.password_hash)
            .bind(&account.totp_secret)
            .bind(account.totp_last_step)
            .bind(account.failed_sign_ins)
            .bind(account.locked_until)
            .bind(&account.created_by)
            .bind(account.created_at)
            .bind(account.updated_at)
            .execute(&mut *tx)
            .await?;
            for request in grants {
                GrantWrites::insert_grant(&mut *tx, &account.id, request, actor, account.created_at).await?;
            }
            sqlx::query(
                "INSERT INTO account_enrolments (token_hash, account_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(enrolment.0)
            .bind(&account.id)
            .bind(actor)
            .bind(account.created_at)
            .bind(enrolment.1)
            .execute(&mut *tx)
            .await?;
            let roles: Vec<String> = grants.iter().map(|g| format!("{}@{}", g.grant.role.name(), g.grant.scope)).collect();
            audit!(tx, actor, "account.create", &format!("account:{}", account.id), serde_json::json!({
                "name": account.name_masked, "agency": account.agency, "region": account.region, "grants": roles,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn account(&self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        self.row_by_key(sqlx::AssertSqlSafe(sql), id).await
    }

    /// Every account, by id.
    pub async fn list_accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id");
        Ok(on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?
        }))
    }

    /// An account's grants in force (or every grant ever, with `history`).
    pub async fn account_grants(&self, account: &str, history: bool) -> Result<Vec<GrantRecord>, StoreError> {
        let sql = if history {
            "SELECT * FROM account_grants WHERE account_id = $1 ORDER BY id"
        } else {
            "SELECT * FROM account_grants WHERE account_id = $1 AND revoked_at IS NULL ORDER BY id"
        };
        self.rows_by_key(sql, account).await
    }

    /// Records a grant of a role to an account.
    pub async fn add_grant(
        &self,
        account: &str,
        request: &GrantRequest,
        actor: &str,
    ) -> Result<i64, StoreError> {
        let now = Utc::now();
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let id = GrantWrites::insert_grant(&mut *tx, account, request, actor, now).await?;
            audit!(tx, actor, "account.grant", &format!("account:{account}"), serde_json::json!({
                "grant": id, "role": request.grant.role.name(), "scope": request.grant.scope.to_string(),
                "approved_by": request.approved_by, "reason": request.reason,
            }))?;
            tx.commit().await?;
            id
        }))
    }

    /// Revokes a grant in force; the record stays.
    pub async fn revoke_grant(
        &self,
        account: &str,
        grant: i64,
        actor: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let done = sqlx::query(
                "UPDATE account_grants SET revoked_by = $3, revoked_at = $4 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
            )
            .bind(grant)
            .bind(account)
            .bind(actor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "grant in force", id: format!("{account}/{grant}") });
            }
            audit!(tx, actor, "account.revoke_grant", &format!("account:{account}"), serde_json::json!({
                "grant": grant, "reason": reason,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Moves an account to `status` (the caller checked the move); suspending or disabling
    /// ends its sessions and revokes its tokens in the same transaction.
    pub async fn set_account_status(
        &self,
        account: &str,
        status: AccountStatus,
        actor: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query("UPDATE accounts SET status = $2, updated_at = $3 WHERE id = $1")
                .bind(account)
                .bind(status.name())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if status != AccountStatus::Active {
                for sql in END_SESSIONS_AND_TOKENS {
                    sqlx::query(sql).bind(account).bind(now).execute(&mut *tx).await?;
                }
            }
            audit!(tx, actor, &format!("account.{}", status.name()), &format!("account:{account}"), serde_json::json!({
                "reason": reason,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A new one-time enrolment link for an account: earlier unused links stop working, and the
    /// account goes back to pending with no credentials, sessions or tokens.
    pub async fn new_enrolment(
        &self,
        account: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            for sql in [
                "UPDATE account_enrolments SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
                END_SESSIONS_AND_TOKENS[0],
                END_SESSIONS_AND_TOKENS[1],
                "UPDATE accounts SET status = 'pending', password_hash = NULL, totp_secret = NULL, updated_at = $2 WHERE id = $1",
            ] {
                sqlx::query(sql).bind(account).bind(now).execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO account_enrolments (token_hash, account_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(account)
            .bind(actor)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "account.enrolment_link", &format!("account:{account}"), serde_json::json!({
                "expires_at": expires_at,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn enrolment(&self, token_hash: &str) -> Result<Option<EnrolmentRow>, StoreError> {
        self.row_by_key(
            "SELECT token_hash, account_id, expires_at, used_at FROM account_enrolments WHERE token_hash = $1",
            token_hash,
        )
        .await
    }

    /// Sets a pending account's password hash and sealed TOTP secret (the first enrolment step;
    /// the account stays pending until a code confirms the authenticator).
    pub async fn set_credentials(
        &self,
        account: &str,
        password_hash: &str,
        totp_secret: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query("UPDATE accounts SET password_hash = $2, totp_secret = $3, updated_at = $4 WHERE id = $1 AND status = 'pending'")
                .bind(account)
                .bind(password_hash)
                .bind(totp_secret)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            audit!(tx, account, "account.enrol_start", &format!("account:{account}"), serde_json::json!({}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Uses an enrolment link (once) and activates its account with the confirmed TOTP step.
    /// False when the link was used meanwhile.
    pub async fn complete_enrolment(
        &self,
        token_hash: &str,
        account: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let used = sqlx::query("UPDATE account_enrolments SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
                .bind(token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if used.rows_affected() == 1 {
                sqlx::query(
                    "UPDATE accounts SET status = 'active', totp_last_step = $2, failed_sign_ins = 0, locked_until = NULL, updated_at = $3 WHERE id = $1 AND status = 'pending'",
                )
                .bind(account)
                .bind(step)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                audit!(tx, account, "account.enrol", &format!("account:{account}"), serde_json::json!({"factors": ["password", "totp"]}))?;
                tx.commit().await?;
                true
            } else {
                false
            }
        }))
    }

    /// Counts a failed sign-in; from `threshold` failures on, the account is locked for a time
    /// that doubles with each further failure (`base` × 2^(failures − threshold), at most `cap`).
    pub async fn sign_in_failed(
        &self,
        account: &str,
        reason: &str,
        threshold: i64,
        base: chrono::TimeDelta,
        cap: chrono::TimeDelta,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let now = Utc::now();
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let row: Option<(i64,)> = sqlx::query_as("SELECT failed_sign_ins FROM accounts WHERE id = $1")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await?;
            let failures = row.map_or(0, |(n,)| n) + 1;
            let locked_until = (failures >= threshold).then(|| {
                let doublings = u32::try_from((failures - threshold).min(16)).unwrap_or(16);
                now + (base * 2i32.pow(doublings)).min(cap)
            });
            sqlx::query("UPDATE accounts SET failed_sign_ins = $2, locked_until = $3 WHERE id = $1")
                .bind(account)
                .bind(failures)
                .bind(locked_until)
                .execute(&mut *tx)
                .await?;
            audit!(tx, account, "auth.sign_in_failed", &format!("account:{account}"), serde_json::json!({
                "reason": reason, "failures": failures, "locked_until": locked_until,
            }))?;
            tx.commit().await?;
            locked_until
        }))
    }

    /// A successful sign-in with `factor` besides the password: takes the TOTP step when there
    /// is one (refused when that step or a later one was already used: a code works once),
    /// resets the failure count and opens the session, when there is one.
    pub async fn sign_in_succeeded(
        &self,
        account: &str,
        step: Option<i64>,
        factor: &str,
        session: Option<&SessionRow>,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let taken = sqlx::query(
                "UPDATE accounts SET totp_last_step = COALESCE($2, totp_last_step), failed_sign_ins = 0, locked_until = NULL
                 WHERE id = $1 AND ($2 IS NULL OR totp_last_step IS NULL OR totp_last_step < $2)",
            )
            .bind(account)
            .bind(step)
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(session) = session {
                sqlx::query(
                    "INSERT INTO account_sessions (id_hash, account_id, csrf_token, created_at, last_seen_at, expires_at, client_addr, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&session.id_hash)
                .bind(account)
                .bind(&session.csrf_token)
                .bind(session.created_at)
                .bind(session.last_seen_at)
                .bind(session.expires_at)
                .bind(&session.client_addr)
                .bind(&session.user_agent)
                .execute(&mut *tx)
                .await?;
            }
            // A sign-in without a session is the command line's, for a personal token.
            audit!(tx, account, "auth.sign_in", &format!("account:{account}"), serde_json::json!({
                "factors": ["password", factor],
                "session": session.map(|s| &s.id_hash[..12]),
                "expires_at": session.map(|s| s.expires_at),
            }))?;
            tx.commit().await?;
            true
        }))
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        self.row_by_key("SELECT * FROM account_sessions WHERE id_hash = $1", id_hash)
            .await
    }

    /// An account's sessions that have not ended, newest first.
    pub async fn account_sessions(
        &self,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRow>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT * FROM account_sessions WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC",
            )
            .bind(account)
            .bind(now)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Records activity on a session (for its idle timeout).
    pub async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE account_sessions SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends one session (`Some`) or every session of the account (`None`: sign out everywhere).
    pub async fn end_sessions(
        &self,
        account: &str,
        only: Option<&str>,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let now = Utc::now();
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let ended = sqlx::query(
                "UPDATE account_sessions SET revoked_at = $3 WHERE account_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id_hash = $2)",
            )
            .bind(account)
            .bind(only)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let action = if only.is_some() { "auth.sign_out" } else { "auth.sign_out_everywhere" };
            audit!(tx, actor, action, &format!("account:{account}"), serde_json::json!({"sessions": ended}))?;
            tx.commit().await?;
            ended
        }))
    }

    pub async fn create_token(&self, token: &TokenRow, actor: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query(
                "INSERT INTO account_tokens (id, account_id, secret_hash, name, roles, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&token.id)
            .bind(&token.account_id)
            .bind(&token.secret_hash)
            .bind(&token.name)
            .bind(&token.roles)
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "token.create", &format!("account:{}", token.account_id), serde_json::json!({
                "token": token.id, "name": token.name, "roles": token.roles, "expires_at": token.expires_at,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        self.row_by_key("SELECT * FROM account_tokens WHERE id = $1", id)
            .await
    }

    pub async fn account_tokens(&self, account: &str) -> Result<Vec<TokenRow>, StoreError> {
        self.rows_by_key(
            "SELECT * FROM account_tokens WHERE account_id = $1 ORDER BY created_at DESC",
            account,
        )
        .await
    }

    /// Records a token's use when the last one recorded is more than `TOKEN_USE_AUDIT_EVERY`
    /// ago: `last_used_at` and an audit event, so a busy script leaves a trail (its use every
    /// five minutes), neither a flood nor a write on every request.
    pub async fn token_used(&self, token: &TokenRow, now: DateTime<Utc>) -> Result<(), StoreError> {
        if token
            .last_used_at
            .is_some_and(|last| now - last <= TOKEN_USE_AUDIT_EVERY)
        {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query("UPDATE account_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(&token.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            audit!(tx, &token.account_id, "token.use", &format!("token:{}", token.id), serde_json::json!({}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Revokes one of the account's tokens.
    pub async fn revoke_token(&self, account: &str, id: &str, actor: &str) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let done = sqlx::query("UPDATE account_tokens SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL")
                .bind(id)
                .bind(account)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "token in force", id: id.to_owned() });
            }
            audit!(tx, actor, "token.revoke", &format!("account:{account}"), serde_json::json!({"token": id}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// An account's passkeys in force, oldest first.
    pub async fn passkeys(&self, account: &str) -> Result<Vec<PasskeyRow>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, account_id, name, passkey, created_at, last_used_at FROM account_passkeys WHERE account_id = $1 AND removed_at IS NULL ORDER BY created_at",
            )
            .bind(account)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn add_passkey(&self, row: &PasskeyRow, actor: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query(
                "INSERT INTO account_passkeys (id, account_id, name, passkey, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&row.id)
            .bind(&row.account_id)
            .bind(&row.name)
            .bind(&row.passkey)
            .bind(row.created_at)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "passkey.register", &format!("account:{}", row.account_id), serde_json::json!({
                "passkey": row.id, "name": row.name,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records a passkey's use and its updated counter.
    pub async fn passkey_used(&self, id: &str, passkey: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE account_passkeys SET passkey = $2, last_used_at = $3 WHERE id = $1")
                .bind(id)
                .bind(passkey)
                .bind(Utc::now())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn remove_passkey(&self, account: &str, id: &str, actor: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let done = sqlx::query(
                "UPDATE account_passkeys SET removed_at = $3 WHERE id = $1 AND account_id = $2 AND removed_at IS NULL",
            )
            .bind(id)
            .bind(account)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "passkey", id: id.to_owned() });
            }
            audit!(tx, actor, "passkey.remove", &format!("account:{account}"), serde_json::json!({"passkey": id}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn open_challenge(&self, row: &ChallengeRow) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO account_challenges (id, account_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&row.id)
            .bind(&row.account_id)
            .bind(&row.kind)
            .bind(&row.state)
            .bind(row.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Uses up a ceremony that has not expired: once, across nodes (a conditional delete).
    pub async fn take_challenge(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ChallengeRow>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "DELETE FROM account_challenges WHERE id = $1 AND expires_at > $2 RETURNING id, account_id, kind, state, expires_at",
            )
            .bind(id)
            .bind(now)
            .fetch_optional(pool)
            .await?
        }))
    }
}
