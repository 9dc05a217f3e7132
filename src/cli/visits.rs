//! `ronghe visits plan|list|record|report`: return visits (办件回访, Art. 15) — a month's seeded
//! sample of finished cases, the outcome of each call (a finding opens a correction request,
//! Art. 28), and the month's report per system and item. The applicant's name and phone are
//! masked unless `--unmask --purpose`.

use clap::Subcommand;
use serde::Serialize;

use super::disclosure::Disclosure;
use super::{Context, Failure};
use crate::calendar::Calendar;
use crate::monitoring;
use crate::visits::{Month, Outcome, Satisfaction, Visit};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Draw a month's reproducible sample of finished cases, stratified by system and item
    /// 抽取回访样本.
    Plan {
        /// The month whose finished cases are sampled, YYYY-MM.
        #[arg(long, value_parser = Month::parse)]
        month: Month,
        /// Only this system (default: every system without a plan for the month).
        #[arg(long)]
        system: Option<String>,
        /// Cases to draw (default `[visits] sample_size_per_month`, 30).
        #[arg(long)]
        size: Option<usize>,
        /// The seed: the same seed and cases give the same sample (default: a random seed,
        /// printed and kept with the plan).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// List a month's visits with the applicant to call 回访清单.
    List {
        #[arg(long, value_parser = Month::parse)]
        month: Month,
        #[arg(long)]
        system: Option<String>,
        #[command(flatten)]
        disclosure: Disclosure,
    },
    /// Record a call's outcome 记录回访结果.
    Record {
        /// The visit's id (from `visits list`).
        id: i64,
        /// Whether the applicant was reached: yes or no.
        #[arg(long, value_parser = yes_no, action = clap::ArgAction::Set)]
        reached: bool,
        /// Calls made so far.
        #[arg(long, default_value_t = 1)]
        attempts: u32,
        /// The applicant's answer: was the case handled as recorded, yes or no (reached only).
        #[arg(long, value_parser = yes_no)]
        handled: Option<bool>,
        /// The applicant's rating (reached only): 非常满意 满意 基本满意 不满意 非常不满意
        /// (or very_satisfied satisfied basic dissatisfied very_dissatisfied).
        #[arg(long, value_parser = satisfaction)]
        satisfaction: Option<Satisfaction>,
        /// What was said or tried.
        #[arg(long)]
        note: String,
        /// A discrepancy found: opens a correction request to the department (Art. 28).
        #[arg(long)]
        finding: Option<String>,
    },
    /// A month's report per system and item: reach rate, satisfaction, findings 回访报告.
    Report {
        #[arg(long, value_parser = Month::parse)]
        month: Month,
        #[arg(long)]
        system: Option<String>,
    },
}

fn yes_no(text: &str) -> Result<bool, String> {
    match text {
        "yes" | "y" | "是" => Ok(true),
        "no" | "n" | "否" => Ok(false),
        other => Err(format!("{other:?} is not yes or no")),
    }
}

fn satisfaction(text: &str) -> Result<Satisfaction, String> {
    Satisfaction::parse(text).ok_or_else(|| {
        format!("{text:?} is not one of 非常满意 满意 基本满意 不满意 非常不满意 (very_satisfied … very_dissatisfied)")
    })
}

/// A visit as listed: with the applicant to call (masked unless unmasked).
#[derive(Debug, Serialize)]
struct Listed {
    #[serde(flatten)]
    visit: Visit,
    applicant_name: String,
    applicant_phone: Option<String>,
}

pub(super) async fn run(ctx: &Context, cmd: Command) -> Result<(), Failure> {
    match cmd {
        Command::Plan {
            month,
            system,
            size,
            seed,
        } => {
            let config = ctx.config()?;
            let size = size.unwrap_or(config.visits.sample_size_per_month);
            let seed = seed.unwrap_or_else(crate::visits::fresh_seed);
            let store = ctx.store().await?;
            let planned =
                monitoring::plan_visits(&store, month, system.as_deref(), size, seed, &ctx.actor).await?;
            let human = format!(
                "{month} 回访样本 return-visit plan (seed {seed}): {} 件 cases{}",
                planned.len(),
                if planned.is_empty() {
                    "（当月无可抽取的已办结办件 no finished case to draw）".to_owned()
                } else {
                    format!(
                        "\n{}",
                        planned
                            .iter()
                            .map(|v| format!(
                                "{} {} {} {}",
                                v.id, v.system_id, v.implementation_code, v.case_no
                            ))
                            .collect::<Vec<_>>()
                            .join("\n")
                    )
                }
            );
            ctx.out.show(human, &planned);
            Ok(())
        }
        Command::List {
            month,
            system,
            disclosure,
        } => {
            let purpose = disclosure.purpose()?;
            let store = ctx.store().await?;
            let visits = store.visits(Some(&month.to_string()), system.as_deref()).await?;
            if let Some(purpose) = &purpose {
                purpose
                    .record(ctx, Some(&store), "visits list", &format!("visits/{month}"))
                    .await?;
            }
            let mut listed = Vec::with_capacity(visits.len());
            for visit in visits {
                let case = store.get_case(&visit.system_id, &visit.case_no).await?.case;
                let case = if purpose.is_some() { case } else { case.masked() };
                listed.push(Listed {
                    applicant_name: case.applicant.name,
                    applicant_phone: case.applicant.phone,
                    visit,
                });
            }
            let rows = listed
                .iter()
                .map(|l| {
                    vec![
                        l.visit.id.to_string(),
                        l.visit.system_id.clone(),
                        l.visit.case_no.clone(),
                        l.visit.item_name.clone(),
                        l.applicant_name.clone(),
                        l.applicant_phone.clone().unwrap_or_else(|| "-".to_owned()),
                        outcome_text(l.visit.outcome.as_ref()),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "编号 id",
                    "系统 system",
                    "办件 case",
                    "事项 item",
                    "申请人 applicant",
                    "电话 phone",
                    "结果 outcome",
                ],
                rows,
                &listed,
            );
            Ok(())
        }
        Command::Record {
            id,
            reached,
            attempts,
            handled,
            satisfaction,
            note,
            finding,
        } => {
            let config = ctx.config()?;
            let calendar =
                Calendar::load(config.calendar_override.as_deref()).map_err(|e| Failure::Failed(e.into()))?;
            let outcome = Outcome {
                reached,
                attempts,
                handled_as_recorded: handled,
                satisfaction,
                note,
                finding,
            };
            let store = ctx.store().await?;
            let visit =
                monitoring::record_visit(&store, &calendar, id, &outcome, &ctx.actor, chrono::Utc::now())
                    .await?;
            let correction = visit
                .correction_id
                .map(|c| format!("; 已提出校核申请 correction request {c}"))
                .unwrap_or_default();
            let human = format!(
                "回访 visit {} {}/{}: {}{correction}",
                visit.id,
                visit.system_id,
                visit.case_no,
                outcome_text(visit.outcome.as_ref())
            );
            ctx.out.show(human, &visit);
            Ok(())
        }
        Command::Report { month, system } => {
            let store = ctx.store().await?;
            let report = monitoring::visit_report(&store, month, system.as_deref()).await?;
            let rows = report
                .rows
                .iter()
                .chain(std::iter::once(&report.total))
                .map(|r| {
                    let system = if r.system_id.is_empty() {
                        "合计 total".to_owned()
                    } else {
                        r.system_id.clone()
                    };
                    let mut row = vec![
                        system,
                        r.implementation_code.clone(),
                        r.planned.to_string(),
                        r.recorded.to_string(),
                        r.reach_rate
                            .map(|rate| format!("{:.1}%", rate * 100.0))
                            .unwrap_or_else(|| "-".to_owned()),
                    ];
                    row.extend(r.satisfaction.iter().map(usize::to_string));
                    row.push(r.not_as_recorded.to_string());
                    row.push(r.findings.to_string());
                    row
                })
                .collect();
            let mut header = vec![
                "系统 system",
                "事项 item",
                "样本 planned",
                "已回访 recorded",
                "联系率 reach",
            ];
            header.extend(Satisfaction::ALL.iter().map(|s| s.label()));
            header.extend(["与记录不符 not as recorded", "发现 findings"]);
            ctx.out.table(&header, rows, &report);
            Ok(())
        }
    }
}

fn outcome_text(outcome: Option<&Outcome>) -> String {
    match outcome {
        None => "待回访 to call".to_owned(),
        Some(o) if !o.reached => format!("未联系上 not reached ({} 次 attempts)", o.attempts),
        Some(o) => format!(
            "已联系 reached: {}{}",
            o.satisfaction.map(Satisfaction::label).unwrap_or("-"),
            match o.handled_as_recorded {
                Some(false) => "，与记录不符 not as recorded",
                _ => "",
            }
        ),
    }
}
