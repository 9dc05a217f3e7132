//! Delivery of queued notifications to the configured webhook: one JSON POST each (escalations
//! to `escalation_webhook_url` when set). A 2xx answer delivers it; a retriable failure (5xx,
//! 408, 429, a timeout, a refused connection) leaves it queued by the shared retry rule
//! (`crate::retry`: doubled, capped wait, `Retry-After`) until `retry_horizon_seconds` after it
//! was raised, so nothing is lost while the webhook is down; a permanent answer (other 4xx) or
//! the horizon marks it `failed`, listed for operators. Delivery is at least once: a receiver deduplicates on `id`. With `webhook_secret`
//! every request is signed as write-back pushes are (`X-Ronghe-*` headers, HMAC-SHA256).
//! `WebhookSink` is the webhook as a `delivery::Sink`.

use chrono::{DateTime, Utc};
use ronghe_adapters::Secrets;
use ronghe_adapters::signing::Signer;
use ronghe_crypto::MacAlgorithm;
use serde::Serialize;

use super::{Scheduler, SchedulerConfig, SchedulerError, WEBHOOK_KEY_ID};
use crate::delivery::{Outcome, Sink, send};
use crate::retry::Failure;
use crate::store::Notification;

/// Notifications sent per pass.
const BATCH: i64 = 200;

/// What a delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeliveryReport {
    pub delivered: usize,
    /// Attempts that failed (those notifications stay queued).
    pub failed: usize,
}

/// The JSON a webhook receives.
#[derive(Serialize)]
struct Payload<'a> {
    id: i64,
    level: &'a str,
    subject_kind: &'a str,
    subject_id: &'a str,
    topic: &'a str,
    message: &'a str,
    reminder_count: i64,
    day: chrono::NaiveDate,
    created_at: DateTime<Utc>,
}

impl Scheduler {
    /// Sends every queued notification due at `now`. Without a webhook nothing is sent and
    /// everything stays queued.
    pub async fn deliver(&self, now: DateTime<Utc>) -> Result<DeliveryReport, SchedulerError> {
        let mut report = DeliveryReport::default();
        let Some(sink) = &self.webhook else {
            return Ok(report);
        };
        let retry = self.config.retry_policy();
        for n in self.store.due_notifications(now, BATCH).await? {
            let attempt = sink.deliver(&n).await;
            let (error, retry_at) =
                match Outcome::of(attempt, &retry, n.attempts + 1, Some(n.created_at), now) {
                    Outcome::Delivered(()) => {
                        self.store
                            .settle_notification(n.id, Ok(()), self.store.clock().await?, None)
                            .await?;
                        tracing::info!(notification = n.id, level = %n.level, "notification delivered");
                        report.delivered += 1;
                        continue;
                    }
                    Outcome::Retry { delay, error } => (error, Some(now + delay)),
                    Outcome::GiveUp { error } => (error, None),
                };
            self.store
                .settle_notification(n.id, Err(&error), self.store.clock().await?, retry_at)
                .await?;
            tracing::warn!(notification = n.id, level = %n.level, attempts = n.attempts + 1,
                retry_at = ?retry_at, error = %error, "notification not delivered");
            report.failed += 1;
        }
        Ok(report)
    }
}

/// The notification webhook (escalations to their own URL when configured), with its client
/// and signer.
#[derive(Clone)]
pub struct WebhookSink {
    url: String,
    escalation_url: Option<String>,
    http: reqwest::Client,
    /// Signs requests, when `webhook_secret` is set.
    signer: Option<Signer>,
}

impl WebhookSink {
    /// The sink `config` describes (`webhook_secret` resolved through `secrets`), or `None`
    /// without a `webhook_url`.
    pub fn from_config(
        config: &SchedulerConfig,
        secrets: &dyn Secrets,
    ) -> Result<Option<WebhookSink>, SchedulerError> {
        let Some(url) = &config.webhook_url else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(config.webhook_timeout_seconds))
            .build()
            .map_err(|e| SchedulerError::Client(e.to_string()))?;
        let signer = match &config.webhook_secret {
            Some(reference) => {
                let secret = secrets.resolve(reference).map_err(|e| {
                    SchedulerError::Config(vec![format!("scheduler.webhook_secret: {reference}: {e}")])
                })?;
                Some(Signer::new(
                    WEBHOOK_KEY_ID,
                    MacAlgorithm::HmacSha256,
                    secret.into_bytes(),
                ))
            }
            None => None,
        };
        Ok(Some(WebhookSink {
            url: url.clone(),
            escalation_url: config.escalation_webhook_url.clone(),
            http,
            signer,
        }))
    }
}

impl Sink for WebhookSink {
    type Item = Notification;
    type Receipt = ();

    /// Sends one notification. Errors before the request is sent are permanent (a `String`
    /// converts into `Failure::Permanent`).
    async fn deliver(&self, n: &Notification) -> Result<(), Failure> {
        let url = match (n.level.as_str(), &self.escalation_url) {
            ("escalation", Some(escalation)) => escalation.as_str(),
            _ => self.url.as_str(),
        };
        let payload = Payload {
            id: n.id,
            level: &n.level,
            subject_kind: &n.subject_kind,
            subject_id: &n.subject_id,
            topic: &n.topic,
            message: &n.message,
            reminder_count: n.reminder_count,
            day: n.day,
            created_at: n.created_at,
        };
        let body =
            serde_json::to_vec(&payload).map_err(|e| format!("cannot encode the notification: {e}"))?;
        let mut request = self
            .http
            .post(url)
            .header("Idempotency-Key", format!("notification-{}", n.id))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(signer) = &self.signer {
            let path = url::Url::parse(url).map_or_else(|_| "/".to_owned(), |u| u.path().to_owned());
            let signed = signer
                .sign("POST", &path, &body)
                .map_err(|e| format!("cannot sign the request: {e}"))?;
            for (name, value) in signed.headers {
                request = request.header(name, value);
            }
        }
        send(request.body(body)).await.map(drop)
    }
}
