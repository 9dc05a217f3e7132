//! Pull mode (拉取): for systems that cannot push, ronghe reads their cases through their adapter
//! from the last checkpoint, on the cron schedule in their write-back config (`[pull] schedule`),
//! through the same intake as pushes (`intake::ingest`). The checkpoint is saved only after a
//! batch is committed, so a crash re-reads at most one batch, which the idempotent upsert answers
//! as duplicates. `ronghe serve` runs the scheduler; `ronghe writeback pull SYSTEM` runs one now.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use ronghe_adapters::{Adapter, Secrets, read_batches};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::bridge::Bridge;
use crate::intake::{Channel, Delivery, Ingested, Intake, IntakeError, RecordResult, ingest};
use crate::store::{ProbedRecords, Store, StoreError};

/// Records per batch: one store transaction each.
pub const BATCH: usize = 500;
/// How long a claimed run stays ours without progress.
const LEASE: Duration = Duration::from_secs(120);
/// How often the scheduler looks for due pulls.
const TICK: Duration = Duration::from_secs(1);

/// Why a pull could not run or stopped.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("system {0:?} has no [pull] schedule in its write-back config")]
    NoSchedule(String),
    #[error("the [pull] schedule {schedule:?} of system {system:?} is not a cron expression: {message}")]
    Schedule {
        system: String,
        schedule: String,
        message: String,
    },
    #[error("the adapter of system {system:?} cannot be built: {message}")]
    Adapter { system: String, message: String },
    #[error("reading system {system:?} failed")]
    Read {
        system: String,
        #[source]
        source: ronghe_adapters::AdapterError,
    },
    #[error("another node took over the pull of system {0:?}")]
    LostLease(String),
    #[error(
        "the first pull of system {system:?} read no record, but its probe of {probed_at} counted {counted}: {}; \
         then pull again (ronghe writeback pull {system}); if the source is empty now, probe it again first",
        crate::attached_adapter::NOTHING_SELECTED
    )]
    EmptySource {
        system: String,
        counted: u64,
        probed_at: chrono::DateTime<chrono::Utc>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PullReport {
    pub system_id: String,
    pub read: usize,
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
    /// Where the next run starts.
    pub checkpoint: Option<String>,
}

impl PullReport {
    fn count(&mut self, results: &[RecordResult]) {
        for r in results {
            match r {
                RecordResult::Accepted { .. } => self.accepted += 1,
                RecordResult::Duplicate { .. } => self.duplicate += 1,
                RecordResult::Rejected { .. } => self.rejected += 1,
            }
        }
    }
}

/// Runs pulls for one node.
#[derive(Clone)]
pub struct Puller {
    store: Store,
    intake: Intake,
    /// The user bridge, to attach pulled cases to their platform users.
    bridge: Option<Bridge>,
    /// This node's name in leases.
    node: String,
}

impl Puller {
    pub fn new(store: Store, intake: Intake, bridge: Option<Bridge>) -> Result<Puller, StoreError> {
        let node = crate::store::random_id("pull")?;
        Ok(Puller {
            store,
            intake,
            bridge,
            node,
        })
    }

    /// The system's cron schedule (Beijing time, as the scheduler's jobs).
    async fn schedule(&self, system_id: &str) -> Result<cron::Schedule, PullError> {
        let config = self.intake.config(&self.store, system_id).await?;
        let text = config
            .config
            .pull
            .as_ref()
            .map(|p| p.schedule.as_str())
            .ok_or_else(|| PullError::NoSchedule(system_id.to_owned()))?;
        cron::Schedule::from_str(text).map_err(|e| PullError::Schedule {
            system: system_id.to_owned(),
            schedule: text.to_owned(),
            message: e.to_string(),
        })
    }

    /// Runs the system's pull if it is due (or `force`) and no other node runs it: `None` when
    /// it was not ours to run.
    pub async fn run(&self, system_id: &str, force: bool) -> Result<Option<PullReport>, PullError> {
        self.store.system_taking_cases(system_id).await?;
        let schedule = self.schedule(system_id).await?;
        // Leases and due times by the database's clock, never this node's (issue 22).
        let now = self.store.clock().await?;
        // A system newly attached is first pulled at its schedule's next time, or when forced:
        // a scheduled tick right after `writeback attach` does not race the engineer's pull.
        let first_due = next_time(&schedule, now).unwrap_or(now);
        let Some(checkpoint) = self
            .store
            .claim_pull(system_id, &self.node, (now, first_due), lease_from(now), force)
            .await?
        else {
            return Ok(None);
        };
        let result = self.pull(system_id, checkpoint).await;
        let finished = self.store.clock().await?;
        let next = next_time(&schedule, finished).unwrap_or(finished + chrono::Duration::days(1));
        let error = result.as_ref().err().map(|e| format!("{e}"));
        self.store
            .finish_pull(system_id, &self.node, finished, next, error.as_deref())
            .await?;
        match &result {
            Ok(report) => tracing::info!(
                system = system_id,
                read = report.read,
                accepted = report.accepted,
                duplicate = report.duplicate,
                rejected = report.rejected,
                "pull finished"
            ),
            Err(e) => tracing::warn!(system = system_id, error = %e, "pull failed"),
        }
        result.map(Some)
    }

    async fn pull(&self, system_id: &str, checkpoint: Option<String>) -> Result<PullReport, PullError> {
        let adapter = held_adapter(&self.intake, &self.store, system_id).await?;
        let mapping = self.intake.mapping(&self.store, system_id).await?;
        let mut report = PullReport {
            system_id: system_id.to_owned(),
            checkpoint: checkpoint.clone(),
            ..Default::default()
        };
        let first = checkpoint.is_none();
        let mut batches = read_batches(adapter.as_ref(), checkpoint, &[BATCH]);
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|source| PullError::Read {
                system: system_id.to_owned(),
                source,
            })?;
            let n = batch.raws.len();
            let delivery = Delivery {
                channel: Channel::Pull,
                nonce: None,
                at: self.store.clock().await?.fixed_offset(),
            };
            let ingested = ingest(
                &self.intake,
                system_id,
                &mapping,
                batch.raws,
                delivery,
                self.bridge.as_ref(),
            )
            .await?;
            // A pull takes no nonce, so it is never `Replayed`.
            let results = match ingested {
                Ingested::Results(results) => results,
                Ingested::Replayed => Vec::new(),
            };
            report.read += n;
            report.count(&results);
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            if !self
                .store
                .advance_pull(
                    system_id,
                    &self.node,
                    batch.to.as_deref(),
                    n,
                    lease_from(self.store.clock().await?),
                )
                .await?
            {
                return Err(PullError::LostLease(system_id.to_owned()));
            }
            report.checkpoint = batch.to;
        }
        // A first pull (no checkpoint) reads the whole source: nothing where the probe counted
        // records is a selection that matches nothing, not an empty system. Later pulls read only
        // what changed, and often nothing.
        if first
            && report.read == 0
            && let Some(ProbedRecords { counted, probed_at }) = self.store.probed_records(system_id).await?
        {
            return Err(PullError::EmptySource {
                system: system_id.to_owned(),
                counted,
                probed_at,
            });
        }
        Ok(report)
    }

    /// Runs every due pull each tick until `shutdown` is cancelled; errors are logged and kept
    /// in the pull state, never fatal to the node.
    pub async fn schedule_forever(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let systems = match self.store.writeback_systems().await {
                Ok(systems) => systems,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the systems to pull");
                    continue;
                }
            };
            for system in systems {
                if shutdown.is_cancelled() {
                    return;
                }
                match self.run(&system, false).await {
                    Ok(_) => {}
                    Err(PullError::NoSchedule(_)) => tracing::trace!(system = %system, "push only"),
                    Err(e) => tracing::warn!(system = %system, error = %e, "scheduled pull did not run"),
                }
            }
        }
    }
}

/// The system's driver (see `attached_adapter::build`), its configuration errors as `PullError::Adapter`.
pub async fn attached_adapter(
    store: &Store,
    secrets: &dyn Secrets,
    system_id: &str,
) -> Result<Box<dyn Adapter>, PullError> {
    crate::attached_adapter::build(store, secrets, system_id)
        .await?
        .map_err(|e| adapter_error(system_id, e))
}

/// The system's driver as the intake holds it between runs (`Intake::adapter`), its
/// configuration errors as `PullError::Adapter`.
pub async fn held_adapter(
    intake: &Intake,
    store: &Store,
    system_id: &str,
) -> Result<Arc<dyn Adapter>, PullError> {
    intake
        .adapter(store, system_id)
        .await?
        .map_err(|e| adapter_error(system_id, e))
}

fn adapter_error(system_id: &str, e: ronghe_adapters::AdapterError) -> PullError {
    PullError::Adapter {
        system: system_id.to_owned(),
        message: format!("{e:#}"),
    }
}

/// The schedule's next time after `now`, the cron fields read in Beijing time (the province's
/// clock, as the scheduler's jobs): `0 0 3 * * *` is 03:00 in Beijing, 19:00 UTC.
fn next_time(schedule: &cron::Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .after(&crate::calendar::beijing_time(&now))
        .next()
        .map(|at| at.with_timezone(&Utc))
}

fn lease_from(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(2))
}
