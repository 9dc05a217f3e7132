//! Front-end migration hand-off (前端迁移, Art. 22): applications accepted on the platform are
//! queued in the store and handed to the department's system through its adapter by a worker.
//! When the system is down they wait and are retried with backoff: never lost, never refused.
//!
//! The payload submitted is the canonical case as accepted, with its `case_no`: the department's
//! system must treat the case number as the idempotency key (a re-submitted case after a crash
//! between its answer and our record of it must not become a second application).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ronghe_adapters::{Adapter, AdapterError, ErrorClass, Secrets};
use serde::Serialize;

use crate::store::{AttemptOutcome, Store, StoreError};

/// Where the worker counts each attempt's outcome (`delivered`, `retry_later`, `failed`); the
/// server's metrics registry implements it.
pub trait HandoffMetrics: Send + Sync {
    fn attempt(&self, system: &str, outcome: &str);
}

/// Delay before attempt `attempts + 1` after `attempts` failed ones: 10 s doubling, at most 10
/// minutes.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    Duration::from_secs(10 * 2u64.pow(exponent)).min(Duration::from_secs(600))
}

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

/// A system's adapter, or the class and message of why it cannot be built.
type Built = Result<Box<dyn Adapter>, (ErrorClass, String)>;

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

    /// One round: every item due at `now` (up to a batch) gets one attempt.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<RoundSummary, StoreError> {
        let mut adapters: HashMap<String, Built> = HashMap::new();
        let mut summary = RoundSummary::default();
        while summary.attempted() < BATCH {
            // The lease runs from the claim (or from `now`, when a round is run for a later time).
            let lease_until = now.max(Utc::now()) + LEASE;
            let Some(item) = self.store.claim_handoffs(now, lease_until, 1).await?.pop() else {
                break;
            };
            let handoff = &item.handoff;
            if !adapters.contains_key(&handoff.system_id) {
                let built =
                    crate::attached_adapter::build(&self.store, self.secrets.as_ref(), &handoff.system_id)
                        .await?;
                adapters.insert(handoff.system_id.clone(), built.map_err(|e| (e.class, e.message)));
            }
            let result = match adapters.get(&handoff.system_id) {
                Some(Ok(adapter)) => adapter.submit(&item.payload).await,
                Some(Err((class, message))) => Err(AdapterError::new(*class, message.clone())),
                // Inserted just above.
                None => Err(AdapterError::configuration("no adapter")),
            };
            let outcome = match result {
                Ok(receipt) => {
                    summary.delivered += 1;
                    tracing::info!(handoff = handoff.id, system = %handoff.system_id, case_no = %handoff.case_no, receipt = ?receipt.id, "application handed over");
                    AttemptOutcome::Delivered {
                        receipt: serde_json::json!({ "id": receipt.id, "response": receipt.response }),
                    }
                }
                Err(err) => match err.class {
                    ErrorClass::Retryable | ErrorClass::Unavailable => {
                        summary.retry_later += 1;
                        let next_attempt_at = now + backoff(handoff.attempts);
                        tracing::warn!(handoff = handoff.id, system = %handoff.system_id, case_no = %handoff.case_no, error = %err, %next_attempt_at, "system unavailable; application stays queued");
                        AttemptOutcome::RetryLater {
                            error: err.to_string(),
                            next_attempt_at,
                        }
                    }
                    ErrorClass::Configuration | ErrorClass::Data => {
                        summary.failed += 1;
                        tracing::warn!(handoff = handoff.id, system = %handoff.system_id, case_no = %handoff.case_no, error = %err, class = err.class.name(), "system refused the application");
                        AttemptOutcome::Failed {
                            error: err.to_string(),
                        }
                    }
                },
            };
            self.store
                .finish_handoff_attempt(handoff.id, &outcome, WORKER_ACTOR, Utc::now())
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

    /// Runs rounds until `stop` resolves: after a round that attempted something at once,
    /// otherwise after `idle`.
    pub async fn run(self, idle: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let pause = match self.run_once(Utc::now()).await {
                Ok(summary) if summary.attempted() > 0 => Duration::ZERO,
                Ok(_) => idle,
                Err(err) => {
                    tracing::error!(error = %err, "hand-off round failed");
                    idle
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(0), Duration::from_secs(10));
        assert_eq!(backoff(1), Duration::from_secs(20));
        assert_eq!(backoff(5), Duration::from_secs(320));
        assert_eq!(backoff(6), Duration::from_secs(600));
        assert_eq!(backoff(60), Duration::from_secs(600));
    }
}
