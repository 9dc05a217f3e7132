//! Housekeeping's statements: each purge deletes at most a batch of expired rows, oldest or any
//! first, through an index on the expiry column, in its own short transaction, so that no purge
//! holds the write lock for long and none runs on a request's path. The loop that calls them
//! every minute is `src/housekeeping.rs`. Audit rows are never purged here (audit pruning
//! has its own rules, `store/audit_log.rs`).

use chrono::{DateTime, Utc};

use super::{Backend, Store, StoreError, on_pool};

/// What housekeeping purges, each with the column its horizon compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Write-back nonces seen before the horizon (`seen_at`).
    Nonces,
    /// Staff sessions revoked or expired before the horizon.
    Sessions,
    /// Enrolment links used or expired before the horizon.
    Enrolments,
    /// Passkey ceremonies started and never finished, expired before the horizon.
    Challenges,
}

impl Purge {
    /// Every purge, in the order a pass runs them.
    pub const ALL: [Purge; 4] = [
        Purge::Nonces,
        Purge::Sessions,
        Purge::Enrolments,
        Purge::Challenges,
    ];

    /// The name log lines and metrics use.
    pub fn name(self) -> &'static str {
        match self {
            Purge::Nonces => "nonces",
            Purge::Sessions => "sessions",
            Purge::Enrolments => "enrolments",
            Purge::Challenges => "challenges",
        }
    }

    /// (table, which rows are expired with `$1` the horizon, the order of deletion or `None`)
    fn parts(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Purge::Nonces => ("writeback_nonces", "seen_at < $1", Some("seen_at")),
            // Each side of the OR has its own index (`0020_housekeeping.sql`); no order, so that
            // neither side needs a sort.
            Purge::Sessions => ("account_sessions", "expires_at < $1 OR revoked_at < $1", None),
            Purge::Enrolments => ("account_enrolments", "expires_at < $1 OR used_at < $1", None),
            Purge::Challenges => ("account_challenges", "expires_at < $1", Some("expires_at")),
        }
    }

    /// The table the purge deletes from.
    pub fn table(self) -> &'static str {
        self.parts().0
    }
}

/// The statement that deletes one batch of `purge` (`$1` the horizon, `$2` the batch size) on
/// `backend`: the rows are picked by a subselect bounded by `LIMIT` and deleted by their
/// physical address (SQLite `rowid`, PostgreSQL `ctid`: a row a concurrent writer changed since is
/// left alone). Public for the tests that check its plan.
#[doc(hidden)]
pub fn purge_sql(backend: Backend, purge: Purge) -> String {
    let (table, expired, order) = purge.parts();
    let order = order
        .map(|column| format!(" ORDER BY {column}"))
        .unwrap_or_default();
    match backend {
        Backend::Sqlite => format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {expired}{order} LIMIT $2)"
        ),
        Backend::Postgres => format!(
            "DELETE FROM {table} WHERE ctid = ANY (ARRAY (SELECT ctid FROM {table} WHERE {expired}{order} LIMIT $2))"
        ),
    }
}

/// A value bound to a statement whose plan a test asks for.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum PlanArg {
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
    Float(f64),
}

impl Store {
    /// Deletes one batch of at most `batch` rows of `purge` older than `horizon`, in its own
    /// transaction; returns how many went. Fewer than `batch` means none is left.
    pub async fn purge_batch(
        &self,
        purge: Purge,
        horizon: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let backend = self.backend();
        let sql = sqlx::AssertSqlSafe(purge_sql(backend, purge));
        let horizon = crate::systems::stamp(horizon);
        let deleted = on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let deleted = sqlx::query(sql)
                .bind(horizon)
                .bind(i64::from(batch))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            deleted
        });
        Ok(deleted)
    }

    /// Adds nonces in bulk, as if taken at their times: for tests that need a realistic table.
    #[doc(hidden)]
    pub async fn insert_nonces(&self, nonces: &[(String, String, DateTime<Utc>)]) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for rows in nonces.chunks(1000) {
                let mut insert =
                    sqlx::QueryBuilder::new("INSERT INTO writeback_nonces (system_id, nonce, seen_at) ");
                insert.push_values(rows, |mut row, (system_id, nonce, seen_at)| {
                    row.push_bind(system_id.clone())
                        .push_bind(nonce.clone())
                        .push_bind(*seen_at);
                });
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// How many nonces a system holds (kept or expired but not purged yet).
    #[doc(hidden)]
    pub async fn nonce_count(&self, system_id: &str) -> Result<i64, StoreError> {
        let (count,): (i64,) = on_pool!(self, pool => {
            sqlx::query_as("SELECT COUNT(*) FROM writeback_nonces WHERE system_id = $1")
                .bind(system_id)
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }

    /// Refreshes the planner's statistics (PostgreSQL `ANALYZE`; SQLite keeps none unless asked,
    /// and the store never asks, so its plans are checked without).
    #[doc(hidden)]
    pub async fn analyze(&self) -> Result<(), StoreError> {
        if let Store::Postgres(pool) = self {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    /// The plan of `sql` with `args` bound, without running it: SQLite's `EXPLAIN QUERY PLAN`
    /// details, one per line; PostgreSQL's `EXPLAIN (FORMAT JSON)` document. For the tests that
    /// fail a full scan.
    #[doc(hidden)]
    pub async fn explain(&self, sql: &str, args: &[PlanArg]) -> Result<String, StoreError> {
        self.explain_with(&[], sql, args).await
    }

    /// [`Store::explain`] after `setup` (planner settings a statement runs with, such as
    /// [`super::claim_setup`]), in a transaction that is rolled back.
    #[doc(hidden)]
    pub async fn explain_with(
        &self,
        setup: &[&str],
        sql: &str,
        args: &[PlanArg],
    ) -> Result<String, StoreError> {
        macro_rules! bound {
            ($query:expr) => {{
                let mut query = $query;
                for arg in args {
                    query = match arg {
                        PlanArg::Text(text) => query.bind(text.clone()),
                        PlanArg::Time(at) => query.bind(crate::systems::stamp(*at)),
                        PlanArg::Int(n) => query.bind(*n),
                        PlanArg::Float(x) => query.bind(*x),
                    };
                }
                query
            }};
        }
        let plan = match self {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for statement in setup {
                    sqlx::query(sqlx::AssertSqlSafe(*statement))
                        .execute(&mut *tx)
                        .await?;
                }
                let sql = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"));
                let rows: Vec<(i64, i64, i64, String)> =
                    bound!(sqlx::query_as(sql)).fetch_all(&mut *tx).await?;
                tx.rollback().await?;
                rows.into_iter()
                    .map(|(_, _, _, detail)| detail)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for statement in setup {
                    sqlx::query(sqlx::AssertSqlSafe(*statement))
                        .execute(&mut *tx)
                        .await?;
                }
                let sql = sqlx::AssertSqlSafe(format!("EXPLAIN (FORMAT JSON) {sql}"));
                let (plan,): (serde_json::Value,) = bound!(sqlx::query_as(sql)).fetch_one(&mut *tx).await?;
                tx.rollback().await?;
                plan.to_string()
            }
        };
        Ok(plan)
    }
}
