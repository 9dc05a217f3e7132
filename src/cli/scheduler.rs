//! `ronghe scheduler jobs|run|runs` and `ronghe notifications list`: the scheduler's jobs with
//! their next ticks, running them now for a day (operators and tests), the claimed runs (a run
//! without an end: in progress or its node died), and the reminders and escalations it queued.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use ronghe_adapters::{Environment, Secrets};
use serde_json::json;

use super::{Context, Failure};
use crate::calendar::Calendar;
use crate::intake::WritebackConfig;
use crate::scheduler::{JOBS, Job, Scheduler, SchedulerError};
use crate::store::{Level, StoreError};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// The jobs with their schedules and next runs (and the systems' pull schedules) 任务列表.
    Jobs,
    /// Run a job (or `all`) now for a day 立即运行.
    Run(RunArgs),
    /// The latest claimed runs, newest first 运行记录.
    Runs {
        /// Only this job.
        #[arg(long)]
        job: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// plans, corrections, reconcile, visits, deliver, or all.
    job: String,
    /// Run once and exit (required: the loop runs inside `ronghe serve`).
    #[arg(long, required = true)]
    once: bool,
    /// The Beijing day the job evaluates (default today; reconcile reads the day before).
    #[arg(long)]
    date: Option<NaiveDate>,
}

#[derive(Debug, Subcommand)]
pub(super) enum NotificationsCommand {
    /// Reminders and escalations, newest first 提醒与督办.
    List {
        /// reminder or escalation.
        #[arg(long, value_parser = parse_level)]
        level: Option<Level>,
        /// queued or delivered.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

fn parse_level(text: &str) -> Result<Level, String> {
    Level::parse(text).ok_or_else(|| format!("{text:?} is not a level: use reminder or escalation"))
}

impl From<SchedulerError> for Failure {
    fn from(err: SchedulerError) -> Failure {
        match err {
            SchedulerError::Store(e) => e.into(),
            refused @ SchedulerError::Config(_) => Failure::Refused(refused.into()),
            other => Failure::Failed(other.into()),
        }
    }
}

async fn scheduler(ctx: &Context) -> Result<Scheduler, Failure> {
    let config = ctx.config()?;
    let calendar =
        Calendar::load(config.calendar_override.as_deref()).map_err(|e| Failure::Failed(e.into()))?;
    let secrets: Arc<dyn Secrets> = Arc::new(Environment);
    let store = ctx.store().await?;
    let intake = crate::intake::Intake::new(&store, config.mappings_dir.clone(), secrets.clone());
    Ok(
        Scheduler::new(store, Arc::new(calendar), intake, secrets, config.scheduler)?
            .with_visits(&config.visits),
    )
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Jobs => jobs(ctx).await,
        Command::Run(args) => run_now(ctx, args).await,
        Command::Runs { job, limit } => runs(ctx, job, limit).await,
    }
}

async fn jobs(ctx: &Context) -> Result<(), Failure> {
    let scheduler = scheduler(ctx).await?;
    let store = ctx.store().await?;
    let jobs = scheduler.jobs(Utc::now());
    let latest = store.latest_runs().await?;
    // The job list follows the attached settings (issue 22): a system whose `[pull]` was
    // removed keeps its saved pull state, but has no job.
    let mut pulls = Vec::new();
    for state in store.pull_states().await? {
        let scheduled = match store.writeback_config(&state.system_id).await {
            Ok(text) => WritebackConfig::parse(&text).is_ok_and(|c| c.pull.is_some()),
            Err(StoreError::NotFound { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        if scheduled {
            pulls.push(state);
        }
    }
    let mut rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let last = latest.iter().find(|r| r.job == j.job.name());
            vec![
                j.job.name().to_owned(),
                j.schedule.clone(),
                j.next_run
                    .map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S%:z").to_string()),
                if j.active { "是 yes" } else { "否 no" }.to_owned(),
                last.map_or("-".to_owned(), |r| match &r.outcome {
                    Some(outcome) => format!("{} {outcome}", r.tick.format("%Y-%m-%d %H:%M:%S")),
                    None => format!(
                        "{} 未结束 unfinished ({})",
                        r.tick.format("%Y-%m-%d %H:%M:%S"),
                        r.node
                    ),
                }),
                j.description.clone(),
            ]
        })
        .collect();
    for p in &pulls {
        rows.push(vec![
            format!("pull:{}", p.system_id),
            "[pull] schedule".to_owned(),
            p.next_run_at.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
            "是 yes".to_owned(),
            p.last_run_at.map_or("-".to_owned(), |t| {
                format!(
                    "{} {}",
                    t.format("%Y-%m-%d %H:%M:%S"),
                    if p.last_error.is_some() { "failed" } else { "ok" }
                )
            }),
            "拉取同步 pull-sync (crate::pull)".to_owned(),
        ]);
    }
    ctx.out.table(
        &[
            "任务 job",
            "计划 schedule",
            "下次 next run",
            "启用 active",
            "上次 last run",
            "说明",
        ],
        rows,
        &json!({ "jobs": jobs, "latest_runs": latest, "pulls": pulls }),
    );
    Ok(())
}

async fn run_now(ctx: &Context, args: RunArgs) -> Result<(), Failure> {
    let selected: Vec<Job> = if args.job == "all" {
        JOBS.to_vec()
    } else {
        vec![Job::parse(&args.job).ok_or_else(|| {
            Failure::Refused(anyhow::anyhow!(
                "unknown job {:?}: use one of {}, or all",
                args.job,
                JOBS.map(Job::name).join(", ")
            ))
        })?]
    };
    debug_assert!(args.once, "clap requires --once");
    let scheduler = scheduler(ctx).await?;
    let day = args.date.unwrap_or_else(crate::calendar::today);
    let mut reports = Vec::new();
    let mut human = Vec::new();
    for job in selected {
        let report = scheduler.run_now(job, day).await?;
        human.push(format!(
            "{} {} → {}: {} (run {})",
            report.job.name(),
            report.day,
            report.outcome,
            report.detail,
            report.run_id
        ));
        reports.push(report);
    }
    ctx.out.show(human.join("\n"), &reports);
    if reports.iter().all(|r| r.outcome == "ok") {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow::anyhow!("a job failed; see its detail")))
    }
}

async fn runs(ctx: &Context, job: Option<String>, limit: i64) -> Result<(), Failure> {
    let store = ctx.store().await?;
    let runs = store.job_runs(job.as_deref(), false, limit).await?;
    let rows = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.job.clone(),
                r.tick.to_rfc3339(),
                r.node.clone(),
                r.outcome
                    .clone()
                    .unwrap_or_else(|| "未结束 unfinished".to_owned()),
                r.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "id",
            "任务 job",
            "tick",
            "节点 node",
            "结果 outcome",
            "详情 detail",
        ],
        rows,
        &runs,
    );
    Ok(())
}

pub(super) async fn notifications(ctx: &Context, command: NotificationsCommand) -> Result<(), Failure> {
    let NotificationsCommand::List { level, state, limit } = command;
    let store = ctx.store().await?;
    let list = store.list_notifications(level, state.as_deref(), limit).await?;
    let rows = list
        .iter()
        .map(|n| {
            vec![
                n.id.to_string(),
                n.day.to_string(),
                match n.level.as_str() {
                    "escalation" => "督办升级 escalation".to_owned(),
                    _ => "提醒 reminder".to_owned(),
                },
                format!("{}/{}", n.subject_kind, n.subject_id),
                n.message.clone(),
                format!("{} ({})", n.delivery_state, n.attempts),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "id",
            "日期 day",
            "级别 level",
            "对象 subject",
            "内容 message",
            "投递 delivery",
        ],
        rows,
        &list,
    );
    Ok(())
}
