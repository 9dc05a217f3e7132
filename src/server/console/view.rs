//! What the templates see: plain strings and numbers, formatted here (Beijing time, zh-CN
//! labels), so the templates hold no logic beyond `if` and `each`.

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::{ApiError, Authorized};
use crate::access::{Access, Principal, policy};

/// A time as people here read it: Beijing time, `2026-12-06 17:03`.
pub(super) fn beijing(at: &DateTime<Utc>) -> String {
    crate::calendar::beijing_time(at)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A day as people here read it: Beijing time, `2026-12-06`.
pub(super) fn beijing_date(at: &DateTime<Utc>) -> String {
    crate::calendar::beijing_time(at).format("%Y-%m-%d").to_string()
}

/// An optional time, or a dash.
pub(super) fn beijing_or_dash(at: Option<&DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), beijing)
}

/// The frame of every signed-in page: who is signed in, the navigation their roles open, and
/// the CSRF token for the forms on the page (sign-out included).
#[derive(Serialize)]
pub(super) struct Chrome {
    pub title: String,
    pub account: String,
    pub roles: String,
    pub csrf_token: String,
    pub nav: Vec<NavItem>,
}

#[derive(Serialize)]
pub(super) struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The console's sections, each shown to whoever may open its page (by the policy table).
const SECTIONS: &[(&str, &str)] = &[
    ("/", "总览"),
    ("/systems", "系统"),
    ("/assessments", "评估"),
    ("/plans", "计划"),
    ("/monitoring", "监测"),
    ("/notices", "公告与规则"),
    ("/orgs", "部门库"),
    ("/accounts", "账号"),
    ("/audit", "审计"),
    ("/me", "我的账号"),
];

/// Whether `principal` may open the page `path` (its policy row's roles).
pub(super) fn may_open(principal: &Principal, method: &str, path: &str) -> bool {
    match policy::lookup(method, path).map(|e| e.access) {
        Some(Access::Public(_)) => true,
        Some(Access::Signed { roles, .. }) => principal.holds_any(roles),
        None => false,
    }
}

impl Chrome {
    pub(super) fn new(auth: &Authorized, headers: &HeaderMap, current: &str, title: &str) -> Chrome {
        let principal = &auth.principal;
        let mut roles: Vec<String> = principal
            .grants
            .iter()
            .map(|g| format!("{}（{}）", g.role.label(), g.scope))
            .collect();
        roles.dedup();
        Chrome {
            title: title.to_owned(),
            account: principal.account().unwrap_or(&principal.actor).to_owned(),
            roles: roles.join("、"),
            csrf_token: super::session::csrf_of(headers),
            nav: SECTIONS
                .iter()
                .filter(|(href, _)| may_open(principal, "GET", href))
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: *href == current,
                })
                .collect(),
        }
    }
}

/// The caller as seen by another route's row: the same principal with that row's roles, so
/// that a section of a page is filtered exactly as the API route showing the same data is.
/// `None` when the caller holds none of them (the section is not shown).
pub(super) fn as_route(auth: &Authorized, method: &str, path: &str) -> Option<Authorized> {
    match policy::lookup(method, path)?.access {
        Access::Signed { roles, .. } if auth.principal.holds_any(roles) => Some(Authorized {
            principal: auth.principal.clone(),
            roles,
        }),
        _ => None,
    }
}

/// As [`as_route`], for a route whose row scopes it to one system: `None` also when the grants
/// of that row's roles do not cover `system` (a grant of another role may have opened the page).
pub(super) fn as_route_for(
    auth: &Authorized,
    method: &str,
    path: &str,
    system: &crate::systems::System,
) -> Option<Authorized> {
    as_route(auth, method, path).filter(|reader| reader.sees(system))
}

/// A section of a page shown to the roles of its API route (`None` for the others), with what
/// it holds — perhaps nothing yet, and then its template says what to do next.
#[derive(Serialize)]
pub(super) struct Section<T> {
    pub items: T,
}

/// An option of a filter's select.
#[derive(Serialize)]
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The ids of the systems the caller's row sees, as a filter's options (sorted, `chosen`
/// selected).
pub(super) async fn system_choices(
    state: &super::super::AppState,
    auth: &Authorized,
    chosen: &str,
) -> Result<Vec<Choice>, ApiError> {
    let mut systems: Vec<_> = state
        .store
        .list_systems(None)
        .await?
        .into_iter()
        .filter(|s| auth.sees(s))
        .collect();
    systems.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(systems
        .into_iter()
        .map(|s| Choice {
            selected: s.id == chosen,
            label: format!("{}（{}）", s.name, s.id),
            value: s.id,
        })
        .collect())
}

/// A filter's value: empty means "any".
pub(super) fn chosen(value: Option<&str>) -> &str {
    value.map_or("", str::trim)
}

/// A filter's value that is not one of its options: 400, naming the field.
pub(super) fn bad_filter(field: &str, value: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        format!("筛选条件 {field} 的取值 {value:?} 无效，请从下拉列表中选择。unknown {field} {value:?}"),
    )
    .with_field(field)
}

/// Where a list is among its pages: the page shown, how many there are, and the addresses of
/// the pages before and after it (with the list's filters). Templates show it with the `pager`
/// partial.
#[derive(Serialize)]
pub(super) struct Pager {
    pub page: usize,
    pub pages: usize,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// One page of `rows` (`per` a page, the page clamped to those there are) of the list at
/// `path` filtered by `filters`: the rows and the pager.
pub(super) fn paginate<T>(
    rows: Vec<T>,
    page: Option<usize>,
    per: usize,
    path: &str,
    filters: &[(&str, &str)],
) -> (Vec<T>, Pager) {
    let pages = rows.len().div_ceil(per).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let rows = rows.into_iter().skip((page - 1) * per).take(per).collect();
    let link = |page: usize| {
        let page = page.to_string();
        let mut pairs = filters.to_vec();
        pairs.push(("page", &page));
        filtered_link(path, &pairs)
    };
    let pager = Pager {
        page,
        pages,
        previous: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
    };
    (rows, pager)
}

/// A page's address with these query parameters (the empty ones left out).
pub(super) fn filtered_link(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if !value.is_empty() {
            url.append_pair(name, value);
        }
    }
    format!("{path}?{}", url.finish())
}

/// The sign-in form.
#[derive(Serialize)]
pub(super) struct SignInView {
    pub account: String,
    pub next: String,
    pub csrf_token: String,
    pub problem: Option<String>,
}

/// An error page: what happened, in Chinese and English, and what to do next.
#[derive(Serialize)]
pub(super) struct Failure {
    pub status: u16,
    pub title: &'static str,
    pub code: &'static str,
    pub message: String,
    pub hint: &'static str,
}

impl Failure {
    pub(super) fn of(err: &ApiError) -> Failure {
        let (title, hint) = match err.status {
            StatusCode::NOT_FOUND => ("未找到", "它不存在，或不在您的权限范围内。请从导航重新进入。"),
            StatusCode::FORBIDDEN => (
                "无权访问",
                "您的岗位角色或管辖范围不含此项。如需办理，请联系本级管理员授权。",
            ),
            StatusCode::UNAUTHORIZED => ("请先登录", "请登录后再试。"),
            StatusCode::TOO_MANY_REQUESTS => ("请求过于频繁", "请稍后再试。"),
            status if status.is_client_error() => ("请求有误", "请返回上一页，修改后再提交。"),
            _ => (
                "服务暂时不可用",
                "请稍后重试；如仍失败，请把错误代码告诉运维人员。",
            ),
        };
        Failure {
            status: err.status.as_u16(),
            title,
            code: err.code,
            message: err.message.clone(),
            hint,
        }
    }
}

/// The value of a form's field `name` as sent (empty when absent); callers trim what is not a
/// password.
pub(super) fn form_field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A form's date field: empty is none; otherwise `YYYY-MM-DD` (what `<input type=date>` sends),
/// else a problem naming the field.
pub(super) fn date_field(
    form: &[(String, String)],
    name: &str,
    problems: &mut Vec<String>,
) -> Option<chrono::NaiveDate> {
    let value = form_field(form, name).trim();
    if value.is_empty() {
        return None;
    }
    match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(day) => Some(day),
        Err(_) => {
            problems.push(format!("{name}：{value:?} 不是日期，请写成 2026-12-06 的形式"));
            None
        }
    }
}

/// A refusal's problems, one line each (`field：message`), to show on the form that was sent.
pub(super) fn problems_of(err: &ApiError) -> Vec<String> {
    if err.issues.is_empty() {
        vec![err.message.clone()]
    } else {
        err.issues
            .iter()
            .map(|i| format!("{}：{}", i.field, i.message))
            .collect()
    }
}

/// A role's stored name as people here read it (the name itself when this build has no such
/// role).
pub(super) fn role_label(name: &str) -> String {
    crate::access::Role::parse(name).map_or_else(|| name.to_owned(), |r| r.label().to_owned())
}
