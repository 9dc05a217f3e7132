//! The front-end migration hand-off queue (Art. 22) in the store: applications accepted on the
//! platform wait here until the department's system takes them. Items are claimed with a lease
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`), so two workers never submit the same item at once:
//! the store's one job queue (`queue.rs`, [`HANDOFFS`]) claims, settles and replays them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;

use super::queue::{JobQueue, Keyed, Lease, Leasing, QueueTable, Settle};
use super::{Store, StoreError, audit, on_pool};
use crate::case::Case;

/// Where a hand-off is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum HandoffState {
    /// Waiting for (another) attempt.
    Queued,
    /// The system took it; `receipt` holds its answer.
    Delivered,
    /// The system refused it with a data or configuration error that retrying cannot fix;
    /// visible to operators, who retry after fixing the cause.
    Failed,
}

impl HandoffState {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// zh-CN label for people.
    pub fn label(self) -> &'static str {
        match self {
            HandoffState::Queued => "排队中",
            HandoffState::Delivered => "已推送",
            HandoffState::Failed => "推送失败",
        }
    }

    pub fn parse(name: &str) -> Option<HandoffState> {
        name.parse().ok()
    }
}

/// A case's stage as the platform holds it, written by write-back or pull (`Store::case_stage`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CaseStage {
    pub stage: String,
    pub version: i64,
    pub received_at: DateTime<Utc>,
}

/// One application handed (or to be handed) to a department's system.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Handoff {
    pub id: i64,
    pub system_id: String,
    pub case_no: String,
    pub state: HandoffState,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (for a queued item).
    pub next_attempt_at: DateTime<Utc>,
    /// The last refusal or failure, masked as the adapter reports it.
    pub last_error: Option<String>,
    /// The system's id for the application and its answer: `{"id", "response"}`.
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What accepting an application did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enqueued {
    /// Queued now.
    Created,
    /// This very case was accepted before: nothing new was queued.
    Duplicate,
    /// The case number was accepted before with other content: nothing was queued.
    Conflict,
}

/// A hand-off row as read through `COLUMNS`.
#[derive(sqlx::FromRow)]
struct HandoffRow {
    id: i64,
    system_id: String,
    case_no: String,
    state: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    receipt: Option<Json<serde_json::Value>>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

/// A claimed row and its payload.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    #[sqlx(flatten)]
    handoff: HandoffRow,
    payload: Json<Case>,
    sealed_by: Option<String>,
}

impl Keyed for ClaimRow {
    fn key(&self) -> i64 {
        self.handoff.id
    }
}

const COLUMNS: &str =
    "id, system_id, case_no, state, attempts, next_attempt_at, last_error, receipt, created_at, delivered_at";

/// The hand-off queue: due oldest first, leased by due time, `failed` its dead letters, the
/// system's answer kept.
const HANDOFFS: QueueTable = QueueTable {
    receipt: Some("receipt"),
    ..QueueTable::usual(
        "handoffs",
        "id, system_id, case_no, state, attempts, next_attempt_at, last_error, receipt, created_at, \
         delivered_at, payload, sealed_by",
        "next_attempt_at, id",
        "state",
        Leasing::Due,
    )
};

fn from_row(row: HandoffRow) -> Result<Handoff, StoreError> {
    let state = HandoffState::parse(&row.state).ok_or_else(|| StoreError::Corrupt {
        what: "hand-off",
        detail: format!("hand-off {} has unknown state {:?}", row.id, row.state),
    })?;
    Ok(Handoff {
        id: row.id,
        system_id: row.system_id,
        case_no: row.case_no,
        state,
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        receipt: row.receipt.map(|Json(r)| r),
        created_at: row.created_at,
        delivered_at: row.delivered_at,
    })
}

/// An item claimed for one delivery attempt: the hand-off and the case to submit.
#[derive(Debug, Clone)]
pub struct ClaimedHandoff {
    pub handoff: Handoff,
    pub payload: serde_json::Value,
}

/// How an attempt ended, as the worker reports it to the store.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// The system took the application; its id and answer.
    Delivered { receipt: serde_json::Value },
    /// The system was unavailable: try again at `next_attempt_at`.
    RetryLater {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// The system refused it (data or configuration): an operator must look.
    Failed { error: String },
}

impl AttemptOutcome {
    /// The queue's settlement of this outcome.
    fn settle(&self) -> Settle<'_> {
        match self {
            AttemptOutcome::Delivered { receipt } => Settle::Delivered {
                receipt: Some(receipt),
            },
            AttemptOutcome::RetryLater {
                error,
                next_attempt_at,
            } => Settle::RetryAt {
                error,
                at: *next_attempt_at,
            },
            AttemptOutcome::Failed { error } => Settle::Dead { error },
        }
    }

    /// Its audit event: action and detail.
    fn audit(&self) -> (&'static str, serde_json::Value) {
        match self {
            AttemptOutcome::Delivered { receipt } => (
                "handoff.deliver",
                serde_json::json!({ "receipt": receipt.get("id") }),
            ),
            AttemptOutcome::RetryLater {
                error,
                next_attempt_at,
            } => (
                "handoff.retry_later",
                serde_json::json!({ "error": error, "next_attempt_at": next_attempt_at }),
            ),
            AttemptOutcome::Failed { error } => ("handoff.fail", serde_json::json!({ "error": error })),
        }
    }
}

impl Store {
    /// Queues `case` for `system_id` with its audit event. A case number already accepted for
    /// that system is not queued again: `Duplicate` when the content is the same, `Conflict`
    /// when it differs; either way the existing hand-off is returned.
    pub async fn enqueue_handoff(
        &self,
        system_id: &str,
        case: &Case,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(Handoff, Enqueued), StoreError> {
        self.get_system(system_id).await?;
        let sealed = self.sealing.seal_case(system_id, case)?;
        let sealed_by = self.sealing.active_key();
        let enqueued = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO handoffs (system_id, case_no, payload, state, attempts, next_attempt_at, created_at, sealed_by)
                 VALUES ($1, $2, $3, 'queued', 0, $4, $4, $5)
                 ON CONFLICT (system_id, case_no) DO NOTHING RETURNING id",
            )
            .bind(system_id)
            .bind(&case.case_no)
            .bind(Json(&*sealed))
            .bind(now)
            .bind(sealed_by)
            .fetch_optional(&mut *tx)
            .await?;
            let enqueued = if let Some((id,)) = row {
                audit!(tx, actor, "handoff.accept", &format!("handoff/{id}"), serde_json::json!({
                    "system": system_id, "case_no": case.case_no, "version": case.version,
                }))?;
                Enqueued::Created
            } else {
                let (Json(stored), stored_by): (Json<Case>, Option<String>) =
                    sqlx::query_as("SELECT payload, sealed_by FROM handoffs WHERE system_id = $1 AND case_no = $2")
                        .bind(system_id)
                        .bind(&case.case_no)
                        .fetch_one(&mut *tx)
                        .await?;
                let stored = self.sealing.open_case(system_id, stored, stored_by.as_deref())?;
                if stored == *case { Enqueued::Duplicate } else { Enqueued::Conflict }
            };
            tx.commit().await?;
            enqueued
        });
        let handoff = self.handoff(system_id, &case.case_no).await?;
        Ok((handoff, enqueued))
    }

    /// The hand-off of one case.
    pub async fn handoff(&self, system_id: &str, case_no: &str) -> Result<Handoff, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM handoffs WHERE system_id = $1 AND case_no = $2"
        ));
        let row: Option<HandoffRow> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(system_id).bind(case_no).fetch_optional(pool).await?
        });
        from_row(row.ok_or_else(|| StoreError::NotFound {
            what: "hand-off",
            id: format!("{system_id}/{case_no}"),
        })?)
    }

    /// Hand-offs, optionally of one system and in one state, oldest first.
    pub async fn list_handoffs(
        &self,
        system_id: Option<&str>,
        state: Option<HandoffState>,
    ) -> Result<Vec<Handoff>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM handoffs WHERE ($1 IS NULL OR system_id = $1) AND ($2 IS NULL OR state = $2)
             ORDER BY id"
        ));
        let rows: Vec<HandoffRow> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(system_id)
                .bind(state.map(HandoffState::name))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(from_row).collect()
    }

    /// Claims up to `limit` queued items due at `now` and leases them until `lease_until`: no
    /// other worker takes them before then, and a crashed worker's items come back after it.
    pub async fn claim_handoffs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedHandoff>, StoreError> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let rows: Vec<ClaimRow> = tx.claim(&HANDOFFS, now, limit, Some(Lease { until: lease_until, holder: None })).await?;
            let claimed = rows
                .into_iter()
                .map(|ClaimRow { handoff, payload: Json(payload), sealed_by }| {
                    let payload = self.sealing.open_case(&handoff.system_id, payload, sealed_by.as_deref())?;
                    let payload = serde_json::to_value(payload).map_err(|e| StoreError::Corrupt {
                        what: "hand-off",
                        detail: e.to_string(),
                    })?;
                    Ok(ClaimedHandoff { handoff: from_row(handoff)?, payload })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            tx.commit().await?;
            Ok(claimed)
        })
    }

    /// Records how an attempt on item `id` ended, with its audit event.
    pub async fn finish_handoff_attempt(
        &self,
        id: i64,
        outcome: &AttemptOutcome,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            tx.settle(&HANDOFFS, &[id], None, now, &outcome.settle()).await?;
            let (action, detail) = outcome.audit();
            audit!(tx, actor, action, &format!("handoff/{id}"), detail)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Puts a failed item back in the queue, due at `now`, with its audit event. Only a failed
    /// item is retried by hand: a queued one may be in a worker's hands right now, and a delivered
    /// one is never handed over again. Answers the item and whether it was put back.
    pub async fn retry_handoff(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(Handoff, bool), StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM handoffs WHERE id = $1"));
        let (row, retried): (HandoffRow, bool) = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let retried = tx.replay(&HANDOFFS, id, now).await?;
            let row: Option<HandoffRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut *tx).await?;
            let row = row.ok_or_else(|| StoreError::NotFound { what: "hand-off", id: id.to_string() })?;
            if retried {
                audit!(tx, actor, "handoff.retry", &format!("handoff/{id}"), serde_json::json!({}))?;
            }
            tx.commit().await?;
            (row, retried)
        });
        Ok((from_row(row)?, retried))
    }

    /// The stage of the case as the platform holds it (written by write-back or pull), if any.
    pub async fn case_stage(&self, system_id: &str, case_no: &str) -> Result<Option<CaseStage>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as("SELECT stage, version, received_at FROM cases WHERE system_id = $1 AND case_no = $2")
                .bind(system_id)
                .bind(case_no)
                .fetch_optional(pool)
                .await?
        }))
    }
}
