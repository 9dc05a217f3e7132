//! 账号: the accounts an administrator administers, exactly as `/api/v1/accounts` filters them
//! (the accounts service decides: `Accounts::list`, `show`), with search, a status filter and
//! pages; an account's page (personal fields masked, grants in force and revoked, status) with
//! the API's acts as forms — suspend or reactivate (or disable), grant or revoke a role, each
//! with the reason the service requires, and a new one-time enrolment link, shown once as
//! `{public_url}/enrol?token=…` as the command line prints it. Each act is the accounts
//! service's own call; a refusal shows on its form.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::super::{ApiError, AppState, Authorized};
use super::view::{self, Choice, Chrome, Pager};
use super::{PageError, render, see_other};
use crate::access::{AccountStatus, Grant, Role, Scope};
use crate::accounts::{AccountView, EnrolmentLink};

/// Rows per page of the list.
const PAGE_ROWS: usize = 50;

const STATUSES: [AccountStatus; 4] = [
    AccountStatus::Pending,
    AccountStatus::Active,
    AccountStatus::Suspended,
    AccountStatus::Disabled,
];

/// The roles of an account's grants in force, as one line.
fn roles_line(account: &AccountView) -> String {
    let lines: Vec<String> = account
        .grants
        .iter()
        .filter(|g| g.revoked_at.is_none())
        .map(|g| format!("{}（{}）", view::role_label(&g.role), g.scope))
        .collect();
    if lines.is_empty() {
        "—".to_owned()
    } else {
        lines.join("、")
    }
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    /// Words to find in the id, the (masked) name, the agency or the division.
    q: Option<String>,
    status: Option<String>,
    page: Option<usize>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    q: String,
    statuses: Vec<Choice>,
    rows: Vec<Row>,
    total: usize,
    pager: Pager,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    agency: String,
    region: String,
    status: &'static str,
    roles: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let words = view::chosen(query.q.as_deref()).to_owned();
    let status = match view::chosen(query.status.as_deref()) {
        "" => None,
        name => Some(AccountStatus::parse(name).ok_or_else(|| view::bad_filter("status", name))?),
    };
    let accounts: Vec<AccountView> = state
        .accounts
        .list(&auth.principal)
        .await?
        .into_iter()
        .filter(|a| status.is_none_or(|s| a.status == s))
        .filter(|a| {
            words.is_empty()
                || [&a.id, &a.name, &a.agency, &a.region]
                    .iter()
                    .any(|field| field.contains(words.as_str()))
        })
        .collect();
    let total = accounts.len();
    let filters = [
        ("q", words.as_str()),
        ("status", status.map_or("", AccountStatus::name)),
    ];
    let (accounts, pager) = view::paginate(accounts, query.page, PAGE_ROWS, "/accounts", &filters);
    let view = ListView {
        chrome: Chrome::new(&auth, &headers, "/accounts", "账号"),
        statuses: STATUSES
            .iter()
            .map(|s| Choice {
                value: s.name().to_owned(),
                label: s.label().to_owned(),
                selected: Some(*s) == status,
            })
            .collect(),
        rows: accounts
            .into_iter()
            .map(|a| Row {
                roles: roles_line(&a),
                status: a.status.label(),
                id: a.id,
                name: a.name,
                agency: a.agency,
                region: a.region,
            })
            .collect(),
        q: words,
        total,
        pager,
    };
    Ok(render(StatusCode::OK, "accounts", &view))
}

#[derive(Serialize)]
struct AccountPage {
    chrome: Chrome,
    id: String,
    name: String,
    resident_id: String,
    mobile: String,
    agency: String,
    region: String,
    status: &'static str,
    locked_until: Option<String>,
    created_by: String,
    created_at: String,
    done: Option<&'static str>,
    grants: Vec<GrantRow>,
    /// The moves its status may make (none: no form).
    status_form: Option<StatusForm>,
    grant_form: Option<GrantForm>,
    /// The refusal of a revocation: which grant, and why.
    revoke_problems: Vec<String>,
    reenrol_problems: Vec<String>,
    /// The enrolment link just issued, shown once.
    link: Option<LinkView>,
}

#[derive(Serialize)]
struct GrantRow {
    id: i64,
    role: String,
    scope: String,
    granted: String,
    approved_by: String,
    reason: String,
    /// Who revoked it and when; `None` while in force.
    revoked: Option<String>,
}

#[derive(Serialize)]
struct StatusForm {
    choices: Vec<Choice>,
    reason: String,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct GrantForm {
    roles: Vec<Choice>,
    scope: String,
    reason: String,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct LinkView {
    url: String,
    expires_at: String,
}

/// Which form was refused, what it sent and why.
enum Refused {
    Status {
        reason: String,
    },
    Grant {
        role: String,
        scope: String,
        reason: String,
    },
    Revoke,
    Reenrol,
}

/// What the account's page shows besides the account: the act just done, or a refusal of a
/// form with its problems, or a new enrolment link.
#[derive(Default)]
struct Outcome {
    done: Option<&'static str>,
    refused: Option<(Refused, Vec<String>)>,
    link: Option<EnrolmentLink>,
}

/// A status move as people here read it.
fn move_label(to: AccountStatus) -> &'static str {
    match to {
        AccountStatus::Suspended => "暂停（可恢复；立即结束其登录会话与令牌）",
        AccountStatus::Active => "恢复",
        AccountStatus::Disabled => "停用（离岗，不可恢复）",
        AccountStatus::Pending => "待启用",
    }
}

async fn account_page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    id: &str,
    outcome: Outcome,
    status: StatusCode,
) -> Result<Response, PageError> {
    let account = state.accounts.show(&auth.principal, id).await?;
    let (refused, problems) = match outcome.refused {
        Some((refused, problems)) => (Some(refused), problems),
        None => (None, Vec::new()),
    };
    let problems_of = |matches: bool| if matches { problems.clone() } else { Vec::new() };
    let moves: Vec<AccountStatus> = STATUSES
        .into_iter()
        .filter(|to| account.status.can_become(*to))
        .collect();
    let status_form = (!moves.is_empty()).then(|| {
        let reason = match &refused {
            Some(Refused::Status { reason }) => reason.clone(),
            _ => String::new(),
        };
        StatusForm {
            choices: moves
                .iter()
                .map(|to| Choice {
                    value: to.name().to_owned(),
                    label: move_label(*to).to_owned(),
                    selected: false,
                })
                .collect(),
            reason,
            problems: problems_of(matches!(refused, Some(Refused::Status { .. }))),
        }
    });
    let (role, scope, reason) = match &refused {
        Some(Refused::Grant { role, scope, reason }) => (role.clone(), scope.clone(), reason.clone()),
        _ => (
            String::new(),
            format!("agency:{}:{}", account.region, account.agency),
            String::new(),
        ),
    };
    // The roles some administrative grant of the caller's may grant (in a scope of theirs).
    let grantable: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| auth.principal.grants.iter().any(|g| g.role.may_grant(*r)))
        .collect();
    let grant_form =
        (account.status != AccountStatus::Disabled && !grantable.is_empty()).then(|| GrantForm {
            roles: grantable
                .iter()
                .map(|r| Choice {
                    value: r.name().to_owned(),
                    label: r.label().to_owned(),
                    selected: r.name() == role,
                })
                .collect(),
            scope,
            reason,
            problems: problems_of(matches!(refused, Some(Refused::Grant { .. }))),
        });
    let view = AccountPage {
        chrome: Chrome::new(auth, headers, "/accounts", &format!("账号 {}", account.id)),
        grants: account
            .grants
            .iter()
            .map(|g| GrantRow {
                id: g.id,
                role: view::role_label(&g.role),
                scope: g.scope.clone(),
                granted: format!("{}，{}", view::beijing(&g.granted_at), g.granted_by),
                approved_by: g.approved_by.clone(),
                reason: g.reason.clone(),
                revoked: g.revoked_at.as_ref().map(|at| {
                    format!(
                        "{}，{}",
                        view::beijing(at),
                        g.revoked_by.as_deref().unwrap_or("—")
                    )
                }),
            })
            .collect(),
        status_form,
        grant_form,
        revoke_problems: problems_of(matches!(refused, Some(Refused::Revoke))),
        reenrol_problems: problems_of(matches!(refused, Some(Refused::Reenrol))),
        link: outcome.link.map(|link| LinkView {
            url: link.page(state.accounts.public_url()),
            expires_at: view::beijing(&link.expires_at),
        }),
        done: outcome.done,
        status: account.status.label(),
        locked_until: account.locked_until.as_ref().map(view::beijing),
        created_at: view::beijing(&account.created_at),
        created_by: account.created_by,
        id: account.id,
        name: account.name,
        resident_id: account.resident_id,
        mobile: account.mobile,
        agency: account.agency,
        region: account.region,
    };
    Ok(render(status, "account", &view))
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    /// The act just done (after a form's redirect).
    done: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let done = match query.done.as_deref() {
        Some("status") => Some("已更改账号状态，原因已记入审计日志。"),
        Some("grant") => Some("已授予角色，原因已记入审计日志。"),
        Some("revoke") => Some("已撤销角色，原因已记入审计日志。"),
        _ => None,
    };
    let outcome = Outcome {
        done,
        ..Outcome::default()
    };
    account_page(&state, &auth, &headers, &id, outcome, StatusCode::OK).await
}

/// After an act: the account's page (303) saying what was done; a refusal the service
/// explains (a missing reason, a move the status cannot make, a grant wider than the caller's)
/// on the form again with its status; anything else a page.
async fn after(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    id: &str,
    done: &str,
    result: Result<(), ApiError>,
    refused: Refused,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/accounts/{}?done={done}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ))),
        Err(err) if err.status.is_client_error() && err.status != StatusCode::NOT_FOUND => {
            // A field problem names its field; any other refusal says what kind it is.
            let problems = if err.status == StatusCode::UNPROCESSABLE_ENTITY {
                view::problems_of(&err)
            } else {
                vec![format!("{}：{}", view::Failure::of(&err).title, err.message)]
            };
            let outcome = Outcome {
                refused: Some((refused, problems)),
                ..Outcome::default()
            };
            account_page(state, auth, headers, id, outcome, err.status).await
        }
        Err(err) => Err(err.into()),
    }
}

/// Suspends, reactivates or disables the account with the form's reason
/// (`Accounts::set_status`, as `POST /api/v1/accounts/{id}/status`).
pub(super) async fn set_status(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let reason = view::form_field(&form, "reason").trim().to_owned();
    let to = view::form_field(&form, "status");
    let result = match AccountStatus::parse(to) {
        Some(to) => state
            .accounts
            .set_status(&auth.principal, &id, to, &reason)
            .await
            .map_err(ApiError::from),
        None => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("status：请选择新的状态（收到 {to:?}）"),
        )),
    };
    after(
        &state,
        &auth,
        &headers,
        &id,
        "status",
        result,
        Refused::Status { reason },
    )
    .await
}

/// Grants the form's role in the form's scope with its reason (`Accounts::grant`, as
/// `POST /api/v1/accounts/{id}/grants`; the caller approves).
pub(super) async fn grant(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| view::form_field(&form, name).trim().to_owned();
    let (role, scope, reason) = (field("role"), field("scope"), field("reason"));
    let mut problems = Vec::new();
    let parsed_role = Role::parse(&role);
    if parsed_role.is_none() {
        problems.push("role：请选择要授予的角色".to_owned());
    }
    let parsed_scope = Scope::parse(&scope).map_err(|e| problems.push(format!("scope：{e}")));
    let result = match (parsed_role, parsed_scope) {
        (Some(role), Ok(scope)) => state
            .accounts
            .grant(&auth.principal, &id, Grant { role, scope }, None, &reason)
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            problems.join("；"),
        )),
    };
    let refused = Refused::Grant { role, scope, reason };
    after(&state, &auth, &headers, &id, "grant", result, refused).await
}

/// Revokes the form's grant with its reason (`Accounts::revoke`, as
/// `POST /api/v1/accounts/{id}/grants/revoke`).
pub(super) async fn revoke(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let reason = view::form_field(&form, "reason").trim().to_owned();
    let grant = view::form_field(&form, "grant");
    let result = match grant.parse::<i64>() {
        Ok(grant) => state
            .accounts
            .revoke(&auth.principal, &id, grant, &reason)
            .await
            .map_err(ApiError::from),
        Err(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("grant：{grant:?} 不是授权编号"),
        )),
    };
    after(&state, &auth, &headers, &id, "revoke", result, Refused::Revoke).await
}

/// A new one-time enrolment link (`Accounts::reenrol`, as
/// `POST /api/v1/accounts/{id}/enrolment`), shown once on the account's page: its secret
/// never goes into an address, so this answer is the page itself, not a redirect.
pub(super) async fn reenrol(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    match state.accounts.reenrol(&auth.principal, &id).await {
        Ok(link) => {
            let outcome = Outcome {
                done: Some("已签发新的一次性登记链接；原密码、验证器、会话与令牌已失效，账号待重新启用。"),
                link: Some(link),
                ..Outcome::default()
            };
            account_page(&state, &auth, &headers, &id, outcome, StatusCode::OK).await
        }
        Err(err) => {
            let result = Err(ApiError::from(err));
            after(
                &state,
                &auth,
                &headers,
                &id,
                "enrolment",
                result,
                Refused::Reenrol,
            )
            .await
        }
    }
}
