//! `/api/v1/notifications`: the reminders and escalations (Art. 33) the scheduler queued, with
//! their delivery state.

use axum::extract::State;

use super::error::ApiQuery;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, AppState, Authorized};
use crate::store::{Level, Notification};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/notifications", get(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// `reminder` or `escalation`.
    #[param(pattern = "^(reminder|escalation)$")]
    level: Option<String>,
    /// `queued` or `delivered`.
    #[param(pattern = "^(queued|delivered)$")]
    state: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(ListQuery),
    responses((status = 200, body = [Notification])))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Notification>>, ApiError> {
    let level = match q.level.as_deref() {
        None => None,
        Some(name) => Some(Level::parse(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_level",
                format!("level {name:?} is not reminder or escalation"),
            )
            .with_field("level")
        })?),
    };
    if let Some(s) = q.state.as_deref()
        && !matches!(s, "queued" | "delivered")
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_state",
            format!("state {s:?} is not queued or delivered"),
        )
        .with_field("state"));
    }
    let limit = super::error::limit(q.limit, 100, 1000)?;
    let all = state
        .store
        .list_notifications(level, q.state.as_deref(), limit)
        .await?;
    // Outside a province-wide role, only notifications about systems in scope (by subject).
    Ok(Json(auth.filter(&state, all, |n| &n.subject_id).await?))
}
