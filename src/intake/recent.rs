//! What every push reads before its records are judged — its system, its write-back config and
//! the published rules — kept per node for `FRESH_FOR` instead of read from the store on every
//! request (issue 17: without those three reads, single-record pushes at 32 clients run about
//! 1.3× as fast).
//!
//! - A change made through this process's store (API, console, a CLI command in the same
//!   process) is seen at once: each entry's key holds the store's `settings_revision`, which
//!   every such write raises.
//! - A change made by another node or process is seen within `FRESH_FOR`.
//! - Only what was found is kept: a system or config that is missing is read again each time,
//!   so attaching one takes effect at once everywhere.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::store::Store;

/// How long another node's change may take to reach this node's pushes.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Entries kept at most (one per system, per kind).
const CAPACITY: u64 = 10_000;

/// Values read from the store (each an `Arc`, cheap to hand out), by key, for at most
/// `FRESH_FOR`.
#[derive(Clone)]
pub(super) struct Recent<T: Send + Sync + 'static> {
    held: Cache<(String, u64), Arc<T>>,
}

impl<T: Send + Sync + 'static> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            held: Cache::builder()
                .time_to_live(FRESH_FOR)
                .max_capacity(CAPACITY)
                .build(),
        }
    }
}

impl<T: Send + Sync + 'static> Recent<T> {
    /// The value of `key` read less than `FRESH_FOR` ago with no change through `store` since,
    /// or what `read` answers now (kept when it is a value, not when it is an error).
    pub(super) async fn get<E>(
        &self,
        store: &Store,
        key: &str,
        read: impl Future<Output = Result<Arc<T>, E>>,
    ) -> Result<Arc<T>, E> {
        // Taken before reading: a change during the read leaves this entry under the old
        // revision, where no later lookup lands.
        let key = (key.to_owned(), store.settings_revision());
        if let Some(value) = self.held.get(&key).await {
            return Ok(value);
        }
        let value = read.await?;
        self.held.insert(key, value.clone()).await;
        Ok(value)
    }
}
