//! Case store throughput: `upsert_cases` (reads, version checks, history, current rows and
//! outbox items) in batches, against plain multi-row inserts of the same rows' versions into the
//! same store; and the floor between them, the upsert's own writes into its three tables without
//! its reads and checks, against each.

use std::time::Instant;

use ronghe_adapters::Raw;
use ronghe_adapters::sim::{data, rest};

use super::Figure;
use crate::case::Case;
use crate::mapping::Mapping;
use crate::store::Store;

/// `count` simulator cases mapped by the reference REST mapping.
pub(super) fn mapped_cases(count: usize) -> anyhow::Result<Vec<Case>> {
    let mapping = Mapping::compile(super::mapping::REST_MAPPING)
        .map_err(|issues| anyhow::anyhow!("reference mapping: {issues:?}"))?;
    let now = chrono::Utc::now().fixed_offset();
    (0..count)
        .map(|i| {
            mapping
                .apply(&Raw::Json(rest::to_json(&data::case(2025, i))), now)
                .map_err(|e| anyhow::anyhow!("{e:?}"))
        })
        .collect()
}

/// Upserts `count` mapped simulator cases in batches of `batch` into a benchmark's store (the
/// PostgreSQL `database`, or a fresh SQLite file removed afterwards); writes the same cases into
/// the same three tables without reads and checks (the floor), and inserts their versions plainly
/// (the baseline), each under a system id of its own. Answers the upsert and the floor against
/// the baseline, and the upsert against the floor: what this schema allows any upsert, and how
/// much of it the upsert's reads and checks take.
pub async fn run(database: &str, count: usize, batch: usize) -> anyhow::Result<Vec<Figure>> {
    super::on_own_store("store", database, |store| async move {
        measure(&store, count, batch).await
    })
    .await
}

async fn measure(store: &Store, count: usize, batch: usize) -> anyhow::Result<Vec<Figure>> {
    let cases = mapped_cases(count)?;
    let bytes: usize = cases
        .iter()
        .map(|c| serde_json::to_vec(c).map(|v| v.len()).unwrap_or(0))
        .sum();
    let stamp = chrono::Utc::now().timestamp_millis();
    let mut ids = Vec::new();
    for which in ["upsert", "floor", "raw"] {
        let id = format!("bench-{which}-{stamp}");
        super::register(store, &id).await?;
        ids.push(id);
    }
    let started = Instant::now();
    for chunk in cases.chunks(batch.max(1)) {
        store.upsert_cases(&ids[0], chunk).await?;
    }
    let upsert = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for chunk in cases.chunks(batch.max(1)) {
        store.insert_cases_unchecked(&ids[1], chunk).await?;
    }
    let floor = started.elapsed().as_secs_f64();
    let started = Instant::now();
    store.insert_versions_unchecked(&ids[2], &cases, batch).await?;
    let raw = started.elapsed().as_secs_f64();
    let figure = |name: String, seconds: f64, baseline_seconds: f64| Figure {
        name,
        items: count,
        bytes,
        seconds,
        baseline_seconds,
        ..Default::default()
    };
    let backend = store.backend().name();
    Ok(vec![
        figure(format!("store upsert ({backend}, batch {batch})"), upsert, raw),
        figure("store floor: 3 tables, no reads".to_owned(), floor, raw),
        figure("store upsert vs the floor".to_owned(), upsert, floor),
    ])
}
