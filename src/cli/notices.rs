//! `ronghe notices add|list`: announce a change to a system (Art. 16, 29, 30) — refused, with
//! the earliest allowed effective date, when the notice period is too short — and list notices.

use chrono::NaiveDate;
use clap::Subcommand;

use super::{Context, Failure};
use crate::notices::{NewNotice, NoticeKind};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Announce a change 发布变更公告.
    Add {
        system: String,
        /// function_change | interface_change | validation_rule_change | environment_change |
        /// collection_item | channel_change
        #[arg(long, value_parser = parse_kind)]
        kind: NoticeKind,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        body: String,
        /// 生效日期 YYYY-MM-DD.
        #[arg(long)]
        effective: NaiveDate,
        /// 发布日期 YYYY-MM-DD (default today, Beijing time).
        #[arg(long)]
        published: Option<NaiveDate>,
        /// Why an emergency change cannot wait for the notice period (recorded) 紧急理由.
        #[arg(long)]
        emergency: Option<String>,
    },
    /// List notices, newest first 公告列表.
    List {
        #[arg(long)]
        system: Option<String>,
        /// Only those taking effect on or after this date.
        #[arg(long)]
        from: Option<NaiveDate>,
    },
}

fn parse_kind(text: &str) -> Result<NoticeKind, String> {
    NoticeKind::parse(text).ok_or_else(|| {
        let kinds: Vec<&str> = NoticeKind::ALL.iter().map(|k| k.name()).collect();
        format!("use one of {}", kinds.join(", "))
    })
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Add {
            system,
            kind,
            title,
            body,
            effective,
            published,
            emergency,
        } => {
            let config = ctx.config()?;
            let calendar = crate::calendar::Calendar::load(config.calendar_override.as_deref())
                .map_err(|e| Failure::Failed(e.into()))?;
            let new = NewNotice {
                system_id: system,
                kind,
                title,
                body,
                published_on: published,
                effective_on: effective,
                emergency_reason: emergency,
            };
            let (published_on, earliest) =
                new.check(&calendar, crate::calendar::today())
                    .map_err(|problems| {
                        let lines: Vec<String> = problems
                            .iter()
                            .map(|p| format!("{}: {} [{}]", p.field, p.message, p.rule))
                            .collect();
                        Failure::Refused(anyhow::anyhow!(
                            "公告不符合规定 notice refused:\n  {}",
                            lines.join("\n  ")
                        ))
                    })?;
            let notice = ctx
                .store()
                .await?
                .insert_notice(&new, published_on, earliest, &ctx.actor)
                .await?;
            ctx.out.show(
                format!(
                    "已发布 published notice {}: [{}] {} — {} 发布, {} 生效 (依据{}, 最早 {}){}",
                    notice.id,
                    notice.kind_label,
                    notice.title,
                    notice.published_on,
                    notice.effective_on,
                    notice.basis,
                    notice.earliest_allowed_on,
                    notice
                        .emergency_reason
                        .as_deref()
                        .map(|r| format!("; 紧急 emergency: {r}"))
                        .unwrap_or_default()
                ),
                &notice,
            );
        }
        Command::List { system, from } => {
            let notices = ctx.store().await?.list_notices(system.as_deref(), from).await?;
            let rows = notices
                .iter()
                .map(|n| {
                    vec![
                        n.id.to_string(),
                        n.system_id.clone(),
                        n.kind_label.clone(),
                        n.title.clone(),
                        n.published_on.to_string(),
                        n.effective_on.to_string(),
                        if n.emergency_reason.is_some() {
                            "紧急".to_owned()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "ID",
                    "系统 system",
                    "类别 kind",
                    "标题 title",
                    "发布 published",
                    "生效 effective",
                    "",
                ],
                rows,
                &notices,
            );
        }
    }
    Ok(())
}
