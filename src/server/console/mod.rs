//! The web console (issue 15): zh-CN pages for the platform's people, rendered on the server
//! from the handlebars templates in `templates/`, with one style sheet and one small script in
//! `assets/` (no inline script; the pages work without the script).
//!
//! Every page is a row of the one policy table (`Surface::Console`): the authorization layer
//! (`server/auth.rs`) resolves the caller from the session cookie as for the API, sends a
//! browser without a session to the sign-in form, answers refusals with a page
//! ([`refusal`]), and takes a form's CSRF token from its `csrf_token` field. Handlers build a
//! view (`view.rs`) of plain strings and render it with [`render`]; what a section shows is
//! filtered to the caller's roles and scope the same way the API filters it.

mod accounts;
mod assessments;
mod assets;
mod audit;
mod enrol;
mod exchange;
mod me;
mod monitoring;
mod notices;
mod orgs;
mod overview;
mod plans;
mod quality;
mod session;
mod systems;
mod view;
mod visits;

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use handlebars::Handlebars;
use serde::Serialize;

use super::{ApiError, AppState};

pub(super) use session::{CSRF_COOKIE, csrf_field};

/// The console's routes; each has its row in the policy table.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/sign-in", get(session::form).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/enrol", get(enrol::form).post(enrol::password))
        .route("/enrol/confirm", post(enrol::confirm))
        .route("/me", get(me::page))
        .route("/systems", get(systems::list))
        .route("/systems/{id}", get(systems::show))
        .route("/assessments", get(assessments::list))
        .route("/assessments/{id}", get(assessments::show))
        .route("/assessments/{id}/conflicts", post(assessments::declare))
        .route("/assessments/{id}/scores", post(assessments::score))
        .route("/assessments/{id}/close", post(assessments::close))
        .route("/assessments/{id}/verdict", post(assessments::verdict))
        .route("/assessments/{id}/report", get(assessments::report))
        .route("/plans", get(plans::portfolio))
        .route("/plans/{system}", get(plans::show))
        .route("/plans/{system}/milestones/{milestone}", post(plans::progress))
        .route("/plans/{system}/baseline", post(plans::baseline))
        .route("/plans/{system}/report", get(plans::report))
        .route("/monitoring", get(monitoring::overview))
        .route("/monitoring/quality", get(quality::list))
        .route("/monitoring/quality/{id}", get(quality::show))
        .route("/monitoring/quality/{id}/dismiss", post(quality::dismiss))
        .route("/monitoring/exchange", get(exchange::page))
        .route("/monitoring/exchange/replay", post(exchange::replay))
        .route("/monitoring/corrections", get(monitoring::corrections))
        .route("/monitoring/reconciliations", get(monitoring::reconciliations))
        .route("/monitoring/spot-check", get(monitoring::spot_check))
        .route("/monitoring/visits", get(visits::list))
        .route("/monitoring/visits/{id}", get(visits::show))
        .route("/monitoring/visits/{id}/reveal", post(visits::reveal))
        .route("/monitoring/visits/{id}/outcome", post(visits::record))
        .route("/notices", get(notices::list).post(notices::publish))
        .route("/rules", get(notices::rules))
        .route("/orgs", get(orgs::list).post(orgs::import))
        .route("/accounts", get(accounts::list))
        .route("/accounts/{id}", get(accounts::show))
        .route("/accounts/{id}/status", post(accounts::set_status))
        .route("/accounts/{id}/grants", post(accounts::grant))
        .route("/accounts/{id}/grants/revoke", post(accounts::revoke))
        .route("/accounts/{id}/enrolment", post(accounts::reenrol))
        .route("/audit", get(audit::page))
        .route("/audit/verify", get(audit::verify))
        .route("/assets/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
}

/// The templates, compiled once. Strict mode: a template naming a value the view lacks fails
/// to render (tested for every page) instead of printing nothing.
static TEMPLATES: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut engine = Handlebars::new();
    engine.set_strict_mode(true);
    for (name, text) in [
        ("layout", include_str!("templates/layout.hbs")),
        ("pager", include_str!("templates/pager.hbs")),
        ("sign_in", include_str!("templates/sign_in.hbs")),
        ("overview", include_str!("templates/overview.hbs")),
        ("systems", include_str!("templates/systems.hbs")),
        ("system", include_str!("templates/system.hbs")),
        ("me", include_str!("templates/me.hbs")),
        ("assessments", include_str!("templates/assessments.hbs")),
        ("assessment", include_str!("templates/assessment.hbs")),
        ("plans", include_str!("templates/plans.hbs")),
        ("plan", include_str!("templates/plan.hbs")),
        ("monitoring", include_str!("templates/monitoring.hbs")),
        ("quality", include_str!("templates/quality.hbs")),
        ("quality_item", include_str!("templates/quality_item.hbs")),
        ("exchange", include_str!("templates/exchange.hbs")),
        ("corrections", include_str!("templates/corrections.hbs")),
        ("reconciliations", include_str!("templates/reconciliations.hbs")),
        ("spot_check", include_str!("templates/spot_check.hbs")),
        ("visits", include_str!("templates/visits.hbs")),
        ("visit", include_str!("templates/visit.hbs")),
        ("notices", include_str!("templates/notices.hbs")),
        ("rules", include_str!("templates/rules.hbs")),
        ("orgs", include_str!("templates/orgs.hbs")),
        ("accounts", include_str!("templates/accounts.hbs")),
        ("account", include_str!("templates/account.hbs")),
        ("audit", include_str!("templates/audit.hbs")),
        ("error", include_str!("templates/error.hbs")),
        ("enrol", include_str!("templates/enrol.hbs")),
    ] {
        if let Err(err) = engine.register_template_string(name, text) {
            panic!("console template {name} does not compile: {err}");
        }
    }
    engine
});

/// The Content-Security-Policy of every console answer: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every console answer carries.
fn protect(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

/// A page: `template` rendered with `view`, with the console's headers; never cached, since
/// every page shows what one person may see.
pub(super) fn render(status: StatusCode, template: &str, view: &impl Serialize) -> Response {
    match TEMPLATES.render(template, view) {
        Ok(html) => {
            let mut response = (status, html).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            protect(headers);
            response
        }
        Err(err) => {
            tracing::error!(template, error = %err, "console page does not render");
            let mut response = (StatusCode::INTERNAL_SERVER_ERROR, "内部错误 internal error").into_response();
            protect(response.headers_mut());
            response
        }
    }
}

/// A whole document made elsewhere (the assessment report): its own `<style>` blocks are
/// allowed by their SHA-256 in the Content-Security-Policy, nothing else inline.
pub(super) fn document(html: String) -> Response {
    use base64::Engine as _;
    use sha2::Digest as _;
    let mut hashes = Vec::new();
    let mut rest = html.as_str();
    while let Some(start) = rest.find("<style>") {
        let body = &rest[start + "<style>".len()..];
        let Some(end) = body.find("</style>") else {
            break;
        };
        let digest = sha2::Sha256::digest(&body.as_bytes()[..end]);
        hashes.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[end..];
    }
    let csp = format!(
        "default-src 'none'; style-src {}; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        if hashes.is_empty() {
            "'none'".to_owned()
        } else {
            hashes.join(" ")
        }
    );
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    protect(headers);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// A refusal or failure as a page: what happened and what to do next, in Chinese, with the
/// stable code for support. The authorization layer and every console handler answer this way.
pub(super) fn refusal(err: ApiError) -> Response {
    render(err.status, "error", &view::Failure::of(&err))
}

/// What a console handler returns on failure: any error the API would answer, shown as a page.
pub(super) struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(err: E) -> PageError {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        refusal(self.0)
    }
}

/// The answer to a form that changed something: 303 to the page that shows the result
/// (post-redirect-get), so that reloading does not submit the form again.
pub(super) fn see_other(target: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(target) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    protect(response.headers_mut());
    response
}

/// Where a browser without a session goes: the sign-in form, then back to `path`.
pub(super) fn to_sign_in(path_and_query: &str) -> Response {
    let target = format!(
        "/sign-in?next={}",
        url::form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect::<String>()
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    protect(response.headers_mut());
    response
}
