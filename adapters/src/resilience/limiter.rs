//! Per-system limits: at most `max_concurrency` requests in flight (a tokio semaphore), and at
//! most `max_requests_per_second` started per second (governor's GCRA, which bursts up to one
//! second's worth, at least one request). Both wait on tokio's clock, so tests run it paused.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

type Rate = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

#[derive(Debug)]
pub struct Limiter {
    in_flight: Semaphore,
    /// `None`: no rate limit.
    rate: Option<Rate>,
}

/// Tokio's clock for governor: the time since the limiter was made.
#[derive(Debug, Clone)]
struct TokioClock(Instant);

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

impl Limiter {
    /// `rate` of 0 means no rate limit.
    pub fn new(max_concurrency: u32, rate: f64) -> Limiter {
        let quota = (rate > 0.0)
            .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / rate)))
            .flatten()
            // A rate too high for a nanosecond period is no limit at all.
            .map(|quota| quota.allow_burst(NonZeroU32::new(rate as u32).unwrap_or(NonZeroU32::MIN)));
        Limiter {
            in_flight: Semaphore::new(max_concurrency.max(1) as usize),
            rate: quota.map(|quota| RateLimiter::direct_with_clock(quota, TokioClock(Instant::now()))),
        }
    }

    /// Waits for a slot and then for the rate; the slot is held until the permit drops.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        // The semaphore is never closed, so acquire cannot fail.
        let permit = self
            .in_flight
            .acquire()
            .await
            .unwrap_or_else(|_| unreachable!("limiter semaphore is never closed"));
        if let Some(rate) = &self.rate {
            while let Err(not_until) = rate.check() {
                tokio::time::sleep(not_until.wait_time_from(rate.clock().now())).await;
            }
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn concurrency_limit_holds_under_load() {
        let limiter = Arc::new(Limiter::new(3, 0.0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (limiter, in_flight, peak) = (limiter.clone(), in_flight.clone(), peak.clone());
                tokio::spawn(async move {
                    let _permit = limiter.acquire().await;
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_holds_under_concurrency() {
        let limiter = Arc::new(Limiter::new(50, 10.0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    let _permit = limiter.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap().duration_since(started));
        }
        times.sort();
        // A full bucket lets 10 through at once; the other 30 follow at 10 per second.
        assert!(times[9] < Duration::from_millis(1), "{times:?}");
        assert!(times[39] >= Duration::from_millis(2999), "{times:?}");
        for window in 0..3u64 {
            let from = Duration::from_millis(window * 1000 + 1);
            let to = from + Duration::from_secs(1);
            let n = times.iter().filter(|t| **t >= from && **t < to).count();
            assert!(n <= 10, "{n} requests started in one second: {times:?}");
        }
    }
}
