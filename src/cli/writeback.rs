//! `ronghe writeback …` and `ronghe quality …`: check and attach a system's write-back config
//! (办件回传配置), and the data-quality queue (数据质量队列): list, show (the record masked unless
//! `--unmask --purpose`, audited), dismiss.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::disclosure::Disclosure;
use super::{Context, Failure, checked, read_config, refused_config};
use crate::intake::WritebackConfig;
use crate::store::{DismissError, Guarded, QualityStatus};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Validate a write-back config without storing it; every problem at once 校验回传配置.
    Check { file: PathBuf },
    /// Validate a write-back config and attach it to a registered system 绑定回传配置.
    Attach { system: String, file: PathBuf },
    /// Pull the system's cases through its adapter now, from the last checkpoint 立即拉取.
    Pull { system: String },
    /// Every system's pull: checkpoint, next run, last error 拉取状态.
    Pulls,
}

#[derive(Debug, Subcommand)]
pub(super) enum QualityCommand {
    /// List queued records, newest first 查看数据质量队列.
    List {
        #[arg(long)]
        system: Option<String>,
        /// open, dismissed or resolved.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Show one queued record with its reasons 查看记录.
    Show {
        id: i64,
        /// With --json, the record's string values are masked unless unmasked.
        #[command(flatten)]
        disclosure: Disclosure,
    },
    /// Set an open record aside, with a reason 忽略记录.
    Dismiss {
        id: i64,
        /// Why (kept with the item and in the audit log).
        #[arg(long)]
        reason: String,
    },
}

fn summary(config: &WritebackConfig) -> String {
    let keys: Vec<String> = config
        .keys
        .iter()
        .map(|k| {
            format!(
                "{} ({}{})",
                k.id,
                k.algorithm,
                if k.retired { ", retired" } else { "" }
            )
        })
        .collect();
    format!(
        "keys {}; window {} s; batch ≤ {}; SOAP record <{}>{}{}",
        keys.join(", "),
        config.timestamp_window_seconds,
        config.intake.max_batch,
        config.intake.soap_record,
        if config.encryption.is_some() {
            "; SM4-GCM"
        } else {
            ""
        },
        config
            .pull
            .as_ref()
            .map(|p| format!("; pull {}", p.schedule))
            .unwrap_or_default()
    )
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Check { file } => {
            checked(&ctx.out, WritebackConfig::parse(&read_config(&file)?), |config| {
                (
                    format!("有效 valid: write-back config ({})", summary(config)),
                    json!({ "valid": true, "keys": config.keys.len(), "max_batch": config.intake.max_batch }),
                )
            })
        }
        Command::Attach { system, file } => {
            let text = read_config(&file)?;
            let config = WritebackConfig::parse(&text).map_err(refused_config("write-back"))?;
            let store = ctx.store().await?;
            if store.get_system(&system).await?.secret {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "system {system} is bound by secrecy rules (涉密); its cases are not written back to the platform"
                )));
            }
            store.set_writeback_config(&system, &text, &ctx.actor).await?;
            ctx.out.show(
                format!(
                    "已绑定 attached: write-back config to {system} ({})",
                    summary(&config)
                ),
                &json!({ "system": system }),
            );
            Ok(())
        }
        Command::Pull { system } => {
            let config = ctx.config()?;
            let store = ctx.store().await?;
            let secrets: std::sync::Arc<dyn ronghe_adapters::Secrets> =
                std::sync::Arc::new(ronghe_adapters::Environment);
            let intake = crate::intake::Intake::new(&store, config.mappings_dir.clone(), secrets.clone());
            // Pulled cases are attached to their platform users when the node has bridge keys.
            let bridge = match config.bridge {
                Some(_) => Some(ctx.bridge().await?),
                None => None,
            };
            let puller = crate::pull::Puller::new(store, intake, bridge)?;
            match puller.run(&system, true).await {
                Ok(Some(report)) => {
                    ctx.out.show(
                        format!(
                            "已拉取 pulled {system}: read {}, accepted {}, duplicate {}, rejected {} (checkpoint {})",
                            report.read,
                            report.accepted,
                            report.duplicate,
                            report.rejected,
                            report.checkpoint.as_deref().unwrap_or("-")
                        ),
                        &report,
                    );
                    Ok(())
                }
                Ok(None) => Err(Failure::Refused(anyhow::anyhow!(
                    "another node is pulling {system} right now; try again when it is done"
                ))),
                Err(e) => Err(e.into()),
            }
        }
        Command::Pulls => {
            let states = ctx.store().await?.pull_states().await?;
            let rows = states
                .iter()
                .map(|s| {
                    vec![
                        s.system_id.clone(),
                        s.records_read.to_string(),
                        s.checkpoint.clone().unwrap_or_default(),
                        s.next_run_at.to_rfc3339(),
                        s.running_on.clone().unwrap_or_default(),
                        s.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "系统 system",
                    "已读 read",
                    "检查点 checkpoint",
                    "下次 next run",
                    "运行中 running on",
                    "错误 last error",
                ],
                rows,
                &states,
            );
            Ok(())
        }
    }
}

pub(super) async fn run_quality(ctx: &Context, command: QualityCommand) -> Result<(), Failure> {
    let store = ctx.store().await?;
    match command {
        QualityCommand::List {
            system,
            status,
            limit,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(name) => Some(QualityStatus::parse(name).ok_or_else(|| {
                    Failure::Refused(anyhow::anyhow!(
                        "unknown status {name:?}; use open, dismissed or resolved"
                    ))
                })?),
            };
            let items = store.list_quality_items(system.as_deref(), status, limit).await?;
            let rows = items
                .iter()
                .map(|i| {
                    vec![
                        i.id.to_string(),
                        i.system_id.clone(),
                        i.case_no.clone().unwrap_or_else(|| "-".into()),
                        i.version.map_or_else(|| "-".into(), |v| v.to_string()),
                        i.status.name().to_owned(),
                        i.reasons
                            .iter()
                            .map(|r| r.code.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        i.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "id",
                    "系统 system",
                    "办件编号 case",
                    "版本 version",
                    "状态 status",
                    "原因 reasons",
                    "接收 received",
                ],
                rows,
                &items,
            );
            Ok(())
        }
        QualityCommand::Show { id, disclosure } => {
            let purpose = disclosure.purpose()?;
            let mut item = store.quality_item(id).await?;
            let target = format!("quality/{id}");
            store
                .record_audit(&ctx.actor, "quality.read", &target, json!({}))
                .await?;
            match &purpose {
                Some(purpose) => purpose.record(ctx, Some(&store), "quality show", &target).await?,
                None => item.record = crate::validate::mask_record(&item.record),
            }
            let reasons: Vec<String> = item
                .reasons
                .iter()
                .map(|r| format!("  - [{}] {}", r.code, r.message))
                .collect();
            ctx.out.show(
                format!(
                    "数据质量 quality item {id}: system {}, case {}, version {}, {} via {}\n状态 status: {}{}\n映射 mapping version: {}\n原因 reasons:\n{}",
                    item.system_id,
                    item.case_no.as_deref().unwrap_or("-"),
                    item.version.map_or_else(|| "-".into(), |v| v.to_string()),
                    item.received_at.format("%Y-%m-%d %H:%M:%S"),
                    item.channel,
                    item.status.name(),
                    item.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default(),
                    item.mapping_version.as_deref().unwrap_or("-"),
                    reasons.join("\n"),
                ),
                &item,
            );
            Ok(())
        }
        QualityCommand::Dismiss { id, reason } => {
            let item = store
                .dismiss_quality_item(id, &reason, &ctx.actor)
                .await
                .map_err(|err| match err {
                    Guarded::Refused(DismissError::NoReason) => {
                        Failure::Refused(anyhow::anyhow!("give a reason with --reason"))
                    }
                    other => other.into(),
                })?;
            ctx.out.show(
                format!("已忽略 dismissed: quality item {id}"),
                &json!({ "id": id, "status": item.status }),
            );
            Ok(())
        }
    }
}
