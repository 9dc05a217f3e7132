//! The one job queue of the store (issue 18): a table of items, each due at a time, claimed
//! (with a lease, when the queue's workers may run on several nodes), settled after an attempt
//! (delivered, retry at a later time, or dead) and replayed from the dead letters by hand. A
//! [`QueueTable`] names a table's columns and the rules it follows ([`Leasing`], an optional
//! head flag and failing-since stamp); [`JobQueue`] has one method per statement, stamped out for
//! SQLite's and PostgreSQL's connections by `queue_statements!` (no logic in the macro: each method
//! binds and runs one statement), and `claim`, a provided method, holds the logic. The exchange
//! outbox (`OUTBOX`), hand-offs (`HANDOFFS`) and notifications (`NOTIFICATIONS`) are its queues.
//! When the next attempt is due is the worker's: it asks the one retry policy (`crate::retry`,
//! backoff with jitter) and settles with [`Settle::RetryAt`]. Every time is bound by the caller,
//! from the database's clock ([`JobQueue::clock`] or `Store::clock`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{PgConnection, SqliteConnection};

use super::{Backend, placeholders};

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
    /// Whether and how claims lease items.
    pub leasing: Leasing,
    /// A flag an item must carry to be claimed, cleared on its delivery: the outbox's head of a
    /// case, which keeps a case's versions in order.
    pub head: Option<&'static str>,
    /// Since when an item has been failing: set at its first retry, cleared on delivery and on
    /// replay (the retry horizon counts from it).
    pub failing_since: Option<&'static str>,
}

/// How a queue's claims hold their items while an attempt runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leasing {
    /// No lease: the caller holds the queue otherwise (the notification webhook's pass runs in a
    /// job tick claimed once across nodes). The settlement counts the attempt.
    None,
    /// A claim leases each item until the lease's end (its due time moves there, so no other
    /// claim takes it before, and a crashed worker's items come back after) and counts the
    /// attempt then: a worker that dies mid-attempt has used one.
    Due,
    /// As `Due`, and the claim writes the lease's holder into this column: a settlement lands
    /// only while that holder still holds the item (a worker whose lease ran out cannot settle
    /// over the next one), by key and holder alone, and settling or replaying clears it.
    Held(&'static str),
}

/// A claim's lease: until when, and who holds it (for [`Leasing::Held`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease<'a> {
    pub until: DateTime<Utc>,
    pub holder: Option<&'a str>,
}

/// How an attempt on an item ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Settle<'a> {
    /// Delivered, with the receiver's receipt (kept where the queue has a column for it).
    Delivered { receipt: Option<&'a Value> },
    /// Not delivered; still queued, due again at `at`.
    RetryAt { error: &'a str, at: DateTime<Utc> },
    /// Given up: a dead letter until replayed.
    Dead { error: &'a str },
}

/// A claimed row: its key, to lease it.
pub(crate) trait Keyed {
    fn key(&self) -> i64;
}

/// One bound value of a queue statement, in placeholder order.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arg<'a> {
    Int(i64),
    Time(DateTime<Utc>),
    Text(&'a str),
    Receipt(Option<&'a Value>),
}

/// A statement and its bound values.
pub(crate) struct Statement<'a> {
    pub sql: String,
    args: Vec<Arg<'a>>,
}

impl<'a> Statement<'a> {
    fn new() -> Statement<'a> {
        Statement {
            sql: String::new(),
            args: Vec::new(),
        }
    }

    /// The next placeholder, bound to `arg`.
    fn arg(&mut self, arg: Arg<'a>) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }
}

impl QueueTable {
    /// The queue in `table` with the usual names: key `id`, due at `next_attempt_at`, states
    /// `queued`, `delivered` and `failed` (dead) in `state`, `attempts`, `last_error` and
    /// `delivered_at`, no receipt, no head, no failing-since; a claim reads `claimed` in `order`
    /// and leases as `leasing` says.
    pub(crate) const fn usual(
        table: &'static str,
        claimed: &'static str,
        order: &'static str,
        state: &'static str,
        leasing: Leasing,
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
            leasing,
            head: None,
            failing_since: None,
        }
    }

    /// The lease holder's column, when claims write one.
    fn holder(&self) -> Option<&'static str> {
        match self.leasing {
            Leasing::Held(column) => Some(column),
            Leasing::None | Leasing::Due => None,
        }
    }

    /// `, attempts = attempts + 1` where a settlement counts the attempt (claims without a lease).
    fn settle_counts(&self) -> String {
        match self.leasing {
            Leasing::None => format!(", {0} = {0} + 1", self.attempts),
            Leasing::Due | Leasing::Held(_) => String::new(),
        }
    }

    /// Items due at `$1`, at most `$2`, in claim order; with `lock`, locked for a lease (see
    /// [`Backend::skip_locked`]).
    pub(crate) fn due_sql(&self, backend: Backend, lock: bool) -> String {
        let QueueTable {
            table,
            claimed,
            order,
            due,
            state,
            queued,
            ..
        } = self;
        let head = self.head.map(|head| format!(" AND {head}")).unwrap_or_default();
        let lock = if lock { backend.skip_locked() } else { "" };
        format!(
            "SELECT {claimed} FROM {table} WHERE {state} = '{queued}'{head} AND {due} <= $1
             ORDER BY {order} LIMIT $2{lock}"
        )
    }

    /// Leases the items `keys` (claimed in this transaction, so by key alone) as `lease` says,
    /// counting an attempt each.
    pub(crate) fn lease_statement<'a>(&self, keys: &[i64], lease: &Lease<'a>) -> Statement<'a> {
        let QueueTable {
            table,
            key,
            due,
            attempts,
            ..
        } = self;
        let mut statement = Statement::new();
        let until = statement.arg(Arg::Time(lease.until));
        let holder = match (self.holder(), lease.holder) {
            (Some(column), Some(holder)) => format!(", {column} = {}", statement.arg(Arg::Text(holder))),
            _ => String::new(),
        };
        let first = statement.args.len() + 1;
        statement.args.extend(keys.iter().map(|k| Arg::Int(*k)));
        statement.sql = format!(
            "UPDATE {table} SET {due} = {until}{holder}, {attempts} = {attempts} + 1 WHERE {key} IN ({})",
            placeholders(first, keys.len())
        );
        statement
    }

    /// Settles items `keys` at `now` alike, as `settle` says, answering the keys it settled. With a
    /// held lease, only those `holder` holds, and by key and holder alone (only a claim sets the
    /// holder, on queued items, and every settlement and replay clears it); otherwise a retry
    /// changes only a queued item.
    pub(crate) fn settle_statement<'a>(
        &self,
        keys: &[i64],
        holder: Option<&'a str>,
        now: DateTime<Utc>,
        settle: &Settle<'a>,
    ) -> Statement<'a> {
        let QueueTable {
            table,
            due,
            state,
            queued,
            delivered,
            dead,
            last_error,
            delivered_at,
            ..
        } = self;
        let mut statement = Statement::new();
        let key_column = self.key;
        let keys: Vec<String> = keys.iter().map(|&key| statement.arg(Arg::Int(key))).collect();
        let mut set = match *settle {
            Settle::Delivered { receipt } => {
                let at = statement.arg(Arg::Time(now));
                let mut set = format!("{state} = '{delivered}', {last_error} = NULL, {delivered_at} = {at}");
                if let Some(column) = self.receipt {
                    set += &format!(", {column} = {}", statement.arg(Arg::Receipt(receipt)));
                }
                if let Some(head) = self.head {
                    set += &format!(", {head} = FALSE");
                }
                if let Some(since) = self.failing_since {
                    set += &format!(", {since} = NULL");
                }
                set
            }
            Settle::RetryAt { error, at } => {
                let error = statement.arg(Arg::Text(error));
                let at = statement.arg(Arg::Time(at));
                let mut set = format!("{last_error} = {error}, {due} = {at}");
                if let Some(since) = self.failing_since {
                    set += &format!(", {since} = COALESCE({since}, {})", statement.arg(Arg::Time(now)));
                }
                set
            }
            Settle::Dead { error } => {
                let error = statement.arg(Arg::Text(error));
                format!("{state} = '{dead}', {last_error} = {error}")
            }
        };
        set += &self.settle_counts();
        let condition = match (self.holder(), holder) {
            (Some(column), Some(holder)) => {
                set += &format!(", {column} = NULL");
                format!(" AND {column} = {}", statement.arg(Arg::Text(holder)))
            }
            _ if matches!(settle, Settle::RetryAt { .. }) => format!(" AND {state} = '{queued}'"),
            _ => String::new(),
        };
        statement.sql = format!(
            "UPDATE {table} SET {set} WHERE {key_column} IN ({}){condition} RETURNING {key_column}",
            keys.join(", ")
        );
        statement
    }

    /// Puts dead item `key` back in the queue, due at `due`, its attempts counted afresh.
    fn replay_statement<'a>(&self, key: i64, due: DateTime<Utc>) -> Statement<'a> {
        let QueueTable {
            table,
            state,
            queued,
            dead,
            attempts,
            ..
        } = self;
        let mut statement = Statement::new();
        let key = format!("{} = {}", self.key, statement.arg(Arg::Int(key)));
        let mut set = format!(
            "{state} = '{queued}', {} = {}, {attempts} = 0",
            self.due,
            statement.arg(Arg::Time(due))
        );
        for column in [self.holder(), self.failing_since].into_iter().flatten() {
            set += &format!(", {column} = NULL");
        }
        statement.sql = format!("UPDATE {table} SET {set} WHERE {key} AND {state} = '{dead}'");
        statement
    }
}

/// The queue's statements over a backend's connection (inside the caller's transaction), and
/// the claim over them.
pub(crate) trait JobQueue: Send {
    /// The backend's row, for the claimed rows' `FromRow`.
    type Row: sqlx::Row;

    /// The database's clock, read in the caller's transaction.
    async fn clock(&mut self) -> Result<DateTime<Utc>, sqlx::Error>;

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

    /// Leases the items `keys` as `lease` says (see [`Leasing`]).
    async fn lease_items(
        &mut self,
        queue: &QueueTable,
        keys: &[i64],
        lease: &Lease<'_>,
    ) -> Result<(), sqlx::Error>;

    /// Settles items `keys` alike at `now` (held by `holder`, for [`Leasing::Held`]) in one
    /// statement; answers the keys settled (a retry changes only a queued item; a held lease
    /// only while held).
    async fn settle(
        &mut self,
        queue: &QueueTable,
        keys: &[i64],
        holder: Option<&str>,
        now: DateTime<Utc>,
        settle: &Settle<'_>,
    ) -> Result<Vec<i64>, sqlx::Error>;

    /// Puts dead item `key` back in the queue, due at `due`; answers whether it was dead.
    async fn replay(&mut self, queue: &QueueTable, key: i64, due: DateTime<Utc>)
    -> Result<bool, sqlx::Error>;

    /// Claims up to `limit` items due at `now`. With a `lease` (for a queue whose claims lease),
    /// each is leased as [`Leasing`] says (open the transaction with [`Backend::begin_write`]).
    async fn claim<R>(
        &mut self,
        queue: &QueueTable,
        now: DateTime<Utc>,
        limit: i64,
        lease: Option<Lease<'_>>,
    ) -> Result<Vec<R>, sqlx::Error>
    where
        R: for<'r> sqlx::FromRow<'r, Self::Row> + Keyed + Send + Unpin,
    {
        let rows: Vec<R> = self.due_items(queue, now, limit, lease.is_some()).await?;
        if let Some(lease) = lease
            && !rows.is_empty()
        {
            let keys: Vec<i64> = rows.iter().map(Keyed::key).collect();
            self.lease_items(queue, &keys, &lease).await?;
        }
        Ok(rows)
    }
}

/// Binds a statement's values in order.
fn bound<'q, DB>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Json<&'q Value>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    args.iter().fold(query, |query, arg| match *arg {
        Arg::Int(value) => query.bind(value),
        Arg::Time(value) => query.bind(value),
        Arg::Text(value) => query.bind(value),
        Arg::Receipt(value) => query.bind(value.map(Json)),
    })
}

/// Stamps out `JobQueue`'s statements for a backend's connection (no logic: one statement each,
/// its binds).
macro_rules! queue_statements {
    ($conn:ty, $row:ty, $backend:expr) => {
        impl JobQueue for $conn {
            type Row = $row;

            async fn clock(&mut self) -> Result<DateTime<Utc>, sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {}", $backend.now()));
                let (now,): (DateTime<Utc>,) = sqlx::query_as(sql).fetch_one(&mut *self).await?;
                Ok(now)
            }

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

            async fn lease_items(
                &mut self,
                queue: &QueueTable,
                keys: &[i64],
                lease: &Lease<'_>,
            ) -> Result<(), sqlx::Error> {
                let Statement { sql, args } = queue.lease_statement(keys, lease);
                bound(sqlx::query(sqlx::AssertSqlSafe(sql)), &args)
                    .execute(&mut *self)
                    .await
                    .map(drop)
            }

            async fn settle(
                &mut self,
                queue: &QueueTable,
                keys: &[i64],
                holder: Option<&str>,
                now: DateTime<Utc>,
                settle: &Settle<'_>,
            ) -> Result<Vec<i64>, sqlx::Error> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let Statement { sql, args } = queue.settle_statement(keys, holder, now, settle);
                bound(sqlx::query(sqlx::AssertSqlSafe(sql)), &args)
                    .fetch_all(&mut *self)
                    .await?
                    .iter()
                    .map(|row| sqlx::Row::try_get(row, 0))
                    .collect()
            }

            async fn replay(
                &mut self,
                queue: &QueueTable,
                key: i64,
                due: DateTime<Utc>,
            ) -> Result<bool, sqlx::Error> {
                let Statement { sql, args } = queue.replay_statement(key, due);
                let done = bound(sqlx::query(sqlx::AssertSqlSafe(sql)), &args)
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

    /// A queue with every option and its own names, so each statement's columns are seen to
    /// come from the table.
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
        leasing: Leasing::Held("holder"),
        head: Some("head"),
        failing_since: Some("failing"),
    };

    /// The same queue without a receipt, a holder, a head or a failing-since stamp, leasing by
    /// due time only or not at all.
    const PLAIN: QueueTable = QueueTable {
        receipt: None,
        leasing: Leasing::Due,
        head: None,
        failing_since: None,
        ..JOBS
    };
    const UNLEASED: QueueTable = QueueTable {
        leasing: Leasing::None,
        ..PLAIN
    };

    fn flat(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn claims_select_due_items_in_order() {
        let cases = [
            (
                JOBS.due_sql(Backend::Postgres, true),
                "SELECT id, body FROM jobs WHERE state = 'queued' AND head AND due_at <= $1 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            ),
            (
                PLAIN.due_sql(Backend::Postgres, false),
                "SELECT id, body FROM jobs WHERE state = 'queued' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            ),
            (
                PLAIN.due_sql(Backend::Sqlite, true),
                "SELECT id, body FROM jobs WHERE state = 'queued' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(flat(&sql), expected);
        }
    }

    #[test]
    fn leases_name_the_holder_where_the_queue_keeps_one() {
        let lease = Lease {
            until: at(60),
            holder: Some("node-1"),
        };
        let held = JOBS.lease_statement(&[7, 9], &lease);
        assert_eq!(
            flat(&held.sql),
            "UPDATE jobs SET due_at = $1, holder = $2, tries = tries + 1 WHERE id IN ($3, $4)"
        );
        assert_eq!(
            held.args,
            [Arg::Time(at(60)), Arg::Text("node-1"), Arg::Int(7), Arg::Int(9)]
        );
        let due = PLAIN.lease_statement(&[7], &lease);
        assert_eq!(
            flat(&due.sql),
            "UPDATE jobs SET due_at = $1, tries = tries + 1 WHERE id IN ($2)"
        );
        assert_eq!(due.args, [Arg::Time(at(60)), Arg::Int(7)]);
    }

    #[test]
    fn settlements_follow_the_queues_rules() {
        let receipt = serde_json::json!({ "id": "R1" });
        let now = at(10);
        let delivered = Settle::Delivered {
            receipt: Some(&receipt),
        };
        let retry = Settle::RetryAt {
            error: "busy",
            at: at(70),
        };
        let dead = Settle::Dead { error: "refused" };
        let cases = [
            (
                JOBS.settle_statement(&[7], Some("node-1"), now, &delivered),
                "UPDATE jobs SET state = 'done', error = NULL, done_at = $2, receipt = $3, head = FALSE, failing = NULL, holder = NULL WHERE id IN ($1) AND holder = $4 RETURNING id",
                vec![
                    Arg::Int(7),
                    Arg::Time(now),
                    Arg::Receipt(Some(&receipt)),
                    Arg::Text("node-1"),
                ],
            ),
            (
                JOBS.settle_statement(&[7], Some("node-1"), now, &retry),
                "UPDATE jobs SET error = $2, due_at = $3, failing = COALESCE(failing, $4), holder = NULL WHERE id IN ($1) AND holder = $5 RETURNING id",
                vec![
                    Arg::Int(7),
                    Arg::Text("busy"),
                    Arg::Time(at(70)),
                    Arg::Time(now),
                    Arg::Text("node-1"),
                ],
            ),
            (
                JOBS.settle_statement(&[7], Some("node-1"), now, &dead),
                "UPDATE jobs SET state = 'dead', error = $2, holder = NULL WHERE id IN ($1) AND holder = $3 RETURNING id",
                vec![Arg::Int(7), Arg::Text("refused"), Arg::Text("node-1")],
            ),
            (
                PLAIN.settle_statement(&[7], None, now, &delivered),
                "UPDATE jobs SET state = 'done', error = NULL, done_at = $2 WHERE id IN ($1) RETURNING id",
                vec![Arg::Int(7), Arg::Time(now)],
            ),
            (
                PLAIN.settle_statement(&[7], None, now, &retry),
                "UPDATE jobs SET error = $2, due_at = $3 WHERE id IN ($1) AND state = 'queued' RETURNING id",
                vec![Arg::Int(7), Arg::Text("busy"), Arg::Time(at(70))],
            ),
            (
                UNLEASED.settle_statement(&[7], None, now, &retry),
                "UPDATE jobs SET error = $2, due_at = $3, tries = tries + 1 WHERE id IN ($1) AND state = 'queued' RETURNING id",
                vec![Arg::Int(7), Arg::Text("busy"), Arg::Time(at(70))],
            ),
            (
                UNLEASED.settle_statement(&[7], None, now, &dead),
                "UPDATE jobs SET state = 'dead', error = $2, tries = tries + 1 WHERE id IN ($1) RETURNING id",
                vec![Arg::Int(7), Arg::Text("refused")],
            ),
            (
                JOBS.settle_statement(&[7, 9], Some("node-1"), now, &dead),
                "UPDATE jobs SET state = 'dead', error = $3, holder = NULL WHERE id IN ($1, $2) AND holder = $4 RETURNING id",
                vec![
                    Arg::Int(7),
                    Arg::Int(9),
                    Arg::Text("refused"),
                    Arg::Text("node-1"),
                ],
            ),
        ];
        for (statement, sql, args) in cases {
            assert_eq!(flat(&statement.sql), sql);
            assert_eq!(statement.args, args, "{sql}");
        }
    }

    #[test]
    fn a_replay_starts_the_item_afresh() {
        let replay = JOBS.replay_statement(7, at(5));
        assert_eq!(
            flat(&replay.sql),
            "UPDATE jobs SET state = 'queued', due_at = $2, tries = 0, holder = NULL, failing = NULL WHERE id = $1 AND state = 'dead'"
        );
        assert_eq!(replay.args, [Arg::Int(7), Arg::Time(at(5))]);
        assert_eq!(
            flat(&PLAIN.replay_statement(7, at(5)).sql),
            "UPDATE jobs SET state = 'queued', due_at = $2, tries = 0 WHERE id = $1 AND state = 'dead'"
        );
    }
}
