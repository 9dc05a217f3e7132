//! `ronghe corrections raise|list|show|answer|close|withdraw`: correction requests to the
//! providing department (Art. 28 校核纠错), due in 10 working days, with the overdue ones listed.

use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use serde::Serialize;

use super::{Context, Failure};
use crate::calendar::Calendar;
use crate::corrections::{self, Action, Correction, CorrectionError, Source, Status};
use crate::store::{CorrectionFilter, Guarded};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Raise a correction request from a data-quality item or a disputed case 提出校核申请.
    Raise {
        /// The data-quality item's id.
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "case",
            required_unless_present = "case"
        )]
        quality: Option<i64>,
        /// The disputed case, as SYSTEM/CASE_NO.
        #[arg(long, value_name = "SYSTEM/CASE_NO")]
        case: Option<String>,
        /// What is inaccurate or incomplete.
        #[arg(long)]
        reason: String,
    },
    /// List correction requests 校核申请列表.
    List {
        /// Only open requests past their due date (in working days).
        #[arg(long)]
        overdue: bool,
        /// Only this system's requests.
        #[arg(long)]
        system: Option<String>,
        /// Only requests in this status: open, answered, closed, withdrawn.
        #[arg(long)]
        status: Option<String>,
        /// Count overdue days as of this day (YYYY-MM-DD), default today.
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
    },
    /// Show one request 查看校核申请.
    Show { id: i64 },
    /// Record the department's answer 反馈核实结果.
    Answer {
        id: i64,
        /// What was verified and corrected.
        #[arg(long)]
        answer: String,
    },
    /// Close an answered request 办结.
    Close { id: i64 },
    /// Withdraw an open request 撤回.
    Withdraw { id: i64 },
}

/// A request with its overdue count, as printed with `--json`.
#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    correction: Correction,
    working_days_overdue: i64,
}

fn failure(err: Guarded<CorrectionError>) -> Failure {
    match err {
        Guarded::Store(e) => e.into(),
        Guarded::Refused(refusal) => Failure::Refused(refusal.into()),
    }
}

fn overdue_text(days: i64) -> String {
    if days > 0 {
        format!("已逾期 {days} 个工作日 overdue")
    } else {
        String::new()
    }
}

fn source_text(c: &Correction) -> String {
    match (c.quality_item_id, &c.case_no) {
        (Some(item), Some(case_no)) => format!("数据质量 quality item {item} ({case_no})"),
        (Some(item), None) => format!("数据质量 quality item {item}"),
        (None, Some(case_no)) => format!("办件 case {case_no}"),
        (None, None) => String::new(),
    }
}

fn describe(s: &Shown) -> String {
    let c = &s.correction;
    let mut text = format!(
        "校核申请 correction #{} [{} {}]\n  系统 system: {}\n  提供部门 department: {}\n  来源 source: {}\n  \
         理由 reason: {}\n  提出 raised: {} by {}\n  到期日 due: {}",
        c.id,
        c.status.label(),
        c.status.name(),
        c.system_id,
        c.department,
        source_text(c),
        c.reason,
        c.raised_at.format("%Y-%m-%d %H:%M:%S UTC"),
        c.raised_by,
        c.due_on,
    );
    if s.working_days_overdue > 0 {
        text.push_str(&format!("  {}", overdue_text(s.working_days_overdue)));
    }
    if let Some(answer) = &c.answer {
        text.push_str(&format!("\n  反馈 answer: {answer}"));
    }
    if let (Some(at), Some(by)) = (c.answered_at, &c.answered_by) {
        text.push_str(&format!(" ({} by {by})", at.format("%Y-%m-%d %H:%M:%S UTC")));
    }
    if let (Some(at), Some(by)) = (c.closed_at, &c.closed_by) {
        text.push_str(&format!(
            "\n  结束 ended: {} by {by}",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    text
}

fn shown(calendar: &Calendar, correction: Correction, today: NaiveDate) -> Result<Shown, Failure> {
    let working_days_overdue = correction
        .working_days_overdue(calendar, today)
        .map_err(|e| Failure::Refused(e.into()))?;
    Ok(Shown {
        correction,
        working_days_overdue,
    })
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let config = ctx.config()?;
    let calendar =
        Calendar::load(config.calendar_override.as_deref()).map_err(|e| Failure::Failed(e.into()))?;
    let store = ctx.store().await?;
    let now = Utc::now();
    let today = crate::calendar::beijing_date(&now);
    match command {
        Command::Raise {
            quality,
            case,
            reason,
        } => {
            let source = match (quality, case) {
                (Some(item), _) => Source::QualityItem(item),
                (None, Some(case)) => {
                    let (system_id, case_no) = case
                        .split_once('/')
                        .filter(|(s, c)| !s.is_empty() && !c.is_empty())
                        .ok_or_else(|| {
                            Failure::Refused(anyhow::anyhow!("--case {case:?}: write it as SYSTEM/CASE_NO"))
                        })?;
                    Source::Case {
                        system_id: system_id.to_owned(),
                        case_no: case_no.to_owned(),
                    }
                }
                (None, None) => {
                    return Err(Failure::Refused(anyhow::anyhow!(
                        "give --quality ID or --case SYSTEM/CASE_NO"
                    )));
                }
            };
            let issues = corrections::check_text("reason", &reason);
            if !issues.is_empty() {
                return Err(failure(Guarded::Refused(CorrectionError::Invalid(issues))));
            }
            let due_on = corrections::due_on(&calendar, now).map_err(|e| Failure::Refused(e.into()))?;
            let raised = store
                .raise_correction(&source, reason.trim(), due_on, &ctx.actor, now)
                .await
                .map_err(failure)?;
            let s = shown(&calendar, raised, today)?;
            ctx.out.show(
                format!(
                    "已提出校核申请 raised correction #{} to {}, 到期日 due {} (10 个工作日 working days)",
                    s.correction.id, s.correction.department, s.correction.due_on
                ),
                &s,
            );
        }
        Command::List {
            overdue,
            system,
            status,
            as_of,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(name) => Some(Status::parse(name).ok_or_else(|| {
                    Failure::Refused(anyhow::anyhow!(
                        "--status {name:?}: use open, answered, closed or withdrawn"
                    ))
                })?),
            };
            let today = as_of.unwrap_or(today);
            let filter = CorrectionFilter {
                status,
                system_id: system,
                open_due_before: overdue.then_some(today),
            };
            let mut list = Vec::new();
            for c in store.list_corrections(&filter).await.map_err(failure)? {
                let s = shown(&calendar, c, today)?;
                if !overdue || s.working_days_overdue > 0 {
                    list.push(s);
                }
            }
            let rows = list
                .iter()
                .map(|s| {
                    let c = &s.correction;
                    vec![
                        c.id.to_string(),
                        c.system_id.clone(),
                        source_text(c),
                        c.department.clone(),
                        format!("{} {}", c.status.label(), c.status.name()),
                        c.due_on.to_string(),
                        overdue_text(s.working_days_overdue),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "ID",
                    "系统 system",
                    "来源 source",
                    "提供部门 department",
                    "状态 status",
                    "到期日 due",
                    "逾期 overdue",
                ],
                rows,
                &list,
            );
        }
        Command::Show { id } => {
            let s = shown(&calendar, store.correction(id).await.map_err(failure)?, today)?;
            ctx.out.show(describe(&s), &s);
        }
        Command::Answer { id, answer } => {
            act(ctx, &store, &calendar, id, Action::Answer { answer }).await?;
        }
        Command::Close { id } => act(ctx, &store, &calendar, id, Action::Close).await?,
        Command::Withdraw { id } => act(ctx, &store, &calendar, id, Action::Withdraw).await?,
    }
    Ok(())
}

async fn act(
    ctx: &Context,
    store: &crate::store::Store,
    calendar: &Calendar,
    id: i64,
    action: Action,
) -> Result<(), Failure> {
    let now = Utc::now();
    let changed = store
        .act_on_correction(id, &action, &ctx.actor, now)
        .await
        .map_err(failure)?;
    let s = shown(calendar, changed, crate::calendar::beijing_date(&now))?;
    ctx.out.show(
        format!(
            "校核申请 correction #{id}: {} {}",
            s.correction.status.label(),
            s.correction.status.name()
        ),
        &s,
    );
    Ok(())
}
