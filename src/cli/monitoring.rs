//! `ronghe reconcile SYSTEM --date DATE` and `ronghe spot-check SYSTEM --date DATE --size N
//! --seed S`: business monitoring (Art. 15) from the command line.

use std::sync::Arc;

use chrono::NaiveDate;
use clap::Args;
use ronghe_adapters::{Environment, Secrets};
use serde_json::json;

use super::{Context, Failure};
use crate::monitoring;
use crate::pull::PullError;

#[derive(Debug, Args)]
pub(super) struct ReconcileArgs {
    system: String,
    /// The day (Beijing time), YYYY-MM-DD.
    #[arg(long)]
    date: NaiveDate,
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
}

impl From<PullError> for Failure {
    fn from(err: PullError) -> Failure {
        match err {
            PullError::Store(e) => e.into(),
            refused @ (PullError::Intake(_) | PullError::Adapter { .. } | PullError::NoSchedule(_)) => {
                Failure::Refused(refused.into())
            }
            other => Failure::Failed(other.into()),
        }
    }
}

pub(super) async fn reconcile(ctx: &Context, args: ReconcileArgs) -> Result<(), Failure> {
    let config = ctx.config()?;
    let secrets: Arc<dyn Secrets> = Arc::new(Environment);
    let intake = crate::writeback::Intake::new(config.mappings_dir.clone(), secrets.clone());
    let store = ctx.store().await?;
    let report = monitoring::reconcile(&store, &intake, secrets.as_ref(), &args.system, args.date).await?;
    let mut human = format!(
        "{} {} 对账 reconciliation: 原系统 legacy {} · 平台 platform {} · 一致 matched {} · {}",
        report.system_id,
        report.date,
        report.legacy_cases,
        report.platform_cases,
        report.matched,
        if report.clean {
            "无差异 clean".to_owned()
        } else {
            format!("差异 differences {}", report.differences.len())
        }
    );
    for d in &report.differences {
        human.push_str(&format!(
            "\n  {} {} (原系统 v{} / 平台 v{})",
            d.kind,
            d.case_no,
            d.legacy_version.map_or("-".to_owned(), |v| v.to_string()),
            d.platform_version.map_or("-".to_owned(), |v| v.to_string())
        ));
    }
    if !report.unmappable.is_empty() {
        human.push_str(&format!(
            "\n  无法映射 unmappable: {}",
            report.unmappable.join(", ")
        ));
    }
    ctx.out.show(human, &report);
    if report.clean { Ok(()) } else { Err(Failure::No) }
}

pub(super) async fn spot_check(ctx: &Context, args: SpotCheckArgs) -> Result<(), Failure> {
    let store = ctx.store().await?;
    let sample =
        monitoring::spot_check(&store, &args.system, args.date, args.size, args.seed, &ctx.actor).await?;
    ctx.out.show(
        format!(
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
        &json!({ "system": args.system, "date": args.date, "seed": args.seed, "sample": sample }),
    );
    Ok(())
}
