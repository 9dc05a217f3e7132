//! Faults a simulator can be told to inject, for resilience tests and demos: slow answers,
//! server errors, and garbage or cut-off bodies. Shared by every simulator.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

/// What to do to the next requests. Counters count down as requests consume them.
#[derive(Debug, Default)]
pub struct Faults {
    delay_ms: AtomicU64,
    server_errors: AtomicU32,
    garbage: AtomicU32,
    truncated: AtomicU32,
}

/// A fault plan, as `POST /__sim/faults` takes it.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Delay before every answer.
    pub delay_ms: u64,
    /// The next N requests get HTTP 503.
    pub server_errors: u32,
    /// The next N requests get a body that is not the protocol's format.
    pub garbage: u32,
    /// The next N requests get a body cut off halfway.
    pub truncated: u32,
}

/// The fault to apply to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ServerError,
    Garbage,
    Truncated,
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Faults {
    pub fn set(&self, plan: FaultPlan) {
        self.delay_ms.store(plan.delay_ms, Ordering::SeqCst);
        self.server_errors.store(plan.server_errors, Ordering::SeqCst);
        self.garbage.store(plan.garbage, Ordering::SeqCst);
        self.truncated.store(plan.truncated, Ordering::SeqCst);
    }

    /// Waits the configured delay, then says which fault (if any) this request gets.
    pub async fn next(&self) -> Option<Fault> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if take(&self.server_errors) {
            Some(Fault::ServerError)
        } else if take(&self.garbage) {
            Some(Fault::Garbage)
        } else if take(&self.truncated) {
            Some(Fault::Truncated)
        } else {
            None
        }
    }
}
