//! `/api/v1/monitoring/visits`: return visits (办件回访, Art. 15) — draw a month's plan (of a
//! system in the caller's scope, or of every system for a province-wide caller), list the visits
//! (applicants masked), record a call's outcome (a finding opens a correction request, Art. 28),
//! and the month's report per system and item. Scope is decided here (`InHandler`).

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{Actor, ApiError, ApiJson, AppState, Authorized};
use crate::monitoring;
use crate::visits::{Month, Outcome, Report, Visit, VisitError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/monitoring/visits", get(list).post(plan))
        .route("/api/v1/monitoring/visits/report", get(report))
        .route("/api/v1/monitoring/visits/{id}/outcome", post(record))
}

impl From<VisitError> for ApiError {
    fn from(err: VisitError) -> ApiError {
        match err {
            VisitError::Invalid(issues) => ApiError::validation(issues),
            VisitError::NotFound(_) => ApiError::not_found(err.to_string()),
            VisitError::State { .. } | VisitError::AlreadyPlanned { .. } => {
                ApiError::new(StatusCode::CONFLICT, err.code(), err.to_string())
            }
            VisitError::Calendar(_) | VisitError::Correction(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, err.code(), err.to_string())
            }
        }
    }
}

fn month(text: &str) -> Result<Month, ApiError> {
    Month::parse(text).map_err(|message| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_month", message).with_field("month")
    })
}

/// The month asked for and its visits of the systems the caller sees (the list and the report).
async fn visible(
    state: &AppState,
    auth: &Authorized,
    q: &MonthQuery,
) -> Result<(Month, Vec<Visit>), ApiError> {
    let month = month(&q.month)?;
    let visits = state
        .store
        .visits(Some(&month.to_string()), q.system.as_deref())
        .await?;
    Ok((month, auth.filter(state, visits, |v| &v.system_id).await?))
}

/// A plan to draw.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PlanRequest {
    /// The month whose finished cases are sampled, YYYY-MM.
    #[schema(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: String,
    /// Only this system; required unless the caller's grant is province-wide.
    system: Option<String>,
    /// Cases to draw, stratified by system and item.
    size: usize,
    /// The seed (default: random, returned with each visit).
    seed: Option<u64>,
}

#[utoipa::path(post, path = "/api/v1/monitoring/visits", tag = "monitoring", request_body = PlanRequest,
    responses((status = 201, body = [Visit]), (status = 409, body = super::error::ErrorBody)))]
pub(super) async fn plan(
    State(state): State<AppState>,
    auth: Authorized,
    Actor(actor): Actor,
    ApiJson(request): ApiJson<PlanRequest>,
) -> Result<(StatusCode, Json<Vec<Visit>>), ApiError> {
    let month = month(&request.month)?;
    match request.system.as_deref() {
        Some(system) => {
            auth.require_system(&state, system).await?;
        }
        None if auth.visible_systems(&state).await?.is_some() => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "system_required",
                "name the system: a plan of every system needs a province-wide grant",
            )
            .with_field("system"));
        }
        None => {}
    }
    let seed = request.seed.unwrap_or_else(crate::visits::fresh_seed);
    let planned = monitoring::plan_visits(
        &state.store,
        month,
        request.system.as_deref(),
        request.size,
        seed,
        &actor,
    )
    .await?;
    tracing::info!(%month, seed, visits = planned.len(), actor, "return visits planned");
    Ok((StatusCode::CREATED, Json(planned)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct MonthQuery {
    /// YYYY-MM.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: String,
    /// Only this system.
    system: Option<String>,
}

/// A visit as listed: the applicant to call, masked.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Listed {
    #[serde(flatten)]
    visit: Visit,
    applicant_name: String,
    applicant_phone: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/monitoring/visits", tag = "monitoring", params(MonthQuery),
    responses((status = 200, body = [Listed])))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let (_, visits) = visible(&state, &auth, &q).await?;
    let mut listed = Vec::with_capacity(visits.len());
    for visit in visits {
        let case = state
            .store
            .get_case(&visit.system_id, &visit.case_no)
            .await?
            .case
            .masked();
        listed.push(Listed {
            applicant_name: case.applicant.name,
            applicant_phone: case.applicant.phone,
            visit,
        });
    }
    Ok(Json(listed))
}

#[utoipa::path(post, path = "/api/v1/monitoring/visits/{id}/outcome", tag = "monitoring",
    params(("id" = i64, Path)), request_body = Outcome,
    responses((status = 200, body = Visit), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub(super) async fn record(
    State(state): State<AppState>,
    auth: Authorized,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(outcome): ApiJson<Outcome>,
) -> Result<Json<Visit>, ApiError> {
    let visit = state.store.visit(id).await?;
    auth.require_system(&state, &visit.system_id).await?;
    let visit = monitoring::record_visit(
        &state.store,
        &state.calendar,
        id,
        &outcome,
        &actor,
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(visit))
}

#[utoipa::path(get, path = "/api/v1/monitoring/visits/report", tag = "monitoring", params(MonthQuery),
    responses((status = 200, body = Report)))]
pub(super) async fn report(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> Result<Json<Report>, ApiError> {
    let (month, visits) = visible(&state, &auth, &q).await?;
    Ok(Json(crate::visits::report(month, &visits)))
}
