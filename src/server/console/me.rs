//! 我的账号: the signed-in person's account (masked), roles, sessions, tokens and passkeys. A
//! passkey is registered here through the script (`assets/console.js`) and the API's
//! `/api/v1/me/passkeys` routes.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::super::{AppState, Authorized};
use super::view::{self, Chrome};
use super::{PageError, render};

#[derive(Serialize)]
struct MeView {
    chrome: Chrome,
    id: String,
    name: String,
    mobile: String,
    agency: String,
    region: String,
    status: String,
    grants: Vec<GrantLine>,
    sessions: Vec<SessionLine>,
    tokens: Vec<TokenLine>,
    passkeys: Vec<PasskeyLine>,
}

#[derive(Serialize)]
struct GrantLine {
    role: String,
    scope: String,
    granted_at: String,
}

#[derive(Serialize)]
struct SessionLine {
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    client: String,
}

#[derive(Serialize)]
struct TokenLine {
    name: String,
    expires_at: String,
    last_used_at: String,
}

#[derive(Serialize)]
struct PasskeyLine {
    name: String,
    created_at: String,
    last_used_at: String,
}

pub(super) async fn page(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let account = state.accounts.me(&auth.principal).await?;
    let view = MeView {
        chrome: Chrome::new(&auth, &headers, "/me", "我的账号"),
        grants: account
            .grants
            .iter()
            .filter(|g| g.revoked_at.is_none())
            .map(|g| GrantLine {
                role: view::role_label(&g.role),
                scope: g.scope.clone(),
                granted_at: view::beijing(&g.granted_at),
            })
            .collect(),
        sessions: state
            .accounts
            .sessions(&auth.principal)
            .await?
            .into_iter()
            .map(|s| SessionLine {
                created_at: view::beijing(&s.created_at),
                last_seen_at: view::beijing(&s.last_seen_at),
                expires_at: view::beijing(&s.expires_at),
                client: s.client_addr.unwrap_or_else(|| "—".to_owned()),
            })
            .collect(),
        tokens: state
            .accounts
            .tokens(&auth.principal)
            .await?
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .map(|t| TokenLine {
                name: t.name,
                expires_at: view::beijing(&t.expires_at),
                last_used_at: view::beijing_or_dash(t.last_used_at.as_ref()),
            })
            .collect(),
        passkeys: state
            .accounts
            .passkeys(&auth.principal)
            .await?
            .into_iter()
            .map(|p| PasskeyLine {
                name: p.name,
                created_at: view::beijing(&p.created_at),
                last_used_at: view::beijing_or_dash(p.last_used_at.as_ref()),
            })
            .collect(),
        id: account.id,
        name: account.name,
        mobile: account.mobile,
        agency: account.agency,
        region: account.region,
        status: account.status.label().to_owned(),
    };
    Ok(render(StatusCode::OK, "me", &view))
}
