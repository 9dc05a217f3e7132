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

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::types::Json;

use serde_json::value::RawValue;

use super::case_writes::{Batch, CaseWrites};
use super::sealing::Sealing;
use super::{Store, StoreError, on_pool};
use crate::case::{Case, Serialised, Stage};

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

/// A batch of cases serialised once: the content hashes over each clear case, the stored bodies
/// (personal values sealed under `sealed_by`, the active key, when the store has keys), and the
/// batch's distinct case numbers (sorted, for locking).
pub(super) struct Encoded<'a> {
    pub(super) bodies: Vec<Box<RawValue>>,
    pub(super) hashes: Vec<String>,
    pub(super) keys: Vec<&'a str>,
    pub(super) sealed_by: Option<&'a str>,
    /// Each case's applicant's blind index (with keys), for the current row.
    pub(super) applicants: Vec<Option<String>>,
}

impl<'a> Encoded<'a> {
    pub(super) fn of(
        system_id: &str,
        cases: &'a [Case],
        sealing: &'a Sealing,
    ) -> Result<Encoded<'a>, StoreError> {
        let serialised = cases
            .iter()
            .map(Case::encoded)
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt)?;
        Encoded::with(system_id, cases, serialised, sealing)
    }

    /// As `of`, from each case's canonical JSON and hash serialised already (in input order; a
    /// migration serialises on its mapping threads, not on its one writer).
    pub(super) fn with(
        system_id: &str,
        cases: &'a [Case],
        serialised: Vec<Serialised>,
        sealing: &'a Sealing,
    ) -> Result<Encoded<'a>, StoreError> {
        if serialised.len() != cases.len() {
            return Err(StoreError::Corrupt {
                what: "case",
                detail: format!("{} cases with {} serialisations", cases.len(), serialised.len()),
            });
        }
        let mut bodies = Vec::with_capacity(cases.len());
        let mut hashes = Vec::with_capacity(cases.len());
        for (case, (clear, hash)) in cases.iter().zip(serialised) {
            let body = match sealing.seal_case(system_id, case)? {
                Cow::Borrowed(_) => clear,
                Cow::Owned(sealed) => serde_json::value::to_raw_value(&sealed).map_err(corrupt)?,
            };
            bodies.push(body);
            hashes.push(hash);
        }
        let mut keys: Vec<&str> = cases.iter().map(|c| c.case_no.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        Ok(Encoded {
            bodies,
            hashes,
            keys,
            sealed_by: sealing.active_key(),
            applicants: cases.iter().map(|c| sealing.applicant_index(c)).collect(),
        })
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        what: "case",
        detail: e.to_string(),
    }
}

/// A current case without its body: what reconciliation compares.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CurrentCase {
    pub case_no: String,
    pub version: i64,
    pub content_hash: String,
    /// The Beijing day its current version last changed (`reconciliation::beijing_day`).
    pub changed_on: Option<NaiveDate>,
}

/// A stored version of a case, without its body: what a batch's upsert and a migration's
/// reconciliation compare.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredVersion {
    pub case_no: String,
    pub version: i64,
    pub content_hash: String,
}

/// One case's current version, by the primary key (public for the plan tests).
#[doc(hidden)]
pub const GET_CASE: &str = concat!(
    "SELECT c.system_id, c.version, c.content_hash, c.received_at, v.body, c.mapping_version, v.sealed_by ",
    "FROM cases c JOIN case_versions v ",
    "ON v.system_id = c.system_id AND v.case_no = c.case_no AND v.version = c.version ",
    "WHERE c.system_id = $1 AND c.case_no = $2"
);

/// A system's current cases that changed on a day, by `cases_changed_on` (public for the plan
/// tests).
#[doc(hidden)]
pub const CASES_CHANGED_ON: &str = "SELECT case_no, version, content_hash, changed_on FROM cases
                                    WHERE system_id = $1 AND changed_on = $2";

/// Every stored version of one case, by the primary key's prefix (public for the plan tests).
#[doc(hidden)]
pub const CASE_HISTORY: &str =
    "SELECT version, content_hash, stage, received_at, body, mapping_version, sealed_by FROM case_versions
                                WHERE system_id = $1 AND case_no = $2 ORDER BY version";

/// A current case's row as read through `GET_CASE`: its version's body and sealing key joined.
#[derive(sqlx::FromRow)]
pub(super) struct CaseRow {
    system_id: String,
    version: i64,
    content_hash: String,
    received_at: DateTime<Utc>,
    body: Json<Case>,
    mapping_version: Option<String>,
    sealed_by: Option<String>,
}

/// A stored version's row as read through `CASE_HISTORY`.
#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i64,
    content_hash: String,
    stage: String,
    received_at: DateTime<Utc>,
    body: Json<Case>,
    mapping_version: Option<String>,
    sealed_by: Option<String>,
}

impl VersionRow {
    /// The version of `system_id`'s case, its personal values opened.
    fn opened(self, system_id: &str, sealing: &Sealing) -> Result<CaseVersion, StoreError> {
        let stage = Stage::parse(&self.stage).ok_or_else(|| StoreError::Corrupt {
            what: "case version",
            detail: format!("unknown stage {:?}", self.stage),
        })?;
        Ok(CaseVersion {
            version: self.version,
            content_hash: self.content_hash,
            stage,
            received_at: self.received_at,
            case: sealing.open_case(system_id, self.body.0, self.sealed_by.as_deref())?,
            mapping_version: self.mapping_version,
        })
    }
}

impl Store {
    /// Stores a batch of cases from one system, returning one outcome per case in input order
    /// (a transaction per `CHUNK_ROWS`; the intake commits through `commit_group` instead).
    pub async fn upsert_cases(
        &self,
        system_id: &str,
        cases: &[Case],
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(cases.len());
        for chunk in cases.chunks(CHUNK_ROWS) {
            outcomes.extend(self.upsert_chunk(system_id, chunk).await?);
        }
        Ok(outcomes)
    }

    async fn upsert_chunk(&self, system_id: &str, cases: &[Case]) -> Result<Vec<UpsertOutcome>, StoreError> {
        let encoded = Encoded::of(system_id, cases, &self.sealing)?;
        let now = crate::systems::stamp(Utc::now());
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let batch = Batch { system_id, cases, encoded: &encoded, now, mapping_version: None };
            let (outcomes, enqueued) = CaseWrites::upsert_batch(&mut *tx, &batch).await?;
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
        let row = row.ok_or_else(|| StoreError::NotFound {
            what: "case",
            id: format!("{system_id}/{case_no}"),
        })?;
        self.record_of(row)
    }

    /// The `limit` cases of a system received last (current versions), newest first: what a
    /// system's console page lists.
    pub async fn recent_cases(&self, system_id: &str, limit: i64) -> Result<Vec<CaseRecord>, StoreError> {
        let rows: Vec<CaseRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT c.system_id, c.version, c.content_hash, c.received_at, v.body, c.mapping_version, v.sealed_by
                 FROM cases c JOIN case_versions v
                   ON v.system_id = c.system_id AND v.case_no = c.case_no AND v.version = c.version
                 WHERE c.system_id = $1 ORDER BY c.received_at DESC, c.case_no LIMIT $2",
            )
            .bind(system_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|row| self.record_of(row)).collect()
    }

    /// The current cases of a system that last changed on `day` (Beijing time), by case number:
    /// what a day's reconciliation and spot check read, through `cases_changed_on`.
    pub async fn cases_changed_on(
        &self,
        system_id: &str,
        day: NaiveDate,
    ) -> Result<Vec<CurrentCase>, StoreError> {
        let mut cases: Vec<CurrentCase> = on_pool!(self, pool => {
            sqlx::query_as(CASES_CHANGED_ON)
            .bind(system_id)
            .bind(day)
            .fetch_all(pool)
            .await?
        });
        // Sorted here: with an ORDER BY, SQLite walks the primary key (in case order) instead
        // of the day's index.
        cases.sort_unstable_by(|a, b| a.case_no.cmp(&b.case_no));
        Ok(cases)
    }

    /// The current versions of these cases of a system, those it holds, by primary key.
    pub async fn current_cases(
        &self,
        system_id: &str,
        keys: &[&str],
    ) -> Result<Vec<CurrentCase>, StoreError> {
        self.rows_of_cases(
            ("cases", "t.case_no, t.version, t.content_hash, t.changed_on"),
            system_id,
            keys,
        )
        .await
    }

    /// A `cases` row as its record, its personal values opened.
    pub(super) fn record_of(&self, row: CaseRow) -> Result<CaseRecord, StoreError> {
        let case = self
            .sealing
            .open_case(&row.system_id, row.body.0, row.sealed_by.as_deref())?;
        Ok(CaseRecord {
            system_id: row.system_id,
            version: row.version,
            content_hash: row.content_hash,
            received_at: row.received_at,
            case,
            mapping_version: row.mapping_version,
        })
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
            .map(|row| row.opened(system_id, &self.sealing))
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
