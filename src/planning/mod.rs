//! Plans on the store (a service over the pure `plans` module): the operations the API, the CLI
//! and the scheduler share: import a plan file, show a plan, record
//! progress, baseline, the portfolio roll-up, and the reports (HTML and Markdown through
//! handlebars, with the Gantt chart).

use chrono::NaiveDate;
use serde::Serialize;

use crate::calendar::{Calendar, CalendarError};
use crate::case::FieldIssue;
use crate::plans::{
    MigrationEvidence, PlanFile, PlanView, Progress, Rag, baseline_dues, check_baseline, check_progress,
    gantt, view,
};
use crate::store::{Store, StoreError};

/// Why a plan operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}", .0.iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldIssue>),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot render the report: {0}")]
    Render(String),
}

/// One system's line in the portfolio.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanSummary {
    pub system_id: String,
    pub mode: String,
    pub rag: Option<Rag>,
    pub baseline_version: Option<i64>,
    pub end_forecast: NaiveDate,
    pub end_baseline: Option<NaiveDate>,
    pub end_slip_working_days: Option<i64>,
    /// Milestones late now, with why.
    pub late: Vec<(String, String)>,
}

/// Parses and stores a plan file; `system`, when given, must be the one the file names.
pub async fn import(
    store: &Store,
    text: &str,
    system: Option<&str>,
    actor: &str,
) -> Result<PlanFile, PlanError> {
    let plan = PlanFile::parse(text).map_err(|issues| {
        PlanError::Invalid(
            issues
                .into_iter()
                .map(|i| FieldIssue {
                    field: i.path,
                    rule: "plan_file".to_owned(),
                    message: i.message,
                })
                .collect(),
        )
    })?;
    if let Some(system) = system
        && system != plan.plan.system
    {
        return Err(PlanError::Invalid(vec![FieldIssue {
            field: "plan.system".to_owned(),
            rule: "matches_path".to_owned(),
            message: format!(
                "the file is the plan of {:?}, not of {system:?}",
                plan.plan.system
            ),
        }]));
    }
    store.import_plan(&plan, text, actor).await?;
    Ok(plan)
}

pub async fn show(
    store: &Store,
    system: &str,
    today: NaiveDate,
    calendar: &Calendar,
) -> Result<PlanView, PlanError> {
    let mut view = view(&store.plan(system).await?, today, calendar)?;
    view.migration = store.latest_migration(system).await?.as_ref().map(evidence);
    Ok(view)
}

/// A migration run as evidence on the plan.
fn evidence(run: &crate::store::MigrationRun) -> MigrationEvidence {
    MigrationEvidence {
        run_id: run.id.clone(),
        state: run.state.name().to_owned(),
        rows_read: run.rows_read,
        rows_rejected: run.rows_rejected,
        differences: run.differences,
        report_md_path: run.report_md_path.clone(),
        report_url: run
            .differences
            .map(|_| format!("/api/v1/systems/{}/migration/report", run.system_id)),
    }
}

/// Records a milestone's start and/or finish (a date not given keeps what was recorded).
pub async fn record(
    store: &Store,
    system: &str,
    milestone: &str,
    given: &Progress,
    note: &str,
    today: NaiveDate,
    actor: &str,
) -> Result<(), PlanError> {
    let stored = store.plan(system).await?;
    let before = stored.progress.get(milestone).cloned().unwrap_or_default();
    let progress = Progress {
        started_on: given.started_on.or(before.started_on),
        finished_on: given.finished_on.or(before.finished_on),
    };
    let problems = check_progress(&stored.file, milestone, &progress, today);
    if !problems.is_empty() {
        return Err(PlanError::Invalid(problems));
    }
    store
        .record_progress(system, milestone, &progress, note, actor)
        .await?;
    Ok(())
}

/// Records a new baseline (the forecast for today) with its approval; returns its version.
pub async fn baseline(
    store: &Store,
    system: &str,
    approved_by: &str,
    reason: &str,
    today: NaiveDate,
    calendar: &Calendar,
    actor: &str,
) -> Result<i64, PlanError> {
    let stored = store.plan(system).await?;
    let problems = check_baseline(&stored, approved_by, reason);
    if !problems.is_empty() {
        return Err(PlanError::Invalid(problems));
    }
    let dues = baseline_dues(&stored, today, calendar)?;
    Ok(store
        .add_baseline(system, &dues, approved_by.trim(), reason.trim(), actor)
        .await?)
}

/// Every plan's status, worst first.
pub async fn portfolio(
    store: &Store,
    today: NaiveDate,
    calendar: &Calendar,
) -> Result<Vec<PlanSummary>, PlanError> {
    let mut out = Vec::new();
    for system in store.planned_systems().await? {
        let v = show(store, &system, today, calendar).await?;
        out.push(PlanSummary {
            late: v
                .milestones
                .iter()
                .filter_map(|m| m.late_because.clone().map(|why| (m.id.clone(), why)))
                .collect(),
            system_id: v.system_id,
            mode: v.mode,
            rag: v.rag,
            baseline_version: v.baseline.map(|b| b.version),
            end_forecast: v.end_forecast,
            end_baseline: v.end_baseline,
            end_slip_working_days: v.end_slip_working_days,
        });
    }
    out.sort_by(|a, b| b.rag.cmp(&a.rag).then_with(|| a.system_id.cmp(&b.system_id)));
    Ok(out)
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
}

/// The plan's status report with its Gantt chart (zh-CN).
pub fn report(
    view: &PlanView,
    today: NaiveDate,
    calendar: &Calendar,
    format: Format,
) -> Result<String, PlanError> {
    let mut engine = handlebars::Handlebars::new();
    engine.set_strict_mode(true);
    let template = match format {
        Format::Html => include_str!("templates/plan.html.hbs"),
        Format::Markdown => {
            engine.register_escape_fn(handlebars::no_escape);
            include_str!("templates/plan.md.hbs")
        }
    };
    let milestones: Vec<_> = view
        .milestones
        .iter()
        .map(|m| {
            serde_json::json!({
                "m": m,
                "rag_label": view.baseline.as_ref().map(|_| m.status.rag.label()).unwrap_or("未基线"),
                "rag": view.baseline.as_ref().map(|_| m.status.rag),
            })
        })
        .collect();
    let context = serde_json::json!({
        "view": view,
        "today": today,
        "rag_label": view.rag.map_or("未基线 no baseline", Rag::label),
        "milestones": milestones,
        "gantt": gantt::render(view, today, calendar),
    });
    engine
        .render_template(template, &context)
        .map_err(|e| PlanError::Render(e.to_string()))
}
