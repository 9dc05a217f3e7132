//! Reconciliation at the end of a run: the source is read again from its first record through the
//! adapter and mapped, cut at the same chunk boundaries as the run committed, and each chunk's
//! cases are compared with the versions the store holds: counts and content hashes per chunk on
//! both sides, and every difference by case number. Records the source gained after the last
//! chunk are differences too. A run with any difference ends `incomplete`, never `complete`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::report::{self, MigrationReport};
use super::run::{Loaded, Mapped, MigrationError, chunk_hash, mapped, read_chunks};
use crate::store::{ChunkRecord, Holder, RunFinish, RunState, Store};
use ronghe_adapters::Adapter;

/// One chunk compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChunkCheck {
    pub seq: i64,
    /// Records the run committed in this chunk, and the source holds there now.
    pub rows_committed: i64,
    pub rows_source: i64,
    /// Valid cases in the source's chunk, and how many of them the store holds with the same content.
    pub cases_source: i64,
    pub cases_target: i64,
    /// Rejected when committed, and refused by the mapping now.
    pub rejected_committed: i64,
    pub rejected_source: i64,
    pub source_hash: String,
    pub target_hash: String,
    pub matches: bool,
}

/// What differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// The source holds this case version; the store does not.
    MissingInTarget,
    /// The store holds this case version with other content.
    ContentDiffers,
    /// The source has a record after the last committed chunk (it changed during or after the run).
    NewInSource,
    /// A chunk's record count changed since it was committed.
    RowCount,
}

/// One difference, by case number where there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = MigrationDifference)]
pub struct Difference {
    pub kind: DifferenceKind,
    pub chunk: Option<i64>,
    pub case_no: Option<String>,
    pub version: Option<i64>,
    pub detail: String,
}

/// Reconciles run `run_id`, saves its report next to the job and records it on the run.
pub(super) async fn finish(
    store: &Store,
    adapter: &dyn Adapter,
    loaded: &Loaded,
    holder: Holder<'_>,
) -> Result<(), MigrationError> {
    let run_id = holder.run_id;
    let run = store.migration_run(run_id).await?;
    let chunks = store.migration_chunks(run_id).await?;
    tracing::info!(system = %run.system_id, run = run_id, chunks = chunks.len(), "reconciling");
    store.analyze_cases().await?;
    let (checks, differences) = compare(store, holder, adapter, loaded, &run.system_id, &chunks).await?;
    let clean = differences.is_empty();
    let state = if clean {
        RunState::Complete
    } else {
        RunState::Incomplete
    };
    let message = if clean {
        "对账无差异 reconciliation clean".to_owned()
    } else {
        format!(
            "对账差异 {} 处 reconciliation found differences",
            differences.len()
        )
    };
    let report = MigrationReport::new(&run, state, checks, differences);
    let dir = loaded.path.parent().unwrap_or(std::path::Path::new("."));
    let (json_path, md_path) = report::save(&report, dir)?;
    let value = serde_json::to_value(&report).map_err(|e| MigrationError::Render(e.to_string()))?;
    let target_hashes: Vec<(i64, String)> = report
        .chunks
        .iter()
        .map(|c| (c.seq, c.target_hash.clone()))
        .collect();
    let held = store
        .finish_migration(
            holder,
            RunFinish {
                state,
                message: &message,
                differences: i64::try_from(report.differences.len()).unwrap_or(i64::MAX),
                report: &value,
                report_json_path: &json_path,
                report_md_path: &md_path,
                target_hashes: &target_hashes,
            },
        )
        .await?;
    if !held {
        return Err(super::run::lease_lost(store, run_id).await);
    }
    tracing::info!(system = %run.system_id, run = run_id, state = state.name(), differences = report.differences.len(), report = %json_path, "migration finished");
    Ok(())
}

async fn compare(
    store: &Store,
    holder: Holder<'_>,
    adapter: &dyn Adapter,
    loaded: &Loaded,
    system_id: &str,
    chunks: &[ChunkRecord],
) -> Result<(Vec<ChunkCheck>, Vec<Difference>), MigrationError> {
    let mut sizes: Vec<usize> = chunks
        .iter()
        .map(|c| usize::try_from(c.rows_read).unwrap_or(0))
        .collect();
    // After the committed chunks: whatever the source gained, in chunks of the job's size.
    sizes.push(loaded.job.run.chunk_rows as usize);
    let parallelism = loaded.job.run.parallelism.max(1) as usize;
    let rules = Arc::new(store.list_rules(None).await?);
    let (sender, mut receiver) = mpsc::channel(parallelism);
    let reader = read_chunks(adapter, system_id, None, &sizes, loaded, rules, sender);
    let checker = async move {
        let mut checks = Vec::with_capacity(chunks.len());
        let mut differences = Vec::new();
        let mut index = 0;
        let mut renewed = Instant::now();
        while let Some(handle) = receiver.recv().await {
            let mapped: Mapped = mapped(handle).await?;
            if renewed.elapsed() >= super::lease::RENEW_EVERY {
                if !store.renew_migration(holder).await? {
                    return Err(super::run::lease_lost(store, holder.run_id).await);
                }
                renewed = Instant::now();
            }
            let committed = chunks.get(index);
            index += 1;
            let keys: Vec<&str> = mapped.cases.iter().map(|c| c.case_no.as_str()).collect();
            let stored: HashMap<(String, i64), String> = store
                .stored_versions(system_id, &keys)
                .await?
                .into_iter()
                .map(|v| ((v.case_no, v.version), v.content_hash))
                .collect();
            let source_hashes = mapped.serialised.iter().map(|(_, hash)| hash);
            let target_hashes: Vec<&str> = mapped
                .cases
                .iter()
                .map(|c| {
                    stored
                        .get(&(c.case_no.clone(), c.version))
                        .map_or("-", String::as_str)
                })
                .collect();
            let mut cases_target = 0;
            for ((case, source), target) in mapped.cases.iter().zip(source_hashes).zip(&target_hashes) {
                let kind = match committed {
                    _ if source == target => {
                        cases_target += 1;
                        continue;
                    }
                    None => DifferenceKind::NewInSource,
                    Some(_) if *target == "-" => DifferenceKind::MissingInTarget,
                    Some(_) => DifferenceKind::ContentDiffers,
                };
                let detail = match kind {
                    DifferenceKind::NewInSource => {
                        "源系统在最后一个分块之后的新记录 record after the last committed chunk"
                    }
                    DifferenceKind::MissingInTarget => "平台缺少该版本 the store lacks this version",
                    _ => "内容不一致 the stored content differs",
                };
                differences.push(Difference {
                    kind,
                    chunk: committed.map(|c| c.seq),
                    case_no: Some(case.case_no.clone()),
                    version: Some(case.version),
                    detail: detail.to_owned(),
                });
            }
            let Some(committed) = committed else {
                for (_, refusal) in &mapped.refused {
                    differences.push(Difference {
                        kind: DifferenceKind::NewInSource,
                        chunk: None,
                        case_no: refusal.case_no.clone(),
                        version: refusal.version,
                        detail: "源系统在最后一个分块之后的新记录(无法映射) record after the last committed chunk, refused"
                            .to_owned(),
                    });
                }
                continue;
            };
            let rows_source = i64::try_from(mapped.rows).unwrap_or(i64::MAX);
            if rows_source != committed.rows_read {
                differences.push(Difference {
                    kind: DifferenceKind::RowCount,
                    chunk: Some(committed.seq),
                    case_no: None,
                    version: None,
                    detail: format!(
                        "分块记录数 {} → {} the chunk's record count changed",
                        committed.rows_read, rows_source
                    ),
                });
            }
            let target_hash = chunk_hash(
                mapped
                    .cases
                    .iter()
                    .zip(&target_hashes)
                    .map(|(c, h)| (c.case_no.as_str(), c.version, *h)),
            );
            let cases_source = i64::try_from(mapped.cases.len()).unwrap_or(i64::MAX);
            checks.push(ChunkCheck {
                seq: committed.seq,
                rows_committed: committed.rows_read,
                rows_source,
                cases_source,
                cases_target,
                rejected_committed: committed.rows_rejected,
                rejected_source: i64::try_from(mapped.refused.len()).unwrap_or(i64::MAX),
                matches: target_hash == mapped.hash && rows_source == committed.rows_read,
                source_hash: mapped.hash,
                target_hash,
            });
        }
        // Chunks the source no longer fills.
        for committed in chunks.iter().skip(index) {
            differences.push(Difference {
                kind: DifferenceKind::RowCount,
                chunk: Some(committed.seq),
                case_no: None,
                version: None,
                detail: format!(
                    "源系统已无该分块的 {} 条记录 the source no longer holds this chunk's records",
                    committed.rows_read
                ),
            });
        }
        Ok::<_, MigrationError>((checks, differences))
    };
    let (read, checked) = tokio::join!(reader, checker);
    read?;
    checked
}
