//! Group commit for the intake (issue 17). Requests are authenticated, parsed, mapped and judged
//! in parallel on their own tasks; their writes then queue here, and a committer takes every
//! write waiting at that moment (at most `MAX_GROUP` writes, `MAX_GROUP_CASES` cases) into one
//! transaction — one fsync, and one batch of multi-row statements per system (`Store::commit_group`). Each request is
//! answered only after the commit that holds its writes, so nothing acknowledged can be lost;
//! under load, the requests that arrive while one group commits form the next group, and at no
//! load a lone request commits at once (no added wait).
//!
//! When a group's transaction does not commit, each of its writes is retried alone, so one
//! request cannot fail the others. SQLite has one writer, so one committer; PostgreSQL takes
//! several, as its connections write in parallel.
//!
//! Each group is logged at debug; each committer sums its groups up at info once a minute
//! (nothing when it committed nothing), instead of a line per request.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::store::{Backend, IntakeCommit, IntakeWrite, Store, StoreError};

/// Writes in one transaction at most.
const MAX_GROUP: usize = 64;
/// Cases in one transaction at most (a group stops growing past this).
const MAX_GROUP_CASES: usize = 2_000;
/// Writes that may wait for a committer; further requests wait to enqueue.
const QUEUE: usize = 1_024;
/// Committers on PostgreSQL.
const POSTGRES_COMMITTERS: usize = 4;
/// How often a committer sums up what it committed.
const SUMMARY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A write's answer: the write back (its cases, for the caller's results) and what it came to.
type Answer = oneshot::Sender<(IntakeWrite, Result<IntakeCommit, StoreError>)>;
/// A write waiting for its commit, and where its answer goes.
type Pending = (IntakeWrite, Answer);
type Queue = Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>;

/// The intake's writes of one store, committed in groups.
#[derive(Clone)]
pub struct GroupCommit {
    store: Store,
    /// Started on first use, in the runtime that uses it; restarted when that runtime is gone.
    sender: Arc<Mutex<Option<mpsc::Sender<Pending>>>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub fn new(store: Store) -> GroupCommit {
        GroupCommit {
            store,
            sender: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The queue's sender, starting the committers when there are none.
    fn sender(&self, restart: bool) -> mpsc::Sender<Pending> {
        let mut sender = self
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match sender.as_ref() {
            Some(existing) if !restart && !existing.is_closed() => existing.clone(),
            _ => {
                let (send, receive) = mpsc::channel(QUEUE);
                let queue: Queue = Arc::new(tokio::sync::Mutex::new(receive));
                let committers = match self.store.backend() {
                    Backend::Sqlite => 1,
                    Backend::Postgres => POSTGRES_COMMITTERS,
                };
                for _ in 0..committers {
                    tokio::spawn(commit_forever(self.store.clone(), queue.clone()));
                }
                *sender = Some(send.clone());
                send
            }
        }
    }

    /// Commits one request's writes with whatever else is waiting; answers after the commit,
    /// with the write given back.
    pub async fn commit(&self, write: IntakeWrite) -> Result<(IntakeCommit, IntakeWrite), StoreError> {
        let (answer, answered) = oneshot::channel();
        let (write, answer) = match self.sender(false).send((write, answer)).await {
            Ok(()) => return settled(answered).await,
            // The committers' runtime is gone (a store used from a new runtime): start new ones.
            Err(mpsc::error::SendError(pending)) => pending,
        };
        drop(answer);
        let (answer, answered) = oneshot::channel();
        if self.sender(true).send((write, answer)).await.is_err() {
            return Err(gone());
        }
        settled(answered).await
    }
}

/// The error of a write whose committer stopped before answering (its runtime shut down).
fn gone() -> StoreError {
    StoreError::Database(sqlx::Error::WorkerCrashed)
}

async fn settled(
    answered: oneshot::Receiver<(IntakeWrite, Result<IntakeCommit, StoreError>)>,
) -> Result<(IntakeCommit, IntakeWrite), StoreError> {
    let (write, result) = answered.await.map_err(|_| gone())?;
    Ok((result?, write))
}

/// Takes the writes waiting now, up to the bounds, after the first one.
async fn next_group(queue: &Queue) -> Option<Vec<Pending>> {
    let mut receiver = queue.lock().await;
    let first = receiver.recv().await?;
    let mut cases = first.0.cases.len();
    let mut group = vec![first];
    while group.len() < MAX_GROUP && cases < MAX_GROUP_CASES {
        match receiver.try_recv() {
            Ok(next) => {
                cases += next.0.cases.len();
                group.push(next);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// What a committer committed since its last summary.
#[derive(Debug, Default)]
struct Summary {
    groups: usize,
    writes: usize,
    cases: usize,
}

impl Summary {
    /// Logs the summary at info, if anything was committed, and starts a new one.
    fn flush(&mut self) {
        let Summary {
            groups,
            writes,
            cases,
        } = std::mem::take(self);
        if groups > 0 {
            tracing::info!(
                groups,
                writes,
                cases,
                seconds = SUMMARY_EVERY.as_secs(),
                "intake committed"
            );
        }
    }
}

async fn commit_forever(store: Store, queue: Queue) {
    let mut summary = Summary::default();
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // `next_group` is cancel safe: a group is taken without awaiting once its first write is.
        let group = tokio::select! {
            group = next_group(&queue) => group,
            _ = every.tick() => {
                summary.flush();
                continue;
            }
        };
        let Some(group) = group else {
            summary.flush();
            return;
        };
        let (writes, answers): (Vec<IntakeWrite>, Vec<Answer>) = group.into_iter().unzip();
        let results = match store.commit_group(&writes).await {
            Ok(commits) => commits.into_iter().map(Ok).collect(),
            Err(err) if writes.len() == 1 => vec![Err(err)],
            Err(err) => {
                tracing::warn!(writes = writes.len(), error = %err, "intake group did not commit; committing each alone");
                let mut results = Vec::with_capacity(writes.len());
                for write in &writes {
                    results.push(match store.commit_group(std::slice::from_ref(write)).await {
                        Ok(mut alone) => alone.pop().ok_or_else(gone),
                        Err(err) => Err(err),
                    });
                }
                results
            }
        };
        let (mut committed, mut cases) = (0, 0);
        for (write, result) in writes.iter().zip(&results) {
            if let Ok(IntakeCommit::Committed { .. }) = result {
                committed += 1;
                cases += write.cases.len();
            }
        }
        tracing::debug!(writes = writes.len(), committed, cases, "intake group committed");
        summary.groups += 1;
        summary.writes += committed;
        summary.cases += cases;
        for ((write, answer), result) in writes.into_iter().zip(answers).zip(results) {
            // The request may have gone (its client hung up); its writes stand.
            let _ = answer.send((write, result));
        }
    }
}
