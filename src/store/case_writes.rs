//! One batch of cases written inside the caller's write transaction: the path every intake
//! (push, pull, import, migration) ends in. `CaseWrites` has one method per statement, stamped
//! out for SQLite's and PostgreSQL's connections by `case_statements!` (no logic in the macro:
//! each method binds and runs one statement); `upsert_batch`, a provided method, holds the
//! logic: lock the cases, read what is held, plan, write versions, current rows and outbox items.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::query_builder::Separated;
use sqlx::{PgConnection, SqliteConnection};

use super::audit_log::AuditLog;
use super::cases::{Encoded, StoredVersion, plan};
use super::{
    AnyRow, Backend, StoreError, UpsertOutcome, bind_keys, open_cases_sql, placeholders, rows_of_cases_sql,
};
use crate::case::{Case, Stage};
use crate::reconciliation::beijing_day;

/// A batch to write: at most `CHUNK_ROWS` distinct cases of one system, serialised once.
pub(crate) struct Batch<'a> {
    pub system_id: &'a str,
    pub cases: &'a [Case],
    pub encoded: &'a Encoded<'a>,
    /// When the batch was received (the rows' `received_at`).
    pub now: DateTime<Utc>,
    pub mapping_version: Option<&'a str>,
}

/// The current rows of a batch's cases, as `CurrentRow`s.
const CURRENT: (&str, &str) = ("cases", "t.case_no, t.version, t.stage");

/// Every stored version of a batch's cases, as `StoredVersion`s.
const KNOWN: (&str, &str) = ("case_versions", "t.case_no, t.version, t.content_hash");

/// A batch's case as held now, read through `CURRENT`.
#[derive(sqlx::FromRow)]
struct CurrentRow {
    case_no: String,
    version: i64,
    stage: String,
}

/// Serialises concurrent writers of the same cases within a transaction.
pub(crate) trait CaseLocks {
    async fn lock_cases(&mut self, system_id: &str, keys: &[&str]) -> Result<(), sqlx::Error>;
}

impl CaseLocks for SqliteConnection {
    /// Nothing to do: `BEGIN IMMEDIATE` already holds the database's one write lock.
    async fn lock_cases(&mut self, _: &str, _: &[&str]) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl CaseLocks for PgConnection {
    /// One advisory lock per case, taken in hash order in one statement: every writer locks in
    /// the same order, so none deadlock.
    async fn lock_cases(&mut self, system_id: &str, keys: &[&str]) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(h) FROM (
                 SELECT DISTINCT hashtextextended($1 || '/' || k, 0) AS h FROM unnest($2::text[]) AS k ORDER BY h
             ) AS sorted",
        )
        .bind(system_id)
        .bind(keys)
        .execute(&mut *self)
        .await
        .map(|_| ())
    }
}

/// A batch's new versions and outbox items, each in one statement: SQLite's a multi-row
/// `INSERT … VALUES` (prepared in-process), PostgreSQL's an `INSERT … SELECT` from arrays bound
/// once per column (`unnest`), whose text is the same for every batch size, so the server parses
/// and plans it once per connection and receives no row-by-row `VALUES` list (issue 17).
pub(crate) trait RowInserts {
    /// Adds the batch's cases at `rows` to the history.
    async fn insert_versions(&mut self, batch: &Batch<'_>, rows: &[usize]) -> Result<(), sqlx::Error>;

    /// Enqueues the batch's cases at `rows` for the exchange, each marked whether it heads its
    /// case; enqueued and due by the database's clock, as every claim compares (issue 22).
    async fn insert_outbox(&mut self, batch: &Batch<'_>, rows: &[(usize, bool)]) -> Result<(), sqlx::Error>;
}

impl RowInserts for SqliteConnection {
    async fn insert_versions(&mut self, batch: &Batch<'_>, rows: &[usize]) -> Result<(), sqlx::Error> {
        let mut insert = sqlx::QueryBuilder::new(INSERT_VERSIONS);
        insert.push_values(rows, |mut row, &i| {
            bind_case(&mut row, batch, i)
                .push_bind(sqlx::types::Json(&*batch.encoded.bodies[i]))
                .push_bind(batch.now)
                .push_bind(batch.mapping_version)
                .push_bind(batch.encoded.sealed_by);
        });
        insert.build().execute(&mut *self).await.map(|_| ())
    }

    async fn insert_outbox(&mut self, batch: &Batch<'_>, rows: &[(usize, bool)]) -> Result<(), sqlx::Error> {
        let mut insert = sqlx::QueryBuilder::new(INSERT_OUTBOX);
        insert.push_values(rows, |mut row, &(i, head)| {
            let c = &batch.cases[i];
            row.push_bind(batch.system_id)
                .push_bind(c.case_no.as_str())
                .push_bind(c.version)
                .push_bind(batch.encoded.hashes[i].as_str())
                .push(Backend::Sqlite.now())
                .push_bind("pending")
                .push_bind(0_i64)
                .push(Backend::Sqlite.now())
                .push_bind(head);
        });
        insert.push(OUTBOX_CONFLICT);
        insert.build().execute(&mut *self).await.map(|_| ())
    }
}

impl RowInserts for PgConnection {
    async fn insert_versions(&mut self, batch: &Batch<'_>, rows: &[usize]) -> Result<(), sqlx::Error> {
        let (cases, encoded) = (batch.cases, batch.encoded);
        sqlx::query(INSERT_VERSIONS_ARRAYS)
            .bind(batch.system_id)
            .bind(column(rows, |&i| cases[i].case_no.as_str()))
            .bind(column(rows, |&i| cases[i].version))
            .bind(column(rows, |&i| encoded.hashes[i].as_str()))
            .bind(column(rows, |&i| cases[i].stage.name()))
            .bind(column(rows, |&i| encoded.bodies[i].get()))
            .bind(batch.now)
            .bind(batch.mapping_version)
            .bind(batch.encoded.sealed_by)
            .execute(&mut *self)
            .await
            .map(|_| ())
    }

    async fn insert_outbox(&mut self, batch: &Batch<'_>, rows: &[(usize, bool)]) -> Result<(), sqlx::Error> {
        let (cases, encoded) = (batch.cases, batch.encoded);
        sqlx::query(INSERT_OUTBOX_ARRAYS)
            .bind(batch.system_id)
            .bind(column(rows, |&(i, _)| cases[i].case_no.as_str()))
            .bind(column(rows, |&(i, _)| cases[i].version))
            .bind(column(rows, |&(i, _)| encoded.hashes[i].as_str()))
            .bind(column(rows, |&(_, head)| head))
            .execute(&mut *self)
            .await
            .map(|_| ())
    }
}

/// The statements of a batch upsert, and the logic over them.
pub(crate) trait CaseWrites: AuditLog + CaseLocks + RowInserts + Send {
    /// Rows of `table` for these cases, `columns` those `R` reads (see `rows_of_cases_sql`).
    async fn keyed_rows<R: AnyRow>(
        &mut self,
        table_and_columns: (&str, &str),
        system_id: &str,
        keys: &[&str],
    ) -> Result<Vec<R>, sqlx::Error>;

    /// Makes the batch's cases at `rows` current, where newer than what is held.
    async fn upsert_current(&mut self, batch: &Batch<'_>, rows: &[usize]) -> Result<(), sqlx::Error>;

    /// Resolves the open quality items of these cases that a stored version now supersedes (a
    /// version at least theirs, or theirs unknown); answers their ids.
    async fn resolve_superseded(
        &mut self,
        system_id: &str,
        keys: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, sqlx::Error>;

    /// Which of these cases have an open outbox item (see `open_cases_sql`).
    async fn open_cases(&mut self, system_id: &str, keys: &[&str]) -> Result<Vec<String>, sqlx::Error>;

    /// Writes one batch; answers one outcome per case in input order and whether anything was
    /// enqueued (then call `outbox::wake_workers()` after the commit).
    async fn upsert_batch(&mut self, batch: &Batch<'_>) -> Result<(Vec<UpsertOutcome>, bool), StoreError> {
        let (system_id, cases, keys) = (batch.system_id, batch.cases, &batch.encoded.keys);
        self.lock_cases(system_id, keys).await?;
        let mut current = HashMap::new();
        for CurrentRow {
            case_no,
            version,
            stage,
        } in self.keyed_rows(CURRENT, system_id, keys).await?
        {
            let stage = Stage::parse(&stage).ok_or_else(|| StoreError::Corrupt {
                what: "case",
                detail: format!("{system_id}/{case_no}: unknown stage {stage:?}"),
            })?;
            current.insert(case_no, (version, stage));
        }
        // An outbox item is written with its case's current row, and neither is ever deleted:
        // only a case held already can have one open (a migration's cases are all new).
        let held: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| current.contains_key(*k))
            .collect();
        let known = self
            .keyed_rows(KNOWN, system_id, keys)
            .await?
            .into_iter()
            .map(|row: StoredVersion| ((row.case_no, row.version), row.content_hash))
            .collect();

        let plan = plan(cases, &batch.encoded.hashes, current, known);
        if !plan.versions.is_empty() {
            self.insert_versions(batch, &plan.versions).await?;
            let resolved = self.resolve_superseded(system_id, keys, batch.now).await?;
            if !resolved.is_empty() {
                self.append_audit(
                    "ronghe:intake",
                    "quality.resolve",
                    &format!("quality/{system_id}"),
                    serde_json::json!({ "items": resolved, "why": "superseded by a stored version" }),
                )
                .await?;
            }
        }
        if !plan.current.is_empty() {
            let rows: Vec<usize> = plan.current.values().copied().collect();
            self.upsert_current(batch, &rows).await?;
        }
        let enqueue: Vec<usize> = plan
            .versions
            .iter()
            .copied()
            .filter(|&i| matches!(plan.outcomes[i], UpsertOutcome::Created | UpsertOutcome::Updated))
            .collect();
        if enqueue.is_empty() {
            return Ok((plan.outcomes, false));
        }
        // A new version heads its case when nothing of the case is open yet and it is the lowest
        // version enqueued now (issue 22); the case locks taken above keep a delivery from moving
        // the head meanwhile.
        let open: HashSet<String> = if held.is_empty() {
            HashSet::new()
        } else {
            self.open_cases(system_id, &held).await?.into_iter().collect()
        };
        let mut lowest: HashMap<&str, i64> = HashMap::new();
        for &i in &enqueue {
            let c = &cases[i];
            let v = lowest.entry(c.case_no.as_str()).or_insert(c.version);
            *v = (*v).min(c.version);
        }
        let rows: Vec<(usize, bool)> = enqueue
            .into_iter()
            .map(|i| {
                let c = &cases[i];
                (
                    i,
                    !open.contains(&c.case_no) && lowest.get(c.case_no.as_str()) == Some(&c.version),
                )
            })
            .collect();
        self.insert_outbox(batch, &rows).await?;
        Ok((plan.outcomes, true))
    }
}

/// `UPDATE quality_items … RETURNING id` for `count` case numbers from `$2`, the time at the next.
fn resolve_superseded_sql(count: usize) -> String {
    format!(
        "UPDATE quality_items SET status = 'resolved', resolved_at = ${at},
             note = '已由入库的新版本更正 superseded by a stored version of the case'
         WHERE system_id = $1 AND status = 'open' AND case_no IN ({list})
           AND (version IS NULL OR version <= (SELECT MAX(v.version) FROM case_versions v
                WHERE v.system_id = quality_items.system_id AND v.case_no = quality_items.case_no))
         RETURNING id",
        at = count + 2,
        list = placeholders(2, count),
    )
}

/// Binds the columns a row of the batch's case at `i` starts with in `case_versions` and
/// `cases`: system, number, version, content hash, stage.
fn bind_case<'s, 'qb, DB>(
    row: &'s mut Separated<'qb, DB, &'static str>,
    batch: &Batch<'_>,
    i: usize,
) -> &'s mut Separated<'qb, DB, &'static str>
where
    DB: sqlx::Database,
    for<'t> &'t str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let c = &batch.cases[i];
    row.push_bind(batch.system_id)
        .push_bind(c.case_no.as_str())
        .push_bind(c.version)
        .push_bind(batch.encoded.hashes[i].as_str())
        .push_bind(c.stage.name())
}

const INSERT_VERSIONS: &str = "INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at, mapping_version, sealed_by) ";

/// The current row names its version; the body is that version's row (stored once, issue 17).
/// `changed_on` is the Beijing day of its `updated_at`, for a day's reconciliation;
/// `applicant_index` the blind index of its applicant's certificate number (issue 20).
const UPSERT_CURRENT: &str = "INSERT INTO cases (system_id, case_no, version, content_hash, stage, item_name, region_code, applied_at, received_at, mapping_version, changed_on, applicant_index) ";

const UPSERT_CURRENT_CONFLICT: &str =
    " ON CONFLICT (system_id, case_no) DO UPDATE SET version = excluded.version,
      content_hash = excluded.content_hash, stage = excluded.stage, item_name = excluded.item_name,
      region_code = excluded.region_code, applied_at = excluded.applied_at, received_at = excluded.received_at, mapping_version = excluded.mapping_version, changed_on = excluded.changed_on,
      applicant_index = excluded.applicant_index
      WHERE cases.version < excluded.version";

/// One column of the rows as an array to bind.
fn column<R, T>(rows: &[R], value: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

/// PostgreSQL's: the batch's columns as arrays (`RowInserts`).
const INSERT_VERSIONS_ARRAYS: &str = "INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at, mapping_version, sealed_by)
     SELECT $1, t.case_no, t.version, t.content_hash, t.stage, t.body::jsonb, $7, $8, $9
     FROM unnest($2::text[], $3::int8[], $4::text[], $5::text[], $6::text[]) AS t(case_no, version, content_hash, stage, body)";

const INSERT_OUTBOX: &str = "INSERT INTO exchange_outbox (system_id, case_no, version, content_hash, enqueued_at, state, attempts, next_attempt_at, head) ";

/// PostgreSQL's: the batch's columns as arrays (`RowInserts`).
const INSERT_OUTBOX_ARRAYS: &str = "INSERT INTO exchange_outbox (system_id, case_no, version, content_hash, enqueued_at, state, attempts, next_attempt_at, head)
     SELECT $1, t.case_no, t.version, t.content_hash, now(), 'pending', 0, now(), t.head
     FROM unnest($2::text[], $3::int8[], $4::text[], $5::bool[]) AS t(case_no, version, content_hash, head)
     ON CONFLICT (system_id, case_no, version) DO NOTHING";

const OUTBOX_CONFLICT: &str = " ON CONFLICT (system_id, case_no, version) DO NOTHING";

/// Stamps out `CaseWrites`'s statements for a backend's connection (no logic: one statement
/// each, its binds).
macro_rules! case_statements {
    ($conn:ty, $backend:expr) => {
        impl CaseWrites for $conn {
            async fn keyed_rows<R: AnyRow>(
                &mut self,
                (table, columns): (&str, &str),
                system_id: &str,
                keys: &[&str],
            ) -> Result<Vec<R>, sqlx::Error> {
                let sql = rows_of_cases_sql($backend, table, columns, keys.len());
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(system_id);
                bind_keys(query, keys).fetch_all(&mut *self).await
            }

            async fn upsert_current(&mut self, batch: &Batch<'_>, rows: &[usize]) -> Result<(), sqlx::Error> {
                let mut upsert = sqlx::QueryBuilder::new(UPSERT_CURRENT);
                upsert.push_values(rows, |mut row, &i| {
                    let c = &batch.cases[i];
                    bind_case(&mut row, batch, i)
                        .push_bind(c.item_name.as_str())
                        .push_bind(c.region_code.as_str())
                        .push_bind(c.applied_at.with_timezone(&Utc))
                        .push_bind(batch.now)
                        .push_bind(batch.mapping_version)
                        .push_bind(beijing_day(c))
                        .push_bind(batch.encoded.applicants[i].as_deref());
                });
                upsert.push(UPSERT_CURRENT_CONFLICT);
                upsert.build().execute(&mut *self).await.map(|_| ())
            }

            async fn resolve_superseded(
                &mut self,
                system_id: &str,
                keys: &[&str],
                now: DateTime<Utc>,
            ) -> Result<Vec<i64>, sqlx::Error> {
                let sql = resolve_superseded_sql(keys.len());
                let query = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(system_id);
                let rows = bind_keys(query, keys)
                    .bind(now)
                    .fetch_all(&mut *self)
                    .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn open_cases(
                &mut self,
                system_id: &str,
                keys: &[&str],
            ) -> Result<Vec<String>, sqlx::Error> {
                let query = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(open_cases_sql(keys.len())))
                    .bind(system_id);
                let rows = bind_keys(query, keys).fetch_all(&mut *self).await?;
                Ok(rows.into_iter().map(|(case_no,)| case_no).collect())
            }
        }
    };
}
case_statements!(SqliteConnection, Backend::Sqlite);
case_statements!(PgConnection, Backend::Postgres);
