//! `ronghe bench`: throughput of the hot paths against baselines measured in the same run, so
//! that the ratio means something on a shared machine. Figures go in closing notes, never in
//! timed tests.

pub mod burst;
pub mod exchange;
pub mod mapping;
pub mod migrate;
pub mod reconcile;
pub mod sealing;
pub mod soak;
pub mod store;
pub mod writeback;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::store::{Store, StoreOptions};

/// One measured figure and its baseline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figure {
    pub name: String,
    pub items: usize,
    pub bytes: usize,
    pub seconds: f64,
    pub baseline_seconds: f64,
    /// Request latency percentiles, in milliseconds, where requests were timed.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Figure {
    pub fn per_second(&self) -> f64 {
        self.items as f64 / self.seconds.max(1e-9)
    }

    pub fn baseline_per_second(&self) -> f64 {
        self.items as f64 / self.baseline_seconds.max(1e-9)
    }

    /// Throughput relative to the baseline (1.0 = as fast).
    pub fn ratio(&self) -> f64 {
        self.baseline_seconds / self.seconds.max(1e-9)
    }

    pub fn line(&self) -> String {
        let mb = |s: f64| self.bytes as f64 / 1e6 / s.max(1e-9);
        format!(
            "{:<34} {:>10.0}/s {:>8.1} MB/s | baseline {:>10.0}/s {:>8.1} MB/s | ratio {:.2}",
            self.name,
            self.per_second(),
            mb(self.seconds),
            self.baseline_per_second(),
            mb(self.baseline_seconds),
            self.ratio()
        ) + &match (self.p50_ms, self.p99_ms) {
            (Some(p50), Some(p99)) => format!(" | p50 {p50:.1} ms p99 {p99:.1} ms"),
            _ => String::new(),
        }
    }
}

/// Runs `measure` in a new directory of its own (`ronghe-bench-{name}-…` under the system's
/// temporary directory), removed afterwards whatever the outcome.
async fn in_scratch_dir<T, F, Fut>(name: &str, measure: F) -> anyhow::Result<T>
where
    F: FnOnce(std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    use anyhow::Context as _;
    let dir = std::env::temp_dir().join(format!(
        "ronghe-bench-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = measure(dir.clone()).await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the benchmark directory");
    }
    result
}

/// Runs `measure` on a benchmark's store (`open_store` in a directory of its own, `name`),
/// closed afterwards.
async fn on_own_store<T, F, Fut>(name: &str, database: &str, measure: F) -> anyhow::Result<T>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    in_scratch_dir(name, |dir| async move {
        let (store, _) = open_store(database, &dir).await?;
        let result = measure(store.clone()).await;
        store.close().await;
        result
    })
    .await
}

/// Opens the store a benchmark writes to, and answers its URL: the PostgreSQL `database` it was
/// given, or a fresh SQLite file in its directory `dir`. A given database must hold benchmark
/// systems only: a benchmark fills its store with simulated cases, and its workers and servers
/// deliver every pending outbox item of the store to a simulated exchange, a working store's
/// cases among them.
async fn open_store(database: &str, dir: &std::path::Path) -> anyhow::Result<(Store, String)> {
    let url = if database.starts_with("postgres") {
        database.to_owned()
    } else {
        format!("sqlite://{}", dir.join("store.db").display())
    };
    let store = Store::open(&url, &StoreOptions::default()).await?;
    let working: Vec<String> = store
        .list_systems(None)
        .await?
        .into_iter()
        .filter(|system| system.department != BENCHMARK)
        .map(|system| system.id)
        .collect();
    if let Some(first) = working.first() {
        store.close().await;
        return Err(WorkingStore {
            systems: working.len(),
            first: first.clone(),
        }
        .into());
    }
    Ok((store, url))
}

/// Runs `measure` on a store of its own for one run of a benchmark that needs a fresh store per
/// run (`bench sealing`): with a PostgreSQL `database`, the URL of a new database `name` created
/// on its server (the role needs CREATEDB) and dropped afterwards, whatever the outcome; without,
/// `database` itself (empty: a fresh SQLite file in the run's directory).
async fn in_run_database<T, F, Fut>(database: &str, name: &str, measure: F) -> anyhow::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    if !database.starts_with("postgres") {
        return measure(database.to_owned()).await;
    }
    on_server(database, &format!("DROP DATABASE IF EXISTS \"{name}\"")).await?;
    on_server(database, &format!("CREATE DATABASE \"{name}\"")).await?;
    let mut url = url::Url::parse(database)?;
    url.set_path(name);
    let result = measure(url.to_string()).await;
    on_server(
        database,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await?;
    result
}

/// Runs `statement` (one the server cannot take in a transaction) on a connection to `database`.
async fn on_server(database: &str, statement: &str) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(database).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    Ok(())
}

/// A benchmark was given a store that holds systems of its own (see `open_store`).
#[derive(Debug, thiserror::Error)]
#[error(
    "the store holds {systems} system(s) not registered by a benchmark (first: {first}): a \
     benchmark writes simulated cases into its store and delivers every pending case to a \
     simulated exchange. Give it an empty database of its own: --database postgres://…/bench"
)]
pub struct WorkingStore {
    pub systems: usize,
    pub first: String,
}

/// A benchmark that registers fixed systems (`bench writeback`, `bench soak`) was given a
/// PostgreSQL database that already holds an earlier run's.
#[derive(Debug, thiserror::Error)]
#[error(
    "the store already holds {systems} benchmark system(s) from an earlier run (first: {first}): \
     this benchmark registers its own and needs an empty database: --database postgres://…/new"
)]
pub struct NotEmpty {
    pub systems: usize,
    pub first: String,
}

/// The department of every system a benchmark registers.
const BENCHMARK: &str = "benchmark";

/// Registers a benchmark system `id` (a REST system nobody calls).
async fn register(store: &Store, id: &str) -> anyhow::Result<()> {
    register_as(store, id, "rest", "http://127.0.0.1:1/").await
}

/// Registers a benchmark system `id` speaking `protocol` at `endpoint`.
async fn register_as(store: &Store, id: &str, protocol: &str, endpoint: &str) -> anyhow::Result<()> {
    let system = crate::systems::NewSystem {
        id: id.to_owned(),
        name: BENCHMARK.to_owned(),
        department: BENCHMARK.to_owned(),
        region_code: "520100".to_owned(),
        protocol: protocol.to_owned(),
        endpoint: endpoint.to_owned(),
        credentials_ref: None,
        secret: false,
    }
    .validate(chrono::Utc::now())?;
    store.insert_system(&system, "bench").await?;
    Ok(())
}

/// Runs `f` `rounds` times and keeps the fastest (the least disturbed by other load).
pub fn fastest<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let out = f();
        let took = started.elapsed();
        if best.as_ref().is_none_or(|(b, _)| took < *b) {
            best = Some((took, out));
        }
    }
    best.unwrap_or_else(|| unreachable!("at least one round runs"))
}
