//! `/api/v1/orgs`: the organisations registry (部门库): search it, show an agency, import agencies.

use axum::extract::State;

use super::error::{ApiPath, ApiQuery};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, ApiJson, AppState, Authorized};
use crate::case::FieldIssue;
use crate::orgs::{self, ImportRefused, Organisation};
use crate::store::Imported;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs", get(list).post(import))
        .route("/api/v1/orgs/{id}", get(show))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct OrgsQuery {
    /// Only agencies in this division code or under it (`520100`).
    #[param(pattern = "^[0-9]{6}([0-9]{3})?$")]
    within: Option<String>,
    /// Only agencies whose credit code, name, alias or departmental code contains this.
    search: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(OrgsQuery), responses(
    (status = 200, body = [Organisation]),
    (status = 400, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody, description = "unknown_division: `within` is well formed but no division has it"),
))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<OrgsQuery>,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    if let Some(code) = &q.within {
        // A code of the wrong shape is a bad query; a well-formed code no division has is 422.
        crate::validate::division(code).map_err(|v| {
            let (status, code_name) = match v.rule {
                "division.format" => (StatusCode::BAD_REQUEST, "invalid_query"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_division"),
            };
            ApiError::new(status, code_name, format!("within {code:?}: {}", v.message)).with_field("within")
        })?;
    }
    let listed = state.store.list_orgs(q.within.as_deref()).await?;
    Ok(Json(
        listed
            .into_iter()
            .filter(|o| q.search.as_deref().is_none_or(|s| orgs::matches(o, s)))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path, description = "the agency's unified social credit code")), responses(
    (status = 200, body = Organisation),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn show(
    State(state): State<AppState>,
    ApiPath(credit_code): ApiPath<String>,
) -> Result<Json<Organisation>, ApiError> {
    Ok(Json(state.store.get_org(&credit_code).await?))
}

/// Imports agencies, all or none: each must lie in the scope of the caller's administrative
/// grants (its division, and for an agency administrator its own name).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = [Organisation], responses(
    (status = 201, body = Imported),
    (status = 400, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn import(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(listed): ApiJson<Vec<Organisation>>,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    let import: Vec<(usize, Organisation)> =
        listed.into_iter().enumerate().map(|(i, o)| (i + 1, o)).collect();
    if let Some(refused) = outside_scope(&auth, &import, |line| format!("[{}]", line - 1)) {
        return Err(refused);
    }
    let imported = state.store.import_orgs(import, &auth.principal.actor).await?;
    logged(&auth, &imported);
    Ok((StatusCode::CREATED, Json(imported)))
}

/// The refusal (403) of an import with an agency outside the scope of the caller's
/// administrative grants (its division, and for an agency administrator its own name), naming
/// the first such agency at `at(line)`; the API and the console import through it.
pub(super) fn outside_scope(
    auth: &Authorized,
    import: &[(usize, Organisation)],
    at: impl Fn(usize) -> String,
) -> Option<ApiError> {
    let (line, o) = import.iter().find(|(_, o)| {
        !auth
            .principal
            .covers_system(auth.roles, o.division.trim(), o.name.trim())
    })?;
    let at = at(*line);
    Some(
        ApiError::new(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            format!(
                "{at}: {} in {} lies outside the scope of your roles; nothing imported",
                o.name, o.division
            ),
        )
        .with_field(at),
    )
}

/// Logs an accepted import.
pub(super) fn logged(auth: &Authorized, imported: &Imported) {
    tracing::info!(
        created = imported.created,
        updated = imported.updated,
        revision = imported.revision,
        actor = auth.principal.actor,
        "organisations imported"
    );
}

impl From<ImportRefused> for ApiError {
    fn from(refused: ImportRefused) -> ApiError {
        ApiError::validation(
            refused
                .0
                .into_iter()
                .map(|p| FieldIssue {
                    // The body is an array: item `line - 1`.
                    field: if p.line == 0 {
                        p.field
                    } else {
                        format!("[{}].{}", p.line - 1, p.field)
                    },
                    rule: "orgs.import".to_owned(),
                    message: p.message,
                })
                .collect(),
        )
    }
}
