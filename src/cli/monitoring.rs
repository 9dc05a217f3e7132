//! `ronghe reconcile SYSTEM --date DATE`, `ronghe spot-check SYSTEM --date DATE --size N
//! --seed S` and `ronghe check SYSTEM [--accept --reason R] [--history]`: business monitoring
//! (Art. 15) from the command line.

use std::sync::Arc;

use chrono::NaiveDate;
use clap::Args;
use ronghe_adapters::{Environment, Secrets};
use serde_json::json;

use super::{Context, Failure};
use crate::monitoring::{self, ReportFormat};
use crate::pull::PullError;
use crate::reconciliation::Reconciliation;

#[derive(Debug, Args)]
pub(super) struct ReconcileArgs {
    /// The system (with `--stored`: optional, all systems when left out).
    #[arg(required_unless_present = "stored")]
    system: Option<String>,
    /// The day (Beijing time), YYYY-MM-DD (with `--stored`: optional).
    #[arg(long, required_unless_present = "stored")]
    date: Option<NaiveDate>,
    /// Report format: text, json, md, html or csv (one row per differing case).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Show the reconciliations the daily job saved instead of reconciling now.
    #[arg(long)]
    stored: bool,
}

#[derive(Debug, Args)]
pub(super) struct SpotCheckArgs {
    system: String,
    #[arg(long)]
    date: NaiveDate,
    /// How many cases to draw.
    #[arg(long, default_value_t = 10)]
    size: usize,
    /// The seed: the same seed and data give the same sample (record it with the check).
    #[arg(long)]
    seed: u64,
    /// Output format: text, json or csv (one row per drawn case).
    #[arg(long, value_enum, default_value_t = SampleFormat::Text)]
    format: SampleFormat,
}

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    system: String,
    /// Accept the drift found: the fresh probe profile replaces the stored one (audited).
    #[arg(long, requires = "reason")]
    accept: bool,
    /// Why the drift is accepted (e.g. the mapping was adapted to the announced change).
    #[arg(long, requires = "accept")]
    reason: Option<String>,
    /// Show the system's recorded checks instead of checking now.
    #[arg(long, conflicts_with = "accept")]
    history: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum SampleFormat {
    Text,
    Json,
    Csv,
}

impl From<PullError> for Failure {
    fn from(err: PullError) -> Failure {
        match err {
            PullError::Store(e) => e.into(),
            refused @ (PullError::Intake(_)
            | PullError::Adapter { .. }
            | PullError::NoSchedule(_)
            | PullError::EmptySource { .. }) => Failure::Refused(refused.into()),
            other => Failure::Failed(other.into()),
        }
    }
}

pub(super) async fn reconcile(ctx: &Context, args: ReconcileArgs) -> Result<(), Failure> {
    if args.stored {
        return stored(ctx, args).await;
    }
    let (Some(system), Some(date)) = (args.system, args.date) else {
        return Err(Failure::Refused(anyhow::anyhow!(
            "give SYSTEM and --date, or --stored"
        )));
    };
    let config = ctx.config()?;
    let secrets: Arc<dyn Secrets> = Arc::new(Environment);
    let store = ctx.store().await?;
    let intake = crate::intake::Intake::new(&store, config.mappings_dir.clone(), secrets.clone());
    let report = monitoring::reconcile(&store, &intake, &system, date).await?;
    show_report(ctx, &report, args.format)?;
    if report.clean { Ok(()) } else { Err(Failure::No) }
}

fn show_report(ctx: &Context, report: &Reconciliation, format: ReportFormat) -> Result<(), Failure> {
    let text = monitoring::render(report, format).map_err(|e| Failure::Failed(e.into()))?;
    ctx.out.show(text.trim_end(), report);
    Ok(())
}

/// The saved reconciliations: a table, or one report in `--format`.
async fn stored(ctx: &Context, args: ReconcileArgs) -> Result<(), Failure> {
    let store = ctx.store().await?;
    let saved = store.reconciliations(args.system.as_deref(), args.date).await?;
    if args.format != ReportFormat::Text {
        let [one] = saved.as_slice() else {
            return Err(Failure::Refused(anyhow::anyhow!(
                "{} saved reconciliations match: give SYSTEM and --date for one report in --format",
                saved.len()
            )));
        };
        return show_report(ctx, &one.report, args.format);
    }
    let rows = saved
        .iter()
        .map(|s| {
            vec![
                s.system_id.clone(),
                s.date.to_string(),
                if s.clean {
                    "无差异 clean".to_owned()
                } else {
                    format!("差异 {}", s.report.differences.len())
                },
                s.report.legacy_cases.to_string(),
                s.report.platform_cases.to_string(),
                s.created_at.to_rfc3339(),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "系统 system",
            "日期 date",
            "结论 result",
            "原系统 legacy",
            "平台 platform",
            "保存 saved at",
        ],
        rows,
        &saved,
    );
    Ok(())
}

pub(super) async fn spot_check(ctx: &Context, args: SpotCheckArgs) -> Result<(), Failure> {
    let store = ctx.store().await?;
    let sample =
        monitoring::spot_check(&store, &args.system, args.date, args.size, args.seed, &ctx.actor).await?;
    let value = json!({ "system": args.system, "date": args.date, "seed": args.seed, "sample": sample });
    let human = match args.format {
        SampleFormat::Csv => monitoring::spot_check_csv(&args.system, args.date, args.seed, &sample)
            .map_err(|e| Failure::Failed(e.into()))?
            .trim_end()
            .to_owned(),
        SampleFormat::Json => value.to_string(),
        SampleFormat::Text => format!(
            "{} {} 抽查样本 sample (seed {}): {}",
            args.system,
            args.date,
            args.seed,
            if sample.is_empty() {
                "（当日无办件 none that day）".to_owned()
            } else {
                sample.join(", ")
            }
        ),
    };
    ctx.out.show(human, &value);
    Ok(())
}

/// A drift's change in words.
fn change_words(change: &crate::mapping::Change) -> String {
    use crate::mapping::Change;
    match change {
        Change::Added { data_type } => format!("新增 added ({data_type})"),
        Change::Removed { data_type } => format!("删除 removed ({data_type})"),
        Change::Retyped { from, to } => format!("类型变更 retyped {from} → {to}"),
        Change::Nullability { nullable: true } => "可为空 now nullable".to_owned(),
        Change::Nullability { nullable: false } => "不再为空 no longer nullable".to_owned(),
        Change::NewCodes { table, codes } => {
            format!("新代码值 new codes {} (table {table})", codes.join(", "))
        }
    }
}

/// `ronghe check SYSTEM`: probes the system and compares; exit 1 when it cannot be reached or
/// drift breaks its mapping (and was not accepted).
pub(super) async fn check(ctx: &Context, args: CheckArgs) -> Result<(), Failure> {
    let store = ctx.store().await?;
    if args.history {
        let checks = store.list_checks(&args.system, 50).await?;
        let rows = checks
            .iter()
            .map(|c| {
                vec![
                    c.id.to_string(),
                    c.checked_at.to_rfc3339(),
                    if c.reachable {
                        "可达 reachable"
                    } else {
                        "不可达 unreachable"
                    }
                    .to_owned(),
                    c.latency_ms.map_or_else(String::new, |ms| format!("{ms} ms")),
                    format!(
                        "{} ({} breaking)",
                        c.drifts.len(),
                        c.drifts.iter().filter(|d| d.breaking).count()
                    ),
                    c.accepted_by.clone().unwrap_or_default(),
                ]
            })
            .collect();
        ctx.out.table(
            &[
                "ID",
                "时间 at",
                "结果 result",
                "耗时 latency",
                "变化 drift",
                "接受 accepted by",
            ],
            rows,
            &checks,
        );
        return Ok(());
    }
    let mappings_dir = ctx.config()?.mappings_dir;
    let reason = args.reason.as_deref().filter(|_| args.accept);
    let done = monitoring::check(
        &store,
        &Environment,
        &mappings_dir,
        &args.system,
        &ctx.actor,
        reason,
    )
    .await?;
    let mut human = match (&done.error, done.latency_ms) {
        (Some(error), _) => format!("✗ {} 不可达 unreachable: {error}", args.system),
        (None, latency) => format!(
            "{} {} 可达 reachable ({} ms), 变化 drift: {}",
            if done.breaking && done.accepted_by.is_none() {
                "✗"
            } else {
                "✓"
            },
            args.system,
            latency.unwrap_or_default(),
            done.drifts.len()
        ),
    };
    for d in &done.drifts {
        human.push_str(&format!(
            "\n  {} {}.{}: {}{}",
            if d.breaking {
                "破坏 breaking"
            } else {
                "无影响 non-breaking"
            },
            d.entity,
            d.field,
            change_words(&d.change),
            if d.rules.is_empty() {
                String::new()
            } else {
                format!(" — rules {}", d.rules.join(", "))
            }
        ));
    }
    if done.unannounced {
        human.push_str("\n  未公告 unannounced: no interface-change notice (Art. 30) took effect since the stored profile was taken");
    }
    if let Some(by) = &done.accepted_by {
        human.push_str(&format!(
            "\n  已接受 accepted by {by}: the fresh profile replaced the stored one"
        ));
    } else if !done.drifts.is_empty() {
        human.push_str(&format!(
            "\n  adapt the mapping (ronghe mapping check), then accept: ronghe check {} --accept --reason …",
            args.system
        ));
    }
    ctx.out.show(human, &done);
    if !done.reachable || (done.breaking && done.accepted_by.is_none()) {
        Err(Failure::No)
    } else {
        Ok(())
    }
}
