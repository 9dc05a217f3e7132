//! The one job queue of the store (issue 18): a table of items, each due at a time, claimed with
//! a lease, settled after an attempt (delivered, retry at a later time, or dead) and replayed from
//! the dead letters by hand. A [`QueueTable`] names a table's columns; [`JobQueue`] has one method
//! per statement, stamped out for SQLite's and PostgreSQL's connections by `queue_statements!`
//! (no logic in the macro: each method binds and runs one statement), and `claim`, a provided
//! method, holds the logic. Hand-offs (`HANDOFFS`) and notifications (`NOTIFICATIONS`) are
//! queues; the exchange outbox keeps its own statements (per-case heads, a lease owner, plans
//! pinned by the plan tests). When the next attempt is due is the worker's: it asks the one
//! retry policy (`crate::retry`, backoff with jitter) and settles with [`Settle::RetryAt`].

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{PgConnection, SqliteConnection};

use super::Backend;

/// A queue's table and the columns the queue's statements read and write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueTable {
    pub table: &'static str,
    /// The integer key of an item.
    pub key: &'static str,
    /// The columns a claim reads, for its row type.
    pub claimed: &'static str,
    /// The claim's order (oldest first).
    pub order: &'static str,
    /// When the next attempt is due; a lease moves it to the lease's end, so a leased item is
    /// not due again until the lease runs out.
    pub due: &'static str,
    /// The state column and its values: waiting for an attempt, delivered, dead (given up).
    pub state: &'static str,
    pub queued: &'static str,
    pub delivered: &'static str,
    pub dead: &'static str,
    /// Attempts made so far.
    pub attempts: &'static str,
    /// The last failure, cleared on delivery.
    pub last_error: &'static str,
    pub delivered_at: &'static str,
    /// Where the receiver's receipt is kept on delivery, when the queue keeps one.
    pub receipt: Option<&'static str>,
}

/// How an attempt on an item ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Settle<'a> {
    /// Delivered at `at`, with the receiver's receipt (kept where the queue has a column for it).
    Delivered {
        at: DateTime<Utc>,
        receipt: Option<&'a Value>,
    },
    /// Not delivered; still queued, due again at `at`.
    RetryAt { error: &'a str, at: DateTime<Utc> },
    /// Given up: a dead letter until replayed.
    Dead { error: &'a str },
}

/// A claimed row: its key, to lease it.
pub(crate) trait Keyed {
    fn key(&self) -> i64;
}

impl QueueTable {
    /// The queue in `table` with the usual names: key `id`, due at `next_attempt_at`, states
    /// `queued`, `delivered` and `failed` (dead) in `state`, `attempts`, `last_error` and
    /// `delivered_at`, no receipt; a claim reads `claimed` in `order`.
    pub(crate) const fn usual(
        table: &'static str,
        claimed: &'static str,
        order: &'static str,
        state: &'static str,
    ) -> QueueTable {
        QueueTable {
            table,
            key: "id",
            claimed,
            order,
            due: "next_attempt_at",
            state,
            queued: "queued",
            delivered: "delivered",
            dead: "failed",
            attempts: "attempts",
            last_error: "last_error",
            delivered_at: "delivered_at",
            receipt: None,
        }
    }

    /// Items due at `$1`, at most `$2`, in claim order; with `lock`, locked for a lease (see
    /// [`Backend::skip_locked`]).
    fn due_sql(&self, backend: Backend, lock: bool) -> String {
        let QueueTable {
            table,
            claimed,
            order,
            due,
            state,
            queued,
            ..
        } = self;
        let lock = if lock { backend.skip_locked() } else { "" };
        format!(
            "SELECT {claimed} FROM {table} WHERE {state} = '{queued}' AND {due} <= $1
             ORDER BY {order} LIMIT $2{lock}"
        )
    }

    /// Leases item `$1` until `$2`.
    fn lease_sql(&self) -> String {
        let QueueTable { table, key, due, .. } = self;
        format!("UPDATE {table} SET {due} = $2 WHERE {key} = $1")
    }

    /// Settles item `$1`: delivered at `$2` (receipt `$3`), retried with error `$2` at `$3` (only
    /// while queued), or dead with error `$2`. Every settlement counts an attempt.
    fn settle_sql(&self, settle: &Settle<'_>) -> String {
        let QueueTable {
            table,
            key,
            due,
            state,
            queued,
            delivered,
            dead,
            attempts,
            last_error,
            delivered_at,
            ..
        } = self;
        match settle {
            Settle::Delivered { .. } => {
                let receipt = self
                    .receipt
                    .map(|column| format!(", {column} = $3"))
                    .unwrap_or_default();
                format!(
                    "UPDATE {table} SET {state} = '{delivered}', {attempts} = {attempts} + 1,
                     {last_error} = NULL, {delivered_at} = $2{receipt} WHERE {key} = $1"
                )
            }
            Settle::RetryAt { .. } => format!(
                "UPDATE {table} SET {attempts} = {attempts} + 1, {last_error} = $2, {due} = $3
                 WHERE {key} = $1 AND {state} = '{queued}'"
            ),
            Settle::Dead { .. } => format!(
                "UPDATE {table} SET {state} = '{dead}', {attempts} = {attempts} + 1, {last_error} = $2
                 WHERE {key} = $1"
            ),
        }
    }

    /// Puts dead item `$1` back in the queue, due at `$2`.
    fn replay_sql(&self) -> String {
        let QueueTable {
            table,
            key,
            due,
            state,
            queued,
            dead,
            ..
        } = self;
        format!("UPDATE {table} SET {state} = '{queued}', {due} = $2 WHERE {key} = $1 AND {state} = '{dead}'")
    }
}

/// The queue's statements over a backend's connection (inside the caller's transaction), and
/// the claim over them.
pub(crate) trait JobQueue: Send {
    /// The backend's row, for the claimed rows' `FromRow`.
    type Row: sqlx::Row;

    /// Items of `queue` due at `now`, at most `limit`, in claim order; `lock`ed for a lease.
    async fn due_items<R>(
        &mut self,
        queue: &QueueTable,
        now: DateTime<Utc>,
        limit: i64,
        lock: bool,
    ) -> Result<Vec<R>, sqlx::Error>
    where
        R: for<'r> sqlx::FromRow<'r, Self::Row> + Send + Unpin;

    /// Leases item `key` until `until`.
    async fn lease_item(
        &mut self,
        queue: &QueueTable,
        key: i64,
        until: DateTime<Utc>,
    ) -> Result<(), sqlx::Error>;

    /// Settles item `key`; answers whether a row changed (a retry changes only a queued item).
    async fn settle(
        &mut self,
        queue: &QueueTable,
        key: i64,
        settle: &Settle<'_>,
    ) -> Result<bool, sqlx::Error>;

    /// Puts dead item `key` back in the queue, due at `due`; answers whether it was dead.
    async fn replay(&mut self, queue: &QueueTable, key: i64, due: DateTime<Utc>)
    -> Result<bool, sqlx::Error>;

    /// Claims up to `limit` items due at `now`. With `lease_until`, each is leased until then: no
    /// other claim takes it before, and a crashed worker's items come back after it (open the
    /// transaction with [`Backend::begin_write`]). Without, the caller holds the queue otherwise
    /// (the notification webhook's pass runs in a job tick claimed once across nodes).
    async fn claim<R>(
        &mut self,
        queue: &QueueTable,
        now: DateTime<Utc>,
        limit: i64,
        lease_until: Option<DateTime<Utc>>,
    ) -> Result<Vec<R>, sqlx::Error>
    where
        R: for<'r> sqlx::FromRow<'r, Self::Row> + Keyed + Send + Unpin,
    {
        let rows: Vec<R> = self.due_items(queue, now, limit, lease_until.is_some()).await?;
        if let Some(until) = lease_until {
            for row in &rows {
                self.lease_item(queue, row.key(), until).await?;
            }
        }
        Ok(rows)
    }
}

/// Stamps out `JobQueue`'s statements for a backend's connection (no logic: one statement each,
/// its binds).
macro_rules! queue_statements {
    ($conn:ty, $row:ty, $backend:expr) => {
        impl JobQueue for $conn {
            type Row = $row;

            async fn due_items<R>(
                &mut self,
                queue: &QueueTable,
                now: DateTime<Utc>,
                limit: i64,
                lock: bool,
            ) -> Result<Vec<R>, sqlx::Error>
            where
                R: for<'r> sqlx::FromRow<'r, Self::Row> + Send + Unpin,
            {
                let sql = sqlx::AssertSqlSafe(queue.due_sql($backend, lock));
                sqlx::query_as(sql)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *self)
                    .await
            }

            async fn lease_item(
                &mut self,
                queue: &QueueTable,
                key: i64,
                until: DateTime<Utc>,
            ) -> Result<(), sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(queue.lease_sql());
                sqlx::query(sql)
                    .bind(key)
                    .bind(until)
                    .execute(&mut *self)
                    .await
                    .map(drop)
            }

            async fn settle(
                &mut self,
                queue: &QueueTable,
                key: i64,
                settle: &Settle<'_>,
            ) -> Result<bool, sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(queue.settle_sql(settle));
                let query = sqlx::query(sql).bind(key);
                let query = match *settle {
                    Settle::Delivered { at, receipt } if queue.receipt.is_some() => {
                        query.bind(at).bind(receipt.map(Json))
                    }
                    Settle::Delivered { at, .. } => query.bind(at),
                    Settle::RetryAt { error, at } => query.bind(error).bind(at),
                    Settle::Dead { error } => query.bind(error),
                };
                Ok(query.execute(&mut *self).await?.rows_affected() > 0)
            }

            async fn replay(
                &mut self,
                queue: &QueueTable,
                key: i64,
                due: DateTime<Utc>,
            ) -> Result<bool, sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(queue.replay_sql());
                let done = sqlx::query(sql)
                    .bind(key)
                    .bind(due)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
queue_statements!(SqliteConnection, SqliteRow, Backend::Sqlite);
queue_statements!(PgConnection, PgRow, Backend::Postgres);

#[cfg(test)]
mod tests {
    use super::*;

    const JOBS: QueueTable = QueueTable {
        table: "jobs",
        key: "id",
        claimed: "id, body",
        order: "due_at, id",
        due: "due_at",
        state: "state",
        queued: "queued",
        delivered: "done",
        dead: "dead",
        attempts: "tries",
        last_error: "error",
        delivered_at: "done_at",
        receipt: Some("receipt"),
    };

    fn flat(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn statements_name_the_queues_columns() {
        let now = DateTime::UNIX_EPOCH;
        let cases = [
            (
                JOBS.due_sql(Backend::Postgres, true),
                "SELECT id, body FROM jobs WHERE state = 'queued' AND due_at <= $1 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            ),
            (
                JOBS.due_sql(Backend::Postgres, false),
                "SELECT id, body FROM jobs WHERE state = 'queued' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            ),
            (
                JOBS.due_sql(Backend::Sqlite, true),
                "SELECT id, body FROM jobs WHERE state = 'queued' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            ),
            (JOBS.lease_sql(), "UPDATE jobs SET due_at = $2 WHERE id = $1"),
            (
                JOBS.settle_sql(&Settle::Delivered {
                    at: now,
                    receipt: None,
                }),
                "UPDATE jobs SET state = 'done', tries = tries + 1, error = NULL, done_at = $2, receipt = $3 WHERE id = $1",
            ),
            (
                QueueTable {
                    receipt: None,
                    ..JOBS
                }
                .settle_sql(&Settle::Delivered {
                    at: now,
                    receipt: None,
                }),
                "UPDATE jobs SET state = 'done', tries = tries + 1, error = NULL, done_at = $2 WHERE id = $1",
            ),
            (
                JOBS.settle_sql(&Settle::RetryAt { error: "x", at: now }),
                "UPDATE jobs SET tries = tries + 1, error = $2, due_at = $3 WHERE id = $1 AND state = 'queued'",
            ),
            (
                JOBS.settle_sql(&Settle::Dead { error: "x" }),
                "UPDATE jobs SET state = 'dead', tries = tries + 1, error = $2 WHERE id = $1",
            ),
            (
                JOBS.replay_sql(),
                "UPDATE jobs SET state = 'queued', due_at = $2 WHERE id = $1 AND state = 'dead'",
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(flat(&sql), expected);
        }
    }
}
