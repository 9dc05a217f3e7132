//! Who calls: the authorization layer every routed request passes, keyed by the one policy
//! table (`crate::access::policy`), and the sign-in routes. A request resolves to a
//! [`Principal`] from a personal API token (`Authorization: Bearer rh.…`) or a session cookie
//! before any handler runs; its roles and scope are checked against the route's row; cookie
//! sessions must send their CSRF token with every change. Departmental systems' routes are rows
//! marked public: they authenticate with their own keys in their handlers.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::RequestExt;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState};
use crate::access::policy::{self, Access, ScopeRule, Surface};
use crate::access::{Principal, PrincipalKind, Role, Via};
use crate::accounts::{AccountError, TotpSetup};
use crate::systems::System;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ronghe_session";
/// The header a cookie session sends its CSRF token in with every change.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What the authorization layer leaves for a handler: who calls, and the roles of the route's
/// row (so a handler filtering a list asks about the same roles the table names).
#[derive(Clone)]
pub struct Authorized {
    pub principal: Arc<Principal>,
    pub roles: &'static [Role],
}

impl Authorized {
    /// Whether a grant of the route's roles covers `system`.
    pub fn sees(&self, system: &System) -> bool {
        self.principal
            .covers_system(self.roles, &system.region_code, &system.department)
    }

    /// The ids of the systems the caller sees, or `None` when a province-wide grant sees all.
    pub async fn visible_systems(&self, state: &AppState) -> Result<Option<HashSet<String>>, ApiError> {
        if self.principal.province_wide(self.roles) {
            return Ok(None);
        }
        Ok(Some(
            state
                .store
                .list_systems(None)
                .await?
                .into_iter()
                .filter(|s| self.sees(s))
                .map(|s| s.id)
                .collect(),
        ))
    }

    /// Keeps the items whose system the caller sees.
    pub async fn filter<T>(
        &self,
        state: &AppState,
        items: Vec<T>,
        system_of: impl Fn(&T) -> &str,
    ) -> Result<Vec<T>, ApiError> {
        Ok(match self.visible_systems(state).await? {
            None => items,
            Some(ids) => items.into_iter().filter(|i| ids.contains(system_of(i))).collect(),
        })
    }

    /// Refuses (403) a change to a system outside the caller's scope; an unknown system is 404.
    pub async fn require_system(&self, state: &AppState, id: &str) -> Result<System, ApiError> {
        let system = state.store.get_system(id).await?;
        if self.sees(&system) {
            Ok(system)
        } else {
            Err(out_of_scope(&format!("system {id}")))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Authorized>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a handler asked for its caller on a public route");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
        })
    }
}

fn out_of_scope(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "out_of_scope",
        format!("{what} lies outside the scope of your roles"),
    )
}

fn unauthenticated() -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in (POST /api/v1/auth/sign-in) or send a personal API token as Authorization: Bearer rh.…",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"ronghe\""),
    );
    response
}

/// The layer on every routed request: finds the route's row, resolves the caller, checks the
/// CSRF token of cookie sessions, the roles and the scope, then hands `Authorized` to the
/// handler. A route without a row is refused.
pub(super) async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(entry) = policy::lookup(request.method().as_str(), &route) else {
        tracing::error!(method = %request.method(), route, "route has no policy row; refused");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this operation has no access policy",
        )
        .into_response();
    };
    let mut context = request_context(&request);
    let Access::Signed { roles, scope } = entry.access else {
        return crate::store::with_audit_context(context, next.run(request)).await;
    };
    // The console answers people: a page for a refusal, the sign-in form for a stranger.
    let console = entry.surface == Surface::Console;
    let refuse = |err: ApiError| {
        if console {
            super::console::refusal(err)
        } else {
            err.into_response()
        }
    };
    let principal = match resolve(&state, request.headers()).await {
        Ok(Some(principal)) => principal,
        Ok(None) if console => {
            let target = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            return super::console::to_sign_in(&target);
        }
        Ok(None) => return unauthenticated(),
        Err(err) => return refuse(err),
    };
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if let PrincipalKind::Person {
        via: Via::Session { csrf, .. },
        ..
    } = &principal.kind
        && changes
    {
        let header = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // A console form carries the token as its `csrf_token` field.
        let (field, rebuilt) = match header {
            Some(_) => (None, request),
            None if console => match super::console::csrf_field(request).await {
                Ok(found) => found,
                Err(answer) => return answer,
            },
            None => (None, request),
        };
        request = rebuilt;
        let sent = header.or(field).unwrap_or_default();
        if !crate::access::secret::same_hash(&sent, csrf) {
            return refuse(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a signed-in browser must send its CSRF token (from sign-in) in X-CSRF-Token, or a console form in its csrf_token field, with every change",
            ));
        }
    }
    if !principal.holds_any(roles) {
        let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        return refuse(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this operation needs one of the roles {}", names.join(", ")),
        ));
    }
    let authorized = Authorized {
        principal: Arc::new(principal),
        roles,
    };
    let params: Vec<(String, String)> = match request.extract_parts::<RawPathParams>().await {
        Ok(params) => params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        Err(_) => Vec::new(),
    };
    match in_scope(&state, &authorized, scope, &params).await {
        Ok(true) => {}
        Ok(false) if changes => return refuse(out_of_scope("the target")),
        Ok(false) => return refuse(ApiError::not_found("not found (or not in your scope)")),
        Err(err) => return refuse(err),
    }
    // The roles and scopes this request may act in, as the route's row allows them.
    let (mut held, mut scopes): (Vec<&str>, Vec<String>) = (Vec::new(), Vec::new());
    for grant in authorized
        .principal
        .grants
        .iter()
        .filter(|g| roles.contains(&g.role))
    {
        held.push(grant.role.name());
        scopes.push(grant.scope.to_string());
    }
    held.dedup();
    scopes.dedup();
    context.role = Some(held.join(","));
    context.scope = Some(scopes.join(","));
    request.extensions_mut().insert(authorized);
    crate::store::with_audit_context(context, next.run(request)).await
}

/// The audit context of a request: client address, user agent and a request id (the client's
/// `X-Request-Id` when it sends a sane one, else a fresh one).
fn request_context(request: &Request) -> crate::store::AuditContext {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect::<String>()
            })
    };
    let request_id = header("x-request-id")
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .or_else(|| crate::store::random_id("req").ok());
    crate::store::AuditContext {
        role: None,
        scope: None,
        client_addr: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        user_agent: header("user-agent"),
        request_id,
    }
}

/// Whether the route's target lies in the caller's scope. A target that does not exist is "in
/// scope" only for a province-wide grant, so the handler's own 404 never tells anyone else
/// what exists.
async fn in_scope(
    state: &AppState,
    auth: &Authorized,
    rule: ScopeRule,
    params: &[(String, String)],
) -> Result<bool, ApiError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let everywhere = auth.principal.province_wide(auth.roles);
    let system_id = match rule {
        ScopeRule::Role | ScopeRule::InHandler | ScopeRule::Own => return Ok(true),
        ScopeRule::Account => {
            return state
                .accounts
                .in_scope(&auth.principal, &param("id"))
                .await
                .map_err(ApiError::from);
        }
        ScopeRule::System(name) => Some(param(name)),
        ScopeRule::Assessment => match state.store.assessment(&param("id")).await {
            Ok(view) => {
                let me = auth.principal.account().unwrap_or_default();
                let member = view.assessment.chair == me || view.experts.iter().any(|e| e.id == me);
                if member && auth.principal.holds_any(&[Role::Expert]) {
                    return Ok(true);
                }
                let others: Vec<Role> = auth
                    .roles
                    .iter()
                    .copied()
                    .filter(|r| *r != Role::Expert)
                    .collect();
                let system = state.store.get_system(&view.assessment.system_id).await?;
                return Ok(auth
                    .principal
                    .covers_system(&others, &system.region_code, &system.department));
            }
            Err(crate::store::StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        },
        ScopeRule::Correction => match param("id").parse::<i64>() {
            Ok(id) => state.store.correction(id).await.ok().map(|c| c.system_id),
            Err(_) => None,
        },
        ScopeRule::QualityItem => match param("id").parse::<i64>() {
            Ok(id) => state.store.quality_item(id).await.ok().map(|q| q.system_id),
            Err(_) => None,
        },
    };
    let Some(system_id) = system_id else {
        return Ok(everywhere);
    };
    match state.store.get_system(&system_id).await {
        Ok(system) => Ok(auth.sees(&system)),
        Err(crate::store::StoreError::NotFound { .. }) => Ok(everywhere),
        Err(err) => Err(err.into()),
    }
}

/// The caller of a request: a bearer token first, else the session cookie. `None` when neither
/// is sent or neither is valid.
async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        return Ok(state.accounts.token_principal(token).await?);
    }
    match session_cookie(headers) {
        Some(session) => Ok(state.accounts.session_principal(&session).await?),
        None => Ok(None),
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the cookie `name` the browser sent.
pub(super) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: HTTP only, secure, same site only; `max_age` 0 clears it. The values
/// are URL-safe base64 secrets, so they need no quoting.
pub(super) fn cookie(name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("ronghe_invalid=; Max-Age=0"))
}

/// The cookies of a new session: the session itself, and its CSRF token for the console's
/// forms (an API client reads the token from the answer's body instead).
pub(super) fn session_cookies(signed: &crate::accounts::SignedIn) -> Result<[HeaderValue; 2], ApiError> {
    let max_age = (signed.expires_at - chrono::Utc::now()).num_seconds().max(0);
    Ok([
        cookie(SESSION_COOKIE, &signed.session, "/", max_age),
        cookie(super::console::CSRF_COOKIE, &signed.csrf, "/", max_age),
    ])
}

/// The cookies that end a browser's session.
pub(super) fn signed_out_cookies() -> [HeaderValue; 2] {
    [
        cookie(SESSION_COOKIE, "", "/", 0),
        cookie(super::console::CSRF_COOKIE, "", "/", 0),
    ]
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> ApiError {
        match err {
            AccountError::Invalid(problems) => ApiError::validation(
                problems
                    .into_iter()
                    .map(|p| crate::case::FieldIssue {
                        rule: format!("account.{}", p.field),
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            ),
            AccountError::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            AccountError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            AccountError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            AccountError::SignInFailed => {
                ApiError::new(StatusCode::UNAUTHORIZED, "sign_in_failed", err.to_string())
            }
            AccountError::Locked(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "account_locked", err.to_string())
            }
            AccountError::EnrolmentInvalid => {
                ApiError::new(StatusCode::GONE, "enrolment_invalid", err.to_string())
            }
            AccountError::CeremonyInvalid => {
                ApiError::new(StatusCode::GONE, "ceremony_invalid", err.to_string())
            }
            AccountError::Passkey(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "passkeys_not_configured",
                err.to_string(),
            ),
            AccountError::NoKeys => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "accounts_not_configured",
                err.to_string(),
            ),
            AccountError::Store(err) => err.into(),
            AccountError::Key(_) | AccountError::Secret(_) => {
                tracing::error!(error = %err, "account secret failure");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/sign-in", post(sign_in))
        .route("/api/v1/auth/enrolment", post(enrol))
        .route("/api/v1/auth/enrolment/confirm", post(confirm))
        .route("/api/v1/auth/passkey/start", post(passkey_start))
        .route("/api/v1/auth/passkey/finish", post(passkey_finish))
        .route("/api/v1/auth/sign-out", post(sign_out))
        .route("/api/v1/auth/sign-out-everywhere", post(sign_out_everywhere))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SignInRequest {
    account: String,
    password: String,
    /// The 6-digit code of the account's authenticator app (TOTP).
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SignedInBody {
    account: String,
    /// Send in `X-CSRF-Token` with every change made with the session cookie.
    csrf_token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// Signs in with password and TOTP code; sets the HttpOnly session cookie.
#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = "accounts", request_body = SignInRequest, responses(
    (status = 200, body = SignedInBody, description = "signed in; the session cookie is set"),
    (status = 401, body = super::error::ErrorBody, description = "sign_in_failed: one answer for a wrong account, password or code"),
    (status = 429, body = super::error::ErrorBody, description = "account_locked after repeated failures (Retry-After)"),
))]
pub(super) async fn sign_in(
    State(state): State<AppState>,
    connect: Option<axum::extract::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<Response, ApiError> {
    let (client, agent) = client_of(connect, &headers);
    let signed = state
        .accounts
        .sign_in(&request.account, &request.password, &request.code, client, agent)
        .await;
    session_answer(signed)
}

/// The answer to a sign-in: the session cookie and the CSRF token, or the refusal (with
/// `Retry-After` while the account is locked).
fn session_answer(signed: Result<crate::accounts::SignedIn, AccountError>) -> Result<Response, ApiError> {
    let signed = match signed {
        Ok(signed) => signed,
        Err(AccountError::Locked(until)) => {
            let wait = (until - chrono::Utc::now()).num_seconds().max(1);
            let mut response = ApiError::from(AccountError::Locked(until)).into_response();
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(response);
        }
        Err(err) => return Err(err.into()),
    };
    let cookies = session_cookies(&signed)?;
    let body = SignedInBody {
        account: signed.account,
        csrf_token: signed.csrf,
        expires_at: signed.expires_at,
    };
    let mut response = Json(body).into_response();
    for value in cookies {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The client's address and user agent, for the session's record.
fn client_of(
    connect: Option<axum::extract::Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> (Option<String>, Option<String>) {
    let client = connect.map(|c| c.0.0.ip().to_string());
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (client, agent)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasskeyStart {
    account: String,
    password: String,
}

/// Signing in with a passkey, step one: the password, then the challenge for the browser's
/// `navigator.credentials.get` (the `options`), valid five minutes.
#[utoipa::path(post, path = "/api/v1/auth/passkey/start", tag = "accounts", request_body = PasskeyStart, responses(
    (status = 200, description = "`{\"ceremony\", \"options\"}`: pass `options` to navigator.credentials.get"),
    (status = 401, body = super::error::ErrorBody, description = "sign_in_failed: wrong account or password, or no passkey registered"),
    (status = 429, body = super::error::ErrorBody, description = "account_locked"),
))]
pub(super) async fn passkey_start(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<PasskeyStart>,
) -> Result<Response, ApiError> {
    match state
        .accounts
        .start_passkey_sign_in(&request.account, &request.password)
        .await
    {
        Ok(ceremony) => Ok(Json(ceremony).into_response()),
        Err(err @ AccountError::Locked(_)) => session_answer(Err(err)),
        Err(err) => Err(err.into()),
    }
}

/// A WebAuthn credential's `type` must be `public-key`, checked before its ceremony is looked up.
pub(super) fn public_key_credential(type_: &str) -> Result<(), ApiError> {
    if type_ == "public-key" {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "a passkey credential's type must be public-key",
    )
    .with_field("credential.type"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasskeyFinish {
    ceremony: String,
    /// The `PublicKeyCredential` the browser's `navigator.credentials.get` gave, as JSON.
    #[schema(schema_with = super::openapi::assertion)]
    credential: webauthn_rs::prelude::PublicKeyCredential,
}

/// Signing in with a passkey, step two: the authenticator's assertion; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/passkey/finish", tag = "accounts", request_body = PasskeyFinish, responses(
    (status = 200, body = SignedInBody),
    (status = 401, body = super::error::ErrorBody),
    (status = 410, body = super::error::ErrorBody, description = "ceremony_invalid: unknown, used or expired"),
))]
pub(super) async fn passkey_finish(
    State(state): State<AppState>,
    connect: Option<axum::extract::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PasskeyFinish>,
) -> Result<Response, ApiError> {
    public_key_credential(&request.credential.type_)?;
    let (client, agent) = client_of(connect, &headers);
    let signed = state
        .accounts
        .finish_passkey_sign_in(&request.ceremony, &request.credential, client, agent)
        .await;
    session_answer(signed)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EnrolRequest {
    /// The secret of the one-time enrolment link.
    token: String,
    /// The new password: at least 12 characters, three of lower case, upper case, digits and
    /// other characters, not containing the account id.
    password: String,
}

/// Enrolment, step one: sets the password and gives the authenticator's secret.
#[utoipa::path(post, path = "/api/v1/auth/enrolment", tag = "accounts", request_body = EnrolRequest, responses(
    (status = 200, body = TotpSetup),
    (status = 410, body = super::error::ErrorBody, description = "enrolment_invalid: unknown, used or expired link"),
    (status = 422, body = super::error::ErrorBody, description = "the password breaks the policy"),
))]
pub(super) async fn enrol(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EnrolRequest>,
) -> Result<Json<TotpSetup>, ApiError> {
    Ok(Json(
        state
            .accounts
            .start_enrolment(&request.token, &request.password)
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfirmRequest {
    token: String,
    /// A current code from the authenticator app.
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Enrolled {
    account: String,
    status: crate::access::AccountStatus,
}

/// Enrolment, step two: a code from the authenticator activates the account.
#[utoipa::path(post, path = "/api/v1/auth/enrolment/confirm", tag = "accounts", request_body = ConfirmRequest, responses(
    (status = 200, body = Enrolled),
    (status = 410, body = super::error::ErrorBody, description = "enrolment_invalid"),
    (status = 422, body = super::error::ErrorBody, description = "the code is wrong"),
))]
pub(super) async fn confirm(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ConfirmRequest>,
) -> Result<Json<Enrolled>, ApiError> {
    let account = state
        .accounts
        .confirm_enrolment(&request.token, &request.code)
        .await?;
    Ok(Json(Enrolled {
        account,
        status: crate::access::AccountStatus::Active,
    }))
}

fn signed_out(ended: u64) -> Response {
    let mut response = Json(serde_json::json!({ "sessions_ended": ended })).into_response();
    for value in signed_out_cookies() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Ends this session.
#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = "accounts", responses(
    (status = 200, description = "the session ended; the cookie is cleared"),
))]
pub(super) async fn sign_out(State(state): State<AppState>, auth: Authorized) -> Result<Response, ApiError> {
    Ok(signed_out(state.accounts.sign_out(&auth.principal, false).await?))
}

/// Ends every session of the caller's account (sign out everywhere).
#[utoipa::path(post, path = "/api/v1/auth/sign-out-everywhere", tag = "accounts", responses(
    (status = 200, description = "every session of the account ended"),
))]
pub(super) async fn sign_out_everywhere(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Response, ApiError> {
    Ok(signed_out(state.accounts.sign_out(&auth.principal, true).await?))
}
