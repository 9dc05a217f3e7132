//! 启用账号: a person's first visit, from the one-time enrolment link an administrator gave them
//! (`/enrol?token=…`): set a password, add the authenticator (a QR code of its `otpauth://`
//! URI, or the secret to type), confirm with a code; then sign in. Each step goes through
//! `Accounts` as the API's enrolment routes do; the link's secret is the credential throughout.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::super::{ApiError, AppState};
use super::session::{form_token, form_token_ok, form_token_used};
use super::view::form_field as field;
use super::{PageError, render};
use crate::accounts::AccountError;

const PATH: &str = "/enrol";

#[derive(Serialize, Default)]
struct EnrolView {
    /// The step: `password`, `authenticator` or `done`.
    password: bool,
    authenticator: bool,
    done: bool,
    token: String,
    csrf_token: String,
    account: String,
    secret: String,
    /// The QR code of the authenticator's URI (SVG drawn here).
    qr: String,
    problems: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// A page of the enrolment, with a fresh form token.
fn enrol_page(status: StatusCode, mut view: EnrolView) -> Result<Response, PageError> {
    let (token, cookie) = form_token(PATH)?;
    view.csrf_token = token;
    let mut response = render(status, "enrol", &view);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Step one: the password form.
pub(super) async fn form(Query(query): Query<LinkQuery>) -> Result<Response, PageError> {
    enrol_page(
        StatusCode::OK,
        EnrolView {
            password: true,
            token: query.token,
            ..EnrolView::default()
        },
    )
}

/// What the link's refusal says to the person: an unusable link is a dead end they can only
/// get out of through their administrator; anything else fixable goes back on the form.
fn problems_or_page(err: AccountError) -> Result<Vec<String>, PageError> {
    match err {
        AccountError::Invalid(problems) => Ok(problems
            .into_iter()
            .map(|p| format!("{}：{}", p.field, p.message))
            .collect()),
        AccountError::EnrolmentInvalid => Err(ApiError::new(
            StatusCode::GONE,
            "enrolment_invalid",
            "启用链接无效、已用过或已过期。请联系本级管理员重新发放启用链接。The enrolment link is unknown, used or expired: ask your administrator for a new one.",
        )
        .into()),
        other => Err(other.into()),
    }
}

/// Step one sent: the password set, the authenticator's secret shown.
pub(super) async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let token = field(&form, "token").to_owned();
    let mut view = EnrolView {
        password: true,
        token: token.clone(),
        ..EnrolView::default()
    };
    if !form_token_ok(&headers, field(&form, "csrf_token")) {
        view.problems
            .push("表单已过期，请重新输入后提交。The form expired; enter your password again.".to_owned());
        return enrol_page(StatusCode::FORBIDDEN, view);
    }
    let (first, second) = (field(&form, "password"), field(&form, "password_again"));
    if first != second {
        view.problems
            .push("password_again：两次输入的密码不一致。The passwords differ.".to_owned());
        return enrol_page(StatusCode::UNPROCESSABLE_ENTITY, view);
    }
    match state.accounts.start_enrolment(&token, first).await {
        Ok(setup) => {
            let qr = qrcode::QrCode::new(setup.uri.as_bytes())
                .map(|code| {
                    code.render::<qrcode::render::svg::Color<'_>>()
                        .min_dimensions(200, 200)
                        .build()
                })
                .unwrap_or_default();
            enrol_page(
                StatusCode::OK,
                EnrolView {
                    authenticator: true,
                    token,
                    account: setup.account,
                    secret: setup.secret,
                    qr,
                    ..EnrolView::default()
                },
            )
        }
        Err(err) => {
            view.problems = problems_or_page(err)?;
            enrol_page(StatusCode::UNPROCESSABLE_ENTITY, view)
        }
    }
}

/// Step two sent: a code from the authenticator activates the account.
pub(super) async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let token = field(&form, "token").to_owned();
    if !form_token_ok(&headers, field(&form, "csrf_token")) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "表单已过期：请重新打开启用链接。The form expired: open the enrolment link again.",
        )
        .into());
    }
    match state
        .accounts
        .confirm_enrolment(&token, field(&form, "code").trim())
        .await
    {
        Ok(account) => {
            let mut response = render(
                StatusCode::OK,
                "enrol",
                &EnrolView {
                    done: true,
                    account,
                    ..EnrolView::default()
                },
            );
            response
                .headers_mut()
                .append(header::SET_COOKIE, form_token_used(PATH));
            Ok(response)
        }
        Err(err) => {
            // A wrong code: the same authenticator step again (the secret is already set).
            let problems = problems_or_page(err)?;
            enrol_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                EnrolView {
                    authenticator: true,
                    token,
                    account: field(&form, "account").to_owned(),
                    secret: field(&form, "secret").to_owned(),
                    problems,
                    ..EnrolView::default()
                },
            )
        }
    }
}
