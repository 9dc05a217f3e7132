//! Failed system credentials, throttled per system and source address (issue 24): after
//! `LIMIT` failures within a window the pair is refused — before its credentials are checked,
//! so a correct guess looks the same — until the window ends (`Retry-After`). Only failures
//! count: a department's server redeeming thousands of tickets a minute from one address is
//! never slowed. What a window saw is audited in aggregate by the caller: one row at its first
//! failure, one when throttling starts, and a summary with the totals when the pair is next seen
//! after the window ended; a flood cannot fill the log.
//!
//! Hand-written rather than a rate-limiter crate: those (governor's GCRA) charge every request,
//! and cannot ask "is this pair blocked?" without charging it; this counts failures only. The
//! counts live in this node's memory: with several nodes behind a balancer the limit is per
//! node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Failures a (system, address) pair may have within a window before it is throttled.
pub const LIMIT: u32 = 10;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 300;
/// Pairs remembered before ended windows are swept.
const SWEEP_AT: usize = 10_000;

type Key = (String, Option<IpAddr>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    started: DateTime<Utc>,
    failures: u32,
    /// Requests refused unchecked while throttled.
    throttled: u32,
}

impl Window {
    fn ends(&self) -> DateTime<Utc> {
        self.started + Duration::seconds(WINDOW_SECONDS)
    }
}

/// A window that ended, for its summary row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ended {
    pub started: DateTime<Utc>,
    pub failures: u32,
    pub throttled: u32,
}

/// Whether a pair may try its credentials now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    Open {
        ended: Option<Ended>,
    },
    /// Refused unchecked until then.
    Throttled {
        until: DateTime<Utc>,
    },
}

/// What a failure started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The first failure of a new window.
    First { started: DateTime<Utc> },
    /// One more within the window.
    Counted,
    /// The failure that reached `LIMIT`: throttled from now until `until`.
    Limit {
        started: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

/// The failure counts of this node.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    windows: Mutex<HashMap<Key, Window>>,
}

impl Throttle {
    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Before a pair's credentials are checked at `now`: throttled, or open (with the totals of
    /// its previous window when that ended with more than its first failure audited).
    pub(super) fn gate(&self, system_id: &str, source: Option<IpAddr>, now: DateTime<Utc>) -> Gate {
        let mut windows = self.windows();
        let key = (system_id.to_owned(), source);
        match windows.get_mut(&key) {
            Some(window) if now < window.ends() => {
                if window.failures >= LIMIT {
                    window.throttled = window.throttled.saturating_add(1);
                    Gate::Throttled { until: window.ends() }
                } else {
                    Gate::Open { ended: None }
                }
            }
            Some(_) => {
                let ended = windows.remove(&key).filter(|w| w.failures > 1 || w.throttled > 0);
                Gate::Open {
                    ended: ended.map(|w| Ended {
                        started: w.started,
                        failures: w.failures,
                        throttled: w.throttled,
                    }),
                }
            }
            None => Gate::Open { ended: None },
        }
    }

    /// Counts a failed check of a pair's credentials at `now`.
    pub(super) fn failed(&self, system_id: &str, source: Option<IpAddr>, now: DateTime<Utc>) -> Failure {
        let mut windows = self.windows();
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, window| now < window.ends());
        }
        let window = windows
            .entry((system_id.to_owned(), source))
            .and_modify(|window| {
                if now >= window.ends() {
                    *window = Window {
                        started: now,
                        failures: 0,
                        throttled: 0,
                    };
                }
            })
            .or_insert(Window {
                started: now,
                failures: 0,
                throttled: 0,
            });
        window.failures = window.failures.saturating_add(1);
        match window.failures {
            1 => Failure::First {
                started: window.started,
            },
            LIMIT => Failure::Limit {
                started: window.started,
                until: window.ends(),
            },
            _ => Failure::Counted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    const HERE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)));
    const THERE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8)));

    #[test]
    fn failures_throttle_the_pair_until_the_window_ends() {
        let throttle = Throttle::default();
        assert_eq!(
            throttle.failed("a", HERE, at(0)),
            Failure::First { started: at(0) }
        );
        for i in 2..LIMIT {
            assert_eq!(throttle.gate("a", HERE, at(i.into())), Gate::Open { ended: None });
            assert_eq!(throttle.failed("a", HERE, at(i.into())), Failure::Counted);
        }
        assert_eq!(
            throttle.failed("a", HERE, at(20)),
            Failure::Limit {
                started: at(0),
                until: at(WINDOW_SECONDS)
            }
        );
        for _ in 0..3 {
            assert_eq!(
                throttle.gate("a", HERE, at(WINDOW_SECONDS - 1)),
                Gate::Throttled {
                    until: at(WINDOW_SECONDS)
                }
            );
        }
        // Another address, another system: not throttled.
        assert_eq!(throttle.gate("a", THERE, at(30)), Gate::Open { ended: None });
        assert_eq!(throttle.gate("b", HERE, at(30)), Gate::Open { ended: None });
        // The window ends: open again, with what it saw.
        assert_eq!(
            throttle.gate("a", HERE, at(WINDOW_SECONDS)),
            Gate::Open {
                ended: Some(Ended {
                    started: at(0),
                    failures: LIMIT,
                    throttled: 3
                })
            }
        );
        assert_eq!(
            throttle.gate("a", HERE, at(WINDOW_SECONDS + 1)),
            Gate::Open { ended: None }
        );
    }

    #[test]
    fn a_single_failure_has_no_summary_and_successes_never_count() {
        let throttle = Throttle::default();
        for i in 0..1000 {
            assert_eq!(throttle.gate("a", HERE, at(i)), Gate::Open { ended: None });
        }
        throttle.failed("a", HERE, at(0));
        assert_eq!(
            throttle.gate("a", HERE, at(WINDOW_SECONDS)),
            Gate::Open { ended: None }
        );
        // A failure after a window ended without a gate in between starts a new window.
        throttle.failed("a", HERE, at(WINDOW_SECONDS + 10));
        assert_eq!(
            throttle.failed("a", HERE, at(3 * WINDOW_SECONDS)),
            Failure::First {
                started: at(3 * WINDOW_SECONDS)
            }
        );
    }
}
