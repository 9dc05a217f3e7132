//! `ronghe audit list|verify|export|prune`: read the hash-chained audit log (Art. 21, 32), check
//! that nothing in it was altered, deleted or reordered, export a range signed with the node's
//! Ed25519 key, and prune events past the retention period.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use ronghe_crypto::Signature;
use serde_json::json;

use super::{Context, Failure};
use crate::store::audit_log::{self as audit, AuditError, AuditEvent, AuditFilter, Edge};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// List audit events, oldest first 查看审计日志.
    List {
        /// Only events of this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Only events of this action, e.g. system.register.
        #[arg(long)]
        action: Option<String>,
        /// Only events whose target starts with this.
        #[arg(long)]
        target: Option<String>,
        /// From this instant (RFC 3339) or the start of this day (YYYY-MM-DD, Beijing time).
        #[arg(long, value_name = "RFC3339|DATE")]
        since: Option<String>,
        /// Before this instant (RFC 3339), or up to the end of this day (YYYY-MM-DD).
        #[arg(long, value_name = "RFC3339|DATE")]
        until: Option<String>,
        /// Only events after this seq (paging).
        #[arg(long, value_name = "SEQ")]
        after_seq: Option<i64>,
        /// At most this many events (1-1000).
        #[arg(long, default_value_t = audit::DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..=i64::from(audit::MAX_LIMIT)))]
        limit: u32,
    },
    /// Check the hash chain; exit 1 naming the first break 校验审计日志完整性.
    Verify,
    /// Write a range of events as JSON lines, then a line signing the range with the node's
    /// Ed25519 key (needs [bridge] keys) 导出并签名审计日志.
    Export {
        /// From this instant (RFC 3339) or the start of this day (YYYY-MM-DD, Beijing time).
        #[arg(long, value_name = "RFC3339|DATE")]
        since: String,
        /// Before this instant (RFC 3339), or up to the end of this day (YYYY-MM-DD).
        #[arg(long, value_name = "RFC3339|DATE")]
        until: String,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Delete events older than a date, at least 366 days ago (Art. 21); the chain keeps an
    /// anchor so it still verifies 清理过期审计日志.
    Prune {
        /// Delete events before the start of this day (YYYY-MM-DD, Beijing time) or instant.
        #[arg(long, value_name = "DATE|RFC3339")]
        before: String,
    },
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::List {
            actor,
            action,
            target,
            since,
            until,
            after_seq,
            limit,
        } => {
            let filter = AuditFilter {
                actor,
                action,
                target_prefix: target,
                since: instant(since.as_deref(), "--since", Edge::Start)?,
                until: instant(until.as_deref(), "--until", Edge::End)?,
                after_seq,
                limit: Some(limit),
            };
            let events = ctx.store().await?.audit_events(&filter).await?;
            let rows = events
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        e.actor.clone(),
                        e.action.clone(),
                        e.target.clone(),
                        e.detail.to_string(),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "序号 seq",
                    "时间 at (UTC)",
                    "操作人 actor",
                    "操作 action",
                    "对象 target",
                    "详情 detail",
                ],
                rows,
                &events,
            );
            Ok(())
        }
        Command::Verify => match ctx.store().await?.verify_audit_chain().await {
            Ok(events) => {
                ctx.out.show(
                    format!("审计日志完整 chain intact: {events} events"),
                    &json!({ "intact": true, "events": events }),
                );
                Ok(())
            }
            Err(AuditError::Broken(broken)) => {
                tracing::warn!(kind = ?broken.kind, seq = broken.seq, id = broken.id, "audit chain broken");
                ctx.out.show(
                    format!("审计日志被篡改 chain broken: {broken}"),
                    &json!({ "intact": false, "break": broken }),
                );
                Err(Failure::No)
            }
            Err(other) => Err(failure(other)),
        },
        Command::Export { since, until, out } => {
            let keyring = ctx.keyring()?.ok_or_else(|| {
                Failure::Usage(anyhow::anyhow!(
                    "no [bridge] keys in the config: the export is signed with the node's Ed25519 key; \
                     add [bridge] active_key and [[bridge.keys]] (see README) and pass --config"
                ))
            })?;
            let since = required(&since, "--since", Edge::Start)?;
            let until = required(&until, "--until", Edge::End)?;
            let store = ctx.store().await?;
            let (events, last) = export(&store, since, until, &out, |statement| {
                let (key_id, signature) = keyring.sign(Signature::Ed25519, statement.as_bytes());
                (key_id.to_owned(), hex::encode(signature))
            })
            .await?;
            let detail = json!({ "events": events, "first_seq": last.0, "last_seq": last.1, "since": since, "until": until });
            store
                .record_audit(&ctx.actor, "audit.export", "audit", detail.clone())
                .await?;
            ctx.out.show(
                format!(
                    "已导出 exported {events} events (seq {}..{}) to {}",
                    last.0,
                    last.1,
                    out.display()
                ),
                &detail,
            );
            Ok(())
        }
        Command::Prune { before } => {
            let before = required(&before, "--before", Edge::Start)?;
            let pruned = ctx
                .store()
                .await?
                .prune_audit(before, Utc::now(), &ctx.actor)
                .await
                .map_err(failure)?;
            let range = match (pruned.first_seq, pruned.last_seq) {
                (Some(first), Some(last)) => format!(" (seq {first}..{last})"),
                _ => String::new(),
            };
            ctx.out.show(
                format!("已清理 pruned {} events{range} before {before}", pruned.events),
                &pruned,
            );
            Ok(())
        }
    }
}

/// Writes the events in [since, until) to `file` as JSON lines, then the signed range line;
/// answers how many and the first and last seq. Refused when the range holds none.
async fn export(
    store: &crate::store::Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    file: &Path,
    sign: impl Fn(&str) -> (String, String),
) -> Result<(u64, (i64, i64)), Failure> {
    let written = |e: std::io::Error| {
        Failure::Failed(anyhow::Error::new(e).context(format!("cannot write {}", file.display())))
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(file).map_err(written)?);
    let mut filter = AuditFilter {
        since: Some(since),
        until: Some(until),
        limit: Some(audit::MAX_LIMIT),
        ..AuditFilter::default()
    };
    let (mut count, mut first, mut last): (u64, Option<i64>, Option<AuditEvent>) = (0, None, None);
    loop {
        let page = store.audit_events(&filter).await?;
        let Some(end) = page.last() else { break };
        filter.after_seq = Some(end.seq);
        for event in page {
            serde_json::to_writer(&mut out, &event)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(written)?;
            first.get_or_insert(event.seq);
            count += 1;
            last = Some(event);
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        drop(out);
        std::fs::remove_file(file)
            .with_context(|| format!("cannot remove {}", file.display()))
            .map_err(Failure::Failed)?;
        return Err(Failure::Refused(anyhow::anyhow!(
            "no audit events in that range; nothing exported"
        )));
    };
    let (key_id, signature) = sign(&audit::export_statement(first, last.seq, &last.hash));
    let line = json!({
        "first_seq": first, "last_seq": last.seq, "last_hash": last.hash,
        "key_id": key_id, "signature": signature,
    });
    serde_json::to_writer(&mut out, &line)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(written)?;
    Ok((count, (first, last.seq)))
}

/// A range end a person wrote, refused (exit 1) with the accepted forms when unreadable.
fn instant(text: Option<&str>, flag: &str, edge: Edge) -> Result<Option<DateTime<Utc>>, Failure> {
    text.map(|t| required(t, flag, edge)).transpose()
}

/// A range end that must be given.
fn required(text: &str, flag: &str, edge: Edge) -> Result<DateTime<Utc>, Failure> {
    audit::parse_instant(text, edge).map_err(|message| Failure::Refused(anyhow::anyhow!("{flag}: {message}")))
}

/// A refused prune is the user's to act on (exit 1); a failing store is a failure (3).
fn failure(err: AuditError) -> Failure {
    match err {
        AuditError::Store(e) => e.into(),
        refused => Failure::Refused(refused.into()),
    }
}
