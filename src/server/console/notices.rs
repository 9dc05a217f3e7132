//! 公告与规则: the change notices (Art. 16, 29, 30) as `GET /api/v1/notices` lists them, with
//! the publishing form for those `POST /api/v1/notices` allows — the earliest allowed effective
//! date of each kind shown before sending (`NoticeKind::earliest_effective`, which the check
//! uses), a refusal shown on the form with the fields named — and the published collection
//! rules (`GET /api/v1/rules`). Publishing is the API's own call (`server/notices.rs::publish`).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::super::{ApiError, AppState, Authorized};
use super::view::{self, Choice, Chrome, Pager};
use super::{PageError, render, see_other};
use crate::notices::{NewNotice, NoticeKind};
use crate::rules::Check;

/// Rows per page of the lists.
const PAGE_ROWS: usize = 50;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    system: Option<String>,
    page: Option<usize>,
    /// The notice just published (after the form's redirect).
    published: Option<i64>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    systems: Vec<Choice>,
    published: Option<i64>,
    rows: Vec<Row>,
    total: usize,
    pager: Pager,
    today: String,
    periods: Vec<Period>,
    /// The publishing form, for those who may publish.
    publish: Option<PublishView>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    system_id: String,
    kind: String,
    basis: String,
    title: String,
    body: String,
    published_on: String,
    effective_on: String,
    earliest_allowed_on: String,
    emergency_reason: Option<String>,
    announced_by: String,
}

/// A kind's notice period, and the earliest effective date of a notice published today.
#[derive(Serialize)]
struct Period {
    kind: &'static str,
    basis: &'static str,
    days: u32,
    earliest: String,
    emergency: bool,
}

#[derive(Serialize)]
struct PublishView {
    systems: Vec<Choice>,
    kinds: Vec<Choice>,
    title: String,
    body: String,
    effective_on: String,
    emergency_reason: String,
    /// Why the last submission was refused, one line a field.
    problems: Vec<String>,
    system_invalid: bool,
    kind_invalid: bool,
    title_invalid: bool,
    effective_on_invalid: bool,
    emergency_invalid: bool,
}

/// A publishing form as sent: the values typed, to show again with what was wrong.
#[derive(Default)]
struct Sent {
    system_id: String,
    kind: String,
    title: String,
    body: String,
    effective_on: String,
    emergency_reason: String,
    problems: Vec<String>,
    /// The fields the problems name.
    fields: Vec<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    notices_page(&state, &auth, &headers, query, Sent::default(), StatusCode::OK).await
}

async fn notices_page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    query: ListQuery,
    sent: Sent,
    status: StatusCode,
) -> Result<Response, PageError> {
    let system = view::chosen(query.system.as_deref()).to_owned();
    let notices = state.store.list_notices(None, None).await?;
    let mut ids: Vec<String> = notices.iter().map(|n| n.system_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let systems = ids
        .into_iter()
        .map(|id| Choice {
            selected: id == system,
            label: id.clone(),
            value: id,
        })
        .collect();
    let notices: Vec<_> = notices
        .into_iter()
        .filter(|n| system.is_empty() || n.system_id == system)
        .collect();
    let total = notices.len();
    let filters = [("system", system.as_str())];
    let (notices, pager) = view::paginate(notices, query.page, PAGE_ROWS, "/notices", &filters);
    let today = crate::calendar::today();
    let publish = match view::as_route(auth, "POST", "/notices") {
        Some(publisher) => Some(publish_form(state, &publisher, sent).await?),
        None => None,
    };
    let view = ListView {
        chrome: Chrome::new(auth, headers, "/notices", "公告与规则"),
        systems,
        published: query.published,
        rows: notices
            .into_iter()
            .map(|n| Row {
                id: n.id,
                kind: n.kind_label,
                basis: n.basis,
                title: n.title,
                body: n.body,
                published_on: n.published_on.to_string(),
                effective_on: n.effective_on.to_string(),
                earliest_allowed_on: n.earliest_allowed_on.to_string(),
                emergency_reason: n.emergency_reason,
                announced_by: n.announced_by,
                system_id: n.system_id,
            })
            .collect(),
        total,
        pager,
        today: today.to_string(),
        periods: NoticeKind::ALL
            .iter()
            .map(|kind| Period {
                kind: kind.label(),
                basis: kind.basis(),
                days: kind.notice_working_days(),
                earliest: kind.earliest_effective(&state.calendar, today).map_or_else(
                    |_| "—（缺少该年度工作日历，请运维人员配置 calendar_override）".to_owned(),
                    |d| d.to_string(),
                ),
                emergency: kind.allows_emergency(),
            })
            .collect(),
        publish,
    };
    Ok(render(status, "notices", &view))
}

/// The publishing form: the systems the publisher's grants cover, the kinds, what was sent.
async fn publish_form(state: &AppState, publisher: &Authorized, sent: Sent) -> Result<PublishView, ApiError> {
    let invalid = |field: &str| sent.fields.iter().any(|f| f == field);
    Ok(PublishView {
        systems: view::system_choices(state, publisher, &sent.system_id).await?,
        kinds: NoticeKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.name().to_owned(),
                label: format!(
                    "{}（{}，提前 {} 个工作日）",
                    k.label(),
                    k.basis(),
                    k.notice_working_days()
                ),
                selected: k.name() == sent.kind,
            })
            .collect(),
        system_invalid: invalid("system_id"),
        kind_invalid: invalid("kind"),
        title_invalid: invalid("title"),
        effective_on_invalid: invalid("effective_on") || invalid("published_on"),
        emergency_invalid: invalid("emergency_reason"),
        title: sent.title,
        body: sent.body,
        effective_on: sent.effective_on,
        emergency_reason: sent.emergency_reason,
        problems: sent.problems,
    })
}

/// Publishes the form's notice (the API's call), then the list with it (303). A refusal — a
/// date earlier than the notice period allows, a missing title — shows the form again (422)
/// with what was typed and the fields named; nothing is written.
pub(super) async fn publish(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| view::form_field(&form, name).trim().to_owned();
    let mut sent = Sent {
        system_id: field("system_id"),
        kind: field("kind"),
        title: field("title"),
        body: field("body"),
        effective_on: field("effective_on"),
        emergency_reason: field("emergency_reason"),
        ..Sent::default()
    };
    let mut problems = Vec::new();
    if sent.system_id.is_empty() {
        problems.push("system_id：请选择发布公告的系统".to_owned());
    }
    let kind = NoticeKind::parse(&sent.kind);
    if kind.is_none() {
        problems.push("kind：请选择变更类型".to_owned());
    }
    let effective_on = view::date_field(&form, "effective_on", &mut problems);
    if effective_on.is_none() && sent.effective_on.is_empty() {
        problems.push("effective_on：请填写生效日期".to_owned());
    }
    let refused = match (kind, effective_on) {
        (Some(kind), Some(effective_on)) if problems.is_empty() => {
            let new = NewNotice {
                system_id: sent.system_id.clone(),
                kind,
                title: sent.title.clone(),
                body: sent.body.clone(),
                published_on: None,
                effective_on,
                emergency_reason: Some(sent.emergency_reason.clone()).filter(|r| !r.is_empty()),
            };
            match super::super::notices::publish(&state, &auth, &new).await {
                Ok(notice) => return Ok(see_other(&format!("/notices?published={}", notice.id))),
                Err(err) if err.status == StatusCode::UNPROCESSABLE_ENTITY => {
                    let fields = err.issues.iter().map(|i| i.field.clone()).collect();
                    (view::problems_of(&err), fields)
                }
                Err(err) => return Err(err.into()),
            }
        }
        _ => {
            let fields = problems
                .iter()
                .filter_map(|p| p.split_once('：').map(|(f, _)| f.to_owned()))
                .collect();
            (problems, fields)
        }
    };
    (sent.problems, sent.fields) = refused;
    let query = ListQuery {
        system: None,
        page: None,
        published: None,
    };
    notices_page(
        &state,
        &auth,
        &headers,
        query,
        sent,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct RulesQuery {
    /// Only the rules binding this 实施编码 (with those for every item), as the API filters.
    item_code: Option<String>,
    page: Option<usize>,
}

#[derive(Serialize)]
struct RulesView {
    chrome: Chrome,
    item_code: String,
    rows: Vec<RuleRow>,
    total: usize,
    pager: Pager,
}

#[derive(Serialize)]
struct RuleRow {
    id: i64,
    item_code: String,
    field: String,
    check: String,
    description: String,
    published_on: String,
}

/// What a rule checks, in words.
fn check_words(check: &Check) -> String {
    match check {
        Check::Required => "必填（新增采集项）".to_owned(),
        Check::MaxLength { max } => format!("至多 {max} 个字"),
        Check::OneOf { values } => format!("取值之一：{}", values.join("、")),
        Check::Pattern { regex } => format!("须符合格式 {regex}"),
    }
}

pub(super) async fn rules(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<RulesQuery>,
) -> Result<Response, PageError> {
    let item_code = view::chosen(query.item_code.as_deref()).to_owned();
    let rules = state
        .store
        .list_rules((!item_code.is_empty()).then_some(item_code.as_str()))
        .await?;
    let total = rules.len();
    let filters = [("item_code", item_code.as_str())];
    let (rules, pager) = view::paginate(rules, query.page, PAGE_ROWS, "/rules", &filters);
    let view = RulesView {
        chrome: Chrome::new(&auth, &headers, "/notices", "采集规则"),
        rows: rules
            .into_iter()
            .map(|r| RuleRow {
                id: r.id,
                item_code: if r.item_code == "*" {
                    "全部事项".to_owned()
                } else {
                    r.item_code
                },
                field: r.field,
                check: check_words(&r.check),
                description: r.description,
                published_on: r.published_on.to_string(),
            })
            .collect(),
        item_code,
        total,
        pager,
    };
    Ok(render(StatusCode::OK, "rules", &view))
}
