//! Write-back intake state in the store: each system's write-back config (TOML kept verbatim)
//! and the nonces of signed requests, taken with an insert that fails on a repeat, so that a
//! replay is refused on every node. Expired nonces are purged by housekeeping
//! (`store/housekeeping.rs`), never on the request's path.

use super::{Store, StoreError, SystemDocument};

/// How long nonces are kept: longer than any timestamp window a config may set, so a nonce is
/// never forgotten while a request carrying it could still be on time.
pub const NONCE_RETENTION_SECONDS: i64 = 2 * 3600;

/// The statement that takes the nonces of `count` requests (`$1` now, `$2` the retention
/// horizon, then each request's system and nonce, `$3`, `$4`, …; each pair at most once): it
/// inserts each, or takes over a row older than the horizon that housekeeping has not purged
/// yet, changes nothing on a repeat inside the window, and answers the pairs it took. One
/// statement for a whole group commit; each pair served by the primary key alone, reading no
/// other nonce.
pub(crate) fn take_nonces_sql(count: usize) -> String {
    let rows = (0..count)
        .map(|i| format!("(${}, ${}, $1)", 3 + 2 * i, 4 + 2 * i))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO writeback_nonces (system_id, nonce, seen_at) VALUES {rows}
         ON CONFLICT (system_id, nonce) DO UPDATE SET seen_at = excluded.seen_at
         WHERE writeback_nonces.seen_at < $2 RETURNING system_id, nonce"
    )
}

/// [`take_nonces_sql`] for one request, for the tests that check its plan.
#[doc(hidden)]
pub fn take_nonce_sql() -> String {
    take_nonces_sql(1)
}

impl Store {
    /// Attaches (or replaces) a system's write-back config; the caller has validated it.
    pub async fn set_writeback_config(
        &self,
        system_id: &str,
        toml: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.set_document(SystemDocument::WritebackConfig, system_id, toml, actor)
            .await
    }

    /// A system's write-back config, as attached.
    pub async fn writeback_config(&self, system_id: &str) -> Result<String, StoreError> {
        self.document(SystemDocument::WritebackConfig, system_id).await
    }
}
