//! Cases in the store: the current version of each case and every version ever received.
//!
//! The upsert is idempotent by (system, case number, version): a repeated version is a no-op, an
//! older version goes into the history without touching the current one, and a version that
//! would move the case backwards through its stages is refused. Batches are written with
//! multi-row statements inside one transaction; concurrent writers of one case are serialised
//! (SQLite: the write lock taken at BEGIN; PostgreSQL: an advisory lock per case).
//!
//! Every version that becomes current (`Created`, `Updated`) is put in the exchange outbox in the
//! same transaction, so a case acknowledged to its system is never missing from the exchange's
//! queue. A stale version is kept in the history and not delivered: the exchange already has a
//! newer fact of that case.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;

use serde_json::value::RawValue;

use super::{Store, StoreError, on_pool};
use crate::case::{Case, Stage};

/// Serialises concurrent writers of the same cases within a transaction.
pub(super) trait LockKeys {
    async fn lock_keys(&mut self, system_id: &str, keys: &[&str]) -> Result<(), sqlx::Error>;
}

impl LockKeys for sqlx::Transaction<'_, sqlx::Sqlite> {
    /// Nothing to do: `BEGIN IMMEDIATE` already holds the database's one write lock.
    async fn lock_keys(&mut self, _: &str, _: &[&str]) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl LockKeys for sqlx::Transaction<'_, sqlx::Postgres> {
    /// One advisory lock per case, taken in hash order in one statement: every writer locks in
    /// the same order, so none deadlock.
    async fn lock_keys(&mut self, system_id: &str, keys: &[&str]) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(h) FROM (
                 SELECT DISTINCT hashtextextended($1 || '/' || k, 0) AS h FROM unnest($2::text[]) AS k ORDER BY h
             ) AS sorted",
        )
        .bind(system_id)
        .bind(keys)
        .execute(&mut **self)
        .await
        .map(|_| ())
    }
}

/// Rows per multi-row statement: well under every backend's bind-parameter limit.
pub(super) const CHUNK_ROWS: usize = 500;

/// What the upsert did with one incoming case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UpsertOutcome {
    /// The first version of a case the platform holds.
    Created,
    /// A newer version; it is now the current one.
    Updated,
    /// An older version than the current one: kept in the history only.
    Stale,
    /// This very version was received before, with the same content.
    Duplicate,
    /// Refused; nothing was written for it.
    Rejected { reason: RejectReason },
}

/// Why the store refused a case version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RejectReason {
    /// The same version number arrived before with different content.
    VersionConflict { version: i64 },
    /// The version would move the case from `from` to `to`, which the stage machine forbids.
    IllegalTransition {
        #[schema(value_type = String)]
        from: Stage,
        #[schema(value_type = String)]
        to: Stage,
    },
}

/// The current version of a case.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CaseRecord {
    pub system_id: String,
    pub version: i64,
    pub content_hash: String,
    pub received_at: DateTime<Utc>,
    pub case: Case,
    /// The version of the mapping that produced it; none for cases imported as canonical.
    pub mapping_version: Option<String>,
}

/// One received version of a case.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CaseVersion {
    pub version: i64,
    pub content_hash: String,
    #[schema(value_type = String)]
    pub stage: Stage,
    pub received_at: DateTime<Utc>,
    pub case: Case,
    /// The version of the mapping that produced it; none for cases imported as canonical.
    pub mapping_version: Option<String>,
}

/// The plan for one batch: what to write, decided under the lock from what is stored.
pub(super) struct Plan<'a> {
    pub(super) outcomes: Vec<UpsertOutcome>,
    /// Indexes of incoming cases to add to the history.
    pub(super) versions: Vec<usize>,
    /// The newest incoming version per case number that becomes current.
    pub(super) current: HashMap<&'a str, usize>,
}

pub(super) fn plan<'a>(
    cases: &'a [Case],
    hashes: &[String],
    mut current: HashMap<String, (i64, Stage)>,
    mut known: HashMap<(String, i64), String>,
) -> Plan<'a> {
    let mut plan = Plan {
        outcomes: Vec::with_capacity(cases.len()),
        versions: Vec::new(),
        current: HashMap::new(),
    };
    for (i, case) in cases.iter().enumerate() {
        let key = (case.case_no.clone(), case.version);
        let outcome = if let Some(stored) = known.get(&key) {
            if *stored == hashes[i] {
                UpsertOutcome::Duplicate
            } else {
                UpsertOutcome::Rejected {
                    reason: RejectReason::VersionConflict {
                        version: case.version,
                    },
                }
            }
        } else {
            match current.get(&case.case_no).copied() {
                Some((version, _)) if case.version < version => UpsertOutcome::Stale,
                Some((_, stage)) if !stage.can_move_to(case.stage) => UpsertOutcome::Rejected {
                    reason: RejectReason::IllegalTransition {
                        from: stage,
                        to: case.stage,
                    },
                },
                existing => {
                    current.insert(case.case_no.clone(), (case.version, case.stage));
                    plan.current.insert(&case.case_no, i);
                    if existing.is_some() {
                        UpsertOutcome::Updated
                    } else {
                        UpsertOutcome::Created
                    }
                }
            }
        };
        if matches!(
            outcome,
            UpsertOutcome::Created | UpsertOutcome::Updated | UpsertOutcome::Stale
        ) {
            known.insert(key, hashes[i].clone());
            plan.versions.push(i);
        }
        plan.outcomes.push(outcome);
    }
    plan
}

/// A batch of cases serialised once: the stored bodies and their content hashes come from the
/// same bytes, with the batch's distinct case numbers (sorted, for locking) and their placeholders.
pub(super) struct Encoded<'a> {
    pub(super) bodies: Vec<Box<RawValue>>,
    pub(super) hashes: Vec<String>,
    pub(super) keys: Vec<&'a str>,
    pub(super) list: String,
}

impl<'a> Encoded<'a> {
    pub(super) fn of(cases: &'a [Case]) -> Result<Encoded<'a>, StoreError> {
        let (bodies, hashes): (Vec<Box<RawValue>>, Vec<String>) = cases
            .iter()
            .map(Case::encoded)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt {
                what: "case",
                detail: e.to_string(),
            })?
            .into_iter()
            .unzip();
        let mut keys: Vec<&str> = cases.iter().map(|c| c.case_no.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        let list = super::placeholders(2, keys.len());
        Ok(Encoded {
            bodies,
            hashes,
            keys,
            list,
        })
    }
}

/// Upserts one batch (at most `CHUNK_ROWS` distinct cases) inside the caller's write transaction
/// `$tx` (opened with `Backend::begin_write`), so that other writes can share its commit (bulk
/// migration commits a chunk's cases with its checkpoint). Evaluates to `(outcomes, enqueued)`:
/// when `enqueued`, call `outbox::wake_workers()` after the commit.
/// Inside `upsert_in_tx!`, after new versions are stored: resolves the system's open quality
/// items of these cases (`keys`, placeholders `list` from `$2`) that a stored version now
/// supersedes (a version at least theirs, or theirs unknown): the source corrected them. One
/// `quality.resolve` audit event names them.
macro_rules! resolve_superseded {
    ($tx:ident, $system_id:expr, $keys:expr, $list:expr, $now:expr) => {{
        let keys: &[&str] = $keys;
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE quality_items SET status = 'resolved', resolved_at = ${at},
                 note = '已由入库的新版本更正 superseded by a stored version of the case'
             WHERE system_id = $1 AND status = 'open' AND case_no IN ({list})
               AND (version IS NULL OR version <= (SELECT MAX(v.version) FROM case_versions v
                    WHERE v.system_id = quality_items.system_id AND v.case_no = quality_items.case_no))
             RETURNING id",
            at = keys.len() + 2,
            list = $list,
        ));
        let mut query = sqlx::query_as::<_, (i64,)>(sql).bind($system_id);
        for key in keys {
            query = query.bind(*key);
        }
        let resolved: Vec<i64> = query.bind($now).fetch_all(&mut *$tx).await?.into_iter().map(|(id,)| id).collect();
        if !resolved.is_empty() {
            $crate::store::audit!($tx, "ronghe:intake", "quality.resolve", &format!("quality/{}", $system_id),
                serde_json::json!({ "items": resolved, "why": "superseded by a stored version" }))?;
        }
    }};
}
pub(crate) use resolve_superseded;

macro_rules! upsert_in_tx {
    ($tx:ident, $backend:expr, $system_id:expr, $cases:expr, $encoded:expr, $now:expr, $mapping_version:expr) => {{
        let backend: $crate::store::Backend = $backend;
        let system_id: &str = $system_id;
        let cases: &[$crate::case::Case] = $cases;
        let encoded: &$crate::store::cases::Encoded<'_> = $encoded;
        let now: chrono::DateTime<chrono::Utc> = $now;
        let mapping_version: Option<&str> = $mapping_version;
        let (bodies, hashes, keys, list) = (&encoded.bodies, &encoded.hashes, &encoded.keys, &encoded.list);
        $crate::store::cases::LockKeys::lock_keys(&mut $tx, system_id, keys).await?;
        let sql = sqlx::AssertSqlSafe($crate::store::rows_of_cases_sql(
            backend, "cases", "t.case_no, t.version, t.stage", keys.len(),
        ));
        let mut query = sqlx::query_as::<_, (String, i64, String)>(sql).bind(system_id);
        for key in keys {
            query = query.bind(*key);
        }
        let mut current = std::collections::HashMap::new();
        for (case_no, version, stage) in query.fetch_all(&mut *$tx).await? {
            let stage = $crate::case::Stage::parse(&stage).ok_or_else(|| $crate::store::StoreError::Corrupt {
                what: "case",
                detail: format!("{system_id}/{case_no}: unknown stage {stage:?}"),
            })?;
            current.insert(case_no, (version, stage));
        }
        let sql = sqlx::AssertSqlSafe($crate::store::rows_of_cases_sql(
            backend, "case_versions", "t.case_no, t.version, t.content_hash", keys.len(),
        ));
        let mut query = sqlx::query_as::<_, (String, i64, String)>(sql).bind(system_id);
        for key in keys {
            query = query.bind(*key);
        }
        let known = query
            .fetch_all(&mut *$tx)
            .await?
            .into_iter()
            .map(|(no, v, h)| ((no, v), h))
            .collect();

        let plan = $crate::store::cases::plan(cases, hashes, current, known);
        if !plan.versions.is_empty() {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at, mapping_version) ",
            );
            insert.push_values(&plan.versions, |mut row, &i| {
                let c = &cases[i];
                row.push_bind(system_id.to_owned())
                    .push_bind(c.case_no.clone())
                    .push_bind(c.version)
                    .push_bind(hashes[i].clone())
                    .push_bind(c.stage.name())
                    .push_bind(sqlx::types::Json(bodies[i].clone()))
                    .push_bind(now)
                    .push_bind(mapping_version);
            });
            insert.build().execute(&mut *$tx).await?;
            $crate::store::cases::resolve_superseded!($tx, system_id, keys, list, now);
        }
        if !plan.current.is_empty() {
            let mut upsert = sqlx::QueryBuilder::new(
                "INSERT INTO cases (system_id, case_no, version, content_hash, stage, item_name, region_code, applied_at, body, received_at, mapping_version) ",
            );
            upsert.push_values(plan.current.values(), |mut row, &i| {
                let c = &cases[i];
                row.push_bind(system_id.to_owned())
                    .push_bind(c.case_no.clone())
                    .push_bind(c.version)
                    .push_bind(hashes[i].clone())
                    .push_bind(c.stage.name())
                    .push_bind(c.item_name.clone())
                    .push_bind(c.region_code.clone())
                    .push_bind(c.applied_at.with_timezone(&chrono::Utc))
                    .push_bind(sqlx::types::Json(bodies[i].clone()))
                    .push_bind(now)
                    .push_bind(mapping_version);
            });
            upsert.push(
                " ON CONFLICT (system_id, case_no) DO UPDATE SET version = excluded.version,
                  content_hash = excluded.content_hash, stage = excluded.stage, item_name = excluded.item_name,
                  region_code = excluded.region_code, applied_at = excluded.applied_at, body = excluded.body,
                  received_at = excluded.received_at, mapping_version = excluded.mapping_version
                  WHERE cases.version < excluded.version",
            );
            upsert.build().execute(&mut *$tx).await?;
        }
        let mut enqueue = plan
            .versions
            .iter()
            .copied()
            .filter(|&i| {
                matches!(
                    plan.outcomes[i],
                    $crate::store::UpsertOutcome::Created | $crate::store::UpsertOutcome::Updated
                )
            })
            .peekable();
        let enqueued = enqueue.peek().is_some();
        if enqueued {
            // A new version heads its case when nothing of the case is open yet and it is the
            // lowest version enqueued now (issue 22); the case locks taken above keep a delivery
            // from moving the head meanwhile. One lookup by key, whatever the statistics say
            // (see `open_cases_sql`).
            let sql = sqlx::AssertSqlSafe($crate::store::open_cases_sql(keys.len()));
            let mut query = sqlx::query_as::<_, (String,)>(sql).bind(system_id);
            for key in keys {
                query = query.bind(*key);
            }
            let open: std::collections::HashSet<String> =
                query.fetch_all(&mut *$tx).await?.into_iter().map(|(case_no,)| case_no).collect();
            let enqueue: Vec<usize> = enqueue.collect();
            let mut lowest: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
            for &i in &enqueue {
                let c = &cases[i];
                let v = lowest.entry(c.case_no.as_str()).or_insert(c.version);
                *v = (*v).min(c.version);
            }
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO exchange_outbox (system_id, case_no, version, content_hash, enqueued_at, state, attempts, next_attempt_at, head) ",
            );
            insert.push_values(enqueue.iter().copied(), |mut row, i| {
                let c = &cases[i];
                let head = !open.contains(&c.case_no) && lowest.get(c.case_no.as_str()) == Some(&c.version);
                row.push_bind(system_id.to_owned())
                    .push_bind(c.case_no.clone())
                    .push_bind(c.version)
                    .push_bind(hashes[i].clone())
                    // Enqueued and due by the database's clock, as every claim compares (issue 22).
                    .push(backend.now())
                    .push_bind("pending")
                    .push_bind(0_i64)
                    .push(backend.now())
                    .push_bind(head);
            });
            insert.push(" ON CONFLICT (system_id, case_no, version) DO NOTHING");
            insert.build().execute(&mut *$tx).await?;
        }
        (plan.outcomes, enqueued)
    }};
}
pub(crate) use upsert_in_tx;

/// One case's current version, by the primary key (public for the plan tests).
#[doc(hidden)]
pub const GET_CASE: &str =
    "SELECT system_id, version, content_hash, received_at, body, mapping_version FROM cases
                            WHERE system_id = $1 AND case_no = $2";

/// Every stored version of one case, by the primary key's prefix (public for the plan tests).
#[doc(hidden)]
pub const CASE_HISTORY: &str =
    "SELECT version, content_hash, stage, received_at, body, mapping_version FROM case_versions
                                WHERE system_id = $1 AND case_no = $2 ORDER BY version";

type CaseRow = (String, i64, String, DateTime<Utc>, Json<Case>, Option<String>);
type VersionRow = (i64, String, String, DateTime<Utc>, Json<Case>, Option<String>);

impl Store {
    /// Stores a batch of cases from one system, returning one outcome per case in input order.
    pub async fn upsert_cases(
        &self,
        system_id: &str,
        cases: &[Case],
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        self.upsert_mapped(system_id, cases, None).await
    }

    /// `upsert_cases` for cases a mapping produced: each stored version records the mapping's
    /// version, so it is clear which mapping made it.
    pub async fn upsert_mapped(
        &self,
        system_id: &str,
        cases: &[Case],
        mapping_version: Option<&str>,
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(cases.len());
        for chunk in cases.chunks(CHUNK_ROWS) {
            outcomes.extend(self.upsert_chunk(system_id, chunk, mapping_version).await?);
        }
        Ok(outcomes)
    }

    async fn upsert_chunk(
        &self,
        system_id: &str,
        cases: &[Case],
        mapping_version: Option<&str>,
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        let encoded = Encoded::of(cases)?;
        let now = crate::systems::stamp(Utc::now());
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let (outcomes, enqueued) = upsert_in_tx!(tx, backend, system_id, cases, &encoded, now, mapping_version);
            tx.commit().await?;
            if enqueued {
                super::outbox::wake_workers();
            }
            Ok(outcomes)
        })
    }

    /// The current version of one case.
    pub async fn get_case(&self, system_id: &str, case_no: &str) -> Result<CaseRecord, StoreError> {
        let row: Option<CaseRow> = on_pool!(self, pool => {
            sqlx::query_as(GET_CASE)
            .bind(system_id)
            .bind(case_no)
            .fetch_optional(pool)
            .await?
        });
        let (system_id, version, content_hash, received_at, Json(case), mapping_version) =
            row.ok_or_else(|| StoreError::NotFound {
                what: "case",
                id: format!("{system_id}/{case_no}"),
            })?;
        Ok(CaseRecord {
            system_id,
            version,
            content_hash,
            received_at,
            case,
            mapping_version,
        })
    }

    /// Every case the platform holds for a system (current versions): case number, version,
    /// content hash and the case, by case number.
    pub async fn system_cases(
        &self,
        system_id: &str,
    ) -> Result<Vec<(String, i64, String, Case)>, StoreError> {
        let rows: Vec<(String, i64, String, Json<Case>)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT case_no, version, content_hash, body FROM cases WHERE system_id = $1 ORDER BY case_no",
            )
            .bind(system_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(no, version, hash, Json(case))| (no, version, hash, case))
            .collect())
    }

    /// Every received version of one case, oldest first.
    pub async fn case_history(&self, system_id: &str, case_no: &str) -> Result<Vec<CaseVersion>, StoreError> {
        let rows: Vec<VersionRow> = on_pool!(self, pool => {
            sqlx::query_as(CASE_HISTORY)
            .bind(system_id)
            .bind(case_no)
            .fetch_all(pool)
            .await?
        });
        if rows.is_empty() {
            return Err(StoreError::NotFound {
                what: "case",
                id: format!("{system_id}/{case_no}"),
            });
        }
        rows.into_iter()
            .map(
                |(version, content_hash, stage, received_at, Json(case), mapping_version)| {
                    let stage = Stage::parse(&stage).ok_or_else(|| StoreError::Corrupt {
                        what: "case version",
                        detail: format!("unknown stage {stage:?}"),
                    })?;
                    Ok(CaseVersion {
                        version,
                        content_hash,
                        stage,
                        received_at,
                        case,
                        mapping_version,
                    })
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(no: &str, version: i64, stage: Stage) -> Case {
        let mut c: Case = serde_json::from_str(include_str!("../../tests/data/case_finished.json")).unwrap();
        c.case_no = no.into();
        c.version = version;
        c.stage = stage;
        c
    }

    fn outcomes(
        cases: &[Case],
        current: &[(&str, i64, Stage)],
        known: &[(&str, i64, &str)],
    ) -> Vec<UpsertOutcome> {
        let hashes: Vec<String> = cases.iter().map(|c| format!("h{}", c.version)).collect();
        let current = current
            .iter()
            .map(|(n, v, s)| ((*n).to_owned(), (*v, *s)))
            .collect();
        let known = known
            .iter()
            .map(|(n, v, h)| (((*n).to_owned(), *v), (*h).to_owned()))
            .collect();
        plan(cases, &hashes, current, known).outcomes
    }

    #[test]
    fn plan_classifies_each_version() {
        use UpsertOutcome::*;
        let batch = [
            case("a", 1, Stage::Application),
            case("a", 1, Stage::Application),
            case("a", 3, Stage::Review),
            case("a", 2, Stage::Acceptance),
            case("b", 5, Stage::Review),
            case("c", 9, Stage::Review),
        ];
        let got = outcomes(&batch, &[("b", 4, Stage::Finished)], &[("c", 9, "other")]);
        assert_eq!(
            got,
            vec![
                Created,
                Duplicate,
                Updated,
                Stale,
                Rejected {
                    reason: RejectReason::IllegalTransition {
                        from: Stage::Finished,
                        to: Stage::Review
                    }
                },
                Rejected {
                    reason: RejectReason::VersionConflict { version: 9 }
                },
            ]
        );
    }
}
