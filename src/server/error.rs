//! The one API error shape of the project, `{"error": {"code", "message", "field"?}}`, with stable
//! machine-readable codes, and the extractors (JSON body, query, path) that produce it for bad input.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::request::Parts;
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

/// The beginnings of serde's messages for JSON of the wrong shape.
const SHAPE_ERRORS: [&str; 7] = [
    "invalid type",
    "invalid value",
    "invalid length",
    "unknown variant",
    "unknown field",
    "missing field",
    "duplicate field",
];

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
        let decoded = serde_path_to_error::deserialize(de);
        let decoded = match decoded {
            Err(err)
                if err
                    .inner()
                    .to_string()
                    .starts_with("invalid type: floating point") =>
            {
                integral_numbers(&bytes).ok_or(err)
            }
            other => other,
        };
        decoded.map(ApiJson).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                let message = format!("the body is not valid JSON: {inner}");
                return ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", message);
            }
            // The refused value may be personal: the message names the field, not the value.
            let message = crate::validate::mask_refused_value(&inner.to_string());
            // serde's own words mean the JSON does not have the documented shape (400); any other
            // message comes from a type's own parser (a scope, a date): a value of the right
            // shape that breaks a rule the schema cannot state (422).
            let error = if SHAPE_ERRORS.iter().any(|prefix| message.starts_with(prefix)) {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message)
            } else {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message)
            };
            if path == "." {
                error
            } else {
                error.with_field(path)
            }
        })
    }
}

/// JSON has one kind of number, and JSON Schema counts `3.0` as an integer: a body that writes
/// an integer field as `3.0` is decoded again with each integral number written as an integer.
/// `None` when that does not decode either (the first error stands).
fn integral_numbers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    fn rewrite(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Number(number) => {
                let integral = number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && !number.is_i64() && !number.is_u64());
                match integral {
                    Some(f) if (0.0..u64::MAX as f64).contains(&f) => {
                        *number = serde_json::Number::from(f as u64)
                    }
                    Some(f) if (i64::MIN as f64..0.0).contains(&f) => {
                        *number = serde_json::Number::from(f as i64)
                    }
                    _ => {}
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(rewrite),
            serde_json::Value::Object(map) => map.values_mut().for_each(rewrite),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    rewrite(&mut value);
    serde_json::from_value(value).ok()
}

/// A list's `limit` query parameter: `default` when absent, else 1 to `max` (400 naming `limit`).
pub(super) fn limit(value: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = value.unwrap_or(default);
    if (1..=max).contains(&limit) {
        return Ok(limit);
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        format!("limit must be 1 to {max}"),
    )
    .with_field("limit"))
}

/// Query parameters, decoded with the name of the offending parameter on error (400
/// `invalid_query`); the refused value is not repeated.
pub(super) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            let message = crate::validate::mask_refused_value(&err.into_inner().to_string());
            let field = match path.as_str() {
                "." => message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                    .map(str::to_owned),
                _ => Some(path),
            };
            let error = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("query parameter: {message}"),
            );
            match field {
                Some(field) => error.with_field(field),
                None => error,
            }
        })
    }
}

/// Path parameters, decoded with the name of the offending parameter on error (400
/// `invalid_path`): a number out of range or not a number at all.
pub(super) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => {
                // A tuple's parameters are known by position: the route names them.
                let names = RawPathParams::from_request_parts(parts, state).await.ok();
                let named = |index: usize| {
                    let name = names
                        .as_ref()
                        .and_then(|n| n.iter().nth(index))
                        .map(|(key, _)| key.to_owned());
                    name.unwrap_or_else(|| format!("path[{index}]"))
                };
                let (field, expected) = match err.kind() {
                    ErrorKind::ParseErrorAtKey {
                        key, expected_type, ..
                    } => (Some(key.clone()), *expected_type),
                    ErrorKind::ParseErrorAtIndex {
                        index, expected_type, ..
                    } => (Some(named(*index)), *expected_type),
                    ErrorKind::ParseError { expected_type, .. } => (None, *expected_type),
                    _ => (None, "a valid value"),
                };
                let expected = match expected {
                    "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => {
                        "an integer in range"
                    }
                    other => other,
                };
                let error = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    format!("a path parameter must be {expected}"),
                );
                Err(match field {
                    Some(field) => error.with_field(field),
                    None => error,
                })
            }
            Err(other) => {
                tracing::error!(error = %other, "a route's path parameters do not fit its handler");
                Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                ))
            }
        }
    }
}
