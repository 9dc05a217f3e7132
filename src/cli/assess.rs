//! `ronghe assess open|experts|score|close|verdict|report|portfolio|rubric`: expert-panel
//! assessments (Art. 25) straight on the store, with the same rules and audit log as the API.
//! The host opens an assessment and names its chair (an expert's account); the chair and each
//! expert act with their own personal API token (`--token`), never under a claimed name.
//! Nothing here prints an expert's individual scores.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use ronghe_assessment::panel::RoundSummary;
use ronghe_assessment::report::{Format, Report, render};
use ronghe_assessment::risk::DataProfile;
use ronghe_assessment::rubric::{DEFAULT_RUBRIC, Rubric};

use super::{Context, Failure};
use crate::assessments::{
    AssessmentError, AssessmentView, Command as PanelCommand, Conflict, NewExpert, Outcome, Portfolio,
    RoundClosed, ScoreSheet,
};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Open an assessment of a system, chaired by an expert's account 开启评估.
    Open {
        system: String,
        /// The chair: an account holding the expert role.
        #[arg(long, value_name = "ACCOUNT")]
        chair: String,
        /// A rubric file (TOML) or a registered ID@VERSION; the built-in ronghe-default@1 when absent.
        #[arg(long, value_name = "FILE|ID@VERSION")]
        rubric: Option<String>,
    },
    /// Add experts, declare conflicts of interest, list the panel 评估专家.
    #[command(subcommand)]
    Experts(ExpertsCommand),
    /// Submit your scores for the open round, as the expert whose --token this is 提交评分.
    Score {
        assessment: String,
        /// Scores file, TOML or JSON ('-' reads stdin): [scores] criterion = 1-5 or "abstain",
        /// optional [reasons] criterion = "…".
        file: PathBuf,
    },
    /// Close the open round (chair); contested criteria go to another round 结束本轮.
    Close { assessment: String },
    /// Give the verdict (chair); moves the system to assessed 作出结论.
    Verdict {
        assessment: String,
        /// Record the secrecy exception with this justification (Art. 25); required for a secret system.
        #[arg(long, value_name = "TEXT")]
        secrecy_justification: Option<String>,
        /// The system's data profile (JSON: fields with names and sample values) for the Art. 24
        /// risk; the latest probe profile (ronghe adapters probe) when absent.
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
    },
    /// Print the report, or a closed round's Delphi summary with --round 评估报告.
    Report {
        assessment: String,
        /// markdown (default), html or json.
        #[arg(long, default_value = "markdown")]
        format: String,
        /// A closed round's summary instead of the verdict's report.
        #[arg(long)]
        round: Option<i64>,
    },
    /// Every system with its mode, confidence and status 评估总览.
    Portfolio,
    /// Check a rubric file and show its criteria, weights and AHP consistency; the built-in one
    /// without FILE 检查评估量表.
    Rubric { file: Option<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub(super) enum ExpertsCommand {
    /// Add an expert to the panel (chair) 添加专家.
    Add {
        assessment: String,
        /// The expert's account (holding the expert role); they declare and score with their own token.
        #[arg(long)]
        expert: String,
        #[arg(long)]
        name: String,
        /// 工作单位; an expert from the assessed system's own department is recused.
        #[arg(long)]
        department: String,
    },
    /// Declare your conflicts of interest, as the expert whose --token this is 申报利益冲突.
    Declare {
        assessment: String,
        /// A tie, as ORGANISATION=REASON (repeatable).
        #[arg(long = "conflict", value_name = "ORG=REASON")]
        conflicts: Vec<String>,
        /// Declare that there is none.
        #[arg(long, conflicts_with = "conflicts")]
        none: bool,
    },
    /// List the panel: declarations, recusals, who has submitted 专家名单.
    List { assessment: String },
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    if let Command::Rubric { file } = command {
        return show_rubric(ctx, file.as_deref());
    }
    let store = ctx.store().await?;
    match command {
        Command::Open {
            system,
            chair,
            rubric,
        } => {
            ctx.accounts(&store)?
                .require_expert(&chair)
                .await
                .map_err(|e| Failure::Refused(e.into()))?;
            let key = rubric_key(ctx, &store, rubric.as_deref()).await?;
            let view = store
                .open_assessment(&system, (&key.0, key.1), &chair, &ctx.actor)
                .await?;
            ctx.out.show(
                format!(
                    "已开启评估 opened: {}\n  系统 system:  {} {}\n  量表 rubric:  {}@{}\n  主持人 chair: {}\n下一步 next:   ronghe --token <{} 的令牌 token> assess experts add {} --expert ID --name 姓名 --department 单位",
                    view.assessment.id,
                    view.assessment.system_id,
                    view.system_name,
                    view.assessment.rubric_id,
                    view.assessment.rubric_version,
                    view.assessment.chair,
                    view.assessment.chair,
                    view.assessment.id
                ),
                &view,
            );
        }
        Command::Experts(ExpertsCommand::Add {
            assessment,
            expert,
            name,
            department,
        }) => {
            ctx.accounts(&store)?
                .require_expert(&expert)
                .await
                .map_err(|e| Failure::Refused(e.into()))?;
            let new = NewExpert {
                id: expert,
                name,
                department,
            };
            let who = ctx
                .person(&store, "POST", "/api/v1/assessments/{id}/experts", None)
                .await?;
            if let Outcome::Expert(e) = act(&store, &assessment, &who, PanelCommand::AddExpert(new)).await? {
                let recusal = e
                    .recusal
                    .as_deref()
                    .map(|r| format!("\n  回避 recused: {r}"))
                    .unwrap_or_default();
                ctx.out.show(
                    format!("已加入 added: {} {}({}){recusal}", e.id, e.name, e.department),
                    &e,
                );
            }
        }
        Command::Experts(ExpertsCommand::Declare {
            assessment,
            conflicts,
            none,
        }) => {
            if conflicts.is_empty() && !none {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "declare each tie with --conflict ORGANISATION=REASON, or --none"
                )));
            }
            let conflicts = conflicts
                .iter()
                .map(|c| {
                    let (with, reason) = c.split_once('=').ok_or_else(|| {
                        Failure::Refused(anyhow::anyhow!("--conflict {c:?}: write ORGANISATION=REASON"))
                    })?;
                    Ok(Conflict {
                        with: with.to_owned(),
                        reason: reason.to_owned(),
                    })
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            let who = ctx
                .person(
                    &store,
                    "PUT",
                    "/api/v1/assessments/{id}/experts/{expert}/conflicts",
                    None,
                )
                .await?;
            let command = PanelCommand::Declare {
                expert: who.actor.clone(),
                conflicts,
            };
            if let Outcome::Expert(e) = act(&store, &assessment, &who, command).await? {
                let recusal = e
                    .recusal
                    .as_deref()
                    .map(|r| format!("\n  回避 recused: {r}"))
                    .unwrap_or_default();
                ctx.out.show(format!("已申报 declared: {}{recusal}", e.id), &e);
            }
        }
        Command::Experts(ExpertsCommand::List { assessment }) => {
            let view = store.assessment(&assessment).await?;
            list_experts(ctx, &view);
        }
        Command::Score { assessment, file } => {
            let text = read_text(&file)?;
            let sheet: ScoreSheet = if is_json(&file, &text) {
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a scores file", file.display()))
            } else {
                toml::from_str(&text).with_context(|| format!("{} is not a scores file", file.display()))
            }
            .map_err(Failure::Refused)?;
            let who = ctx
                .person(
                    &store,
                    "PUT",
                    "/api/v1/assessments/{id}/experts/{expert}/scores",
                    None,
                )
                .await?;
            let command = PanelCommand::Submit {
                expert: who.actor.clone(),
                sheet: sheet.into_sheet(),
            };
            if let Outcome::Submitted(receipt) = act(&store, &assessment, &who, command).await? {
                let mut text = format!(
                    "已提交 submitted: {} 第 {} 轮 {} 项指标(评分已密封,本轮结束前任何人不可见)",
                    receipt.expert, receipt.round, receipt.criteria
                );
                match &receipt.closed {
                    Some(closed) => {
                        text.push_str(
                            "\n所有专家已提交,本轮结束 every expert has submitted; the round is closed.\n",
                        );
                        text.push_str(&describe_closed(closed));
                    }
                    None => text.push_str(&format!("\n待提交 pending: {}", receipt.pending.join(", "))),
                }
                ctx.out.show(text, &receipt);
            }
        }
        Command::Close { assessment } => {
            let who = ctx
                .person(&store, "POST", "/api/v1/assessments/{id}/close", None)
                .await?;
            if let Outcome::Closed(closed) = act(&store, &assessment, &who, PanelCommand::Close).await? {
                ctx.out.show(describe_closed(&closed), &closed);
            }
        }
        Command::Verdict {
            assessment,
            secrecy_justification,
            profile,
        } => {
            let profile = profile
                .map(|path| -> Result<DataProfile, Failure> {
                    let text = read_text(&path)?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a data profile", path.display()))
                        .map_err(Failure::Refused)
                })
                .transpose()?;
            let who = ctx
                .person(&store, "POST", "/api/v1/assessments/{id}/verdict", None)
                .await?;
            let outcome = store
                .decide_assessment(&assessment, &who.actor, secrecy_justification, profile)
                .await?;
            if let Outcome::Decided(report) = outcome {
                ctx.out.show(describe_verdict(&report), &report);
            }
        }
        Command::Report {
            assessment,
            format,
            round,
        } => {
            if let Some(round) = round {
                let summary = store.round_summary(&assessment, round).await?;
                ctx.out.show(describe_round(&summary), &summary);
                return Ok(());
            }
            let format = Format::parse(&format).ok_or_else(|| {
                Failure::Refused(anyhow::anyhow!(
                    "unknown format {format:?}; use markdown, html or json"
                ))
            })?;
            let report = store.verdict_report(&assessment).await?;
            let text = render(&report, format).map_err(|e| Failure::Failed(e.into()))?;
            ctx.out.show(text.trim_end(), &report);
        }
        Command::Portfolio => {
            let portfolio = store.portfolio().await?;
            show_portfolio(ctx, &portfolio);
        }
        Command::Rubric { .. } => {}
    }
    Ok(())
}

fn refused(err: AssessmentError) -> Failure {
    Failure::Refused(err.into())
}

/// A panel command by the person `who` (the panel's rules decide whether they may).
async fn act(
    store: &Store,
    assessment: &str,
    who: &crate::access::Principal,
    command: PanelCommand,
) -> Result<Outcome, Failure> {
    Ok(store.act_on_assessment(assessment, &who.actor, command).await?)
}

fn read_text(path: &Path) -> Result<String, Failure> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
        return Ok(text);
    }
    Ok(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?)
}

fn is_json(path: &Path, text: &str) -> bool {
    path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{')
}

/// The rubric version to open with: a file (registered on the way), a registered ID@VERSION, or
/// the built-in rubric.
async fn rubric_key(ctx: &Context, store: &Store, rubric: Option<&str>) -> Result<(String, i64), Failure> {
    let (rubric, source) = match rubric {
        None => (Rubric::builtin(), DEFAULT_RUBRIC.to_owned()),
        Some(value) if !Path::new(value).exists() && value.contains('@') => {
            let (id, version) = value.rsplit_once('@').unwrap_or((value, ""));
            let version: i64 = version.parse().map_err(|_| {
                Failure::Refused(anyhow::anyhow!(
                    "--rubric {value:?}: write ID@VERSION, e.g. ronghe-default@1"
                ))
            })?;
            store.rubric(id, version).await?;
            return Ok((id.to_owned(), version));
        }
        Some(path) => {
            let source = read_text(Path::new(path))?;
            (Rubric::parse(&source).map_err(|e| refused(e.into()))?, source)
        }
    };
    let record = store.register_rubric(&rubric, &source, &ctx.actor).await?;
    Ok((record.id, record.version))
}

fn show_rubric(ctx: &Context, file: Option<&Path>) -> Result<(), Failure> {
    let rubric = match file {
        None => Rubric::builtin(),
        Some(path) => Rubric::parse(&read_text(path)?).map_err(|e| refused(e.into()))?,
    };
    let spec = &rubric.spec;
    let mut text = format!(
        "{} {}@{}\n内容哈希 content hash: {}\n汇总 aggregation: {}\n",
        spec.title,
        spec.id,
        spec.version,
        rubric.content_hash,
        spec.panel.aggregation.label(spec.panel.trim_from_scores),
    );
    for scope in &rubric.ahp {
        text.push_str(&format!(
            "AHP {}: 评判人 judges {},一致性比率 CR {:.3}(各评判人 {}),λmax {:.3}\n",
            scope.scope,
            scope.judges.join("、"),
            scope.priorities.cr,
            scope
                .judge_cr
                .iter()
                .map(|c| format!("{c:.3}"))
                .collect::<Vec<_>>()
                .join(" / "),
            scope.priorities.lambda_max,
        ));
    }
    let mut table = comfy_table::Table::new();
    table.set_header([
        "指标组 group",
        "指标 criterion",
        "ID",
        "组内权重 local",
        "总权重 weight",
    ]);
    for (i, c) in spec.criteria.iter().enumerate() {
        let group = rubric
            .group(&c.group)
            .map(|(_, g)| g.name.as_str())
            .unwrap_or_default();
        table.add_row([
            group.to_owned(),
            c.name.clone(),
            c.id.clone(),
            format!("{:.3}", rubric.weights.local[i]),
            format!("{:.3}", rubric.weights.global[i]),
        ]);
    }
    text.push_str(&table.to_string());
    ctx.out.show(text, &rubric);
    Ok(())
}

fn list_experts(ctx: &Context, view: &AssessmentView) {
    let open = view.rounds.iter().find(|r| r.round.closed_at.is_none());
    let rows = view
        .experts
        .iter()
        .map(|e| {
            let declared = match &e.conflicts {
                None => "未申报".to_owned(),
                Some(list) if list.is_empty() => "无冲突".to_owned(),
                Some(list) => list.iter().map(|c| c.with.clone()).collect::<Vec<_>>().join("、"),
            };
            let submitted = match open {
                Some(r) if e.recusal.is_none() => if r.submitted.contains(&e.id) {
                    "已提交"
                } else {
                    "待提交"
                }
                .to_owned(),
                _ => "-".to_owned(),
            };
            vec![
                e.id.clone(),
                e.name.clone(),
                e.department.clone(),
                declared,
                e.recusal.clone().unwrap_or_else(|| "否".to_owned()),
                submitted,
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "专家 expert",
            "姓名 name",
            "单位 department",
            "利益冲突 conflicts",
            "回避 recused",
            "本轮 this round",
        ],
        rows,
        view,
    );
}

fn fixed(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}"))
}

fn describe_round(summary: &RoundSummary) -> String {
    let mut table = comfy_table::Table::new();
    table.set_header([
        "指标 criterion",
        "面板值 value",
        "1/2/3/4/5",
        "IQR",
        "CV",
        "争议 contested",
    ]);
    for c in &summary.criteria {
        let spread = c.spread.as_ref();
        table.add_row([
            c.name.clone(),
            fixed(c.value),
            spread.map_or_else(
                || "—".to_owned(),
                |s| {
                    s.distribution
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                },
            ),
            fixed(spread.map(|s| s.iqr)),
            fixed(spread.and_then(|s| s.cv)),
            if c.contested { "是" } else { "否" }.to_owned(),
        ]);
    }
    let mut text = format!(
        "第 {} 轮汇总(匿名) round {} summary\n{table}",
        summary.round, summary.round
    );
    for c in summary.criteria.iter().filter(|c| c.contested) {
        text.push_str(&format!("\n{} 的理由(匿名) reasons:", c.name));
        if c.reasons.is_empty() {
            text.push_str("\n  (无 none given)");
        }
        for r in &c.reasons {
            let score = r.score.map_or_else(|| "弃权".to_owned(), |s| format!("评分 {s}"));
            text.push_str(&format!("\n  - {score}:{}", r.text));
        }
    }
    text
}

fn describe_closed(closed: &RoundClosed) -> String {
    let mut text = describe_round(&closed.summary);
    match (&closed.next_round, &closed.summary.next_round) {
        (Some(n), Some(criteria)) => text.push_str(&format!(
            "\n意见分歧较大的指标进入第 {n} 轮(德尔菲)round {n} re-scores: {}",
            criteria.join(", ")
        )),
        _ => text.push_str(
            "\n评分轮次已结束,主持人可作出结论 every round is closed; the chair can give the verdict.",
        ),
    }
    text
}

fn describe_verdict(report: &Report) -> String {
    let verdict = &report.verdict;
    let mut text = format!(
        "结论 verdict: {} {} — {}",
        verdict.label,
        verdict.mode.name(),
        report.system.id
    );
    if let Some(c) = &verdict.confidence {
        text.push_str(&format!("\n置信度 confidence: {}", c.label));
    }
    if let Some(j) = &verdict.justification {
        text.push_str(&format!("\n保密例外理由 justification: {j}"));
    }
    if let Some(rationale) = &verdict.rationale {
        for a in &rationale.alternatives {
            let changes: Vec<String> = a
                .changes
                .iter()
                .map(|c| format!("{} {} 个评分 {}→{}", c.name, c.count, c.from, c.to))
                .collect();
            match a.score_changes {
                Some(n) => text.push_str(&format!(
                    "\n改为 {}:至少 {n} 处单分改动({})",
                    a.label,
                    changes.join(";")
                )),
                None => text.push_str(&format!("\n改为 {}:评分改动无法达到", a.label)),
            }
        }
    }
    text.push_str(&format!(
        "\n数据共享风险 risk: {}\n完整报告 report: ronghe assess report {}",
        report.risk.level_label, report.assessment_id
    ));
    text
}

fn show_portfolio(ctx: &Context, portfolio: &Portfolio) {
    let rows = portfolio
        .systems
        .iter()
        .map(|s| {
            vec![
                s.system_id.clone(),
                s.name.clone(),
                s.department.clone(),
                format!("{} {}", s.status.label(), s.status),
                match (&s.assessment_id, s.assessment_state) {
                    (Some(id), Some(state)) => format!("{id} {}", state.label()),
                    _ => "-".to_owned(),
                },
                s.mode_label.clone().unwrap_or_else(|| "-".to_owned()),
                s.confidence.clone().unwrap_or_else(|| "-".to_owned()),
                fixed(s.burden_index),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "系统 system",
            "名称 name",
            "部门 department",
            "状态 status",
            "评估 assessment",
            "融合方式 mode",
            "置信度 confidence",
            "融合难度 burden",
        ],
        rows,
        portfolio,
    );
    for a in &portfolio.agreement {
        ctx.out.note(&match &a.concordance {
            Some(c) => format!(
                "Kendall's W {:.3}:{} 位专家对 {} 个系统({})融合难度排序的一致程度",
                c.w,
                a.experts,
                a.systems.len(),
                a.rubric
            ),
            None => format!(
                "{}:评过全部 {} 个系统的专家不足两位,无法计算 Kendall's W",
                a.rubric,
                a.systems.len()
            ),
        });
    }
}
