//! `/api/v1/systems/{id}/cases`: a system's newest cases, a case as the platform holds it, and its
//! history. Cases
//! carry applicants' personal data (Art. 23): they are answered masked, every read is audited
//! under the caller's actor, and full values need `?unmask=true&purpose=…` (audited with the
//! purpose, one item at a time). `POST /api/v1/cases/search` finds an applicant's cases by
//! certificate number (through its blind index; the number in the body, never in a URL), with a
//! stated purpose, audited, answered without personal values.

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::Authorized;
use super::{Actor, ApiError, ApiJson, AppState};
use crate::store::{CaseRecord, CaseVersion, OwnedCase};
use crate::validate::stated;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/systems/{id}/cases", get(recent))
        .route("/api/v1/systems/{id}/cases/{case_no}", get(show))
        .route("/api/v1/systems/{id}/cases/{case_no}/history", get(history))
        .route("/api/v1/cases/search", post(search))
}

/// The most cases a search answers.
const SEARCH_LIMIT: i64 = 1000;

/// A search for an applicant's cases (Art. 23: with a stated purpose, audited).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ApplicantSearch {
    /// The applicant's certificate number as the cases hold it (resident ID, unified social
    /// credit code, …); letters match in either case.
    certificate_no: String,
    /// Why this person's cases are needed, kept in the audit log (1-200 characters), e.g.
    /// 个人信息查阅申请 2026-118.
    purpose: String,
}

/// A stated purpose: 1-200 characters, no control characters; 400 `purpose_required` otherwise.
fn stated_purpose(purpose: &str) -> Result<String, ApiError> {
    let purpose = stated::purpose(purpose).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "purpose_required",
            format!(
                "reading personal values needs a purpose: 1-{} characters, e.g. 核实校核申请 12",
                stated::PURPOSE_MAX_CHARS
            ),
        )
        .with_field("purpose")
    })?;
    Ok(purpose.to_owned())
}

#[utoipa::path(post, path = "/api/v1/cases/search", tag = "cases", request_body = ApplicantSearch,
    responses((status = 200, body = [OwnedCase]), (status = 400, body = super::error::ErrorBody)))]
pub(super) async fn search(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(search): ApiJson<ApplicantSearch>,
) -> Result<Json<Vec<OwnedCase>>, ApiError> {
    let number = stated::certificate_query(&search.certificate_no).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            format!(
                "certificate_no: give the applicant's certificate number, 1-{} characters",
                stated::CERTIFICATE_NO_MAX_CHARS
            ),
        )
        .with_field("certificate_no")
    })?;
    let purpose = stated_purpose(&search.purpose)?;
    let cases = state.store.cases_of_applicant(number, SEARCH_LIMIT).await?;
    let cases = auth.filter(&state, cases, |c| &c.system_id).await?;
    state
        .store
        .record_audit(
            &auth.principal.actor,
            "case.search",
            "cases",
            serde_json::json!({
                "certificate_no": crate::validate::mask_certificate(number),
                "purpose": purpose,
                "found": cases.len(),
            }),
        )
        .await?;
    Ok(Json(cases))
}

/// Purpose-bound disclosure of one item's personal values (Art. 23).
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Disclosure {
    /// Show personal values in full (default: masked).
    #[serde(default)]
    unmask: bool,
    /// Why the full values are needed (required with `unmask`; kept in the audit log).
    purpose: Option<String>,
}

impl Disclosure {
    /// The stated purpose when the caller asks to unmask, `None` for a masked answer; 400
    /// `purpose_required` without a usable purpose.
    pub(super) fn purpose(&self) -> Result<Option<String>, ApiError> {
        if !self.unmask {
            return Ok(None);
        }
        stated_purpose(self.purpose.as_deref().unwrap_or("")).map(Some)
    }

    /// Reads are audited as `read_action`, unmaskings as `unmask_action` with their purpose.
    pub(super) async fn audit(
        purpose: Option<&str>,
        state: &AppState,
        actor: &str,
        (read_action, unmask_action): (&str, &str),
        target: &str,
    ) -> Result<(), ApiError> {
        let (action, detail) = match purpose {
            Some(purpose) => (unmask_action, serde_json::json!({ "purpose": purpose })),
            None => (read_action, serde_json::json!({})),
        };
        Ok(state.store.record_audit(actor, action, target, detail).await?)
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RecentQuery {
    /// At most this many, newest first (1-100; default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// A system's newest cases (by when the platform received them), masked; to see one in full,
/// read it alone with a purpose. Audited as `case.list`, as the console's list is.
#[utoipa::path(get, path = "/api/v1/systems/{id}/cases", tag = "cases",
    params(("id" = String, Path), RecentQuery),
    responses((status = 200, body = [CaseRecord])))]
pub(super) async fn recent(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecentQuery>,
) -> Result<Json<Vec<CaseRecord>>, ApiError> {
    let limit = super::error::limit(query.limit, 20, 100)?;
    state.store.get_system(&id).await?;
    let mut records = state.store.recent_cases(&id, limit).await?;
    Disclosure::audit(None, &state, &actor, ("case.list", "case.unmask"), &id).await?;
    for record in &mut records {
        record.case = record.case.masked();
    }
    Ok(Json(records))
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/cases/{case_no}", tag = "cases",
    params(("id" = String, Path), ("case_no" = String, Path), Disclosure),
    responses((status = 200, body = CaseRecord), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn show(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath((id, case_no)): ApiPath<(String, String)>,
    ApiQuery(disclosure): ApiQuery<Disclosure>,
) -> Result<Json<CaseRecord>, ApiError> {
    let purpose = disclosure.purpose()?;
    let mut record = state.store.get_case(&id, &case_no).await?;
    let target = format!("{id}/{case_no}");
    Disclosure::audit(
        purpose.as_deref(),
        &state,
        &actor,
        ("case.read", "case.unmask"),
        &target,
    )
    .await?;
    if purpose.is_none() {
        record.case = record.case.masked();
    }
    Ok(Json(record))
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/cases/{case_no}/history", tag = "cases",
    params(("id" = String, Path), ("case_no" = String, Path), Disclosure),
    responses((status = 200, body = [CaseVersion]), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn history(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath((id, case_no)): ApiPath<(String, String)>,
    ApiQuery(disclosure): ApiQuery<Disclosure>,
) -> Result<Json<Vec<CaseVersion>>, ApiError> {
    let purpose = disclosure.purpose()?;
    let mut versions = state.store.case_history(&id, &case_no).await?;
    let target = format!("{id}/{case_no}");
    Disclosure::audit(
        purpose.as_deref(),
        &state,
        &actor,
        ("case.read_history", "case.unmask_history"),
        &target,
    )
    .await?;
    if purpose.is_none() {
        for version in &mut versions {
            version.case = version.case.masked();
        }
    }
    Ok(Json(versions))
}
