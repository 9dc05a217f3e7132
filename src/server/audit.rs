//! `/api/v1/audit`: the hash-chained audit log (Art. 21, 32) filtered and paged, and its
//! verification. Who may read it is decided by the authorization layer in front of these routes.

use axum::extract::State;

use super::error::ApiQuery;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::store::audit_log::{self as audit, AuditError, AuditEvent, AuditFilter, ChainBreak, Edge};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit", get(list))
        .route("/api/v1/audit/verify", get(verify))
}

#[derive(Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditQuery {
    /// Only events of this actor.
    pub(super) actor: Option<String>,
    /// Only events of this action, e.g. `system.register`.
    pub(super) action: Option<String>,
    /// Only events whose target starts with this.
    pub(super) target: Option<String>,
    /// From this instant (RFC 3339) or the start of this day (YYYY-MM-DD, Beijing time).
    pub(super) since: Option<String>,
    /// Before this instant (RFC 3339), or up to the end of this day (YYYY-MM-DD).
    pub(super) until: Option<String>,
    /// Only events after this seq: the last seq of the previous page.
    pub(super) after_seq: Option<i64>,
    /// At most this many events, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub(super) limit: Option<u32>,
}

/// The chain's state: intact with its event count, or the first break.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Verification {
    pub(super) intact: bool,
    /// Events checked, when intact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) events: Option<u64>,
    /// The first break, when not intact.
    #[serde(rename = "break", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub(super) broken: Option<ChainBreak>,
    /// The break for a person (zh-CN, then English).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) message: Option<String>,
}

fn bad_query(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}

fn instant(text: Option<&str>, field: &'static str, edge: Edge) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(|t| audit::parse_instant(t, edge))
        .transpose()
        .map_err(|message| bad_query(field, message))
}

/// Audit events oldest first by seq; page with `after_seq`.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), responses(
    (status = 200, body = [AuditEvent]),
    (status = 400, body = super::error::ErrorBody),
))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    Ok(Json(state.store.audit_events(&filter_of(q)?).await?))
}

/// The store's filter of a query (400 `invalid_query` naming the parameter). The API's list
/// and the console's audit page read the log through it.
pub(super) fn filter_of(q: AuditQuery) -> Result<AuditFilter, ApiError> {
    if q.limit.is_some_and(|l| l == 0 || l > audit::MAX_LIMIT) {
        return Err(bad_query(
            "limit",
            format!("limit must be 1 to {}", audit::MAX_LIMIT),
        ));
    }
    Ok(AuditFilter {
        since: instant(q.since.as_deref(), "since", Edge::Start)?,
        until: instant(q.until.as_deref(), "until", Edge::End)?,
        actor: q.actor,
        action: q.action,
        target_prefix: q.target,
        after_seq: q.after_seq,
        limit: q.limit,
    })
}

/// Walks the whole chain: 200 with `intact` true and the count, or false and the first break.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses(
    (status = 200, body = Verification),
    (status = 503, body = super::error::ErrorBody),
))]
pub(super) async fn verify(State(state): State<AppState>) -> Result<Json<Verification>, ApiError> {
    Ok(Json(verification(&state).await?))
}

/// Walks the whole chain (the API's verify and the console's check).
pub(super) async fn verification(state: &AppState) -> Result<Verification, ApiError> {
    match state.store.verify_audit_chain().await {
        Ok(events) => Ok(Verification {
            intact: true,
            events: Some(events),
            broken: None,
            message: None,
        }),
        Err(AuditError::Broken(broken)) => {
            tracing::warn!(kind = ?broken.kind, seq = broken.seq, id = broken.id, "audit chain broken");
            Ok(Verification {
                intact: false,
                events: None,
                message: Some(broken.to_string()),
                broken: Some(broken),
            })
        }
        Err(other) => Err(other.into()),
    }
}

impl From<AuditError> for ApiError {
    fn from(err: AuditError) -> ApiError {
        match err {
            AuditError::Store(e) => e.into(),
            AuditError::Broken(_) => {
                ApiError::new(StatusCode::CONFLICT, "audit_chain_broken", err.to_string())
            }
            AuditError::TooRecent { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "retention_not_met",
                err.to_string(),
            ),
        }
    }
}
