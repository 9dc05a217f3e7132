//! `/api/v1/bridge`: the user bridge (用户互认). The platform side (identities, accounts,
//! links, tickets, the report) is called by signed-in staff, its systems checked against their
//! scope; a departmental system
//! (redeeming a ticket, asking for a link proof) authenticates with its bridge credentials
//! (HTTP Basic: system id and secret). Refused tickets answer with a distinct code each.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};

use super::error::{ApiPath, ApiQuery};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;

use super::{Actor, ApiError, ApiJson, AppState, Authorized};
use crate::bridge::{
    Bridge, BridgeError, IdentityReport, IdentityView, ImportReport, IssuedProof, IssuedTicket, LinkRequest,
    LinkView, NewAccount, NewIdentity, PublicKey, Redemption, Redirect, Refusal, Report, SystemCredentials,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bridge/identities", post(put_identity))
        .route("/api/v1/bridge/identities/{user_id}", get(show_identity))
        .route("/api/v1/bridge/identities/{user_id}/cases", get(user_cases))
        .route("/api/v1/bridge/systems/{id}/accounts", post(import_accounts))
        .route("/api/v1/bridge/links", get(list_links).post(link))
        .route("/api/v1/bridge/links/revoke", post(unlink))
        .route("/api/v1/bridge/tickets", post(issue))
        .route("/api/v1/bridge/tickets/redeem", post(redeem))
        .route("/api/v1/bridge/proofs", post(prove))
        .route("/api/v1/bridge/report", get(report))
        .route("/api/v1/bridge/keys", get(keys))
}

impl From<BridgeError> for ApiError {
    fn from(err: BridgeError) -> ApiError {
        let (code, message) = (err.code(), err.to_string());
        let status = match err {
            BridgeError::Invalid(issues) => return ApiError::validation(issues),
            BridgeError::Store(err) => return err.into(),
            BridgeError::Keys(err) => {
                tracing::error!(error = %err, "bridge keys failed");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the bridge failed; see the server log",
                );
            }
            BridgeError::Proof(_) => {
                return ApiError::new(StatusCode::FORBIDDEN, code, message).with_field("proof");
            }
            BridgeError::CallbackNotAllowed(_) => {
                return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
                    .with_field("callback_url");
            }
            BridgeError::Unauthorized => StatusCode::UNAUTHORIZED,
            BridgeError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            BridgeError::Ticket(Refusal::Malformed(_)) => StatusCode::BAD_REQUEST,
            BridgeError::Ticket(Refusal::Expired | Refusal::Replayed) => StatusCode::GONE,
            BridgeError::Ticket(_) | BridgeError::LevelTooLow { .. } => StatusCode::FORBIDDEN,
            BridgeError::Config { .. } | BridgeError::Closed { .. } | BridgeError::NotLinked { .. } => {
                StatusCode::CONFLICT
            }
        };
        ApiError::new(status, code, message)
    }
}

/// The answer to a departmental system's call: its body, or the refusal (with `Retry-After`
/// while its credentials are throttled).
fn system_answer<T: serde::Serialize>(status: StatusCode, answer: Result<T, BridgeError>) -> Response {
    match answer {
        Ok(body) => (status, Json(body)).into_response(),
        Err(err) => {
            let retry_after = match &err {
                BridgeError::Throttled { until } => Some((*until - Utc::now()).num_seconds().max(1)),
                _ => None,
            };
            let mut response = ApiError::from(err).into_response();
            if let Some(seconds) = retry_after
                && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

fn bridge(state: &AppState) -> Result<&Bridge, ApiError> {
    state.bridge.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "bridge_not_configured",
            "this node has no [bridge] keys in its config; see README",
        )
    })
}

/// A departmental system's credentials, from `Authorization: Basic base64(SYSTEM_ID:SECRET)`,
/// and the address of the connection (the peer: a proxy in front must keep the departments'
/// addresses apart, or they share one throttle).
pub(super) struct SystemAuth(SystemCredentials);

impl<S: Send + Sync> FromRequestParts<S> for SystemAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|connect| connect.0.ip());
        let credentials = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|pair| {
                pair.split_once(':').map(|(system, secret)| SystemCredentials {
                    system_id: system.to_owned(),
                    secret: secret.to_owned(),
                    source,
                })
            });
        credentials
            .map(SystemAuth)
            .ok_or_else(|| BridgeError::Unauthorized.into())
    }
}

#[utoipa::path(post, path = "/api/v1/bridge/identities", tag = "bridge", request_body = NewIdentity, responses(
    (status = 200, body = IdentityReport),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
/// Records or refreshes a platform identity (from the real-name system) and auto-links it.
pub(super) async fn put_identity(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiJson(new): ApiJson<NewIdentity>,
) -> Result<Json<IdentityReport>, ApiError> {
    Ok(Json(bridge(&state)?.put_identity(new, &actor, Utc::now()).await?))
}

#[utoipa::path(get, path = "/api/v1/bridge/identities/{user_id}", tag = "bridge", params(("user_id" = String, Path)), responses(
    (status = 200, body = IdentityView),
    (status = 404, body = super::error::ErrorBody),
))]
/// A platform identity, masked (audited read).
pub(super) async fn show_identity(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<IdentityView>, ApiError> {
    Ok(Json(bridge(&state)?.identity(&user_id, &actor).await?))
}

#[utoipa::path(get, path = "/api/v1/bridge/identities/{user_id}/cases", tag = "bridge", params(("user_id" = String, Path)), responses(
    (status = 200, body = [crate::store::OwnedCase]),
    (status = 404, body = super::error::ErrorBody),
))]
/// The cases written back by compatible-transition systems under this platform user (their
/// applicants' accounts resolved through the links); audited read.
pub(super) async fn user_cases(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<Vec<crate::store::OwnedCase>>, ApiError> {
    Ok(Json(bridge(&state)?.user_cases(&user_id, &actor).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountsRequest {
    accounts: Vec<NewAccount>,
}

#[utoipa::path(post, path = "/api/v1/bridge/systems/{id}/accounts", tag = "bridge", params(("id" = String, Path)), request_body = AccountsRequest, responses(
    (status = 200, body = ImportReport),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
/// Imports a system's accounts and auto-links them through certificate numbers.
pub(super) async fn import_accounts(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<AccountsRequest>,
) -> Result<Json<ImportReport>, ApiError> {
    let report = bridge(&state)?
        .import_accounts(&id, request.accounts, &actor, Utc::now())
        .await?;
    Ok(Json(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct LinksQuery {
    user_id: Option<String>,
    system_id: Option<String>,
    /// Include revoked links.
    #[serde(default)]
    history: bool,
}

#[utoipa::path(get, path = "/api/v1/bridge/links", tag = "bridge", params(LinksQuery), responses(
    (status = 200, body = [LinkView]),
))]
/// Links of a user, of a system, or all (audited read).
pub(super) async fn list_links(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<LinksQuery>,
) -> Result<Json<Vec<LinkView>>, ApiError> {
    let actor = auth.principal.actor.clone();
    let links = bridge(&state)?
        .links(
            q.user_id.as_deref(),
            q.system_id.as_deref(),
            q.history,
            &actor,
            Utc::now(),
        )
        .await?;
    Ok(Json(auth.filter(&state, links, |l| &l.system_id).await?))
}

#[utoipa::path(post, path = "/api/v1/bridge/links", tag = "bridge", request_body = LinkRequest, responses(
    (status = 201, body = LinkView),
    (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
/// Links a user explicitly: with a link proof, or as an administrator with a reason.
pub(super) async fn link(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(request): ApiJson<LinkRequest>,
) -> Result<(StatusCode, Json<LinkView>), ApiError> {
    auth.require_system(&state, &request.system_id).await?;
    let actor = auth.principal.actor.clone();
    let link = bridge(&state)?.link(request, &actor, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UnlinkRequest {
    user_id: String,
    system_id: String,
    /// Why (kept in the audit log).
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/bridge/links/revoke", tag = "bridge", request_body = UnlinkRequest, responses(
    (status = 200, body = LinkView),
    (status = 404, body = super::error::ErrorBody),
))]
/// Revokes a user's link to a system (the user or an administrator, named by the actor).
pub(super) async fn unlink(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(r): ApiJson<UnlinkRequest>,
) -> Result<Json<LinkView>, ApiError> {
    auth.require_system(&state, &r.system_id).await?;
    let actor = auth.principal.actor.clone();
    let link = bridge(&state)?
        .unlink(&r.user_id, &r.system_id, &r.reason, &actor, Utc::now())
        .await?;
    Ok(Json(link))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct IssueRequest {
    user_id: String,
    system_id: String,
    /// Where to send the user: one of the system's registered `callback_urls`, exactly
    /// (default: its first).
    #[serde(default)]
    callback_url: Option<String>,
    /// The `state` of the department's login request, echoed back in the redirect so that the
    /// department can refuse a login it did not start.
    #[serde(default)]
    state: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/bridge/tickets", tag = "bridge", request_body = IssueRequest, responses(
    (status = 201, body = IssuedTicket),
    (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
/// Issues a short-lived, single-use ticket for a linked user and a system.
pub(super) async fn issue(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(r): ApiJson<IssueRequest>,
) -> Result<(StatusCode, Json<IssuedTicket>), ApiError> {
    auth.require_system(&state, &r.system_id).await?;
    let actor = auth.principal.actor.clone();
    let issued = bridge(&state)?
        .issue(
            &r.user_id,
            &r.system_id,
            &Redirect {
                callback: r.callback_url.as_deref(),
                state: r.state.as_deref(),
            },
            &actor,
            Utc::now(),
        )
        .await;
    state
        .metrics
        .ticket(if issued.is_ok() { "issued" } else { "not_issued" });
    Ok((StatusCode::CREATED, Json(issued?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RedeemRequest {
    ticket: String,
}

#[utoipa::path(post, path = "/api/v1/bridge/tickets/redeem", tag = "bridge", request_body = RedeemRequest, responses(
    (status = 200, body = Redemption),
    (status = 400, description = "ticket_malformed", body = super::error::ErrorBody),
    (status = 401, description = "bridge_unauthorized", body = super::error::ErrorBody),
    (status = 403, description = "ticket_tampered, ticket_wrong_algorithm, ticket_wrong_system, ticket_level_too_low, ticket_link_revoked", body = super::error::ErrorBody),
    (status = 410, description = "ticket_expired, ticket_replayed", body = super::error::ErrorBody),
    (status = 429, description = "bridge_throttled: too many failed credentials from this address (Retry-After)", body = super::error::ErrorBody),
))]
/// Redeems a ticket (server-to-server, with the system's credentials) for the system's own
/// account id and the attributes its config releases (audited with what was released).
pub(super) async fn redeem(
    State(state): State<AppState>,
    SystemAuth(credentials): SystemAuth,
    ApiJson(r): ApiJson<RedeemRequest>,
) -> Result<Response, ApiError> {
    let redeemed = bridge(&state)?.redeem(&credentials, &r.ticket, Utc::now()).await;
    state.metrics.ticket(match &redeemed {
        Ok(_) => "redeemed",
        Err(BridgeError::Ticket(refusal)) => refusal.code(),
        Err(BridgeError::Throttled { .. }) => "throttled",
        Err(_) => "failed",
    });
    Ok(system_answer(StatusCode::OK, redeemed))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ProofRequest {
    /// The platform user on whose behalf the user logged in (the platform sent them to link
    /// this system); only a link of this user redeems the proof.
    user_id: String,
    /// The account the user just logged in to.
    account_id: String,
}

#[utoipa::path(post, path = "/api/v1/bridge/proofs", tag = "bridge", request_body = ProofRequest, responses(
    (status = 201, body = IssuedProof),
    (status = 401, body = super::error::ErrorBody),
    (status = 404, description = "not_found: no such platform user", body = super::error::ErrorBody),
    (status = 429, description = "bridge_throttled (Retry-After)", body = super::error::ErrorBody),
))]
/// A system vouches that a user just logged in as one of its accounts on behalf of a platform
/// user; the proof lets the platform link that account to that user, once.
pub(super) async fn prove(
    State(state): State<AppState>,
    SystemAuth(credentials): SystemAuth,
    ApiJson(r): ApiJson<ProofRequest>,
) -> Result<Response, ApiError> {
    let proof = bridge(&state)?
        .prove(&credentials, &r.user_id, &r.account_id, Utc::now())
        .await;
    Ok(system_answer(StatusCode::CREATED, proof))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    system_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/bridge/report", tag = "bridge", params(ReportQuery), responses(
    (status = 200, body = Report),
))]
/// Auto-link conflicts and accounts named by write-backs but linked to no one (audited read).
pub(super) async fn report(
    State(state): State<AppState>,
    auth: Authorized,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<Report>, ApiError> {
    match q.system_id.as_deref() {
        Some(system) => {
            auth.require_system(&state, system).await?;
        }
        None if auth.visible_systems(&state).await?.is_some() => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "out_of_scope",
                "the report across every system needs a province-wide role; name a system_id in your scope",
            ));
        }
        None => {}
    }
    let actor = auth.principal.actor.clone();
    let report = bridge(&state)?
        .report(q.system_id.as_deref(), &actor, Utc::now())
        .await?;
    Ok(Json(report))
}

#[utoipa::path(get, path = "/api/v1/bridge/keys", tag = "bridge", responses((status = 200, body = [PublicKey])))]
/// The Ed25519 public keys for systems that verify tickets offline.
pub(super) async fn keys(State(state): State<AppState>) -> Result<Json<Vec<PublicKey>>, ApiError> {
    Ok(Json(bridge(&state)?.public_keys()))
}
