//! Bringing everything the store holds sealed under the node's active key (issue 20): case
//! versions, refused records, hand-offs, probe profiles and the applicants' blind indexes, then
//! staff accounts and the bridge's identities and accounts. `ronghe keys rotate` runs the pass in
//! the foreground; `ronghe serve` runs it in the background when it starts with rows under an
//! old key or in clear (after a key was added and made active, or on a store written without
//! keys). A page at a time, each page its own short transaction, so pushes interleave; killed at
//! any point it leaves every row readable, and the next run goes on where rows are still stale.
//! A row written while the pass runs is never undone (the store writes a page's row only if it
//! is still as read).

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::accounts::{AccountError, Accounts};
use crate::bridge::{Bridge, BridgeError};
use crate::store::{RowKey, SealedTable, Store, StoreError};

/// The actor the background pass records in the audit log.
pub const BACKGROUND_ACTOR: &str = "keys:reseal";

/// How long the background pass waits between pages, leaving the write lock to intake.
const BACKGROUND_PAUSE: Duration = Duration::from_millis(20);

/// Rows one background page reads.
pub const BACKGROUND_BATCH: u32 = 200;

/// What a pass did to one sealed table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableResealed {
    pub table: &'static str,
    pub seen: u64,
    pub resealed: u64,
}

/// What a whole pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resealed {
    pub tables: Vec<TableResealed>,
    pub staff_accounts: u64,
    pub bridge_identities: u64,
    pub bridge_accounts: u64,
}

/// A pass that could not go on; what it wrote so far stays written.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot re-seal staff accounts")]
    Accounts(#[from] AccountError),
    #[error("cannot re-seal the user bridge")]
    Bridge(#[from] BridgeError),
}

/// The pass over one store with the node's keys.
pub struct Resealer {
    store: Store,
    accounts: Accounts,
    bridge: Bridge,
    batch: u32,
    pause: Duration,
}

impl Resealer {
    /// A pass reading `batch` rows per page, without pausing (the foreground `keys rotate`).
    pub fn new(store: Store, accounts: Accounts, bridge: Bridge, batch: u32) -> Resealer {
        Resealer {
            store,
            accounts,
            bridge,
            batch,
            pause: Duration::ZERO,
        }
    }

    /// The pass `serve` runs: small pages with a pause between them.
    pub fn in_background(store: Store, accounts: Accounts, bridge: Bridge) -> Resealer {
        Resealer {
            pause: BACKGROUND_PAUSE,
            ..Resealer::new(store, accounts, bridge, BACKGROUND_BATCH)
        }
    }

    /// The sealed tables with rows in clear or under another key than the active one.
    async fn stale_tables(&self) -> Result<Vec<SealedTable>, StoreError> {
        let active = self.store.active_key();
        let counts = self.store.sealing_status().await?;
        Ok(SealedTable::ALL
            .into_iter()
            .filter(|table| {
                counts
                    .iter()
                    .any(|c| c.table == table.name() && c.key.as_deref() != active && c.rows > 0)
            })
            .collect())
    }

    /// Runs the pass as `actor`; `None` when `stop` was cancelled first (the next run goes on).
    pub async fn run(&self, actor: &str, stop: &CancellationToken) -> Result<Option<Resealed>, ResealError> {
        let mut tables = Vec::new();
        for table in self.stale_tables().await? {
            let (mut after, mut seen, mut resealed): (Option<RowKey>, u64, u64) = (None, 0, 0);
            loop {
                if stop.is_cancelled() {
                    return Ok(None);
                }
                let page = self
                    .store
                    .reseal_page(table, after.as_ref(), i64::from(self.batch), actor)
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
                if !self.pause.is_zero() {
                    tokio::time::sleep(self.pause).await;
                }
            }
            tables.push(TableResealed {
                table: table.name(),
                seen,
                resealed,
            });
        }
        if stop.is_cancelled() {
            return Ok(None);
        }
        let staff_accounts = self.accounts.rekey(actor).await?;
        let (bridge_identities, bridge_accounts) = self.bridge.rekey(actor).await?;
        self.store.scrub().await?;
        Ok(Some(Resealed {
            tables,
            staff_accounts,
            bridge_identities,
            bridge_accounts,
        }))
    }

    /// The background task of `serve`: one pass when the node starts, logged; an error is
    /// logged and leaves the rows for `ronghe keys rotate` or the next start.
    pub async fn run_in_background(self, stop: CancellationToken) {
        match self.run(BACKGROUND_ACTOR, &stop).await {
            Ok(Some(done)) => {
                let rows: u64 = done.tables.iter().map(|t| t.resealed).sum();
                if rows + done.staff_accounts + done.bridge_identities + done.bridge_accounts > 0 {
                    tracing::info!(
                        rows,
                        staff_accounts = done.staff_accounts,
                        bridge_identities = done.bridge_identities,
                        bridge_accounts = done.bridge_accounts,
                        "re-sealed under the active key"
                    );
                }
            }
            Ok(None) => tracing::info!("re-sealing stopped with the node; the next start goes on"),
            Err(err) => tracing::error!(
                error = format!("{:#}", anyhow::Error::from(err)),
                "re-sealing failed; rows stay readable under their keys: run `ronghe keys rotate`"
            ),
        }
    }
}
