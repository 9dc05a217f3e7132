//! Issue 18: the exchange and the notification webhook are both `delivery::Sink`s, and the same
//! answer from a real local server classifies the same way through either: 429 with
//! `Retry-After` and 503 retriable, 400 permanent, a refused connection retriable, 2xx delivered.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::Utc;
use ronghe::delivery::Sink;
use ronghe::exchange::{ExchangeConfig, ExchangeSink};
use ronghe::retry::Failure;
use ronghe::scheduler::{SchedulerConfig, WebhookSink};
use ronghe::store::{Claimed, Notification, OutboxItem, OutboxState};

/// A receiver with one path per answer.
async fn receiver() -> String {
    let app = axum::Router::new()
        .route("/ok", post(|| async { StatusCode::OK }))
        .route(
            "/busy",
            post(|| async { (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, "7")]).into_response() }),
        )
        .route("/down", post(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/bad", post(|| async { StatusCode::BAD_REQUEST }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A URL on a port nothing listens on any more.
async fn refusing() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/gone", listener.local_addr().unwrap());
    drop(listener);
    url
}

async fn through_the_exchange(url: &str) -> Result<(), Failure> {
    let sink = ExchangeSink::new(
        ExchangeConfig::new(url)
            .build(&ronghe_adapters::Environment)
            .unwrap()
            .into(),
    )
    .unwrap();
    let now = Utc::now();
    let claimed = Claimed {
        item: OutboxItem {
            id: 1,
            system_id: "gy-scjg".into(),
            case_no: "SC-1".into(),
            version: 1,
            state: OutboxState::Pending,
            attempts: 1,
            enqueued_at: now,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
            failing_since: None,
        },
        case: common::case("case_finished"),
    };
    sink.deliver(&claimed).await
}

async fn through_the_webhook(url: &str) -> Result<(), Failure> {
    let config = SchedulerConfig {
        webhook_url: Some(url.to_owned()),
        ..Default::default()
    };
    let sink = WebhookSink::from_config(&config, &ronghe_adapters::Environment)
        .unwrap()
        .expect("a webhook_url makes a sink");
    let now = Utc::now();
    let notification = Notification {
        id: 1,
        subject_kind: "plan".into(),
        subject_id: "gy-scjg".into(),
        topic: "milestone_overdue".into(),
        level: "reminder".into(),
        message: "里程碑已逾期".into(),
        reminder_count: 1,
        day: now.date_naive(),
        created_at: now,
        delivery_state: "queued".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        delivered_at: None,
    };
    sink.deliver(&notification).await
}

#[tokio::test]
async fn the_exchange_and_the_webhook_classify_the_same_answers_alike() {
    let base = receiver().await;
    let retriable = |error: &str, retry_after: Option<u64>| {
        Err(Failure::Retriable {
            error: error.to_owned(),
            retry_after: retry_after.map(Duration::from_secs),
        })
    };
    let cases = [
        (format!("{base}/ok"), Ok(())),
        (
            format!("{base}/busy"),
            retriable("HTTP 429 Too Many Requests", Some(7)),
        ),
        (
            format!("{base}/down"),
            retriable("HTTP 503 Service Unavailable", None),
        ),
        (
            format!("{base}/bad"),
            Err(Failure::Permanent("HTTP 400 Bad Request".into())),
        ),
        (refusing().await, retriable("cannot connect", None)),
    ];
    for (url, expected) in cases {
        assert_eq!(through_the_exchange(&url).await, expected, "exchange, {url}");
        assert_eq!(through_the_webhook(&url).await, expected, "webhook, {url}");
    }
}
