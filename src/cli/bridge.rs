//! `ronghe bridge …`: the user bridge (用户互认) from the command line: check and attach a
//! system's bridge config, record identities and import accounts (auto-linking), link, unlink,
//! list links, issue and redeem tickets, the report of conflicts and unknown accounts, and the
//! re-key after a key rotation. Names and numbers are shown masked.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use ronghe_adapters::{Environment, Secrets};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{Context, Failure, checked, read_config, refused_config};
use crate::bridge::{
    Bridge, BridgeConfig, BridgeError, Credentials, LinkRequest, LinkView, NewAccount, NewIdentity, Redirect,
    SystemCredentials,
};
use crate::store::AutoLink;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Validate a system's bridge config without storing it; every problem at once 校验互认配置.
    Check { file: PathBuf },
    /// Validate a bridge config and attach it to a registered system 绑定互认配置.
    Attach { system: String, file: PathBuf },
    /// Record platform identities from the real-name system, one JSON per line ('-' reads
    /// stdin), and auto-link them 记录平台身份.
    Identities { file: PathBuf },
    /// The cases written back under a platform user (their applicants' accounts resolved through
    /// the links) 用户的回传办件.
    Cases { user_id: String },
    /// Import a system's accounts, one JSON per line ({"account_id", "certificate_no"}), and
    /// auto-link them through certificate numbers 导入原系统账号.
    Accounts { system: String, file: PathBuf },
    /// Link a user explicitly: with --proof from the system, or ACCOUNT and --reason as an
    /// administrator 关联账号.
    Link {
        user: String,
        system: String,
        account: Option<String>,
        /// Why an administrator links them (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// A link proof the system handed out after the user logged in there.
        #[arg(long, conflicts_with = "account")]
        proof: Option<String>,
    },
    /// Revoke a user's link to a system 解除关联.
    Unlink {
        user: String,
        system: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// List links 查看关联.
    Links {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        system: Option<String>,
        /// Include revoked links.
        #[arg(long)]
        history: bool,
    },
    /// Issue a ticket for a linked user and a system 签发票据.
    Issue {
        user: String,
        system: String,
        /// Where to send the user (one of the system's callback_urls, exactly).
        #[arg(long)]
        callback: Option<String>,
        /// The department's `state`, echoed back in the redirect.
        #[arg(long)]
        state: Option<String>,
    },
    /// Redeem a ticket as the system would, with its configured credentials 兑换票据.
    Redeem { system: String, ticket: String },
    /// Auto-link conflicts and accounts write-backs named but no one is linked to 待处理事项.
    Report {
        #[arg(long)]
        system: Option<String>,
    },
    /// Re-seal everything under the active key after a rotation 密钥轮换后重新加密.
    Rekey,
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let now = Utc::now();
    match command {
        Command::Check { file } => checked(&ctx.out, BridgeConfig::parse(&read_config(&file)?), |config| {
            let warnings = config.warnings();
            let mut human = format!(
                "有效 valid: bridge config (minimum level {}, tickets live {} s)",
                config.minimum_level, config.ticket_lifetime_seconds
            );
            for warning in &warnings {
                human.push_str(&format!("\n  注意 warning: {warning}"));
            }
            (human, json!({ "valid": true, "warnings": warnings }))
        }),
        Command::Attach { system, file } => {
            let text = read_config(&file)?;
            BridgeConfig::parse(&text).map_err(refused_config("bridge"))?;
            let store = ctx.store().await?;
            if store.get_system(&system).await?.secret {
                return Err(Failure::Refused(anyhow::anyhow!(
                    "system {system} is bound by secrecy rules (涉密); it is not bridged"
                )));
            }
            store.set_bridge_config(&system, &text, &ctx.actor).await?;
            ctx.out.show(
                format!("已绑定 attached: bridge config to {system}"),
                &json!({ "system": system }),
            );
            Ok(())
        }
        Command::Cases { user_id } => {
            let cases = ctx
                .bridge()
                .await?
                .user_cases(&user_id, &ctx.actor)
                .await
                .map_err(refusal)?;
            super::cases::print_owned(ctx, &cases);
            Ok(())
        }
        Command::Identities { file } => {
            let bridge = ctx.bridge().await?;
            let mut failed = false;
            let mut lines = Vec::new();
            let mut values = Vec::new();
            for (line, parsed) in json_lines::<NewIdentity>(&file)? {
                let outcome = match parsed {
                    Ok(new) => bridge.put_identity(new, &ctx.actor, now).await.map_err(refusal),
                    Err(err) => Err(Failure::Refused(err)),
                };
                match outcome {
                    Ok(report) => {
                        let v = &report.identity;
                        lines.push(format!(
                            "第{line}行 line {line}: 已记录 recorded {} ({}, {}, {}){}",
                            v.user_id,
                            v.name,
                            v.certificate_no,
                            v.level,
                            describe_auto(&report.links)
                        ));
                        values.push(json!({ "line": line, "report": report }));
                    }
                    Err(Failure::Refused(err)) => {
                        failed = true;
                        lines.push(format!("第{line}行 line {line}: 拒绝 refused: {err:#}"));
                        values.push(json!({ "line": line, "error": format!("{err:#}") }));
                    }
                    Err(other) => return Err(other),
                }
            }
            ctx.out.show(lines.join("\n"), &values);
            if failed { Err(Failure::No) } else { Ok(()) }
        }
        Command::Accounts { system, file } => {
            let bridge = ctx.bridge().await?;
            let mut accounts = Vec::new();
            for (line, parsed) in json_lines::<NewAccount>(&file)? {
                accounts.push(parsed.map_err(|e| Failure::Refused(e.context(format!("line {line}"))))?);
            }
            let report = bridge
                .import_accounts(&system, accounts, &ctx.actor, now)
                .await
                .map_err(refusal)?;
            let mut human = format!("已导入 imported: {} account(s) of {system}", report.accounts);
            for l in &report.links {
                human.push_str(&format!(
                    "\n  {}{}",
                    l.user_id,
                    describe_auto(std::slice::from_ref(&l.outcome))
                ));
            }
            ctx.out.show(human, &report);
            Ok(())
        }
        Command::Link {
            user,
            system,
            account,
            reason,
            proof,
        } => {
            let request = LinkRequest {
                user_id: user,
                system_id: system,
                proof,
                account_id: account,
                reason,
            };
            let link = ctx
                .bridge()
                .await?
                .link(request, &ctx.actor, now)
                .await
                .map_err(refusal)?;
            ctx.out
                .show(format!("已关联 linked:\n{}", describe_link(&link)), &link);
            Ok(())
        }
        Command::Unlink { user, system, reason } => {
            let bridge = ctx.bridge().await?;
            let link = bridge
                .unlink(&user, &system, &reason, &ctx.actor, now)
                .await
                .map_err(refusal)?;
            ctx.out
                .show(format!("已解除 unlinked:\n{}", describe_link(&link)), &link);
            Ok(())
        }
        Command::Links {
            user,
            system,
            history,
        } => {
            let bridge = ctx.bridge().await?;
            let links = bridge
                .links(user.as_deref(), system.as_deref(), history, &ctx.actor, now)
                .await
                .map_err(refusal)?;
            let rows = links
                .iter()
                .map(|l| {
                    vec![
                        l.user_id.clone(),
                        l.system_id.clone(),
                        l.account_id.clone(),
                        format!("{} {}", l.method.label(), l.method.name()),
                        l.created_at.to_rfc3339(),
                        l.revoked_at.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339()),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "用户 user",
                    "系统 system",
                    "账号 account",
                    "方式 method",
                    "关联 linked",
                    "解除 revoked",
                ],
                rows,
                &links,
            );
            Ok(())
        }
        Command::Issue {
            user,
            system,
            callback,
            state,
        } => {
            let bridge = ctx.bridge().await?;
            let redirect = Redirect {
                callback: callback.as_deref(),
                state: state.as_deref(),
            };
            let issued = bridge
                .issue(&user, &system, &redirect, &ctx.actor, now)
                .await
                .map_err(refusal)?;
            let mut human = format!(
                "票据 ticket (有效至 valid until {}):\n{}",
                issued.expires_at.to_rfc3339(),
                issued.ticket
            );
            if let Some(url) = &issued.redirect_url {
                human.push_str(&format!("\n跳转 redirect: {url}"));
            }
            ctx.out.show(human, &issued);
            Ok(())
        }
        Command::Redeem { system, ticket } => {
            let bridge = ctx.bridge().await?;
            let config = bridge.system_config(&system).await.map_err(refusal)?;
            let secret = match &config.credentials {
                Credentials::Basic { secret } => Environment.resolve(secret),
            }
            .map_err(|e| Failure::Failed(e.into()))?;
            let credentials = SystemCredentials {
                system_id: system,
                secret,
                source: None,
            };
            let redemption = bridge
                .redeem(&credentials, &ticket, now)
                .await
                .map_err(|err| match err {
                    BridgeError::Ticket(refusal) => {
                        Failure::Refused(anyhow::anyhow!("{} [{}]", refusal, refusal.code()))
                    }
                    other => refusal(other),
                })?;
            let attributes: Vec<String> = redemption.attributes.keys().cloned().collect();
            ctx.out.show(
                format!(
                    "已兑换 redeemed: account {} (level {}); attributes released: {}",
                    crate::bridge::shown_account(&redemption.account_id, now.date_naive()),
                    redemption.level,
                    if attributes.is_empty() {
                        "-".to_owned()
                    } else {
                        attributes.join(", ")
                    }
                ),
                &json!({
                    "account_id": crate::bridge::shown_account(&redemption.account_id, now.date_naive()),
                    "link_id": redemption.link_id,
                    "level": redemption.level,
                    "attributes": attributes,
                }),
            );
            Ok(())
        }
        Command::Report { system } => {
            let report = ctx
                .bridge()
                .await?
                .report(system.as_deref(), &ctx.actor, now)
                .await
                .map_err(refusal)?;
            let mut human = format!("冲突 conflicts: {}", report.conflicts.len());
            for c in &report.conflicts {
                human.push_str(&format!(
                    "\n  {} {}: {} [{}]",
                    c.system_id,
                    c.user_id,
                    c.account_ids.join(", "),
                    c.reason
                ));
            }
            human.push_str(&format!(
                "\n未识别账号 unresolved accounts: {}",
                report.unresolved.len()
            ));
            for u in &report.unresolved {
                human.push_str(&format!(
                    "\n  {} {}: {} time(s), last in {}",
                    u.system_id,
                    u.account_id,
                    u.occurrences,
                    u.last_context.as_deref().unwrap_or("-")
                ));
            }
            ctx.out.show(human, &report);
            Ok(())
        }
        Command::Rekey => {
            let (identities, accounts) = ctx.bridge().await?.rekey(&ctx.actor).await.map_err(refusal)?;
            ctx.out.show(
                format!("已重新加密 re-sealed: {identities} identities, {accounts} accounts"),
                &json!({ "identities": identities, "accounts": accounts }),
            );
            Ok(())
        }
    }
}

impl Context {
    /// The node's keys from `[bridge]` in the config, or `None` when it has none.
    pub(super) fn keyring(&self) -> Result<Option<crate::bridge::Keyring>, Failure> {
        let config = self.config()?;
        let Some(keys) = config.bridge.as_ref() else {
            return Ok(None);
        };
        crate::bridge::Keyring::build(keys, &Environment)
            .map(Some)
            .map_err(|e| Failure::Failed(anyhow::Error::new(e).context("cannot build the bridge keys")))
    }

    /// The bridge: the store and the `[bridge]` keys of the config.
    pub(super) async fn bridge(&self) -> Result<Bridge, Failure> {
        let keyring = self.keyring()?.ok_or_else(|| {
            Failure::Refused(anyhow::anyhow!(
                "no [bridge] keys in the config; add them (see README) and pass --config"
            ))
        })?;
        Ok(Bridge::new(
            self.store().await?,
            std::sync::Arc::new(keyring),
            std::sync::Arc::new(Environment),
        ))
    }
}

/// Refusals are the user's to act on (exit 1); a failing store or broken keys are failures (3).
fn refusal(err: BridgeError) -> Failure {
    match err {
        BridgeError::Store(store) => store.into(),
        BridgeError::Keys(_) => Failure::Failed(err.into()),
        other => Failure::Refused(other.into()),
    }
}

/// The non-empty lines of a JSON-lines file ('-': stdin), each parsed, with its line number.
fn json_lines<T: DeserializeOwned>(file: &Path) -> Result<Vec<(usize, anyhow::Result<T>)>, Failure> {
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut parsed = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read line {} (is it UTF-8?)", i + 1))?;
        let text = line.trim().trim_start_matches('\u{feff}');
        if !text.is_empty() {
            parsed.push((i + 1, serde_json::from_str(text).map_err(json_problem)));
        }
    }
    Ok(parsed)
}

/// What is wrong with a line, without echoing a value (it may be a certificate number).
fn json_problem(err: serde_json::Error) -> anyhow::Error {
    let message = err.to_string();
    if message.starts_with("missing field") || message.starts_with("unknown field") {
        anyhow::anyhow!("{message}")
    } else {
        anyhow::anyhow!(
            "not a valid record ({:?} error at column {})",
            err.classify(),
            err.column()
        )
    }
}

fn describe_auto(outcomes: &[AutoLink]) -> String {
    outcomes
        .iter()
        .map(|o| match o {
            AutoLink::Linked { system_id, .. } => format!("; 已关联 linked to {system_id}"),
            AutoLink::AlreadyLinked { system_id } => format!("; 已有关联 already linked in {system_id}"),
            AutoLink::Unlinked { system_id } => {
                format!(
                    "; 曾解除关联,不再自动关联 unlinked before in {system_id}: not linked again automatically"
                )
            }
            AutoLink::Conflict { system_id, reason } => {
                format!(
                    "; 冲突 conflict in {system_id}: {}",
                    serde_json::json!(reason).as_str().unwrap_or("?")
                )
            }
        })
        .collect()
}

fn describe_link(l: &LinkView) -> String {
    let mut text = format!(
        "  关联 link:    {}\n  用户 user:    {}\n  系统 system:  {}\n  账号 account: {}\n  方式 method:  {} {}\n  时间 at:      {} ({})",
        l.link_id,
        l.user_id,
        l.system_id,
        l.account_id,
        l.method.label(),
        l.method.name(),
        l.created_at.to_rfc3339(),
        l.created_by
    );
    if let Some(at) = l.revoked_at {
        text.push_str(&format!(
            "\n  解除 revoked:  {} ({}): {}",
            at.to_rfc3339(),
            l.revoked_by.as_deref().unwrap_or("-"),
            l.revoke_reason.as_deref().unwrap_or("-")
        ));
    }
    text
}
