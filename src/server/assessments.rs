//! `/api/v1/assessments`: expert-panel assessments of departmental systems (Art. 25). Rubrics by
//! version; open a panel for a system; add experts; experts declare conflicts and submit sealed
//! scores (each under their own actor name); the chair closes rounds and gives the verdict; the
//! report in JSON, HTML or Markdown; the portfolio of every system. No endpoint returns an
//! expert's individual scores.

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ronghe_assessment::report::{Format, render};
use ronghe_assessment::risk::DataProfile;
use ronghe_assessment::rubric::{DEFAULT_RUBRIC, Rubric};
use serde::Deserialize;

use super::{Actor, ApiError, ApiJson, AppState, Authorized};
use crate::assessments::{
    Assessment, AssessmentError, AssessmentView, Command, Conflict, Expert, NewExpert, Outcome, Portfolio,
    Receipt, RoundClosed, ScoreSheet,
};
use crate::store::RubricRecord;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/assessments", get(list).post(open))
        .route("/api/v1/assessments/portfolio", get(portfolio))
        .route("/api/v1/assessments/rubrics", get(rubrics).post(register_rubric))
        .route("/api/v1/assessments/rubrics/{id}/{version}", get(rubric))
        .route("/api/v1/assessments/{id}", get(show))
        .route("/api/v1/assessments/{id}/experts", post(add_expert))
        .route(
            "/api/v1/assessments/{id}/experts/{expert}/conflicts",
            put(declare),
        )
        .route("/api/v1/assessments/{id}/experts/{expert}/scores", put(score))
        .route("/api/v1/assessments/{id}/close", post(close))
        .route("/api/v1/assessments/{id}/rounds/{round}", get(round))
        .route("/api/v1/assessments/{id}/verdict", post(verdict))
        .route("/api/v1/assessments/{id}/report", get(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only the assessments of this system.
    system: Option<String>,
}

/// A rubric version.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RubricKey {
    id: String,
    version: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OpenRequest {
    system_id: String,
    /// The chair: an account holding the expert role.
    chair: String,
    /// A registered rubric version; the built-in `ronghe-default` when absent.
    rubric: Option<RubricKey>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RubricSource {
    /// The rubric file's text (TOML), as in `assessment/rubrics/ronghe-default-v1.toml`.
    toml: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Declaration {
    /// Every tie to an organisation or system; an empty list declares none.
    conflicts: Vec<Conflict>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VerdictRequest {
    /// Records the secrecy exception (Art. 25): why the system cannot integrate. Required for a
    /// system registered as secret.
    #[serde(default)]
    secrecy_justification: Option<String>,
    /// The system's data profile (field names and sample values) for the Art. 24 risk; without
    /// one the report says the sensitivity is not assessed. Samples are never stored.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    profile: Option<DataProfile>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    /// `json` (default), `html` or `markdown`.
    #[param(pattern = "^(json|html|markdown)$")]
    format: Option<String>,
}

/// The built-in rubric, registered on first use.
async fn default_rubric(state: &AppState, actor: &str) -> Result<(String, i64), ApiError> {
    let rubric = Rubric::builtin();
    let record = state
        .store
        .register_rubric(&rubric, DEFAULT_RUBRIC, actor)
        .await?;
    Ok((record.id, record.version))
}

#[utoipa::path(get, path = "/api/v1/assessments", tag = "assessments", params(ListQuery), responses(
    (status = 200, body = [Assessment]),
))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Assessment>>, ApiError> {
    Ok(Json(visible(&state, &auth, query.system.as_deref()).await?))
}

/// The assessments the caller sees (of one system, or all): experts those they chair or sit
/// on; other roles those of their systems. The API's list and the console's overview.
pub(super) async fn visible(
    state: &AppState,
    auth: &Authorized,
    system: Option<&str>,
) -> Result<Vec<Assessment>, ApiError> {
    let all = state.store.list_assessments(system).await?;
    let me = auth.principal.account().unwrap_or_default().to_owned();
    let expert = auth.principal.holds_any(&[crate::access::Role::Expert]);
    let visible = auth.visible_systems(state).await?;
    let mut shown = Vec::new();
    for assessment in all {
        let by_scope = visible
            .as_ref()
            .is_none_or(|ids| ids.contains(&assessment.system_id))
            && auth
                .roles
                .iter()
                .any(|r| *r != crate::access::Role::Expert && auth.principal.holds_any(&[*r]));
        let member = expert
            && (assessment.chair == me
                || state
                    .store
                    .assessment(&assessment.id)
                    .await?
                    .experts
                    .iter()
                    .any(|e| e.id == me));
        if by_scope || member {
            shown.push(assessment);
        }
    }
    Ok(shown)
}

#[utoipa::path(post, path = "/api/v1/assessments", tag = "assessments", request_body = OpenRequest, responses(
    (status = 201, body = AssessmentView),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
))]
pub(super) async fn open(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(request): ApiJson<OpenRequest>,
) -> Result<(StatusCode, Json<AssessmentView>), ApiError> {
    auth.require_system(&state, &request.system_id).await?;
    state.accounts.require_expert(&request.chair).await?;
    let actor = auth.principal.actor.clone();
    let key = match request.rubric {
        Some(key) => (key.id, key.version),
        None => default_rubric(&state, &actor).await?,
    };
    let view = state
        .store
        .open_assessment(&request.system_id, (&key.0, key.1), &request.chair, &actor)
        .await?;
    tracing::info!(assessment = %view.assessment.id, actor, "assessment opened");
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/api/v1/assessments/{id}", tag = "assessments", params(("id" = String, Path)), responses(
    (status = 200, body = AssessmentView),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AssessmentView>, ApiError> {
    Ok(Json(state.store.assessment(&id).await?))
}

/// Runs a panel action and unwraps the outcome it must have.
async fn act<T>(
    state: &AppState,
    id: &str,
    actor: &str,
    command: Command,
    expected: impl FnOnce(Outcome) -> Option<T>,
) -> Result<T, ApiError> {
    let outcome = state.store.act_on_assessment(id, actor, command).await?;
    expect(id, outcome, expected)
}

/// The outcome a panel action was expected to have; another one is a bug (500).
fn expect<T>(id: &str, outcome: Outcome, expected: impl FnOnce(Outcome) -> Option<T>) -> Result<T, ApiError> {
    expected(outcome).ok_or_else(|| {
        tracing::error!(assessment = id, "a panel action answered with another outcome");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "unexpected outcome",
        )
    })
}

#[utoipa::path(post, path = "/api/v1/assessments/{id}/experts", tag = "assessments", params(("id" = String, Path)),
    request_body = NewExpert, responses(
    (status = 201, body = Expert),
    (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn add_expert(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(new): ApiJson<NewExpert>,
) -> Result<(StatusCode, Json<Expert>), ApiError> {
    // A well-formed id must name an expert's account (the panel checks the rest).
    if crate::access::account_id_problem(&new.id).is_none() {
        state.accounts.require_expert(&new.id).await?;
    }
    let expert = act(&state, &id, &actor, Command::AddExpert(new), |o| match o {
        Outcome::Expert(e) => Some(e),
        _ => None,
    })
    .await?;
    Ok((StatusCode::CREATED, Json(expert)))
}

#[utoipa::path(put, path = "/api/v1/assessments/{id}/experts/{expert}/conflicts", tag = "assessments",
    params(("id" = String, Path), ("expert" = String, Path)), request_body = Declaration, responses(
    (status = 200, body = Expert),
    (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
))]
pub(super) async fn declare(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath((id, expert)): ApiPath<(String, String)>,
    ApiJson(declaration): ApiJson<Declaration>,
) -> Result<Json<Expert>, ApiError> {
    let command = Command::Declare {
        expert,
        conflicts: declaration.conflicts,
    };
    let expert = act(&state, &id, &actor, command, |o| match o {
        Outcome::Expert(e) => Some(e),
        _ => None,
    })
    .await?;
    Ok(Json(expert))
}

#[utoipa::path(put, path = "/api/v1/assessments/{id}/experts/{expert}/scores", tag = "assessments",
    params(("id" = String, Path), ("expert" = String, Path)), request_body = ScoreSheet, responses(
    (status = 200, body = Receipt, description = "accepted; the answer never repeats the scores"),
    (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn score(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath((id, expert)): ApiPath<(String, String)>,
    ApiJson(sheet): ApiJson<ScoreSheet>,
) -> Result<Json<Receipt>, ApiError> {
    let command = Command::Submit {
        expert,
        sheet: sheet.into_sheet(),
    };
    let receipt = act(&state, &id, &actor, command, |o| match o {
        Outcome::Submitted(r) => Some(r),
        _ => None,
    })
    .await?;
    // How much, never what: the scores stay sealed.
    tracing::info!(assessment = %id, expert = %receipt.expert, round = receipt.round, criteria = receipt.criteria,
        round_closed = receipt.closed.is_some(), "scores submitted");
    Ok(Json(receipt))
}

#[utoipa::path(post, path = "/api/v1/assessments/{id}/close", tag = "assessments", params(("id" = String, Path)), responses(
    (status = 200, body = RoundClosed),
    (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
))]
pub(super) async fn close(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RoundClosed>, ApiError> {
    let closed = act(&state, &id, &actor, Command::Close, |o| match o {
        Outcome::Closed(c) => Some(c),
        _ => None,
    })
    .await?;
    tracing::info!(assessment = %id, actor, round = closed.summary.round, next_round = ?closed.next_round,
        "round closed by the chair");
    Ok(Json(closed))
}

#[utoipa::path(get, path = "/api/v1/assessments/{id}/rounds/{round}", tag = "assessments",
    params(("id" = String, Path), ("round" = i64, Path)), responses(
    (status = 200, body = Object, description = "Delphi feedback of a closed round (RoundSummary)"),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody, description = "the round is open: sealed"),
))]
pub(super) async fn round(
    State(state): State<AppState>,
    ApiPath((id, round)): ApiPath<(String, i64)>,
) -> Result<Json<ronghe_assessment::panel::RoundSummary>, ApiError> {
    Ok(Json(state.store.round_summary(&id, round).await?))
}

#[utoipa::path(post, path = "/api/v1/assessments/{id}/verdict", tag = "assessments", params(("id" = String, Path)),
    request_body = VerdictRequest, responses(
    (status = 201, body = Object, description = "the report (ronghe_assessment Report)"),
    (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn verdict(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<VerdictRequest>,
) -> Result<(StatusCode, Json<ronghe_assessment::report::Report>), ApiError> {
    // Without a data profile, the system's latest probe profile stands in, as on the CLI.
    let outcome = state
        .store
        .decide_assessment(&id, &actor, request.secrecy_justification, request.profile)
        .await?;
    let report = expect(&id, outcome, |o| match o {
        Outcome::Decided(r) => Some(r),
        _ => None,
    })?;
    tracing::info!(assessment = %id, mode = report.verdict.mode.name(), actor, "verdict recorded");
    Ok((StatusCode::CREATED, Json(*report)))
}

#[utoipa::path(get, path = "/api/v1/assessments/{id}/report", tag = "assessments",
    params(("id" = String, Path), ReportQuery), responses(
    (status = 200, description = "the report as ?format= asks",
        content((Object = "application/json"), (String = "text/html"), (String = "text/markdown"))),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody, description = "no verdict yet"),
))]
pub(super) async fn report(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let name = query.format.as_deref().unwrap_or("json");
    let format = Format::parse(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("unknown format {name:?}; use json, html or markdown"),
        )
        .with_field("format")
    })?;
    let report = state.store.verdict_report(&id).await?;
    if format == Format::Json {
        return Ok(Json(report).into_response());
    }
    let text = render(&report, format).map_err(|e| {
        tracing::error!(assessment = %id, error = %e, "report rendering failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the report could not be rendered",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, format.media_type())], text).into_response())
}

#[utoipa::path(get, path = "/api/v1/assessments/portfolio", tag = "assessments", responses(
    (status = 200, body = Portfolio),
))]
pub(super) async fn portfolio(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<Portfolio>, ApiError> {
    let mut portfolio = state.store.portfolio().await?;
    if let Some(ids) = auth.visible_systems(&state).await? {
        portfolio.systems.retain(|entry| ids.contains(&entry.system_id));
        // Agreement across systems mixes systems outside the caller's scope.
        portfolio.agreement.clear();
    }
    Ok(Json(portfolio))
}

#[utoipa::path(get, path = "/api/v1/assessments/rubrics", tag = "assessments", responses(
    (status = 200, body = [RubricRecord]),
))]
pub(super) async fn rubrics(State(state): State<AppState>) -> Result<Json<Vec<RubricRecord>>, ApiError> {
    Ok(Json(state.store.list_rubrics().await?))
}

#[utoipa::path(post, path = "/api/v1/assessments/rubrics", tag = "assessments", request_body = RubricSource, responses(
    (status = 201, body = RubricRecord),
    (status = 409, body = super::error::ErrorBody, description = "that version is in use with other content"),
    (status = 422, body = super::error::ErrorBody, description = "every problem of the rubric, AHP inconsistency included"),
))]
pub(super) async fn register_rubric(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiJson(source): ApiJson<RubricSource>,
) -> Result<(StatusCode, Json<RubricRecord>), ApiError> {
    let rubric = Rubric::parse(&source.toml).map_err(AssessmentError::from)?;
    let record = state.store.register_rubric(&rubric, &source.toml, &actor).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(get, path = "/api/v1/assessments/rubrics/{id}/{version}", tag = "assessments",
    params(("id" = String, Path), ("version" = i64, Path)), responses(
    (status = 200, body = Object, description = "the rubric with its derived weights, AHP results and content hash"),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn rubric(
    State(state): State<AppState>,
    ApiPath((id, version)): ApiPath<(String, i64)>,
) -> Result<Json<Rubric>, ApiError> {
    Ok(Json(state.store.rubric(&id, version).await?))
}
