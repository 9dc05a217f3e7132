//! `ronghe systems add|list|show|update|retire`: the registry of departmental systems, written
//! straight to the store (the same rules and audit log as the API).

use chrono::Utc;
use clap::{Args, Subcommand};

use super::{Context, Failure};
use crate::systems::{NewSystem, System, SystemError, SystemPatch, SystemStatus};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Register a system 登记系统.
    Add(AddArgs),
    /// List systems 列出系统.
    List {
        /// Only systems with this status (registered, assessed, planned, integrating, live, retired).
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one system 查看系统.
    Show { id: String },
    /// Change fields of a system 修改系统.
    Update(UpdateArgs),
    /// Retire a system 停用系统.
    Retire {
        id: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct AddArgs {
    /// Slug, e.g. gy-scjg-xk.
    #[arg(long)]
    id: String,
    /// 系统名称.
    #[arg(long)]
    name: String,
    /// 所属部门.
    #[arg(long)]
    department: String,
    /// 所属区划 (GB/T 2260 code).
    #[arg(long)]
    region: String,
    /// rest, soap, sql or mssql.
    #[arg(long)]
    protocol: String,
    /// Base URL or database address (no password in it).
    #[arg(long)]
    endpoint: String,
    /// Where the credentials live: env:NAME or file:PATH.
    #[arg(long)]
    credentials_ref: Option<String>,
    /// Bound by secrecy rules (涉密): recorded, never integrated.
    #[arg(long)]
    secret: bool,
}

#[derive(Debug, Args)]
pub(super) struct UpdateArgs {
    id: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    department: Option<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    protocol: Option<String>,
    #[arg(long)]
    endpoint: Option<String>,
    /// env:NAME or file:PATH; an empty value removes it.
    #[arg(long)]
    credentials_ref: Option<String>,
    #[arg(long)]
    secret: Option<bool>,
    /// Next status: assessed, planned, integrating, live.
    #[arg(long)]
    status: Option<String>,
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Add(a) => {
            let new = NewSystem {
                id: a.id,
                name: a.name,
                department: a.department,
                region_code: a.region,
                protocol: a.protocol,
                endpoint: a.endpoint,
                credentials_ref: a.credentials_ref,
                secret: a.secret,
            };
            let system = new.validate(Utc::now()).map_err(refused)?;
            ctx.store().await?.insert_system(&system, &ctx.actor).await?;
            ctx.out.show(
                format!("已登记 registered: {}\n{}", system.id, describe(&system)),
                &system,
            );
        }
        Command::List { status } => {
            let status = status
                .map(|s| {
                    SystemStatus::parse(&s)
                        .ok_or_else(|| Failure::Refused(anyhow::anyhow!("unknown status {s:?}")))
                })
                .transpose()?;
            let systems = ctx.store().await?.list_systems(status).await?;
            let rows = systems
                .iter()
                .map(|s| {
                    vec![
                        s.id.clone(),
                        s.name.clone(),
                        s.department.clone(),
                        s.region_code.clone(),
                        s.protocol.to_string(),
                        format!("{} {}", s.status.label(), s.status),
                    ]
                })
                .collect();
            ctx.out.table(
                &[
                    "ID",
                    "名称 name",
                    "部门 department",
                    "区划 region",
                    "协议 protocol",
                    "状态 status",
                ],
                rows,
                &systems,
            );
        }
        Command::Show { id } => {
            let system = ctx.store().await?.get_system(&id).await?;
            ctx.out.show(describe(&system), &system);
        }
        Command::Update(u) => {
            let patch = SystemPatch {
                name: u.name,
                department: u.department,
                region_code: u.region,
                protocol: u.protocol,
                endpoint: u.endpoint,
                credentials_ref: u.credentials_ref,
                secret: u.secret,
                status: u.status,
            };
            let now = Utc::now();
            let system = ctx
                .store()
                .await?
                .modify_system(&u.id, &ctx.actor, ("system.update", None), |s| {
                    s.apply(patch, now)
                })
                .await?;
            ctx.out.show(
                format!("已修改 updated: {}\n{}", system.id, describe(&system)),
                &system,
            );
        }
        Command::Retire { id, reason } => {
            let now = Utc::now();
            let system = ctx
                .store()
                .await?
                .modify_system(&id, &ctx.actor, ("system.retire", Some(&reason)), |s| {
                    s.retire(&reason, now)
                })
                .await?;
            ctx.out.show(format!("已停用 retired: {}", system.id), &system);
        }
    }
    Ok(())
}

fn refused(err: SystemError) -> Failure {
    Failure::Refused(err.into())
}

fn describe(s: &System) -> String {
    let region = crate::validate::division_path(&s.region_code)
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "  标识 id:          {}\n  名称 name:        {}\n  部门 department:  {}\n  区划 region:      {} {}\n  协议 protocol:    {}\n  地址 endpoint:    {}\n  凭据 credentials: {}\n  涉密 secret:      {}\n  状态 status:      {} {}\n  更新 updated:     {}",
        s.id,
        s.name,
        s.department,
        s.region_code,
        region,
        s.protocol,
        s.endpoint,
        s.credentials_ref.as_deref().unwrap_or("-"),
        if s.secret { "是 yes" } else { "否 no" },
        s.status.label(),
        s.status,
        s.updated_at.to_rfc3339(),
    )
}
