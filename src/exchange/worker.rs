//! The delivery worker: claims due outbox items under this node's lease, POSTs each payload to
//! the exchange with its `Idempotency-Key`, and settles it: delivered on 2xx; retried with
//! exponential backoff and jitter on 5xx, 408, 429, timeouts and connection errors; dead (the
//! dead-letter queue) on any other answer or when attempts run out. At least once per version,
//! never two versions of a case at once (the store's head-of-case claim), never one item on two
//! nodes at once while leases outlast requests (`lease_seconds > timeout_seconds`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use reqwest::StatusCode;
use tokio::sync::watch;

use super::config::Exchange;
use super::payload::idempotency_key;
use crate::store::{Claimed, Settlement, Store, StoreError};

/// Delivery counters and the lag histogram, shared by the worker and `/metrics`.
#[derive(Debug)]
pub struct DeliveryMetrics {
    pub delivered: Counter,
    pub retried: Counter,
    pub dead: Counter,
    /// Seconds from enqueue to acknowledgement.
    pub lag_seconds: Histogram,
}

impl DeliveryMetrics {
    pub fn new() -> Arc<DeliveryMetrics> {
        Arc::new(DeliveryMetrics {
            delivered: Counter::default(),
            retried: Counter::default(),
            dead: Counter::default(),
            lag_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 16)),
        })
    }

    /// Registers the metrics under `exchange_…`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "exchange_delivered",
            "Case versions the exchange acknowledged",
            self.delivered.clone(),
        );
        registry.register(
            "exchange_retried",
            "Deliveries that failed and were scheduled again",
            self.retried.clone(),
        );
        registry.register(
            "exchange_dead",
            "Case versions moved to the dead-letter queue",
            self.dead.clone(),
        );
        registry.register(
            "exchange_delivery_lag_seconds",
            "Time from enqueue to the exchange's acknowledgement",
            self.lag_seconds.clone(),
        );
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
    /// Items whose lease ran out and went to another worker before they could be settled.
    pub lost: usize,
}

impl PassReport {
    fn add(&mut self, other: PassReport) {
        self.claimed += other.claimed;
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead += other.dead;
        self.lost += other.lost;
    }
}

/// Why a worker cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the exchange HTTP client")]
pub struct ClientError(#[source] reqwest::Error);

/// One node's delivery worker.
pub struct Worker {
    store: Store,
    exchange: Arc<Exchange>,
    node: String,
    http: reqwest::Client,
    metrics: Arc<DeliveryMetrics>,
}

impl Worker {
    /// A worker for `node` (the lease owner name; unique per running node).
    pub fn new(
        store: Store,
        exchange: Exchange,
        node: String,
        metrics: Arc<DeliveryMetrics>,
    ) -> Result<Worker, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(exchange.timeout)
            .connect_timeout(exchange.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError)?;
        Ok(Worker {
            store,
            exchange: Arc::new(exchange),
            node,
            http,
            metrics,
        })
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Claims one batch of due items and delivers them concurrently (they are heads of
    /// different cases).
    pub async fn pass(&self) -> Result<PassReport, StoreError> {
        let lease = chrono::Duration::from_std(self.exchange.lease).unwrap_or(chrono::Duration::MAX);
        let claimed = self
            .store
            .claim_outbox(&self.node, self.exchange.batch_size, lease, Utc::now())
            .await?;
        let mut report = PassReport {
            claimed: claimed.len(),
            ..Default::default()
        };
        for outcome in join_all(claimed.iter().map(|c| self.deliver(c))).await {
            report.add(outcome?);
        }
        Ok(report)
    }

    /// Passes until one delivers nothing: what is due now, and the versions behind it.
    pub async fn drain(&self) -> Result<PassReport, StoreError> {
        let mut total = PassReport::default();
        loop {
            let report = self.pass().await?;
            total.add(report);
            if report.delivered == 0 {
                return Ok(total);
            }
        }
    }

    /// Runs until `stop` turns true: a pass, then waits for new items on this node, the poll
    /// interval, or the stop signal. A pass in progress finishes first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(node = %self.node, url = %self.exchange.url, "exchange worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let notified = crate::store::enqueued().notified();
            tokio::pin!(notified);
            // Registered before the pass, so an item enqueued during it wakes the next one.
            notified.as_mut().enable();
            let busy = match self.pass().await {
                Ok(report) => report.claimed > 0,
                Err(err) => {
                    tracing::warn!(node = %self.node, error = %err, "exchange pass failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(self.exchange.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!(node = %self.node, "exchange worker stopped");
    }

    async fn deliver(&self, claimed: &Claimed) -> Result<PassReport, StoreError> {
        let item = &claimed.item;
        let key = idempotency_key(&item.system_id, &item.case_no, item.version);
        let outcome = match self.exchange.template.render(&item.system_id, &claimed.case) {
            Ok(payload) => self.post(&key, &payload).await,
            Err(err) => Attempt::Refused(format!("payload: {err}")),
        };
        let now = Utc::now();
        let mut report = PassReport::default();
        let settlement = match outcome {
            Attempt::Acknowledged => Settlement::Delivered,
            Attempt::Failed(error) if item.attempts < i64::from(self.exchange.max_attempts) => {
                Settlement::Retry {
                    next_attempt_at: now + self.backoff(item.attempts),
                    error,
                }
            }
            Attempt::Failed(error) => Settlement::Dead {
                error: format!(
                    "{error} (attempt {} of {})",
                    item.attempts, self.exchange.max_attempts
                ),
            },
            Attempt::Refused(error) => Settlement::Dead { error },
        };
        if !self
            .store
            .settle_outbox(item.id, &self.node, &settlement, now)
            .await?
        {
            tracing::warn!(node = %self.node, item = item.id, key, "exchange lease lost before settling");
            report.lost = 1;
            return Ok(report);
        }
        match &settlement {
            Settlement::Delivered => {
                report.delivered = 1;
                self.metrics.delivered.inc();
                let lag = (now - item.enqueued_at).to_std().unwrap_or_default();
                self.metrics.lag_seconds.observe(lag.as_secs_f64());
                tracing::debug!(node = %self.node, key, "delivered to the exchange");
            }
            Settlement::Retry {
                next_attempt_at,
                error,
            } => {
                report.retried = 1;
                self.metrics.retried.inc();
                tracing::info!(node = %self.node, key, attempts = item.attempts, error, next = %next_attempt_at, "exchange delivery will be retried");
            }
            Settlement::Dead { error } => {
                report.dead = 1;
                self.metrics.dead.inc();
                tracing::warn!(node = %self.node, key, attempts = item.attempts, error, "exchange item moved to the dead-letter queue");
            }
        }
        Ok(report)
    }

    async fn post(&self, key: &str, payload: &serde_json::Value) -> Attempt {
        let mut request = self
            .http
            .post(&self.exchange.url)
            .header("Idempotency-Key", key)
            .json(payload);
        if let Some(token) = &self.exchange.token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => classify(response.status()),
            Err(err) if err.is_timeout() => Attempt::Failed("timeout".to_owned()),
            Err(err) if err.is_connect() => Attempt::Failed("cannot connect".to_owned()),
            Err(err) => Attempt::Failed(format!("request failed: {err}")),
        }
    }

    /// Exponential from `backoff_base` (attempt 1), capped at `backoff_max`, then "equal
    /// jitter": half the delay fixed, half random, so retrying nodes spread out.
    fn backoff(&self, attempts: i64) -> chrono::Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let delay = self
            .exchange
            .backoff_base
            .saturating_mul(2_u32.saturating_pow(exponent))
            .min(self.exchange.backoff_max);
        let half = delay / 2;
        let jitter =
            Duration::from_millis(fastrand::u64(0..=half.as_millis().try_into().unwrap_or(u64::MAX)));
        chrono::Duration::from_std(half + jitter).unwrap_or(chrono::Duration::MAX)
    }
}

/// How one request ended.
enum Attempt {
    Acknowledged,
    /// Worth trying again.
    Failed(String),
    /// The exchange will not take it as it is.
    Refused(String),
}

fn classify(status: StatusCode) -> Attempt {
    let what = format!(
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if status.is_success() {
        Attempt::Acknowledged
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Attempt::Failed(what)
    } else {
        Attempt::Refused(what)
    }
}
