//! A circuit breaker per system: after `threshold` consecutive failures it opens and refuses
//! calls for `open_for`; then one trial call decides whether it closes or opens again.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::AdapterError;

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is in flight; others are refused until it ends.
    HalfOpen,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value, consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a call may go to the system now.
    pub fn allow(&self, what: &str) -> Result<(), AdapterError> {
        let mut state = self.state();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen;
                Ok(())
            }
            State::Open { until } => Err(AdapterError::unavailable(format!(
                "{what}: circuit open after repeated failures; next try in {}s",
                until.saturating_duration_since(Instant::now()).as_secs() + 1
            ))),
            State::HalfOpen => Err(AdapterError::unavailable(format!(
                "{what}: circuit half-open, a trial call is in flight"
            ))),
        }
    }

    pub fn succeeded(&self) {
        *self.state() = State::Closed { failures: 0 };
    }

    pub fn failed(&self) {
        let mut state = self.state();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            _ => State::Open {
                until: Instant::now() + self.open_for,
            },
        };
    }
}
