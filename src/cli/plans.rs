//! `ronghe plans list|show|import|baseline|update|critical-path|gantt|report`: project managers
//! track each system's migration plan on the working-day calendar.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Subcommand;

use super::{Context, Failure};
use crate::calendar::today;
use crate::planning::{self, Format, PlanError};
use crate::plans::{Progress, Rag, gantt};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Every plan's status, worst first 计划总览.
    List,
    /// A plan's milestones, forecasts, slack and status 计划详情.
    Show { system: String },
    /// Import (or replace) a plan file; recorded progress is kept 导入计划.
    Import { file: PathBuf },
    /// Record the current forecast as the baseline (re-baselines need --reason) 设定基线.
    Baseline {
        system: String,
        /// Who approved it 批准人.
        #[arg(long)]
        approved_by: String,
        /// Why (required for a re-baseline) 理由.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Record a milestone's start and/or finish 更新进度.
    Update {
        system: String,
        milestone: String,
        #[arg(long)]
        started: Option<NaiveDate>,
        #[arg(long)]
        finished: Option<NaiveDate>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The critical path with each milestone's dates 关键路径.
    CriticalPath { system: String },
    /// Write the Gantt chart as SVG 甘特图.
    Gantt {
        system: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// The status report (html or markdown) to stdout 计划报告.
    Report {
        system: String,
        #[arg(long, default_value = "markdown", value_parser = ["html", "markdown"])]
        format: String,
    },
}

impl From<PlanError> for Failure {
    fn from(err: PlanError) -> Failure {
        match err {
            PlanError::Store(e) => e.into(),
            refused @ (PlanError::Invalid(_) | PlanError::Calendar(_)) => Failure::Refused(refused.into()),
            other => Failure::Failed(other.into()),
        }
    }
}

fn rag(rag: Option<Rag>) -> &'static str {
    rag.map_or("未基线", Rag::label)
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let config = ctx.config()?;
    let calendar = crate::calendar::Calendar::load(config.calendar_override.as_deref())
        .map_err(|e| Failure::Failed(e.into()))?;
    let store = ctx.store().await?;
    let today = today();
    match command {
        Command::List => {
            let plans = planning::portfolio(&store, today, &calendar).await?;
            let rows = plans
                .iter()
                .map(|p| {
                    vec![
                        p.system_id.clone(),
                        p.mode.clone(),
                        rag(p.rag).to_owned(),
                        p.end_forecast.to_string(),
                        p.end_baseline.map(|d| d.to_string()).unwrap_or_default(),
                        p.late
                            .iter()
                            .map(|(id, why)| format!("{id}: {why}"))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "系统 system",
                    "方式 mode",
                    "状态 status",
                    "预计完成 forecast",
                    "基线完成 baseline",
                    "滞后 late",
                ],
                rows,
                &plans,
            );
        }
        Command::Show { system } => {
            let view = planning::show(&store, &system, today, &calendar).await?;
            let mut human = format!(
                "{} 迁移计划 ({}) 状态 {} · 预计完成 {}{}\n",
                view.system_id,
                view.mode,
                rag(view.rag),
                view.end_forecast,
                view.end_baseline
                    .map(|d| format!(
                        " · 基线 {d} (偏差 {} 个工作日)",
                        view.end_slip_working_days.unwrap_or(0)
                    ))
                    .unwrap_or_default()
            );
            if let Some(m) = &view.migration {
                human.push_str(&format!(
                    "  全量迁移 migration {}: {} · 读取 read {} · 拒收 rejected {}{}\n",
                    m.run_id,
                    m.state,
                    m.rows_read,
                    m.rows_rejected,
                    m.report_md_path
                        .as_ref()
                        .map(|p| format!(" · 对账报告 report {p} (差异 {})", m.differences.unwrap_or(0)))
                        .unwrap_or_default()
                ));
            }
            for m in &view.milestones {
                human.push_str(&format!(
                    "  {}{} {} [{}] {} – {} 时差 {}{}{}\n",
                    if m.forecast.critical { "★ " } else { "  " },
                    m.id,
                    m.name,
                    m.owner,
                    m.forecast.start,
                    m.forecast.due,
                    m.forecast.slack_working_days,
                    if m.forecast.finished { " ✔" } else { "" },
                    m.late_because
                        .as_deref()
                        .map(|w| format!(" ⚠ {w}"))
                        .unwrap_or_default()
                ));
            }
            ctx.out.show(human.trim_end(), &view);
        }
        Command::Import { file } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let plan = planning::import(&store, &text, None, &ctx.actor).await?;
            let view = planning::show(&store, &plan.plan.system, today, &calendar).await?;
            ctx.out.show(
                format!(
                    "已导入 imported plan of {}: {} milestones, forecast end {}",
                    plan.plan.system,
                    plan.milestones.len(),
                    view.end_forecast
                ),
                &view,
            );
        }
        Command::Baseline {
            system,
            approved_by,
            reason,
        } => {
            let registered = store.get_system(&system).await?;
            let who = ctx
                .person(
                    &store,
                    "POST",
                    "/api/v1/plans/{system}/baseline",
                    Some(&registered),
                )
                .await?;
            let version = planning::baseline(
                &store,
                &system,
                &approved_by,
                &reason,
                today,
                &calendar,
                &who.actor,
            )
            .await?;
            let view = planning::show(&store, &system, today, &calendar).await?;
            ctx.out.show(
                format!(
                    "已设定基线 baselined {system} v{version} (批准人 {approved_by}), 基线完成 {}",
                    view.end_forecast
                ),
                &view,
            );
        }
        Command::Update {
            system,
            milestone,
            started,
            finished,
            note,
        } => {
            let given = Progress {
                started_on: started,
                finished_on: finished,
            };
            planning::record(&store, &system, &milestone, &given, &note, today, &ctx.actor).await?;
            let view = planning::show(&store, &system, today, &calendar).await?;
            ctx.out.show(
                format!(
                    "已更新 updated {system}/{milestone}; 状态 {} · 预计完成 {}",
                    rag(view.rag),
                    view.end_forecast
                ),
                &view,
            );
        }
        Command::CriticalPath { system } => {
            let view = planning::show(&store, &system, today, &calendar).await?;
            let critical: Vec<_> = view.milestones.iter().filter(|m| m.forecast.critical).collect();
            let rows = critical
                .iter()
                .map(|m| {
                    vec![
                        m.id.clone(),
                        m.name.clone(),
                        m.forecast.start.to_string(),
                        m.forecast.due.to_string(),
                    ]
                })
                .collect();
            ctx.out.table(
                &["里程碑 milestone", "名称 name", "开始 start", "完成 due"],
                rows,
                &critical,
            );
        }
        Command::Gantt { system, out } => {
            let view = planning::show(&store, &system, today, &calendar).await?;
            std::fs::write(&out, gantt::render(&view, today, &calendar))
                .with_context(|| format!("cannot write {}", out.display()))?;
            ctx.out.show(
                format!("已生成 wrote {}", out.display()),
                &serde_json::json!({ "file": out }),
            );
        }
        Command::Report { system, format } => {
            let view = planning::show(&store, &system, today, &calendar).await?;
            let format = if format == "html" {
                Format::Html
            } else {
                Format::Markdown
            };
            let text = planning::report(&view, today, &calendar, format)?;
            ctx.out.show(text, &view);
        }
    }
    Ok(())
}
