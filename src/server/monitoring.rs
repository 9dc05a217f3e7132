//! `/api/v1/monitoring`: a system's reconciliation for a day (JSON, or a report with
//! `?format=text|md|html|csv`), the reconciliations the daily job saved, and a reproducible
//! spot-check sample (JSON or CSV), and system checks — a system's recorded checks, or one run
//! now, with its schema drift (Art. 15).

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::{Actor, ApiError, AppState, Authorized};
use crate::monitoring::{self, ReportFormat};
use crate::pull::PullError;
use crate::reconciliation::Reconciliation;
use crate::store::{StoredReconciliation, SystemCheck};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/monitoring/{system}/reconciliation", get(reconcile))
        .route("/api/v1/monitoring/{system}/spot-check", get(spot_check))
        .route("/api/v1/monitoring/reconciliations", get(saved))
        .route("/api/v1/monitoring/{system}/checks", get(checks).post(run_check))
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
#[into_params(parameter_in = Query)]
pub(super) struct DayQuery {
    /// The day (Beijing time), YYYY-MM-DD.
    date: NaiveDate,
    /// `json` (default), `text`, `md`, `html` or `csv` (one row per differing case).
    #[param(pattern = "^(json|text|md|markdown|html|csv)$")]
    format: Option<String>,
}

fn report_format(name: Option<&str>, allowed: &[ReportFormat]) -> Result<ReportFormat, ApiError> {
    match name.map(ReportFormat::parse) {
        None => Ok(ReportFormat::Json),
        Some(Some(format)) if allowed.contains(&format) => Ok(format),
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_format",
            format!(
                "format {:?} is not one of json, text, md, html, csv (the spot check: json, csv)",
                name.unwrap_or_default()
            ),
        )
        .with_field("format")),
    }
}

/// `report` as JSON, or rendered in `format` with its content type.
fn answer(report: &Reconciliation, format: ReportFormat) -> Result<Response, ApiError> {
    if format == ReportFormat::Json {
        return Ok(Json(report).into_response());
    }
    let body = monitoring::render(report, format)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}

const ALL_FORMATS: [ReportFormat; 5] = [
    ReportFormat::Json,
    ReportFormat::Text,
    ReportFormat::Md,
    ReportFormat::Html,
    ReportFormat::Csv,
];

#[utoipa::path(get, path = "/api/v1/monitoring/{system}/reconciliation", tag = "monitoring",
    params(("system" = String, Path), DayQuery), responses(
    (status = 200, description = "the report as ?format= asks", content((Reconciliation = "application/json"),
        (String = "text/plain"), (String = "text/markdown"), (String = "text/html"), (String = "text/csv"))),
    (status = 422, body = super::error::ErrorBody, description = "not_configured: the system's adapter or mapping cannot be read"),
))]
pub(super) async fn reconcile(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> Result<Response, ApiError> {
    let format = report_format(q.format.as_deref(), &ALL_FORMATS)?;
    let report = monitoring::reconcile(&state.store, &state.writeback, &system, q.date).await?;
    answer(&report, format)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SavedQuery {
    /// Only this system.
    system: Option<String>,
    /// Only this day (Beijing time), YYYY-MM-DD.
    date: Option<NaiveDate>,
    /// With `system` and `date`: that one report in `json`, `text`, `md`, `html` or `csv`.
    #[param(pattern = "^(json|text|md|markdown|html|csv)$")]
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/monitoring/reconciliations", tag = "monitoring", params(SavedQuery),
    responses((status = 200, description = "the saved reports; with system, date and format, that one report",
        content(([StoredReconciliation] = "application/json"), (String = "text/plain"), (String = "text/markdown"),
            (String = "text/html"), (String = "text/csv")))))]
pub(super) async fn saved(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<SavedQuery>,
) -> Result<Response, ApiError> {
    let saved = visible(&state, &auth, q.system.as_deref(), q.date).await?;
    if q.format.is_none() {
        return Ok(Json(saved).into_response());
    }
    let format = report_format(q.format.as_deref(), &ALL_FORMATS)?;
    let (Some(_), Some(_), [one]) = (&q.system, q.date, saved.as_slice()) else {
        return Err(ApiError::not_found(
            "no saved reconciliation of that system and day (format needs system and date)",
        ));
    };
    answer(&one.report, format)
}

/// The saved reconciliations (of one system, of one day) whose system lies in the caller's
/// scope: the API's listing and the console's page.
pub(super) async fn visible(
    state: &AppState,
    auth: &Authorized,
    system: Option<&str>,
    date: Option<NaiveDate>,
) -> Result<Vec<StoredReconciliation>, ApiError> {
    let saved = state.store.reconciliations(system, date).await?;
    auth.filter(state, saved, |r| &r.system_id).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SampleQuery {
    date: NaiveDate,
    /// How many cases (default 10).
    size: Option<usize>,
    /// The same seed and data give the same sample.
    seed: u64,
    #[param(pattern = "^(json|csv)$")]
    /// `json` (default) or `csv`.
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/monitoring/{system}/spot-check", tag = "monitoring",
    params(("system" = String, Path), SampleQuery), responses(
    (status = 200, description = "the sampled case numbers, or a CSV worksheet",
        content(([String] = "application/json"), (String = "text/csv"))),
    (status = 422, body = super::error::ErrorBody, description = "not_configured: the system's adapter or mapping cannot be read"),
))]
pub(super) async fn spot_check(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(system): ApiPath<String>,
    ApiQuery(q): ApiQuery<SampleQuery>,
) -> Result<Response, ApiError> {
    let format = report_format(q.format.as_deref(), &[ReportFormat::Json, ReportFormat::Csv])?;
    let sample = monitoring::spot_check(
        &state.store,
        &system,
        q.date,
        q.size.unwrap_or(10),
        q.seed,
        &actor,
    )
    .await?;
    if format == ReportFormat::Csv {
        let body = monitoring::spot_check_csv(&system, q.date, q.seed, &sample)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
        return Ok(([(header::CONTENT_TYPE, ReportFormat::Csv.content_type())], body).into_response());
    }
    Ok(Json(sample).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckRequest {
    /// Accept the drift the check finds, with this reason: the fresh profile replaces the stored one.
    accept_reason: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/monitoring/{system}/checks", tag = "monitoring",
    params(("system" = String, Path)), responses((status = 200, body = [SystemCheck])))]
pub(super) async fn checks(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> Result<Json<Vec<SystemCheck>>, ApiError> {
    state.store.get_system(&system).await?;
    Ok(Json(state.store.list_checks(&system, 50).await?))
}

/// Checks the system now: probed through its adapter, the fresh profile compared with the
/// stored one; the check is recorded (and answered) whether or not the system was reachable.
#[utoipa::path(post, path = "/api/v1/monitoring/{system}/checks", tag = "monitoring",
    params(("system" = String, Path)), request_body = CheckRequest, responses(
    (status = 201, body = SystemCheck),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn run_check(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    auth: Authorized,
    super::ApiJson(request): super::ApiJson<CheckRequest>,
) -> Result<(StatusCode, Json<SystemCheck>), ApiError> {
    let reason = request.accept_reason.as_deref().map(str::trim);
    if reason == Some("") {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "accept_reason: say why the drift is accepted, or leave the field out",
        )
        .with_field("accept_reason"));
    }
    state.store.get_system(&system).await?;
    let done = monitoring::check(
        &state.store,
        &ronghe_adapters::Environment,
        state.writeback.mappings_dir(),
        &system,
        &auth.principal.actor,
        reason,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(done)))
}
