//! The platform store: SQLite (a WAL file, the embedded default) or PostgreSQL, chosen by URL.
//! Nothing outside this module writes SQL. Both backends run the same statements (SQLite accepts
//! PostgreSQL's `$n` placeholders); the few differences (locking, column types) are confined to
//! `Backend` and the per-backend migrations.

mod accounts;
mod adapters;
mod assessments;
pub mod audit_log;
#[cfg(feature = "devtools")]
mod baseline;
mod bridge;
mod case_writes;
mod cases;
mod checkpoint;
mod checks;
mod corrections;
mod explain;
mod handoffs;
mod housekeeping;
mod intake;
mod lease;
mod migration;
mod notices;
mod orgs;
mod outbox;
mod owners;
mod plans;
mod pull;
mod quality;
mod queue;
mod rules;
mod scheduler;
mod sealing;
mod systems;
mod visits;
mod writeback;

pub use self::accounts::{
    AccountRow, ChallengeRow, EnrolmentRow, GrantRecord, GrantRequest, PasskeyRow, SealedStaff, SessionRow,
    TokenRow,
};
pub use self::adapters::{ProbedRecords, StoredProfile};
pub use self::assessments::{LatestVerdict, RubricRecord};
pub use self::bridge::{
    AccountWrite, AutoLink, ConflictReason, ConflictRow, LinkRow, NewLink, NewToken, ProofLink,
    SealedAccount, SealedIdentity, TokenUse, UnresolvedRow, random_id,
};
pub use self::checkpoint::{CHECKPOINT_EVERY, WRITER_CHECKPOINT_PAGES};
pub use self::checks::{NewCheck, SystemCheck};
pub use self::corrections::CorrectionFilter;
pub use self::explain::{Fill, PlanArg};
pub use self::housekeeping::{Purge, purge_sql};
pub use self::migration::{
    ChunkCounts, ChunkRecord, HeldCounts, Holder, MigrationRun, NewChunk, NewRun, RunFinish, RunState,
};
pub use self::orgs::Imported;
pub use self::pull::PullState;
pub use self::scheduler::{
    JobRun, Level, NewNotification, Notification, SCHEDULER_ACTOR, StoredReconciliation,
};
use self::sealing::Sealing;
pub use self::sealing::{ResealPage, RowKey, SealError, SealedCount, SealedTable, Sealer};
pub use audit_log::{
    AuditContext, AuditError, AuditEvent, AuditFilter, BreakKind, ChainBreak, Pruned, with_audit_context,
};
pub use cases::{
    CASE_HISTORY, CASES_CHANGED_ON, CaseRecord, CaseVersion, CurrentCase, GET_CASE, RejectReason,
    StoredVersion, UpsertOutcome,
};
pub use handoffs::{AttemptOutcome, CaseStage, ClaimedHandoff, Enqueued, Handoff, HandoffState};
pub use intake::{IntakeCommit, IntakeWrite, OnReject};
pub use outbox::{
    Claimed, OutboxItem, OutboxState, OutboxStatus, Replay, Settlement, claim_lease_sql, claim_setup,
    claim_sql, enqueued, move_heads_sql, open_cases_sql, outbox_status_sql, settle_sql,
};
pub use owners::{OwnedCase, cases_of_applicant_sql};
pub use quality::{
    DismissError, NewQualityItem, QualityItem, QualityReason, QualityStatus, QualitySummary, list_quality_sql,
};
pub use writeback::{NONCE_RETENTION_SECONDS, take_nonce_sql};

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Errors of the store, with the context a caller needs to answer a person.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{what} {id:?} already exists")]
    AlreadyExists { what: &'static str, id: String },
    #[error("system {0:?} is retired; it takes no more cases")]
    Retired(String),
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// A personal value could not be sealed or opened (no keys, an unknown or wrong key).
    #[error("{0}")]
    Sealing(String),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// What a store call that applies a domain rule inside its transaction ends in when it does
/// not succeed: the rule's refusal (`E`, the domain's own error) or the store's failure. The
/// domain's errors know nothing of the store, and the store's error carries no domain error.
#[derive(Debug, thiserror::Error)]
pub enum Guarded<E: std::error::Error + 'static> {
    #[error(transparent)]
    Refused(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E: std::error::Error + 'static> From<sqlx::Error> for Guarded<E> {
    fn from(err: sqlx::Error) -> Guarded<E> {
        Guarded::Store(err.into())
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `query` with each of `keys` bound after what it binds already, in order: the values of a
/// `placeholders`, `value_rows` or `rows_of_cases_sql` list.
pub(crate) fn bind_keys<'q, DB, O>(
    query: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments>,
    keys: &[&'q str],
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    keys.iter().fold(query, |query, key| query.bind(*key))
}

/// The one `IN`-list builder: `$first, $first+1, …` for `count` bound values.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The same values as rows of a `VALUES` list, `($first), ($first+1), …`: a key list to join or
/// probe one key at a time (its single column is `column1` on both backends).
pub(crate) fn value_rows(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("(${n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of `table` (alias `t`; `columns` qualified by it) for system `$1` and each of
/// `count` case numbers (`$2`, …): one index probe per case on both backends, whatever the
/// planner's statistics say. As a plain `case_no IN (…)`, PostgreSQL with statistics taken before
/// the system had rows reads every row of the system and filters it (1.04 s per batch of 500 at
/// 100,000 versions, against 12 ms); SQLite keeps no statistics and probes the key for `IN`.
#[doc(hidden)]
pub fn rows_of_cases_sql(backend: Backend, table: &str, columns: &str, count: usize) -> String {
    match backend {
        Backend::Sqlite => format!(
            "SELECT {columns} FROM {table} t WHERE t.system_id = $1 AND t.case_no IN ({})",
            placeholders(2, count)
        ),
        // `OFFSET 0` keeps the lateral subquery from being flattened into a join the planner
        // may then hash over the whole system.
        Backend::Postgres => format!(
            "SELECT {columns} FROM (VALUES {}) AS k
             CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE t.system_id = $1 AND t.case_no = k.column1 OFFSET 0) t",
            value_rows(2, count)
        ),
    }
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The statement that opens a transaction which will write. On SQLite it takes the write
    /// lock at once, so that a transaction that reads first cannot fail to upgrade later.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// The clause that locks the rows a `SELECT` in a write transaction reads. SQLite needs none:
    /// `begin_write` already holds the database's write lock.
    pub(crate) fn row_lock(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// The database's clock, as the backend stores timestamps (SQLite: RFC 3339 text with
    /// `+00:00`, which sorts as the instants do). Leases and due times compare against it, never
    /// against a node's clock, so skew between nodes cannot hand one item to two (issue 22).
    pub(crate) fn now(self) -> &'static str {
        match self {
            Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')",
            Backend::Postgres => "now()",
        }
    }

    /// The instant `instant` plus `seconds` (SQL expressions), as the backend stores timestamps.
    pub(crate) fn plus_seconds(self, instant: &str, seconds: &str) -> String {
        match self {
            Backend::Sqlite => {
                format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', {instant}, {seconds} || ' seconds')")
            }
            Backend::Postgres => format!("({instant} + make_interval(secs => {seconds}))"),
        }
    }

    /// The clause that locks the rows a claim reads and passes over rows another transaction has
    /// locked, so that several nodes claim disjoint rows without waiting on each other. SQLite
    /// needs none: `begin_write` already serialises claims.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The platform store: a connection pool, how personal values are sealed in it, and how many
/// times this process changed the settings a push reads.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    sealing: Sealing,
    /// Raised by every write, through this store or a clone of it, to what the intake reads per
    /// request (systems, their attached documents, published rules): the intake's per-node
    /// cache of them keys on it (`intake::Recent`), so this node sees its own changes at once.
    settings_revision: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// A SQLite file's log checkpointer (`checkpoint`), stopped with the last clone.
    checkpointer: Option<std::sync::Arc<checkpoint::Checkpointer>>,
}

/// A connection pool to one backend.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool; the body is compiled once per backend.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Store {
    /// Opens the store at `url` and brings its schema up to date.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let store = Store::connect(url, options).await?;
        store.migrate().await?;
        store.chain_legacy_audit().await?;
        Ok(store)
    }

    async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            // FULL, not NORMAL: a case acknowledged to a legacy system must survive power loss.
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                // A re-sealed or purged row leaves no clear copy in the file's free space.
                .pragma("secure_delete", "ON")
                .pragma(
                    "wal_autocheckpoint",
                    checkpoint::WRITER_CHECKPOINT_PAGES.to_string(),
                )
                .busy_timeout(Duration::from_secs(30));
            // A file's connection does not go stale as a socket does: no ping before each use
            // (one round trip to the connection's thread fewer per statement).
            let pool = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            Ok(Store {
                checkpointer: checkpoint::Checkpointer::start(&connect).map(std::sync::Arc::new),
                ..Store::on(Pool::Sqlite(pool))
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect(url)
                .await?;
            Ok(Store::on(Pool::Postgres(pool)))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    fn on(pool: Pool) -> Store {
        Store {
            pool,
            sealing: Sealing::default(),
            settings_revision: std::sync::Arc::default(),
            checkpointer: None,
        }
    }

    /// How many times this process changed the settings a push reads (`Store::settings_revision`
    /// field): a systems row, an attached document, a published rule.
    pub fn settings_revision(&self) -> u64 {
        self.settings_revision.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks a committed change to the settings a push reads.
    fn settings_changed(&self) {
        self.settings_revision
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The same store, sealing personal values with `sealer` from now on (issue 20): what it
    /// writes is sealed under the sealer's active key, and what it reads is opened.
    pub fn sealed_with(self, sealer: std::sync::Arc<dyn Sealer>) -> Store {
        Store {
            sealing: Sealing::with(sealer),
            ..self
        }
    }

    /// The connection pool (for tests that read the raw tables).
    #[doc(hidden)]
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database's clock. Every lease, due time and claim compares against it (issue 22):
    /// in SQL through [`Backend::now`] where a statement can say it, else through this reading,
    /// so that skew between nodes' clocks never hands one item to two nodes.
    pub async fn clock(&self) -> Result<DateTime<Utc>, StoreError> {
        Ok(on_pool!(self, pool => queue::JobQueue::clock(&mut *pool.acquire().await?).await?))
    }

    /// Answers whether the database takes a query now (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// After a re-seal, leaves no earlier page image of the rows in the store's files: SQLite's
    /// write-ahead log is checkpointed and truncated (the freed space itself is zeroed by
    /// `secure_delete`). PostgreSQL keeps dead row versions until `VACUUM` reuses their space:
    /// the README says what an operator runs.
    pub async fn scrub(&self) -> Result<(), StoreError> {
        if let Pool::Sqlite(pool) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
        on_pool!(self, pool => pool.close().await)
    }
}

/// Per-system documents kept verbatim as an engineer attached them, one table each with
/// `(system_id, config, updated_at)`.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::enum_variant_names)] // each is a kind of config; the names say which
pub(crate) enum SystemDocument {
    AdapterConfig,
    BridgeConfig,
    WritebackConfig,
}

impl SystemDocument {
    /// (table, audit action, what it is in messages)
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SystemDocument::AdapterConfig => {
                ("adapter_configs", "adapter.attach", "adapter config of system")
            }
            SystemDocument::BridgeConfig => (
                "bridge_configs",
                "bridge.config.attach",
                "bridge config of system",
            ),
            SystemDocument::WritebackConfig => (
                "writeback_configs",
                "writeback.config.attach",
                "write-back config of system",
            ),
        }
    }
}

/// A row type both backends' rows decode into (a `FromRow` struct or a tuple).
pub(crate) trait AnyRow:
    for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
{
}

impl<T> AnyRow for T where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin
{
}

impl Store {
    /// The row `sql` reads with `key` bound to `$1`, if there is one.
    pub(crate) async fn row_by_key<R: AnyRow>(
        &self,
        sql: impl sqlx::SqlSafeStr + Send,
        key: &str,
    ) -> Result<Option<R>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await?))
    }

    /// Rows of `table` (its `columns`, as `R` reads them) for these cases of a system, by key
    /// (`rows_of_cases_sql`), a statement per `CHUNK_ROWS` keys.
    pub(crate) async fn rows_of_cases<R: AnyRow>(
        &self,
        (table, columns): (&str, &str),
        system_id: &str,
        keys: &[&str],
    ) -> Result<Vec<R>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(cases::CHUNK_ROWS) {
            let sql = rows_of_cases_sql(self.backend(), table, columns, chunk.len());
            let rows: Vec<R> = on_pool!(self, pool => {
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(system_id);
                bind_keys(query, chunk).fetch_all(pool).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// The rows `sql` reads with `key` bound to `$1`.
    pub(crate) async fn rows_by_key<R: AnyRow>(
        &self,
        sql: impl sqlx::SqlSafeStr + Send,
        key: &str,
    ) -> Result<Vec<R>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(key).fetch_all(pool).await?))
    }
}

impl Store {
    /// Attaches (or replaces) a system's document; the caller has validated it.
    pub(crate) async fn set_document(
        &self,
        document: SystemDocument,
        system_id: &str,
        text: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.get_system(system_id).await?;
        let (table, action, _) = document.names();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let sql = sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} (system_id, config, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (system_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at"
            ));
            sqlx::query(sql).bind(system_id).bind(text).bind(chrono::Utc::now()).execute(&mut *tx).await?;
            audit!(tx, actor, action, system_id, serde_json::json!({ "config": text }))?;
            tx.commit().await?;
        });
        self.settings_changed();
        Ok(())
    }

    /// A system's document, as attached.
    pub(crate) async fn document(
        &self,
        document: SystemDocument,
        system_id: &str,
    ) -> Result<String, StoreError> {
        let (table, _, what) = document.names();
        let sql = sqlx::AssertSqlSafe(format!("SELECT config FROM {table} WHERE system_id = $1"));
        let row: Option<(String,)> = self.row_by_key(sql, system_id).await?;
        row.map(|(config,)| config).ok_or_else(|| StoreError::NotFound {
            what,
            id: system_id.to_owned(),
        })
    }
}

/// Appends an audit event inside the caller's transaction: who did what to which target. Forwards
/// to `audit_log::AuditLog::append_audit`, which holds the chaining.
macro_rules! audit {
    ($tx:expr, $actor:expr, $action:expr, $target:expr, $detail:expr) => {
        $crate::store::audit_log::AuditLog::append_audit(&mut *$tx, $actor, $action, $target, $detail).await
    };
}
pub(crate) use audit;
