//! `/api/v1/plans`: the portfolio, a system's plan (import, show, progress, baseline), its Gantt
//! chart (SVG) and its report (HTML or Markdown).

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::{Actor, ApiError, ApiJson, AppState, Authorized};
use crate::calendar::today;
use crate::planning::{self, Format, PlanError, PlanSummary};
use crate::plans::{PlanView, gantt};
use crate::store::StoreError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/plans", get(portfolio))
        .route("/api/v1/plans/{system}", get(show).put(import))
        .route("/api/v1/plans/{system}/baseline", post(baseline))
        .route("/api/v1/plans/{system}/milestones/{milestone}", put(progress))
        .route("/api/v1/plans/{system}/gantt.svg", get(chart))
        .route("/api/v1/plans/{system}/report", get(report))
}

impl From<PlanError> for ApiError {
    fn from(err: PlanError) -> ApiError {
        match err {
            PlanError::Invalid(issues) => ApiError::validation(issues),
            PlanError::Store(StoreError::NotFound { what, id }) => ApiError::not_found(format!(
                "{what} {id:?} not found; import it with PUT /api/v1/plans/{id}"
            )),
            PlanError::Store(e) => e.into(),
            PlanError::Calendar(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "calendar",
                format!(
                    "{e}: the plan reaches a year without working-day data; add it with calendar_override"
                ),
            ),
            PlanError::Render(message) => {
                tracing::error!(%message, "plan report");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the report could not be rendered",
                )
            }
        }
    }
}

#[utoipa::path(get, path = "/api/v1/plans", tag = "plans", responses((status = 200, body = [PlanSummary])))]
pub(super) async fn portfolio(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<Vec<PlanSummary>>, ApiError> {
    let plans = planning::portfolio(&state.store, today(), &state.calendar).await?;
    Ok(Json(auth.filter(&state, plans, |p| &p.system_id).await?))
}

#[utoipa::path(get, path = "/api/v1/plans/{system}", tag = "plans", params(("system" = String, Path)),
    responses((status = 200, body = PlanView), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn show(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> Result<Json<PlanView>, ApiError> {
    Ok(Json(
        planning::show(&state.store, &system, today(), &state.calendar).await?,
    ))
}

/// A plan file to import.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PlanText {
    /// The plan file (`migration-plans/SYSTEM.toml`) as text.
    toml: String,
}

#[utoipa::path(put, path = "/api/v1/plans/{system}", tag = "plans", params(("system" = String, Path)), request_body = PlanText,
    responses((status = 200, body = PlanView), (status = 422, body = super::error::ErrorBody)))]
pub(super) async fn import(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<PlanText>,
) -> Result<Json<PlanView>, ApiError> {
    planning::import(&state.store, &body.toml, Some(&system), &actor).await?;
    Ok(Json(
        planning::show(&state.store, &system, today(), &state.calendar).await?,
    ))
}

/// Recorded progress of a milestone; a date left out keeps what was recorded.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgressBody {
    started_on: Option<NaiveDate>,
    finished_on: Option<NaiveDate>,
    #[serde(default)]
    note: String,
}

#[utoipa::path(put, path = "/api/v1/plans/{system}/milestones/{milestone}", tag = "plans",
    params(("system" = String, Path), ("milestone" = String, Path)), request_body = ProgressBody,
    responses((status = 200, body = PlanView), (status = 422, body = super::error::ErrorBody)))]
pub(super) async fn progress(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath((system, milestone)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ProgressBody>,
) -> Result<Json<PlanView>, ApiError> {
    let progress = crate::plans::Progress {
        started_on: body.started_on,
        finished_on: body.finished_on,
    };
    planning::record(
        &state.store,
        &system,
        &milestone,
        &progress,
        &body.note,
        today(),
        &actor,
    )
    .await?;
    Ok(Json(
        planning::show(&state.store, &system, today(), &state.calendar).await?,
    ))
}

/// Who approved a (re-)baseline and why.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BaselineBody {
    approved_by: String,
    #[serde(default)]
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/plans/{system}/baseline", tag = "plans", params(("system" = String, Path)),
    request_body = BaselineBody, responses((status = 201, body = PlanView), (status = 422, body = super::error::ErrorBody)))]
pub(super) async fn baseline(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<BaselineBody>,
) -> Result<(StatusCode, Json<PlanView>), ApiError> {
    let version = planning::baseline(
        &state.store,
        &system,
        &body.approved_by,
        &body.reason,
        today(),
        &state.calendar,
        &actor,
    )
    .await?;
    tracing::info!(system, version, actor, "plan baselined");
    Ok((
        StatusCode::CREATED,
        Json(planning::show(&state.store, &system, today(), &state.calendar).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/plans/{system}/gantt.svg", tag = "plans", params(("system" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String)))]
pub(super) async fn chart(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let view = planning::show(&state.store, &system, today(), &state.calendar).await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        gantt::render(&view, today(), &state.calendar),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    /// `html` (default) or `markdown`.
    #[param(pattern = "^(html|markdown)$")]
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/plans/{system}/report", tag = "plans", params(("system" = String, Path), ReportQuery),
    responses((status = 200, description = "the report as ?format= asks", content((String = "text/html"), (String = "text/markdown")))))]
pub(super) async fn report(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let (format, content_type) = match q.format.as_deref() {
        None | Some("html") => (Format::Html, "text/html; charset=utf-8"),
        Some("markdown") => (Format::Markdown, "text/markdown; charset=utf-8"),
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_format",
                format!("format {other:?} is not html or markdown"),
            )
            .with_field("format"));
        }
    };
    let view = planning::show(&state.store, &system, today(), &state.calendar).await?;
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        planning::report(&view, today(), &state.calendar, format)?,
    ))
}
