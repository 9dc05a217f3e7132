//! The write-back intake (办件回传): `POST /api/v1/writeback/{system}` (JSON, one record or a
//! batch) and `POST /soap/{system}/writeback` (SOAP 1.1/1.2, UTF-8, GBK or GB18030), with the
//! WSDL at `GET /soap/{system}/writeback?wsdl`. Every push is signed (see `intake::auth`);
//! every authentication failure is answered alike, its reason logged. Records go through
//! `intake::ingest`; the answer lists a result per record once everything is committed. Each
//! push holds its share of the node's `BodyBudget` from before its body is read until its
//! answer is built (`within_budget`), so a burst of large pushes waits instead of piling up.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use ronghe_adapters::soap::{SoapVersion, charset_of};
use ronghe_adapters::{Raw, XmlElement};
use serde::Serialize;
use serde_json::Value;

use super::error::{ApiPath, body_error};
use super::{ApiError, AppState};
use crate::intake::auth::{self, AuthError, BodyError};
use crate::intake::config::{IntakeConfig, WritebackConfig};
use crate::intake::soap::{self, RecordSchema, SoapError};
use crate::intake::{Channel, Delivery, Ingested, IntakeError, RecordResult, Records, Writeback, ingest};
use crate::mapping::{Mapping, xml_record};
use crate::store::StoreError;
use crate::systems::SystemStatus;

pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/writeback/{system}", post(push_json))
        .route("/soap/{system}/writeback", post(push_soap).get(wsdl))
        .route_layer(middleware::from_fn_with_state(state.clone(), within_budget))
}

/// Runs a push once its body fits the node's budget (`intake::BodyBudget`), weighed by its
/// `Content-Length` (all of the budget when it has none), and holds its share until the answer
/// is built: the body is read, parsed, mapped and committed within it. Pushes that do not fit
/// wait in turn; none is refused for it.
async fn within_budget(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let _held = state.writeback.budget().hold(length).await;
    next.run(request).await
}

/// The answer to a push: one result per record, in order, and the counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct PushResponse {
    results: Vec<RecordResult>,
    accepted: usize,
    duplicate: usize,
    rejected: usize,
}

/// The one answer to every authentication failure: it names no part of the request.
fn unauthenticated(forbidden: bool) -> ApiError {
    if forbidden {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this request is not allowed")
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "this request is not authenticated; sign it as the write-back documentation says",
        )
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "writeback_unavailable",
        "the write-back intake of this system cannot run now; its operators have been told",
    )
}

/// An authenticated push: the system's config and mapping, the body and the nonce to take.
struct Admitted {
    writeback: Arc<Writeback>,
    mapping: Arc<Mapping>,
    body: Bytes,
    nonce: String,
}

/// The authenticated push, or the error to answer.
async fn admit(
    state: &AppState,
    system: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Admitted, ApiError> {
    let retired = match state.writeback.system(&state.store, system).await {
        // Art. 13: matters bound by secrecy are never served through the platform.
        Ok(found) if found.secret => {
            tracing::warn!(
                system,
                reason = "system bound by secrecy rules",
                "write-back refused"
            );
            return Err(unauthenticated(false));
        }
        Ok(found) => found.status == SystemStatus::Retired,
        Err(StoreError::NotFound { .. }) => {
            tracing::warn!(system, reason = "unknown system", "write-back refused");
            return Err(unauthenticated(false));
        }
        Err(e) => return Err(e.into()),
    };
    let writeback = match state.writeback.config(&state.store, system).await {
        Ok(w) => w,
        Err(IntakeError::NotConfigured(_)) => {
            tracing::warn!(system, reason = "no write-back config", "write-back refused");
            return Err(unauthenticated(false));
        }
        Err(IntakeError::Store(e)) => return Err(e.into()),
        Err(e) => {
            tracing::error!(system, error = %e, "write-back config unusable");
            return Err(unavailable());
        }
    };
    let authenticated =
        auth::authenticate(&writeback, method.as_str(), uri.path(), headers, body, Utc::now());
    let authenticated = match authenticated {
        // Only an authenticated caller learns that the system is retired.
        Ok(_) if retired => {
            tracing::warn!(system, reason = "system retired", "write-back refused");
            return Err(StoreError::Retired(system.to_owned()).into());
        }
        Ok(a) => {
            tracing::debug!(system, key_id = a.key_id, "write-back authenticated");
            a
        }
        Err(AuthError::Refused(refusal)) => {
            tracing::warn!(system, reason = %refusal, "write-back refused");
            return Err(unauthenticated(refusal.forbidden()));
        }
        Err(AuthError::Body(e)) => {
            let code = match e {
                BodyError::EncryptionRequired => "encryption_required",
                BodyError::NoKey | BodyError::UnknownScheme => "unsupported_encryption",
                BodyError::Undecryptable => "undecryptable_body",
            };
            return Err(
                ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string()).with_field("X-Ronghe-Encryption")
            );
        }
    };
    let mapping = state.writeback.mapping(&state.store, system).await.map_err(|e| {
        tracing::error!(system, error = %e, "write-back mapping unusable");
        unavailable()
    })?;
    Ok(Admitted {
        writeback,
        mapping,
        body: authenticated.body,
        nonce: authenticated.nonce,
    })
}

fn too_many(count: usize, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
        format!(
            "the push carries {count} records; this system's limit is {max} (intake.max_batch): split it"
        ),
    )
}

/// Runs the records through the pipeline and counts them.
async fn run(
    state: &AppState,
    system: &str,
    mapping: &Mapping,
    records: Records,
    received: usize,
    channel: Channel,
    nonce: String,
) -> Result<PushResponse, ApiError> {
    let delivery = Delivery {
        channel,
        nonce: Some(nonce),
        at: Utc::now().fixed_offset(),
    };
    let ingested = ingest(
        &state.writeback,
        system,
        mapping,
        records,
        delivery,
        state.bridge.as_ref(),
    )
    .await?;
    let Ingested::Results(results) = ingested else {
        tracing::warn!(system, reason = "the nonce was used before", "write-back refused");
        return Err(unauthenticated(false));
    };
    let count = |kind: &str| results.iter().filter(|r| r.kind() == kind).count();
    let response = PushResponse {
        accepted: count("accepted"),
        duplicate: count("duplicate"),
        rejected: count("rejected"),
        results,
    };
    let metrics = &state.metrics;
    metrics.writeback(system, channel.name(), "received", received as u64);
    metrics.writeback(system, channel.name(), "accepted", response.accepted as u64);
    metrics.writeback(system, channel.name(), "duplicate", response.duplicate as u64);
    metrics.writeback(system, channel.name(), "rejected", response.rejected as u64);
    // One line per push at debug; the group committer sums them up at info (`intake::commit`).
    tracing::debug!(
        system,
        channel = channel.name(),
        received,
        accepted = response.accepted,
        duplicate = response.duplicate,
        rejected = response.rejected,
        "write-back ingested"
    );
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/writeback/{system}", tag = "writeback",
    params(("system" = String, Path)),
    request_body(content = Value, description = "one record (an object) or a batch (an array) in the system's own JSON shape"),
    responses(
        (status = 200, body = PushResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody),
        (status = 409, description = "system_retired: the system takes no more cases", body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody),
    ))]
pub(super) async fn push_json(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PushResponse>, ApiError> {
    let body = body.map_err(body_error)?;
    let Admitted {
        writeback,
        mapping,
        body,
        nonce,
    } = admit(&state, &system, &method, &uri, &headers, body).await?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim() == "application/json");
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the records as JSON with Content-Type: application/json",
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let records = match value {
        Value::Object(_) => vec![value],
        Value::Array(items) => items,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "send one record (a JSON object) or a batch (an array of objects)",
            ));
        }
    };
    let max = writeback.config.intake.max_batch;
    if records.len() > max {
        return Err(too_many(records.len(), max));
    }
    if records.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_batch",
            "the batch holds no records",
        ));
    }
    if let Some(i) = records.iter().position(|r| !r.is_object()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_record",
            "every record of a batch must be a JSON object",
        )
        .with_field(format!("[{i}]")));
    }
    let received = records.len();
    let records: Vec<Raw> = records.into_iter().map(Raw::Json).collect();
    Ok(Json(
        run(
            &state,
            &system,
            &mapping,
            records.into(),
            received,
            Channel::PushJson,
            nonce,
        )
        .await?,
    ))
}

/// An error as a SOAP fault in `version`, with the API error's status, code and field.
fn fault(version: SoapVersion, error: ApiError) -> Response {
    if error.status.is_server_error() {
        tracing::debug!(code = error.code, "write-back answered with a server fault");
    }
    let body = soap::fault(
        version,
        error.status.is_client_error(),
        error.code,
        &error.message,
        error.field.as_deref(),
    );
    (
        error.status,
        [(header::CONTENT_TYPE, version.content_type("UTF-8", ""))],
        body,
    )
        .into_response()
}

fn soap_error(e: SoapError) -> ApiError {
    let code = match &e {
        SoapError::Encoding(_) => "encoding_mismatch",
        SoapError::Refused(_) => "xml_refused",
        SoapError::Malformed(_) => "invalid_xml",
        SoapError::NotEnvelope(_) => "invalid_envelope",
    };
    ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string())
}

#[utoipa::path(post, path = "/soap/{system}/writeback", tag = "writeback",
    params(("system" = String, Path)),
    request_body(content = String, content_type = "text/xml", description = "a SOAP 1.1 (text/xml) or 1.2 (application/soap+xml) envelope whose Body holds the case elements"),
    responses(
        (status = 200, description = "a SOAP envelope with one wb:record per case element", content_type = "text/xml"),
        (status = 400, description = "a SOAP fault with the error code in its detail"),
        (status = 401, description = "a SOAP fault: unauthenticated"),
        (status = 409, description = "a SOAP fault: system_retired"),
        (status = 413, description = "a SOAP fault: body_too_large or batch_too_large"),
        (status = 415, description = "a SOAP fault: unsupported_media_type (send SOAP 1.1 as text/xml, 1.2 as application/soap+xml)", content_type = "text/xml"),
    ))]
pub(super) async fn push_soap(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(version) = soap::version_of(&content_type) else {
        return fault(
            SoapVersion::Soap11,
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send SOAP 1.1 as text/xml or SOAP 1.2 as application/soap+xml",
            ),
        );
    };
    match push_soap_records(
        &state,
        &system,
        &method,
        &uri,
        &headers,
        body,
        version,
        &content_type,
    )
    .await
    {
        Ok(results) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, version.content_type("UTF-8", ""))],
            soap::answer(version, &results),
        )
            .into_response(),
        Err(error) => fault(version, error),
    }
}

#[allow(clippy::too_many_arguments)]
async fn push_soap_records(
    state: &AppState,
    system: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    version: SoapVersion,
    content_type: &str,
) -> Result<Vec<RecordResult>, ApiError> {
    let body = body.map_err(body_error)?;
    let Admitted {
        writeback,
        mapping,
        body,
        nonce,
    } = admit(state, system, method, uri, headers, body).await?;
    let intake = &writeback.config.intake;
    let charset = charset_of(content_type).map(str::to_owned);
    let elements: Vec<XmlElement> =
        soap::records(&body, charset.as_deref(), version, &intake.soap_record).map_err(soap_error)?;
    if elements.len() > intake.max_batch {
        return Err(too_many(elements.len(), intake.max_batch));
    }
    if elements.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_records",
            format!(
                "the Body holds no <{}> elements (intake.soap_record)",
                intake.soap_record
            ),
        ));
    }
    let received = elements.len();
    // Each parsed element is dropped once judged; the body (a fraction of their size) stays,
    // and is read again, once, only when the store refuses some of its cases.
    let again = {
        let writeback = writeback.clone();
        let parsed = std::sync::OnceLock::new();
        move |i: usize| {
            let intake = &writeback.config.intake;
            parsed
                .get_or_init(|| soap::records(&body, charset.as_deref(), version, &intake.soap_record).ok())
                .as_ref()
                .and_then(|elements: &Vec<XmlElement>| elements.get(i).cloned())
                .map(Raw::Xml)
        }
    };
    let records = Records::rereadable(elements.into_iter().map(Raw::Xml).collect(), again);
    Ok(run(
        state,
        system,
        &mapping,
        records,
        received,
        Channel::PushSoap,
        nonce,
    )
    .await?
    .results)
}

/// The one answer for a system without a WSDL: unknown, without write-back, or bound by
/// secrecy rules alike, so the answer does not tell which systems exist.
fn no_endpoint() -> ApiError {
    ApiError::not_found("no write-back endpoint for this system")
}

#[utoipa::path(get, path = "/soap/{system}/writeback", tag = "writeback",
    params(
        ("system" = String, Path, description = "the system's id"),
        ("wsdl" = String, Query, example = "", pattern = "^$", description = "present and empty (`?wsdl`, or `?wsdl=`): the GET serves the WSDL; without it, or with any other query, 400 `wsdl_query`"),
    ),
    responses(
        (status = 200, description = "the WSDL 1.1 of the endpoint: pushCases as a sequence of case elements typed by the system's mapping (xsd:any when it has none), the X-Ronghe-* signature in wsdl:documentation; the address is the platform's public_url, never the request's Host", content_type = "text/xml"),
        (status = 400, description = "wsdl_query: a GET without ?wsdl", body = super::error::ErrorBody),
        (status = 404, description = "not_found: no such system, no write-back attached, or a system bound by secrecy rules (one answer for all)", body = super::error::ErrorBody),
    ))]
pub(super) async fn wsdl(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Response, ApiError> {
    let asks_wsdl = |q: &str| q.eq_ignore_ascii_case("wsdl") || q.eq_ignore_ascii_case("wsdl=");
    if !query.as_deref().is_some_and(asks_wsdl) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "wsdl_query",
            "GET serves the WSDL at ?wsdl; push cases with POST",
        ));
    }
    match state.store.get_system(&system).await {
        // Art. 13: matters bound by secrecy are never served through the platform.
        Ok(found) if found.secret => return Err(no_endpoint()),
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => return Err(no_endpoint()),
        Err(e) => return Err(e.into()),
    }
    let config = match state.store.writeback_config(&system).await {
        Ok(text) => text,
        Err(StoreError::NotFound { .. }) => return Err(no_endpoint()),
        Err(e) => return Err(e.into()),
    };
    // The WSDL needs the intake's limits only, never the keys: a config whose secrets do not
    // resolve here still describes its records.
    let (record, max_batch) = match WritebackConfig::parse(&config) {
        Ok(parsed) => (parsed.intake.soap_record, Some(parsed.intake.max_batch)),
        Err(_) => (IntakeConfig::default().soap_record, None),
    };
    // The address clients will push signed cases with personal data to: the configured public
    // URL (`public_url`, else this node's `http://localhost:PORT`), never the request's `Host`,
    // which a caller chooses and a cache would keep.
    let base = state.accounts.public_url().ok_or_else(|| {
        tracing::error!("the WSDL needs the platform's public URL, and this server has none");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    })?;
    let endpoint = format!("{}{}", base.as_str().trim_end_matches('/'), uri.path());
    let mapping = state.writeback.mapping(&state.store, &system).await;
    let record_shape = mapping.as_ref().ok().and_then(|m| xml_record(m.config()));
    let mapping_file = format!("mappings/{system}.toml");
    let schema = match (&mapping, &record_shape) {
        (Ok(mapping), Some(shape)) => RecordSchema::Typed {
            record: shape,
            mapping_file: &mapping_file,
            mapping_version: mapping.version(),
        },
        (Ok(_), None) => RecordSchema::Untyped("the system's mapping does not read XML records"),
        (Err(IntakeError::MappingMissing { .. }), _) => {
            RecordSchema::Untyped("the system has no mapping yet (mappings/SYSTEM.toml)")
        }
        (Err(IntakeError::Store(e)), _) => {
            tracing::error!(system, error = %e, "the WSDL cannot read the organisations registry");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ));
        }
        (Err(e), _) => {
            tracing::warn!(system, error = %e, "the WSDL describes untyped records");
            RecordSchema::Untyped("the system's mapping does not compile")
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "text/xml; charset=UTF-8")],
        soap::wsdl(&endpoint, &system, &record, max_batch, schema),
    )
        .into_response())
}
