//! Write-back intake state in the store: each system's write-back config (TOML kept verbatim)
//! and the nonces of signed requests, taken with an insert that fails on a repeat, so that a
//! replay is refused on every node.

use chrono::{DateTime, Duration, Utc};

use super::{Store, StoreError, SystemDocument, on_pool};

/// How long nonces are kept: longer than any timestamp window a config may set, so a nonce is
/// never forgotten while a request carrying it could still be on time.
pub const NONCE_RETENTION_SECONDS: i64 = 2 * 3600;

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

    /// Takes a nonce for a system: `true` the first time, `false` on any repeat. Nonces older
    /// than `NONCE_RETENTION_SECONDS` are purged in the same transaction.
    pub async fn take_nonce(
        &self,
        system_id: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let horizon = now - Duration::seconds(NONCE_RETENTION_SECONDS);
        let taken = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM writeback_nonces WHERE system_id = $1 AND seen_at < $2")
                .bind(system_id)
                .bind(horizon)
                .execute(&mut *tx)
                .await?;
            let inserted = sqlx::query(
                "INSERT INTO writeback_nonces (system_id, nonce, seen_at) VALUES ($1, $2, $3)
                 ON CONFLICT (system_id, nonce) DO NOTHING",
            )
            .bind(system_id)
            .bind(nonce)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            inserted == 1
        });
        Ok(taken)
    }
}
