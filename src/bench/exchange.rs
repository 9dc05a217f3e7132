//! Exchange drain rate (issue 22): a backlog of case versions, several per case as an outage
//! leaves it, delivered by 1 and several workers (nodes) to a receiver that answers at once. Each
//! figure is the drain with stale planner statistics (taken before the backlog formed) against
//! the same drain with fresh ones (taken after): a ratio near 1 says the claim's cost follows
//! the batch, not the backlog. Earlier rounds stay in the store as delivered history.

use std::time::Instant;

use anyhow::Context as _;
use futures_util::future::try_join_all;
use ronghe_adapters::Fixed;
use ronghe_adapters::sim::exchange::ExchangeSim;

use super::Figure;
use crate::exchange::{DeliveryMetrics, Exchange, ExchangeConfig, Worker};
use crate::store::Store;

/// Versions of each case in the backlog.
const VERSIONS_PER_CASE: usize = 4;

/// Upserts per statement while the backlog is built.
const BATCH: usize = 1000;

/// Drains `versions` versions with each worker count in `workers`, stale and fresh statistics, in
/// `database` (PostgreSQL) or a fresh SQLite file, removed afterwards.
pub async fn run(database: &str, versions: usize, workers: &[usize]) -> anyhow::Result<Vec<Figure>> {
    super::on_own_store("exchange", database, |store| async move {
        measure(&store, versions, workers).await
    })
    .await
}

async fn measure(store: &Store, versions: usize, workers: &[usize]) -> anyhow::Result<Vec<Figure>> {
    let sim = ExchangeSim::start("127.0.0.1:0".parse()?).await?;
    let exchange = ExchangeConfig::new(sim.endpoint())
        .build(&Fixed::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cases = super::store::mapped_cases(versions.div_ceil(VERSIONS_PER_CASE))?;
    let stamp = chrono::Utc::now().timestamp_millis();
    let mut figures = Vec::new();
    for &n in workers {
        let mut seconds = [0.0; 2];
        for (fresh, took) in [true, false].into_iter().zip(&mut seconds) {
            let system = format!(
                "bench-exchange-{stamp}-{n}-{}",
                if fresh { "fresh" } else { "stale" }
            );
            super::register(store, &system).await?;
            if !fresh {
                store.analyze().await?;
            }
            backlog(store, &system, &cases).await?;
            if fresh {
                store.analyze().await?;
            }
            *took = drain(store, &exchange, n).await?;
        }
        figures.push(Figure {
            name: format!(
                "exchange drain ({}, {n} worker{}, stale vs fresh stats)",
                store.backend().name(),
                if n == 1 { "" } else { "s" }
            ),
            items: cases.len() * VERSIONS_PER_CASE,
            seconds: seconds[1],
            baseline_seconds: seconds[0],
            ..Default::default()
        });
    }
    Ok(figures)
}

/// Every case in `VERSIONS_PER_CASE` versions, one version of all of them at a time.
async fn backlog(store: &Store, system: &str, cases: &[crate::case::Case]) -> anyhow::Result<()> {
    for version in 1..=VERSIONS_PER_CASE {
        let versioned: Vec<_> = cases
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.version = i64::try_from(version).unwrap_or(i64::MAX);
                c
            })
            .collect();
        for chunk in versioned.chunks(BATCH) {
            store.upsert_cases(system, chunk).await?;
        }
    }
    Ok(())
}

/// Seconds until `workers` workers have delivered the whole backlog.
async fn drain(store: &Store, exchange: &Exchange, workers: usize) -> anyhow::Result<f64> {
    let workers = (0..workers.max(1))
        .map(|i| {
            Worker::new(
                store.clone(),
                exchange.clone(),
                format!("bench-node-{i}"),
                DeliveryMetrics::new(),
            )
            .context("exchange worker")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    try_join_all(workers.iter().map(Worker::drain)).await?;
    let took = started.elapsed().as_secs_f64();
    let status = store.outbox_status().await?;
    anyhow::ensure!(
        status.backlog == 0 && status.dead == 0,
        "the backlog did not drain: {status:?}"
    );
    Ok(took)
}
