//! Liveness and readiness: `/healthz` answers while the process runs; `/readyz` only while the
//! store answers too.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{ApiError, AppState};

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "the process runs")))]
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "the store answers"),
    (status = 503, description = "the store does not answer", body = super::error::ErrorBody),
))]
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(
            json!({ "status": "ready", "store": state.store.backend().name() }),
        )),
        Err(err) => {
            tracing::warn!(error = %err, "store not ready");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the platform store does not answer",
            ))
        }
    }
}
