//! 计划: the project managers' plans. The portfolio with each plan's RAG status; a plan's page
//! with its Gantt chart (server-drawn SVG: working-day shading, critical path, baseline), its
//! milestones against the baseline, and for the project manager the forms to record a
//! milestone's progress and to (re-)baseline with the approver and reason; the plan report.
//! Each act goes through `planning`, as the API's does.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Serialize;

use super::super::{Actor, ApiError, AppState, Authorized};
use super::view::{self, Chrome};
use super::{PageError, protect, render};
use crate::calendar::today;
use crate::planning::{self, PlanError};
use crate::plans::{Progress, Rag, gantt};

#[derive(Serialize)]
struct PortfolioView {
    chrome: Chrome,
    rows: Vec<PortfolioRow>,
}

#[derive(Serialize)]
struct PortfolioRow {
    system_id: String,
    mode: String,
    rag: String,
    rag_class: &'static str,
    baseline: String,
    end_forecast: String,
    end_baseline: String,
    slip: String,
    late: usize,
}

fn rag_of(rag: Option<Rag>) -> (String, &'static str) {
    match rag {
        Some(rag) => (
            rag.label().to_owned(),
            match rag {
                Rag::Green => "rag-green",
                Rag::Amber => "rag-amber",
                Rag::Red => "rag-red",
            },
        ),
        None => ("未设基线".to_owned(), "rag-none"),
    }
}

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn date_or_dash(day: Option<NaiveDate>) -> String {
    day.map_or_else(|| "—".to_owned(), date)
}

pub(super) async fn portfolio(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let plans = planning::portfolio(&state.store, today(), &state.calendar).await?;
    let rows = auth
        .filter(&state, plans, |p| &p.system_id)
        .await?
        .into_iter()
        .map(|p| {
            let (rag, rag_class) = rag_of(p.rag);
            PortfolioRow {
                rag,
                rag_class,
                baseline: p
                    .baseline_version
                    .map_or_else(|| "—".to_owned(), |v| format!("第 {v} 版")),
                end_forecast: date(p.end_forecast),
                end_baseline: date_or_dash(p.end_baseline),
                slip: p
                    .end_slip_working_days
                    .map_or_else(|| "—".to_owned(), |d| format!("{d} 个工作日")),
                late: p.late.len(),
                mode: p.mode,
                system_id: p.system_id,
            }
        })
        .collect();
    let view = PortfolioView {
        chrome: Chrome::new(&auth, &headers, "/plans", "计划"),
        rows,
    };
    Ok(render(StatusCode::OK, "plans", &view))
}

#[derive(Serialize)]
struct PlanPage {
    chrome: Chrome,
    system_id: String,
    mode: String,
    owner: String,
    start: String,
    rag: String,
    rag_class: &'static str,
    baseline: String,
    end_forecast: String,
    end_baseline: String,
    slip: String,
    /// The Gantt chart, drawn by `plans::gantt` (its text escaped there).
    gantt: String,
    milestones: Vec<MilestoneLine>,
    /// The project manager's forms.
    manage: bool,
    rebaseline: bool,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct MilestoneLine {
    id: String,
    phase: String,
    name: String,
    owner: String,
    duration: u32,
    start: String,
    due: String,
    baseline_due: String,
    started_on: String,
    finished_on: String,
    rag: String,
    rag_class: &'static str,
    critical: bool,
    late_because: String,
}

pub(super) async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(system): Path<String>,
) -> Result<Response, PageError> {
    plan_page(&state, &auth, &headers, &system, StatusCode::OK, Vec::new()).await
}

async fn plan_page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    system: &str,
    status: StatusCode,
    problems: Vec<String>,
) -> Result<Response, PageError> {
    let today = today();
    let plan = planning::show(&state.store, system, today, &state.calendar).await?;
    let (rag, rag_class) = rag_of(plan.rag);
    let milestones = plan
        .milestones
        .iter()
        .map(|m| {
            let (rag, rag_class) = if plan.baseline.is_some() {
                rag_of(Some(m.status.rag))
            } else {
                rag_of(None)
            };
            MilestoneLine {
                id: m.id.clone(),
                phase: m.phase.clone(),
                name: m.name.clone(),
                owner: m.owner.clone(),
                duration: m.duration_working_days,
                start: date(m.forecast.start),
                due: date(m.forecast.due),
                baseline_due: date_or_dash(m.status.baseline_due),
                started_on: m.progress.started_on.map(date).unwrap_or_default(),
                finished_on: m.progress.finished_on.map(date).unwrap_or_default(),
                rag,
                rag_class,
                critical: m.forecast.critical,
                late_because: m.late_because.clone().unwrap_or_default(),
            }
        })
        .collect();
    let page = PlanPage {
        chrome: Chrome::new(auth, headers, "/plans", &format!("计划 {system}")),
        gantt: gantt::render(&plan, today, &state.calendar),
        system_id: plan.system_id.clone(),
        mode: plan.mode.clone(),
        owner: plan.owner.clone(),
        start: date(plan.start),
        rag,
        rag_class,
        baseline: plan.baseline.as_ref().map_or_else(
            || "尚未设基线".to_owned(),
            |b| format!("第 {} 版（批准人 {}）", b.version, b.approved_by),
        ),
        end_forecast: date(plan.end_forecast),
        end_baseline: date_or_dash(plan.end_baseline),
        slip: plan
            .end_slip_working_days
            .map_or_else(|| "—".to_owned(), |d| format!("{d} 个工作日")),
        milestones,
        manage: view::may_open(&auth.principal, "POST", "/plans/{system}/baseline"),
        rebaseline: plan.baseline.is_some(),
        problems,
    };
    Ok(render(status, "plan", &page))
}

fn text_field(form: &[(String, String)], name: &str) -> String {
    view::form_field(form, name).trim().to_owned()
}

/// The page again after an act, or with the act's problems.
async fn after(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    system: &str,
    done: Result<(), PlanError>,
) -> Result<Response, PageError> {
    match done {
        Ok(()) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/plans/{system}")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            protect(response.headers_mut());
            Ok(response)
        }
        Err(PlanError::Invalid(issues)) => {
            let problems = issues
                .iter()
                .map(|i| format!("{}：{}", i.field, i.message))
                .collect();
            plan_page(
                state,
                auth,
                headers,
                system,
                StatusCode::UNPROCESSABLE_ENTITY,
                problems,
            )
            .await
        }
        Err(err) => Err(ApiError::from(err).into()),
    }
}

/// Records a milestone's start and/or finish.
pub(super) async fn progress(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Actor(actor): Actor,
    Path((system, milestone)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let mut problems = Vec::new();
    let progress = Progress {
        started_on: view::date_field(&form, "started_on", &mut problems),
        finished_on: view::date_field(&form, "finished_on", &mut problems),
    };
    if progress.started_on.is_none() && progress.finished_on.is_none() && problems.is_empty() {
        problems.push("started_on：请填写开始日期或完成日期".to_owned());
    }
    if !problems.is_empty() {
        return plan_page(
            &state,
            &auth,
            &headers,
            &system,
            StatusCode::UNPROCESSABLE_ENTITY,
            problems,
        )
        .await;
    }
    let note = text_field(&form, "note");
    let done = planning::record(
        &state.store,
        &system,
        &milestone,
        &progress,
        &note,
        today(),
        &actor,
    )
    .await;
    after(&state, &auth, &headers, &system, done).await
}

/// Baselines the plan (a re-baseline needs the reason it was approved).
pub(super) async fn baseline(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Actor(actor): Actor,
    Path(system): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let done = planning::baseline(
        &state.store,
        &system,
        &text_field(&form, "approved_by"),
        &text_field(&form, "reason"),
        today(),
        &state.calendar,
        &actor,
    )
    .await
    .map(|_| ());
    after(&state, &auth, &headers, &system, done).await
}

/// The plan report (HTML), as a document of its own.
pub(super) async fn report(
    State(state): State<AppState>,
    Path(system): Path<String>,
) -> Result<Response, PageError> {
    let today = today();
    let plan = planning::show(&state.store, &system, today, &state.calendar).await?;
    let html = planning::report(&plan, today, &state.calendar, planning::Format::Html)?;
    Ok(super::document(html))
}
