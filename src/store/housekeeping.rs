//! Housekeeping's statements: each purge deletes at most a batch of expired rows, oldest or any
//! first, through an index on the expiry column, in its own short transaction, so that no purge
//! holds the write lock for long and none runs on a request's path. The loop that calls them
//! every minute is `src/housekeeping.rs`. Audit rows are never purged here (audit pruning
//! has its own rules, `store/audit_log.rs`).
//!
//! A purge changes no answer that anything still needs: delivered outbox items are read by
//! nothing but `outbox_of_case` (a case's items as kept); the exchange status counts the
//! open and dead items and reads the delivered counter (`exchange_outbox_counts`, kept apart from
//! the rows), the head of a case and the enqueue's check are among the open items only, and a
//! delivered version is never enqueued again (its case already holds it or a newer one). A job
//! run is kept while a notification names it, and each job's latest run is kept whatever its age
//! (`scheduler jobs` shows it).

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
    /// Exchange outbox items delivered before the horizon (`delivered_at`); never a pending or
    /// dead one.
    DeliveredOutbox,
    /// Scheduler job runs finished before the horizon, except each job's latest run and runs a
    /// notification names.
    JobRuns,
    /// Bridge tickets and link proofs (used or not) expired before the horizon.
    BridgeTokens,
}

impl Purge {
    /// Every purge, in the order a pass runs them.
    pub const ALL: [Purge; 7] = [
        Purge::Nonces,
        Purge::Sessions,
        Purge::Enrolments,
        Purge::Challenges,
        Purge::DeliveredOutbox,
        Purge::JobRuns,
        Purge::BridgeTokens,
    ];

    /// The name log lines and metrics use.
    pub fn name(self) -> &'static str {
        match self {
            Purge::Nonces => "nonces",
            Purge::Sessions => "sessions",
            Purge::Enrolments => "enrolments",
            Purge::Challenges => "challenges",
            Purge::DeliveredOutbox => "delivered_outbox",
            Purge::JobRuns => "job_runs",
            Purge::BridgeTokens => "bridge_tokens",
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
            // The partial index `exchange_outbox_delivered` holds delivered rows only.
            Purge::DeliveredOutbox => (
                "exchange_outbox",
                "state = 'delivered' AND delivered_at < $1",
                Some("delivered_at"),
            ),
            // `job_runs_finished` finds the candidates in order; each is asked by key whether its
            // job ran later (`job_runs_job`) and whether a notification names it
            // (`notifications_job_run`). Scalar subqueries, not [NOT] EXISTS: PostgreSQL turns
            // those into hash joins that read both tables whole when many runs are due at once.
            Purge::JobRuns => (
                "job_runs",
                "finished_at < $1
                 AND id < (SELECT MAX(later.id) FROM job_runs later WHERE later.job = job_runs.job)
                 AND (SELECT COUNT(*) FROM notifications WHERE notifications.job_run_id = job_runs.id) = 0",
                Some("finished_at"),
            ),
            Purge::BridgeTokens => ("bridge_tokens", "expires_at < $1", Some("expires_at")),
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
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
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
}
