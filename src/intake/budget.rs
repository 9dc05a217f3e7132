//! How many bytes of pushed bodies the intake works on at once (issue 17, bounded memory). A
//! push holds its body's weight, from before its body is read until its answer is built; a push
//! that does not fit waits its turn (first come, first served) and is never refused for it. So a
//! burst of large pushes costs at most the budget's worth of bodies being parsed, mapped and
//! committed at a time, whatever the number of clients.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget of a node whose config does not set `writeback_bytes_in_flight`: eight 1 MiB
/// pushes at once, or some thousands of small ones.
pub const DEFAULT_BYTES: usize = 8 * 1024 * 1024;

/// Permits are counted in KiB, so that any budget fits the semaphore's `u32` requests.
const UNIT: usize = 1024;

/// The bytes of bodies in flight, shared by every write-back route of a node.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    units: u32,
}

/// A body's share of the budget, given back when dropped.
#[derive(Debug)]
pub struct Held {
    _permit: OwnedSemaphorePermit,
}

impl BodyBudget {
    /// A budget of `bytes` (rounded up to whole KiB, at least one).
    pub fn new(bytes: usize) -> BodyBudget {
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX).max(1);
        BodyBudget {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// The budget, in bytes.
    pub fn bytes(&self) -> usize {
        self.units as usize * UNIT
    }

    /// Waits until a body of `length` bytes fits, and holds its share. A body of unknown length
    /// (chunked) or larger than the whole budget holds all of it: it runs alone, never refused.
    pub async fn hold(&self, length: Option<usize>) -> Held {
        let units = length.map_or(self.units, |bytes| {
            u32::try_from(bytes.div_ceil(UNIT))
                .unwrap_or(u32::MAX)
                .clamp(1, self.units)
        });
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(units)
            .await
            // Invariant: the semaphore is never closed, and `units` never exceeds its size.
            .expect("the body budget's semaphore is never closed");
        Held { _permit: permit }
    }
}

impl Default for BodyBudget {
    fn default() -> Self {
        BodyBudget::new(DEFAULT_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn a_body_waits_until_the_bodies_before_it_are_done() {
        let budget = BodyBudget::new(4 * 1024);
        let first = budget.hold(Some(3 * 1024)).await;
        // 1 KiB fits beside the first; 2 KiB does not, until the first is given back.
        let small = budget.hold(Some(1024)).now_or_never().expect("fits");
        let mut waiting = Box::pin(budget.hold(Some(2 * 1024)));
        assert!((&mut waiting).now_or_never().is_none());
        drop(small);
        assert!((&mut waiting).now_or_never().is_none(), "1 KiB free, 2 KiB asked");
        drop(first);
        assert!(waiting.now_or_never().is_some());
    }

    #[tokio::test]
    async fn a_body_larger_than_the_budget_runs_alone_instead_of_waiting_forever() {
        let budget = BodyBudget::new(2 * 1024);
        let huge = budget
            .hold(Some(10 * 1024 * 1024))
            .now_or_never()
            .expect("alone, it runs");
        assert!(budget.hold(Some(1)).now_or_never().is_none());
        drop(huge);
        let unknown = budget.hold(None).now_or_never().expect("alone, it runs");
        assert!(budget.hold(Some(1)).now_or_never().is_none());
        drop(unknown);
        assert!(budget.hold(Some(0)).now_or_never().is_some());
    }
}
