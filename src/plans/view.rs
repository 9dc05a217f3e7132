//! What a project manager sees of a plan: every milestone with its progress, forecast, slack,
//! status against the latest baseline and, when it is late, why; the plan's end against the
//! baseline; the critical path; and the checks on recorded progress and new baselines.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Baseline, Forecast, PlanFile, Progress, Rag, Status, StoredPlan, forecast, status};
use crate::calendar::{Calendar, CalendarError};
use crate::case::FieldIssue;

/// One milestone as shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MilestoneView {
    pub id: String,
    pub phase: String,
    pub name: String,
    pub owner: String,
    pub duration_working_days: u32,
    pub depends_on: Vec<String>,
    pub gate: Option<String>,
    pub progress: Progress,
    pub forecast: Forecast,
    pub status: Status,
    /// Why it is late (zh-CN), when it is.
    pub late_because: Option<String>,
}

/// A plan as shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    pub system_id: String,
    pub mode: String,
    pub assessment: Option<String>,
    pub owner: String,
    pub start: NaiveDate,
    pub imported_at: DateTime<Utc>,
    pub imported_by: String,
    /// The latest baseline, if any.
    pub baseline: Option<Baseline>,
    /// The worst milestone's status; `None` before the first baseline.
    pub rag: Option<Rag>,
    pub end_forecast: NaiveDate,
    pub end_baseline: Option<NaiveDate>,
    pub end_slip_working_days: Option<i64>,
    /// Ids on the critical path, in dependency order.
    pub critical_path: Vec<String>,
    pub milestones: Vec<MilestoneView>,
    /// The system's latest bulk migration and its reconciliation report (full migration), as
    /// evidence for the migration milestones; `None` when it never ran.
    pub migration: Option<MigrationEvidence>,
}

/// A migration run as evidence on the plan.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MigrationEvidence {
    pub run_id: String,
    /// `running`, `stopped`, `failed`, `complete` or `incomplete`.
    pub state: String,
    pub rows_read: i64,
    pub rows_rejected: i64,
    /// Reconciliation differences, once reconciled.
    pub differences: Option<i64>,
    /// The saved Markdown report, and where the API serves it.
    pub report_md_path: Option<String>,
    pub report_url: Option<String>,
}

/// The plan laid out for `today`.
pub fn view(stored: &StoredPlan, today: NaiveDate, calendar: &Calendar) -> Result<PlanView, CalendarError> {
    let plan = &stored.file;
    let forecasts = forecast(plan, &stored.progress, Some(today), calendar)?;
    let baseline = stored.baselines.last();
    let dues: Option<HashMap<String, NaiveDate>> =
        baseline.map(|b| b.dues.iter().map(|(k, v)| (k.clone(), *v)).collect());
    let statuses = status(&forecasts, dues.as_ref(), calendar)?;
    let slipping: HashMap<String, bool> = statuses
        .iter()
        .map(|s| (s.id.clone(), s.slip_working_days.is_some_and(|d| d > 0)))
        .collect();
    let milestones: Vec<MilestoneView> = plan
        .milestones
        .iter()
        .zip(forecasts)
        .zip(statuses)
        .map(|((m, f), s)| {
            let progress = stored.progress.get(&m.id).cloned().unwrap_or_default();
            let late_because = late_because(m, &progress, &f, &s, today, &slipping);
            MilestoneView {
                id: m.id.clone(),
                phase: m.phase.clone(),
                name: m.name.clone(),
                owner: m.owner.clone(),
                duration_working_days: m.duration_working_days,
                depends_on: m.depends_on.iter().map(|d| d.id().to_owned()).collect(),
                gate: m.gate.clone(),
                progress,
                forecast: f,
                status: s,
                late_because,
            }
        })
        .collect();
    let end_forecast = milestones
        .iter()
        .map(|m| m.forecast.due)
        .max()
        .unwrap_or(plan.plan.start);
    let end_baseline = baseline.and_then(|b| b.dues.values().max().copied());
    let end_slip_working_days = match end_baseline {
        Some(end) => Some(calendar.working_days_between(end, end_forecast)?),
        None => None,
    };
    let mut critical: Vec<&MilestoneView> = milestones.iter().filter(|m| m.forecast.critical).collect();
    critical.sort_by_key(|m| (m.forecast.start, m.forecast.due));
    Ok(PlanView {
        system_id: plan.plan.system.clone(),
        mode: plan.plan.mode.clone(),
        assessment: plan.plan.assessment.clone(),
        owner: plan.plan.owner.clone(),
        start: plan.plan.start,
        imported_at: stored.imported_at,
        imported_by: stored.imported_by.clone(),
        rag: baseline.map(|_| {
            milestones
                .iter()
                .map(|m| m.status.rag)
                .max()
                .unwrap_or(Rag::Green)
        }),
        baseline: baseline.cloned(),
        end_forecast,
        end_baseline,
        end_slip_working_days,
        critical_path: critical.iter().map(|m| m.id.clone()).collect(),
        milestones,
        migration: None,
    })
}

fn late_because(
    m: &super::Milestone,
    progress: &Progress,
    f: &Forecast,
    s: &Status,
    today: NaiveDate,
    slipping: &HashMap<String, bool>,
) -> Option<String> {
    if f.finished {
        return None;
    }
    if let Some(due) = s.baseline_due
        && today > due
    {
        return Some(format!(
            "已超过基线到期日 {due}，尚未完成 (past its baseline due date)"
        ));
    }
    if s.slip_working_days.is_none_or(|d| d <= 0) {
        return None;
    }
    let late_before: Vec<&str> = m
        .depends_on
        .iter()
        .map(|d| d.id())
        .filter(|id| slipping.get(*id).copied().unwrap_or(false))
        .collect();
    Some(match (late_before.is_empty(), progress.started_on) {
        (false, _) => format!("受前置里程碑 {} 滞后影响 (held up by)", late_before.join("、")),
        (true, None) => format!("尚未开始，最早 {} 开始 (not started)", f.start),
        (true, Some(_)) => "进度慢于基线 (slower than the baseline)".to_owned(),
    })
}

/// The due dates a new baseline records: the forecast for `today`.
pub fn baseline_dues(
    stored: &StoredPlan,
    today: NaiveDate,
    calendar: &Calendar,
) -> Result<BTreeMap<String, NaiveDate>, CalendarError> {
    Ok(forecast(&stored.file, &stored.progress, Some(today), calendar)?
        .into_iter()
        .map(|f| (f.id, f.due))
        .collect())
}

/// A re-baseline (not the first) needs a recorded approval reason; the approver is always named.
pub fn check_baseline(stored: &StoredPlan, approved_by: &str, reason: &str) -> Vec<FieldIssue> {
    let mut problems = Vec::new();
    if approved_by.trim().is_empty() {
        problems.push(issue(
            "approved_by",
            "required",
            "写明批准人 (name who approved the baseline)",
        ));
    }
    if !stored.baselines.is_empty() && reason.trim().chars().count() < 4 {
        problems.push(issue(
            "reason",
            "rebaseline_reason",
            "重新基线须记录批准理由 (a re-baseline needs the reason it was approved)",
        ));
    }
    problems
}

/// Checks recorded progress against the plan: a known milestone, dates in order, nothing in the
/// future, and a finish only with a start.
pub fn check_progress(
    plan: &PlanFile,
    milestone: &str,
    progress: &Progress,
    today: NaiveDate,
) -> Vec<FieldIssue> {
    let mut problems = Vec::new();
    if !plan.milestones.iter().any(|m| m.id == milestone) {
        let ids: Vec<&str> = plan.milestones.iter().map(|m| m.id.as_str()).collect();
        problems.push(issue(
            "milestone",
            "unknown",
            &format!(
                "计划中没有里程碑 {milestone:?} (no such milestone; use one of {})",
                ids.join(", ")
            ),
        ));
    }
    for (field, date) in [
        ("started_on", progress.started_on),
        ("finished_on", progress.finished_on),
    ] {
        if date.is_some_and(|d| d > today) {
            problems.push(issue(
                field,
                "not_in_future",
                "只能记录已发生的进度 (progress is recorded after it happens)",
            ));
        }
    }
    match (progress.started_on, progress.finished_on) {
        (None, Some(_)) => problems.push(issue(
            "started_on",
            "required",
            "完成前须先记录开始日期 (record the start first)",
        )),
        (Some(s), Some(f)) if f < s => problems.push(issue(
            "finished_on",
            "after_start",
            "完成日期不能早于开始日期 (finishes after it starts)",
        )),
        _ => {}
    }
    problems
}

fn issue(field: &str, rule: &str, message: &str) -> FieldIssue {
    FieldIssue {
        field: field.to_owned(),
        rule: rule.to_owned(),
        message: message.to_owned(),
    }
}
