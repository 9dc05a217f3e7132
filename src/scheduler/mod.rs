//! The scheduler inside `ronghe serve` (issue 7): a registry of jobs, each on a cron schedule in
//! Beijing time (`[scheduler]`). Every tick of a job is claimed in the store (`job_runs`, unique
//! per job and tick): with several nodes on one PostgreSQL store the node whose insert wins runs
//! it, the others pass. `jobs` holds what the jobs do (plan evaluation, correction deadlines,
//! reconciliation, system checks) and the reminder/escalation rule; `webhook` delivers notifications.
//! Pull-sync keeps its own schedule and lease in `crate::pull`.

mod config;
mod jobs;
mod webhook;

pub use self::config::SchedulerConfig;
pub use webhook::{DeliveryReport, WebhookSink};

use std::str::FromStr as _;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use ronghe_adapters::Secrets;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::calendar::{Calendar, CalendarError, beijing_date};
use crate::intake::Intake;
use crate::store::{Store, StoreError};

/// The jobs, in the order `all` runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// 计划评估: overdue milestones, plans turning amber or red, notices taking effect today.
    Plans,
    /// 纠错期限: correction requests overdue or due within `due_soon_working_days`.
    Corrections,
    /// 每日对账: each attached system's previous day, saved for the report endpoints.
    Reconcile,
    /// 系统检查: each probed system's reachability and schema drift (Art. 15).
    Checks,
    /// 办件回访抽样: on the month's first working day, the previous month's return-visit plan.
    Visits,
    /// 通知投递: queued notifications to the webhook, retried until accepted.
    Deliver,
}

/// Days of `deliver` runs kept in `job_runs`.
const DELIVER_RUNS_KEPT_DAYS: i64 = 7;

/// Every job, in run order.
pub const JOBS: [Job; 6] = [
    Job::Plans,
    Job::Corrections,
    Job::Reconcile,
    Job::Checks,
    Job::Visits,
    Job::Deliver,
];

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Plans => "plans",
            Job::Corrections => "corrections",
            Job::Reconcile => "reconcile",
            Job::Checks => "checks",
            Job::Visits => "visits",
            Job::Deliver => "deliver",
        }
    }

    /// zh-CN description with English.
    pub fn describe(self) -> &'static str {
        match self {
            Job::Plans => "计划评估：逾期里程碑、红黄灯变化、当日生效公告 (plan evaluation)",
            Job::Corrections => "纠错期限提醒与督办升级 (correction deadlines, Art. 28/33)",
            Job::Reconcile => "各系统前一日对账并保存 (daily reconciliation, Art. 15)",
            Job::Checks => "各系统可达性与结构变化检查 (system checks and schema drift, Art. 15)",
            Job::Visits => "每月第一个工作日抽取上月办结办件的回访样本 (return-visit plan, Art. 15)",
            Job::Deliver => "通知投递到 webhook，失败重试 (notification delivery)",
        }
    }

    pub fn parse(name: &str) -> Option<Job> {
        JOBS.into_iter().find(|j| j.name() == name)
    }

    fn schedule_text(self, config: &SchedulerConfig) -> &str {
        match self {
            Job::Plans => &config.plans_schedule,
            Job::Corrections => &config.corrections_schedule,
            Job::Reconcile => &config.reconcile_schedule,
            Job::Checks => &config.checks_schedule,
            Job::Visits => &config.visits_schedule,
            Job::Deliver => &config.deliver_schedule,
        }
    }
}

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid [scheduler] config: {}", .0.join("; "))]
    Config(Vec<String>),
    #[error("cannot build the webhook client: {0}")]
    Client(String),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Job(String),
}

/// A job as listed: its schedule and next tick.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobInfo {
    pub job: Job,
    pub description: String,
    pub schedule: String,
    /// The next tick (Beijing time).
    pub next_run: Option<DateTime<FixedOffset>>,
    /// Whether `ronghe serve` runs it (delivery needs a webhook).
    pub active: bool,
}

/// What one claimed tick did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub job: Job,
    pub run_id: i64,
    pub tick: DateTime<Utc>,
    /// The Beijing day the job evaluated.
    pub day: NaiveDate,
    /// `ok` or `failed`.
    pub outcome: String,
    pub detail: String,
    /// Notifications this run queued.
    pub notifications: usize,
}

/// What a run did so far: what it looked at, what it queued, what failed (a failure of one
/// item does not stop the others).
#[derive(Debug, Default)]
struct Done {
    notes: Vec<String>,
    notifications: usize,
    failures: Vec<String>,
}

impl Done {
    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn summary(&self) -> String {
        let mut parts = self.notes.clone();
        parts.push(format!("notifications {}", self.notifications));
        parts.join(", ")
    }
}

/// Beijing time: the province's clock. No daylight saving since 1991.
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is a valid offset"))
}

/// The key id webhook requests are signed under (`X-Ronghe-Key-Id`).
pub const WEBHOOK_KEY_ID: &str = "ronghe";

/// Runs the jobs of one node.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    calendar: Arc<Calendar>,
    intake: Intake,
    secrets: Arc<dyn Secrets>,
    config: SchedulerConfig,
    schedules: Vec<(Job, cron::Schedule)>,
    /// Where notifications go, when `webhook_url` is set.
    webhook: Option<WebhookSink>,
    /// This node's name in `job_runs`.
    node: String,
    /// Cases the `visits` job's monthly plan draws (`[visits] sample_size_per_month`).
    visits_sample_size: usize,
}

impl Scheduler {
    /// A scheduler for `config` (checked again here: a bad schedule is refused, not skipped).
    pub fn new(
        store: Store,
        calendar: Arc<Calendar>,
        intake: Intake,
        secrets: Arc<dyn Secrets>,
        config: SchedulerConfig,
    ) -> Result<Scheduler, SchedulerError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(SchedulerError::Config(problems));
        }
        let schedules = JOBS
            .into_iter()
            .map(|job| {
                cron::Schedule::from_str(job.schedule_text(&config))
                    .map(|s| (job, s))
                    .map_err(|e| SchedulerError::Config(vec![e.to_string()]))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let webhook = WebhookSink::from_config(&config, secrets.as_ref())?;
        let node = crate::store::random_id("sched")?;
        Ok(Scheduler {
            store,
            calendar,
            intake,
            secrets,
            config,
            schedules,
            webhook,
            node,
            visits_sample_size: crate::visits::DEFAULT_SAMPLE_SIZE,
        })
    }

    /// The scheduler with `[visits]`' settings for its `visits` job.
    pub fn with_visits(mut self, visits: &crate::visits::VisitsConfig) -> Scheduler {
        self.visits_sample_size = visits.sample_size_per_month;
        self
    }

    /// This node's name in `job_runs`.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn active(&self, job: Job) -> bool {
        job != Job::Deliver || self.config.webhook_url.is_some()
    }

    /// Every job with its schedule and next tick after `now`.
    pub fn jobs(&self, now: DateTime<Utc>) -> Vec<JobInfo> {
        self.schedules
            .iter()
            .map(|(job, schedule)| JobInfo {
                job: *job,
                description: job.describe().to_owned(),
                schedule: job.schedule_text(&self.config).to_owned(),
                next_run: schedule.after(&now.with_timezone(&beijing())).next(),
                active: self.config.enabled && self.active(*job),
            })
            .collect()
    }

    /// Runs `job`'s `tick` for the Beijing day `day` if this node wins the tick: `None` when
    /// another node (or an earlier call) holds it. A job's failure is recorded in its run and
    /// answered as the report's outcome; only the store failing is an error.
    pub async fn run_tick(
        &self,
        job: Job,
        tick: DateTime<Utc>,
        day: NaiveDate,
    ) -> Result<Option<RunReport>, SchedulerError> {
        let Some(run_id) = self
            .store
            .claim_tick(job.name(), tick, &self.node, self.store.clock().await?)
            .await?
        else {
            tracing::debug!(job = job.name(), %tick, "tick already claimed by another node");
            return Ok(None);
        };
        tracing::info!(job = job.name(), %tick, %day, run = run_id, node = %self.node, "job started");
        let mut done = Done::default();
        let (outcome, detail) = match self.execute(job, day, run_id, &mut done).await {
            Ok(()) if done.failures.is_empty() => ("ok", done.summary()),
            Ok(()) => (
                "failed",
                format!("{}; failed: {}", done.summary(), done.failures.join("; ")),
            ),
            Err(e) => ("failed", format!("{}; failed: {e}", done.summary())),
        };
        let notifications = done.notifications;
        self.store
            .finish_run(run_id, outcome, &detail, self.store.clock().await?)
            .await?;
        if outcome == "ok" {
            tracing::info!(job = job.name(), run = run_id, notifications, detail = %detail, "job finished");
        } else {
            tracing::warn!(job = job.name(), run = run_id, error = %detail, "job failed");
        }
        Ok(Some(RunReport {
            job,
            run_id,
            tick,
            day,
            outcome: outcome.to_owned(),
            detail,
            notifications,
        }))
    }

    /// Runs `job` now for `day` (an operator's `ronghe scheduler run --once`): its own tick.
    pub async fn run_now(&self, job: Job, day: NaiveDate) -> Result<RunReport, SchedulerError> {
        // A tick of its own: now by the database's clock, to the microsecond the store keeps.
        let now = self.store.clock().await?;
        let tick = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        self.run_tick(job, tick, day)
            .await?
            .ok_or_else(|| SchedulerError::Job(format!("the tick {tick} of {} was taken", job.name())))
    }

    async fn execute(
        &self,
        job: Job,
        day: NaiveDate,
        run: i64,
        done: &mut Done,
    ) -> Result<(), SchedulerError> {
        match job {
            Job::Plans => self.evaluate_plans(day, run, done).await,
            Job::Corrections => self.remind_corrections(day, run, done).await,
            Job::Reconcile => self.reconcile_systems(day, run, done).await,
            Job::Checks => self.check_systems(day, run, done).await,
            Job::Visits => self.plan_visits(day, done).await,
            Job::Deliver if self.config.webhook_url.is_none() => {
                done.note("no [scheduler] webhook_url: notifications stay queued".to_owned());
                Ok(())
            }
            Job::Deliver => {
                let now = self.store.clock().await?;
                let report = self.deliver(now).await?;
                done.note(format!(
                    "delivered {}, still queued {}",
                    report.delivered, report.failed
                ));
                // A run a minute: keep a week of them (the audit log keeps every one).
                let before = now - chrono::Duration::days(DELIVER_RUNS_KEPT_DAYS);
                let pruned = self.store.prune_runs(job.name(), before).await?;
                if pruned > 0 {
                    done.note(format!("pruned {pruned} old delivery runs"));
                }
                Ok(())
            }
        }
    }

    /// Runs every active job on its schedule until `shutdown` is cancelled. A missed tick (the node
    /// was down or busy) is not made up: the next one is. Ticks come due by the database's
    /// clock, so nodes with skewed clocks agree on them (the claim makes each run once).
    pub async fn run_forever(self, shutdown: CancellationToken) {
        if !self.config.enabled {
            tracing::info!("scheduler disabled ([scheduler] enabled = false)");
            return;
        }
        let next_after = |schedule: &cron::Schedule, at: DateTime<Utc>| {
            schedule
                .after(&at.with_timezone(&beijing()))
                .next()
                .map(|t| t.with_timezone(&Utc))
        };
        let now = self.clock_or_wait(&shutdown).await;
        let Some(now) = now else { return };
        let mut next: Vec<(Job, &cron::Schedule, Option<DateTime<Utc>>)> = self
            .schedules
            .iter()
            .filter(|(job, _)| self.active(*job))
            .map(|(job, schedule)| (*job, schedule, next_after(schedule, now)))
            .collect();
        loop {
            let Some(earliest) = next.iter().filter_map(|(_, _, at)| *at).min() else {
                return;
            };
            let Some(now) = self.clock_or_wait(&shutdown).await else {
                return;
            };
            if earliest > now {
                let wait = (earliest - now).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return,
                }
                continue;
            }
            for (job, schedule, at) in &mut next {
                let Some(tick) = *at else { continue };
                if tick > now {
                    continue;
                }
                if let Err(e) = self.run_tick(*job, tick, beijing_date(&tick)).await {
                    tracing::warn!(job = job.name(), %tick, error = %e, "scheduled job did not run");
                }
                let after = self.store.clock().await.unwrap_or(now).max(tick);
                *at = next_after(schedule, after);
            }
        }
    }

    /// The database's clock; while the store does not answer, retried every few seconds until
    /// `shutdown` is cancelled (then None).
    async fn clock_or_wait(&self, shutdown: &CancellationToken) -> Option<DateTime<Utc>> {
        loop {
            match self.store.clock().await {
                Ok(now) => return Some(now),
                Err(e) => tracing::warn!(error = %e, "the store does not answer; scheduler waits"),
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                () = shutdown.cancelled() => return None,
            }
        }
    }
}
