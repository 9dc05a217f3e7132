//! `ronghe cases import|show`: load canonical cases from JSON lines into the store (validated,
//! idempotent, a result per line) and read a case back, with personal data masked (text and
//! `--json`) unless `--unmask --purpose` is given (audited).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use serde::Serialize;

use super::disclosure::{Disclosure, Purpose};
use super::{Context, Failure};
use crate::case::{Case, FieldIssue};
use crate::rules::PublishedRule;
use crate::store::{Store, UpsertOutcome};
use crate::validate::{mask_certificate, mask_name, stated};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Import canonical cases, one JSON object per line ('-' reads stdin) 导入办件.
    Import { system: String, file: PathBuf },
    /// Show the current version of a case, or every version with --history 查看办件.
    Show {
        system: String,
        case_no: String,
        #[arg(long)]
        history: bool,
        /// Personal values are masked unless unmasked.
        #[command(flatten)]
        disclosure: Disclosure,
    },
    /// An applicant's cases in every system, found by certificate number through its blind
    /// index; needs the node's keys and a purpose, audited 按证件号查找申请人的办件.
    Find {
        /// The applicant's certificate number (resident ID, unified social credit code, …).
        #[arg(long, value_name = "NUMBER")]
        certificate_no: String,
        /// Why this person's cases are needed, 1-200 characters; kept in the audit log 用途.
        #[arg(long, value_name = "TEXT")]
        purpose: String,
    },
}

/// What happened to one line of an import.
#[derive(Debug, Serialize)]
struct LineResult {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    case_no: Option<String>,
    #[serde(flatten)]
    result: LineOutcome,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum LineOutcome {
    Stored(UpsertOutcome),
    Invalid {
        outcome: &'static str,
        errors: Vec<FieldIssue>,
    },
}

/// Lines stored per store transaction.
const BATCH_LINES: usize = 1000;

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let store = ctx.store().await?;
    match command {
        Command::Find {
            certificate_no,
            purpose,
        } => find(ctx, &store, &certificate_no, &Purpose::checked(&purpose)?).await,
        Command::Import { system, file } => {
            store.system_taking_cases(&system).await?;
            let rules = store.list_rules(None).await?;
            let mut reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                let f =
                    std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
                Box::new(std::io::BufReader::new(f))
            };
            let mut results = Vec::new();
            let mut batch: Vec<(usize, Case)> = Vec::new();
            let mut bytes = Vec::new();
            for line_no in 1.. {
                bytes.clear();
                if reader
                    .read_until(b'\n', &mut bytes)
                    .with_context(|| format!("cannot read line {line_no}"))?
                    == 0
                {
                    break;
                }
                let text = match std::str::from_utf8(&bytes) {
                    // A byte-order mark is an editor's habit, not content.
                    Ok(text) if line_no == 1 => text.trim_start_matches('\u{feff}'),
                    Ok(text) => text,
                    Err(e) => {
                        let issue = FieldIssue {
                            field: String::new(),
                            rule: "encoding".to_owned(),
                            message: format!(
                                "the line is not UTF-8 ({e}); convert the file, e.g. iconv -f GB18030 -t UTF-8"
                            ),
                        };
                        results.push(LineResult {
                            line: line_no,
                            case_no: None,
                            result: LineOutcome::Invalid {
                                outcome: "rejected",
                                errors: vec![issue],
                            },
                        });
                        continue;
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                match parse_line(text, &rules) {
                    Ok(case) => batch.push((line_no, case)),
                    Err((case_no, errors)) => results.push(LineResult {
                        line: line_no,
                        case_no,
                        result: LineOutcome::Invalid {
                            outcome: "rejected",
                            errors,
                        },
                    }),
                }
                if batch.len() == BATCH_LINES {
                    store_batch(&store, &system, std::mem::take(&mut batch), &mut results).await?;
                }
            }
            store_batch(&store, &system, batch, &mut results).await?;
            results.sort_by_key(|r| r.line);
            report(ctx, &results)
        }
        Command::Show {
            system,
            case_no,
            history,
            disclosure,
        } => {
            let purpose = disclosure.purpose()?;
            let target = format!("{system}/{case_no}");
            if history {
                let mut versions = store.case_history(&system, &case_no).await?;
                store
                    .record_audit(&ctx.actor, "case.read_history", &target, serde_json::json!({}))
                    .await?;
                match &purpose {
                    Some(purpose) => {
                        purpose
                            .record(ctx, Some(&store), "cases show --history", &target)
                            .await?
                    }
                    None => versions.iter_mut().for_each(|v| v.case = v.case.masked()),
                }
                let rows = versions
                    .iter()
                    .map(|v| {
                        vec![
                            v.version.to_string(),
                            format!("{} {}", v.stage.label(), v.stage),
                            v.received_at.to_rfc3339(),
                            v.content_hash[..12].to_owned(),
                        ]
                    })
                    .collect();
                ctx.out.table(
                    &["版本 version", "阶段 stage", "接收 received", "摘要 hash"],
                    rows,
                    &versions,
                );
            } else {
                let mut record = store.get_case(&system, &case_no).await?;
                store
                    .record_audit(&ctx.actor, "case.read", &target, serde_json::json!({}))
                    .await?;
                if let Some(purpose) = &purpose {
                    purpose.record(ctx, Some(&store), "cases show", &target).await?;
                }
                let human = describe(&record.case, purpose.is_some());
                if purpose.is_none() {
                    record.case = record.case.masked();
                }
                ctx.out.show(human, &record);
            }
            Ok(())
        }
    }
}

/// Parses and validates one line against the canonical rules and the published ones; the errors
/// name the field and rule, and the case number once the line parsed.
fn parse_line(line: &str, rules: &[PublishedRule]) -> Result<Case, (Option<String>, Vec<FieldIssue>)> {
    let de = &mut serde_json::Deserializer::from_str(line);
    let case: Case = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_json says "at line 1 column N"; the line is ours to name, the column is useful.
        let message = crate::validate::mask_refused_value(
            inner.to_string().split(" at line ").next().unwrap_or_default(),
        );
        let field = if matches!(path.as_str(), "." | "?") {
            String::new()
        } else {
            path
        };
        let issue = FieldIssue {
            field,
            rule: "json".to_owned(),
            message: format!("{message} (column {})", inner.column()),
        };
        (None, vec![issue])
    })?;
    let mut errors = case.validate(Utc::now().fixed_offset()).errors;
    errors.extend(rules.iter().filter_map(|r| r.check(&case)));
    if errors.is_empty() {
        Ok(case)
    } else {
        Err((Some(case.case_no), errors))
    }
}

async fn store_batch(
    store: &crate::store::Store,
    system: &str,
    batch: Vec<(usize, Case)>,
    results: &mut Vec<LineResult>,
) -> Result<(), Failure> {
    if batch.is_empty() {
        return Ok(());
    }
    let (lines, cases): (Vec<usize>, Vec<Case>) = batch.into_iter().unzip();
    let outcomes = store.upsert_cases(system, &cases).await?;
    for ((line, case), outcome) in lines.into_iter().zip(cases).zip(outcomes) {
        results.push(LineResult {
            line,
            case_no: Some(case.case_no),
            result: LineOutcome::Stored(outcome),
        });
    }
    Ok(())
}

fn report(ctx: &Context, results: &[LineResult]) -> Result<(), Failure> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut problems = Vec::new();
    for r in results {
        let name = match &r.result {
            LineOutcome::Stored(UpsertOutcome::Created) => "created",
            LineOutcome::Stored(UpsertOutcome::Updated) => "updated",
            LineOutcome::Stored(UpsertOutcome::Stale) => "stale",
            LineOutcome::Stored(UpsertOutcome::Duplicate) => "duplicate",
            LineOutcome::Stored(UpsertOutcome::Rejected { reason }) => {
                problems.push(format!(
                    "  第{}行 line {}: {}",
                    r.line,
                    r.line,
                    serde_json::to_string(reason).unwrap_or_default()
                ));
                "rejected"
            }
            LineOutcome::Invalid { errors, .. } => {
                for e in errors {
                    let field = if e.field.is_empty() {
                        String::new()
                    } else {
                        format!("{} ", e.field)
                    };
                    problems.push(format!(
                        "  第{}行 line {}: {field}[{}] {}",
                        r.line, r.line, e.rule, e.message
                    ));
                }
                "rejected"
            }
        };
        *counts.entry(name).or_default() += 1;
    }
    let summary = counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let human = if problems.is_empty() {
        format!("导入完成 imported: {summary}")
    } else {
        format!(
            "导入完成 imported: {summary}\n被拒绝 rejected:\n{}",
            problems.join("\n")
        )
    };
    ctx.out
        .show(human, &serde_json::json!({ "counts": counts, "lines": results }));
    if counts.contains_key("rejected") {
        Err(Failure::No)
    } else {
        Ok(())
    }
}

/// A case for people: the Art. 27 fields, the applicant's name and certificate number (a
/// natural person's or an organisation's) and the acceptor masked unless `clear`.
fn describe(c: &Case, clear: bool) -> String {
    let name = |value: &str| if clear { value.to_owned() } else { mask_name(value) };
    let acceptance = c.acceptance.as_ref().map_or_else(
        || "-".to_owned(),
        |a| {
            format!(
                "{} / {} / 承诺办结 {}",
                a.department,
                name(&a.acceptor),
                a.promised_finish_at
            )
        },
    );
    let result = c.result.as_ref().map_or_else(
        || "-".to_owned(),
        |r| format!("{} {} {}", r.code.label(), r.code, r.finished_at),
    );
    format!(
        "办件编号 case no:     {}  (version {})\n事项名称 item:        {}\n办理区划 region:      {}\n申请人 applicant:     {} {} {}\n申请时间 applied:     {}\n受理 acceptance:      {}\n审查意见 opinion:     {}\n办理结果 result:      {}\n阶段 stage:           {} {}",
        c.case_no,
        c.version,
        c.item_name,
        c.region_code,
        name(&c.applicant.name),
        c.applicant.certificate_type.label(),
        if clear {
            c.applicant.certificate_no.clone()
        } else {
            mask_certificate(&c.applicant.certificate_no)
        },
        c.applied_at,
        acceptance,
        c.review_opinion.as_deref().unwrap_or("-"),
        result,
        c.stage.label(),
        c.stage,
    )
}

/// `cases find`: the applicant's cases, newest first, without personal values; audited as
/// `case.search` with the number masked and the purpose.
async fn find(ctx: &Context, store: &Store, certificate_no: &str, purpose: &Purpose) -> Result<(), Failure> {
    let number = stated::certificate_query(certificate_no).map_err(|length| {
        Failure::Usage(anyhow::anyhow!(
            "--certificate-no: give the applicant's certificate number, 1-{} characters without control characters (it has {length})",
            stated::CERTIFICATE_NO_MAX_CHARS
        ))
    })?;
    let cases = store
        .cases_of_applicant(number, 1000)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Sealing(_) => Failure::Usage(e.into()),
            other => other.into(),
        })?;
    store
        .record_audit(
            &ctx.actor,
            "case.search",
            "cases",
            serde_json::json!({
                "certificate_no": crate::validate::mask_certificate(number),
                "purpose": purpose.text(),
                "found": cases.len(),
            }),
        )
        .await?;
    print_owned(ctx, &cases);
    Ok(())
}

/// Cases listed by whose they are (a platform user's, an applicant's): no personal value.
pub(super) fn print_owned(ctx: &Context, cases: &[crate::store::OwnedCase]) {
    let rows = cases
        .iter()
        .map(|c| {
            vec![
                c.system_id.clone(),
                c.case_no.clone(),
                c.item_name.clone(),
                c.stage.clone(),
                c.version.to_string(),
                c.received_at.to_rfc3339(),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "系统 system",
            "办件编号 case",
            "事项 item",
            "阶段 stage",
            "版本 version",
            "接收 received",
        ],
        rows,
        &cases,
    );
}
