//! `/api/v1/systems`: register, list, show, update and retire departmental systems.

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;

use super::{Actor, ApiError, ApiJson, AppState, Authorized};
use crate::systems::{NewSystem, System, SystemPatch, SystemStatus};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/systems", get(list).post(register))
        .route("/api/v1/systems/{id}", get(show).patch(update))
        .route("/api/v1/systems/{id}/retire", post(retire))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only systems with this status.
    #[param(pattern = "^(registered|assessed|planned|integrating|live|retired)$")]
    status: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RetireRequest {
    /// Why the system is retired (kept in the audit log).
    reason: String,
}

#[utoipa::path(get, path = "/api/v1/systems", tag = "systems", params(ListQuery), responses(
    (status = 200, body = [System]),
    (status = 400, body = super::error::ErrorBody),
))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<System>>, ApiError> {
    let status = match query.status.as_deref() {
        None => None,
        Some(name) => Some(SystemStatus::parse(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("unknown status {name:?}"),
            )
            .with_field("status")
        })?),
    };
    let systems = state.store.list_systems(status).await?;
    Ok(Json(systems.into_iter().filter(|s| auth.sees(s)).collect()))
}

#[utoipa::path(post, path = "/api/v1/systems", tag = "systems", request_body = NewSystem, responses(
    (status = 201, body = System),
    (status = 400, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn register(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(new): ApiJson<NewSystem>,
) -> Result<(StatusCode, Json<System>), ApiError> {
    let system = new.validate(Utc::now())?;
    if !auth.sees(&system) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            format!(
                "a system of {} in {} lies outside the scope of your roles",
                system.department, system.region_code
            ),
        ));
    }
    let actor = auth.principal.actor.clone();
    state.store.insert_system(&system, &actor).await?;
    tracing::info!(system = %system.id, actor, "system registered");
    Ok((StatusCode::CREATED, Json(system)))
}

#[utoipa::path(get, path = "/api/v1/systems/{id}", tag = "systems", params(("id" = String, Path)), responses(
    (status = 200, body = System),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<System>, ApiError> {
    Ok(Json(state.store.get_system(&id).await?))
}

#[utoipa::path(patch, path = "/api/v1/systems/{id}", tag = "systems", params(("id" = String, Path)), request_body = SystemPatch, responses(
    (status = 200, body = System),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn update(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<SystemPatch>,
) -> Result<Json<System>, ApiError> {
    let now = Utc::now();
    let system = state
        .store
        .modify_system(&id, &actor, ("system.update", None), |s| s.apply(patch, now))
        .await?;
    Ok(Json(system))
}

#[utoipa::path(post, path = "/api/v1/systems/{id}/retire", tag = "systems", params(("id" = String, Path)), request_body = RetireRequest, responses(
    (status = 200, body = System),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn retire(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RetireRequest>,
) -> Result<Json<System>, ApiError> {
    let now = Utc::now();
    let system = state
        .store
        .modify_system(&id, &actor, ("system.retire", Some(&request.reason)), |s| {
            s.retire(&request.reason, now)
        })
        .await?;
    tracing::info!(system = %id, actor, "system retired");
    Ok(Json(system))
}
