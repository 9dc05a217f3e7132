//! `ronghe keys status|rotate`: the node's keys over the store (issue 20; Art. 23, 32). Status
//! counts the rows of each sealed table by the key that sealed them; rotate brings every row —
//! case versions, refused records, hand-offs, probe profiles, then staff accounts and the
//! bridge's identities and accounts — under the active key of `[bridge]`, a page at a time. The node keeps serving meanwhile; a rotation
//! killed at any point leaves every row readable, and run again it goes on.

use clap::Subcommand;
use serde_json::json;

use super::{Context, Failure};
use crate::store::{RowKey, SealedTable};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Rows of each table by the key that sealed them; exit 1 while any is in clear or under an
    /// old key 密钥状态.
    Status,
    /// Bring every sealed row under the active key (after adding a key and making it active, or
    /// to seal a store written in clear); resumable 密钥轮换与重新加密.
    Rotate {
        /// Rows read per page (each page its own transaction).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=5000))]
        batch: u32,
    },
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Status => status(ctx).await,
        Command::Rotate { batch } => rotate(ctx, batch).await,
    }
}

async fn status(ctx: &Context) -> Result<(), Failure> {
    let active = ctx.keyring()?.map(|keys| keys.active_id().to_owned());
    let counts = ctx.store().await?.sealing_status().await?;
    let under_active = |key: &Option<String>| key.is_some() && *key == active;
    let stale: i64 = counts
        .iter()
        .filter(|c| !under_active(&c.key))
        .map(|c| c.rows)
        .sum();
    let rows = counts
        .iter()
        .map(|c| {
            let state = match &c.key {
                None => "明文 clear",
                key if under_active(key) => "当前密钥 active",
                Some(_) => "旧密钥 old key",
            };
            vec![
                c.table.to_owned(),
                c.key.clone().unwrap_or_else(|| "-".into()),
                state.to_owned(),
                c.rows.to_string(),
            ]
        })
        .collect();
    ctx.out.table(
        &["表 table", "密钥 key", "状态 state", "行数 rows"],
        rows,
        &json!({ "active_key": active, "tables": counts, "stale": stale }),
    );
    if active.is_none() {
        ctx.out
            .note("未配置密钥 no [bridge] keys: new rows are written in clear (see README, 个人信息保护)");
    }
    if stale > 0 {
        ctx.out.note(&format!(
            "{stale} 行未在当前密钥下 rows are in clear or under an old key: run `ronghe keys rotate`"
        ));
        return Err(Failure::No);
    }
    Ok(())
}

async fn rotate(ctx: &Context, batch: u32) -> Result<(), Failure> {
    if ctx.keyring()?.is_none() {
        return Err(Failure::Usage(anyhow::anyhow!(
            "no [bridge] keys in the config: add [bridge] active_key and [[bridge.keys]] (see README) and pass --config"
        )));
    }
    let store = ctx.store().await?;
    let mut tables = Vec::new();
    for table in SealedTable::ALL {
        let (mut after, mut seen, mut resealed): (Option<RowKey>, u64, u64) = (None, 0, 0);
        loop {
            let page = store
                .reseal_page(table, after.as_ref(), i64::from(batch), &ctx.actor)
                .await?;
            seen += page.seen;
            resealed += page.resealed;
            if page.resealed > 0 {
                tracing::info!(table = table.name(), seen, resealed, "re-sealing");
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        ctx.out.note(&format!(
            "{}: 已读 {seen} 行 rows read, 已重新加密 {resealed} re-sealed",
            table.name()
        ));
        tables.push(json!({ "table": table.name(), "seen": seen, "resealed": resealed }));
    }
    let keyring = ctx.keyring()?.map(std::sync::Arc::new);
    let staff = crate::accounts::Accounts::new(store.clone(), keyring, Default::default())
        .rekey(&ctx.actor)
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    ctx.out.note(&format!(
        "accounts: 已重新加密 {staff} 个员工账号 staff accounts re-sealed"
    ));
    let (identities, accounts) = ctx
        .bridge()
        .await?
        .rekey(&ctx.actor)
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    store.scrub().await?;
    ctx.out.show(
        format!("用户互认 bridge: 已重新加密 re-sealed {identities} identities, {accounts} accounts"),
        &json!({
            "tables": tables,
            "staff_accounts": staff,
            "bridge": { "identities": identities, "accounts": accounts },
        }),
    );
    Ok(())
}
