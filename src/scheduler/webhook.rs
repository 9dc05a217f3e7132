//! Delivery of queued notifications to the configured webhook: one JSON POST each (escalations
//! to `escalation_webhook_url` when set). A 2xx answer delivers it; a retriable failure (5xx,
//! 408, 429, a timeout, a refused connection) leaves it queued by the shared retry rule
//! (`crate::retry`: doubled, capped wait, `Retry-After`) until `retry_horizon_seconds` after it
//! was raised, so nothing is lost while the webhook is down; a permanent answer (other 4xx) or
//! the horizon marks it `failed`, listed for operators. Delivery is at least once: a receiver deduplicates on `id`. With `webhook_secret`
//! every request is signed as write-back pushes are (`X-Ronghe-*` headers, HMAC-SHA256).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Scheduler, SchedulerError};
use crate::retry::{Failure, Next, http_failure, transport_failure};
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
        let Some(url) = self.config.webhook_url.as_deref() else {
            return Ok(report);
        };
        for n in self.store.due_notifications(now, BATCH).await? {
            let target = match (n.level.as_str(), &self.config.escalation_webhook_url) {
                ("escalation", Some(escalation)) => escalation.as_str(),
                _ => url,
            };
            match self.post(target, &n).await {
                Ok(()) => {
                    self.store
                        .settle_notification(n.id, Ok(()), self.store.clock().await?, None)
                        .await?;
                    tracing::info!(notification = n.id, level = %n.level, "notification delivered");
                    report.delivered += 1;
                }
                Err(failure) => {
                    let retry = self.config.retry_policy();
                    let (error, retry_at) = match retry.next(failure, n.attempts + 1, Some(n.created_at), now)
                    {
                        Next::RetryAfter(delay, error) => (
                            error,
                            Some(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)),
                        ),
                        Next::GiveUp(error) => (error, None),
                    };
                    self.store
                        .settle_notification(n.id, Err(&error), self.store.clock().await?, retry_at)
                        .await?;
                    tracing::warn!(notification = n.id, level = %n.level, attempts = n.attempts + 1,
                        retry_at = ?retry_at, error = %error, "notification not delivered");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Sends one notification. Errors before the request is sent are permanent (a `String`
    /// converts into `Failure::Permanent`).
    async fn post(&self, url: &str, n: &Notification) -> Result<(), Failure> {
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
        let answer = request
            .body(body)
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        match http_failure(answer.status(), answer.headers()) {
            None => Ok(()),
            Some(failure) => Err(failure),
        }
    }
}
