//! `/api/v1/exchange`: the outbox to the provincial data-sharing exchange (Art. 27) for
//! operators: its status, the dead-letter queue, and replaying dead items — the queue and the
//! replay only of the systems the caller's grants cover, as on the console's page.

use axum::extract::State;

use super::error::ApiQuery;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState, Authorized};
use crate::store::{OutboxItem, OutboxState, OutboxStatus, Replay};

/// Most dead items one listing returns.
const DLQ_LIMIT: u32 = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exchange/status", get(status))
        .route("/api/v1/exchange/dlq", get(dlq))
        .route("/api/v1/exchange/dlq/replay", post(replay))
}

#[utoipa::path(get, path = "/api/v1/exchange/status", tag = "exchange", responses((status = 200, body = OutboxStatus)))]
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<OutboxStatus>, ApiError> {
    Ok(Json(state.store.outbox_status().await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DlqQuery {
    /// Only the dead items of this system.
    system: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/exchange/dlq", tag = "exchange", params(DlqQuery), responses((status = 200, body = [OutboxItem])))]
pub(super) async fn dlq(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<DlqQuery>,
) -> Result<Json<Vec<OutboxItem>>, ApiError> {
    let items = dead(&state, q.system.as_deref()).await?;
    Ok(Json(auth.filter(&state, items, |i| &i.system_id).await?))
}

/// The dead-letter queue (of one system), oldest first, at most [`DLQ_LIMIT`] items: the API's
/// listing and the console's page.
pub(super) async fn dead(state: &AppState, system: Option<&str>) -> Result<Vec<OutboxItem>, ApiError> {
    Ok(state
        .store
        .outbox_items(OutboxState::Dead, system, DLQ_LIMIT)
        .await?)
}

/// Which dead items to put back in the queue: `ids`, or `all` (optionally of one `system`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplayRequest {
    #[serde(default)]
    ids: Vec<i64>,
    #[serde(default)]
    all: bool,
    system: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ReplayAnswer {
    replayed: Vec<OutboxItem>,
}

#[utoipa::path(post, path = "/api/v1/exchange/dlq/replay", tag = "exchange", request_body = ReplayRequest, responses(
    (status = 200, body = ReplayAnswer),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn replay(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(request): ApiJson<ReplayRequest>,
) -> Result<Json<ReplayAnswer>, ApiError> {
    let invalid = |field: &str, message: &str| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_replay", message).with_field(field)
    };
    let which = match (request.ids.is_empty(), request.all) {
        (false, false) if request.system.is_some() => {
            return Err(invalid(
                "system",
                "system selects with all = true only; give ids or all",
            ));
        }
        (false, false) => Replay::Ids(request.ids),
        (true, true) => Replay::All {
            system_id: request.system,
        },
        (false, true) => return Err(invalid("ids", "give either ids or all = true, not both")),
        (true, false) => {
            return Err(invalid(
                "ids",
                "give the ids of dead items to replay, or all = true",
            ));
        }
    };
    let replayed = replay_dead(&state, &auth, &which).await?;
    Ok(Json(ReplayAnswer { replayed }))
}

/// Puts dead items back in the queue under `actor` (each audited; an id that is not a dead
/// item refuses the whole replay): the API's replay and the console's form.
pub(super) async fn replay_dead(
    state: &AppState,
    auth: &Authorized,
    which: &Replay,
) -> Result<Vec<OutboxItem>, ApiError> {
    match which {
        Replay::Ids(ids) => {
            let found = state.store.dead_outbox_items(ids).await?;
            if let Some(missing) = ids.iter().find(|id| !found.iter().any(|i| i.id == **id)) {
                return Err(ApiError::not_found(format!(
                    "exchange item {missing} is not in the dead-letter queue (replayed already?)"
                )));
            }
            for item in &found {
                auth.require_system(state, &item.system_id).await?;
            }
        }
        Replay::All {
            system_id: Some(system),
        } => {
            auth.require_system(state, system).await?;
        }
        Replay::All { system_id: None } if auth.visible_systems(state).await?.is_some() => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "out_of_scope",
                "replaying every system's dead items needs a province-wide grant: give system (one of yours) with all = true, or ids",
            )
            .with_field("system"));
        }
        Replay::All { system_id: None } => {}
    }
    let actor = &auth.principal.actor;
    let replayed = state.store.replay_outbox(which, actor).await?;
    tracing::info!(count = replayed.len(), actor, "exchange dead items replayed");
    Ok(replayed)
}
