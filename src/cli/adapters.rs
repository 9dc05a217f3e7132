//! `ronghe adapters kinds|check|attach|probe|read`: point an adapter at a departmental system,
//! validate its config, discover the system (with a watermark round trip: a resumed read must
//! give back what followed), and stream its records as JSON lines. Records and probe samples are
//! printed masked unless `--unmask --purpose` is given (audited).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Subcommand;
use futures_util::StreamExt;
use ronghe_adapters::{
    Adapter, AdapterConfig, AdapterError, AdapterKind, Checkpoint, ConfigIssue, Environment, ErrorClass,
    KINDS, RoundTrip, ValidatedConfig, round_trip,
};
use serde_json::json;

use super::disclosure::{Disclosure, Purpose};
use super::{Context, Failure, checked, invalid, read_config, refused_config};
use crate::attached_adapter::NOTHING_SELECTED;
use crate::store::ProbedRecords;
use crate::validate::{mask_certificate, mask_record};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// List the adapter kinds 适配器类型.
    Kinds,
    /// Validate an adapter config file without connecting; every problem at once 校验配置.
    Check {
        file: PathBuf,
        /// Also connect and run the watermark round trip: read, resume from an early record's
        /// checkpoint, and fail unless the records after it come back in order 联机回读校验.
        #[arg(long)]
        live: bool,
    },
    /// Validate a config and attach it to a registered system 绑定配置.
    Attach { system: String, file: PathBuf },
    /// Connect, discover operations/tables/fields, sample records; print and store the profile;
    /// then the watermark round trip (as `check --live`), whose failure is exit 1 探查.
    Probe {
        system: String,
        /// Records to sample per entity (more where they miss a value of a low-cardinality
        /// field, or any value of a field).
        #[arg(long, default_value_t = 5)]
        sample: usize,
        /// With --json, the samples' string values are masked unless unmasked.
        #[command(flatten)]
        disclosure: Disclosure,
    },
    /// Stream the system's case records as JSON lines; progress on stderr. Reading none from the
    /// start where the stored probe counted records is an error (exit 1) 读取.
    Read {
        system: String,
        /// Resume after this checkpoint (the `checkpoint` of a line from an earlier read).
        #[arg(long, value_name = "CHECKPOINT")]
        since: Option<String>,
        /// Stop after this many records.
        #[arg(long)]
        limit: Option<usize>,
        /// The records' string values are masked unless unmasked.
        #[command(flatten)]
        disclosure: Disclosure,
    },
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Kinds => {
            let rows = KINDS
                .iter()
                .map(|(k, d)| vec![k.name().to_owned(), (*d).to_owned()])
                .collect();
            let value: Vec<_> = KINDS
                .iter()
                .map(|(k, d)| json!({ "kind": k.name(), "description": d }))
                .collect();
            ctx.out.table(&["类型 kind", "说明 description"], rows, &value);
            Ok(())
        }
        Command::Check { file, live: false } => {
            let config = read_config(&file)?;
            checked(&ctx.out, validate(&config), |valid| {
                let kind = valid.config().kind();
                (
                    format!("有效 valid: {kind} adapter config"),
                    json!({ "valid": true, "kind": kind.name() }),
                )
            })
        }
        Command::Check { file, live: true } => {
            let config = read_config(&file)?;
            let valid = validate(&config).map_err(|issues| invalid(&ctx.out, &issues))?;
            let kind = valid.config().kind();
            let adapter = valid.build(&Environment).await.map_err(adapter_failure)?;
            let trip = round_trip(adapter.as_ref()).await.map_err(adapter_failure)?;
            ctx.out.show(
                format!("有效 valid: {kind} adapter config\n{}", round_trip_line(&trip)),
                &json!({ "valid": true, "kind": kind.name(), "round_trip": trip }),
            );
            round_trip_failure(&trip)
        }
        Command::Attach { system, file } => {
            let text = read_config(&file)?;
            let valid = validate(&text).map_err(refused_config("adapter"))?;
            let store = ctx.store().await?;
            let registered = store.get_system(&system).await?;
            let kind = valid.config().kind();
            if kind != registered.protocol {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "system {system} is registered with protocol {}, but the config is a {kind} adapter",
                    registered.protocol
                )));
            }
            store.set_adapter_config(&system, &text, &ctx.actor).await?;
            ctx.out.show(
                format!("已绑定 attached: {kind} adapter to {system}"),
                &json!({ "system": system, "kind": kind.name() }),
            );
            Ok(())
        }
        Command::Probe {
            system,
            sample,
            disclosure,
        } => {
            let purpose = disclosure.purpose()?;
            let store = ctx.store().await?;
            let adapter = build(&store.adapter_config(&system).await?).await?;
            let mut profile = adapter.probe(sample).await.map_err(adapter_failure)?;
            store.save_profile(&system, &profile).await?;
            match &purpose {
                Some(purpose) => {
                    purpose
                        .record(ctx, Some(&store), "adapters probe", &system)
                        .await?
                }
                None => {
                    for entity in &mut profile.entities {
                        entity.samples.iter_mut().for_each(|s| *s = mask_record(s));
                        for value in entity.fields.iter_mut().flat_map(|f| &mut f.distinct) {
                            value.value = mask_certificate(&value.value);
                        }
                    }
                }
            }
            let trip = round_trip(adapter.as_ref()).await.map_err(adapter_failure)?;
            let mut human = format!("探查完成 probed: {system} ({})", adapter.kind());
            for (i, e) in profile.entities.iter().enumerate() {
                let count = e.record_count.map_or_else(|| "?".to_owned(), |n| n.to_string());
                human.push_str(&format!(
                    "\n\n{} [{}] records: {count}, samples: {}",
                    e.name,
                    e.kind,
                    e.samples.len()
                ));
                if i == 0 && e.samples.is_empty() {
                    human.push_str(&no_samples(adapter.kind(), e.record_count));
                }
                for f in &e.fields {
                    human.push_str(&format!(
                        "\n  {:<40} {:<16} {}",
                        f.name,
                        f.data_type,
                        if f.nullable { "nullable" } else { "" }
                    ));
                }
            }
            human.push_str(&format!("\n\n{}", round_trip_line(&trip)));
            let mut shown = serde_json::to_value(&profile).map_err(|e| Failure::Failed(e.into()))?;
            if let Some(shown) = shown.as_object_mut() {
                shown.insert("round_trip".to_owned(), json!(trip));
            }
            ctx.out.show(human, &shown);
            round_trip_failure(&trip)
        }
        Command::Read {
            system,
            since,
            limit,
            disclosure,
        } => {
            let purpose = disclosure.purpose()?;
            let store = ctx.store().await?;
            let adapter = build(&store.adapter_config(&system).await?).await?;
            if let Some(purpose) = &purpose {
                purpose
                    .record(ctx, Some(&store), "adapters read", &system)
                    .await?;
            }
            let whole = since.is_none() && limit != Some(0);
            let count = read(
                ctx,
                adapter.as_ref(),
                since.map(Checkpoint),
                limit,
                purpose.as_ref(),
            )
            .await?;
            if count > 0 || !whole {
                return Ok(());
            }
            let Some(ProbedRecords { counted, probed_at }) = store.probed_records(&system).await? else {
                return Ok(());
            };
            Err(Failure::Refused(anyhow::anyhow!(
                "read 0 records from {system}, but its probe of {} counted {counted}: {NOTHING_SELECTED}",
                probed_at.to_rfc3339()
            )))
        }
    }
}

/// Why the probe's records entity has no sample (issue 16): an empty source, or a selection
/// that matches nothing of what the system answers.
fn no_samples(kind: AdapterKind, counted: Option<u64>) -> String {
    match counted {
        Some(0) if !kind.speaks_http() => " (the table holds no row the config reads)".to_owned(),
        Some(0) => format!(" (the listing answered no record: the source holds none, or {NOTHING_SELECTED})"),
        _ => format!(" (no record was read: {NOTHING_SELECTED})"),
    }
}

/// The round trip's outcome as a line of the human output.
fn round_trip_line(trip: &RoundTrip) -> String {
    match trip {
        RoundTrip::Passed {
            read,
            from_key,
            compared,
        } => format!(
            "回读 round trip: passed: resumed after record {from_key}, the {compared} records that followed it (of {read} read) came back in order"
        ),
        RoundTrip::Skipped { reason } => format!("回读 round trip: not checked: {reason}"),
        RoundTrip::Failed { cause, .. } => {
            format!("回读 round trip: FAILED ({})", cause.name())
        }
    }
}

/// A failed round trip is the user's to fix (exit 1): a resumed read would skip records.
fn round_trip_failure(trip: &RoundTrip) -> Result<(), Failure> {
    match trip {
        RoundTrip::Failed { message, .. } => Err(Failure::Refused(anyhow::anyhow!(
            "watermark round trip failed, a resumed read (pull, migration, read --since) would skip records: {message}"
        ))),
        _ => Ok(()),
    }
}

fn validate(text: &str) -> Result<ValidatedConfig, Vec<ConfigIssue>> {
    AdapterConfig::from_toml(text)?.validate()
}

async fn build(text: &str) -> Result<Box<dyn Adapter>, Failure> {
    validate(text)
        .map_err(refused_config("adapter"))?
        .build(&Environment)
        .await
        .map_err(adapter_failure)
}

/// Configuration and data problems are the user's to fix (exit 1); an unreachable system is a
/// failure (exit 3).
fn adapter_failure(err: AdapterError) -> Failure {
    match err.class {
        ErrorClass::Configuration | ErrorClass::Data => Failure::Refused(err.into()),
        ErrorClass::Retryable | ErrorClass::Unavailable => Failure::Failed(err.into()),
    }
}

async fn read(
    ctx: &Context,
    adapter: &dyn Adapter,
    from: Option<Checkpoint>,
    limit: Option<usize>,
    unmasked: Option<&Purpose>,
) -> Result<usize, Failure> {
    let progress = indicatif::ProgressBar::new_spinner();
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} records {per_sec} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let started = Instant::now();
    let mut out = ctx.out.writer();
    let mut records = adapter.read(from);
    let mut count = 0usize;
    let mut last = None;
    while limit.is_none_or(|l| count < l) {
        let Some(record) = records.next().await else { break };
        let record = record.map_err(adapter_failure)?;
        let raw = record.raw.to_json();
        let shown = if unmasked.is_some() {
            raw
        } else {
            mask_record(&raw)
        };
        let line = json!({ "key": record.key, "checkpoint": record.checkpoint, "record": shown });
        let written = serde_json::to_writer(&mut out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(Failure::Failed(
                anyhow::Error::new(e).context("cannot write to stdout"),
            ));
        }
        last = record.checkpoint;
        count += 1;
        progress.inc(1);
    }
    let _ = out.flush();
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        records = count,
        seconds,
        per_second = count as f64 / seconds.max(1e-9),
        last_checkpoint = last.as_ref().map(|c| c.0.as_str()),
        "read finished"
    );
    Ok(count)
}
