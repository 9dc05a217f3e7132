//! `/api/v1/rules`: the public list of published data-collection items and validation rules
//! (Art. 29), and publishing a new one.

use axum::extract::State;

use super::error::ApiQuery;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{Actor, ApiError, ApiJson, AppState};
use crate::rules::{NewRule, PublishedRule};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/rules", get(list).post(publish))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RulesQuery {
    /// Only the rules binding this 实施编码 (with those for every item).
    item_code: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules", params(RulesQuery), responses((status = 200, body = [PublishedRule])))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RulesQuery>,
) -> Result<Json<Vec<PublishedRule>>, ApiError> {
    Ok(Json(state.store.list_rules(q.item_code.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", request_body = NewRule, responses(
    (status = 201, body = PublishedRule),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn publish(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiJson(rule): ApiJson<NewRule>,
) -> Result<(StatusCode, Json<PublishedRule>), ApiError> {
    let problems = rule.problems(crate::calendar::today());
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let published = state.store.insert_rule(&rule, &actor).await?;
    tracing::info!(rule = published.id, item = %published.item_code, field = %published.field, actor, "rule published");
    Ok((StatusCode::CREATED, Json(published)))
}
