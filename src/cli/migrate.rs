//! `ronghe migrate run|resume|status SYSTEM`: bulk migration of a full-migration system's history
//! (issue 9). A progress bar on a terminal (rows, rows/s, ETA, rejects), log lines otherwise.
//! Exit 0 when the run is complete and reconciled clean; 1 when it is incomplete, stopped by its
//! error budget or unfinished; 2 when the job, its mapping or the runs' state forbid running;
//! 3 when the source or the store fails.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Subcommand;
use ronghe_adapters::{Environment, Secrets};

use super::{Context, Failure};
use crate::migration::{Mandate, MigrationError, Migrator, Progress};
use crate::store::{MigrationRun, RunState};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Start a new run of the system's migration job 开始迁移.
    Run {
        system: String,
        /// The job file (default integration/SYSTEM/migration-job.toml).
        #[arg(long, value_name = "PATH")]
        job: Option<PathBuf>,
        /// Migrate although the system's verdict is not full migration (or it has none);
        /// needs --reason, which is audited 强制迁移.
        #[arg(long, requires = "reason")]
        force: bool,
        /// Why the run is forced (recorded in the audit log).
        #[arg(long, value_name = "TEXT", requires = "force")]
        reason: Option<String>,
    },
    /// Resume the system's unfinished run from its last committed chunk 断点续传.
    Resume { system: String },
    /// The system's latest run: state, counts, report 迁移状态.
    Status { system: String },
}

impl From<MigrationError> for Failure {
    fn from(err: MigrationError) -> Failure {
        match err {
            MigrationError::Store(e) => e.into(),
            usage if usage.is_usage() => Failure::Usage(usage.into()),
            other => Failure::Failed(other.into()),
        }
    }
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let secrets: Arc<dyn Secrets> = Arc::new(Environment);
    match command {
        Command::Run {
            system,
            job,
            force: _,
            reason,
        } => {
            let job = job.unwrap_or_else(|| {
                PathBuf::from("integration")
                    .join(&system)
                    .join("migration-job.toml")
            });
            let migrator = Migrator::new(ctx.store().await?, secrets, &ctx.actor);
            let bar = Bar::new();
            let mandate = match reason {
                Some(reason) if reason.trim().is_empty() => {
                    return Err(Failure::Usage(anyhow::anyhow!(
                        "--reason is empty: say why {system} is migrated without a full-migration verdict"
                    )));
                }
                Some(reason) => Mandate::Forced { reason },
                None => Mandate::Verdict,
            };
            let run = migrator.start(&system, &job, &mandate, &|p| bar.update(p)).await;
            bar.finish();
            conclude(ctx, &migrator, run?).await
        }
        Command::Resume { system } => {
            let migrator = Migrator::new(ctx.store().await?, secrets, &ctx.actor);
            let bar = Bar::new();
            let run = migrator.resume(&system, &|p| bar.update(p)).await;
            bar.finish();
            conclude(ctx, &migrator, run?).await
        }
        Command::Status { system } => {
            let store = ctx.store().await?;
            let Some(run) = store.latest_migration(&system).await? else {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "system {system:?} has no migration run (ronghe migrate run {system})"
                )));
            };
            show(ctx, &run);
            answer(&run)
        }
    }
}

async fn conclude(ctx: &Context, migrator: &Migrator, run: MigrationRun) -> Result<(), Failure> {
    show(ctx, &run);
    if run.state == RunState::Incomplete
        && let Some(report) = migrator.store().migration_report(&run.id).await?
        && let Some(differences) = report["differences"].as_array()
    {
        for d in differences.iter().take(20) {
            ctx.out.note(&format!(
                "  {} {} v{} {}",
                d["kind"].as_str().unwrap_or("-"),
                d["case_no"].as_str().unwrap_or("-"),
                d["version"].as_i64().map_or("-".to_owned(), |v| v.to_string()),
                d["detail"].as_str().unwrap_or("")
            ));
        }
    }
    answer(&run)
}

fn answer(run: &MigrationRun) -> Result<(), Failure> {
    if run.state == RunState::Complete {
        Ok(())
    } else {
        Err(Failure::No)
    }
}

fn show(ctx: &Context, run: &MigrationRun) {
    let mut human = format!(
        "{} 迁移 migration {}: {} · 读取 read {} · 写入 written {} · 拒收 rejected {} · 分块 chunks {}",
        run.system_id,
        run.id,
        run.state.name(),
        run.rows_read,
        run.rows_written,
        run.rows_rejected,
        run.chunks
    );
    if let Some(message) = &run.message {
        human.push_str(&format!("\n  {message}"));
    }
    if let Some(watermark) = &run.watermark {
        human.push_str(&format!("\n  检查点 checkpoint: {watermark}"));
    }
    if let Some(owner) = &run.owner {
        human.push_str(&format!(
            "\n  执行进程 carried by: {owner} (最近进展 last moved {})",
            run.updated_at.to_rfc3339()
        ));
    }
    if let (Some(json), Some(md)) = (&run.report_json_path, &run.report_md_path) {
        human.push_str(&format!("\n  报告 report: {md} ({json})"));
    }
    ctx.out.show(human, run);
}

/// The progress display: an indicatif bar on a terminal, a log line every few seconds otherwise.
struct Bar {
    bar: Option<indicatif::ProgressBar>,
    logged: Mutex<Instant>,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Bar {
    fn new() -> Bar {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{wide_bar} {pos}/{len} rows {per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Bar {
            bar,
            logged: Mutex::new(Instant::now()),
        }
    }

    fn update(&self, p: &Progress) {
        let read = u64::try_from(p.rows_read).unwrap_or(0);
        if let Some(bar) = &self.bar {
            let total = p.source_rows.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
            bar.set_length(total.max(read));
            bar.set_position(read);
            bar.set_message(format!("拒收 rejects {}", p.rows_rejected));
            return;
        }
        let Ok(mut logged) = self.logged.lock() else {
            return;
        };
        if logged.elapsed() >= LOG_EVERY {
            *logged = Instant::now();
            tracing::info!(
                rows_read = p.rows_read,
                rows_written = p.rows_written,
                rows_rejected = p.rows_rejected,
                source_rows = p.source_rows,
                "migration progress"
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
