//! `ronghe keys status|rotate`: the node's keys over the store (issue 20; Art. 23, 32). Status
//! counts the rows of each sealed table by the key that sealed them; rotate runs the re-seal pass
//! (`crate::resealing`) in the foreground, which `serve` otherwise runs in the background when it
//! starts. The node keeps serving meanwhile; a rotation killed at any point leaves every row
//! readable, and run again it goes on.

use clap::Subcommand;
use serde_json::json;

use tokio_util::sync::CancellationToken;

use super::{Context, Failure};
use crate::resealing::Resealer;

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
    let Some(keyring) = ctx.keyring()?.map(std::sync::Arc::new) else {
        return Err(Failure::Usage(anyhow::anyhow!(
            "no [bridge] keys in the config: add [bridge] active_key and [[bridge.keys]] (see README) and pass --config"
        )));
    };
    let store = ctx.store().await?;
    let accounts = crate::accounts::Accounts::new(store.clone(), Some(keyring), Default::default());
    let resealer = Resealer::new(store, accounts, ctx.bridge().await?, batch);
    let done = resealer
        .run(&ctx.actor, &CancellationToken::new())
        .await
        .map_err(|e| Failure::Failed(e.into()))?
        .ok_or_else(|| Failure::Failed(anyhow::anyhow!("the re-seal was stopped")))?;
    for table in &done.tables {
        ctx.out.note(&format!(
            "{}: 已读 {} 行 rows read, 已重新加密 {} re-sealed",
            table.table, table.seen, table.resealed
        ));
    }
    ctx.out.show(
        format!(
            "已重新加密 re-sealed {} staff accounts; 用户互认 bridge: {} identities, {} accounts",
            done.staff_accounts, done.bridge_identities, done.bridge_accounts
        ),
        &json!(done),
    );
    Ok(())
}
