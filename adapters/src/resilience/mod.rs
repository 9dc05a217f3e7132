//! Resilience for every driver: a request timeout, retries with exponential backoff and full
//! jitter for retryable errors only, a circuit breaker, and concurrency and rate limits per
//! system (legacy systems are fragile). Time is tokio's, so tests run on a paused clock.

mod breaker;
mod limiter;

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use backon::Retryable;
use serde::{Deserialize, Serialize};

use crate::{AdapterError, ErrorClass};
pub use breaker::Breaker;
pub use limiter::Limiter;

/// Resilience settings of one system's adapter (the `[resilience]` table).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResilienceConfig {
    /// Time allowed to open a connection.
    pub connect_timeout_seconds: f64,
    /// Time allowed for one request, connection included.
    pub request_timeout_seconds: f64,
    /// Attempts per operation, the first included (1 = no retry).
    pub max_attempts: u32,
    /// First backoff ceiling; each retry doubles it, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Consecutive failures that open the circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one trial call.
    pub breaker_open_seconds: f64,
    /// Requests in flight at once.
    pub max_concurrency: u32,
    /// Requests started per second (0 = no rate limit).
    pub max_requests_per_second: f64,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        ResilienceConfig {
            connect_timeout_seconds: 5.0,
            request_timeout_seconds: 30.0,
            max_attempts: 3,
            backoff_base_ms: 200,
            backoff_max_ms: 10_000,
            breaker_failures: 5,
            breaker_open_seconds: 30.0,
            max_concurrency: 4,
            max_requests_per_second: 20.0,
        }
    }
}

impl ResilienceConfig {
    /// Every problem, as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.connect_timeout_seconds) {
            p.push((
                "connect_timeout_seconds",
                "must be a positive number of seconds".to_owned(),
            ));
        }
        if !positive(self.request_timeout_seconds) {
            p.push((
                "request_timeout_seconds",
                "must be a positive number of seconds".to_owned(),
            ));
        }
        if !(1..=20).contains(&self.max_attempts) {
            p.push(("max_attempts", "must be between 1 and 20".to_owned()));
        }
        if self.backoff_base_ms == 0 || self.backoff_max_ms < self.backoff_base_ms {
            p.push((
                "backoff_max_ms",
                "backoff_base_ms must be positive and at most backoff_max_ms".to_owned(),
            ));
        }
        if self.breaker_failures == 0 {
            p.push(("breaker_failures", "must be at least 1".to_owned()));
        }
        if !positive(self.breaker_open_seconds) {
            p.push((
                "breaker_open_seconds",
                "must be a positive number of seconds".to_owned(),
            ));
        }
        if self.max_concurrency == 0 {
            p.push(("max_concurrency", "must be at least 1".to_owned()));
        }
        if !(self.max_requests_per_second.is_finite() && self.max_requests_per_second >= 0.0) {
            p.push((
                "max_requests_per_second",
                "must be zero (no limit) or positive".to_owned(),
            ));
        }
        p
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout_seconds)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_seconds)
    }
}

/// The resilience of one system's adapter: every call to the system goes through `run`.
#[derive(Debug)]
pub struct Policy {
    config: ResilienceConfig,
    breaker: Breaker,
    limiter: Limiter,
    jitter: Mutex<fastrand::Rng>,
}

impl Policy {
    pub fn new(config: &ResilienceConfig) -> Policy {
        Policy::with_seed(config, fastrand::u64(..))
    }

    /// A policy whose jitter is reproducible (tests, benchmarks).
    pub fn with_seed(config: &ResilienceConfig, seed: u64) -> Policy {
        Policy {
            breaker: Breaker::new(
                config.breaker_failures,
                Duration::from_secs_f64(config.breaker_open_seconds),
            ),
            limiter: Limiter::new(config.max_concurrency, config.max_requests_per_second),
            jitter: Mutex::new(fastrand::Rng::with_seed(seed)),
            config: config.clone(),
        }
    }

    /// The delay before retry number `retry` (0 for the first retry): full jitter, uniform in
    /// [0, min(max, base · 2^retry)]. (backon's own jitter only adds to the delay, so the retry
    /// loop is backon's and the delays are these.)
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .config
            .backoff_base_ms
            .saturating_mul(1u64 << retry.min(30))
            .min(self.config.backoff_max_ms);
        // A poisoned lock only means another task panicked mid-draw; the generator is still usable.
        let mut rng = self.jitter.lock().unwrap_or_else(|e| e.into_inner());
        Duration::from_millis(rng.u64(0..=ceiling))
    }

    /// Runs `op` under the limits, the breaker, the timeout and the retry rule. Retryable
    /// failures that outlast the attempts become `Unavailable`; so does an open circuit.
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, AdapterError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AdapterError>>,
    {
        let attempts = self.config.max_attempts.max(1);
        let attempt = || {
            let call = self.breaker.allow(what).map(|()| op());
            async move {
                let call = call?;
                let _permit = self.limiter.acquire().await;
                let outcome = tokio::time::timeout(self.config.request_timeout(), call)
                    .await
                    .unwrap_or_else(|_| {
                        Err(AdapterError::retryable(format!(
                            "{what}: no answer within {}s",
                            self.config.request_timeout_seconds
                        )))
                    });
                match &outcome {
                    Err(err) if err.class == ErrorClass::Retryable => self.breaker.failed(),
                    // The system answered: it is up, whatever it said.
                    _ => self.breaker.succeeded(),
                }
                outcome
            }
        };
        let mut failed = 0;
        attempt
            .retry((0..attempts - 1).map(|retry| self.backoff(retry)))
            .sleep(tokio::time::sleep)
            .when(|err| err.class == ErrorClass::Retryable)
            .notify(|err, _| {
                failed += 1;
                tracing::warn!(operation = what, attempt = failed, error = %err, "retrying");
            })
            .await
            .map_err(|err| match err.class {
                ErrorClass::Retryable => {
                    let message = format!("{what}: unavailable after {attempts} attempt(s): {}", err.message);
                    AdapterError::unavailable(message).with_source(err)
                }
                _ => err,
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn config() -> ResilienceConfig {
        ResilienceConfig {
            max_attempts: 3,
            backoff_base_ms: 100,
            backoff_max_ms: 1000,
            breaker_failures: 3,
            breaker_open_seconds: 10.0,
            request_timeout_seconds: 1.0,
            max_requests_per_second: 0.0,
            ..Default::default()
        }
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_ceiling() {
        let policy = Policy::with_seed(&config(), 7);
        for (retry, ceiling) in [
            (0, 100),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1000),
            (10, 1000),
            (40, 1000),
        ] {
            for _ in 0..200 {
                let d = policy.backoff(retry).as_millis() as u64;
                assert!(d <= ceiling, "retry {retry}: {d} > {ceiling}");
            }
        }
        let a: Vec<_> = (0..5)
            .map(|r| Policy::with_seed(&config(), 1).backoff(r))
            .collect();
        let b: Vec<_> = (0..5)
            .map(|r| Policy::with_seed(&config(), 1).backoff(r))
            .collect();
        assert_eq!(a, b, "same seed, same delays");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_then_succeeds() {
        let policy = Policy::with_seed(&config(), 1);
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let result = policy
            .run("GET /x", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(AdapterError::retryable("HTTP 503")),
                    _ => Ok(42),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 42);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let waited = started.elapsed();
        assert!(
            waited <= Duration::from_millis(300),
            "two backoffs under 100 + 200 ms ceilings: {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_not_retried() {
        let policy = Policy::with_seed(&config(), 1);
        let calls = AtomicU32::new(0);
        let err = policy
            .run("GET /x", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(AdapterError::configuration("HTTP 401"))
            })
            .await
            .unwrap_err();
        assert_eq!(
            (err.class, calls.load(Ordering::SeqCst)),
            (ErrorClass::Configuration, 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_become_unavailable_after_the_attempts() {
        let policy = Policy::with_seed(&config(), 1);
        let err = policy
            .run("GET /slow", || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Unavailable);
        assert!(
            err.message.contains("after 3 attempt(s)") && err.message.contains("no answer within 1s"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_refuses_then_lets_one_trial_through() {
        let cfg = ResilienceConfig {
            max_attempts: 1,
            ..config()
        };
        let policy = Policy::with_seed(&cfg, 1);
        let calls = AtomicU32::new(0);
        let failing = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(AdapterError::retryable("reset"))
        };
        for _ in 0..3 {
            policy.run("op", failing).await.unwrap_err();
        }
        let refused = policy.run("op", failing).await.unwrap_err();
        assert_eq!(refused.class, ErrorClass::Unavailable);
        assert!(refused.message.contains("circuit open"), "{refused}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "an open circuit does not call the system"
        );

        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(
            policy.run("op", || async { Ok(1) }).await.unwrap(),
            1,
            "the trial call after the open period"
        );
        policy.run("op", failing).await.unwrap_err();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "closed again: a single failure does not reopen it"
        );
    }
}
