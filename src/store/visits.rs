//! Return visits (办件回访, Art. 15) in the store: the finished cases of a month to sample from,
//! a month's plan (one row per sampled case, with its seed), and each outcome, written under a
//! row lock with its audit event; a finding raises its correction request (Art. 28) in the same
//! transaction and links it.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use super::corrections::{CorrectionWrites, NewRequest};
use super::{CaseRecord, Guarded, Store, StoreError, audit, on_pool};
use crate::visits::{Candidate, Outcome, Satisfaction, Visit, VisitError};

#[derive(sqlx::FromRow)]
struct VisitRow {
    id: i64,
    month: String,
    system_id: String,
    case_no: String,
    implementation_code: String,
    item_name: String,
    seed: String,
    planned_by: String,
    planned_at: DateTime<Utc>,
    reached: Option<bool>,
    attempts: Option<i64>,
    handled_as_recorded: Option<bool>,
    satisfaction: Option<String>,
    note: Option<String>,
    finding: Option<String>,
    recorded_by: Option<String>,
    recorded_at: Option<DateTime<Utc>>,
    correction_id: Option<i64>,
}

const COLUMNS: &str = "id, month, system_id, case_no, implementation_code, item_name, seed, planned_by, planned_at, \
                       reached, attempts, handled_as_recorded, satisfaction, note, finding, recorded_by, recorded_at, \
                       correction_id";

fn corrupt(id: i64, detail: String) -> StoreError {
    StoreError::Corrupt {
        what: "return visit",
        detail: format!("visit {id}: {detail}"),
    }
}

fn from_row(row: VisitRow) -> Result<Visit, StoreError> {
    let seed = row
        .seed
        .parse()
        .map_err(|_| corrupt(row.id, format!("seed {:?} is not a number", row.seed)))?;
    let outcome = match (row.reached, row.attempts) {
        (Some(reached), Some(attempts)) => {
            let satisfaction = match row.satisfaction.as_deref() {
                None => None,
                Some(name) => Some(
                    Satisfaction::parse(name)
                        .ok_or_else(|| corrupt(row.id, format!("unknown satisfaction {name:?}")))?,
                ),
            };
            Some(Outcome {
                reached,
                attempts: u32::try_from(attempts).unwrap_or(0),
                handled_as_recorded: row.handled_as_recorded,
                satisfaction,
                note: row.note.unwrap_or_default(),
                finding: row.finding,
            })
        }
        _ => None,
    };
    Ok(Visit {
        id: row.id,
        month: row.month,
        system_id: row.system_id,
        case_no: row.case_no,
        implementation_code: row.implementation_code,
        item_name: row.item_name,
        seed,
        planned_by: row.planned_by,
        planned_at: row.planned_at,
        outcome,
        recorded_by: row.recorded_by,
        recorded_at: row.recorded_at,
        correction_id: row.correction_id,
    })
}

impl Store {
    /// The current cases in the finished stage (办结) whose current version changed between
    /// `first` and `last` (Beijing days, inclusive), of one system or all, by the
    /// `cases_changed_on` index: what a month's return visits sample from.
    pub async fn finished_cases_between(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        system: Option<&str>,
    ) -> Result<Vec<CaseRecord>, StoreError> {
        let rows: Vec<super::cases::CaseRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT c.system_id, c.version, c.content_hash, c.received_at, v.body, c.mapping_version, v.sealed_by
                 FROM cases c JOIN case_versions v
                   ON v.system_id = c.system_id AND v.case_no = c.case_no AND v.version = c.version
                 WHERE c.changed_on >= $1 AND c.changed_on <= $2 AND c.stage = 'finished'
                   AND ($3 IS NULL OR c.system_id = $3)",
            )
            .bind(first)
            .bind(last)
            .bind(system)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|row| self.record_of(row)).collect()
    }

    /// The systems that already have a plan for `month`.
    pub async fn systems_with_visits(&self, month: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = self
            .rows_by_key(
                "SELECT DISTINCT system_id FROM visits WHERE month = $1 ORDER BY system_id",
                month,
            )
            .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Stores `month`'s plan: one visit per sampled case, with the seed it was drawn with, and a
    /// `visit.plan` audit event (seed, size, systems). A system of the sample that already has a
    /// plan for the month is `AlreadyPlanned`, and nothing is stored.
    pub async fn plan_visits(
        &self,
        month: &str,
        seed: u64,
        sample: &[Candidate],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Visit>, Guarded<VisitError>> {
        let mut systems: Vec<&str> = sample.iter().map(|c| c.system_id.as_str()).collect();
        systems.sort_unstable();
        systems.dedup();
        let seed_text = seed.to_string();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            for system in &systems {
                let planned: Option<(i64,)> =
                    sqlx::query_as("SELECT id FROM visits WHERE system_id = $1 AND month = $2 LIMIT 1")
                        .bind(system)
                        .bind(month)
                        .fetch_optional(&mut *tx)
                        .await?;
                if planned.is_some() {
                    return Err(Guarded::Refused(VisitError::AlreadyPlanned {
                        month: month.to_owned(),
                        system: (*system).to_owned(),
                    }));
                }
            }
            for c in sample {
                sqlx::query(
                    "INSERT INTO visits (month, system_id, case_no, implementation_code, item_name, seed, planned_by, planned_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(month)
                .bind(&c.system_id)
                .bind(&c.case_no)
                .bind(&c.implementation_code)
                .bind(&c.item_name)
                .bind(&seed_text)
                .bind(actor)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            audit!(tx, actor, "visit.plan", &format!("visits/{month}"), json!({
                "seed": seed_text, "size": sample.len(), "systems": systems,
            }))?;
            tx.commit().await?;
        });
        let mut planned = self.visits(Some(month), None).await?;
        planned.retain(|v| systems.contains(&v.system_id.as_str()));
        Ok(planned)
    }

    /// The visits of a month, of a system, or all, by system, item and case.
    pub async fn visits(&self, month: Option<&str>, system: Option<&str>) -> Result<Vec<Visit>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM visits WHERE ($1 IS NULL OR month = $1) AND ($2 IS NULL OR system_id = $2)
             ORDER BY month, system_id, implementation_code, case_no"
        ));
        let rows: Vec<VisitRow> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(month).bind(system).fetch_all(pool).await?
        });
        rows.into_iter().map(from_row).collect()
    }

    /// One visit.
    pub async fn visit(&self, id: i64) -> Result<Visit, Guarded<VisitError>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM visits WHERE id = $1"));
        let row: Option<VisitRow> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        Ok(from_row(row.ok_or(Guarded::Refused(VisitError::NotFound(id)))?)?)
    }

    /// Records `outcome` (checked by the caller) for visit `id` under a row lock, with a
    /// `visit.record` audit event. A visit that already reached the applicant is `State`. A
    /// finding raises a correction request about the case, due on `due_on`, linked to the visit.
    pub async fn record_visit(
        &self,
        id: i64,
        outcome: &Outcome,
        due_on: NaiveDate,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Visit, Guarded<VisitError>> {
        let backend = self.backend();
        let select = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM visits WHERE id = $1{}",
            backend.row_lock()
        ));
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let row: Option<VisitRow> = sqlx::query_as(select).bind(id).fetch_optional(&mut *tx).await?;
            let current = from_row(row.ok_or(Guarded::Refused(VisitError::NotFound(id)))?)?;
            current.check_recordable().map_err(Guarded::Refused)?;
            let correction_id = match &outcome.finding {
                Some(finding) => {
                    let reason = format!("办件回访发现 return visit {id}: {}", finding.trim());
                    let case_no = Some(current.case_no.clone());
                    let new = NewRequest {
                        system_id: &current.system_id,
                        quality_item_id: None,
                        case_no: case_no.as_deref(),
                        reason: &reason,
                        due_on,
                        actor,
                        now,
                    };
                    let raised = tx.raise_in(&new).await
                        .map_err(|e| match e {
                            Guarded::Refused(e) => Guarded::Refused(VisitError::Correction(e)),
                            Guarded::Store(e) => Guarded::Store(e),
                        })?;
                    Some(raised)
                }
                None => current.correction_id,
            };
            sqlx::query(
                "UPDATE visits SET reached = $2, attempts = $3, handled_as_recorded = $4, satisfaction = $5,
                 note = $6, finding = $7, recorded_by = $8, recorded_at = $9, correction_id = $10 WHERE id = $1",
            )
            .bind(id)
            .bind(outcome.reached)
            .bind(i64::from(outcome.attempts))
            .bind(outcome.handled_as_recorded)
            .bind(outcome.satisfaction.map(Satisfaction::name))
            .bind(outcome.note.trim())
            .bind(outcome.finding.as_deref().map(str::trim))
            .bind(actor)
            .bind(now)
            .bind(correction_id)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "visit.record", &format!("visit/{id}"), json!({
                "system": current.system_id, "case_no": current.case_no, "reached": outcome.reached,
                "attempts": outcome.attempts, "satisfaction": outcome.satisfaction.map(Satisfaction::name),
                "finding": outcome.finding.is_some(), "correction": correction_id,
            }))?;
            tx.commit().await?;
        });
        self.visit(id).await
    }
}
