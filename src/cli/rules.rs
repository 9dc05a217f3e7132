//! `ronghe rules add|list`: publish a data-collection item or validation rule (Art. 29) and
//! list the published ones.

use chrono::NaiveDate;
use clap::Subcommand;

use super::{Context, Failure};
use crate::rules::{Check, NewRule};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Publish a rule 公布规则.
    Add {
        /// The item's 实施编码, or * for every item.
        #[arg(long)]
        item: String,
        /// The canonical field, e.g. applicant.phone.
        #[arg(long)]
        field: String,
        /// required | max_length=N | one_of=A,B,… | pattern=REGEX
        #[arg(long)]
        check: String,
        /// What the rule asks of applicants, as published (zh-CN).
        #[arg(long)]
        description: String,
        /// Publication date (YYYY-MM-DD, default today); binds applications from then on.
        #[arg(long)]
        published_on: Option<NaiveDate>,
    },
    /// List published rules 规则列表.
    List {
        #[arg(long)]
        item: Option<String>,
    },
}

fn parse_check(text: &str) -> Result<Check, Failure> {
    let (kind, arg) = text.split_once('=').unwrap_or((text, ""));
    match kind {
        "required" if arg.is_empty() => Ok(Check::Required),
        "max_length" => arg
            .parse()
            .map(|max| Check::MaxLength { max })
            .map_err(|_| refuse(text)),
        "one_of" if !arg.is_empty() => Ok(Check::OneOf {
            values: arg.split(',').map(|v| v.trim().to_owned()).collect(),
        }),
        "pattern" if !arg.is_empty() => Ok(Check::Pattern {
            regex: arg.to_owned(),
        }),
        _ => Err(refuse(text)),
    }
}

fn refuse(text: &str) -> Failure {
    Failure::Refused(anyhow::anyhow!(
        "--check {text:?}: use required, max_length=N, one_of=A,B or pattern=REGEX"
    ))
}

fn describe(check: &Check) -> String {
    match check {
        Check::Required => "required".to_owned(),
        Check::MaxLength { max } => format!("max_length={max}"),
        Check::OneOf { values } => format!("one_of={}", values.join(",")),
        Check::Pattern { regex } => format!("pattern={regex}"),
    }
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Add {
            item,
            field,
            check,
            description,
            published_on,
        } => {
            let today = crate::calendar::today();
            let rule = NewRule {
                item_code: item,
                field,
                check: parse_check(&check)?,
                description,
                published_on: published_on.unwrap_or(today),
            };
            let problems = rule.problems(today);
            if !problems.is_empty() {
                let lines: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {} [{}]", p.field, p.message, p.rule))
                    .collect();
                return Err(Failure::Refused(anyhow::anyhow!(
                    "invalid rule: {}",
                    lines.join("; ")
                )));
            }
            let published = ctx.store().await?.insert_rule(&rule, &ctx.actor).await?;
            ctx.out.show(
                format!(
                    "已公布 published rule {}: {} {} for {} from {}",
                    published.id,
                    published.field,
                    describe(&published.check),
                    published.item_code,
                    published.published_on
                ),
                &published,
            );
        }
        Command::List { item } => {
            let rules = ctx.store().await?.list_rules(item.as_deref()).await?;
            let rows = rules
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.item_code.clone(),
                        r.field.clone(),
                        describe(&r.check),
                        r.published_on.to_string(),
                        r.description.clone(),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "ID",
                    "事项 item",
                    "字段 field",
                    "规则 check",
                    "公布 published",
                    "说明 description",
                ],
                rows,
                &rules,
            );
        }
    }
    Ok(())
}
