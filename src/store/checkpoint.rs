//! SQLite's write-ahead log copied back into the database file off the commit path (issue 17).
//!
//! By default the connection whose commit takes the log past 1,000 pages copies the log into the
//! database file and syncs it before its commit returns: every few group commits of the intake
//! stalled behind a checkpoint, and a page changed by every commit (an index's inner pages) was
//! copied once per checkpoint. A SQLite store instead gets one task with a connection of its own
//! that runs a `PASSIVE` checkpoint every `CHECKPOINT_EVERY`: it copies what no reader still
//! needs while writers go on appending, and never blocks them. The pool's connections keep
//! `wal_autocheckpoint` as a safety net at `WRITER_CHECKPOINT_PAGES`, so the log stays bounded
//! if the task falls behind. Durability is unchanged: a commit is durable once its frames are in
//! the synced log (`synchronous = FULL`), before any checkpoint.

use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::task::JoinHandle;

/// How often the store's checkpointer copies the log into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Log pages after which a writing connection checkpoints by itself (SQLite's default is 1,000):
/// only reached when the checkpointer falls behind.
pub const WRITER_CHECKPOINT_PAGES: u32 = 20_000;

/// The running checkpointer of one store; stopped when the last clone of its store is dropped
/// or the store is closed.
#[derive(Debug)]
pub(super) struct Checkpointer {
    task: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database `options` open, on a connection of its own. A database
    /// in memory has no log: nothing to start.
    pub(super) fn start(options: &SqliteConnectOptions) -> Option<Checkpointer> {
        let file = options.get_filename().to_string_lossy();
        if file.is_empty() || file.contains(":memory:") {
            return None;
        }
        let options = options.clone();
        let task = tokio::spawn(async move {
            let mut connection = match options.connect().await {
                Ok(connection) => connection,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "cannot open the checkpointer's connection; writers checkpoint the log themselves"
                    );
                    return;
                }
            };
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Said once when checkpoints start failing and once when they work again.
            let mut failing = false;
            loop {
                every.tick().await;
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut connection)
                    .await
                {
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!("checkpoints of the write-ahead log work again");
                    }
                    Ok(_) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(
                            error = %e,
                            "checkpoint of the write-ahead log failed; retrying every {CHECKPOINT_EVERY:?}"
                        );
                    }
                    Err(_) => {}
                }
            }
        });
        Some(Checkpointer { task })
    }

    /// Stops the task; its connection closes with it.
    pub(super) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
