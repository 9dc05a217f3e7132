//! The delivery worker: claims due outbox items under this node's lease, delivers each through
//! the `ExchangeSink` (a POST with its `Idempotency-Key`), and settles it: delivered on 2xx; retried on 5xx,
//! 408, 429, timeouts and connection errors by the shared rule (`crate::retry`: capped backoff
//! with jitter, `Retry-After`, until the retry horizon); dead (the dead-letter queue) on any other
//! answer or at the horizon. While the exchange stays unreachable it raises one notification and
//! one escalation (Art. 33) per outage. At least once per version, never two versions of a case
//! at once (the store's head-of-case claim), never one item on two nodes at once while leases
//! outlast requests (`lease_seconds > timeout_seconds`).

use chrono::Utc;
use futures_util::future::join_all;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::config::Exchange;
use super::sink::{ClientError, ExchangeSink};
use crate::delivery::{Outcome, Sink};
use crate::retry::Failure;
use crate::store::{Claimed, Level, NewNotification, Settlement, Store, StoreError};

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

/// One node's delivery worker.
pub struct Worker {
    store: Store,
    exchange: Arc<Exchange>,
    node: String,
    sink: ExchangeSink,
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
        let exchange = Arc::new(exchange);
        Ok(Worker {
            store,
            sink: ExchangeSink::new(exchange.clone())?,
            exchange,
            node,
            metrics,
        })
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Claims one batch of due items, delivers them concurrently (they are heads of different
    /// cases) and settles the batch in one transaction.
    pub async fn pass(&self) -> Result<PassReport, StoreError> {
        let lease = chrono::Duration::from_std(self.exchange.lease).unwrap_or(chrono::Duration::MAX);
        let claimed = self
            .store
            .claim_outbox(&self.node, self.exchange.batch_size, lease)
            .await?;
        let mut report = PassReport {
            claimed: claimed.len(),
            ..Default::default()
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        let attempts = join_all(claimed.iter().map(|c| self.sink.deliver(c))).await;
        // The retry horizon and the outage's length by the database's clock, as `failing_since`.
        let now = self.store.clock().await?;
        let settlements: Vec<(i64, Settlement)> = claimed
            .iter()
            .zip(attempts)
            .map(|(c, attempt)| (c.item.id, self.settlement(c, attempt, now)))
            .collect();
        let settled = self.store.settle_outbox_many(&self.node, &settlements).await?;
        for ((claimed, (_, settlement)), settled) in claimed.iter().zip(&settlements).zip(settled) {
            self.record(&mut report, claimed, settlement, settled, now);
        }
        if report.retried > 0 {
            self.raise_outage(now).await?;
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

    /// Runs until `stop` is cancelled: a pass, then waits for new items on this node, the poll
    /// interval, or the cancellation. A pass in progress finishes first.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(node = %self.node, url = %self.exchange.url, "exchange worker started");
        loop {
            if stop.is_cancelled() {
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
                () = stop.cancelled() => {}
            }
        }
        tracing::info!(node = %self.node, "exchange worker stopped");
    }

    /// What an attempt means for the item: delivered, retried later, or dead.
    fn settlement(
        &self,
        claimed: &Claimed,
        attempt: Result<(), Failure>,
        now: chrono::DateTime<Utc>,
    ) -> Settlement {
        let item = &claimed.item;
        match Outcome::of(
            attempt,
            &self.exchange.retry,
            item.attempts,
            item.failing_since,
            now,
        ) {
            Outcome::Delivered(()) => Settlement::Delivered,
            Outcome::Retry { delay, error } => Settlement::Retry { delay, error },
            Outcome::GiveUp { error } => Settlement::Dead { error },
        }
    }

    /// Raises a notification, then an escalation (Art. 33), once the longest-failing item has
    /// been failing for `notify_after`, then `escalate_after`: one of each per outage (their
    /// dedup key is the outage's start), however many nodes see it.
    async fn raise_outage(&self, now: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        let Some(since) = self.store.outbox_failing_since().await? else {
            return Ok(());
        };
        let down = (now - since).to_std().unwrap_or_default();
        let levels = [
            (Level::Reminder, self.exchange.notify_after, 1),
            (Level::Escalation, self.exchange.escalate_after, 2),
        ];
        for (level, after, count) in levels {
            if down < after {
                continue;
            }
            let backlog = self.store.outbox_status().await?.backlog;
            let started = crate::calendar::beijing_time(&since).format("%Y-%m-%d %H:%M");
            let new = NewNotification {
                subject_kind: "exchange",
                subject_id: self.exchange.url.clone(),
                topic: "unreachable",
                level,
                message: format!(
                    "省数据共享交换平台自 {started}（北京时间）起无法送达，{backlog} 个办件版本待送达；恢复后将按序自动补送，无需人工操作。"
                ),
                reminder_count: count,
                day: crate::calendar::beijing_date(&now),
                dedup_key: format!(
                    "exchange:unreachable:{}:{}",
                    since.timestamp_micros(),
                    level.name()
                ),
            };
            if self.store.add_notification(&new, None, now).await?.is_some() {
                tracing::warn!(node = %self.node, level = level.name(), since = %since, backlog,
                    "the exchange is unreachable; notification raised");
            }
        }
        Ok(())
    }

    /// Counts, measures and logs a settled item.
    fn record(
        &self,
        report: &mut PassReport,
        claimed: &Claimed,
        settlement: &Settlement,
        settled: bool,
        now: chrono::DateTime<Utc>,
    ) {
        let item = &claimed.item;
        let key = item.key();
        if !settled {
            tracing::warn!(node = %self.node, item = item.id, key, "exchange lease lost before settling");
            report.lost += 1;
            return;
        }
        match settlement {
            Settlement::Delivered => {
                report.delivered += 1;
                self.metrics.delivered.inc();
                let lag = (now - item.enqueued_at).to_std().unwrap_or_default();
                self.metrics.lag_seconds.observe(lag.as_secs_f64());
                tracing::debug!(node = %self.node, key, "delivered to the exchange");
            }
            Settlement::Retry { delay, error } => {
                report.retried += 1;
                self.metrics.retried.inc();
                tracing::info!(node = %self.node, key, attempts = item.attempts, error, delay_ms = delay.num_milliseconds(), "exchange delivery will be retried");
            }
            Settlement::Dead { error } => {
                report.dead += 1;
                self.metrics.dead.inc();
                tracing::warn!(node = %self.node, key, attempts = item.attempts, error, "exchange item moved to the dead-letter queue");
            }
        }
    }
}
