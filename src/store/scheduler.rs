//! The scheduler's tables: job runs claimed once per (job, tick) across nodes by an insert that
//! fails on a repeat, notifications (reminders and escalations) with their webhook delivery
//! state (a queue of the store's one job queue, `queue.rs`), and the per-day reconciliations the
//! daily job saves.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::queue::{JobQueue, Keyed, Leasing, QueueTable, Settle};
use super::{Store, StoreError, audit, on_pool};
use crate::reconciliation::Reconciliation;

/// Who the scheduler's audit events name.
pub const SCHEDULER_ACTOR: &str = "scheduler";

/// How urgent a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = NotificationLevel)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Level {
    /// 提醒: an item is late or due soon.
    Reminder,
    /// 督办升级 (Art. 33): still late after repeated reminders.
    Escalation,
}

impl Level {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Option<Level> {
        name.parse().ok()
    }
}

/// A notification a job wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// What it is about: `correction`, `milestone`, `plan`, `notice`, `reconciliation`.
    pub subject_kind: &'static str,
    pub subject_id: String,
    /// Why: `overdue`, `due_soon`, `rag_amber`, `rag_red`, `effective_today`, `differs`.
    pub topic: &'static str,
    pub level: Level,
    /// zh-CN, personal values masked.
    pub message: String,
    /// Overdue reminders of the subject so far, this one included.
    pub reminder_count: i64,
    /// The Beijing day it is for.
    pub day: NaiveDate,
    /// Unique: a repeated tick adds nothing.
    pub dedup_key: String,
}

/// A stored notification (its row, as read through `NOTIFICATION_COLUMNS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub subject_kind: String,
    pub subject_id: String,
    pub topic: String,
    pub level: String,
    pub message: String,
    pub reminder_count: i64,
    pub day: NaiveDate,
    pub created_at: DateTime<Utc>,
    /// `queued` (not yet accepted by the webhook), `delivered`, or `failed` (refused, or still
    /// not accepted at the retry horizon).
    pub delivery_state: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Keyed for Notification {
    fn key(&self) -> i64 {
        self.id
    }
}

const NOTIFICATION_COLUMNS: &str = "id, subject_kind, subject_id, topic, level, message, reminder_count, day, \
     created_at, delivery_state, attempts, next_attempt_at, last_error, delivered_at";

/// The notifications' delivery queue: due in the order they were raised, `failed` its dead
/// letters. The webhook's pass runs in the `deliver` job's tick, claimed once across nodes, so it
/// claims without a lease.
const NOTIFICATIONS: QueueTable = QueueTable::usual(
    "notifications",
    NOTIFICATION_COLUMNS,
    "id",
    "delivery_state",
    Leasing::None,
);

/// A job's latest run, for `scheduler jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub tick: DateTime<Utc>,
    pub node: String,
    pub started_at: DateTime<Utc>,
    /// `None`: running, or its node died while running it.
    pub finished_at: Option<DateTime<Utc>>,
    /// `ok` or `failed`.
    pub outcome: Option<String>,
    pub detail: Option<String>,
}

/// A job run row, as `job_runs` reads it.
#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    job: String,
    tick: DateTime<Utc>,
    node: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    detail: Option<String>,
}

/// A saved reconciliation row; `report` is its JSON text.
#[derive(sqlx::FromRow)]
struct ReconciliationRow {
    system_id: String,
    day: NaiveDate,
    clean: bool,
    report: String,
    created_at: DateTime<Utc>,
}

/// A reconciliation as the daily job saved it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredReconciliation {
    pub system_id: String,
    pub date: NaiveDate,
    pub clean: bool,
    pub created_at: DateTime<Utc>,
    pub report: Reconciliation,
}

impl Store {
    /// Claims `job`'s `tick` for `node`: `Some(run id)` when this insert won, `None` when another
    /// node (or an earlier call) already holds the tick.
    pub async fn claim_tick(
        &self,
        job: &str,
        tick: DateTime<Utc>,
        node: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO job_runs (job, tick, node, started_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (job, tick) DO NOTHING RETURNING id",
            )
            .bind(job)
            .bind(tick)
            .bind(node)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id,)) = row {
                audit!(tx, SCHEDULER_ACTOR, "scheduler.claim", &format!("job/{job}"), serde_json::json!({
                    "run": id, "tick": tick, "node": node,
                }))?;
            }
            tx.commit().await?;
            row
        });
        Ok(row.map(|(id,)| id))
    }

    /// Records how run `id` ended, with its audit event.
    pub async fn finish_run(
        &self,
        id: i64,
        outcome: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let row: Option<(String,)> = sqlx::query_as(
                "UPDATE job_runs SET finished_at = $2, outcome = $3, detail = $4 WHERE id = $1 RETURNING job",
            )
            .bind(id)
            .bind(now)
            .bind(outcome)
            .bind(detail)
            .fetch_optional(&mut *tx)
            .await?;
            let job = row.map(|(job,)| job).unwrap_or_default();
            audit!(tx, SCHEDULER_ACTOR, "scheduler.run", &format!("job/{job}"), serde_json::json!({
                "run": id, "outcome": outcome, "detail": detail,
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Each job's latest run.
    pub async fn latest_runs(&self) -> Result<Vec<JobRun>, StoreError> {
        self.job_runs(None, true, 1000).await
    }

    /// Runs, newest first: of one job, or of all.
    /// With `latest`, only each job's latest run.
    pub async fn job_runs(
        &self,
        job: Option<&str>,
        latest: bool,
        limit: i64,
    ) -> Result<Vec<JobRun>, StoreError> {
        let rows: Vec<RunRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, job, tick, node, started_at, finished_at, outcome, detail FROM job_runs
                 WHERE ($1 IS NULL OR job = $1) AND (NOT $2 OR id IN (SELECT MAX(id) FROM job_runs GROUP BY job))
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(job)
            .bind(latest)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|row| JobRun {
                id: row.id,
                job: row.job,
                tick: row.tick,
                node: row.node,
                started_at: row.started_at,
                finished_at: row.finished_at,
                outcome: row.outcome,
                detail: row.detail,
            })
            .collect())
    }

    /// Deletes `job`'s finished runs started before `before` that queued no notification (their
    /// audit events stay); answers how many.
    pub async fn prune_runs(&self, job: &str, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let deleted = sqlx::query(
                "DELETE FROM job_runs WHERE job = $1 AND finished_at IS NOT NULL AND started_at < $2
                 AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.job_run_id = job_runs.id)",
            )
            .bind(job)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted > 0 {
                audit!(tx, SCHEDULER_ACTOR, "scheduler.prune", &format!("job/{job}"), serde_json::json!({
                    "deleted": deleted, "started_before": before,
                }))?;
            }
            tx.commit().await?;
            deleted
        });
        Ok(deleted)
    }

    /// How many notifications of `topic` and `level` the subject had for days before `day`.
    pub async fn notifications_before(
        &self,
        subject_kind: &str,
        subject_id: &str,
        topic: &str,
        level: Level,
        day: NaiveDate,
    ) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM notifications WHERE subject_kind = $1 AND subject_id = $2 AND topic = $3
                 AND level = $4 AND day < $5",
            )
            .bind(subject_kind)
            .bind(subject_id)
            .bind(topic)
            .bind(level.name())
            .bind(day)
            .fetch_one(pool)
            .await?
        });
        Ok(n)
    }

    /// The topic of the subject's latest notification whose topic starts with `prefix`.
    pub async fn latest_topic(
        &self,
        subject_kind: &str,
        subject_id: &str,
        prefix: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT topic FROM notifications WHERE subject_kind = $1 AND subject_id = $2
                 AND substr(topic, 1, length($3)) = $3 ORDER BY id DESC LIMIT 1",
            )
            .bind(subject_kind)
            .bind(subject_id)
            .bind(prefix)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(t,)| t))
    }

    /// Queues a notification for delivery (with its audit event); `None` when its dedup key is
    /// already there (the same tick or day ran before).
    pub async fn add_notification(
        &self,
        new: &NewNotification,
        run: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<Notification>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO notifications (dedup_key, subject_kind, subject_id, topic, level, message, reminder_count,
             day, job_run_id, created_at, delivery_state, attempts, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', 0, $10)
             ON CONFLICT (dedup_key) DO NOTHING RETURNING {NOTIFICATION_COLUMNS}"
        ));
        let row: Option<Notification> = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let row: Option<Notification> = sqlx::query_as(sql)
                .bind(&new.dedup_key)
                .bind(new.subject_kind)
                .bind(&new.subject_id)
                .bind(new.topic)
                .bind(new.level.name())
                .bind(&new.message)
                .bind(new.reminder_count)
                .bind(new.day)
                .bind(run)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = &row {
                audit!(tx, SCHEDULER_ACTOR, "notification.create", &format!("notification/{}", row.id),
                    serde_json::json!({
                        "subject": format!("{}/{}", new.subject_kind, new.subject_id),
                        "topic": new.topic, "level": new.level.name(), "reminder_count": new.reminder_count,
                    }))?;
            }
            tx.commit().await?;
            row
        });
        Ok(row)
    }

    /// Notifications, newest first: of one level and/or delivery state.
    pub async fn list_notifications(
        &self,
        level: Option<Level>,
        delivery_state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE ($1 IS NULL OR level = $1)
             AND ($2 IS NULL OR delivery_state = $2) ORDER BY id DESC LIMIT $3"
        ));
        Ok(on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(level.map(Level::name))
                .bind(delivery_state)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Queued notifications whose next attempt is due at `now`, oldest first.
    pub async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        Ok(on_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            conn.claim(&NOTIFICATIONS, now, limit, None).await?
        }))
    }

    /// Records a delivery attempt: `Ok(())` delivered, `Err(why)` stays queued until `retry_at`,
    /// or without one is `failed` (a permanent answer, or past the retry horizon).
    pub async fn settle_notification(
        &self,
        id: i64,
        result: Result<(), &str>,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let settle = match (result, retry_at) {
                (Ok(()), _) => Settle::Delivered { receipt: None },
                (Err(error), Some(at)) => Settle::RetryAt { error, at },
                (Err(error), None) => Settle::Dead { error },
            };
            tx.settle(&NOTIFICATIONS, &[id], None, now, &settle).await?;
            audit!(tx, SCHEDULER_ACTOR, "notification.deliver", &format!("notification/{id}"),
                serde_json::json!({ "delivered": result.is_ok(), "error": result.err() }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Saves (or replaces) the reconciliation of its system and day, with its audit event.
    pub async fn save_reconciliation(
        &self,
        report: &Reconciliation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(report).map_err(|e| StoreError::Corrupt {
            what: "reconciliation",
            detail: e.to_string(),
        })?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query(
                "INSERT INTO reconciliations (system_id, day, clean, report, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (system_id, day) DO UPDATE SET clean = excluded.clean, report = excluded.report,
                 created_at = excluded.created_at",
            )
            .bind(&report.system_id)
            .bind(report.date)
            .bind(report.clean)
            .bind(&text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit!(tx, SCHEDULER_ACTOR, "monitoring.reconciliation.save", &report.system_id, serde_json::json!({
                "date": report.date, "clean": report.clean, "differences": report.differences.len(),
            }))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Saved reconciliations, newest day first: of one system and/or day.
    pub async fn reconciliations(
        &self,
        system_id: Option<&str>,
        day: Option<NaiveDate>,
    ) -> Result<Vec<StoredReconciliation>, StoreError> {
        let rows: Vec<ReconciliationRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT system_id, day, clean, report, created_at FROM reconciliations
                 WHERE ($1 IS NULL OR system_id = $1) AND ($2 IS NULL OR day = $2) ORDER BY day DESC, system_id",
            )
            .bind(system_id)
            .bind(day)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|row| {
                let report = serde_json::from_str(&row.report).map_err(|e| StoreError::Corrupt {
                    what: "reconciliation",
                    detail: format!("{} {}: {e}", row.system_id, row.day),
                })?;
                Ok(StoredReconciliation {
                    system_id: row.system_id,
                    date: row.day,
                    clean: row.clean,
                    created_at: row.created_at,
                    report,
                })
            })
            .collect()
    }

    /// Systems with an adapter attached (those the daily reconciliation reads).
    pub async fn adapter_systems(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT system_id FROM adapter_configs ORDER BY system_id").fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
