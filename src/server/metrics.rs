//! Counters and histograms of the server, exposed on `/metrics` in the Prometheus text format.
//! The exchange outbox's gauges (backlog, dead items, oldest pending age) are read from the store
//! at each scrape, so every node reports the shared outbox; the delivery counters and the lag
//! histogram count this node's worker.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TicketLabels {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WritebackLabels {
    system: String,
    channel: String,
    /// `received`, `accepted`, `duplicate` or `rejected`.
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandoffLabels {
    system: String,
    /// `accepted`, `duplicate`, `delivered`, `retry_later` or `failed`.
    outcome: String,
}

/// Every metric of a node, with the registry that renders them.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<HttpLabels, Histogram>,
    bridge_tickets: Family<TicketLabels, Counter>,
    writeback_records: Family<WritebackLabels, Counter>,
    /// This node's deliveries to the exchange.
    pub exchange: Arc<crate::exchange::DeliveryMetrics>,
    exchange_backlog: Gauge,
    exchange_dead_items: Gauge,
    exchange_oldest_pending: Gauge<f64, std::sync::atomic::AtomicU64>,
    handoff_applications: Family<HandoffLabels, Counter>,
    /// This node's housekeeping.
    pub housekeeping: Arc<crate::housekeeping::HousekeepingMetrics>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("ronghe");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_seconds = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_requests", "HTTP requests answered", http_requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests",
            http_seconds.clone(),
        );
        let bridge_tickets = Family::<TicketLabels, Counter>::default();
        registry.register(
            "bridge_tickets",
            "Bridge tickets by outcome: issued, not_issued, redeemed, or the refusal code",
            bridge_tickets.clone(),
        );
        let writeback_records = Family::<WritebackLabels, Counter>::default();
        registry.register(
            "writeback_records",
            "Write-back records by system, channel and outcome: received, accepted, duplicate, rejected",
            writeback_records.clone(),
        );
        let exchange = crate::exchange::DeliveryMetrics::new();
        exchange.register(&mut registry);
        let exchange_backlog = Gauge::default();
        registry.register(
            "exchange_backlog",
            "Outbox items not delivered yet (all nodes)",
            exchange_backlog.clone(),
        );
        let exchange_dead_items = Gauge::default();
        registry.register(
            "exchange_dead_items",
            "Outbox items in the dead-letter queue (all nodes)",
            exchange_dead_items.clone(),
        );
        let exchange_oldest_pending = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "exchange_oldest_pending_age_seconds",
            "Age of the oldest item not delivered yet, 0 when none",
            exchange_oldest_pending.clone(),
        );
        let handoff_applications = Family::<HandoffLabels, Counter>::default();
        registry.register(
            "handoff_applications",
            "Front-end migration hand-offs by system and outcome: accepted, duplicate, delivered, retry_later, failed",
            handoff_applications.clone(),
        );
        let housekeeping = crate::housekeeping::HousekeepingMetrics::new();
        housekeeping.register(&mut registry);
        Arc::new(Metrics {
            registry,
            housekeeping,
            handoff_applications,
            http_requests,
            http_seconds,
            bridge_tickets,
            writeback_records,
            exchange,
            exchange_backlog,
            exchange_dead_items,
            exchange_oldest_pending,
        })
    }

    /// Counts a ticket outcome.
    pub(super) fn ticket(&self, outcome: &str) {
        self.bridge_tickets
            .get_or_create(&TicketLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts `n` write-back records of `system` through `channel` with `outcome`.
    pub fn writeback(&self, system: &str, channel: &str, outcome: &str, n: u64) {
        self.writeback_records
            .get_or_create(&WritebackLabels {
                system: system.to_owned(),
                channel: channel.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    /// Sets the outbox gauges from the store's figures.
    fn outbox(&self, status: &crate::store::OutboxStatus) {
        self.exchange_backlog.set(status.backlog);
        self.exchange_dead_items.set(status.dead);
        let age = status.oldest_pending_at.map_or(0.0, |at| {
            (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.exchange_oldest_pending.set(age);
    }

    fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// `ronghe_handoff_applications`: each hand-off attempt of a system with its outcome.
impl crate::handoff::HandoffMetrics for Metrics {
    fn attempt(&self, system: &str, outcome: &str) {
        self.handoff_applications
            .get_or_create(&HandoffLabels {
                system: system.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// Middleware: counts and times every request by its route template (not its raw path, which
/// would carry case numbers into label values).
pub(super) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let labels = HttpLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state.metrics.http_requests.get_or_create(&labels).inc();
    state
        .metrics
        .http_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

pub(super) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.outbox_status().await {
        Ok(status) => state.metrics.outbox(&status),
        // The other metrics are still worth serving; the gauges keep their last values.
        Err(err) => tracing::warn!(error = %err, "cannot read the exchange outbox for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
