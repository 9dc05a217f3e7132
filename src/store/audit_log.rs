//! The audit log (Art. 21, 32): one hash chain of events, each appended inside the transaction of
//! the change it records (`AuditLog::append_audit`), with the request context of the task that
//! wrote it (`with_audit_context`); listing, verification, the legacy pass on open, and pruning
//! of events older than the retention period behind an anchor.
//!
//! An event's hash is SHA-256 over length-prefixed fields (`link_hash`): the predecessor's hash,
//! then seq, at (UTC microseconds), actor, action, target, detail (canonical JSON: keys sorted,
//! no spaces), role, scope, client_addr, user_agent and request_id. The first event's predecessor
//! is `GENESIS`, or the anchor left by a prune.

use std::future::Future;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::{PgConnection, SqliteConnection};

use super::{Backend, Store, StoreError, on_pool};

/// How long an event must be kept before it may be pruned, in days (Art. 21: at least one year).
pub const RETENTION_DAYS: i64 = 366;
/// The most events one listing returns.
pub const MAX_LIMIT: u32 = 1000;
/// Events one listing returns when the caller names no limit.
pub const DEFAULT_LIMIT: u32 = 100;
/// The predecessor hash of the first event of a chain never pruned.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Events read, chained or deleted per statement by verification, the legacy pass and pruning.
const BATCH: i64 = 1000;

/// A link of the chain: an event's (or the anchor's) sequence number and hash.
#[derive(sqlx::FromRow)]
struct Link {
    seq: i64,
    hash: String,
}

/// Where an appended event went: its row id and its place in the chain.
#[derive(sqlx::FromRow)]
pub(crate) struct Inserted {
    id: i64,
    seq: i64,
}

/// The PostgreSQL advisory-lock key that serialises chain writers ("rongheAU").
const CHAIN_LOCK_KEY: i64 = 0x726f_6e67_6865_4155;

/// Who asked, for the audit log: set per request by the server's middleware, NULL elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditContext {
    /// The role the actor acted in.
    pub role: Option<String>,
    /// The scope of that role (a system, a department), when it has one.
    pub scope: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// The client's User-Agent.
    pub user_agent: Option<String>,
    /// The request's id, as logged.
    pub request_id: Option<String>,
}

tokio::task_local! {
    static CONTEXT: AuditContext;
}

/// Runs `fut` with `context` recorded on every audit event it appends. The context belongs to the
/// task: work spawned onto other tasks does not carry it.
pub async fn with_audit_context<F: Future>(context: AuditContext, fut: F) -> F::Output {
    CONTEXT.scope(context, fut).await
}

/// The context of the running task, or none.
fn current_context() -> AuditContext {
    CONTEXT.try_with(AuditContext::clone).unwrap_or_default()
}

/// One event of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    /// Position in the chain: consecutive from 1 (or from the anchor after a prune).
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: Value,
    pub context: AuditContext,
    /// The predecessor's hash (hex SHA-256).
    pub prev_hash: String,
    /// This event's hash (hex SHA-256).
    pub hash: String,
}

/// Which events `Store::audit_events` returns: all given conditions hold. Events come oldest
/// first, by seq; page with `after_seq` set to the last seq seen.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Targets that start with this text.
    pub target_prefix: Option<String>,
    /// At or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only events after this seq.
    pub after_seq: Option<i64>,
    /// At most this many (default `DEFAULT_LIMIT`, at most `MAX_LIMIT`).
    pub limit: Option<u32>,
}

/// The end of a range a person wrote: RFC 3339 (or a form `parse_timestamp` takes, +08:00 when no
/// offset), or a date, which is the start of that Beijing day (`Edge::Start`) or of the next one
/// (`Edge::End`, so that `--until 2026-01-31` includes the 31st).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Start,
    End,
}

/// Parses the end of a range; the message says which forms are accepted.
pub fn parse_instant(text: &str, edge: Edge) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = text.trim().parse::<NaiveDate>() {
        let day = match edge {
            Edge::Start => date,
            Edge::End => date
                .succ_opt()
                .ok_or_else(|| format!("{text:?} is the last date there is"))?,
        };
        let beijing = crate::calendar::beijing_time(&Utc::now()).timezone();
        return day
            .and_hms_opt(0, 0, 0)
            .and_then(|midnight| midnight.and_local_timezone(beijing).single())
            .map(|at| at.with_timezone(&Utc))
            .ok_or_else(|| format!("{text:?} has no midnight in Beijing time"));
    }
    crate::validate::parse_timestamp(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!("{text:?} is neither RFC 3339 (2026-01-31T08:00:00+08:00) nor a date (2026-01-31)")
        })
}

/// What a break in the chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The event's hash does not match its content: it was edited.
    PayloadAltered,
    /// A seq is absent: an event was deleted.
    Missing,
    /// The chain's order differs from the order the events were written in: rows were swapped.
    OutOfOrder,
    /// The event does not name its predecessor's hash: rows were reordered or replaced.
    LinkBroken,
    /// The event was never chained.
    Unchained,
}

/// The first break verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    pub kind: BreakKind,
    /// The seq at which the chain breaks (for `missing`, the absent one).
    pub seq: Option<i64>,
    /// The row at the break (for `missing`, the row found in the absent one's place).
    pub id: i64,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (id, seq) = (self.id, self.seq.unwrap_or_default());
        match self.kind {
            BreakKind::PayloadAltered => write!(
                f,
                "第 {seq} 条事件内容被篡改 payload altered: event seq {seq} (id {id}) does not match its hash"
            ),
            BreakKind::Missing => write!(
                f,
                "缺少第 {seq} 条事件 missing: seq {seq} is absent (a deleted event), found id {id} in its place"
            ),
            BreakKind::OutOfOrder => write!(
                f,
                "第 {seq} 条事件顺序错乱 out of order: event seq {seq} (id {id}) was written before its predecessor"
            ),
            BreakKind::LinkBroken => write!(
                f,
                "第 {seq} 条事件链接断开 link broken: event seq {seq} (id {id}) does not carry its predecessor's hash"
            ),
            BreakKind::Unchained => write!(
                f,
                "事件 id {id} 未入链 unchained: event id {id} has no place in the chain"
            ),
        }
    }
}

/// A prune: how many events went, which seqs, and the bound asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub events: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub before: DateTime<Utc>,
}

/// Errors of verifying and pruning the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("审计日志被篡改 audit chain broken: {0}")]
    Broken(ChainBreak),
    #[error(
        "拒绝清理 refused: events before {before} may not be pruned yet; audit events are kept at least {RETENTION_DAYS} days (Art. 21), so the latest allowed bound is {latest_allowed}"
    )]
    TooRecent {
        before: DateTime<Utc>,
        latest_allowed: DateTime<Utc>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AuditError {
    fn from(err: sqlx::Error) -> AuditError {
        AuditError::Store(err.into())
    }
}

/// What an event's hash covers besides its predecessor's hash.
struct Content<'a> {
    seq: i64,
    at: DateTime<Utc>,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    detail: &'a Value,
    context: &'a AuditContext,
}

/// The hash of an event after `prev_hash`: SHA-256 over each field as a tag byte (0 absent,
/// 1 present), then for present ones its length (8 bytes, big-endian) and bytes. seq and at are
/// 8-byte big-endian integers (at in microseconds since the Unix epoch).
fn link_hash(prev_hash: &str, content: &Content<'_>) -> String {
    fn field(hasher: &mut Sha256, value: Option<&[u8]>) {
        match value {
            None => hasher.update([0u8]),
            Some(bytes) => {
                hasher.update([1u8]);
                hasher.update((bytes.len() as u64).to_be_bytes());
                hasher.update(bytes);
            }
        }
    }
    let mut hasher = Sha256::new();
    let context = content.context;
    let detail = canonical_json(content.detail);
    for value in [
        Some(prev_hash.as_bytes()),
        Some(&content.seq.to_be_bytes()[..]),
        Some(&content.at.timestamp_micros().to_be_bytes()[..]),
        Some(content.actor.as_bytes()),
        Some(content.action.as_bytes()),
        Some(content.target.as_bytes()),
        Some(detail.as_bytes()),
        context.role.as_deref().map(str::as_bytes),
        context.scope.as_deref().map(str::as_bytes),
        context.client_addr.as_deref().map(str::as_bytes),
        context.user_agent.as_deref().map(str::as_bytes),
        context.request_id.as_deref().map(str::as_bytes),
    ] {
        field(&mut hasher, value);
    }
    hex::encode(hasher.finalize())
}

/// JSON with object keys sorted and no insignificant space, so that a detail hashes the same
/// however a backend stores it (PostgreSQL's JSONB reorders keys).
fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(item, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The statement a range export signs: the range and the hash of its last event, which commits
/// to every event before it.
pub fn export_statement(first_seq: i64, last_seq: i64, last_hash: &str) -> String {
    format!("ronghe audit export v1\nfirst_seq={first_seq}\nlast_seq={last_seq}\nlast_hash={last_hash}\n")
}

/// A row of `audit_events`, chained or not.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    seq: Option<i64>,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    detail: Json<Value>,
    prev_hash: Option<String>,
    hash: Option<String>,
    role: Option<String>,
    scope: Option<String>,
    client_addr: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

const COLUMNS: &str = "id, seq, at, actor, action, target, detail, prev_hash, hash, role, scope, client_addr, user_agent, request_id";

/// The hash an append chains to: the latest sealed event before `$1`, by the seq index (public
/// for the plan tests).
#[doc(hidden)]
pub const HASH_BEFORE: &str =
    "SELECT hash FROM audit_events WHERE seq < $1 AND hash IS NOT NULL ORDER BY seq DESC LIMIT 1";

/// The listing of `audit_events(filter)`: `$1` actor, `$2` action, `$3` target prefix, `$4`
/// since, `$5` until, `$6` after seq, `$7` the limit; in seq order (public for the plan tests).
#[doc(hidden)]
pub fn audit_events_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM audit_events
         WHERE seq IS NOT NULL
           AND ($1 IS NULL OR actor = $1)
           AND ($2 IS NULL OR action = $2)
           AND ($3 IS NULL OR substr(target, 1, length($3)) = $3)
           AND ($4 IS NULL OR at >= $4)
           AND ($5 IS NULL OR at < $5)
           AND ($6 IS NULL OR seq > $6)
         ORDER BY seq LIMIT $7"
    )
}

impl Row {
    fn context(&self) -> AuditContext {
        AuditContext {
            role: self.role.clone(),
            scope: self.scope.clone(),
            client_addr: self.client_addr.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// The hash this row's content gives at `seq` after `prev_hash`.
    fn hash_at(&self, seq: i64, prev_hash: &str) -> String {
        let context = self.context();
        link_hash(
            prev_hash,
            &Content {
                seq,
                at: self.at,
                actor: &self.actor,
                action: &self.action,
                target: &self.target,
                detail: &self.detail.0,
                context: &context,
            },
        )
    }

    /// The first break at this row, which should be at `seq` after `prev` (id and hash).
    fn check(&self, seq: i64, prev: (Option<i64>, &str)) -> Option<ChainBreak> {
        let at = |kind, seq| {
            Some(ChainBreak {
                kind,
                seq: Some(seq),
                id: self.id,
            })
        };
        let (Some(found), Some(hash), Some(prev_hash)) = (self.seq, &self.hash, &self.prev_hash) else {
            return at(BreakKind::Unchained, seq);
        };
        if found > seq {
            return at(BreakKind::Missing, seq);
        }
        if found < seq || prev.0.is_some_and(|prev_id| prev_id >= self.id) {
            return at(BreakKind::OutOfOrder, found);
        }
        if self.hash_at(found, prev_hash) != *hash {
            return at(BreakKind::PayloadAltered, found);
        }
        if prev_hash != prev.1 {
            return at(BreakKind::LinkBroken, found);
        }
        None
    }

    fn into_event(self) -> Option<AuditEvent> {
        let context = self.context();
        Some(AuditEvent {
            id: self.id,
            seq: self.seq?,
            at: self.at,
            actor: self.actor,
            action: self.action,
            target: self.target,
            detail: self.detail.0,
            context,
            prev_hash: self.prev_hash?,
            hash: self.hash?,
        })
    }
}

impl Backend {
    /// The statement that serialises chain writers until the transaction ends. SQLite needs none:
    /// an append inserts first, which takes the database's write lock before it reads the
    /// predecessor.
    fn chain_lock(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("SELECT pg_advisory_xact_lock($1)"),
        }
    }
}

/// Appending to the audit chain on a connection inside the caller's transaction. The backends
/// differ only in the statements stamped out below; the chaining is `append_audit`'s.
pub(crate) trait AuditLog {
    const BACKEND: Backend;

    /// Waits until no other transaction appends to the chain (until this one ends).
    async fn lock_chain(&mut self) -> Result<(), sqlx::Error>;

    /// Inserts an event at the next seq, unsealed; answers where it went.
    async fn insert_event(
        &mut self,
        at: DateTime<Utc>,
        names: [&str; 3],
        detail: &Value,
        context: &AuditContext,
    ) -> Result<Inserted, sqlx::Error>;

    /// The hash of the event before `seq`: the chain's, the anchor's, or `GENESIS`.
    async fn hash_before(&mut self, seq: i64) -> Result<String, sqlx::Error>;

    /// Sets an event's place in the chain.
    async fn seal(&mut self, id: i64, seq: i64, prev_hash: &str, hash: &str) -> Result<(), sqlx::Error>;

    /// Appends an event (who did what to which target) at the end of the chain, with the task's
    /// `AuditContext`; answers its seq.
    async fn append_audit(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        detail: impl Serialize,
    ) -> Result<i64, StoreError> {
        let detail = serde_json::to_value(detail).map_err(|e| StoreError::Corrupt {
            what: "audit detail",
            detail: e.to_string(),
        })?;
        let context = current_context();
        let at = crate::systems::stamp(Utc::now());
        self.lock_chain().await?;
        let Inserted { id, seq } = self
            .insert_event(at, [actor, action, target], &detail, &context)
            .await?;
        let prev_hash = self.hash_before(seq).await?;
        let content = Content {
            seq,
            at,
            actor,
            action,
            target,
            detail: &detail,
            context: &context,
        };
        self.seal(id, seq, &prev_hash, &link_hash(&prev_hash, &content))
            .await?;
        Ok(seq)
    }
}

/// Stamps out `AuditLog`'s statements for a backend's connection (no logic: one statement each).
macro_rules! audit_statements {
    ($conn:ty, $backend:expr) => {
        impl AuditLog for $conn {
            const BACKEND: Backend = $backend;

            async fn lock_chain(&mut self) -> Result<(), sqlx::Error> {
                if let Some(sql) = Self::BACKEND.chain_lock() {
                    sqlx::query(sql).bind(CHAIN_LOCK_KEY).execute(&mut *self).await?;
                }
                Ok(())
            }

            async fn insert_event(
                &mut self,
                at: DateTime<Utc>,
                [actor, action, target]: [&str; 3],
                detail: &Value,
                context: &AuditContext,
            ) -> Result<Inserted, sqlx::Error> {
                sqlx::query_as(
                    "INSERT INTO audit_events
                         (seq, at, actor, action, target, detail, role, scope, client_addr, user_agent, request_id)
                     VALUES ((SELECT COALESCE(MAX(seq), (SELECT seq FROM audit_anchor WHERE id = 1), 0) + 1 FROM audit_events),
                             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     RETURNING id, seq",
                )
                .bind(at)
                .bind(actor)
                .bind(action)
                .bind(target)
                .bind(Json(detail))
                .bind(&context.role)
                .bind(&context.scope)
                .bind(&context.client_addr)
                .bind(&context.user_agent)
                .bind(&context.request_id)
                .fetch_one(&mut *self)
                .await
            }

            async fn hash_before(&mut self, seq: i64) -> Result<String, sqlx::Error> {
                let chained: Option<(String,)> = sqlx::query_as(HASH_BEFORE)
                .bind(seq)
                .fetch_optional(&mut *self)
                .await?;
                if let Some((hash,)) = chained {
                    return Ok(hash);
                }
                let anchor: Option<(String,)> =
                    sqlx::query_as("SELECT hash FROM audit_anchor WHERE id = 1 AND seq < $1")
                        .bind(seq)
                        .fetch_optional(&mut *self)
                        .await?;
                Ok(anchor.map_or_else(|| GENESIS.to_owned(), |(hash,)| hash))
            }

            async fn seal(&mut self, id: i64, seq: i64, prev_hash: &str, hash: &str) -> Result<(), sqlx::Error> {
                sqlx::query("UPDATE audit_events SET seq = $2, prev_hash = $3, hash = $4 WHERE id = $1")
                    .bind(id)
                    .bind(seq)
                    .bind(prev_hash)
                    .bind(hash)
                    .execute(&mut *self)
                    .await
                    .map(|_| ())
            }
        }
    };
}
audit_statements!(SqliteConnection, Backend::Sqlite);
audit_statements!(PgConnection, Backend::Postgres);

impl Store {
    /// Records an event that is not part of a change, such as a read of applicants' personal data.
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: Value,
    ) -> Result<(), StoreError> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            tx.append_audit(actor, action, target, detail).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Chains the events an older build wrote (no hash), in id order after the chain's end. Runs
    /// on open; does nothing when every event is chained; safe with several nodes (the chain lock).
    pub(super) async fn chain_legacy_audit(&self) -> Result<u64, StoreError> {
        let backend = self.backend();
        let chained = on_pool!(self, pool => {
            let waiting: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM audit_events WHERE hash IS NULL LIMIT 1").fetch_optional(pool).await?;
            if waiting.is_none() {
                return Ok(0);
            }
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            tx.lock_chain().await?;
            let last: (Option<i64>,) = sqlx::query_as(
                "SELECT COALESCE(MAX(seq), (SELECT seq FROM audit_anchor WHERE id = 1), 0) FROM audit_events",
            )
            .fetch_one(&mut *tx)
            .await?;
            let mut seq = last.0.unwrap_or(0);
            let mut prev_hash = tx.hash_before(seq + 1).await?;
            let mut chained = 0u64;
            let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE hash IS NULL ORDER BY id LIMIT {BATCH}");
            loop {
                let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(&mut *tx).await?;
                if rows.is_empty() {
                    break;
                }
                for row in rows {
                    seq += 1;
                    let hash = row.hash_at(seq, &prev_hash);
                    tx.seal(row.id, seq, &prev_hash, &hash).await?;
                    prev_hash = hash;
                    chained += 1;
                }
            }
            tx.commit().await?;
            chained
        });
        tracing::info!(events = chained, "chained the audit events of an older store");
        Ok(chained)
    }

    /// The chained events `filter` selects, oldest first by seq.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let sql = sqlx::AssertSqlSafe(audit_events_sql());
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(&filter.actor)
                .bind(&filter.action)
                .bind(&filter.target_prefix)
                .bind(filter.since)
                .bind(filter.until)
                .bind(filter.after_seq)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().filter_map(Row::into_event).collect())
    }

    /// Walks the chain from its anchor: `Ok` with the number of events when every event matches
    /// its hash, follows its predecessor and no seq is missing; otherwise the first break.
    pub async fn verify_audit_chain(&self) -> Result<u64, AuditError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE seq IS NOT NULL AND seq > $1 ORDER BY seq LIMIT {BATCH}"
        );
        on_pool!(self, pool => {
            let anchor: Option<Link> =
                sqlx::query_as("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetch_optional(pool).await?;
            let Link { mut seq, hash: mut prev_hash } =
                anchor.unwrap_or(Link { seq: 0, hash: GENESIS.to_owned() });
            let mut prev_id = None;
            let mut after = i64::MIN;
            let mut count = 0u64;
            loop {
                let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(after).fetch_all(pool).await?;
                let Some(last) = rows.last() else { break };
                after = last.seq.unwrap_or(i64::MAX);
                for row in rows {
                    if let Some(broken) = row.check(seq + 1, (prev_id, &prev_hash)) {
                        return Err(AuditError::Broken(broken));
                    }
                    seq += 1;
                    prev_id = Some(row.id);
                    prev_hash = row.hash.unwrap_or_default();
                    count += 1;
                }
            }
            let unchained: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM audit_events WHERE seq IS NULL OR hash IS NULL ORDER BY id LIMIT 1")
                    .fetch_optional(pool)
                    .await?;
            if let Some((id,)) = unchained {
                return Err(AuditError::Broken(ChainBreak { kind: BreakKind::Unchained, seq: None, id }));
            }
            Ok(count)
        })
    }

    /// Deletes the chain's prefix of events older than `before`, in batches, each recording the
    /// anchor; refused when `before` is later than `now` minus `RETENTION_DAYS`. Leaves an
    /// `audit.prune` event.
    pub async fn prune_audit(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Pruned, AuditError> {
        let latest_allowed = now - Duration::days(RETENTION_DAYS);
        if before > latest_allowed {
            return Err(AuditError::TooRecent {
                before,
                latest_allowed,
            });
        }
        let backend = self.backend();
        let mut pruned = Pruned {
            events: 0,
            first_seq: None,
            last_seq: None,
            before,
        };
        loop {
            let batch: Option<(i64, i64, u64)> = on_pool!(self, pool => {
                let mut tx = pool.begin_with(backend.begin_write()).await?;
                tx.lock_chain().await?;
                let rows: Vec<Link> = sqlx::query_as(
                    "SELECT seq, hash FROM audit_events
                     WHERE seq IS NOT NULL AND hash IS NOT NULL
                       AND seq < COALESCE((SELECT MIN(seq) FROM audit_events WHERE at >= $1), 9223372036854775807)
                     ORDER BY seq LIMIT $2",
                )
                .bind(before)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?;
                match (rows.first(), rows.last()) {
                    (Some(Link { seq: first, .. }), Some(Link { seq: last, hash })) => {
                        let deleted = sqlx::query("DELETE FROM audit_events WHERE seq >= $1 AND seq <= $2")
                            .bind(first)
                            .bind(last)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        sqlx::query(
                            "INSERT INTO audit_anchor (id, seq, hash, pruned_at) VALUES (1, $1, $2, $3)
                             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, pruned_at = excluded.pruned_at",
                        )
                        .bind(last)
                        .bind(hash)
                        .bind(crate::systems::stamp(now))
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        Some((*first, *last, deleted))
                    }
                    _ => None,
                }
            });
            let Some((first, last, deleted)) = batch else {
                break;
            };
            pruned.first_seq.get_or_insert(first);
            pruned.last_seq = Some(last);
            pruned.events += deleted;
            tracing::info!(
                first_seq = first,
                last_seq = last,
                events = deleted,
                "pruned a batch of audit events"
            );
        }
        let detail = serde_json::json!({
            "events": pruned.events, "first_seq": pruned.first_seq, "last_seq": pruned.last_seq,
            "before": before, "retention_days": RETENTION_DAYS,
        });
        self.record_audit(actor, "audit.prune", "audit", detail).await?;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content<'a>(detail: &'a Value, context: &'a AuditContext) -> Content<'a> {
        Content {
            seq: 1,
            at: DateTime::from_timestamp_micros(1_767_225_600_000_001).unwrap_or_default(),
            actor: "alice",
            action: "system.register",
            target: "gy-a",
            detail,
            context,
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let value = serde_json::json!({ "b": [ { "z": 1, "a": "x" } ], "a": null });
        assert_eq!(canonical_json(&value), r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }

    #[test]
    fn every_field_and_its_boundaries_change_the_hash() {
        let (detail, context) = (serde_json::json!({ "k": 1 }), AuditContext::default());
        let base = link_hash(GENESIS, &content(&detail, &context));
        // Moving a character from one field to the next must not give the same bytes.
        let shifted = Content {
            actor: "alic",
            action: "esystem.register",
            ..content(&detail, &context)
        };
        assert_ne!(base, link_hash(GENESIS, &shifted));
        // An empty context field is not an absent one.
        let empty = AuditContext {
            role: Some(String::new()),
            ..AuditContext::default()
        };
        assert_ne!(base, link_hash(GENESIS, &content(&detail, &empty)));
        assert_ne!(base, link_hash(&"1".repeat(64), &content(&detail, &context)));
        let later = Content {
            seq: 2,
            ..content(&detail, &context)
        };
        assert_ne!(base, link_hash(GENESIS, &later));
        assert_eq!(base, link_hash(GENESIS, &content(&detail, &context)));
    }

    #[test]
    fn dates_are_beijing_days() {
        let start = parse_instant("2026-01-31", Edge::Start).unwrap();
        let end = parse_instant("2026-01-31", Edge::End).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-01-30T16:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-01-31T16:00:00+00:00");
        let at = parse_instant("2026-01-31T08:00:00Z", Edge::End).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-01-31T08:00:00+00:00");
        assert!(parse_instant("yesterday", Edge::Start).is_err());
    }
}
