//! `/api/v1/corrections`: correction requests (Art. 28 校核纠错) raised from a data-quality item
//! or a disputed case, due in 10 working days; answered by the providing department, then closed
//! (or withdrawn while open). `overdue=true` lists the open ones past their due date.

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{Actor, ApiError, ApiJson, AppState, Authorized};
use crate::case::FieldIssue;
use crate::corrections::{self, Action, Correction, CorrectionError, Source, Status};
use crate::store::CorrectionFilter;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/corrections", get(list).post(raise))
        .route("/api/v1/corrections/{id}", get(show))
        .route("/api/v1/corrections/{id}/answer", post(answer))
        .route("/api/v1/corrections/{id}/close", post(close))
        .route("/api/v1/corrections/{id}/withdraw", post(withdraw))
}

/// A disputed case: its system and case number.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CaseRef {
    system: String,
    case_no: String,
}

/// A new request: exactly one of `quality_item` and `case`, and the reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RaiseRequest {
    /// The data-quality item (`quality_items.id`) the request is about.
    quality_item: Option<i64>,
    /// The stored case the request is about.
    case: Option<CaseRef>,
    /// What is inaccurate or incomplete (zh-CN).
    reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AnswerRequest {
    /// What the department verified and corrected.
    answer: String,
}

/// A request with its overdue count as of today.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct CorrectionView {
    #[serde(flatten)]
    pub(super) correction: Correction,
    /// Working days past the due date (0 unless open and late).
    pub(super) working_days_overdue: i64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// open | answered | closed | withdrawn
    #[param(pattern = "^(open|answered|closed|withdrawn)$")]
    status: Option<String>,
    /// Only this system's requests.
    system: Option<String>,
    /// Only open requests past their due date in working days.
    overdue: Option<bool>,
    /// The day (YYYY-MM-DD) overdue counts are taken on; default today (Beijing time).
    as_of: Option<chrono::NaiveDate>,
}

impl From<CorrectionError> for ApiError {
    fn from(err: CorrectionError) -> ApiError {
        match err {
            CorrectionError::Invalid(issues) => ApiError::validation(issues),
            CorrectionError::UnknownSource { field, message } => {
                ApiError::not_found(message).with_field(field)
            }
            CorrectionError::NotFound(_) => ApiError::not_found(err.to_string()),
            CorrectionError::State { .. } => ApiError::new(StatusCode::CONFLICT, err.code(), err.to_string()),
            CorrectionError::Calendar(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, err.code(), err.to_string())
            }
        }
    }
}

fn view(state: &AppState, correction: Correction) -> Result<CorrectionView, ApiError> {
    view_on(state, correction, crate::calendar::today())
}

fn view_on(
    state: &AppState,
    correction: Correction,
    today: chrono::NaiveDate,
) -> Result<CorrectionView, ApiError> {
    let working_days_overdue = correction
        .working_days_overdue(&state.calendar, today)
        .map_err(CorrectionError::from)?;
    Ok(CorrectionView {
        correction,
        working_days_overdue,
    })
}

fn issue(field: &str, rule: &str, message: &str) -> FieldIssue {
    FieldIssue {
        field: field.to_owned(),
        rule: rule.to_owned(),
        message: message.to_owned(),
    }
}

#[utoipa::path(post, path = "/api/v1/corrections", tag = "corrections", request_body = RaiseRequest, responses(
    (status = 201, body = CorrectionView),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn raise(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(request): ApiJson<RaiseRequest>,
) -> Result<(StatusCode, Json<CorrectionView>), ApiError> {
    let mut issues = corrections::check_text("reason", &request.reason);
    let source = match (request.quality_item, request.case) {
        (Some(item), None) => Some(Source::QualityItem(item)),
        (None, Some(case)) => Some(Source::Case {
            system_id: case.system,
            case_no: case.case_no,
        }),
        (Some(_), Some(_)) => {
            issues.push(issue("case", "one_source", "give quality_item or case, not both"));
            None
        }
        (None, None) => {
            issues.push(issue(
                "quality_item",
                "required",
                "give the data-quality item (quality_item) or the disputed case (case: {system, case_no})",
            ));
            None
        }
    };
    let Some(source) = source.filter(|_| issues.is_empty()) else {
        return Err(ApiError::validation(issues));
    };
    let (system_id, field) = match &source {
        Source::Case { system_id, .. } => (system_id.clone(), "case"),
        Source::QualityItem(id) => (
            state
                .store
                .quality_item(*id)
                .await
                .map_err(|e| ApiError::from(e).with_field("quality_item"))?
                .system_id,
            "quality_item",
        ),
    };
    auth.require_system(&state, &system_id)
        .await
        .map_err(|e| e.with_field(field))?;
    let actor = auth.principal.actor.clone();
    let now = Utc::now();
    let due_on = corrections::due_on(&state.calendar, now).map_err(CorrectionError::from)?;
    let raised = state
        .store
        .raise_correction(&source, request.reason.trim(), due_on, &actor, now)
        .await?;
    tracing::info!(correction = raised.id, system = %raised.system_id, %due_on, actor, "correction request raised");
    Ok((StatusCode::CREATED, Json(view(&state, raised)?)))
}

#[utoipa::path(get, path = "/api/v1/corrections", tag = "corrections", params(ListQuery), responses(
    (status = 200, body = [CorrectionView]),
    (status = 400, body = super::error::ErrorBody),
))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<CorrectionView>>, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(name) => Some(Status::parse(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("unknown status {name:?}: use open, answered, closed or withdrawn"),
            )
            .with_field("status")
        })?),
    };
    let overdue = q.overdue.unwrap_or(false);
    let today = q.as_of.unwrap_or_else(crate::calendar::today);
    Ok(Json(
        visible(&state, &auth, status, q.system, overdue, today).await?,
    ))
}

/// The requests (with one status, of one system; only the overdue ones) whose system lies in
/// the caller's scope, oldest first, with their overdue counts as of `today`: the API's listing
/// and the console's page.
pub(super) async fn visible(
    state: &AppState,
    auth: &Authorized,
    status: Option<Status>,
    system: Option<String>,
    overdue: bool,
    today: chrono::NaiveDate,
) -> Result<Vec<CorrectionView>, ApiError> {
    let filter = CorrectionFilter {
        status,
        system_id: system,
        open_due_before: overdue.then_some(today),
    };
    let mut views = Vec::new();
    for correction in state.store.list_corrections(&filter).await? {
        let view = view_on(state, correction, today)?;
        if !overdue || view.working_days_overdue > 0 {
            views.push(view);
        }
    }
    auth.filter(state, views, |v| &v.correction.system_id).await
}

#[utoipa::path(get, path = "/api/v1/corrections/{id}", tag = "corrections", params(("id" = i64, Path)),
    responses((status = 200, body = CorrectionView), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CorrectionView>, ApiError> {
    let correction = state.store.correction(id).await?;
    Ok(Json(view(&state, correction)?))
}

async fn act(
    state: &AppState,
    id: i64,
    action: Action,
    actor: &str,
) -> Result<Json<CorrectionView>, ApiError> {
    let changed = state
        .store
        .act_on_correction(id, &action, actor, Utc::now())
        .await?;
    tracing::info!(
        correction = id,
        action = action.name(),
        status = changed.status.name(),
        actor,
        "correction request changed"
    );
    Ok(Json(view(state, changed)?))
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/answer", tag = "corrections", params(("id" = i64, Path)),
    request_body = AnswerRequest, responses(
    (status = 200, body = CorrectionView),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
))]
pub(super) async fn answer(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<AnswerRequest>,
) -> Result<Json<CorrectionView>, ApiError> {
    act(
        &state,
        id,
        Action::Answer {
            answer: request.answer,
        },
        &actor,
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/close", tag = "corrections", params(("id" = i64, Path)),
    responses((status = 200, body = CorrectionView), (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody)))]
pub(super) async fn close(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CorrectionView>, ApiError> {
    act(&state, id, Action::Close, &actor).await
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/withdraw", tag = "corrections", params(("id" = i64, Path)),
    responses((status = 200, body = CorrectionView), (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody)))]
pub(super) async fn withdraw(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CorrectionView>, ApiError> {
    act(&state, id, Action::Withdraw, &actor).await
}
