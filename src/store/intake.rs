//! What one intake request writes, in one transaction (issue 17): the signed request's nonce,
//! its cases (versions, current rows, outbox items, through `CaseWrites::upsert_batch`) and the
//! quality items of its refused records — those refused before the store and those the store
//! refuses. Several requests commit together (`commit_group`): each in its own savepoint, so one
//! request's replayed nonce or failed statement rolls back that request alone, and one commit
//! (one fsync) acknowledges them all. The grouping itself is the intake's (`intake::commit`).
//!
//! `IntakeWrites` has one method per statement, stamped for SQLite's and PostgreSQL's
//! connections by `intake_statements!` (no logic), and the logic in its provided methods.

use chrono::{DateTime, Duration, Utc};
use sqlx::types::Json;

use super::case_writes::{Batch, CaseWrites};
use super::cases::{CHUNK_ROWS, Encoded};
use super::writeback::{NONCE_RETENTION_SECONDS, TAKE_NONCE};
use super::{NewQualityItem, RejectReason, Store, StoreError, UpsertOutcome, audit, on_pool};
use crate::case::Case;

/// Builds the quality item of a case the store refused: the case's index in `cases`, the case
/// and why. Only called for refused cases, so the record's JSON view is made only for them.
pub type OnReject = Box<dyn Fn(usize, &Case, &RejectReason) -> NewQualityItem + Send + Sync>;

/// One request's writes.
pub struct IntakeWrite {
    pub system_id: String,
    /// The signed request's nonce, taken in the same transaction (`None` for pulls).
    pub nonce: Option<String>,
    pub cases: Vec<Case>,
    pub mapping_version: Option<String>,
    /// Quality items of the records refused before the store.
    pub refused: Vec<NewQualityItem>,
    pub on_reject: OnReject,
    /// Who the quality items' audit events name.
    pub actor: String,
}

impl std::fmt::Debug for IntakeWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeWrite")
            .field("system_id", &self.system_id)
            .field("cases", &self.cases.len())
            .field("refused", &self.refused.len())
            .finish_non_exhaustive()
    }
}

/// What one request's writes came to.
#[derive(Debug, Clone)]
pub enum IntakeCommit {
    Committed {
        /// One per case, in order.
        outcomes: Vec<UpsertOutcome>,
        /// The queue ids of `refused`, in order.
        refused: Vec<i64>,
        /// Each case the store refused: its index, its quality item's id and the item.
        rejected: Vec<(usize, i64, NewQualityItem)>,
    },
    /// The nonce was taken before: nothing was written.
    Replayed,
}

/// The intake's statements, and the logic over them.
pub(crate) trait IntakeWrites: CaseWrites {
    /// Takes a nonce (see `TAKE_NONCE`): whether it was fresh.
    async fn take_nonce(
        &mut self,
        system_id: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error>;

    /// Inserts a quality item once per (system, record hash): its id, or `None` when it was queued
    /// before.
    async fn insert_quality_item(&mut self, item: &NewQualityItem) -> Result<Option<i64>, sqlx::Error>;

    /// The id of the item queued before for this record.
    async fn quality_item_id(&mut self, system_id: &str, record_hash: &str) -> Result<i64, sqlx::Error>;

    /// Queues refused records, each once; answers their ids in order. New items are audited.
    async fn queue_items(&mut self, items: &[NewQualityItem], actor: &str) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let id = match self.insert_quality_item(item).await? {
                Some(id) => {
                    let codes: Vec<&str> = item.reasons.iter().map(|r| r.code.as_str()).collect();
                    audit!(
                        self,
                        actor,
                        "quality.queue",
                        &format!("quality/{id}"),
                        serde_json::json!({ "system": item.system_id, "case_no": item.case_no, "version": item.version, "channel": item.channel, "reasons": codes })
                    )?;
                    id
                }
                None => self.quality_item_id(&item.system_id, &item.record_hash).await?,
            };
            ids.push(id);
        }
        Ok(ids)
    }

    /// One request's writes; answers whether anything was enqueued for the exchange too.
    async fn write_intake(&mut self, write: &IntakeWrite) -> Result<(IntakeCommit, bool), StoreError> {
        if let Some(nonce) = &write.nonce
            && !self.take_nonce(&write.system_id, nonce, Utc::now()).await?
        {
            return Ok((IntakeCommit::Replayed, false));
        }
        let mut outcomes = Vec::with_capacity(write.cases.len());
        let mut enqueued = false;
        for chunk in write.cases.chunks(CHUNK_ROWS) {
            let encoded = Encoded::of(chunk)?;
            let batch = Batch {
                system_id: &write.system_id,
                cases: chunk,
                encoded: &encoded,
                now: crate::systems::stamp(Utc::now()),
                mapping_version: write.mapping_version.as_deref(),
            };
            let (chunk_outcomes, chunk_enqueued) = self.upsert_batch(&batch).await?;
            outcomes.extend(chunk_outcomes);
            enqueued |= chunk_enqueued;
        }
        let refused = self.queue_items(&write.refused, &write.actor).await?;
        let rejected_items: Vec<(usize, NewQualityItem)> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, outcome)| match outcome {
                UpsertOutcome::Rejected { reason } => {
                    Some((i, (write.on_reject)(i, &write.cases[i], reason)))
                }
                _ => None,
            })
            .collect();
        let items: Vec<NewQualityItem> = rejected_items.iter().map(|(_, item)| item.clone()).collect();
        let ids = self.queue_items(&items, &write.actor).await?;
        let rejected = rejected_items
            .into_iter()
            .zip(ids)
            .map(|((i, item), id)| (i, id, item))
            .collect();
        Ok((
            IntakeCommit::Committed {
                outcomes,
                refused,
                rejected,
            },
            enqueued,
        ))
    }
}

/// Stamps out `IntakeWrites`' statements for a backend's connection (no logic: one statement
/// each, its binds).
macro_rules! intake_statements {
    ($conn:ty) => {
        impl IntakeWrites for $conn {
            async fn take_nonce(&mut self, system_id: &str, nonce: &str, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
                let taken = sqlx::query(TAKE_NONCE)
                    .bind(system_id)
                    .bind(nonce)
                    .bind(now)
                    .bind(now - Duration::seconds(NONCE_RETENTION_SECONDS))
                    .execute(&mut *self)
                    .await?;
                Ok(taken.rows_affected() == 1)
            }

            async fn insert_quality_item(&mut self, item: &NewQualityItem) -> Result<Option<i64>, sqlx::Error> {
                let inserted: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO quality_items (system_id, case_no, version, channel, record_hash, record, reasons,
                         mapping_version, received_at, status)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open')
                     ON CONFLICT (system_id, record_hash) DO NOTHING RETURNING id",
                )
                .bind(&item.system_id)
                .bind(&item.case_no)
                .bind(item.version)
                .bind(&item.channel)
                .bind(&item.record_hash)
                .bind(Json(&item.record))
                .bind(Json(&item.reasons))
                .bind(&item.mapping_version)
                .bind(item.received_at)
                .fetch_optional(&mut *self)
                .await?;
                Ok(inserted.map(|(id,)| id))
            }

            async fn quality_item_id(&mut self, system_id: &str, record_hash: &str) -> Result<i64, sqlx::Error> {
                let (id,): (i64,) = sqlx::query_as("SELECT id FROM quality_items WHERE system_id = $1 AND record_hash = $2")
                    .bind(system_id)
                    .bind(record_hash)
                    .fetch_one(&mut *self)
                    .await?;
                Ok(id)
            }
        }
    };
}
intake_statements!(sqlx::SqliteConnection);
intake_statements!(sqlx::PgConnection);

impl Store {
    /// Commits several requests' writes in one transaction, each in its own savepoint: one answer
    /// per write, in order. A write whose statements fail is rolled back alone and answered with
    /// its error; the outer error means the transaction itself did not commit (nothing of any
    /// write is stored: retry each alone).
    pub async fn commit_group(
        &self,
        writes: &[IntakeWrite],
    ) -> Result<Vec<Result<IntakeCommit, StoreError>>, StoreError> {
        let (answers, enqueued) = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let mut answers = Vec::with_capacity(writes.len());
            let mut enqueued = false;
            for write in writes {
                let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
                match IntakeWrites::write_intake(&mut *savepoint, write).await {
                    Ok((commit, queued)) => {
                        savepoint.commit().await?;
                        enqueued |= queued;
                        answers.push(Ok(commit));
                    }
                    Err(err) => {
                        savepoint.rollback().await?;
                        answers.push(Err(err));
                    }
                }
            }
            tx.commit().await?;
            (answers, enqueued)
        });
        if enqueued {
            super::outbox::wake_workers();
        }
        Ok(answers)
    }

    /// Queues refused records, each once per (system, record hash); answers their ids in order.
    pub async fn queue_quality_items(
        &self,
        items: &[NewQualityItem],
        actor: &str,
    ) -> Result<Vec<i64>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let ids = IntakeWrites::queue_items(&mut *tx, items, actor).await?;
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// Takes a nonce for a system: `true` the first time, `false` on any repeat while the nonce
    /// is younger than `NONCE_RETENTION_SECONDS`. One statement, served by the primary key:
    /// purging expired nonces is housekeeping's, never this call's. (A push takes its nonce in
    /// its commit, `commit_group`.)
    pub async fn take_nonce(
        &self,
        system_id: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            Ok(IntakeWrites::take_nonce(&mut *conn, system_id, nonce, now).await?)
        })
    }
}
