//! Pull-mode state per system: where the last committed batch ended (the adapter's checkpoint),
//! when the next run is due, and which node runs it now. A run is claimed by taking the row's
//! lease (`store/lease.rs`: free or expired lease, due or forced), so on several nodes sharing
//! PostgreSQL each tick runs once; a crashed node's lease expires and the next claim resumes from
//! the checkpoint.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::lease::{Expiry, LeaseTable, Leases as _, Take, TakeArg};
use super::{Store, StoreError, on_pool};

/// A system's pull, leased to the node that runs it until the lease's end; taken only when due
/// (`$4`: now) or forced (`$5`).
const PULL: LeaseTable = LeaseTable {
    table: "pull_state",
    key: "system_id",
    owner: "lease_owner",
    expiry: Expiry::Until("lease_until"),
    taken: "checkpoint",
    take_when: "next_run_at <= $4 OR $5",
    take_over: "",
    held_when: "",
};

/// A system's pull state, for status listings.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PullState {
    pub system_id: String,
    pub checkpoint: Option<String>,
    pub next_run_at: DateTime<Utc>,
    pub running_on: Option<String>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub records_read: i64,
}

/// A `pull_state` row.
#[derive(sqlx::FromRow)]
struct StateRow {
    system_id: String,
    checkpoint: Option<String>,
    next_run_at: DateTime<Utc>,
    lease_owner: Option<String>,
    lease_until: Option<DateTime<Utc>>,
    last_run_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    records_read: i64,
}

impl StateRow {
    /// The state as of `now`: running on the lease's owner while the lease lasts.
    fn at(self, now: DateTime<Utc>) -> PullState {
        PullState {
            system_id: self.system_id,
            checkpoint: self.checkpoint,
            next_run_at: self.next_run_at,
            running_on: self
                .lease_owner
                .filter(|_| self.lease_until.is_some_and(|u| u > now)),
            last_run_at: self.last_run_at,
            last_error: self.last_error,
            records_read: self.records_read,
        }
    }
}

impl Store {
    /// Takes the system's pull for `owner` until `lease_until` if it is due (or `force`) and no
    /// other node holds it. `Some(checkpoint)` when taken (the checkpoint may be `None`: from the
    /// start), `None` when not. A system pulled for the first time is first due at `first_due`.
    pub async fn claim_pull(
        &self,
        system_id: &str,
        owner: &str,
        (now, first_due): (DateTime<Utc>, DateTime<Utc>),
        lease_until: DateTime<Utc>,
        force: bool,
    ) -> Result<Option<Option<String>>, StoreError> {
        let row: Option<(Option<String>,)> = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query(
                "INSERT INTO pull_state (system_id, next_run_at) VALUES ($1, $2) ON CONFLICT (system_id) DO NOTHING",
            )
            .bind(system_id)
            .bind(first_due)
            .execute(&mut *tx)
            .await?;
            let take = Take {
                key: system_id,
                owner,
                lease: lease_until,
                expired_before: now,
                arg: TakeArg::Flag(force),
            };
            let row = tx.take(&PULL, take).await?;
            tx.commit().await?;
            row
        });
        Ok(row.map(|(checkpoint,)| checkpoint))
    }

    /// Records a committed batch: the checkpoint after it, how many records it held, and a longer
    /// lease. `false` when `owner` no longer holds the pull (its lease expired and another node took it).
    pub async fn advance_pull(
        &self,
        system_id: &str,
        owner: &str,
        checkpoint: Option<&str>,
        records: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let held = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let held = tx.renew(&PULL, system_id, owner, lease_until).await?;
            if held {
                sqlx::query(
                    "UPDATE pull_state SET checkpoint = COALESCE($2, checkpoint), records_read = records_read + $3
                     WHERE system_id = $1",
                )
                .bind(system_id)
                .bind(checkpoint)
                .bind(records)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            held
        });
        Ok(held)
    }

    /// Ends `owner`'s run: the lease is released, the next run is due at `next_run_at`, and the
    /// run's error (if any) is kept for the status listing.
    pub async fn finish_pull(
        &self,
        system_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        next_run_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            if tx.release(&PULL, system_id, owner).await? {
                sqlx::query("UPDATE pull_state SET next_run_at = $2, last_run_at = $3, last_error = $4 WHERE system_id = $1")
                    .bind(system_id)
                    .bind(next_run_at)
                    .bind(now)
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The systems with a write-back config (those that may have a pull schedule), retired ones
    /// left out.
    pub async fn writeback_systems(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT w.system_id FROM writeback_configs w JOIN systems s ON s.id = w.system_id
                 WHERE s.status <> 'retired' ORDER BY w.system_id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Every system's pull state, by system.
    pub async fn pull_states(&self) -> Result<Vec<PullState>, StoreError> {
        let rows: Vec<StateRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT system_id, checkpoint, next_run_at, lease_owner, lease_until, last_run_at, last_error, records_read
                 FROM pull_state ORDER BY system_id",
            )
            .fetch_all(pool)
            .await?
        });
        let now = self.clock().await?;
        Ok(rows.into_iter().map(|row| row.at(now)).collect())
    }
}
