//! What intake requests write, in one transaction (issue 17): each signed request's nonce, its
//! cases (versions, current rows, outbox items, through `CaseWrites::upsert_batch`) and the
//! quality items of its refused records — those refused before the store and those the store
//! refuses. Several requests commit together (`commit_group`): their nonces are taken in one
//! statement (a replayed request writes nothing), then their cases go in as one batch per system and
//! mapping version — multi-row statements over the whole group, in the requests' order, which
//! `cases::plan` classifies exactly as if each request had come alone —, then their quality
//! items; one commit (one fsync) acknowledges them all. The grouping itself is the intake's
//! (`intake::commit`); when a group fails, it commits each request alone, so one request's
//! failure is its own.
//!
//! `IntakeWrites` has one method per statement, stamped for SQLite's and PostgreSQL's
//! connections by `intake_statements!` (no logic), and the logic in its provided methods.

use chrono::{DateTime, Duration, Utc};
use sqlx::types::Json;

use super::case_writes::{Batch, CaseWrites};
use super::cases::{CHUNK_ROWS, Encoded};
use super::sealing::{Sealing, record_purpose};
use super::writeback::{NONCE_RETENTION_SECONDS, take_nonces_sql};
use super::{NewQualityItem, RejectReason, Store, StoreError, UpsertOutcome, audit, on_pool};
use crate::case::Case;

/// Builds the quality item of a case the store refused: the case's index in `cases`, the case
/// and why. Only called for refused cases, so the record's JSON view is made only for them.
pub type OnReject = Box<dyn Fn(usize, &Case, &RejectReason) -> NewQualityItem + Send + Sync>;

/// The cases of a group that go in as one batch: their system and mapping version.
type BatchKey<'a> = (&'a str, Option<&'a str>);

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
    /// Takes each of `nonces` (system, nonce; each pair at most once, see `take_nonces_sql`):
    /// the pairs that were fresh.
    async fn take_nonces(
        &mut self,
        nonces: &[(&str, &str)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, sqlx::Error>;

    /// Inserts a quality item once per (system, record hash): its id, or `None` when it was queued
    /// before.
    /// `record` is the item's record as stored (sealed under `sealed_by`, or clear).
    async fn insert_quality_item(
        &mut self,
        item: &NewQualityItem,
        record: &serde_json::Value,
        sealed_by: Option<&str>,
    ) -> Result<Option<i64>, sqlx::Error>;

    /// The id of the item queued before for this record.
    async fn quality_item_id(&mut self, system_id: &str, record_hash: &str) -> Result<i64, sqlx::Error>;

    /// Queues refused records, each once, their records sealed by `sealing`; answers their ids
    /// in order. New items are audited.
    async fn queue_items(
        &mut self,
        items: &[NewQualityItem],
        actor: &str,
        sealing: &Sealing,
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let record =
                sealing.seal_record(&record_purpose(&item.system_id, &item.record_hash), &item.record)?;
            let id = match self
                .insert_quality_item(item, &record, sealing.active_key())
                .await?
            {
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

    /// Several requests' writes; answers one `IntakeCommit` per write, in order, and whether
    /// anything was enqueued for the exchange.
    async fn write_group(
        &mut self,
        writes: &[IntakeWrite],
        sealing: &Sealing,
    ) -> Result<(Vec<IntakeCommit>, bool), StoreError> {
        // Every write's nonce in one statement; a nonce two writes of the group carry is taken
        // by the first of them, and the other is a replay.
        let mut asked: Vec<(&str, &str)> = Vec::new();
        for write in writes {
            if let Some(nonce) = &write.nonce {
                let pair = (write.system_id.as_str(), nonce.as_str());
                if !asked.contains(&pair) {
                    asked.push(pair);
                }
            }
        }
        let mut fresh: std::collections::HashSet<(String, String)> = if asked.is_empty() {
            Default::default()
        } else {
            self.take_nonces(&asked, Utc::now()).await?.into_iter().collect()
        };
        let mut live = Vec::with_capacity(writes.len());
        for (w, write) in writes.iter().enumerate() {
            let replayed = write
                .nonce
                .as_ref()
                .is_some_and(|nonce| !fresh.remove(&(write.system_id.clone(), nonce.clone())));
            if !replayed {
                live.push(w);
            }
        }
        // The live writes' cases, one batch per (system, mapping version), in the writes' order.
        let mut outcomes: Vec<Vec<UpsertOutcome>> =
            writes.iter().map(|w| Vec::with_capacity(w.cases.len())).collect();
        let mut enqueued = false;
        let mut batches: Vec<(BatchKey<'_>, Vec<usize>)> = Vec::new();
        for &w in &live {
            let key = (writes[w].system_id.as_str(), writes[w].mapping_version.as_deref());
            match batches.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(w),
                None => batches.push((key, vec![w])),
            }
        }
        for ((system_id, mapping_version), members) in batches {
            let (merged, owners): (Vec<Case>, Vec<usize>) = if let [only] = members[..] {
                (Vec::new(), vec![only; writes[only].cases.len()])
            } else {
                members
                    .iter()
                    .flat_map(|&w| writes[w].cases.iter().map(move |case| (case.clone(), w)))
                    .unzip()
            };
            let cases = if let [only] = members[..] {
                &writes[only].cases[..]
            } else {
                &merged[..]
            };
            for (chunk, chunk_owners) in cases.chunks(CHUNK_ROWS).zip(owners.chunks(CHUNK_ROWS)) {
                let encoded = Encoded::of(system_id, chunk, sealing)?;
                let batch = Batch {
                    system_id,
                    cases: chunk,
                    encoded: &encoded,
                    now: crate::systems::stamp(Utc::now()),
                    mapping_version,
                };
                let (chunk_outcomes, chunk_enqueued) = self.upsert_batch(&batch).await?;
                enqueued |= chunk_enqueued;
                for (outcome, &w) in chunk_outcomes.into_iter().zip(chunk_owners) {
                    outcomes[w].push(outcome);
                }
            }
        }
        let mut commits: Vec<IntakeCommit> = vec![IntakeCommit::Replayed; writes.len()];
        for &w in &live {
            let write = &writes[w];
            let outcomes = std::mem::take(&mut outcomes[w]);
            let refused = self.queue_items(&write.refused, &write.actor, sealing).await?;
            let (rejected_at, items): (Vec<usize>, Vec<NewQualityItem>) = outcomes
                .iter()
                .enumerate()
                .filter_map(|(i, outcome)| match outcome {
                    UpsertOutcome::Rejected { reason } => {
                        Some((i, (write.on_reject)(i, &write.cases[i], reason)))
                    }
                    _ => None,
                })
                .unzip();
            let ids = self.queue_items(&items, &write.actor, sealing).await?;
            let rejected = rejected_at
                .into_iter()
                .zip(ids)
                .zip(items)
                .map(|((i, id), item)| (i, id, item))
                .collect();
            commits[w] = IntakeCommit::Committed {
                outcomes,
                refused,
                rejected,
            };
        }
        Ok((commits, enqueued))
    }
}

/// Stamps out `IntakeWrites`' statements for a backend's connection (no logic: one statement
/// each, its binds).
macro_rules! intake_statements {
    ($conn:ty) => {
        impl IntakeWrites for $conn {
            async fn take_nonces(
                &mut self,
                nonces: &[(&str, &str)],
                now: DateTime<Utc>,
            ) -> Result<Vec<(String, String)>, sqlx::Error> {
                let sql = sqlx::AssertSqlSafe(take_nonces_sql(nonces.len()));
                let query = sqlx::query_as(sql)
                    .bind(now)
                    .bind(now - Duration::seconds(NONCE_RETENTION_SECONDS));
                nonces
                    .iter()
                    .fold(query, |query, (system_id, nonce)| query.bind(*system_id).bind(*nonce))
                    .fetch_all(&mut *self)
                    .await
            }

            async fn insert_quality_item(
                &mut self,
                item: &NewQualityItem,
                record: &serde_json::Value,
                sealed_by: Option<&str>,
            ) -> Result<Option<i64>, sqlx::Error> {
                let inserted: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO quality_items (system_id, case_no, version, channel, record_hash, record, reasons,
                         mapping_version, received_at, status, sealed_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10)
                     ON CONFLICT (system_id, record_hash) DO NOTHING RETURNING id",
                )
                .bind(&item.system_id)
                .bind(&item.case_no)
                .bind(item.version)
                .bind(&item.channel)
                .bind(&item.record_hash)
                .bind(Json(record))
                .bind(Json(&item.reasons))
                .bind(&item.mapping_version)
                .bind(item.received_at)
                .bind(sealed_by)
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
    /// Commits several requests' writes in one transaction: one answer per write, in order. An
    /// error means nothing of any write is stored; commit each alone to learn whose it is.
    pub async fn commit_group(&self, writes: &[IntakeWrite]) -> Result<Vec<IntakeCommit>, StoreError> {
        let (commits, enqueued) = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let written = IntakeWrites::write_group(&mut *tx, writes, &self.sealing).await?;
            tx.commit().await?;
            written
        });
        if enqueued {
            super::outbox::wake_workers();
        }
        Ok(commits)
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
            let ids = IntakeWrites::queue_items(&mut *tx, items, actor, &self.sealing).await?;
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
            let taken = IntakeWrites::take_nonces(&mut *conn, &[(system_id, nonce)], now).await?;
            Ok(!taken.is_empty())
        })
    }
}
