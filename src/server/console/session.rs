//! Signing in and out in the browser: the sign-in form (account, password and the
//! authenticator's code; or a passkey, through the script and the API's passkey routes), the
//! form-borne CSRF token, and sign-out.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::super::auth::{cookie, session_cookies, signed_out_cookies};
use super::super::{ApiError, AppState, Authorized};
use super::view::SignInView;
use super::{PageError, protect, render};
use crate::accounts::AccountError;

/// The cookie that carries a signed-in browser's CSRF token to the pages, which put it in
/// every form; the authorization layer checks the form's copy against the session.
pub(in crate::server) const CSRF_COOKIE: &str = "ronghe_csrf";
/// The CSRF token of the forms a browser fills before it has a session — sign-in and
/// enrolment — (double submit: the cookie, scoped to the form's path, and the field must
/// agree), so that no other site can sign a browser in to an account of its choosing.
const FORM_COOKIE: &str = "ronghe_form";
/// The largest form the console takes: its forms are a few fields.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The `csrf_token` field of a form request, and the request to hand on (its body read once
/// and put back). Other requests go on untouched, with `None`.
pub(in crate::server) async fn csrf_field(request: Request) -> Result<(Option<String>, Request), Response> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, request));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
        super::refusal(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("表单过大（上限 {MAX_FORM_BYTES} 字节）the form is larger than {MAX_FORM_BYTES} bytes"),
        ))
    })?;
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value.into_owned());
    Ok((token, Request::from_parts(parts, axum::body::Body::from(bytes))))
}

#[derive(Deserialize)]
pub(super) struct FormQuery {
    next: Option<String>,
}

/// Where to go after signing in: a path on this site only (never another host), else the
/// overview.
fn local_target(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The sign-in form, with a fresh form token.
pub(super) async fn form(Query(query): Query<FormQuery>) -> Result<Response, PageError> {
    sign_in_page(StatusCode::OK, "", &local_target(query.next.as_deref()), None)
}

fn sign_in_page(
    status: StatusCode,
    account: &str,
    next: &str,
    problem: Option<String>,
) -> Result<Response, PageError> {
    let (token, form_cookie) = form_token("/sign-in")?;
    let mut response = render(
        status,
        "sign_in",
        &SignInView {
            account: account.to_owned(),
            next: next.to_owned(),
            csrf_token: token.clone(),
            problem,
        },
    );
    response.headers_mut().append(header::SET_COOKIE, form_cookie);
    Ok(response)
}

/// A fresh token for a form without a session at `path`: the value for its field, and the
/// cookie that carries its twin.
pub(super) fn form_token(path: &str) -> Result<(String, HeaderValue), PageError> {
    let token = crate::access::secret::random_secret().map_err(|err| {
        tracing::error!(error = %err, "no randomness for a form token");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    })?;
    let cookie = cookie(FORM_COOKIE, &token, path, 600);
    Ok((token, cookie))
}

/// Whether a form without a session sent the token its cookie holds.
pub(super) fn form_token_ok(headers: &HeaderMap, sent: &str) -> bool {
    let expected = super::super::auth::cookie_value(headers, FORM_COOKIE).unwrap_or_default();
    !expected.is_empty() && crate::access::secret::same_hash(&expected, sent)
}

/// The cookie that drops a used form token.
pub(super) fn form_token_used(path: &str) -> HeaderValue {
    cookie(FORM_COOKIE, "", path, 0)
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    account: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    next: Option<String>,
}

/// Signs in with password and the authenticator's code; on success the session and CSRF
/// cookies and a redirect to where the person was going, else the form again with the reason.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    connect: Option<axum::extract::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let next = local_target(form.next.as_deref());
    if !form_token_ok(&headers, &form.csrf_token) {
        return sign_in_page(
            StatusCode::FORBIDDEN,
            &form.account,
            &next,
            Some("登录表单已过期，请重新输入后提交。The form expired; enter your details again.".to_owned()),
        );
    }
    let missing: Vec<&str> = [
        ("账号 account", &form.account),
        ("密码 password", &form.password),
        ("动态口令 code", &form.code),
    ]
    .iter()
    .filter(|(_, value)| value.trim().is_empty())
    .map(|(label, _)| *label)
    .collect();
    if !missing.is_empty() {
        return sign_in_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.account,
            &next,
            Some(format!("请填写：{}", missing.join("、"))),
        );
    }
    let client = connect.map(|c| c.0.0.ip().to_string());
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match state
        .accounts
        .sign_in(
            form.account.trim(),
            &form.password,
            form.code.trim(),
            client,
            agent,
        )
        .await
    {
        Ok(signed) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::LOCATION,
                HeaderValue::from_str(&next).unwrap_or(HeaderValue::from_static("/")),
            );
            for value in session_cookies(&signed)? {
                headers.append(header::SET_COOKIE, value);
            }
            headers.append(header::SET_COOKIE, form_token_used("/sign-in"));
            protect(headers);
            Ok(response)
        }
        Err(err @ (AccountError::SignInFailed | AccountError::Locked(_))) => {
            let status = ApiError::from(err).status;
            let problem = if status == StatusCode::TOO_MANY_REQUESTS {
                "尝试次数过多，账号已暂时锁定，请稍后再试。Too many attempts: the account is locked for a while."
            } else {
                "账号、密码或动态口令不正确。The account, password or code is wrong."
            };
            sign_in_page(status, &form.account, &next, Some(problem.to_owned()))
        }
        Err(err) => Err(err.into()),
    }
}

/// Ends this session and clears the cookies.
pub(super) async fn sign_out(State(state): State<AppState>, auth: Authorized) -> Result<Response, PageError> {
    state.accounts.sign_out(&auth.principal, false).await?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/sign-in"));
    for value in signed_out_cookies() {
        headers.append(header::SET_COOKIE, value);
    }
    protect(headers);
    Ok(response)
}

/// The view's CSRF token: the cookie the sign-in set (empty when the browser has none, and
/// its forms are then refused).
pub(super) fn csrf_of(headers: &HeaderMap) -> String {
    super::super::auth::cookie_value(headers, CSRF_COOKIE).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::local_target;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_target(Some("/systems?status=live")), "/systems?status=live");
        for foreign in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_target(Some(foreign)), "/", "{foreign:?}");
        }
        assert_eq!(local_target(None), "/");
    }
}
