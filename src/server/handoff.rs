//! `/api/v1/systems/{id}/applications`: front-end migration (前端迁移, Art. 22). An application
//! accepted on the platform is validated, queued with its audit event and answered 202 at once,
//! whether or not the department's system is up; the hand-off worker delivers it. Reading one
//! shows the hand-off and the status that came back (the case's stage held by the platform).

use axum::extract::State;

use super::error::ApiPath;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Actor, ApiError, ApiJson, AppState};
use crate::case::Case;
use crate::handoff::HandoffMetrics as _;
use crate::store::{CaseStage, Enqueued, Handoff};
use crate::systems::SystemStatus;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/systems/{id}/applications", post(accept))
        .route("/api/v1/systems/{id}/applications/{case_no}", get(show))
}

/// The answer to an accepted application.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = HandoffAccepted)]
pub(super) struct Accepted {
    /// The hand-off id.
    id: i64,
    system_id: String,
    case_no: String,
    /// `queued`, or the state of the earlier hand-off when this case was accepted before.
    state: String,
    /// True when this case had been accepted before: nothing new was queued.
    duplicate: bool,
}

/// The status that came back: the case as the platform holds it (from write-back or pull).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct CaseStatus {
    /// The case's stage, e.g. `acceptance`, `finished`.
    stage: String,
    version: i64,
    received_at: DateTime<Utc>,
}

impl From<CaseStage> for CaseStatus {
    fn from(held: CaseStage) -> Self {
        CaseStatus {
            stage: held.stage,
            version: held.version,
            received_at: held.received_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct HandoffView {
    #[serde(flatten)]
    handoff: Handoff,
    /// Absent until the department's system reports the case back.
    status: Option<CaseStatus>,
}

#[utoipa::path(post, path = "/api/v1/systems/{id}/applications", tag = "handoff",
    params(("id" = String, Path)), request_body = Object, responses(
    (status = 202, body = Accepted),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, description = "handoff_conflict or system_retired", body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn accept(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(case): ApiJson<Case>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // The system and the published rules as the intake holds them (`intake::Recent`: this
    // node's changes at once, another node's within `intake::FRESH_FOR`), not read per request.
    if state.writeback.system(&state.store, &id).await?.status == SystemStatus::Retired {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "system_retired",
            format!("system {id:?} is retired; it takes no more applications"),
        ));
    }
    // The database's clock: the hand-off's retry horizon runs from this acceptance (issue 22).
    let now = state.store.clock().await?;
    // The case's own rules and the published ones (Art. 29) that bind it, every problem at once.
    let mut issues = case.validate(now.fixed_offset()).errors;
    let rules = state.writeback.rules(&state.store).await?;
    issues.extend(rules.iter().filter_map(|rule| rule.check(&case)));
    if !issues.is_empty() {
        return Err(ApiError::validation(issues));
    }
    let (handoff, enqueued) = state.store.enqueue_handoff(&id, &case, &actor, now).await?;
    if enqueued == Enqueued::Conflict {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "handoff_conflict",
            format!(
                "case {} was already accepted for system {id} (hand-off {}) with other content; \
                 an accepted application is not replaced: its changes come back from the department's system",
                case.case_no, handoff.id
            ),
        )
        .with_field("case_no"));
    }
    let created = enqueued == Enqueued::Created;
    let outcome = if created { "accepted" } else { "duplicate" };
    state.metrics.attempt(&id, outcome);
    tracing::info!(handoff = handoff.id, system = %id, case_no = %case.case_no, duplicate = !created, actor, "application accepted for hand-off");
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            id: handoff.id,
            system_id: handoff.system_id,
            case_no: handoff.case_no,
            state: handoff.state.name().to_owned(),
            duplicate: !created,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/applications/{case_no}", tag = "handoff",
    params(("id" = String, Path), ("case_no" = String, Path)),
    responses((status = 200, body = HandoffView), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn show(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath((id, case_no)): ApiPath<(String, String)>,
) -> Result<Json<HandoffView>, ApiError> {
    let handoff = state.store.handoff(&id, &case_no).await?;
    let status = state.store.case_stage(&id, &case_no).await?.map(CaseStatus::from);
    state
        .store
        .record_audit(
            &actor,
            "handoff.read",
            &format!("handoff/{}", handoff.id),
            serde_json::json!({}),
        )
        .await?;
    Ok(Json(HandoffView { handoff, status }))
}
