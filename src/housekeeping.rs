//! Housekeeping inside `ronghe serve` (issue 23): a background task that purges what has expired
//! — write-back nonces past `NONCE_RETENTION_SECONDS`, staff sessions and enrolment links that
//! ended more than `ENDED_RETENTION_DAYS` ago, unfinished passkey ceremonies, bridge tickets a
//! day after they expired, and after the retentions of `[housekeeping]` delivered exchange outbox
//! items and finished scheduler runs —
//! every `PASS_EVERY_SECONDS`, in batches of `BATCH_ROWS`, each batch its own short transaction.
//! Nothing is purged on a request's path. The statements are the store's (`store::Purge`); audit
//! rows are never purged here (Art. 23 keeps them at least a year; `ronghe audit prune`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::Deserialize;
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

/// How long bridge tickets and link proofs are kept after they expired: a token past its expiry
/// is refused before the store is asked, so the row only has to outlive clock skew.
pub const TOKEN_RETENTION_DAYS: i64 = 1;

/// `[housekeeping]`: how long what is done stays in the store before a pass purges it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HousekeepingConfig {
    /// Days a delivered exchange outbox item is kept after its delivery (7). The exchange holds
    /// the fact, `case_versions` the version and the audit log its trail; the delivered count on
    /// the status page is a counter and does not drop. Pending and dead items are never purged.
    pub delivered_outbox_retention_days: u32,
    /// Days a finished scheduler job run is kept after it finished (30). Each job's latest run
    /// and every run a notification names are kept whatever their age; the audit log keeps every
    /// run's claim and outcome.
    pub job_runs_retention_days: u32,
}

impl Default for HousekeepingConfig {
    fn default() -> Self {
        HousekeepingConfig {
            delivered_outbox_retention_days: 7,
            job_runs_retention_days: 30,
        }
    }
}

impl HousekeepingConfig {
    /// Every problem with the settings, without I/O.
    pub fn problems(&self) -> Vec<String> {
        [
            (
                "delivered_outbox_retention_days",
                self.delivered_outbox_retention_days,
            ),
            ("job_runs_retention_days", self.job_runs_retention_days),
        ]
        .into_iter()
        .filter(|(_, days)| *days == 0)
        .map(|(name, _)| format!("[housekeeping] {name} must be at least 1"))
        .collect()
    }

    /// The horizon of a purge at `now`: rows older than it go.
    pub fn horizon(&self, purge: Purge, now: DateTime<Utc>) -> DateTime<Utc> {
        let days = |days: u32| now - chrono::Duration::days(i64::from(days));
        match purge {
            Purge::Nonces => now - chrono::Duration::seconds(NONCE_RETENTION_SECONDS),
            Purge::Sessions | Purge::Enrolments => now - chrono::Duration::days(ENDED_RETENTION_DAYS),
            // A ceremony is only ever used before it expires; an hour's slack for clock skew.
            Purge::Challenges => now - chrono::Duration::hours(1),
            Purge::DeliveredOutbox => days(self.delivered_outbox_retention_days),
            Purge::JobRuns => days(self.job_runs_retention_days),
            Purge::BridgeTokens => now - chrono::Duration::days(TOKEN_RETENTION_DAYS),
        }
    }
}

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
    pub delivered_outbox: u64,
    pub job_runs: u64,
    pub bridge_tokens: u64,
}

impl Purged {
    fn add(&mut self, purge: Purge, rows: u64) {
        match purge {
            Purge::Nonces => self.nonces += rows,
            Purge::Sessions => self.sessions += rows,
            Purge::Enrolments => self.enrolments += rows,
            Purge::Challenges => self.challenges += rows,
            Purge::DeliveredOutbox => self.delivered_outbox += rows,
            Purge::JobRuns => self.job_runs += rows,
            Purge::BridgeTokens => self.bridge_tokens += rows,
        }
    }

    /// Whether the pass purged anything.
    pub fn any(&self) -> bool {
        self.nonces
            + self.sessions
            + self.enrolments
            + self.challenges
            + self.delivered_outbox
            + self.job_runs
            + self.bridge_tokens
            > 0
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurgeLabels {
    /// `Purge::name`: `nonces`, `sessions`, …, `delivered_outbox`, `job_runs`.
    what: &'static str,
}

/// Housekeeping's counters, shared by the task and `/metrics`: what this node purged, and its
/// passes by outcome.
#[derive(Debug, Default)]
pub struct HousekeepingMetrics {
    purged: Family<PurgeLabels, Counter>,
    passes: Counter,
    failed_passes: Counter,
}

impl HousekeepingMetrics {
    pub fn new() -> Arc<HousekeepingMetrics> {
        Arc::new(HousekeepingMetrics::default())
    }

    /// Registers the metrics under `housekeeping_…`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "housekeeping_purged_rows",
            "Rows housekeeping purged on this node, by what",
            self.purged.clone(),
        );
        registry.register(
            "housekeeping_passes",
            "Housekeeping passes this node completed",
            self.passes.clone(),
        );
        registry.register(
            "housekeeping_failed_passes",
            "Housekeeping passes that stopped on a store error (the next pass tries again)",
            self.failed_passes.clone(),
        );
    }

    /// Rows of `purge` this node purged so far.
    pub fn purged(&self, purge: Purge) -> u64 {
        self.purged
            .get_or_create(&PurgeLabels { what: purge.name() })
            .get()
    }
}

/// The housekeeping task of one node. Several nodes on one store may each run it: a purge
/// deletes only expired rows, so two nodes purging at once only share the work.
#[derive(Debug, Clone)]
pub struct Housekeeper {
    store: Store,
    config: HousekeepingConfig,
    batch_rows: u32,
    metrics: Arc<HousekeepingMetrics>,
}

impl Housekeeper {
    pub fn new(store: Store, config: HousekeepingConfig) -> Housekeeper {
        Housekeeper {
            store,
            config,
            batch_rows: BATCH_ROWS,
            metrics: HousekeepingMetrics::new(),
        }
    }

    /// The same, counting into `metrics` (the server's, on `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<HousekeepingMetrics>) -> Housekeeper {
        self.metrics = metrics;
        self
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
            let horizon = self.config.horizon(purge, now);
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
                self.metrics
                    .purged
                    .get_or_create(&PurgeLabels { what: purge.name() })
                    .inc_by(rows);
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
    /// one line per pass that purged something, with the counts, and counts the pass.
    pub async fn run(self, stop: CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_secs(PASS_EVERY_SECONDS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = stop.cancelled() => return,
            }
            let stopping = || stop.is_cancelled();
            let pass = self.pass(Utc::now(), &stopping).await;
            let outcome = if pass.is_ok() {
                &self.metrics.passes
            } else {
                &self.metrics.failed_passes
            };
            outcome.inc();
            match pass {
                Ok(purged) if purged.any() => tracing::info!(
                    nonces = purged.nonces,
                    sessions = purged.sessions,
                    enrolments = purged.enrolments,
                    challenges = purged.challenges,
                    delivered_outbox = purged.delivered_outbox,
                    job_runs = purged.job_runs,
                    bridge_tokens = purged.bridge_tokens,
                    "housekeeping purged expired rows"
                ),
                Ok(_) => tracing::debug!("housekeeping: nothing expired"),
                Err(err) => tracing::warn!(what = err.what, error = %err.source, "housekeeping pass failed"),
            }
        }
    }
}
