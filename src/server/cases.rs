//! `/api/v1/systems/{id}/cases`: read a case as the platform holds it, and its history. Cases
//! carry applicants' personal data, so every read is audited under the caller's actor (Art. 23).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use super::{Actor, ApiError, AppState};
use crate::store::{CaseRecord, CaseVersion};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/systems/{id}/cases/{case_no}", get(show))
        .route("/api/v1/systems/{id}/cases/{case_no}/history", get(history))
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/cases/{case_no}", tag = "cases",
    params(("id" = String, Path), ("case_no" = String, Path)),
    responses((status = 200, body = CaseRecord), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn show(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path((id, case_no)): Path<(String, String)>,
) -> Result<Json<CaseRecord>, ApiError> {
    let record = state.store.get_case(&id, &case_no).await?;
    state
        .store
        .record_audit(
            &actor,
            "case.read",
            &format!("{id}/{case_no}"),
            serde_json::json!({}),
        )
        .await?;
    Ok(Json(record))
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/cases/{case_no}/history", tag = "cases",
    params(("id" = String, Path), ("case_no" = String, Path)),
    responses((status = 200, body = [CaseVersion]), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn history(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path((id, case_no)): Path<(String, String)>,
) -> Result<Json<Vec<CaseVersion>>, ApiError> {
    let versions = state.store.case_history(&id, &case_no).await?;
    state
        .store
        .record_audit(
            &actor,
            "case.read_history",
            &format!("{id}/{case_no}"),
            serde_json::json!({}),
        )
        .await?;
    Ok(Json(versions))
}
