//! 审计: the hash-chained audit log (Art. 21, 32) for auditors, filtered by actor, action,
//! target and date range exactly as `GET /api/v1/audit` filters it (`server/audit.rs::filter_of`,
//! then `Store::audit_events`), 50 events a page by seq; and the chain check of
//! `GET /api/v1/audit/verify` (`server/audit.rs::verification`) with its result.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::super::audit::{AuditQuery, Verification, filter_of, verification};
use super::super::{AppState, Authorized};
use super::view::{self, Chrome};
use super::{PageError, render};

/// Events per page.
const PAGE_ROWS: usize = 50;

#[derive(Serialize)]
struct AuditView {
    chrome: Chrome,
    actor: String,
    action: String,
    target: String,
    since: String,
    until: String,
    /// Why the filters were refused, naming the field.
    problem: Option<String>,
    rows: Vec<EventRow>,
    /// Back to the first page, when this is a later one.
    first: Option<String>,
    next: Option<String>,
    /// The chain check just run.
    check: Option<CheckView>,
}

#[derive(Serialize)]
struct EventRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
    context: String,
}

#[derive(Serialize)]
struct CheckView {
    intact: bool,
    text: String,
}

/// A filter's text, empty when none.
fn text(value: Option<&String>) -> String {
    value.cloned().unwrap_or_default()
}

/// The query with the form's empty fields as "any".
fn without_blanks(q: AuditQuery) -> AuditQuery {
    let some = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    AuditQuery {
        actor: some(q.actor),
        action: some(q.action),
        target: some(q.target),
        since: some(q.since),
        until: some(q.until),
        after_seq: q.after_seq,
        limit: None,
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    log_page(&state, &auth, &headers, query, None).await
}

/// Runs the chain check, then shows its result above the log's first page.
pub(super) async fn verify(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let checked = verification(&state).await?;
    log_page(&state, &auth, &headers, AuditQuery::default(), Some(checked)).await
}

async fn log_page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    query: AuditQuery,
    checked: Option<Verification>,
) -> Result<Response, PageError> {
    let query = without_blanks(query);
    let shown = [
        ("actor", text(query.actor.as_ref())),
        ("action", text(query.action.as_ref())),
        ("target", text(query.target.as_ref())),
        ("since", text(query.since.as_ref())),
        ("until", text(query.until.as_ref())),
    ];
    let later_page = query.after_seq.is_some();
    let mut filter = filter_of(query);
    // One more than a page: whether there is a next one.
    if let Ok(filter) = &mut filter {
        filter.limit = u32::try_from(PAGE_ROWS + 1).ok();
    }
    let (mut events, problem, status) = match filter {
        Ok(filter) => (state.store.audit_events(&filter).await?, None, StatusCode::OK),
        Err(err) if err.status == StatusCode::BAD_REQUEST => (
            Vec::new(),
            Some(format!(
                "{}：{}。请填写日期，如 2026-12-06。",
                err.field.as_deref().unwrap_or("query"),
                err.message
            )),
            StatusCode::BAD_REQUEST,
        ),
        Err(err) => return Err(err.into()),
    };
    let more = events.len() > PAGE_ROWS;
    events.truncate(PAGE_ROWS);
    let pairs: Vec<(&str, &str)> = shown.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let next = match events.last() {
        Some(last) if more => {
            let after = last.seq.to_string();
            let mut with_after = pairs.clone();
            with_after.push(("after_seq", &after));
            Some(view::filtered_link("/audit", &with_after))
        }
        _ => None,
    };
    let first = later_page.then(|| view::filtered_link("/audit", &pairs));
    let [actor, action, target, since, until] = shown.map(|(_, v)| v);
    // A date picker holds a date only (the API takes instants too; the problem names them).
    let day = |v: String| {
        if v.parse::<chrono::NaiveDate>().is_ok() {
            v
        } else {
            String::new()
        }
    };
    let (since, until) = (day(since), day(until));
    let view = AuditView {
        chrome: Chrome::new(auth, headers, "/audit", "审计日志"),
        first,
        next,
        rows: events
            .into_iter()
            .map(|e| EventRow {
                seq: e.seq,
                at: view::beijing(&e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: if e.detail.is_null() {
                    String::new()
                } else {
                    e.detail.to_string()
                },
                context: [
                    e.context.role.as_deref(),
                    e.context.scope.as_deref(),
                    e.context.client_addr.as_deref(),
                ]
                .into_iter()
                .flatten()
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            })
            .collect(),
        check: checked.map(|v| CheckView {
            intact: v.intact,
            text: if v.intact {
                format!(
                    "审计链完整：已逐条校验 {} 条事件的哈希与链接，未发现篡改、缺失或乱序。",
                    v.events.unwrap_or_default()
                )
            } else {
                format!(
                    "审计链断裂：{}。请立即保全数据库并报告安全负责人。",
                    v.message.unwrap_or_default()
                )
            },
        }),
        actor,
        action,
        target,
        since,
        until,
        problem,
    };
    Ok(render(status, "audit", &view))
}
