//! The one API error shape of the project, `{"error": {"code", "message", "field"?}}`, with stable
//! machine-readable codes, and the JSON body extractor that produces it for bad input.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::assessments::AssessmentError;
use crate::case::FieldIssue;
use crate::store::StoreError;
use crate::systems::SystemError;

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Every field problem, when validation found several.
    pub issues: Vec<FieldIssue>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    /// Stable code, e.g. `invalid_json`, `validation_failed`, `not_found`.
    code: &'static str,
    /// What went wrong and what to do, for a person.
    message: String,
    /// Path of the offending field, where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// Every field problem, when validation found several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    issues: Vec<FieldIssue>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            issues: Vec::new(),
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn validation(issues: Vec<FieldIssue>) -> ApiError {
        let message = issues
            .iter()
            .map(|i| format!("{}: {}", i.field, i.message))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            field: issues.first().map(|i| i.field.clone()),
            message,
            issues,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
                issues: self.issues,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<SystemError> for ApiError {
    fn from(err: SystemError) -> ApiError {
        match err {
            SystemError::Invalid(issues) => ApiError::validation(issues),
        }
    }
}

impl From<AssessmentError> for ApiError {
    fn from(err: AssessmentError) -> ApiError {
        use AssessmentError::*;
        let status = match &err {
            Invalid(_) | Rubric(_) | System(_) | Verdict(_) => StatusCode::UNPROCESSABLE_ENTITY,
            NotChair { .. } | NotTheExpert { .. } | Recused { .. } => StatusCode::FORBIDDEN,
            UnknownExpert(_) | UnknownRound(_) => StatusCode::NOT_FOUND,
            State { .. } => StatusCode::CONFLICT,
        };
        let issues = err.issues();
        if !issues.is_empty() {
            return ApiError::validation(issues);
        }
        ApiError::new(status, err.code(), err.to_string())
    }
}

/// A domain rule's refusal as its own answer; the store's failure as a store error.
impl<E: std::error::Error + 'static> From<crate::store::Guarded<E>> for ApiError
where
    ApiError: From<E>,
{
    fn from(err: crate::store::Guarded<E>) -> ApiError {
        match err {
            crate::store::Guarded::Refused(e) => e.into(),
            crate::store::Guarded::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::NotFound { .. } => ApiError::not_found(err.to_string()),
            StoreError::AlreadyExists { .. } => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", err.to_string())
            }
            StoreError::Retired(_) => ApiError::new(StatusCode::CONFLICT, "system_retired", err.to_string()),
            StoreError::Sealing(_) => {
                tracing::error!(error = %err, "sealed personal values cannot be opened");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "keys_unavailable",
                    "a sealed personal value cannot be opened with this node's keys; an operator must check [bridge] keys (see the node's log)",
                )
            }
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other), "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the platform store did not answer; try again later",
                )
            }
        }
    }
}

/// The error for a body that could not be read: 413 over the configured limit, else 400.
pub(super) fn body_error(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than this server accepts (max_body_bytes)",
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", rejection.body_text())
    }
}

/// A JSON request body, decoded with the path of the first offending field on error. Bodies
/// over the configured limit get 413; a wrong content type gets 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(ApiJson).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                let message = format!("the body is not valid JSON: {inner}");
                return ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", message);
            }
            // The refused value may be personal: the message names the field, not the value.
            let message = crate::validate::mask_refused_value(&inner.to_string());
            let error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message);
            if path == "." {
                error
            } else {
                error.with_field(path)
            }
        })
    }
}
