//! Front-end migration hand-off (前端迁移, Art. 22): applications accepted on the platform are
//! queued in the store and handed to the department's system through its adapter by a worker.
//! When the system is down they wait and are retried by the shared rule (`RETRY`): never lost;
//! past its horizon (72 hours) a hand-off waits as `failed` for an operator.
//!
//! The payload submitted is the canonical case as accepted, with its `case_no`: the department's
//! system must treat the case number as the idempotency key (a re-submitted case after a crash
//! between its answer and our record of it must not become a second application).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ronghe_adapters::{Adapter, AdapterError, ErrorClass, Receipt, Secrets};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::delivery::{Outcome, Sink};
use crate::retry::{Failure, RetryPolicy};
use crate::store::{AttemptOutcome, Store, StoreError};

/// Where the worker counts each attempt's outcome (`delivered`, `retry_later`, `failed`); the
/// server's metrics registry implements it.
pub trait HandoffMetrics: Send + Sync {
    fn attempt(&self, system: &str, outcome: &str);
}

/// The shared retry rule (`crate::retry`) for hand-offs: 10 s doubling with jitter, at most 10
/// minutes, for 72 hours counted from acceptance (a hand-off is tried as soon as it is accepted);
/// then it is `failed` until an operator retries it.
pub const RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_secs(10),
    cap: Duration::from_secs(600),
    horizon: Duration::from_secs(72 * 3600),
};

/// How long a claimed item is leased to one worker before another may take it: well over one
/// submission with its retries and timeouts. Items are claimed one at a time, so a slow system
/// never lets the lease of an item run out while it waits behind others.
const LEASE: Duration = Duration::from_secs(300);

/// Items attempted per round at most.
const BATCH: usize = 50;

/// The actor of the worker's audit events.
pub const WORKER_ACTOR: &str = "worker:handoff";

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoundSummary {
    pub delivered: usize,
    pub retry_later: usize,
    pub failed: usize,
}

impl RoundSummary {
    pub fn attempted(&self) -> usize {
        self.delivered + self.retry_later + self.failed
    }
}

/// Submission through a system's adapter as a delivery sink: the canonical case in, the
/// system's receipt out. An adapter that could not be built fails every submission the same way.
struct Submission(Result<Box<dyn Adapter>, (ErrorClass, String)>);

impl Sink for Submission {
    type Item = serde_json::Value;
    type Receipt = Receipt;

    /// Retryable and unavailable answers are retriable; configuration and data errors permanent.
    async fn deliver(&self, payload: &serde_json::Value) -> Result<Receipt, Failure> {
        let result = match &self.0 {
            Ok(adapter) => adapter.submit(payload).await,
            Err((class, message)) => Err(AdapterError::new(*class, message.clone())),
        };
        result.map_err(|err| match err.class {
            ErrorClass::Retryable | ErrorClass::Unavailable => Failure::Retriable {
                error: err.to_string(),
                retry_after: None,
            },
            ErrorClass::Configuration | ErrorClass::Data => Failure::Permanent(err.to_string()),
        })
    }
}

/// Submits queued applications through each system's adapter.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    secrets: Arc<dyn Secrets>,
    metrics: Option<Arc<dyn HandoffMetrics>>,
}

impl Worker {
    pub fn new(store: Store, secrets: Arc<dyn Secrets>) -> Worker {
        Worker {
            store,
            secrets,
            metrics: None,
        }
    }

    /// Counts each attempt's outcome in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn HandoffMetrics>) -> Worker {
        self.metrics = Some(metrics);
        self
    }

    /// One round: every item due at `now` (up to a batch) gets one attempt. `run` passes the
    /// database's clock ([`Store::clock`]); tests pass a later time to let time pass.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<RoundSummary, StoreError> {
        let mut sinks: HashMap<String, Submission> = HashMap::new();
        let mut summary = RoundSummary::default();
        while summary.attempted() < BATCH {
            // The lease runs from the claim by the database's clock (or from `now`, when a round
            // is run for a later time).
            let lease_until = now.max(self.store.clock().await?) + LEASE;
            let Some(item) = self.store.claim_handoffs(now, lease_until, 1).await?.pop() else {
                break;
            };
            let handoff = &item.handoff;
            let sink = match sinks.entry(handoff.system_id.clone()) {
                Entry::Occupied(built) => built.into_mut(),
                Entry::Vacant(slot) => {
                    let built = crate::attached_adapter::build(
                        &self.store,
                        self.secrets.as_ref(),
                        &handoff.system_id,
                    )
                    .await?;
                    slot.insert(Submission(built.map_err(|e| (e.class, e.message))))
                }
            };
            let attempt = sink.deliver(&item.payload).await;
            let outcome = match Outcome::of(
                attempt,
                &RETRY,
                handoff.attempts + 1,
                Some(handoff.created_at),
                now,
            ) {
                Outcome::Delivered(receipt) => {
                    summary.delivered += 1;
                    tracing::info!(handoff = handoff.id, system = %handoff.system_id, case_no = %handoff.case_no, receipt = ?receipt.id, "application handed over");
                    AttemptOutcome::Delivered {
                        receipt: serde_json::json!({ "id": receipt.id, "response": receipt.response }),
                    }
                }
                Outcome::Retry { delay, error } => {
                    summary.retry_later += 1;
                    let next_attempt_at = now + delay;
                    tracing::warn!(handoff = handoff.id, system = %handoff.system_id, case_no = %handoff.case_no, error, %next_attempt_at, "system unavailable; application stays queued");
                    AttemptOutcome::RetryLater {
                        error,
                        next_attempt_at,
                    }
                }
                // The error ends with the adapter's error class, e.g. `(data)`.
                Outcome::GiveUp { error } => {
                    summary.failed += 1;
                    tracing::warn!(handoff = handoff.id, system = %handoff.system_id, case_no = %handoff.case_no, error, "application not handed over; an operator must retry it");
                    AttemptOutcome::Failed { error }
                }
            };
            self.store
                .finish_handoff_attempt(handoff.id, &outcome, WORKER_ACTOR, self.store.clock().await?)
                .await?;
            if let Some(metrics) = &self.metrics {
                let name = match outcome {
                    AttemptOutcome::Delivered { .. } => "delivered",
                    AttemptOutcome::RetryLater { .. } => "retry_later",
                    AttemptOutcome::Failed { .. } => "failed",
                };
                metrics.attempt(&handoff.system_id, name);
            }
        }
        Ok(summary)
    }

    /// Runs rounds until `stop` is cancelled: after a round that attempted something at once,
    /// otherwise after `idle`. A round in progress finishes first.
    pub async fn run(self, idle: Duration, stop: CancellationToken) {
        loop {
            let round = match self.store.clock().await {
                Ok(now) => self.run_once(now).await,
                Err(err) => Err(err),
            };
            let pause = match round {
                Ok(summary) if summary.attempted() > 0 => Duration::ZERO,
                Ok(_) => idle,
                Err(err) => {
                    tracing::error!(error = %err, "hand-off round failed");
                    idle
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
