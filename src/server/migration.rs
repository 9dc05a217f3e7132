//! `/api/v1/systems/{id}/migration`: a system's latest bulk-migration run (state, progress,
//! counts, report links) for the plan dashboard; `/api/v1/systems/{id}/migrations`: every run
//! of the system, newest first, in the same shape; and a run's reconciliation report (JSON, or
//! Markdown with `?format=md`; the latest run's unless `?run=` names another).

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::migration::{MigrationReport, report};
use crate::store::{MigrationRun, StoreError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/systems/{id}/migration", get(status))
        .route("/api/v1/systems/{id}/migrations", get(history))
        .route("/api/v1/systems/{id}/migration/report", get(show_report))
}

/// The latest run and how far it is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MigrationStatus {
    pub(super) run: MigrationRun,
    /// Share of the source read (0–1), where the source's size is known.
    pub(super) progress: Option<f64>,
    /// The reconciliation report, once the run has one.
    pub(super) report_url: Option<String>,
}

fn no_run(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_migration",
        format!("system {id:?} has no migration run (ronghe migrate run {id})"),
    )
}

async fn latest(state: &AppState, id: &str) -> Result<MigrationRun, ApiError> {
    state.store.latest_migration(id).await?.ok_or_else(|| no_run(id))
}

impl MigrationStatus {
    /// A run and how far it is; its report's address names the run unless it is the latest
    /// (`latest`), whose report `…/migration/report` answers without one.
    fn of(run: MigrationRun, latest: bool) -> MigrationStatus {
        let progress = run
            .source_rows
            .filter(|&n| n > 0)
            .map(|n| (run.rows_read as f64 / n as f64).min(1.0));
        let report_url = run.differences.map(|_| {
            let url = format!("/api/v1/systems/{}/migration/report", run.system_id);
            if latest {
                url
            } else {
                format!("{url}?run={}", run.id)
            }
        });
        MigrationStatus {
            run,
            progress,
            report_url,
        }
    }
}

/// The latest run of system `id` and how far it is, `None` before its first run: the API's
/// answer, and what the console's system page and overview show.
pub(super) async fn current(state: &AppState, id: &str) -> Result<Option<MigrationStatus>, ApiError> {
    Ok(state
        .store
        .latest_migration(id)
        .await?
        .map(|run| MigrationStatus::of(run, true)))
}

/// Every run of system `id`, newest first, each as [`current`] answers the latest; 404 for an
/// unknown system. The API's answer and the console's migration history.
pub(super) async fn runs(state: &AppState, id: &str) -> Result<Vec<MigrationStatus>, ApiError> {
    state.store.get_system(id).await?;
    let runs = state.store.migration_runs(id).await?;
    Ok(runs
        .into_iter()
        .enumerate()
        .map(|(n, run)| MigrationStatus::of(run, n == 0))
        .collect())
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/migration", tag = "systems", params(("id" = String, Path)),
    responses((status = 200, body = MigrationStatus), (status = 404, description = "no run yet")))]
pub(super) async fn status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MigrationStatus>, ApiError> {
    current(&state, &id).await?.map(Json).ok_or_else(|| no_run(&id))
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/migrations", tag = "systems", params(("id" = String, Path)),
    responses((status = 200, body = [MigrationStatus], description = "every run, newest first (empty before the first)"),
        (status = 404, description = "unknown system")))]
pub(super) async fn history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<MigrationStatus>>, ApiError> {
    runs(&state, &id).await.map(Json)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    /// `json` (default) or `md`.
    #[param(pattern = "^(json|md|markdown)$")]
    format: Option<String>,
    /// The run whose report to show (one of the system's, as `…/migrations` lists them); the
    /// latest run's by default.
    run: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/migration/report", tag = "systems", params(("id" = String, Path), ReportQuery),
    responses((status = 200, description = "the report as ?format= asks", content((MigrationReport = "application/json"), (String = "text/markdown"))),
        (status = 404, body = super::error::ErrorBody, description = "no reconciled run yet")))]
pub(super) async fn show_report(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let markdown = match q.format.as_deref() {
        None | Some("json") => false,
        Some("md" | "markdown") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_format",
                format!("format {other:?} is not json or md"),
            )
            .with_field("format"));
        }
    };
    let run = match q.run.as_deref() {
        None => latest(&state, &id).await?,
        Some(run_id) => match state.store.migration_run(run_id).await {
            Ok(run) if run.system_id == id => run,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_migration",
                    format!("system {id:?} has no migration run {run_id:?}"),
                )
                .with_field("run"));
            }
            Err(e) => return Err(e.into()),
        },
    };
    let not_yet = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_report",
            format!(
                "migration run {} of system {id:?} is {} and has no report yet",
                run.id,
                run.state.name()
            ),
        )
    };
    let value = state.store.migration_report(&run.id).await?.ok_or_else(not_yet)?;
    if !markdown {
        return Ok(Json(value).into_response());
    }
    let parsed: MigrationReport = serde_json::from_value(value).map_err(|e| {
        tracing::error!(run = %run.id, error = %e, "stored migration report does not parse");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the stored report cannot be read",
        )
    })?;
    let text = report::markdown(&parsed).map_err(|e| {
        tracing::error!(run = %run.id, error = %e, "cannot render the migration report");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the report cannot be rendered",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], text).into_response())
}
