//! `/api/v1/quality`: the data-quality queue of records refused at intake. Listings carry no
//! record; reading one item (the record as received, with personal data) is audited; an
//! operator dismisses an open item with a reason (`Store::dismiss_quality_item`, as the console's
//! form and `ronghe quality dismiss` do).

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{Actor, ApiError, ApiJson, AppState, Authorized};
use crate::store::{DismissError, QualityItem, QualityStatus, QualitySummary};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/quality", get(list))
        .route("/api/v1/quality/{id}", get(show))
        .route("/api/v1/quality/{id}/dismiss", post(dismiss))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only items of this system.
    system: Option<String>,
    /// Only items with this status: `open`, `dismissed` or `resolved`.
    #[param(pattern = "^(open|dismissed|resolved)$")]
    status: Option<String>,
    /// At most this many, newest first (1–1000; default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/quality", tag = "writeback", params(ListQuery), responses(
    (status = 200, body = [QualitySummary]),
    (status = 400, body = super::error::ErrorBody),
))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<QualitySummary>>, ApiError> {
    let status = query.status.as_deref().map(parse_status).transpose()?;
    let limit = super::error::limit(query.limit, 100, 1000)?;
    Ok(Json(
        visible(&state, &auth, query.system.as_deref(), status, limit).await?,
    ))
}

/// A status filter's value: `open`, `dismissed` or `resolved` (400 naming `status` otherwise).
fn parse_status(name: &str) -> Result<QualityStatus, ApiError> {
    QualityStatus::parse(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("unknown status {name:?}; use open, dismissed or resolved"),
        )
        .with_field("status")
    })
}

/// The newest `limit` items (of one system, with one status) that lie in the caller's scope:
/// the API's listing and the console's queue.
pub(super) async fn visible(
    state: &AppState,
    auth: &Authorized,
    system: Option<&str>,
    status: Option<QualityStatus>,
    limit: i64,
) -> Result<Vec<QualitySummary>, ApiError> {
    let items = state.store.list_quality_items(system, status, limit).await?;
    auth.filter(state, items, |i| &i.system_id).await
}

#[utoipa::path(get, path = "/api/v1/quality/{id}", tag = "writeback", params(("id" = i64, Path), super::cases::Disclosure), responses(
    (status = 200, body = QualityItem, description = "the record's string values masked unless unmasked with a purpose"),
    (status = 400, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn show(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(disclosure): ApiQuery<super::cases::Disclosure>,
) -> Result<Json<QualityItem>, ApiError> {
    let purpose = disclosure.purpose()?;
    Ok(Json(read(&state, &actor, id, purpose.as_deref()).await?))
}

/// One item, audited as read (`quality.read`), its record's string values masked unless
/// `purpose` unmasks them (`quality.unmask`): the API's item and the console's item page.
pub(super) async fn read(
    state: &AppState,
    actor: &str,
    id: i64,
    purpose: Option<&str>,
) -> Result<QualityItem, ApiError> {
    let mut item = state.store.quality_item(id).await?;
    let target = format!("quality/{id}");
    super::cases::Disclosure::audit(purpose, state, actor, ("quality.read", "quality.unmask"), &target)
        .await?;
    if purpose.is_none() {
        item.record = crate::validate::mask_record(&item.record);
    }
    Ok(item)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DismissRequest {
    /// Why the item needs no correction (kept in the audit log).
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/quality/{id}/dismiss", tag = "writeback", params(("id" = i64, Path)), request_body = DismissRequest, responses(
    (status = 200, body = QualityItem, description = "dismissed; the record's string values masked"),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, description = "not_open: the item was dismissed or resolved before", body = super::error::ErrorBody),
    (status = 422, description = "invalid_dismissal: no reason", body = super::error::ErrorBody),
))]
/// Dismisses an open item with a reason (audited).
pub(super) async fn dismiss(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<DismissRequest>,
) -> Result<Json<QualityItem>, ApiError> {
    let mut item = state
        .store
        .dismiss_quality_item(id, &request.reason, &actor)
        .await?;
    item.record = crate::validate::mask_record(&item.record);
    Ok(Json(item))
}

impl From<DismissError> for ApiError {
    fn from(err: DismissError) -> ApiError {
        match err {
            DismissError::NoReason => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_dismissal",
                err.to_string(),
            )
            .with_field("reason"),
            DismissError::NotOpen { .. } => ApiError::new(StatusCode::CONFLICT, "not_open", err.to_string()),
        }
    }
}
