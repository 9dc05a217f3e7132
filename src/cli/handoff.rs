//! `ronghe handoff list|retry|run`: the front-end migration hand-off queue (前端迁移, Art. 22):
//! see what waits or failed, put a failed application back in the queue, and run the worker
//! that submits queued applications through each system's adapter.

use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;

use super::{Context, Failure};
use crate::handoff::Worker;
use crate::store::HandoffState;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// List hand-offs 推送队列.
    List {
        /// Only this system's hand-offs.
        #[arg(long)]
        system: Option<String>,
        /// Only hand-offs in this state: queued, delivered, failed.
        #[arg(long)]
        state: Option<String>,
    },
    /// Put a failed hand-off back in the queue, due now 重新推送.
    Retry { id: i64 },
    /// Submit queued applications; with --once one round, else until Ctrl-C 执行推送.
    Run {
        /// One round over what is due now, then exit.
        #[arg(long)]
        once: bool,
        /// Seconds to wait between rounds when nothing was due.
        #[arg(long, default_value_t = 2)]
        idle_seconds: u64,
    },
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let store = ctx.store().await?;
    match command {
        Command::List { system, state } => {
            let state = match state.as_deref() {
                None => None,
                Some(name) => Some(HandoffState::parse(name).ok_or_else(|| {
                    Failure::Refused(anyhow::anyhow!(
                        "--state {name:?}: use queued, delivered or failed"
                    ))
                })?),
            };
            let list = store.list_handoffs(system.as_deref(), state).await?;
            let rows = list
                .iter()
                .map(|h| {
                    vec![
                        h.id.to_string(),
                        h.system_id.clone(),
                        h.case_no.clone(),
                        format!("{} {}", h.state.label(), h.state.name()),
                        h.attempts.to_string(),
                        match h.state {
                            HandoffState::Queued => {
                                h.next_attempt_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                            }
                            _ => String::new(),
                        },
                        h.receipt
                            .as_ref()
                            .and_then(|r| r.get("id"))
                            .and_then(|id| id.as_str())
                            .unwrap_or_default()
                            .to_owned(),
                        h.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "ID",
                    "系统 system",
                    "办件编号 case",
                    "状态 state",
                    "尝试 attempts",
                    "下次 next",
                    "回执 receipt",
                    "错误 last error",
                ],
                rows,
                &list,
            );
        }
        Command::Retry { id } => {
            let (handoff, retried) = store.retry_handoff(id, &ctx.actor, store.clock().await?).await?;
            if !retried {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "hand-off {id} is {} ({}): only a failed hand-off is put back in the queue; \
                     queued ones are retried by the worker, delivered ones never again",
                    handoff.state.name(),
                    handoff.state.label()
                )));
            }
            ctx.out.show(
                format!(
                    "已重新排队 queued again: hand-off {} ({}/{})",
                    handoff.id, handoff.system_id, handoff.case_no
                ),
                &handoff,
            );
        }
        Command::Run { once, idle_seconds } => {
            let worker = Worker::new(store.clone(), Arc::new(ronghe_adapters::Environment));
            if once {
                let summary = worker.run_once(store.clock().await?).await?;
                ctx.out.show(
                    format!(
                        "推送 handed over: {} delivered 已推送, {} queued for retry 待重试, {} failed 失败",
                        summary.delivered, summary.retry_later, summary.failed
                    ),
                    &summary,
                );
            } else {
                let stop = tokio_util::sync::CancellationToken::new();
                crate::server::cancel_on_signal(stop.clone());
                worker.run(Duration::from_secs(idle_seconds), stop).await;
            }
        }
    }
    Ok(())
}
