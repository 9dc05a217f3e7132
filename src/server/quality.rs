//! `/api/v1/quality`: the data-quality queue of records refused at intake. Listings carry no
//! record; reading one item (the record as received, with personal data) is audited.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{Actor, ApiError, AppState, Authorized};
use crate::store::{QualityItem, QualityStatus, QualitySummary};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/quality", get(list))
        .route("/api/v1/quality/{id}", get(show))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Only items of this system.
    system: Option<String>,
    /// Only items with this status: `open`, `dismissed` or `resolved`.
    status: Option<String>,
    /// At most this many, newest first (1–1000; default 100).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/quality", tag = "writeback", params(ListQuery), responses(
    (status = 200, body = [QualitySummary]),
    (status = 400, body = super::error::ErrorBody),
))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<QualitySummary>>, ApiError> {
    let status = match query.status.as_deref() {
        None => None,
        Some(name) => Some(QualityStatus::parse(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("unknown status {name:?}; use open, dismissed or resolved"),
            )
            .with_field("status")
        })?),
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit must be 1 to 1000",
        )
        .with_field("limit"));
    }
    let items = state
        .store
        .list_quality_items(query.system.as_deref(), status, limit)
        .await?;
    Ok(Json(auth.filter(&state, items, |i| &i.system_id).await?))
}

#[utoipa::path(get, path = "/api/v1/quality/{id}", tag = "writeback", params(("id" = i64, Path), super::cases::Disclosure), responses(
    (status = 200, body = QualityItem, description = "the record's string values masked unless unmasked with a purpose"),
    (status = 400, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn show(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<i64>,
    Query(disclosure): Query<super::cases::Disclosure>,
) -> Result<Json<QualityItem>, ApiError> {
    let purpose = disclosure.purpose()?;
    let mut item = state.store.quality_item(id).await?;
    let target = format!("quality/{id}");
    super::cases::Disclosure::audit(
        purpose.as_deref(),
        &state,
        &actor,
        ("quality.read", "quality.unmask"),
        &target,
    )
    .await?;
    if purpose.is_none() {
        item.record = crate::validate::mask_record(&item.record);
    }
    Ok(Json(item))
}
