//! `ronghe mapping check|test|explain`: validate a mapping config, run records through a
//! system's mapping (input → case → errors), and say where a canonical field comes from. Test
//! results show records and cases masked unless `--unmask --purpose` is given (audited).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use futures_util::StreamExt;
use ronghe_adapters::{AdapterConfig, Environment, Raw, Row, SqlValue};
use serde_json::{Value, json};

use super::disclosure::Disclosure;
use super::{Context, Failure};
use crate::mapping::{Mapping, Shape, unknown_paths};
use crate::store::{StoreError, StoredProfile};
use crate::validate::{mask_certificate, mask_name, mask_record};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Validate a mapping config; every problem with its path, and the source paths the system's
    /// stored probe profile does not know (with the nearest it does) 校验映射.
    Check {
        file: PathBuf,
        /// The system whose probe profile the source paths are compared with (default: the
        /// file's name, `mappings/SYSTEM.toml`).
        #[arg(long)]
        system: Option<String>,
    },
    /// Map sample records (a file) or live records (the system's adapter) and show the result 试映射.
    Test {
        system: String,
        /// JSON lines: records, or the output of `ronghe adapters read`.
        #[arg(long)]
        sample: Option<PathBuf>,
        /// Records to map.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Inputs and cases are masked unless unmasked.
        #[command(flatten)]
        disclosure: Disclosure,
    },
    /// Where a canonical field comes from, and why 字段来源.
    Explain { system: String, field: String },
}

fn compile(path: &Path) -> Result<Mapping, Failure> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Mapping::compile(&text).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
        Failure::Refused(anyhow::anyhow!(
            "invalid mapping {}:\n{}",
            path.display(),
            lines.join("\n")
        ))
    })
}

/// `mapping check`: the file's problems, then its source paths against the system's stored probe
/// profile; exit 1 when either finds something.
async fn check(ctx: &Context, file: &Path, system: Option<String>) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mapping = match Mapping::compile(&text) {
        Ok(mapping) => mapping,
        Err(issues) => {
            let lines: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
            ctx.out.show(
                format!("无效 invalid: {} problem(s)\n{}", issues.len(), lines.join("\n")),
                &json!({ "valid": false, "issues": issues }),
            );
            return Err(Failure::No);
        }
    };
    let system = system.or_else(|| file.file_stem().and_then(|s| s.to_str()).map(str::to_owned));
    // The file's own check needs no store; the comparison reads the stored profile when it can.
    let mut not_compared = None;
    let profiled = match &system {
        Some(system) => match ctx.store().await {
            Ok(store) => match store.profile(system).await {
                Ok(StoredProfile { profile, probed_at }) => {
                    Some((system, probed_at, unknown_paths(mapping.config(), &profile)))
                }
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => {
                    not_compared = Some(format!("cannot read the probe profile of {system}: {e}"));
                    None
                }
            },
            Err(Failure::Failed(e) | Failure::Refused(e) | Failure::Usage(e)) => {
                not_compared = Some(format!("the platform store is not available: {e:#}"));
                None
            }
            Err(Failure::No) => None,
        },
        None => None,
    };
    let rules = mapping.config().fields.len();
    let mut human = format!(
        "有效 valid: {rules} rules, {} source, version {}",
        mapping.shape().name(),
        mapping.version()
    );
    match &profiled {
        None => human.push_str(&format!(
            "\n未对照探查结果 source paths not compared: {}",
            not_compared.unwrap_or_else(|| format!(
                "no stored probe profile of {} (run `ronghe adapters probe SYSTEM`, or pass --system)",
                system.as_deref().unwrap_or("the system")
            ))
        )),
        Some((system, at, unknown)) if unknown.is_empty() => human.push_str(&format!(
            "\n源路径均见于 {system} 的探查结果 every source path is in the probe profile of {}",
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        Some((system, at, unknown)) => {
            human.push_str(&format!(
                "\n{} 个源路径不在 {system} 的探查结果中 source path(s) not in the probe profile of {} — they map nothing:",
                unknown.len(),
                at.format("%Y-%m-%d %H:%M UTC")
            ));
            for u in unknown {
                let nearest = u
                    .nearest
                    .as_deref()
                    .map(|n| format!("; 最接近 nearest: {n}"))
                    .unwrap_or_default();
                human.push_str(&format!(
                    "\n  {} (rules: {}){nearest}",
                    u.path,
                    u.rules.join(", ")
                ));
            }
            human.push_str("\n  a field the source sends only rarely may be missing from the probe: probe again with more records (`adapters probe SYSTEM --sample N`)");
        }
    }
    let unknown = profiled.as_ref().map(|(_, _, unknown)| unknown);
    ctx.out.show(
        human,
        &json!({
            "valid": true,
            "rules": rules,
            "shape": mapping.shape().name(),
            "version": mapping.version(),
            "profile": profiled.as_ref().map(|(system, at, _)| json!({ "system": system, "probed_at": at })),
            "unknown_paths": unknown,
        }),
    );
    if unknown.is_some_and(|u| !u.is_empty()) {
        return Err(Failure::No);
    }
    Ok(())
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let mappings_dir = ctx.config()?.mappings_dir;
    match command {
        Command::Check { file, system } => check(ctx, &file, system).await,
        Command::Test {
            system,
            sample,
            limit,
            disclosure,
        } => {
            let purpose = disclosure.purpose()?;
            let mapping = compile(&mappings_dir.join(format!("{system}.toml")))?;
            let mapping = if mapping.uses_orgs() {
                ctx.store().await?.with_orgs(mapping).await?
            } else {
                mapping
            };
            let records = match sample {
                Some(file) => sample_records(&file, mapping.shape(), limit)?,
                None => live_records(ctx, &system, limit).await?,
            };
            // A sample file needs no store, but its unmasking is audited all the same.
            if let Some(purpose) = &purpose {
                purpose.record(ctx, None, "mapping test", &system).await?;
            }
            let clear = purpose.is_some();
            let now = Utc::now().fixed_offset();
            let mut failed = 0;
            let mut human = String::new();
            let mut lines = Vec::new();
            for raw in &records {
                let key = mapping.key_of(raw).unwrap_or_else(|| "?".to_owned());
                let input = if clear {
                    raw.to_json()
                } else {
                    mask_record(&raw.to_json())
                };
                match mapping.apply(raw, now) {
                    Ok(case) => {
                        let applicant = &case.applicant;
                        let (name, certificate_no) = if clear {
                            (applicant.name.clone(), applicant.certificate_no.clone())
                        } else {
                            (
                                mask_name(&applicant.name),
                                mask_certificate(&applicant.certificate_no),
                            )
                        };
                        human.push_str(&format!(
                            "✓ {key}: {} {} | {} | {name} {certificate_no} | {}\n",
                            case.stage.label(),
                            case.stage,
                            case.item_name,
                            case.result.as_ref().map_or("-", |r| r.code.label()),
                        ));
                        let case = if clear { case } else { case.masked() };
                        lines.push(json!({ "key": key, "input": input, "case": case }));
                    }
                    Err(errors) => {
                        failed += 1;
                        human.push_str(&format!("✗ {key}:\n"));
                        for e in &errors {
                            human.push_str(&format!("    {e}\n"));
                        }
                        lines.push(json!({ "key": key, "input": input, "errors": errors }));
                    }
                }
            }
            human.push_str(&format!(
                "映射 mapped {} of {} (version {})",
                records.len() - failed,
                records.len(),
                mapping.version()
            ));
            ctx.out.show(human, &json!({ "version": mapping.version(), "mapped": records.len() - failed, "failed": failed, "records": lines }));
            if failed > 0 { Err(Failure::No) } else { Ok(()) }
        }
        Command::Explain { system, field } => {
            let mapping = compile(&mappings_dir.join(format!("{system}.toml")))?;
            let (target, rule) = mapping.explain(&field).ok_or_else(|| {
                let known: Vec<&str> = crate::mapping::schema::TARGETS.iter().map(|t| t.path).collect();
                Failure::Refused(anyhow::anyhow!(
                    "no canonical field {field:?}; the fields are: {}",
                    known.join(", ")
                ))
            })?;
            let mut human = format!(
                "{} ({}) — {}{}",
                target.path,
                target.names.join(" / "),
                if target.required {
                    "required 必填"
                } else {
                    "optional 选填"
                },
                if target.personal {
                    ", personal data 个人信息 (masked)"
                } else {
                    ""
                },
            );
            let value = match rule {
                None => {
                    human.push_str("\n  no rule: the mapping leaves this field empty 未映射");
                    json!({ "field": target.path, "names": target.names, "rule": null })
                }
                Some(rule) => {
                    human.push_str(&format!("\n  {}", rule.origin()));
                    if let Some(table) = &rule.table {
                        let entries = mapping
                            .config()
                            .tables
                            .get(table)
                            .map(|t| {
                                t.iter()
                                    .map(|(k, v)| format!("{k}→{v}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default();
                        human.push_str(&format!("\n  through table {table}: {entries}"));
                    }
                    if let Some(format) = &rule.format {
                        human.push_str(&format!("\n  format {format} (+08:00)"));
                    }
                    if let Some(days) = &rule.add_working_days {
                        human.push_str(&format!("\n  plus the working days at {days}"));
                    }
                    if let Some(when) = &rule.when {
                        human.push_str(&format!(
                            "\n  only when {} {}",
                            when.path,
                            if when.equals.is_empty() {
                                "is present".to_owned()
                            } else {
                                format!("is one of {}", when.equals.join(", "))
                            }
                        ));
                    }
                    if let Some(default) = &rule.default {
                        human.push_str(&format!("\n  default {default:?}"));
                    }
                    if let Some(evidence) = &rule.evidence {
                        human.push_str(&format!("\n  evidence 依据: {evidence}"));
                    }
                    if let Some(confidence) = rule.confidence {
                        human.push_str(&format!("\n  confidence 置信度: {confidence:.2}"));
                    }
                    json!({
                        "field": target.path, "names": target.names, "from": rule.from, "concat": rule.concat, "const": rule.constant,
                        "table": rule.table, "format": rule.format, "add_working_days": rule.add_working_days,
                        "default": rule.default, "evidence": rule.evidence, "confidence": rule.confidence,
                    })
                }
            };
            ctx.out.show(human, &value);
            Ok(())
        }
    }
}

/// Records from a JSON-lines file: plain records, or `ronghe adapters read` lines (their `record`).
fn sample_records(file: &Path, shape: Shape, limit: usize) -> Result<Vec<Raw>, Failure> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let mut records = Vec::new();
    for (i, line) in reader.lines().enumerate().take(limit) {
        let line = line.with_context(|| format!("cannot read line {} of {}", i + 1, file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line).map_err(|e| {
            Failure::Refused(anyhow::anyhow!(
                "line {} of {} is not JSON: {e}",
                i + 1,
                file.display()
            ))
        })?;
        let value = match value {
            Value::Object(mut o) if o.contains_key("record") && o.contains_key("checkpoint") => {
                o.remove("record").unwrap_or(Value::Null)
            }
            other => other,
        };
        records.push(match shape {
            Shape::Json => Raw::Json(value),
            Shape::Row => Raw::Row(row_from_json(value)),
            Shape::Xml => {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "XML samples come from the system itself: run without --sample"
                )));
            }
        });
    }
    Ok(records)
}

fn row_from_json(value: Value) -> Row {
    let Value::Object(map) = value else {
        return Row::default();
    };
    Row(map
        .into_iter()
        .map(|(column, v)| {
            let v = match v {
                Value::Null => SqlValue::Null,
                Value::Bool(b) => SqlValue::Bool(b),
                Value::Number(n) => n
                    .as_i64()
                    .map(SqlValue::Int)
                    .or_else(|| n.as_f64().map(SqlValue::Float))
                    .unwrap_or(SqlValue::Null),
                Value::String(s) => SqlValue::Text(s),
                other => SqlValue::Text(other.to_string()),
            };
            (column, v)
        })
        .collect())
}

/// Records read live through the system's attached adapter.
async fn live_records(ctx: &Context, system: &str, limit: usize) -> Result<Vec<Raw>, Failure> {
    let store = ctx.store().await?;
    let text = store.adapter_config(system).await?;
    let config = AdapterConfig::from_toml(&text)
        .and_then(AdapterConfig::validate)
        .map_err(|issues| {
            Failure::Refused(anyhow::anyhow!(
                "attached adapter config: {}",
                ronghe_adapters::ConfigIssue::joined(&issues)
            ))
        })?;
    let adapter = config
        .build(&Environment)
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    let mut stream = adapter.read(None).take(limit);
    let mut records = Vec::new();
    while let Some(record) = stream.next().await {
        records.push(record.map_err(|e| Failure::Failed(e.into()))?.raw);
    }
    Ok(records)
}
