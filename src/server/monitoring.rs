//! `/api/v1/monitoring`: a system's reconciliation for a day and a reproducible spot-check
//! sample (Art. 15).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::{Actor, ApiError, AppState};
use crate::monitoring::{self, Reconciliation};
use crate::pull::PullError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/monitoring/{system}/reconciliation", get(reconcile))
        .route("/api/v1/monitoring/{system}/spot-check", get(spot_check))
}

impl From<PullError> for ApiError {
    fn from(err: PullError) -> ApiError {
        match err {
            PullError::Store(e) => e.into(),
            PullError::Read { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "system_unavailable", err.to_string())
            }
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_configured",
                other.to_string(),
            ),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct DayQuery {
    /// The day (Beijing time), YYYY-MM-DD.
    date: NaiveDate,
}

#[utoipa::path(get, path = "/api/v1/monitoring/{system}/reconciliation", tag = "monitoring",
    params(("system" = String, Path), DayQuery), responses((status = 200, body = Reconciliation)))]
pub(super) async fn reconcile(
    State(state): State<AppState>,
    Path(system): Path<String>,
    Query(q): Query<DayQuery>,
) -> Result<Json<Reconciliation>, ApiError> {
    let report = monitoring::reconcile(
        &state.store,
        &state.writeback,
        &ronghe_adapters::Environment,
        &system,
        q.date,
    )
    .await?;
    Ok(Json(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct SampleQuery {
    date: NaiveDate,
    /// How many cases (default 10).
    size: Option<usize>,
    /// The same seed and data give the same sample.
    seed: u64,
}

#[utoipa::path(get, path = "/api/v1/monitoring/{system}/spot-check", tag = "monitoring",
    params(("system" = String, Path), SampleQuery), responses((status = 200, body = [String])))]
pub(super) async fn spot_check(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(system): Path<String>,
    Query(q): Query<SampleQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let sample = monitoring::spot_check(
        &state.store,
        &system,
        q.date,
        q.size.unwrap_or(10),
        q.seed,
        &actor,
    )
    .await?;
    Ok(Json(sample))
}
