//! `ronghe exchange status|dlq list|dlq replay|deliver --once`: the outbox to the provincial
//! data-sharing exchange (Art. 27) for operators.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{Context, Failure};
use crate::store::{OutboxState, Replay};

/// Most dead items one listing shows.
const DLQ_LIMIT: u32 = 1000;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Backlog, dead items and the oldest pending item 交换状态.
    Status,
    /// The dead-letter queue 死信队列.
    #[command(subcommand)]
    Dlq(Dlq),
    /// Deliver what is due now with this config's [exchange], then exit 立即投递一轮.
    Deliver(DeliverArgs),
}

#[derive(Debug, Subcommand)]
pub(super) enum Dlq {
    /// List dead items 列出.
    List {
        /// Only this system's items.
        #[arg(long)]
        system: Option<String>,
    },
    /// Put dead items back in the queue (attempts reset), audited 重新投递.
    Replay {
        /// Ids of dead items (from `dlq list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<i64>,
        /// Every dead item (of --system, if given).
        #[arg(long)]
        all: bool,
        /// With --all: only this system's items.
        #[arg(long, requires = "all")]
        system: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(super) struct DeliverArgs {
    /// One pass (and the versions it unblocks), then exit; the only mode (`ronghe serve` runs
    /// the continuous worker).
    #[arg(long, required = true)]
    once: bool,
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Status => {
            let status = ctx.store().await?.outbox_status().await?;
            let oldest = status
                .oldest_pending_at
                .map_or_else(|| "-".to_owned(), |at| at.to_rfc3339());
            ctx.out.show(
                format!(
                    "待投递 backlog: {}\n死信 dead: {}\n已投递 delivered: {}\n最早待投递 oldest pending: {oldest}",
                    status.backlog, status.dead, status.delivered
                ),
                &status,
            );
        }
        Command::Dlq(Dlq::List { system }) => {
            let items = ctx
                .store()
                .await?
                .outbox_items(OutboxState::Dead, system.as_deref(), DLQ_LIMIT)
                .await?;
            let rows = items
                .iter()
                .map(|i| {
                    vec![
                        i.id.to_string(),
                        i.system_id.clone(),
                        i.case_no.clone(),
                        i.version.to_string(),
                        i.attempts.to_string(),
                        i.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "ID",
                    "系统 system",
                    "办件编号 case",
                    "版本 version",
                    "尝试 attempts",
                    "最后错误 last error",
                ],
                rows,
                &items,
            );
        }
        Command::Dlq(Dlq::Replay { ids, all, system }) => {
            let which = if all {
                Replay::All { system_id: system }
            } else {
                Replay::Ids(ids)
            };
            let replayed = ctx.store().await?.replay_outbox(&which, &ctx.actor).await?;
            ctx.out.show(
                format!(
                    "已重新排队 replayed {} item(s): {}",
                    replayed.len(),
                    replayed.iter().map(|i| i.key()).collect::<Vec<_>>().join(", ")
                ),
                &json!({ "replayed": replayed }),
            );
        }
        Command::Deliver(DeliverArgs { once: _ }) => {
            let config = ctx.config()?;
            let exchange = config
                .exchange
                .as_ref()
                .ok_or_else(|| Failure::Refused(anyhow::anyhow!("no [exchange] in the config; see README")))?
                .build(&ronghe_adapters::Environment)
                .context("cannot build [exchange]")
                .map_err(Failure::Refused)?;
            let node = crate::store::random_id("cli")?;
            let worker = crate::exchange::Worker::new(
                ctx.store().await?,
                exchange,
                node,
                crate::exchange::DeliveryMetrics::new(),
            )
            .map_err(|e| Failure::Failed(e.into()))?;
            let report = worker.drain().await?;
            ctx.out.show(
                format!(
                    "已投递 delivered {}, 待重试 retried {}, 死信 dead {} (claimed {})",
                    report.delivered, report.retried, report.dead, report.claimed
                ),
                &report,
            );
        }
    }
    Ok(())
}
