//! Write-back intake state in the store: each system's write-back config (TOML kept verbatim)
//! and the nonces of signed requests, taken with an insert that fails on a repeat, so that a
//! replay is refused on every node. Expired nonces are purged by housekeeping
//! (`store/housekeeping.rs`), never on the request's path.

use super::{Store, StoreError, SystemDocument};

/// How long nonces are kept: longer than any timestamp window a config may set, so a nonce is
/// never forgotten while a request carrying it could still be on time.
pub const NONCE_RETENTION_SECONDS: i64 = 2 * 3600;

/// The statement that takes a nonce (`$1` system, `$2` nonce, `$3` now, `$4` the retention
/// horizon): it inserts, or takes over a row older than the horizon that housekeeping has not
/// purged yet, and changes nothing on a repeat inside the window. Served by the primary key
/// alone; it reads no other nonce.
pub(crate) const TAKE_NONCE: &str =
    "INSERT INTO writeback_nonces (system_id, nonce, seen_at) VALUES ($1, $2, $3)
     ON CONFLICT (system_id, nonce) DO UPDATE SET seen_at = excluded.seen_at
     WHERE writeback_nonces.seen_at < $4";

/// [`TAKE_NONCE`], for the tests that check its plan.
#[doc(hidden)]
pub fn take_nonce_sql() -> &'static str {
    TAKE_NONCE
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
