//! Correction requests (Art. 28) in the store: raised from a data-quality item or a stored case,
//! moved through their state machine under a row lock, each change with its audit event.

use chrono::{DateTime, NaiveDate, Utc};

use super::Guarded;
use super::audit_log::AuditLog;
use super::{Store, on_pool};
use crate::corrections::{Action, Correction, CorrectionError, Source, Status};
use crate::store::audit;

/// Raising a correction request on a connection inside the caller's transaction: shared by
/// `raise_correction` and a return visit's finding (`record_visit`), which raises its request in
/// the visit's own transaction. The backends differ only in the statements stamped out below;
/// the rule (an unregistered system is refused) and the audit event are `raise_in`'s.
pub(crate) trait CorrectionWrites: AuditLog {
    /// The department of a registered system.
    async fn department_of(&mut self, system_id: &str) -> Result<Option<String>, sqlx::Error>;

    /// Inserts an open request; answers its id.
    async fn insert_open(&mut self, new: &NewRequest<'_>, department: &str) -> Result<i64, sqlx::Error>;

    /// Inserts an open correction request for the system's department with its
    /// `correction.raise` audit event; the new id, or `UnknownSource` when the system is not
    /// registered.
    async fn raise_in(&mut self, new: &NewRequest<'_>) -> Result<i64, Guarded<CorrectionError>> {
        let department = self.department_of(new.system_id).await?.ok_or_else(|| {
            Guarded::Refused(CorrectionError::UnknownSource {
                field: "case.system",
                message: format!("system {} is not registered", new.system_id),
            })
        })?;
        let id = self.insert_open(new, &department).await?;
        self.append_audit(
            new.actor,
            "correction.raise",
            &format!("correction/{id}"),
            serde_json::json!({
                "system": new.system_id, "quality_item": new.quality_item_id, "case_no": new.case_no, "due_on": new.due_on,
            }),
        )
        .await?;
        Ok(id)
    }
}

/// A request to raise inside a transaction (`CorrectionWrites::raise_in`).
pub(crate) struct NewRequest<'a> {
    pub system_id: &'a str,
    pub quality_item_id: Option<i64>,
    pub case_no: Option<&'a str>,
    pub reason: &'a str,
    pub due_on: NaiveDate,
    pub actor: &'a str,
    pub now: DateTime<Utc>,
}

/// Stamps out `CorrectionWrites`' statements for a backend's connection (no logic: one statement each).
macro_rules! correction_statements {
    ($conn:ty) => {
        impl CorrectionWrites for $conn {
            async fn department_of(&mut self, system_id: &str) -> Result<Option<String>, sqlx::Error> {
                let row: Option<(String,)> = sqlx::query_as("SELECT department FROM systems WHERE id = $1")
                    .bind(system_id)
                    .fetch_optional(&mut *self)
                    .await?;
                Ok(row.map(|(department,)| department))
            }

            async fn insert_open(&mut self, new: &NewRequest<'_>, department: &str) -> Result<i64, sqlx::Error> {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO corrections (system_id, quality_item_id, case_no, department, reason, raised_by, raised_at, due_on, status)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open') RETURNING id",
                )
                .bind(new.system_id)
                .bind(new.quality_item_id)
                .bind(new.case_no)
                .bind(department)
                .bind(new.reason)
                .bind(new.actor)
                .bind(new.now)
                .bind(new.due_on)
                .fetch_one(&mut *self)
                .await?;
                Ok(id)
            }
        }
    };
}
correction_statements!(sqlx::SqliteConnection);
correction_statements!(sqlx::PgConnection);

/// A correction request's row as read through `COLUMNS`.
#[derive(sqlx::FromRow)]
struct CorrectionRow {
    id: i64,
    system_id: String,
    quality_item_id: Option<i64>,
    case_no: Option<String>,
    department: String,
    reason: String,
    raised_by: String,
    raised_at: DateTime<Utc>,
    due_on: NaiveDate,
    status: String,
    answer: Option<String>,
    answered_at: Option<DateTime<Utc>>,
    answered_by: Option<String>,
    closed_at: Option<DateTime<Utc>>,
    closed_by: Option<String>,
}

const COLUMNS: &str = "id, system_id, quality_item_id, case_no, department, reason, raised_by, raised_at, \
                       due_on, status, answer, answered_at, answered_by, closed_at, closed_by";

fn from_row(row: CorrectionRow) -> Result<Correction, Guarded<CorrectionError>> {
    let status = Status::parse(&row.status).ok_or_else(|| {
        Guarded::Store(super::StoreError::Corrupt {
            what: "correction request",
            detail: format!("request {} has unknown status {:?}", row.id, row.status),
        })
    })?;
    Ok(Correction {
        id: row.id,
        system_id: row.system_id,
        quality_item_id: row.quality_item_id,
        case_no: row.case_no,
        department: row.department,
        reason: row.reason,
        raised_by: row.raised_by,
        raised_at: row.raised_at,
        due_on: row.due_on,
        status,
        answer: row.answer,
        answered_at: row.answered_at,
        answered_by: row.answered_by,
        closed_at: row.closed_at,
        closed_by: row.closed_by,
    })
}

/// Which requests a listing shows.
#[derive(Debug, Clone, Default)]
pub struct CorrectionFilter {
    pub status: Option<Status>,
    pub system_id: Option<String>,
    /// Only open requests due before this day (the caller then counts working days).
    pub open_due_before: Option<NaiveDate>,
}

/// The system and case (if the record had a number) of the data-quality item a request is raised from.
#[derive(sqlx::FromRow)]
struct ItemSource {
    system_id: String,
    case_no: Option<String>,
}

impl Store {
    /// Raises a request from `source` with its due date (computed by the caller from the
    /// calendar); the providing department is the system's. A source the platform does not
    /// hold is `UnknownSource` naming the field.
    pub async fn raise_correction(
        &self,
        source: &Source,
        reason: &str,
        due_on: NaiveDate,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Correction, Guarded<CorrectionError>> {
        let id: i64 = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let (system_id, quality_item_id, case_no) = match source {
                Source::QualityItem(item) => {
                    let row: Option<ItemSource> =
                        sqlx::query_as("SELECT system_id, case_no FROM quality_items WHERE id = $1")
                            .bind(item)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let ItemSource { system_id, case_no } = row.ok_or_else(|| Guarded::Refused(CorrectionError::UnknownSource {
                        field: "quality_item",
                        message: format!("data-quality item {item} not found; see the data-quality queue for its id"),
                    }))?;
                    (system_id, Some(*item), case_no)
                }
                Source::Case { system_id, case_no } => {
                    let row: Option<(i64,)> =
                        sqlx::query_as("SELECT version FROM cases WHERE system_id = $1 AND case_no = $2")
                            .bind(system_id)
                            .bind(case_no)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if row.is_none() {
                        return Err(Guarded::Refused(CorrectionError::UnknownSource {
                            field: "case",
                            message: format!("case {system_id}/{case_no} is not held by the platform"),
                        }));
                    }
                    (system_id.clone(), None, Some(case_no.clone()))
                }
            };
            let new = NewRequest {
                system_id: &system_id,
                quality_item_id,
                case_no: case_no.as_deref(),
                reason,
                due_on,
                actor,
                now,
            };
            let id = tx.raise_in(&new).await?;
            tx.commit().await?;
            id
        });
        self.correction(id).await
    }

    /// One request.
    pub async fn correction(&self, id: i64) -> Result<Correction, Guarded<CorrectionError>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM corrections WHERE id = $1"));
        let row: Option<CorrectionRow> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        from_row(row.ok_or(Guarded::Refused(CorrectionError::NotFound(id)))?)
    }

    /// Requests matching `filter`, oldest first.
    pub async fn list_corrections(
        &self,
        filter: &CorrectionFilter,
    ) -> Result<Vec<Correction>, Guarded<CorrectionError>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM corrections
             WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR system_id = $2)
               AND ($3 IS NULL OR (status = 'open' AND due_on < $3))
             ORDER BY id"
        ));
        let rows: Vec<CorrectionRow> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(filter.status.map(Status::name))
                .bind(filter.system_id.as_deref())
                .bind(filter.open_due_before)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(from_row).collect()
    }

    /// Applies `action` to request `id` under a row lock and writes it with its audit event.
    pub async fn act_on_correction(
        &self,
        id: i64,
        action: &Action,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Correction, Guarded<CorrectionError>> {
        let backend = self.backend();
        let select = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM corrections WHERE id = $1{}",
            backend.row_lock()
        ));
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let row: Option<CorrectionRow> = sqlx::query_as(select)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let current = from_row(row.ok_or(Guarded::Refused(CorrectionError::NotFound(id)))?)?;
            let next = current.apply(action, actor, now).map_err(Guarded::Refused)?;
            sqlx::query(
                "UPDATE corrections SET status = $2, answer = $3, answered_at = $4, answered_by = $5,
                 closed_at = $6, closed_by = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(next.status.name())
            .bind(&next.answer)
            .bind(next.answered_at)
            .bind(&next.answered_by)
            .bind(next.closed_at)
            .bind(&next.closed_by)
            .execute(&mut *tx)
            .await?;
            let action_name = format!("correction.{}", action.name());
            audit!(tx, actor, action_name.as_str(), &format!("correction/{id}"), serde_json::json!({
                "from": current.status.name(), "to": next.status.name(),
            }))?;
            tx.commit().await?;
            Ok(next)
        })
    }
}
