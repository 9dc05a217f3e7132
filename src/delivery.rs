//! The one outbound delivery contract (issue 18). A [`Sink`] delivers one item and answers with
//! a receipt or a [`Failure`]; the exchange (`exchange::ExchangeSink`), the notification webhook
//! (`scheduler::WebhookSink`) and adapter submission (the hand-off's) are sinks. Their workers
//! call `deliver` and turn the answer into an [`Outcome`] by the shared [`RetryPolicy`], the
//! same way. [`send`] is the one HTTP send and classification the HTTP sinks share.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::retry::{Failure, Next, RetryPolicy, http_failure, transport_failure};

/// Where a worker delivers its items.
pub trait Sink: Send + Sync {
    /// What one delivery carries.
    type Item: Sync;
    /// What the receiver answers when it takes an item.
    type Receipt: Send;

    /// One attempt to deliver `item`: the receiver's receipt, or why it did not take it
    /// (retriable or permanent).
    fn deliver(&self, item: &Self::Item) -> impl Future<Output = Result<Self::Receipt, Failure>> + Send;
}

/// What an attempt means for the item, by the retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<R> {
    /// Delivered, with the receiver's receipt.
    Delivered(R),
    /// Try again after `delay`.
    Retry { delay: chrono::Duration, error: String },
    /// Given up (a permanent answer or the retry horizon): dead letter, failed.
    GiveUp { error: String },
}

impl<R> Outcome<R> {
    /// The outcome of an attempt, number `attempts` for the item, answered `result` at `now`:
    /// a failure is retried or given up by `policy` (`RetryPolicy::next`), counting the horizon
    /// from `failing_since`.
    pub fn of(
        result: Result<R, Failure>,
        policy: &RetryPolicy,
        attempts: i64,
        failing_since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Outcome<R> {
        match result {
            Ok(receipt) => Outcome::Delivered(receipt),
            Err(failure) => match policy.next(failure, attempts, failing_since, now) {
                Next::RetryAfter(delay, error) => Outcome::Retry {
                    delay: chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                    error,
                },
                Next::GiveUp(error) => Outcome::GiveUp { error },
            },
        }
    }
}

/// Sends `request`: the answer when it is a 2xx, otherwise its classification (5xx, 408 and
/// 429 with `Retry-After`, timeouts and connection errors retriable; other answers permanent).
pub async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
    let answer = request.send().await.map_err(|err| transport_failure(&err))?;
    match http_failure(answer.status(), answer.headers()) {
        None => Ok(answer),
        Some(failure) => Err(failure),
    }
}
