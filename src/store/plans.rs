//! Migration plans in the store: the plan file as imported (kept verbatim), the progress recorded
//! per milestone (kept across re-imports), and the baselines with their approvals. Every change
//! is audited in its own transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ronghe_adapters::ConfigIssue;
use sqlx::types::Json;

use super::{Store, StoreError, audit, on_pool};
use crate::plans::{Baseline, PlanFile, Progress, StoredPlan};

/// A plan's row: the file as imported.
#[derive(sqlx::FromRow)]
struct PlanRow {
    source: String,
    imported_at: DateTime<Utc>,
    imported_by: String,
}

/// A milestone's recorded progress.
#[derive(sqlx::FromRow)]
struct ProgressRow {
    milestone_id: String,
    started_on: Option<NaiveDate>,
    finished_on: Option<NaiveDate>,
}

impl From<ProgressRow> for (String, Progress) {
    fn from(row: ProgressRow) -> Self {
        (
            row.milestone_id,
            Progress {
                started_on: row.started_on,
                finished_on: row.finished_on,
            },
        )
    }
}

/// A baseline's row.
#[derive(sqlx::FromRow)]
struct BaselineRow {
    version: i64,
    dues: Json<BTreeMap<String, NaiveDate>>,
    approved_by: String,
    reason: String,
    created_at: DateTime<Utc>,
}

impl From<BaselineRow> for Baseline {
    fn from(row: BaselineRow) -> Self {
        Baseline {
            version: row.version,
            dues: row.dues.0,
            approved_by: row.approved_by,
            reason: row.reason,
            created_at: row.created_at,
        }
    }
}

impl Store {
    /// Imports (or replaces) a system's plan file; the caller has parsed and checked it.
    pub async fn import_plan(&self, plan: &PlanFile, source: &str, actor: &str) -> Result<(), StoreError> {
        let system_id = plan.plan.system.as_str();
        self.get_system(system_id).await?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query(
                "INSERT INTO plans (system_id, source, imported_at, imported_by) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (system_id) DO UPDATE SET source = excluded.source, imported_at = excluded.imported_at,
                 imported_by = excluded.imported_by",
            )
            .bind(system_id)
            .bind(source)
            .bind(Utc::now())
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "plan.import", &format!("plan/{system_id}"), serde_json::json!({
                "mode": plan.plan.mode, "milestones": plan.milestones.len(), "start": plan.plan.start,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A system's plan with its progress and baselines.
    pub async fn plan(&self, system_id: &str) -> Result<StoredPlan, StoreError> {
        let (row, progress, baselines): (Option<PlanRow>, Vec<ProgressRow>, Vec<BaselineRow>) = on_pool!(self, pool => {
            let row = sqlx::query_as("SELECT source, imported_at, imported_by FROM plans WHERE system_id = $1")
                .bind(system_id)
                .fetch_optional(pool)
                .await?;
            let progress = sqlx::query_as(
                "SELECT milestone_id, started_on, finished_on FROM plan_progress WHERE system_id = $1",
            )
            .bind(system_id)
            .fetch_all(pool)
            .await?;
            let baselines = sqlx::query_as(
                "SELECT version, dues, approved_by, reason, created_at FROM plan_baselines
                 WHERE system_id = $1 ORDER BY version",
            )
            .bind(system_id)
            .fetch_all(pool)
            .await?;
            (row, progress, baselines)
        });
        let PlanRow {
            source,
            imported_at,
            imported_by,
        } = row.ok_or_else(|| StoreError::NotFound {
            what: "plan of system",
            id: system_id.to_owned(),
        })?;
        let file = PlanFile::parse(&source).map_err(|issues| StoreError::Corrupt {
            what: "plan",
            detail: format!("{system_id}: {}", ConfigIssue::joined(&issues)),
        })?;
        Ok(StoredPlan {
            file,
            source,
            imported_at,
            imported_by,
            progress: progress.into_iter().map(Into::into).collect(),
            baselines: baselines.into_iter().map(Baseline::from).collect(),
        })
    }

    /// The systems that have a plan.
    pub async fn planned_systems(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT system_id FROM plans ORDER BY system_id").fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Records a milestone's progress (the caller checked it against the plan).
    pub async fn record_progress(
        &self,
        system_id: &str,
        milestone_id: &str,
        progress: &Progress,
        note: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query(
                "INSERT INTO plan_progress (system_id, milestone_id, started_on, finished_on, note, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (system_id, milestone_id) DO UPDATE SET started_on = excluded.started_on,
                 finished_on = excluded.finished_on, note = excluded.note, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by",
            )
            .bind(system_id)
            .bind(milestone_id)
            .bind(progress.started_on)
            .bind(progress.finished_on)
            .bind(note)
            .bind(Utc::now())
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "plan.progress", &format!("plan/{system_id}/{milestone_id}"), serde_json::json!({
                "started_on": progress.started_on, "finished_on": progress.finished_on, "note": note,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Adds the next baseline version with its due dates and approval; returns its version.
    pub async fn add_baseline(
        &self,
        system_id: &str,
        dues: &BTreeMap<String, NaiveDate>,
        approved_by: &str,
        reason: &str,
        actor: &str,
    ) -> Result<i64, StoreError> {
        let backend = self.backend();
        let version = on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT system_id FROM plans WHERE system_id = $1{}", backend.row_lock()
            ));
            sqlx::query(sql).bind(system_id).fetch_one(&mut *tx).await?;
            let (version,): (i64,) = sqlx::query_as(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM plan_baselines WHERE system_id = $1",
            )
            .bind(system_id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO plan_baselines (system_id, version, dues, approved_by, reason, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(system_id)
            .bind(version)
            .bind(Json(dues))
            .bind(approved_by)
            .bind(reason)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "plan.baseline", &format!("plan/{system_id}"), serde_json::json!({
                "version": version, "approved_by": approved_by, "reason": reason,
            }))?;
            tx.commit().await?;
            version
        });
        Ok(version)
    }
}
