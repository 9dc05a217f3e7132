//! `ronghe accounts …`: staff accounts (Art. 20, 21). The host administrator creates accounts,
//! grants roles and manages their lifecycle straight on the store (audited as `host:USER@HOST`);
//! a person enrols from their one-time link and signs in with password and TOTP code to get a
//! personal API token for the commands that act as them.

use std::io::Read as _;

use anyhow::{Context as _, anyhow};
use clap::{Args, Subcommand};

use super::{Context, Failure, host_principal};
use crate::access::{AccountStatus, Grant, Role, Scope};
use crate::accounts::{AccountError, AccountView, EnrolmentLink, NewAccount};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// The first platform administrator of a fresh store; prints their enrolment link 初始化管理员.
    Bootstrap(PersonArgs),
    /// Create an account with its roles; prints its one-time enrolment link 创建账号.
    Create {
        #[command(flatten)]
        person: PersonArgs,
        /// A role in a scope, ROLE@SCOPE (repeatable), e.g. expert@province,
        /// engineer@region:520100, operator@agency:520100:贵阳市政务服务中心.
        #[arg(long = "role", value_name = "ROLE@SCOPE", required = true)]
        roles: Vec<String>,
        /// Who approved the roles (default: the host administrator).
        #[arg(long)]
        approved_by: Option<String>,
    },
    /// List accounts (personal fields masked) 账号列表.
    List,
    /// Show an account with its grant history 查看账号.
    Show { id: String },
    /// Grant a role in a scope 授予角色.
    Grant {
        id: String,
        /// ROLE@SCOPE.
        #[arg(long = "role", value_name = "ROLE@SCOPE")]
        role: String,
        #[arg(long)]
        approved_by: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Revoke a grant by its number (see `accounts show`) 撤销角色.
    Revoke {
        id: String,
        #[arg(long)]
        grant: i64,
        #[arg(long)]
        reason: String,
    },
    /// Suspend an active account; its sessions and tokens end 暂停账号.
    Suspend {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Reactivate a suspended account 恢复账号.
    Reactivate {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Disable an account on departure, for good; its history stays 注销账号.
    Disable {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// A new enrolment link (lost authenticator, expired link) 重新登记.
    Enrolment { id: String },
    /// As the person: set your password from the enrolment link (password on stdin); prints
    /// the authenticator secret 设置密码.
    Enrol {
        /// The enrolment token (it may begin with '-').
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
    /// As the person: confirm your authenticator with a current code; activates the account 确认验证器.
    Confirm {
        #[arg(allow_hyphen_values = true)]
        token: String,
        #[arg(long)]
        code: String,
    },
    /// Your personal API tokens 个人令牌.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub(super) enum TokenCommand {
    /// Sign in (password on stdin, --code from your authenticator) and create a token carrying
    /// your roles (or only those named with --role); prints it once 创建令牌.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        code: String,
        /// A role the token carries (repeatable); all the account's roles when absent.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until it expires (1-365).
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// Your tokens (with --token) 令牌列表.
    List,
    /// Revoke one of your tokens (with --token) 撤销令牌.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub(super) struct PersonArgs {
    /// Login id: 3-32 of a-z, 0-9, '.', '_', '-', starting with a letter.
    #[arg(long)]
    id: String,
    /// Real name 姓名.
    #[arg(long)]
    name: String,
    /// Resident ID number 公民身份号码 (stored sealed).
    #[arg(long)]
    resident_id: String,
    /// Mobile 手机号码 (stored sealed).
    #[arg(long)]
    mobile: String,
    /// Agency 工作单位.
    #[arg(long)]
    agency: String,
    /// The agency's division code 行政区划代码.
    #[arg(long)]
    region: String,
    /// Why the account is created.
    #[arg(long, default_value = "新建账号 new account")]
    reason: String,
}

impl PersonArgs {
    fn into_new(self, grants: Vec<Grant>, approved_by: Option<String>) -> NewAccount {
        NewAccount {
            id: self.id,
            name: self.name,
            resident_id: self.resident_id,
            mobile: self.mobile,
            agency: self.agency,
            region: self.region,
            grants,
            approved_by,
            reason: self.reason,
        }
    }
}

/// A role's name, e.g. `engineer`.
fn parse_role(name: &str) -> Result<Role, Failure> {
    Role::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        Failure::Usage(anyhow!(
            "--role {name:?}: unknown role; one of {}",
            names.join(", ")
        ))
    })
}

/// `ROLE@SCOPE`, e.g. `engineer@region:520100`.
pub(super) fn parse_grant(text: &str) -> Result<Grant, Failure> {
    let (role, scope) = text.split_once('@').ok_or_else(|| {
        Failure::Usage(anyhow!(
            "--role {text:?}: write ROLE@SCOPE, e.g. engineer@region:520100"
        ))
    })?;
    let role = parse_role(role)?;
    let scope = Scope::parse(scope).map_err(|e| Failure::Usage(anyhow!("--role {text:?}: {e}")))?;
    Ok(Grant { role, scope })
}

fn refused(err: AccountError) -> Failure {
    match err {
        AccountError::Store(e) => Failure::Failed(e.into()),
        AccountError::NoKeys => Failure::Usage(err.into()),
        AccountError::Invalid(problems) => {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect();
            Failure::Refused(anyhow!("{}", lines.join("\n")))
        }
        other => Failure::Refused(other.into()),
    }
}

fn read_password() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from stdin")?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn show_link(ctx: &Context, link: &EnrolmentLink) {
    // The console's page for it, at the platform's public URL (the configured listen port when
    // `public_url` is unset).
    let base = ctx.config().map(|c| c.public_url(c.listen.port())).ok();
    let page = link.page(base.as_ref());
    ctx.out.show(
        format!(
            "已创建 created: {}\n一次性登记链接 one-time enrolment link (只显示一次 shown once; 有效期至 valid until {}):\n  {page}\n本人在浏览器打开它设置密码与验证器 the person opens it to enrol; or on the command line:\n  ronghe accounts enrol {} < password.txt\n  (或 or POST /api/v1/auth/enrolment {{\"token\", \"password\"}})",
            link.account, link.expires_at, link.token
        ),
        link,
    );
}

fn describe(view: &AccountView) -> String {
    let mut text = format!(
        "{} {} [{}]\n  身份证 resident ID: {}  手机 mobile: {}\n  单位 agency: {} ({})\n  创建 created by {} at {}",
        view.id,
        view.name,
        view.status.name(),
        view.resident_id,
        view.mobile,
        view.agency,
        view.region,
        view.created_by,
        view.created_at
    );
    if let Some(until) = view.locked_until {
        text.push_str(&format!("\n  锁定至 locked until {until}"));
    }
    for g in &view.grants {
        let revoked = g
            .revoked_at
            .map(|at| {
                format!(
                    "  撤销 revoked {at} by {}",
                    g.revoked_by.as_deref().unwrap_or("?")
                )
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "\n  #{} {}@{} 授予 granted by {} (批准 approved by {}; {}){revoked}",
            g.id, g.role, g.scope, g.granted_by, g.approved_by, g.reason
        ));
    }
    text
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let store = ctx.store().await?;
    let accounts = ctx.accounts(&store)?;
    let host = host_principal();
    match command {
        Command::Bootstrap(person) => {
            let link = accounts
                .bootstrap(&host, person.into_new(Vec::new(), None))
                .await
                .map_err(refused)?;
            show_link(ctx, &link);
        }
        Command::Create {
            person,
            roles,
            approved_by,
        } => {
            let grants = roles
                .iter()
                .map(|r| parse_grant(r))
                .collect::<Result<Vec<_>, _>>()?;
            let link = accounts
                .create(&host, person.into_new(grants, approved_by))
                .await
                .map_err(refused)?;
            show_link(ctx, &link);
        }
        Command::List => {
            let views = accounts.list(&host).await.map_err(refused)?;
            let rows = views
                .iter()
                .map(|v| {
                    let roles: Vec<String> = v
                        .grants
                        .iter()
                        .map(|g| format!("{}@{}", g.role, g.scope))
                        .collect();
                    vec![
                        v.id.clone(),
                        v.name.clone(),
                        v.status.name().to_owned(),
                        v.agency.clone(),
                        roles.join(" "),
                    ]
                })
                .collect();
            ctx.out.table(
                &["账号 ID", "姓名 NAME", "状态 STATUS", "单位 AGENCY", "角色 ROLES"],
                rows,
                &views,
            );
        }
        Command::Show { id } => {
            let view = accounts.show(&host, &id).await.map_err(refused)?;
            ctx.out.show(describe(&view), &view);
        }
        Command::Grant {
            id,
            role,
            approved_by,
            reason,
        } => {
            let grant = parse_grant(&role)?;
            let number = accounts
                .grant(&host, &id, grant, approved_by, &reason)
                .await
                .map_err(refused)?;
            ctx.out.show(
                format!("已授予 granted #{number} {role} to {id}"),
                &serde_json::json!({ "grant": number }),
            );
        }
        Command::Revoke { id, grant, reason } => {
            accounts
                .revoke(&host, &id, grant, &reason)
                .await
                .map_err(refused)?;
            ctx.out.show(
                format!("已撤销 revoked #{grant} of {id}"),
                &serde_json::json!({ "revoked": grant }),
            );
        }
        Command::Suspend { id, reason } => {
            status(ctx, &accounts, &id, AccountStatus::Suspended, &reason).await?
        }
        Command::Reactivate { id, reason } => {
            status(ctx, &accounts, &id, AccountStatus::Active, &reason).await?
        }
        Command::Disable { id, reason } => {
            status(ctx, &accounts, &id, AccountStatus::Disabled, &reason).await?
        }
        Command::Enrolment { id } => {
            let link = accounts.reenrol(&host, &id).await.map_err(refused)?;
            show_link(ctx, &link);
        }
        Command::Enrol { token } => {
            let password = read_password()?;
            let setup = accounts
                .start_enrolment(&token, &password)
                .await
                .map_err(refused)?;
            ctx.out.show(
                format!(
                    "密码已设置 password set for {}\n在验证器应用中添加 add to your authenticator app:\n  密钥 secret: {}\n  {}\n然后确认 then confirm: ronghe accounts confirm {} --code 123456",
                    setup.account, setup.secret, setup.uri, token
                ),
                &setup,
            );
        }
        Command::Confirm { token, code } => {
            let account = accounts.confirm_enrolment(&token, &code).await.map_err(refused)?;
            ctx.out.show(
                format!("已启用 active: {account}"),
                &serde_json::json!({ "account": account, "status": "active" }),
            );
        }
        Command::Token(TokenCommand::Create {
            account,
            code,
            roles,
            name,
            days,
        }) => {
            let roles = roles
                .iter()
                .map(|name| parse_role(name))
                .collect::<Result<Vec<_>, _>>()?;
            let password = read_password()?;
            let issued = accounts
                .sign_in_for_token(&account, &password, &code, &name, &roles, days)
                .await
                .map_err(refused)?;
            ctx.out.show(
                format!(
                    "令牌 token (只显示一次 shown once; 有效期至 expires {}):\n{}\n使用 use: ronghe --token … or RONGHE_TOKEN, or Authorization: Bearer …",
                    issued.token.expires_at, issued.secret
                ),
                &issued,
            );
        }
        Command::Token(TokenCommand::List) => {
            let who = ctx.person(&store, "GET", "/api/v1/me/tokens", None).await?;
            let tokens = accounts.tokens(&who).await.map_err(refused)?;
            let rows = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.id.clone(),
                        t.name.clone(),
                        t.roles.clone(),
                        t.expires_at.to_string(),
                        t.last_used_at
                            .map(|at| at.to_string())
                            .unwrap_or_else(|| "-".into()),
                        t.revoked_at.map_or("", |_| "revoked").to_owned(),
                    ]
                })
                .collect();
            ctx.out.table(
                &["ID", "NAME", "ROLES", "EXPIRES", "LAST USED", ""],
                rows,
                &tokens,
            );
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            let who = ctx
                .person(&store, "DELETE", "/api/v1/me/tokens/{id}", None)
                .await?;
            accounts.revoke_token(&who, &id).await.map_err(refused)?;
            ctx.out.show(
                format!("已撤销 revoked token {id}"),
                &serde_json::json!({ "revoked": id }),
            );
        }
    }
    Ok(())
}

async fn status(
    ctx: &Context,
    accounts: &crate::accounts::Accounts,
    id: &str,
    status: AccountStatus,
    reason: &str,
) -> Result<(), Failure> {
    accounts
        .set_status(&host_principal(), id, status, reason)
        .await
        .map_err(refused)?;
    ctx.out.show(
        format!("{id}: {}", status.name()),
        &serde_json::json!({ "account": id, "status": status }),
    );
    Ok(())
}
