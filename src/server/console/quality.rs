//! 数据质量队列: the records refused at intake whose systems the caller sees, filtered by system
//! and status and paginated, each with its reasons; an item's page (the record masked, the read
//! audited) and the form that dismisses an open item with a reason. The listing, the read and
//! the dismissal are the API's and the command line's own calls (`server/quality.rs`,
//! `Store::dismiss_quality_item`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::super::{ApiError, AppState, Authorized};
use super::view::{self, Choice, Chrome, Pager};
use super::{PageError, render, see_other};
use crate::store::{DismissError, Guarded, QualityReason, QualityStatus};

/// Rows per page of the queue.
const PAGE_ROWS: usize = 50;
/// The most items one listing reads (the API's largest limit).
const READ_AT_MOST: i64 = 1000;

/// A status as people here read it.
fn label(status: QualityStatus) -> &'static str {
    match status {
        QualityStatus::Open => "待处理",
        QualityStatus::Dismissed => "已忽略",
        QualityStatus::Resolved => "已解决",
    }
}

/// A reason as one line: the field it concerns, then what is wrong (masked by the store).
fn reason_line(reason: QualityReason) -> String {
    match reason.field {
        Some(field) => format!("{field}：{}", reason.message),
        None => reason.message,
    }
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    system: Option<String>,
    /// `open` (the default), `dismissed` or `resolved`.
    status: Option<String>,
    page: Option<usize>,
    /// The item just dismissed (after the form's redirect).
    dismissed: Option<i64>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    systems: Vec<Choice>,
    statuses: Vec<Choice>,
    status: &'static str,
    dismissed: Option<i64>,
    rows: Vec<Row>,
    total: String,
    pager: Pager,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    system_id: String,
    case_no: String,
    version: String,
    channel: String,
    received_at: String,
    reasons: Vec<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let system = view::chosen(query.system.as_deref()).to_owned();
    let status = match view::chosen(query.status.as_deref()) {
        "" => QualityStatus::Open,
        name => QualityStatus::parse(name).ok_or_else(|| view::bad_filter("status", name))?,
    };
    let items = super::super::quality::visible(
        &state,
        &auth,
        (!system.is_empty()).then_some(system.as_str()),
        Some(status),
        READ_AT_MOST,
    )
    .await?;
    let capped = items.len() as i64 >= READ_AT_MOST;
    let total = if capped {
        format!("{}+", items.len())
    } else {
        items.len().to_string()
    };
    let filters = [("system", system.as_str()), ("status", status.name())];
    let (items, pager) = view::paginate(items, query.page, PAGE_ROWS, "/monitoring/quality", &filters);
    let view = ListView {
        chrome: Chrome::new(&auth, &headers, "/monitoring", "数据质量队列"),
        systems: view::system_choices(&state, &auth, &system).await?,
        statuses: [
            QualityStatus::Open,
            QualityStatus::Dismissed,
            QualityStatus::Resolved,
        ]
        .iter()
        .map(|s| Choice {
            value: s.name().to_owned(),
            label: label(*s).to_owned(),
            selected: *s == status,
        })
        .collect(),
        status: label(status),
        dismissed: query.dismissed,
        rows: items
            .into_iter()
            .map(|i| Row {
                id: i.id,
                system_id: i.system_id,
                case_no: i.case_no.unwrap_or_else(|| "—".to_owned()),
                version: i.version.map_or_else(|| "—".to_owned(), |v| v.to_string()),
                channel: i.channel,
                received_at: view::beijing(&i.received_at),
                reasons: i.reasons.into_iter().map(reason_line).collect(),
            })
            .collect(),
        total,
        pager,
    };
    Ok(render(StatusCode::OK, "quality", &view))
}

#[derive(Serialize)]
struct ItemView {
    chrome: Chrome,
    id: i64,
    system_id: String,
    case_no: String,
    version: String,
    channel: String,
    mapping_version: String,
    received_at: String,
    status: String,
    open: bool,
    closed_at: String,
    note: String,
    reasons: Vec<String>,
    /// The record as received, its personal values masked.
    record: String,
    /// The dismissal form, for those who may dismiss an open item.
    dismiss: Option<DismissView>,
}

#[derive(Serialize)]
struct DismissView {
    reason: String,
    /// Why the last submission was refused, naming the field.
    problem: Option<String>,
}

/// An item's id from the path: anything but a number is an item that does not exist.
fn item_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no quality item {id:?}")))
}

/// The item's page; `refused` is the dismissal just refused (what was typed, and why).
async fn item_page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    id: i64,
    refused: Option<(String, String)>,
) -> Result<Response, PageError> {
    let item = super::super::quality::read(state, &auth.principal.actor, id, None).await?;
    let open = item.status == QualityStatus::Open;
    let may_dismiss = view::may_open(&auth.principal, "POST", "/monitoring/quality/{id}/dismiss");
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = ItemView {
        chrome: Chrome::new(auth, headers, "/monitoring", &format!("数据质量问题 {id}")),
        id: item.id,
        case_no: item.case_no.unwrap_or_else(|| "—".to_owned()),
        version: item.version.map_or_else(|| "—".to_owned(), |v| v.to_string()),
        mapping_version: item.mapping_version.unwrap_or_else(|| "—".to_owned()),
        received_at: view::beijing(&item.received_at),
        status: label(item.status).to_owned(),
        closed_at: view::beijing_or_dash(item.resolved_at.as_ref()),
        note: item.note.unwrap_or_else(|| "—".to_owned()),
        reasons: item.reasons.into_iter().map(reason_line).collect(),
        record: serde_json::to_string_pretty(&item.record).unwrap_or_default(),
        dismiss: (open && may_dismiss).then(|| match refused {
            Some((reason, problem)) => DismissView {
                reason,
                problem: Some(problem),
            },
            None => DismissView {
                reason: String::new(),
                problem: None,
            },
        }),
        system_id: item.system_id,
        channel: item.channel,
        open,
    };
    Ok(render(status, "quality_item", &view))
}

pub(super) async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    item_page(&state, &auth, &headers, item_id(&id)?, None).await
}

#[derive(Deserialize)]
pub(super) struct DismissForm {
    reason: Option<String>,
}

/// Dismisses the item with the form's reason, then back to the queue (303). Without a reason,
/// the item's page again (422) with the form and the field named; nothing changes.
pub(super) async fn dismiss(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<DismissForm>,
) -> Result<Response, PageError> {
    let id = item_id(&id)?;
    let reason = form.reason.unwrap_or_default();
    match state
        .store
        .dismiss_quality_item(id, &reason, &auth.principal.actor)
        .await
    {
        Ok(_) => {
            tracing::info!(quality_item = id, actor = %auth.principal.actor, "quality item dismissed");
            Ok(see_other(&format!("/monitoring/quality?dismissed={id}")))
        }
        Err(Guarded::Refused(DismissError::NoReason)) => {
            let problem = "请填写“忽略原因”（reason）：忽略一条问题须说明理由，它将记入审计日志。".to_owned();
            item_page(&state, &auth, &headers, id, Some((reason, problem))).await
        }
        Err(err) => Err(err.into()),
    }
}
