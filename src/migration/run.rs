//! The migration runner: the source is read in chunks by one reader, `parallelism` chunks are
//! mapped and validated at once on blocking threads, and one writer commits them in order, each
//! chunk with its rejects and its checkpoint in one store transaction. The queue between reader
//! and writer holds at most `parallelism` chunks, so a slow store slows the reading (back-pressure)
//! and memory stays bounded whatever the size of the history. Rejects go to the data-quality
//! queue; past the error budget the run stops (`stopped`), resumable from its checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use futures_util::StreamExt as _;
use ronghe_adapters::{Adapter, Batch, ConfigIssue, Raw, Secrets, read_batches};
use ronghe_assessment::IntegrationMode;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::job::MigrationJob;
use super::{lease, reconcile};
use crate::case::{Case, Serialised};
use crate::intake::join;
use crate::intake::pipeline::{Refusal, judge, quality_item, store_reason};
use crate::mapping::{Mapping, MappingIssue};
use crate::rules::PublishedRule;
use crate::store::{
    Holder, LatestVerdict, MigrationRun, NewChunk, NewQualityItem, NewRun, RunState, Store, StoreError,
};

/// The intake channel recorded on quality items of migrated records.
pub const CHANNEL: &str = "migration";

/// Why a migration could not run or stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("cannot read the migration job {path}: {source}")]
    JobRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the migration job {path} is invalid: {}", join(.issues))]
    Job { path: String, issues: Vec<ConfigIssue> },
    #[error("the migration job {path} is for system {found:?}, not {expected:?}")]
    WrongSystem {
        path: String,
        expected: String,
        found: String,
    },
    #[error("cannot read the mapping {path}: {source}")]
    MappingRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the mapping {path} does not compile: {}", join(.issues))]
    Mapping { path: String, issues: Vec<MappingIssue> },
    #[error(
        "the mapping changed since run {run} started (version {started} → {now}): start a new run (ronghe migrate run)"
    )]
    MappingChanged {
        run: String,
        started: String,
        now: String,
    },
    #[error("the adapter of system {system:?} cannot be built: {message}")]
    Adapter { system: String, message: String },
    #[error("reading system {system:?} failed")]
    Read {
        system: String,
        #[source]
        source: ronghe_adapters::AdapterError,
    },
    #[error(
        "system {system:?} has an unfinished migration run {run} ({state}): resume it (ronghe migrate resume {system})"
    )]
    Unfinished {
        system: String,
        run: String,
        state: &'static str,
    },
    #[error(
        "system {system:?} {}: only a system whose expert-panel verdict is full migration (全流程迁移) is migrated; \
         assess it (ronghe assess open {system}), or migrate anyway with --force --reason TEXT (audited)",
        verdict_words(.verdict)
    )]
    NotFullMigration {
        system: String,
        /// The latest verdict's assessment and mode, if the system has one.
        verdict: Option<LatestVerdict>,
    },
    #[error(
        "the source of system {system:?} gave no record, but its probe of {probed_at} counted {counted}: \
         check the adapter's selection (REST records.select, SOAP records.select and inner_document, SQL \
         table and filter) and address against the system (ronghe adapters read {system} --limit 5), then \
         resume (ronghe migrate resume {system}); if the source is empty now, probe it again first"
    )]
    EmptySource {
        system: String,
        counted: u64,
        probed_at: DateTime<Utc>,
    },
    #[error("system {0:?} has no migration run to resume: start one (ronghe migrate run {0})")]
    NothingToResume(String),
    #[error("the migration run {run} of system {system:?} is {state}: there is nothing to resume")]
    Finished {
        system: String,
        run: String,
        state: &'static str,
    },
    #[error(
        "the migration run {run} of system {system:?} is being carried by {owner} (last moved {updated_at}): \
         wait for it to end (ronghe migrate status {system}); a holder on another machine that is gone is taken over \
         once the run has not moved for {stale_minutes} minutes"
    )]
    Busy {
        system: String,
        run: String,
        owner: String,
        updated_at: DateTime<Utc>,
        stale_minutes: i64,
    },
    #[error(
        "the migration run {run} was taken over by another process ({owner}) while this one carried it; \
         it stopped without writing further"
    )]
    LeaseLost { run: String, owner: String },
    #[error("cannot save the migration report {path}: {source}")]
    Report {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot render the migration report: {0}")]
    Render(String),
    #[error("a mapping worker failed: {0}")]
    Worker(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MigrationError {
    /// Whether the error is in the job, its mapping or the state of the runs (a person must fix
    /// something before running again), as against a failure of the source or the store.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            MigrationError::JobRead { .. }
                | MigrationError::Job { .. }
                | MigrationError::WrongSystem { .. }
                | MigrationError::MappingRead { .. }
                | MigrationError::Mapping { .. }
                | MigrationError::MappingChanged { .. }
                | MigrationError::Adapter { .. }
                | MigrationError::NotFullMigration { .. }
                | MigrationError::EmptySource { .. }
                | MigrationError::Unfinished { .. }
                | MigrationError::NothingToResume(_)
                | MigrationError::Finished { .. }
                | MigrationError::Busy { .. }
        )
    }
}

/// How a verdict reads in the refusal of a system that is not to be fully migrated.
fn verdict_words(verdict: &Option<LatestVerdict>) -> String {
    match verdict {
        None => "has no verdict".to_owned(),
        Some(LatestVerdict { assessment_id, mode }) => format!(
            "has the verdict {} ({}, assessment {assessment_id}), not full migration",
            mode.label(),
            mode.name()
        ),
    }
}

/// What allows a new run: the system's verdict, or a person's reason to migrate without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mandate {
    /// The system's latest verdict must be full migration.
    Verdict,
    /// Migrate whatever the verdict; the reason is audited with the run's start.
    Forced { reason: String },
}

/// Counts after a committed chunk, for progress bars and log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_rejected: i64,
    /// Rows the source held at the start, where known.
    pub source_rows: Option<i64>,
}

impl Progress {
    fn of(run: &MigrationRun) -> Progress {
        Progress {
            rows_read: run.rows_read,
            rows_written: run.rows_written,
            rows_rejected: run.rows_rejected,
            source_rows: run.source_rows,
        }
    }
}

/// A job file read and its mapping compiled (given the organisations registry when it looks
/// agencies up).
pub(super) struct Loaded {
    pub(super) job: MigrationJob,
    pub(super) path: PathBuf,
    pub(super) mapping: Arc<Mapping>,
}

async fn load(store: &Store, path: &Path) -> Result<Loaded, MigrationError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MigrationError::JobRead {
        path: shown.clone(),
        source,
    })?;
    let job = MigrationJob::parse(&text).map_err(|issues| MigrationError::Job {
        path: shown.clone(),
        issues,
    })?;
    let mapping_path = path.parent().unwrap_or(Path::new(".")).join(&job.job.mapping);
    let mapping_shown = mapping_path.display().to_string();
    let text = std::fs::read_to_string(&mapping_path).map_err(|source| MigrationError::MappingRead {
        path: mapping_shown.clone(),
        source,
    })?;
    let mapping = Mapping::compile(&text).map_err(|issues| MigrationError::Mapping {
        path: mapping_shown,
        issues,
    })?;
    Ok(Loaded {
        job,
        path: path.to_owned(),
        mapping: Arc::new(store.with_orgs(mapping).await?),
    })
}

/// Runs and resumes migration jobs against one store.
pub struct Migrator {
    store: Store,
    secrets: Arc<dyn Secrets>,
    actor: String,
    /// This process as a lease holder (see `lease`).
    owner: String,
}

/// A chunk mapped and validated.
pub(super) struct Mapped {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) rows: usize,
    /// The valid cases, in source order, with the record each came from and their canonical
    /// JSON and content hash (serialised here, on a mapping thread, once).
    pub(super) cases: Vec<Case>,
    pub(super) serialised: Vec<Serialised>,
    pub(super) raws: Vec<Raw>,
    /// Refused records with their reasons.
    pub(super) refused: Vec<(Raw, Refusal)>,
    /// Hash of the valid cases (see `chunk_hash`).
    pub(super) hash: String,
}

/// SHA-256 over `case number TAB version TAB content hash` lines, in order: one side of a chunk.
pub(super) fn chunk_hash<'a>(lines: impl Iterator<Item = (&'a str, i64, &'a str)>) -> String {
    let mut digest = Sha256::new();
    for (case_no, version, hash) in lines {
        digest.update(format!("{case_no}\t{version}\t{hash}\n").as_bytes());
    }
    hex::encode(digest.finalize())
}

/// Maps, validates and serialises one chunk (CPU work: run it on a blocking thread).
pub(super) fn map_chunk(
    chunk: Batch,
    mapping: &Mapping,
    rules: &[PublishedRule],
    now: DateTime<FixedOffset>,
) -> Result<Mapped, serde_json::Error> {
    let rows = chunk.raws.len();
    let mut cases = Vec::with_capacity(rows);
    let mut raws = Vec::with_capacity(rows);
    let mut refused = Vec::new();
    for raw in chunk.raws {
        match judge(mapping, rules, &raw, now) {
            Ok(case) => {
                cases.push(case);
                raws.push(raw);
            }
            Err(refusal) => refused.push((raw, refusal)),
        }
    }
    let serialised: Vec<Serialised> = cases.iter().map(Case::encoded).collect::<Result<_, _>>()?;
    let hash = chunk_hash(
        cases
            .iter()
            .zip(&serialised)
            .map(|(c, (_, h))| (c.case_no.as_str(), c.version, h.as_str())),
    );
    Ok(Mapped {
        from: chunk.from,
        to: chunk.to,
        rows,
        cases,
        serialised,
        raws,
        refused,
        hash,
    })
}

/// The chunk a mapping thread answers, once it is done.
pub(super) async fn mapped(
    handle: JoinHandle<Result<Mapped, serde_json::Error>>,
) -> Result<Mapped, MigrationError> {
    let worker = |e: String| MigrationError::Worker(e);
    handle
        .await
        .map_err(|e| worker(e.to_string()))?
        .map_err(|e| worker(e.to_string()))
}

/// Reads the source from `from` in chunks of the given sizes (the last size repeats), each
/// mapped on a blocking thread, and sends the pending mappings in order into `out`, whose
/// capacity bounds how many chunks are in flight. Ends at the end of the source or when the
/// receiver is gone.
pub(super) async fn read_chunks(
    adapter: &dyn Adapter,
    system_id: &str,
    from: Option<String>,
    sizes: &[usize],
    loaded: &Loaded,
    rules: Arc<Vec<PublishedRule>>,
    out: mpsc::Sender<JoinHandle<Result<Mapped, serde_json::Error>>>,
) -> Result<(), MigrationError> {
    let now = Utc::now().fixed_offset();
    let mut batches = read_batches(adapter, from, sizes);
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(|source| MigrationError::Read {
            system: system_id.to_owned(),
            source,
        })?;
        let (mapping, rules) = (loaded.mapping.clone(), rules.clone());
        let handle = tokio::task::spawn_blocking(move || map_chunk(batch, &mapping, &rules, now));
        if out.send(handle).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// How the writing ended.
enum Written {
    /// The source is read to its end and every chunk committed.
    Done,
    /// The error budget is exceeded: why.
    OverBudget(String),
}

impl Migrator {
    pub fn new(store: Store, secrets: Arc<dyn Secrets>, actor: &str) -> Migrator {
        Migrator {
            store,
            secrets,
            actor: actor.to_owned(),
            owner: lease::mine(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Starts a new run of the job at `job_path` for `system_id` and carries it to its end:
    /// reconciled (`complete` or `incomplete`) or `stopped` by its error budget. Refused unless
    /// the system's verdict is full migration or the run is forced with a reason.
    pub async fn start(
        &self,
        system_id: &str,
        job_path: &Path,
        mandate: &Mandate,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<MigrationRun, MigrationError> {
        let loaded = load(&self.store, job_path).await?;
        if loaded.job.job.system != system_id {
            return Err(MigrationError::WrongSystem {
                path: job_path.display().to_string(),
                expected: system_id.to_owned(),
                found: loaded.job.job.system.clone(),
            });
        }
        self.store.system_taking_cases(system_id).await?;
        let forced = match mandate {
            Mandate::Forced { reason } => Some(reason.as_str()),
            Mandate::Verdict => match self.store.latest_verdict(system_id).await? {
                Some(LatestVerdict {
                    mode: IntegrationMode::FullMigration,
                    ..
                }) => None,
                verdict => {
                    return Err(MigrationError::NotFullMigration {
                        system: system_id.to_owned(),
                        verdict,
                    });
                }
            },
        };
        if let Some(run) = self.store.latest_migration(system_id).await?
            && run.state.resumable()
        {
            return Err(MigrationError::Unfinished {
                system: system_id.to_owned(),
                run: run.id,
                state: run.state.name(),
            });
        }
        let adapter = self.adapter(system_id).await?;
        let source_rows = source_rows(adapter.as_ref()).await;
        let run = self
            .store
            .start_migration(NewRun {
                system_id,
                job_path: &loaded.path.display().to_string(),
                mapping_version: loaded.mapping.version(),
                source_rows,
                owner: &self.owner,
                actor: &self.actor,
                forced_reason: forced,
            })
            .await?;
        tracing::info!(system = system_id, run = %run.id, source_rows, owner = %self.owner, forced = forced.is_some(), "migration started");
        self.carry(adapter.as_ref(), &loaded, run, progress).await
    }

    /// Resumes the system's unfinished run from its last committed chunk, with its job file read
    /// again (so a raised error budget applies).
    pub async fn resume(
        &self,
        system_id: &str,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<MigrationRun, MigrationError> {
        self.store.system_taking_cases(system_id).await?;
        let run = self
            .store
            .latest_migration(system_id)
            .await?
            .ok_or_else(|| MigrationError::NothingToResume(system_id.to_owned()))?;
        if !run.state.resumable() {
            return Err(MigrationError::Finished {
                system: system_id.to_owned(),
                run: run.id,
                state: run.state.name(),
            });
        }
        let loaded = load(&self.store, Path::new(&run.job_path)).await?;
        if loaded.mapping.version() != run.mapping_version {
            return Err(MigrationError::MappingChanged {
                run: run.id,
                started: run.mapping_version,
                now: loaded.mapping.version().to_owned(),
            });
        }
        let adapter = self.adapter(system_id).await?;
        let gone = run.owner.as_deref().filter(|owner| lease::gone(owner));
        let claimed = self
            .store
            .claim_migration(
                &run.id,
                &self.owner,
                gone,
                lease::stale_before(self.store.clock().await?),
                &self.actor,
            )
            .await?;
        let run = self.store.migration_run(&run.id).await?;
        if !claimed {
            return Err(MigrationError::Busy {
                system: system_id.to_owned(),
                owner: run.owner.unwrap_or_else(|| "?".to_owned()),
                run: run.id,
                updated_at: run.updated_at,
                stale_minutes: lease::STALE_AFTER.num_minutes(),
            });
        }
        if let Some(gone) = gone {
            tracing::info!(run = %run.id, from = gone, "took over the run of a process that is gone");
        }
        tracing::info!(system = system_id, run = %run.id, from = ?run.watermark, rows_read = run.rows_read, "migration resumed");
        self.carry(adapter.as_ref(), &loaded, run, progress).await
    }

    async fn adapter(&self, system_id: &str) -> Result<Box<dyn Adapter>, MigrationError> {
        crate::attached_adapter::build(&self.store, self.secrets.as_ref(), system_id)
            .await?
            .map_err(|e| MigrationError::Adapter {
                system: system_id.to_owned(),
                message: format!("{e:#}"),
            })
    }

    /// Transfers from the run's checkpoint, then reconciles; a failure leaves the run `failed`
    /// (resumable) with the error as its message.
    async fn carry(
        &self,
        adapter: &dyn Adapter,
        loaded: &Loaded,
        run: MigrationRun,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<MigrationRun, MigrationError> {
        let result = self.transfer(adapter, loaded, &run, progress).await;
        let result = match result {
            Ok(Written::Done) => match self.empty_source(&run).await {
                Ok(None) => reconcile::finish(&self.store, adapter, loaded, self.holder(&run.id)).await,
                Ok(Some(e)) | Err(e) => Err(e),
            },
            Ok(Written::OverBudget(message)) => {
                tracing::warn!(system = %run.system_id, run = %run.id, %message, "migration stopped");
                self.release(&run.id, RunState::Stopped, &message).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result
            && !matches!(e, MigrationError::LeaseLost { .. })
        {
            let message = format!("{e}");
            tracing::warn!(system = %run.system_id, run = %run.id, error = %message, "migration failed");
            if let Err(again) = self.release(&run.id, RunState::Failed, &message).await {
                tracing::warn!(run = %run.id, error = %again, "cannot record the failure of the run");
            }
        }
        result?;
        Ok(self.store.migration_run(&run.id).await?)
    }

    /// The error that ends a run whose source gave no record although the system's probe
    /// counted some (a selection that matches nothing reads nothing, silently).
    async fn empty_source(&self, run: &MigrationRun) -> Result<Option<MigrationError>, MigrationError> {
        if self.store.migration_run(&run.id).await?.rows_read > 0 {
            return Ok(None);
        }
        let probed = self.store.probed_records(&run.system_id).await?;
        Ok(probed.map(|probed| MigrationError::EmptySource {
            system: run.system_id.clone(),
            counted: probed.counted,
            probed_at: probed.probed_at,
        }))
    }

    fn holder<'a>(&'a self, run_id: &'a str) -> Holder<'a> {
        Holder {
            run_id,
            owner: &self.owner,
            actor: &self.actor,
        }
    }

    /// Ends this process's hold on the run in `state` with why.
    async fn release(&self, run_id: &str, state: RunState, message: &str) -> Result<(), MigrationError> {
        if self
            .store
            .release_migration(self.holder(run_id), state, message)
            .await?
        {
            Ok(())
        } else {
            Err(lease_lost(&self.store, run_id).await)
        }
    }

    async fn transfer(
        &self,
        adapter: &dyn Adapter,
        loaded: &Loaded,
        run: &MigrationRun,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<Written, MigrationError> {
        let system_id = run.system_id.as_str();
        let parallelism = loaded.job.run.parallelism.max(1) as usize;
        let sizes = [loaded.job.run.chunk_rows as usize];
        let rules = Arc::new(self.store.list_rules(None).await?);
        let (sender, mut receiver) = mpsc::channel(parallelism);
        let reader = read_chunks(
            adapter,
            system_id,
            run.watermark.clone(),
            &sizes,
            loaded,
            rules,
            sender,
        );
        let budget = &loaded.job.error_budget;
        let mapping_version = loaded.mapping.version();
        let writer = async move {
            let mut seq = run.chunks;
            let mut totals = Progress::of(run);
            while let Some(handle) = receiver.recv().await {
                let mapped = mapped(handle).await?;
                seq += 1;
                let received_at = Utc::now();
                let rejects: Vec<NewQualityItem> = mapped
                    .refused
                    .into_iter()
                    .map(|(raw, refusal)| {
                        quality_item(system_id, &raw, refusal, CHANNEL, mapping_version, received_at)
                    })
                    .collect();
                let rows = i64::try_from(mapped.rows).unwrap_or(i64::MAX);
                let chunk = NewChunk {
                    seq,
                    from_watermark: mapped.from.as_deref(),
                    to_watermark: mapped.to.as_deref(),
                    rows_read: rows,
                    cases: &mapped.cases,
                    serialised: mapped.serialised,
                    rejects,
                    source_hash: &mapped.hash,
                };
                let cases = &mapped.cases;
                let raws = &mapped.raws;
                let counts = self
                    .store
                    .commit_migration_chunk(
                        self.holder(&run.id),
                        system_id,
                        mapping_version,
                        chunk,
                        |i, reason| {
                            let refusal = Refusal {
                                reasons: vec![store_reason(reason)],
                                case_no: Some(cases[i].case_no.clone()),
                                version: Some(cases[i].version),
                            };
                            quality_item(
                                system_id,
                                &raws[i],
                                refusal,
                                CHANNEL,
                                mapping_version,
                                received_at,
                            )
                        },
                    )
                    .await?;
                let Some(counts) = counts else {
                    return Err(lease_lost(&self.store, &run.id).await);
                };
                if seq == run.chunks + 1 {
                    // The store's statistics now know the tables hold cases (see analyze_cases).
                    self.store.analyze_cases().await?;
                }
                totals.rows_read += rows;
                totals.rows_written += counts.written;
                totals.rows_rejected += counts.rejected;
                progress(&totals);
                tracing::debug!(system = system_id, run = %run.id, seq, rows, written = counts.written, rejected = counts.rejected, "chunk committed");
                if let Some(why) = over_budget(&totals, budget) {
                    return Ok(Written::OverBudget(why));
                }
            }
            Ok::<_, MigrationError>(Written::Done)
        };
        let (read, written) = tokio::join!(reader, writer);
        let written = written?;
        if matches!(written, Written::Done) {
            read?;
        }
        Ok(written)
    }
}

/// The error for a run whose lease this process lost, naming its holder now.
pub(super) async fn lease_lost(store: &Store, run_id: &str) -> MigrationError {
    let owner = match store.migration_run(run_id).await {
        Ok(run) => run
            .owner
            .unwrap_or_else(|| format!("none; the run is {}", run.state.name())),
        Err(e) => format!("unknown: {e}"),
    };
    MigrationError::LeaseLost {
        run: run_id.to_owned(),
        owner,
    }
}

/// Why the totals exceed the budget, if they do.
fn over_budget(totals: &Progress, budget: &super::ErrorBudget) -> Option<String> {
    let rejected = u64::try_from(totals.rows_rejected).unwrap_or(0);
    if rejected > budget.max_rejects {
        return Some(format!(
            "拒收 {rejected} 条，超过错误预算 max_rejects = {} (rejected records exceed the error budget); \
             fix the source or raise [error_budget] in the job, then ronghe migrate resume",
            budget.max_rejects
        ));
    }
    let ratio = rejected as f64 / totals.rows_read.max(1) as f64;
    if ratio > budget.max_reject_ratio {
        return Some(format!(
            "拒收比例 {ratio:.4} 超过错误预算 max_reject_ratio = {} (share of rejected records exceeds the error budget); \
             fix the source or raise [error_budget] in the job, then ronghe migrate resume",
            budget.max_reject_ratio
        ));
    }
    None
}

/// The number of records the adapter reads (its records' entity, never a code table), for
/// progress: an estimate, `None` when the adapter cannot say.
async fn source_rows(adapter: &dyn Adapter) -> Option<i64> {
    let profile = adapter.probe(0).await.ok()?;
    profile.counted_records().and_then(|n| i64::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::ErrorBudget;

    fn totals(read: i64, rejected: i64) -> Progress {
        Progress {
            rows_read: read,
            rows_written: read - rejected,
            rows_rejected: rejected,
            source_rows: None,
        }
    }

    #[test]
    fn the_budget_counts_rejects_and_their_share() {
        let budget = ErrorBudget {
            max_rejects: 10,
            max_reject_ratio: 0.01,
        };
        assert_eq!(over_budget(&totals(1000, 10), &budget), None);
        assert!(over_budget(&totals(5000, 11), &budget).is_some_and(|m| m.contains("max_rejects = 10")));
        assert!(over_budget(&totals(500, 6), &budget).is_some_and(|m| m.contains("max_reject_ratio")));
        assert_eq!(over_budget(&totals(0, 0), &budget), None);
    }

    #[test]
    fn a_chunk_hash_depends_on_every_case_and_their_order() {
        let a = [("1", 1, "h1"), ("2", 1, "h2")];
        let base = chunk_hash(a.iter().copied());
        assert_eq!(base, chunk_hash(a.iter().copied()));
        assert_ne!(base, chunk_hash(a.iter().rev().copied()));
        assert_ne!(base, chunk_hash([("1", 1, "h1"), ("2", 2, "h2")].into_iter()));
        assert_ne!(base, chunk_hash([("1", 1, "h1"), ("2", 1, "hX")].into_iter()));
        assert_ne!(base, chunk_hash([("1", 1, "h1")].into_iter()));
    }
}
