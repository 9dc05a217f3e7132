//! The one retry rule for every delivery that goes through a shared queue (issue 22): the
//! exchange outbox, hand-offs to departmental systems and notification webhooks. A retriable
//! failure (5xx, 408, 429, a timeout, a refused or reset connection) waits an exponential delay
//! with equal jitter, capped, or the server's `Retry-After` when that is longer (still capped),
//! and is retried until the item has been failing for the horizon; a permanent answer (any other
//! 4xx, a payload that cannot be built) gives up at once. Only the horizon and permanent answers
//! end in a dead letter: an outage shorter than the horizon ends with everything delivered.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How long to wait between attempts, and for how long to keep trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure (before jitter).
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
    /// How long an item may keep failing before it is given up.
    pub horizon: Duration,
}

/// Why an attempt did not deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again; `retry_after` is the server's own wish, when it said one.
    Retriable {
        error: String,
        retry_after: Option<Duration>,
    },
    /// The receiver will not take it as it is.
    Permanent(String),
}

/// A request that could not be built or signed: nothing to retry.
impl From<String> for Failure {
    fn from(error: String) -> Failure {
        Failure::Permanent(error)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Try again after this delay.
    RetryAfter(Duration, String),
    /// Give up (dead letter, failed), for this reason.
    GiveUp(String),
}

impl RetryPolicy {
    /// The delay after `failures` failed attempts (1 for the first): `base` doubled per failure
    /// up to `cap`, with equal jitter (half fixed, half random) so that retrying nodes spread out.
    pub fn delay(&self, failures: u32) -> Duration {
        // backon adds a random part within (0, d) to the delay d: halves in, the full delay out.
        ExponentialBuilder::new()
            .with_min_delay(self.base / 2)
            .with_max_delay(self.cap / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(usize::try_from(failures.saturating_sub(1).min(40)).unwrap_or(40))
            .unwrap_or(self.cap)
    }

    /// After attempt number `attempts` failed with `failure`: retry after a delay, or give up
    /// (a permanent answer, or failing since `failing_since` for the horizon by `now`; an item
    /// that had not failed before starts failing now).
    pub fn next(
        &self,
        failure: Failure,
        attempts: i64,
        failing_since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Next {
        let (error, retry_after) = match failure {
            Failure::Permanent(error) => return Next::GiveUp(error),
            Failure::Retriable { error, retry_after } => (error, retry_after),
        };
        let failing = (now - failing_since.unwrap_or(now)).to_std().unwrap_or_default();
        if failing >= self.horizon {
            return Next::GiveUp(format!(
                "{error} (failing for {}, past the retry horizon of {})",
                humanize(failing),
                humanize(self.horizon)
            ));
        }
        let failures = u32::try_from(attempts.max(1)).unwrap_or(u32::MAX);
        let backoff = self.delay(failures);
        let wait = retry_after.map_or(backoff, |asked| backoff.max(asked.min(self.cap)));
        Next::RetryAfter(wait, error)
    }
}

/// An HTTP answer as a failure, or `None` for a 2xx. 5xx, 408 and 429 are retriable (with the
/// answer's `Retry-After`, seconds or an HTTP date), every other answer is permanent.
pub fn http_failure(status: StatusCode, headers: &HeaderMap) -> Option<Failure> {
    if status.is_success() {
        return None;
    }
    let error = format!(
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Some(Failure::Retriable {
            error,
            retry_after: retry_after(headers),
        })
    } else {
        Some(Failure::Permanent(error))
    }
}

/// A request that got no answer: always retriable (timeouts, refused or reset connections).
pub fn transport_failure(err: &reqwest::Error) -> Failure {
    let error = if err.is_timeout() {
        "timeout".to_owned()
    } else if err.is_connect() {
        "cannot connect".to_owned()
    } else {
        format!("request failed: {err}")
    };
    Failure::Retriable {
        error,
        retry_after: None,
    }
}

/// `Retry-After` as a delay: delta seconds, or an HTTP date from now.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// `1h 5m 3s`-style, for messages.
fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(300),
            horizon: Duration::from_secs(72 * 3600),
        }
    }

    #[test]
    fn delays_double_with_equal_jitter_up_to_the_cap() {
        let p = policy();
        for (failures, full) in [(1, 10), (2, 20), (3, 40), (6, 300), (500, 300)] {
            for _ in 0..50 {
                let d = p.delay(failures);
                let full = Duration::from_secs(full);
                assert!(
                    d >= full / 2 && d <= full,
                    "{failures}: {d:?} not within [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn retriable_failures_retry_until_the_horizon_and_permanent_ones_give_up() {
        let p = policy();
        let now = Utc::now();
        let busy = |retry_after| Failure::Retriable {
            error: "HTTP 503 Service Unavailable".into(),
            retry_after,
        };
        assert!(matches!(p.next(busy(None), 900, None, now), Next::RetryAfter(..)));
        let hours = |h| Some(now - chrono::Duration::hours(h));
        assert!(matches!(
            p.next(busy(None), 900, hours(71), now),
            Next::RetryAfter(..)
        ));
        match p.next(busy(None), 900, hours(72), now) {
            Next::GiveUp(why) => assert!(why.contains("retry horizon of 72h 0m"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p.next(Failure::Permanent("HTTP 400 Bad Request".into()), 1, None, now),
            Next::GiveUp("HTTP 400 Bad Request".into())
        );
        // A longer Retry-After is honoured, up to the cap.
        match p.next(busy(Some(Duration::from_secs(120))), 1, None, now) {
            Next::RetryAfter(wait, _) => assert_eq!(wait, Duration::from_secs(120)),
            other => panic!("{other:?}"),
        }
        match p.next(busy(Some(Duration::from_secs(9999))), 1, None, now) {
            Next::RetryAfter(wait, _) => assert_eq!(wait, Duration::from_secs(300)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn answers_are_classified() {
        let mut headers = HeaderMap::new();
        assert_eq!(http_failure(StatusCode::OK, &headers), None);
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            http_failure(StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(Failure::Retriable {
                error: "HTTP 429 Too Many Requests".into(),
                retry_after: Some(Duration::from_secs(7))
            })
        );
        for status in [StatusCode::BAD_GATEWAY, StatusCode::REQUEST_TIMEOUT] {
            assert!(matches!(
                http_failure(status, &HeaderMap::new()),
                Some(Failure::Retriable {
                    retry_after: None,
                    ..
                })
            ));
        }
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::CONFLICT,
        ] {
            assert!(matches!(
                http_failure(status, &HeaderMap::new()),
                Some(Failure::Permanent(_))
            ));
        }
    }
}
