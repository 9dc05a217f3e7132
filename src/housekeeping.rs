//! Housekeeping inside `ronghe serve` (issue 23): a background task that purges what has expired
//! — write-back nonces past `NONCE_RETENTION_SECONDS`, staff sessions and enrolment links that
//! ended more than `ENDED_RETENTION_DAYS` ago — every `PASS_EVERY_SECONDS`, in batches of
//! `BATCH_ROWS`, each batch its own short transaction. Nothing is purged on a request's path.
//! The statements are the store's (`store::Purge`); audit rows are never purged here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::store::{NONCE_RETENTION_SECONDS, Purge, Store, StoreError};

/// How often a pass runs. Passes are cheap when there is nothing to purge (one indexed probe per
/// table), and a minute keeps the nonce table within a minute's traffic of its retention.
pub const PASS_EVERY_SECONDS: u64 = 60;

/// The most rows one purge statement deletes: a batch holds the write lock for a few
/// milliseconds at most, so pushes interleave with a purge of any backlog.
pub const BATCH_ROWS: u32 = 1000;

/// How long sessions and enrolment links are kept after they ended (revoked, expired or used).
pub const ENDED_RETENTION_DAYS: i64 = 7;

/// A purge that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot purge expired {what}")]
pub struct HousekeepingError {
    pub what: &'static str,
    #[source]
    pub source: StoreError,
}

/// How many rows one pass purged, per kind, in `Purge::ALL` order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    pub nonces: u64,
    pub sessions: u64,
    pub enrolments: u64,
    pub challenges: u64,
}

impl Purged {
    fn add(&mut self, purge: Purge, rows: u64) {
        match purge {
            Purge::Nonces => self.nonces += rows,
            Purge::Sessions => self.sessions += rows,
            Purge::Enrolments => self.enrolments += rows,
            Purge::Challenges => self.challenges += rows,
        }
    }

    /// Whether the pass purged anything.
    pub fn any(&self) -> bool {
        self.nonces + self.sessions + self.enrolments + self.challenges > 0
    }
}

/// The horizon of a purge at `now`: rows older than it go.
pub fn horizon(purge: Purge, now: DateTime<Utc>) -> DateTime<Utc> {
    match purge {
        Purge::Nonces => now - chrono::Duration::seconds(NONCE_RETENTION_SECONDS),
        Purge::Sessions | Purge::Enrolments => now - chrono::Duration::days(ENDED_RETENTION_DAYS),
        // A ceremony is only ever used before it expires; an hour's slack for clock skew.
        Purge::Challenges => now - chrono::Duration::hours(1),
    }
}

/// The housekeeping task of one node. Several nodes on one store may each run it: a purge
/// deletes only expired rows, so two nodes purging at once only share the work.
#[derive(Debug, Clone)]
pub struct Housekeeper {
    store: Store,
    batch_rows: u32,
}

impl Housekeeper {
    pub fn new(store: Store) -> Housekeeper {
        Housekeeper {
            store,
            batch_rows: BATCH_ROWS,
        }
    }

    /// The same with another batch size (tests purge in small batches to see several).
    pub fn with_batch_rows(mut self, batch_rows: u32) -> Housekeeper {
        self.batch_rows = batch_rows.max(1);
        self
    }

    /// One pass at `now`: each purge in batches until a batch comes back short, or until
    /// `stopping` says so between batches.
    pub async fn pass(
        &self,
        now: DateTime<Utc>,
        stopping: &(dyn Fn() -> bool + Sync),
    ) -> Result<Purged, HousekeepingError> {
        let mut purged = Purged::default();
        for purge in Purge::ALL {
            let horizon = horizon(purge, now);
            loop {
                let rows = self
                    .store
                    .purge_batch(purge, horizon, self.batch_rows)
                    .await
                    .map_err(|source| HousekeepingError {
                        what: purge.name(),
                        source,
                    })?;
                purged.add(purge, rows);
                if rows < u64::from(self.batch_rows) || stopping() {
                    break;
                }
                // Let the requests waiting for the write lock go first.
                tokio::task::yield_now().await;
            }
        }
        Ok(purged)
    }

    /// Runs a pass at once and then every `PASS_EVERY_SECONDS` until `stop` is cancelled. Logs
    /// one line per pass that purged something, with the counts.
    pub async fn run(self, stop: CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_secs(PASS_EVERY_SECONDS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = stop.cancelled() => return,
            }
            let stopping = || stop.is_cancelled();
            match self.pass(Utc::now(), &stopping).await {
                Ok(purged) if purged.any() => tracing::info!(
                    nonces = purged.nonces,
                    sessions = purged.sessions,
                    enrolments = purged.enrolments,
                    challenges = purged.challenges,
                    "housekeeping purged expired rows"
                ),
                Ok(_) => tracing::debug!("housekeeping: nothing expired"),
                Err(err) => tracing::warn!(what = err.what, error = %err.source, "housekeeping pass failed"),
            }
        }
    }
}
