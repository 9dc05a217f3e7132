//! Bulk-migration runs and their chunks (全量迁移). A chunk's cases (with their exchange outbox
//! entries), its rejected records (quality queue, multi-row statements, one audit event per
//! chunk) and its checkpoint are committed in one transaction: a run killed at any moment
//! resumes from the last committed watermark with nothing lost and nothing written twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use super::case_writes::{Batch, CaseWrites};
use super::cases::{CHUNK_ROWS, Encoded, StoredVersion};
use super::lease::{Expiry, LeaseTable, Leases as _, Take, TakeArg};
use super::sealing::record_purpose;
use super::{NewQualityItem, Pool, RejectReason, Store, StoreError, UpsertOutcome, audit, on_pool};
use crate::case::{Case, Serialised};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum RunState {
    /// Reading and writing chunks (or killed while doing so: resume it).
    Running,
    /// Stopped by its error budget; resumable once the budget or the source is fixed.
    Stopped,
    /// Stopped by an error (source, store); resumable.
    Failed,
    /// Every chunk written and reconciliation found no difference.
    Complete,
    /// Every chunk written but reconciliation found differences.
    Incomplete,
}

impl RunState {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The zh-CN name, for the console.
    pub fn label(self) -> &'static str {
        match self {
            RunState::Running => "进行中",
            RunState::Stopped => "已停止（超出差错预算）",
            RunState::Failed => "失败（可续跑）",
            RunState::Complete => "已完成",
            RunState::Incomplete => "已完成，对账有差异",
        }
    }

    pub fn parse(text: &str) -> Option<RunState> {
        text.parse().ok()
    }

    /// Whether `migrate resume` can continue it.
    pub fn resumable(self) -> bool {
        matches!(self, RunState::Running | RunState::Stopped | RunState::Failed)
    }
}

/// One run of a system's migration job.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MigrationRun {
    pub id: String,
    pub system_id: String,
    pub job_path: String,
    pub mapping_version: String,
    pub state: RunState,
    pub message: Option<String>,
    /// The source checkpoint after the last committed chunk.
    pub watermark: Option<String>,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_rejected: i64,
    pub chunks: i64,
    /// Rows the source held when the run started, where the adapter could count them.
    pub source_rows: Option<i64>,
    /// Differences found by reconciliation, once it ran.
    pub differences: Option<i64>,
    pub report_json_path: Option<String>,
    pub report_md_path: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The process carrying the run (`host:pid:nonce`), if one holds it.
    pub owner: Option<String>,
}

/// A committed chunk (its `migration_chunks` row).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct ChunkRecord {
    pub seq: i64,
    pub from_watermark: Option<String>,
    pub to_watermark: Option<String>,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_rejected: i64,
    pub source_hash: String,
    pub target_hash: Option<String>,
    pub committed_at: DateTime<Utc>,
}

/// A chunk to commit: its mapped cases, the records refused before the store, and where the
/// source stands after it.
#[derive(Debug)]
pub struct NewChunk<'a> {
    pub seq: i64,
    pub from_watermark: Option<&'a str>,
    pub to_watermark: Option<&'a str>,
    pub rows_read: i64,
    pub cases: &'a [Case],
    /// Each case's canonical JSON and content hash, in the order of `cases`.
    pub serialised: Vec<Serialised>,
    pub rejects: Vec<NewQualityItem>,
    pub source_hash: &'a str,
}

/// What committing a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkCounts {
    pub written: i64,
    pub rejected: i64,
}

/// The result of reconciliation, to record on the run.
#[derive(Debug)]
pub struct RunFinish<'a> {
    pub state: RunState,
    pub message: &'a str,
    pub differences: i64,
    pub report: &'a serde_json::Value,
    pub report_json_path: &'a str,
    pub report_md_path: &'a str,
    /// The store-side hash of each chunk, by sequence number.
    pub target_hashes: &'a [(i64, String)],
}

const RUN_COLUMNS: &str = "id, system_id, job_path, mapping_version, state, message, watermark, rows_read, \
     rows_written, rows_rejected, chunks, source_rows, differences, report_json_path, report_md_path, started_at, \
     updated_at, finished_at, owner";

/// A `migration_runs` row as stored.
#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    system_id: String,
    job_path: String,
    mapping_version: String,
    state: String,
    message: Option<String>,
    watermark: Option<String>,
    rows_read: i64,
    rows_written: i64,
    rows_rejected: i64,
    chunks: i64,
    source_rows: Option<i64>,
    differences: Option<i64>,
    report_json_path: Option<String>,
    report_md_path: Option<String>,
    started_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    owner: Option<String>,
}

fn run(row: RunRow) -> Result<MigrationRun, StoreError> {
    let state = RunState::parse(&row.state).ok_or_else(|| StoreError::Corrupt {
        what: "migration run",
        detail: format!("run {} has state {:?}", row.id, row.state),
    })?;
    Ok(MigrationRun {
        id: row.id,
        system_id: row.system_id,
        job_path: row.job_path,
        mapping_version: row.mapping_version,
        state,
        message: row.message,
        watermark: row.watermark,
        rows_read: row.rows_read,
        rows_written: row.rows_written,
        rows_rejected: row.rows_rejected,
        chunks: row.chunks,
        source_rows: row.source_rows,
        differences: row.differences,
        report_json_path: row.report_json_path,
        report_md_path: row.report_md_path,
        started_at: row.started_at,
        updated_at: row.updated_at,
        finished_at: row.finished_at,
        owner: row.owner,
    })
}

/// A run, leased to the process that carries it (`owner`, see `migration::lease`) while it
/// moves (`updated_at`: each chunk, or a renewal while reconciling). A take resumes a run that
/// is not finished, from no holder, a stale one (`$4`: moved last before the staleness bound),
/// itself, or one known to be gone (`$5`); only a running run is renewed or released.
const RUNS: LeaseTable = LeaseTable {
    table: "migration_runs",
    key: "id",
    owner: "owner",
    expiry: Expiry::Heartbeat("updated_at"),
    taken: "id",
    take_when: "state IN ('running', 'stopped', 'failed')",
    take_over: "owner = $2 OR owner = $5",
    held_when: "state = 'running'",
};

/// A process carrying a run (see `migration::lease`): the run, the holder's lease name, and who
/// acts, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    pub run_id: &'a str,
    pub owner: &'a str,
    pub actor: &'a str,
}

/// A run to start: the system, its job and mapping, the source's size where known, the
/// process that carries it, who acts, and the reason when forced past the system's verdict.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    pub system_id: &'a str,
    pub job_path: &'a str,
    pub mapping_version: &'a str,
    pub source_rows: Option<i64>,
    pub owner: &'a str,
    pub actor: &'a str,
    pub forced_reason: Option<&'a str>,
}

/// What the store holds for one system (see `Store::held_counts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct HeldCounts {
    pub cases: i64,
    pub versions: i64,
    pub outbox: i64,
}

impl Store {
    /// Starts a run of `system_id`'s migration job from the source's first record.
    pub async fn start_migration(&self, new: NewRun<'_>) -> Result<MigrationRun, StoreError> {
        let NewRun {
            system_id,
            job_path,
            mapping_version,
            source_rows,
            owner,
            actor,
            forced_reason,
        } = new;
        self.get_system(system_id).await?;
        let id = super::random_id("mig")?;
        let now = self.clock().await?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            sqlx::query(
                "INSERT INTO migration_runs (id, system_id, job_path, mapping_version, state, source_rows, started_at, updated_at, owner)
                 VALUES ($1, $2, $3, $4, 'running', $5, $6, $6, $7)",
            )
            .bind(&id)
            .bind(system_id)
            .bind(job_path)
            .bind(mapping_version)
            .bind(source_rows)
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "migration.start", &format!("migration/{id}"),
                serde_json::json!({ "system": system_id, "job": job_path, "mapping_version": mapping_version, "forced_reason": forced_reason }))?;
            tx.commit().await?;
        });
        self.migration_run(&id).await
    }

    pub async fn migration_run(&self, id: &str) -> Result<MigrationRun, StoreError> {
        let row: Option<RunRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM migration_runs WHERE id = $1"));
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        row.map(run).transpose()?.ok_or_else(|| StoreError::NotFound {
            what: "migration run",
            id: id.to_owned(),
        })
    }

    /// The system's latest run, if it ever had one.
    pub async fn latest_migration(&self, system_id: &str) -> Result<Option<MigrationRun>, StoreError> {
        let row: Option<RunRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM migration_runs WHERE system_id = $1 ORDER BY started_at DESC, id DESC LIMIT 1"
            ));
            sqlx::query_as(sql).bind(system_id).fetch_optional(pool).await?
        });
        row.map(run).transpose()
    }

    /// Every run of the system, newest first (the system's runs are few: one unfinished at a
    /// time, each the whole history of one job).
    pub async fn migration_runs(&self, system_id: &str) -> Result<Vec<MigrationRun>, StoreError> {
        let rows: Vec<RunRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM migration_runs WHERE system_id = $1 ORDER BY started_at DESC, id DESC"
            ));
            sqlx::query_as(sql).bind(system_id).fetch_all(pool).await?
        });
        rows.into_iter().map(run).collect()
    }

    /// A run's saved report (JSON), once reconciliation wrote one.
    pub async fn migration_report(&self, run_id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let row: Option<(Option<Json<serde_json::Value>>,)> = self
            .row_by_key("SELECT report FROM migration_runs WHERE id = $1", run_id)
            .await?;
        Ok(row.and_then(|(report,)| report.map(|Json(r)| r)))
    }

    /// Takes the lease of a resumable run for `owner` and sets it running, audited. It is taken
    /// when no process holds it, when `owner` already does, when its holder is `gone` (a process
    /// known to have ended), or when the run has not moved since `stale_before`. `false`: another
    /// holder keeps it.
    pub async fn claim_migration(
        &self,
        run_id: &str,
        owner: &str,
        gone: Option<&str>,
        stale_before: DateTime<Utc>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let now = self.clock().await?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let take = Take {
                key: run_id,
                owner,
                lease: now,
                expired_before: stale_before,
                arg: TakeArg::Holder(gone),
            };
            let claimed = tx.take::<(String,)>(&RUNS, take).await?.is_some();
            if claimed {
                sqlx::query("UPDATE migration_runs SET state = 'running', message = 'resumed' WHERE id = $1")
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await?;
                audit!(tx, actor, "migration.state", &format!("migration/{run_id}"),
                    serde_json::json!({ "state": "running", "message": "resumed", "owner": owner, "taken_from": gone }))?;
            }
            tx.commit().await?;
            Ok(claimed)
        })
    }

    /// Marks the holder's lease as alive (reconciliation commits no chunks). `false`: the
    /// lease is lost.
    pub async fn renew_migration(&self, holder: Holder<'_>) -> Result<bool, StoreError> {
        let Holder { run_id, owner, .. } = holder;
        let now = self.clock().await?;
        let renewed = on_pool!(self, pool => pool.acquire().await?.renew(&RUNS, run_id, owner, now).await?);
        Ok(renewed)
    }

    /// Stops the holder's run in `state` (stopped or failed) with why, and gives up its lease,
    /// audited. `false`: the holder no longer holds the run, which is left to whoever does.
    pub async fn release_migration(
        &self,
        holder: Holder<'_>,
        state: RunState,
        message: &str,
    ) -> Result<bool, StoreError> {
        let Holder { run_id, owner, actor } = holder;
        let now = self.clock().await?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let released = tx.release(&RUNS, run_id, owner).await?;
            if released {
                sqlx::query("UPDATE migration_runs SET state = $2, message = $3, updated_at = $4 WHERE id = $1")
                    .bind(run_id)
                    .bind(state.name())
                    .bind(message)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                audit!(tx, actor, "migration.state", &format!("migration/{run_id}"),
                    serde_json::json!({ "state": state.name(), "message": message }))?;
            }
            tx.commit().await?;
            Ok(released)
        })
    }

    /// Commits one chunk in one transaction: its cases (upserted as intake does, enqueued for the
    /// exchange), its rejected records and those the store refuses (`refused` turns a store refusal
    /// of `chunk.cases[i]` into a quality item), the chunk row and the run's checkpoint and counts.
    /// Nothing is written unless the run is still `running` and the holder holds it: `None` then.
    pub async fn commit_migration_chunk(
        &self,
        holder: Holder<'_>,
        system_id: &str,
        mapping_version: &str,
        chunk: NewChunk<'_>,
        refused: impl Fn(usize, &RejectReason) -> NewQualityItem,
    ) -> Result<Option<ChunkCounts>, StoreError> {
        let Holder { run_id, owner, actor } = holder;
        let mut serialised = chunk.serialised.into_iter();
        let encoded: Vec<Encoded<'_>> = chunk
            .cases
            .chunks(CHUNK_ROWS)
            .map(|cases| {
                let part = serialised.by_ref().take(cases.len()).collect();
                Encoded::with(system_id, cases, part, &self.sealing)
            })
            .collect::<Result<_, _>>()?;
        let now = crate::systems::stamp(self.clock().await?);
        let backend = self.backend();
        let mut counts = ChunkCounts::default();
        let mut enqueued_any = false;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            if !tx.renew(&RUNS, run_id, owner, now).await? {
                return Ok(None);
            }
            let mut rejects = chunk.rejects;
            for (part, (cases, encoded)) in chunk.cases.chunks(CHUNK_ROWS).zip(&encoded).enumerate() {
                let batch = Batch { system_id, cases, encoded, now, mapping_version: Some(mapping_version) };
                let (outcomes, enqueued) = CaseWrites::upsert_batch(&mut *tx, &batch).await?;
                enqueued_any |= enqueued;
                for (i, outcome) in outcomes.iter().enumerate() {
                    match outcome {
                        UpsertOutcome::Rejected { reason } => rejects.push(refused(part * CHUNK_ROWS + i, reason)),
                        _ => counts.written += 1,
                    }
                }
            }
            // Rejects in multi-row statements (a bad history can reject many): one audit event
            // for the chunk's queued items instead of one per item.
            let mut queued = 0;
            for part in rejects.chunks(CHUNK_ROWS) {
                let records = part
                    .iter()
                    .map(|item| self.sealing.seal_record(&record_purpose(&item.system_id, &item.record_hash), &item.record))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO quality_items (system_id, case_no, version, channel, record_hash, record, reasons,
                         mapping_version, received_at, status, sealed_by) ",
                );
                insert.push_values(part.iter().zip(&records), |mut row, (item, record)| {
                    row.push_bind(&item.system_id)
                        .push_bind(&item.case_no)
                        .push_bind(item.version)
                        .push_bind(&item.channel)
                        .push_bind(&item.record_hash)
                        .push_bind(Json(record))
                        .push_bind(Json(&item.reasons))
                        .push_bind(&item.mapping_version)
                        .push_bind(item.received_at)
                        .push_bind("open")
                        .push_bind(self.sealing.active_key());
                });
                insert.push(" ON CONFLICT (system_id, record_hash) DO NOTHING");
                queued += insert.build().execute(&mut *tx).await?.rows_affected();
            }
            if !rejects.is_empty() {
                let mut codes: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
                for reason in rejects.iter().flat_map(|i| &i.reasons) {
                    *codes.entry(reason.code.as_str()).or_default() += 1;
                }
                audit!(tx, actor, "quality.queue", &format!("migration/{run_id}/{}", chunk.seq),
                    serde_json::json!({ "system": system_id, "channel": rejects.first().map(|i| i.channel.as_str()), "rejected": rejects.len(), "queued": queued, "reasons": codes }))?;
            }
            counts.rejected = i64::try_from(rejects.len()).unwrap_or(i64::MAX);
            sqlx::query(
                "INSERT INTO migration_chunks (run_id, seq, from_watermark, to_watermark, rows_read, rows_written,
                     rows_rejected, source_hash, committed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(run_id)
            .bind(chunk.seq)
            .bind(chunk.from_watermark)
            .bind(chunk.to_watermark)
            .bind(chunk.rows_read)
            .bind(counts.written)
            .bind(counts.rejected)
            .bind(chunk.source_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE migration_runs SET watermark = COALESCE($2, watermark), rows_read = rows_read + $3,
                     rows_written = rows_written + $4, rows_rejected = rows_rejected + $5, chunks = $6
                 WHERE id = $1",
            )
            .bind(run_id)
            .bind(chunk.to_watermark)
            .bind(chunk.rows_read)
            .bind(counts.written)
            .bind(counts.rejected)
            .bind(chunk.seq)
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, "migration.chunk", &format!("migration/{run_id}"),
                serde_json::json!({ "seq": chunk.seq, "rows": chunk.rows_read, "written": counts.written, "rejected": counts.rejected, "watermark": chunk.to_watermark }))?;
            tx.commit().await?;
        });
        if enqueued_any {
            super::outbox::wake_workers();
        }
        Ok(Some(counts))
    }

    /// A run's committed chunks, in order.
    pub async fn migration_chunks(&self, run_id: &str) -> Result<Vec<ChunkRecord>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT seq, from_watermark, to_watermark, rows_read, rows_written, rows_rejected, source_hash,
                     target_hash, committed_at
                 FROM migration_chunks WHERE run_id = $1 ORDER BY seq",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The stored versions of these cases, for reconciliation.
    pub async fn stored_versions(
        &self,
        system_id: &str,
        case_nos: &[&str],
    ) -> Result<Vec<StoredVersion>, StoreError> {
        self.rows_of_cases(
            ("case_versions", "t.case_no, t.version, t.content_hash"),
            system_id,
            case_nos,
        )
        .await
    }

    /// Refreshes the planner's statistics of the case tables (PostgreSQL `ANALYZE`). Until the
    /// autovacuum first analyzes them (it looks once a minute), a bulk load into fresh tables has
    /// its key lookups planned as on empty tables: measured 70 ms instead of 2 ms per 500 keys.
    /// SQLite plans by its indexes without statistics: nothing to do.
    pub async fn analyze_cases(&self) -> Result<(), StoreError> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("ANALYZE cases, case_versions, exchange_outbox")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// How many cases, case versions and exchange outbox entries the store holds for a system:
    /// after a migration, each equals the cases written exactly once.
    pub async fn held_counts(&self, system_id: &str) -> Result<HeldCounts, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM cases WHERE system_id = $1) AS cases,
                        (SELECT COUNT(*) FROM case_versions WHERE system_id = $2) AS versions,
                        (SELECT COUNT(*) FROM exchange_outbox WHERE system_id = $3) AS outbox",
            )
            .bind(system_id)
            .bind(system_id)
            .bind(system_id)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Ends the holder's run with its reconciliation: state, message, report and the chunks'
    /// target hashes; gives up the lease. `false`: the holder no longer holds it; nothing is written.
    pub async fn finish_migration(
        &self,
        holder: Holder<'_>,
        finish: RunFinish<'_>,
    ) -> Result<bool, StoreError> {
        let Holder { run_id, owner, actor } = holder;
        let now = self.clock().await?;
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            if !tx.release(&RUNS, run_id, owner).await? {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE migration_runs SET state = $2, message = $3, differences = $4, report = $5,
                     report_json_path = $6, report_md_path = $7, updated_at = $8, finished_at = $8
                 WHERE id = $1",
            )
            .bind(run_id)
            .bind(finish.state.name())
            .bind(finish.message)
            .bind(finish.differences)
            .bind(Json(finish.report))
            .bind(finish.report_json_path)
            .bind(finish.report_md_path)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for (seq, hash) in finish.target_hashes {
                sqlx::query("UPDATE migration_chunks SET target_hash = $3 WHERE run_id = $1 AND seq = $2")
                    .bind(run_id)
                    .bind(seq)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            audit!(tx, actor, "migration.finish", &format!("migration/{run_id}"),
                serde_json::json!({ "state": finish.state.name(), "differences": finish.differences, "report": finish.report_json_path }))?;
            tx.commit().await?;
        });
        Ok(true)
    }
}
