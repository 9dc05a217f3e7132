//! Case store throughput: `upsert_cases` (reads, version checks, history and current rows) in
//! batches, against plain multi-row inserts of the same rows into the same store.

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

/// Upserts `count` mapped simulator cases in batches of `batch` into `store`, and inserts the
/// same rows plainly under another system id.
pub async fn run(store: &Store, count: usize, batch: usize) -> anyhow::Result<Vec<Figure>> {
    let cases = mapped_cases(count)?;
    let bytes: usize = cases
        .iter()
        .map(|c| serde_json::to_vec(c).map(|v| v.len()).unwrap_or(0))
        .sum();
    let stamp = chrono::Utc::now().timestamp_millis();
    let mut ids = Vec::new();
    for which in ["upsert", "raw"] {
        let id = format!("bench-{which}-{stamp}");
        super::register(store, &id).await?;
        ids.push(id);
    }
    let started = Instant::now();
    for chunk in cases.chunks(batch.max(1)) {
        store.upsert_cases(&ids[0], chunk).await?;
    }
    let upsert = started.elapsed();
    let started = Instant::now();
    store.insert_versions_unchecked(&ids[1], &cases, batch).await?;
    let raw = started.elapsed();
    Ok(vec![Figure {
        name: format!("store upsert ({}, batch {batch})", store.backend().name()),
        items: count,
        bytes,
        seconds: upsert.as_secs_f64(),
        baseline_seconds: raw.as_secs_f64(),
        ..Default::default()
    }])
}
