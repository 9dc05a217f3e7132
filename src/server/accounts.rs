//! `/api/v1/accounts` (administrators, within their scope) and `/api/v1/me` (the caller's own
//! account, sessions and personal API tokens). Personal fields are always masked here.

use axum::extract::State;

use super::error::ApiPath;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::Authorized;
use super::{ApiError, ApiJson, AppState};
use crate::access::{AccountStatus, Grant, Role};
use crate::accounts::{AccountView, EnrolmentLink, IssuedToken, NewAccount, PasskeyView};
use crate::store::{SessionRow, TokenRow};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/tokens", get(tokens).post(create_token))
        .route("/api/v1/me/tokens/{id}", delete(revoke_token))
        .route("/api/v1/me/passkeys", get(passkeys).post(register_passkey))
        .route("/api/v1/me/passkeys/registration", post(start_passkey))
        .route("/api/v1/me/passkeys/{id}", delete(remove_passkey))
        .route("/api/v1/accounts", get(list).post(create))
        .route("/api/v1/accounts/{id}", get(show))
        .route("/api/v1/accounts/{id}/grants", post(grant))
        .route("/api/v1/accounts/{id}/grants/revoke", post(revoke))
        .route("/api/v1/accounts/{id}/status", post(status))
        .route("/api/v1/accounts/{id}/enrolment", post(reenrol))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    account: AccountView,
    /// The sessions that have not ended.
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
}

/// The caller's account (masked), grants, open sessions and tokens.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", responses((status = 200, body = Me)))]
pub(super) async fn me(State(state): State<AppState>, auth: Authorized) -> Result<Json<Me>, ApiError> {
    Ok(Json(Me {
        account: state.accounts.me(&auth.principal).await?,
        sessions: state.accounts.sessions(&auth.principal).await?,
        tokens: state.accounts.tokens(&auth.principal).await?,
    }))
}

/// The caller's personal API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "accounts", responses((status = 200, body = [TokenRow])))]
pub(super) async fn tokens(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<Vec<TokenRow>>, ApiError> {
    Ok(Json(state.accounts.tokens(&auth.principal).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenRequest {
    /// What the token is for, e.g. `ci-deploy`.
    name: String,
    /// The roles it carries: a subset of the caller's; all of them when absent.
    #[serde(default)]
    roles: Vec<Role>,
    /// Days until it expires (1-365).
    days: i64,
}

/// A new personal API token; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "accounts", request_body = TokenRequest, responses(
    (status = 201, body = IssuedToken),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn create_token(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let issued = state
        .accounts
        .create_token(&auth.principal, &request.name, &request.roles, request.days)
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "accounts", params(("id" = String, Path)), responses(
    (status = 204),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.revoke_token(&auth.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The accounts the caller administers (masked).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", responses((status = 200, body = [AccountView])))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    Ok(Json(state.accounts.list(&auth.principal).await?))
}

/// Creates a pending account in the caller's scope; the answer holds its one-time enrolment
/// link's secret.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount, responses(
    (status = 201, body = EnrolmentLink),
    (status = 403, body = super::error::ErrorBody, description = "outside the caller's scope, or a grant wider than theirs"),
    (status = 409, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
))]
pub(super) async fn create(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(new): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<EnrolmentLink>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.accounts.create(&auth.principal, new).await?),
    ))
}

/// An account with its grant history.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)), responses(
    (status = 200, body = AccountView),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.accounts.show(&auth.principal, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GrantBody {
    // Written out rather than a flattened `Grant`: serde's flatten turns off
    // `deny_unknown_fields` checks the schema could state.
    role: crate::access::Role,
    /// `province`, `region:DIVISION` or `agency:DIVISION:NAME`.
    #[schema(value_type = String, example = "region:520100", pattern = "^(province|region:[0-9]{6}([0-9]{3})?|agency:[0-9]{6}([0-9]{3})?:.+)$")]
    scope: crate::access::Scope,
    /// Who approved the grant (by default the caller).
    #[serde(default)]
    approved_by: Option<String>,
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct GrantId {
    grant: i64,
}

/// Grants a role in a scope no wider than the caller's own.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/grants", tag = "accounts", params(("id" = String, Path)), request_body = GrantBody, responses(
    (status = 201, body = GrantId),
    (status = 403, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody, description = "conflict: the account is disabled"),
))]
pub(super) async fn grant(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<(StatusCode, Json<GrantId>), ApiError> {
    let grant = state
        .accounts
        .grant(
            &auth.principal,
            &id,
            Grant {
                role: body.role,
                scope: body.scope,
            },
            body.approved_by,
            &body.reason,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(GrantId { grant })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RevokeBody {
    grant: i64,
    reason: String,
}

/// Revokes a grant in force (the record stays).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/grants/revoke", tag = "accounts", params(("id" = String, Path)), request_body = RevokeBody, responses(
    (status = 204),
    (status = 403, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> Result<StatusCode, ApiError> {
    state
        .accounts
        .revoke(&auth.principal, &id, body.grant, &body.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    /// `suspended`, `active` (reactivate) or `disabled` (on departure; final).
    status: AccountStatus,
    reason: String,
}

/// Suspends, reactivates or disables an account; suspending or disabling ends its sessions and
/// tokens.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/status", tag = "accounts", params(("id" = String, Path)), request_body = StatusBody, responses(
    (status = 204),
    (status = 403, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody),
))]
pub(super) async fn status(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<StatusCode, ApiError> {
    state
        .accounts
        .set_status(&auth.principal, &id, body.status, &body.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new one-time enrolment link (lost authenticator, expired link): the account's credentials,
/// sessions and tokens end until the person enrols again.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/enrolment", tag = "accounts", params(("id" = String, Path)), responses(
    (status = 201, body = EnrolmentLink),
    (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody, description = "conflict: the account is disabled"),
))]
pub(super) async fn reenrol(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<EnrolmentLink>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.accounts.reenrol(&auth.principal, &id).await?),
    ))
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/api/v1/me/passkeys", tag = "accounts", responses((status = 200, body = [PasskeyView])))]
pub(super) async fn passkeys(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<Vec<PasskeyView>>, ApiError> {
    Ok(Json(state.accounts.passkeys(&auth.principal).await?))
}

/// Registering a passkey, step one: the options for the browser's `navigator.credentials.create`.
#[utoipa::path(post, path = "/api/v1/me/passkeys/registration", tag = "accounts", responses(
    (status = 200, description = "`{\"ceremony\", \"options\"}`: pass `options` to navigator.credentials.create"),
))]
pub(super) async fn start_passkey(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<crate::accounts::Ceremony<webauthn_rs::prelude::CreationChallengeResponse>>, ApiError> {
    Ok(Json(
        state.accounts.start_passkey_registration(&auth.principal).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasskeyRegistration {
    ceremony: String,
    /// A name to tell it apart, e.g. `办公电脑指纹`.
    name: String,
    /// The `PublicKeyCredential` the browser's `navigator.credentials.create` gave, as JSON.
    #[schema(schema_with = super::openapi::attestation)]
    credential: webauthn_rs::prelude::RegisterPublicKeyCredential,
}

/// Registering a passkey, step two: the authenticator's answer verified and stored.
#[utoipa::path(post, path = "/api/v1/me/passkeys", tag = "accounts", request_body = PasskeyRegistration, responses(
    (status = 201, body = PasskeyView),
    (status = 410, body = super::error::ErrorBody, description = "ceremony_invalid"),
    (status = 422, body = super::error::ErrorBody, description = "the authenticator's answer does not verify"),
))]
pub(super) async fn register_passkey(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(body): ApiJson<PasskeyRegistration>,
) -> Result<(StatusCode, Json<PasskeyView>), ApiError> {
    super::auth::public_key_credential(&body.credential.type_)?;
    let view = state
        .accounts
        .finish_passkey_registration(&auth.principal, &body.ceremony, &body.name, &body.credential)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Removes one of the caller's passkeys.
#[utoipa::path(delete, path = "/api/v1/me/passkeys/{id}", tag = "accounts", params(("id" = String, Path)), responses(
    (status = 204),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn remove_passkey(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.remove_passkey(&auth.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
