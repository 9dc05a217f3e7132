//! A day's reconciliation of a long history (`ronghe bench reconcile`): the SQL simulator holds
//! N cases over the simulated history (1M: about 1,500 a day), the store (a fresh SQLite file,
//! or the PostgreSQL `--database`) holds the same cases, and a day is reconciled as the daily
//! job reconciles yesterday: the latest day with no more changes after it than on it. The baseline is reading that day's rows directly from the source (one
//! indexed `SELECT` on `GXSJ`, on a connection already open). The day is reconciled by window
//! first in a fresh process (the adapter built, the mapping compiled), then again with both held
//! by the intake (`Intake::adapter`), as in a running server after the day's pulls (the fastest
//! of 5 runs, against the fastest of 5 direct reads), and once with the whole source read (no
//! `window_format`), against the same baseline.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use futures_util::StreamExt as _;

use super::Figure;
use super::migrate::{sql_adapter, sql_adapter_config, sql_mapping};
use crate::intake::Intake;
use crate::store::Store;

/// Runs of the direct read and of the reconciliation with the adapter held; the fastest counts.
const REPEATS: usize = 5;

/// Loads, fills and reconciles in a scratch directory.
pub async fn run(database: &str, rows: usize) -> anyhow::Result<Vec<Figure>> {
    super::in_scratch_dir(
        "reconcile",
        |dir| async move { measure(&dir, database, rows).await },
    )
    .await
}

async fn measure(dir: &std::path::Path, database: &str, rows: usize) -> anyhow::Result<Vec<Figure>> {
    use ronghe_adapters::sim::{data, sql};
    let legacy = format!("sqlite://{}", dir.join("legacy.db").display());
    sql::load_spaced(&legacy, 2025, rows, data::history_spacing(rows)).await?;
    let (store, _) = super::open_store(database, dir).await?;
    let id = format!("bench-reconcile-{}", chrono::Utc::now().timestamp_millis());
    super::register_as(&store, &id, "sql", &legacy).await?;
    let windowed = sql_adapter_config(&legacy);
    store.set_adapter_config(&id, &windowed, "bench").await?;
    std::fs::write(dir.join(format!("{id}.toml")), super::mapping::SQL_MAPPING)?;
    let started = Instant::now();
    let held = fill(&store, &id, &legacy).await?;
    tracing::info!(
        cases = held,
        seconds = started.elapsed().as_secs_f64(),
        "platform filled"
    );

    // The day the daily job would reconcile: yesterday, with no more changed since than on it
    // (the latest day holding at least as many changes as every later day together).
    let source = sqlx::SqlitePool::connect(&legacy).await?;
    let per_day: Vec<(String, i64)> = sqlx::query_as(
        r#"SELECT substr("GXSJ", 1, 10) AS d, COUNT(*) FROM "SP_BJXX" GROUP BY d ORDER BY d DESC"#,
    )
    .fetch_all(&source)
    .await?;
    let mut later = per_day.first().map_or(0, |(_, n)| *n);
    let day = per_day
        .iter()
        .skip(1)
        .find(|(_, n)| {
            let enough = *n >= later;
            later += n;
            enough
        })
        .context("no day of the history has as many changes as the days after it")?;
    let day = chrono::NaiveDate::parse_from_str(&day.0, "%Y-%m-%d")?;
    // A read of well under a millisecond: its first run (the statement prepared, the pages read
    // from the file) against the first reconciliation, the fastest of `REPEATS` against the
    // fastest reconciliation with the adapter held.
    let (mut day_rows, mut direct, mut first_direct) = (0, f64::MAX, None);
    for _ in 0..REPEATS {
        let started = Instant::now();
        day_rows = sqlx::query(r#"SELECT * FROM "SP_BJXX" WHERE "GXSJ" >= $1 AND "GXSJ" < $2"#)
            .bind(format!("{day} 00:00:00"))
            .bind(format!("{} 00:00:00", day.succ_opt().unwrap_or(day)))
            .fetch_all(&source)
            .await?
            .len();
        let seconds = started.elapsed().as_secs_f64();
        first_direct.get_or_insert(seconds);
        direct = direct.min(seconds);
    }
    let first_direct = first_direct.unwrap_or(direct);
    source.close().await;

    let intake = Intake::new(&store, dir, Arc::new(ronghe_adapters::Environment));
    let mut figures = Vec::new();
    let whole = windowed.replace("window_format = \"%Y-%m-%d %H:%M:%S\"\n", "");
    // The first run builds the adapter (connections, catalogue) and compiles the mapping; the
    // second finds both held by the intake, as the daily job does after the day's pulls.
    for (what, config, repeats, baseline_seconds) in [
        ("window, first run vs the first read", &windowed, 1, first_direct),
        ("window, adapter held, fastest of 5", &windowed, REPEATS, direct),
        ("whole source", &whole, 1, direct),
    ] {
        store.set_adapter_config(&id, config, "bench").await?;
        let mut seconds = f64::MAX;
        let mut report = None;
        for _ in 0..repeats {
            let started = Instant::now();
            let run = crate::monitoring::reconcile(&store, &intake, &id, day).await?;
            seconds = seconds.min(started.elapsed().as_secs_f64());
            report = Some(run);
        }
        let report = report.context("no reconciliation ran")?;
        if !report.clean {
            anyhow::bail!(
                "the {what} reconciliation of {day} is not clean: {:?}",
                report.differences
            );
        }
        tracing::info!(what, %day, read = report.source_records, day_cases = report.legacy_cases, "reconciled");
        figures.push(Figure {
            name: format!("reconcile a day of {rows} ({what}) vs reading the day's {day_rows} rows"),
            items: report.legacy_cases,
            bytes: 0,
            seconds,
            baseline_seconds,
            ..Default::default()
        });
    }
    // The platform's side of the day as `monitoring::reconcile` reads it (the store's cases
    // changed on the day; a clean day has no other case to look up), the fastest of `REPEATS`:
    // a reconciliation reads both sides, so this read against the source's is its floor.
    let mut platform = (0, f64::MAX);
    for _ in 0..REPEATS {
        let started = Instant::now();
        let cases = store.cases_changed_on(&id, day).await?.len();
        platform = (cases, platform.1.min(started.elapsed().as_secs_f64()));
    }
    figures.push(Figure {
        name: format!(
            "the platform's side of the day ({} cases) vs reading the day's {day_rows} rows",
            platform.0
        ),
        items: platform.0,
        bytes: 0,
        seconds: platform.1,
        baseline_seconds: direct,
        ..Default::default()
    });
    store.close().await;
    Ok(figures)
}

/// Writes every mapped simulator case into the store, as a pull would; answers how many.
async fn fill(store: &Store, system_id: &str, legacy: &str) -> anyhow::Result<usize> {
    let mapping = sql_mapping()?;
    let adapter = sql_adapter(legacy).await?;
    let now = chrono::Utc::now().fixed_offset();
    let mut records = adapter.read(None);
    let (mut batch, mut held) = (Vec::with_capacity(500), 0);
    while let Some(record) = records.next().await {
        if let Ok(case) = mapping.apply(&record?.raw, now) {
            batch.push(case);
        }
        if batch.len() == 500 {
            held += batch.len();
            store.upsert_cases(system_id, &std::mem::take(&mut batch)).await?;
        }
    }
    held += batch.len();
    store.upsert_cases(system_id, &batch).await?;
    Ok(held)
}
