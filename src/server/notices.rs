//! `/api/v1/notices`: announcing a change (Art. 16, 29, 30; refused with the earliest allowed
//! date when the notice period is too short), the public list, and its Atom feed.

use axum::extract::State;

use super::error::ApiQuery;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::{ApiError, ApiJson, AppState, Authorized};
use crate::notices::{NewNotice, Notice};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notices", get(list).post(announce))
        .route("/api/v1/notices.atom", get(feed))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct NoticesQuery {
    /// Only this system's notices.
    system: Option<String>,
    /// Only notices taking effect on or after this date (YYYY-MM-DD).
    from: Option<NaiveDate>,
}

#[utoipa::path(get, path = "/api/v1/notices", tag = "notices", params(NoticesQuery), responses((status = 200, body = [Notice])))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<NoticesQuery>,
) -> Result<Json<Vec<Notice>>, ApiError> {
    Ok(Json(state.store.list_notices(q.system.as_deref(), q.from).await?))
}

#[utoipa::path(post, path = "/api/v1/notices", tag = "notices", request_body = NewNotice, responses(
    (status = 201, body = Notice),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn announce(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(new): ApiJson<NewNotice>,
) -> Result<(StatusCode, Json<Notice>), ApiError> {
    Ok((StatusCode::CREATED, Json(publish(&state, &auth, &new).await?)))
}

/// Publishes `new` as the caller: its system in the caller's scope (403, 404), the notice
/// period and the other rules of `NewNotice::check` (422 naming every field), then stored. The
/// API's `POST /api/v1/notices` and the console's form both publish here.
pub(super) async fn publish(
    state: &AppState,
    auth: &Authorized,
    new: &NewNotice,
) -> Result<Notice, ApiError> {
    auth.require_system(state, &new.system_id).await?;
    let actor = auth.principal.actor.clone();
    let (published_on, earliest) = new
        .check(&state.calendar, crate::calendar::today())
        .map_err(ApiError::validation)?;
    let notice = state
        .store
        .insert_notice(new, published_on, earliest, &actor)
        .await?;
    tracing::info!(notice = notice.id, system = %notice.system_id, kind = notice.kind.name(), effective_on = %notice.effective_on, actor, "notice published");
    Ok(notice)
}

#[utoipa::path(get, path = "/api/v1/notices.atom", tag = "notices", responses((status = 200, content_type = "application/atom+xml", body = String)))]
pub(super) async fn feed(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let notices = state.store.list_notices(None, None).await?;
    let updated = notices
        .iter()
        .map(|n| n.created_at)
        .max()
        .unwrap_or_else(chrono::Utc::now);
    let mut engine = handlebars::Handlebars::new();
    engine.set_strict_mode(true);
    let body = engine
        .render_template(
            include_str!("templates/notices.atom.hbs"),
            &serde_json::json!({ "updated": updated.to_rfc3339(), "notices": notices }),
        )
        .map_err(|e| {
            tracing::error!(error = %e, "cannot render the notices feed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the feed could not be rendered",
            )
        })?;
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        body,
    ))
}
