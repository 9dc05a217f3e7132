//! The one lease mechanism of the store (issue 18): a row that one holder works on at a time —
//! a system's pull (`pull_state`), a bulk-migration run (`migration_runs`) — is taken when its
//! lease is free or has run out, renewed while its holder still holds it, and released by that
//! holder. A [`LeaseTable`] names a table's columns and the conditions a take of it needs beside
//! a free lease; [`Leases`] has one method per statement, stamped out for SQLite's and
//! PostgreSQL's connections by `lease_statements!` (no logic in the macro: each method binds
//! and runs one statement). What a table writes besides the lease (a pull's checkpoint, a run's
//! state) is its own statement, in the same transaction, after the lease statement answered
//! that the holder holds the row. Times are the database's clock (`Store::clock`), passed in.
//! A scheduler tick is not leased: it is claimed once by an insert that fails on a repeat
//! (`store/scheduler.rs`), never renewed, released or taken over.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgConnection, SqliteConnection};

/// How a lease runs out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expiry {
    /// The column holds when the lease ends (NULL: nobody holds it); a take and a renewal write
    /// the end, a release clears it.
    Until(&'static str),
    /// The column holds when the holder last showed it was alive; the lease is free when nobody
    /// owns the row, and runs out when the column is older than the caller's staleness bound.
    /// A take and a renewal stamp it; a release leaves it to the table's own end write.
    Heartbeat(&'static str),
}

impl Expiry {
    fn column(self) -> &'static str {
        match self {
            Expiry::Until(column) | Expiry::Heartbeat(column) => column,
        }
    }
}

/// A leased table and the columns and conditions the lease statements use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeaseTable {
    pub table: &'static str,
    /// The key of a leased row.
    pub key: &'static str,
    /// Who holds the row (NULL: nobody).
    pub owner: &'static str,
    pub expiry: Expiry,
    /// The columns a take answers with, for its row type.
    pub taken: &'static str,
    /// What a take needs beside a free or run-out lease (ANDed), over the take's binds (`$4`:
    /// the expiry bound, `$5`: its [`TakeArg`]); empty when nothing.
    pub take_when: &'static str,
    /// Holders a take may take the row over from although their lease lasts (ORed with a free
    /// or run-out lease), over the same binds; empty when none.
    pub take_over: &'static str,
    /// What a renewal and a release need beside the holder (ANDed); empty when nothing.
    pub held_when: &'static str,
}

/// The value a table's `take_when` and `take_over` conditions name as `$5`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TakeArg<'a> {
    Flag(bool),
    Holder(Option<&'a str>),
}

/// A take: the row, who takes it, the lease's value (its end, or now for a heartbeat) and the
/// bound before which a lease has run out (now, or the staleness bound for a heartbeat).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Take<'a> {
    pub key: &'a str,
    pub owner: &'a str,
    pub lease: DateTime<Utc>,
    pub expired_before: DateTime<Utc>,
    pub arg: TakeArg<'a>,
}

/// `" AND ({condition})"`, or nothing for an empty condition.
fn and(condition: &str) -> String {
    if condition.is_empty() {
        String::new()
    } else {
        format!(" AND ({condition})")
    }
}

impl LeaseTable {
    /// Takes row `$1` for `$2` with the lease `$3` when its lease is free or ran out before `$4`
    /// (or the table's `take_over` allows it) and the table's `take_when` holds; answers `taken`.
    fn take_sql(&self) -> String {
        let LeaseTable {
            table,
            key,
            owner,
            expiry,
            taken,
            take_when,
            take_over,
            ..
        } = self;
        let lease = expiry.column();
        let free = match expiry {
            Expiry::Until(column) => column,
            Expiry::Heartbeat(_) => owner,
        };
        let over = if take_over.is_empty() {
            String::new()
        } else {
            format!(" OR {take_over}")
        };
        format!(
            "UPDATE {table} SET {owner} = $2, {lease} = $3
             WHERE {key} = $1 AND ({free} IS NULL OR {lease} < $4{over}){when}
             RETURNING {taken}",
            when = and(take_when),
        )
    }

    /// Renews `$2`'s lease of row `$1` to `$3` (its new end, or now for a heartbeat).
    fn renew_sql(&self) -> String {
        self.held_sql(&format!("{} = $3", self.expiry.column()))
    }

    /// Releases `$2`'s lease of row `$1`.
    fn release_sql(&self) -> String {
        let clear = match self.expiry {
            Expiry::Until(column) => format!(", {column} = NULL"),
            Expiry::Heartbeat(_) => String::new(),
        };
        self.held_sql(&format!("{} = NULL{clear}", self.owner))
    }

    /// `UPDATE … SET {set}` of row `$1` while `$2` holds it (and the table's `held_when` holds).
    fn held_sql(&self, set: &str) -> String {
        let LeaseTable {
            table,
            key,
            owner,
            held_when,
            ..
        } = self;
        format!(
            "UPDATE {table} SET {set} WHERE {key} = $1 AND {owner} = $2{when}",
            when = and(held_when)
        )
    }
}

/// The lease statements over a backend's connection (inside the caller's transaction, begun
/// with [`super::Backend::begin_write`] where it writes more).
pub(crate) trait Leases: Send {
    /// The backend's row, for the take's `FromRow`.
    type Row: sqlx::Row;

    /// Takes the row (see [`LeaseTable::take_sql`]): its `taken` columns when taken, `None`
    /// when another holder keeps it or the table's condition does not hold.
    async fn take<R>(&mut self, lease: &LeaseTable, take: Take<'_>) -> Result<Option<R>, sqlx::Error>
    where
        R: for<'r> sqlx::FromRow<'r, Self::Row> + Send + Unpin;

    /// Renews `owner`'s lease of row `key` to `until` (a heartbeat: now); `false` when `owner`
    /// no longer holds it.
    async fn renew(
        &mut self,
        lease: &LeaseTable,
        key: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error>;

    /// Releases `owner`'s lease of row `key`; `false` when `owner` no longer holds it.
    async fn release(&mut self, lease: &LeaseTable, key: &str, owner: &str) -> Result<bool, sqlx::Error>;
}

/// Stamps out `Leases`' statements for a backend's connection (no logic: one statement each,
/// its binds).
macro_rules! lease_statements {
    ($conn:ty, $row:ty) => {
        impl Leases for $conn {
            type Row = $row;

            async fn take<R>(&mut self, lease: &LeaseTable, take: Take<'_>) -> Result<Option<R>, sqlx::Error>
            where
                R: for<'r> sqlx::FromRow<'r, Self::Row> + Send + Unpin,
            {
                let sql = sqlx::AssertSqlSafe(lease.take_sql());
                let query = sqlx::query_as(sql)
                    .bind(take.key)
                    .bind(take.owner)
                    .bind(take.lease)
                    .bind(take.expired_before);
                let query = match take.arg {
                    TakeArg::Flag(flag) => query.bind(flag),
                    TakeArg::Holder(holder) => query.bind(holder),
                };
                query.fetch_optional(&mut *self).await
            }

            async fn renew(
                &mut self,
                lease: &LeaseTable,
                key: &str,
                owner: &str,
                until: DateTime<Utc>,
            ) -> Result<bool, sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(lease.renew_sql());
                let done = sqlx::query(sql)
                    .bind(key)
                    .bind(owner)
                    .bind(until)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release(
                &mut self,
                lease: &LeaseTable,
                key: &str,
                owner: &str,
            ) -> Result<bool, sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(lease.release_sql());
                let done = sqlx::query(sql)
                    .bind(key)
                    .bind(owner)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
lease_statements!(SqliteConnection, SqliteRow);
lease_statements!(PgConnection, PgRow);

#[cfg(test)]
mod tests {
    use super::*;

    const UNTIL: LeaseTable = LeaseTable {
        table: "jobs",
        key: "name",
        owner: "holder",
        expiry: Expiry::Until("held_until"),
        taken: "state",
        take_when: "due <= $4 OR $5",
        take_over: "",
        held_when: "",
    };

    const HEARTBEAT: LeaseTable = LeaseTable {
        expiry: Expiry::Heartbeat("seen_at"),
        take_when: "state <> 'done'",
        take_over: "holder = $2 OR holder = $5",
        held_when: "state = 'open'",
        ..UNTIL
    };

    fn flat(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn statements_name_the_tables_columns() {
        let cases = [
            (
                UNTIL.take_sql(),
                "UPDATE jobs SET holder = $2, held_until = $3 WHERE name = $1 \
                 AND (held_until IS NULL OR held_until < $4) AND (due <= $4 OR $5) RETURNING state",
            ),
            (
                HEARTBEAT.take_sql(),
                "UPDATE jobs SET holder = $2, seen_at = $3 WHERE name = $1 \
                 AND (holder IS NULL OR seen_at < $4 OR holder = $2 OR holder = $5) AND (state <> 'done') RETURNING state",
            ),
            (
                UNTIL.renew_sql(),
                "UPDATE jobs SET held_until = $3 WHERE name = $1 AND holder = $2",
            ),
            (
                HEARTBEAT.renew_sql(),
                "UPDATE jobs SET seen_at = $3 WHERE name = $1 AND holder = $2 AND (state = 'open')",
            ),
            (
                UNTIL.release_sql(),
                "UPDATE jobs SET holder = NULL, held_until = NULL WHERE name = $1 AND holder = $2",
            ),
            (
                HEARTBEAT.release_sql(),
                "UPDATE jobs SET holder = NULL WHERE name = $1 AND holder = $2 AND (state = 'open')",
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(flat(&sql), expected);
        }
    }
}
