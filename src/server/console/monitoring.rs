//! 监测 (Art. 15, 27, 28): the monitoring overview with a card for each page the caller may
//! open, the correction requests with their due dates (overdue ones marked), the daily
//! reconciliations per day and system, and the spot-check samples (卷宗抽查). The queues with
//! forms live in `quality.rs` and `exchange.rs`. Each list is the API's own
//! (`server/corrections.rs::visible`, `server/monitoring.rs::visible`, `monitoring::spot_check`),
//! filtered to the caller's scope.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Datelike as _, NaiveDate};
use serde::{Deserialize, Serialize};

use super::super::{AppState, Authorized};
use super::view::{self, Choice, Chrome, Pager};
use super::{PageError, render};
use crate::corrections::Status;
use crate::store::{QualityStatus, StoredReconciliation};

/// Rows per page of the corrections and reconciliations.
const PAGE_ROWS: usize = 50;
/// The most open quality items counted on the overview (the queue has them all).
const QUALITY_COUNTED: i64 = 1000;

#[derive(Serialize)]
struct OverviewView {
    chrome: Chrome,
    cards: Vec<Card>,
}

/// A monitoring page the caller may open: its figure and what it is for.
#[derive(Serialize)]
struct Card {
    href: &'static str,
    title: &'static str,
    figure: String,
    about: &'static str,
    alert: bool,
}

pub(super) async fn overview(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let mut cards = Vec::new();
    if let Some(reader) = view::as_route(&auth, "GET", "/monitoring/quality") {
        let open =
            super::super::quality::visible(&state, &reader, None, Some(QualityStatus::Open), QUALITY_COUNTED)
                .await?
                .len();
        let capped = open as i64 >= QUALITY_COUNTED;
        cards.push(Card {
            href: "/monitoring/quality",
            title: "数据质量队列",
            figure: format!("{open}{} 条待处理", if capped { "+" } else { "" }),
            about: "接入时被拒收的记录及原因；核实后忽略，或发起纠错。",
            alert: open > 0,
        });
    }
    if let Some(reader) = view::as_route(&auth, "GET", "/monitoring/exchange") {
        let dead = super::super::exchange::dead(&state, None).await?;
        let dead = reader.filter(&state, dead, |i| &i.system_id).await?.len();
        cards.push(Card {
            href: "/monitoring/exchange",
            title: "交换死信队列",
            figure: format!("{dead} 条死信"),
            about: "被省数据共享交换平台拒收或重试用尽的办件版本；修复后重放。",
            alert: dead > 0,
        });
    }
    if let Some(reader) = view::as_route(&auth, "GET", "/monitoring/corrections") {
        let today = crate::calendar::today();
        let open =
            super::super::corrections::visible(&state, &reader, Some(Status::Open), None, false, today)
                .await?;
        let overdue = open.iter().filter(|c| c.working_days_overdue > 0).count();
        cards.push(Card {
            href: "/monitoring/corrections",
            title: "校核纠错",
            figure: format!("{} 件待核实，{overdue} 件逾期", open.len()),
            about: "纠错单及其办理时限（10 个工作日）。",
            alert: overdue > 0,
        });
    }
    if let Some(reader) = view::as_route(&auth, "GET", "/monitoring/reconciliations") {
        let saved = super::super::monitoring::visible(&state, &reader, None, None).await?;
        let latest = saved.first().map(|r| r.date);
        let differing = saved
            .iter()
            .filter(|r| Some(r.date) == latest && !r.clean)
            .count();
        cards.push(Card {
            href: "/monitoring/reconciliations",
            title: "每日对账",
            figure: match latest {
                Some(day) => format!("{} 有差异 {differing} 个系统", day.format("%Y-%m-%d")),
                None => "尚无对账结果".to_owned(),
            },
            about: "平台与各部门系统每日办件数的核对结果。",
            alert: differing > 0,
        });
    }
    if view::as_route(&auth, "GET", "/monitoring/visits").is_some() {
        cards.push(Card {
            href: "/monitoring/visits",
            title: "办件回访",
            figure: "按月分层抽样".to_owned(),
            about: "致电申请人核实办理情况和满意度；发现问题发起纠错单。",
            alert: false,
        });
    }
    if view::as_route(&auth, "GET", "/monitoring/spot-check").is_some() {
        cards.push(Card {
            href: "/monitoring/spot-check",
            title: "卷宗抽查",
            figure: "按系统和日期抽样".to_owned(),
            about: "从某日变更过的办件中抽取可重现的样本，用于卷宗抽查和办件回访。",
            alert: false,
        });
    }
    let view = OverviewView {
        chrome: Chrome::new(&auth, &headers, "/monitoring", "监测"),
        cards,
    };
    Ok(render(StatusCode::OK, "monitoring", &view))
}

#[derive(Deserialize)]
pub(super) struct CorrectionsQuery {
    status: Option<String>,
    system: Option<String>,
    page: Option<usize>,
}

#[derive(Serialize)]
struct CorrectionsView {
    chrome: Chrome,
    systems: Vec<Choice>,
    statuses: Vec<Choice>,
    rows: Vec<CorrectionRow>,
    total: usize,
    overdue: usize,
    pager: Pager,
}

#[derive(Serialize)]
struct CorrectionRow {
    id: i64,
    system_id: String,
    department: String,
    subject: String,
    reason: String,
    raised_at: String,
    due_on: String,
    status: String,
    /// `逾期 N 个工作日`, for open requests past their due date.
    overdue: Option<String>,
}

pub(super) async fn corrections(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<CorrectionsQuery>,
) -> Result<Response, PageError> {
    let system = view::chosen(query.system.as_deref()).to_owned();
    let status = match view::chosen(query.status.as_deref()) {
        "" => None,
        name => Some(Status::parse(name).ok_or_else(|| view::bad_filter("status", name))?),
    };
    let today = crate::calendar::today();
    let views = super::super::corrections::visible(
        &state,
        &auth,
        status,
        (!system.is_empty()).then(|| system.clone()),
        false,
        today,
    )
    .await?;
    let total = views.len();
    let overdue = views.iter().filter(|v| v.working_days_overdue > 0).count();
    let status_name = status.map_or("", Status::name);
    let filters = [("status", status_name), ("system", system.as_str())];
    let (views, pager) = view::paginate(views, query.page, PAGE_ROWS, "/monitoring/corrections", &filters);
    let view = CorrectionsView {
        chrome: Chrome::new(&auth, &headers, "/monitoring", "校核纠错"),
        systems: view::system_choices(&state, &auth, &system).await?,
        statuses: [Status::Open, Status::Answered, Status::Closed, Status::Withdrawn]
            .iter()
            .map(|s| Choice {
                value: s.name().to_owned(),
                label: s.label().to_owned(),
                selected: status == Some(*s),
            })
            .collect(),
        rows: views
            .into_iter()
            .map(|v| {
                let c = v.correction;
                CorrectionRow {
                    id: c.id,
                    subject: match (c.quality_item_id, c.case_no) {
                        (Some(item), _) => format!("数据质量问题 {item}"),
                        (None, Some(case_no)) => format!("办件 {case_no}"),
                        (None, None) => "—".to_owned(),
                    },
                    system_id: c.system_id,
                    department: c.department,
                    reason: c.reason,
                    raised_at: view::beijing_date(&c.raised_at),
                    due_on: c.due_on.format("%Y-%m-%d").to_string(),
                    status: c.status.label().to_owned(),
                    overdue: (v.working_days_overdue > 0)
                        .then(|| format!("逾期 {} 个工作日", v.working_days_overdue)),
                }
            })
            .collect(),
        total,
        overdue,
        pager,
    };
    Ok(render(StatusCode::OK, "corrections", &view))
}

#[derive(Deserialize)]
pub(super) struct ReconciliationsQuery {
    system: Option<String>,
    /// A day, YYYY-MM-DD (Beijing time).
    date: Option<String>,
    page: Option<usize>,
}

#[derive(Serialize)]
struct ReconciliationsView {
    chrome: Chrome,
    systems: Vec<Choice>,
    date: String,
    rows: Vec<ReconciliationRow>,
    total: usize,
    pager: Pager,
}

/// A saved reconciliation as a row: this page's, and a system's page's history.
#[derive(Serialize)]
pub(super) struct ReconciliationRow {
    date: String,
    system_id: String,
    clean: bool,
    legacy_cases: usize,
    platform_cases: usize,
    matched: usize,
    differences: usize,
    unmappable: usize,
    saved_at: String,
    /// The report as the API renders it (HTML).
    report: String,
}

impl ReconciliationRow {
    pub(super) fn of(r: StoredReconciliation) -> ReconciliationRow {
        let day = r.date.format("%Y-%m-%d").to_string();
        ReconciliationRow {
            report: format!(
                "/api/v1/monitoring/reconciliations?system={}&date={day}&format=html",
                url::form_urlencoded::byte_serialize(r.system_id.as_bytes()).collect::<String>()
            ),
            date: day,
            clean: r.clean,
            legacy_cases: r.report.legacy_cases,
            platform_cases: r.report.platform_cases,
            matched: r.report.matched,
            differences: r.report.differences.len(),
            unmappable: r.report.unmappable.len(),
            saved_at: view::beijing(&r.created_at),
            system_id: r.system_id,
        }
    }
}

pub(super) async fn reconciliations(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<ReconciliationsQuery>,
) -> Result<Response, PageError> {
    let system = view::chosen(query.system.as_deref()).to_owned();
    let date_text = view::chosen(query.date.as_deref()).to_owned();
    let date = match date_text.as_str() {
        "" => None,
        text => {
            Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| view::bad_filter("date", text))?)
        }
    };
    let saved = super::super::monitoring::visible(
        &state,
        &auth,
        (!system.is_empty()).then_some(system.as_str()),
        date,
    )
    .await?;
    let total = saved.len();
    let filters = [("system", system.as_str()), ("date", date_text.as_str())];
    let (saved, pager) = view::paginate(
        saved,
        query.page,
        PAGE_ROWS,
        "/monitoring/reconciliations",
        &filters,
    );
    let view = ReconciliationsView {
        chrome: Chrome::new(&auth, &headers, "/monitoring", "每日对账"),
        systems: view::system_choices(&state, &auth, &system).await?,
        rows: saved.into_iter().map(ReconciliationRow::of).collect(),
        date: date_text,
        total,
        pager,
    };
    Ok(render(StatusCode::OK, "reconciliations", &view))
}

#[derive(Deserialize)]
pub(super) struct SpotCheckQuery {
    system: Option<String>,
    /// A day, YYYY-MM-DD (Beijing time); yesterday when absent.
    date: Option<String>,
    /// How many cases (the API's default when absent).
    size: Option<String>,
    /// The seed; the day's digits (`20261205`) when absent, so the same day gives the same
    /// sample.
    seed: Option<String>,
}

#[derive(Serialize)]
struct SpotCheckView {
    chrome: Chrome,
    systems: Vec<Choice>,
    system: String,
    date: String,
    size: String,
    seed: String,
    /// The drawn sample, once a system is chosen.
    sample: Option<Sample>,
}

#[derive(Serialize)]
struct Sample {
    cases: Vec<String>,
    /// The same sample as CSV, from the API.
    csv: String,
}

/// The most cases one sample may hold here.
const SAMPLE_MOST: usize = 200;
/// The size of a sample when none is asked for (the API's default).
const SAMPLE_SIZE: usize = 10;

/// 卷宗抽查 (Art. 15): a reproducible sample of a system's cases of one day, drawn by
/// `monitoring::spot_check` as `GET /api/v1/monitoring/{system}/spot-check` draws it (and
/// audited there); the system must lie in the caller's scope, as that route's row requires.
pub(super) async fn spot_check(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<SpotCheckQuery>,
) -> Result<Response, PageError> {
    let system = view::chosen(query.system.as_deref()).to_owned();
    let date = match view::chosen(query.date.as_deref()) {
        "" => crate::calendar::today() - chrono::Duration::days(1),
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| view::bad_filter("date", text))?,
    };
    let size = match view::chosen(query.size.as_deref()) {
        "" => SAMPLE_SIZE,
        text => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=SAMPLE_MOST).contains(n))
            .ok_or_else(|| view::bad_filter("size", text))?,
    };
    let seed = match view::chosen(query.seed.as_deref()) {
        "" => u64::from(date.year().unsigned_abs()) * 10_000 + u64::from(date.month() * 100 + date.day()),
        text => text.parse::<u64>().map_err(|_| view::bad_filter("seed", text))?,
    };
    let day = date.format("%Y-%m-%d").to_string();
    let sample = if system.is_empty() {
        None
    } else {
        auth.require_system(&state, &system).await?;
        let cases =
            crate::monitoring::spot_check(&state.store, &system, date, size, seed, &auth.principal.actor)
                .await?;
        Some(Sample {
            cases,
            csv: format!(
                "/api/v1/monitoring/{}/spot-check?date={day}&size={size}&seed={seed}&format=csv",
                url::form_urlencoded::byte_serialize(system.as_bytes()).collect::<String>()
            ),
        })
    };
    let view = SpotCheckView {
        chrome: Chrome::new(&auth, &headers, "/monitoring", "卷宗抽查"),
        systems: view::system_choices(&state, &auth, &system).await?,
        system,
        date: day,
        size: size.to_string(),
        seed: seed.to_string(),
        sample,
    };
    Ok(render(StatusCode::OK, "spot_check", &view))
}
