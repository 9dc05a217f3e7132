//! Counters and histograms of the server, exposed on `/metrics` in the Prometheus text format.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
    handoff_applications: Family<HandoffLabels, Counter>,
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
        let handoff_applications = Family::<HandoffLabels, Counter>::default();
        registry.register(
            "handoff_applications",
            "Front-end migration hand-offs by system and outcome: accepted, duplicate, delivered, retry_later, failed",
            handoff_applications.clone(),
        );
        Arc::new(Metrics {
            registry,
            handoff_applications,
            http_requests,
            http_seconds,
            bridge_tickets,
            writeback_records,
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

    /// Counts a hand-off of `system` with `outcome`.
    pub fn handoff(&self, system: &str, outcome: &str) {
        self.handoff_applications
            .get_or_create(&HandoffLabels {
                system: system.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
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
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
