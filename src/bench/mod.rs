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

/// The store a benchmark writes to: the PostgreSQL `database` it was given, or a fresh SQLite
/// file in its directory `dir`.
fn store_url(database: &str, dir: &std::path::Path) -> String {
    if database.starts_with("postgres") {
        database.to_owned()
    } else {
        format!("sqlite://{}", dir.join("store.db").display())
    }
}

/// Registers a benchmark system `id` (a REST system nobody calls).
async fn register(store: &crate::store::Store, id: &str) -> anyhow::Result<()> {
    register_as(store, id, "rest", "http://127.0.0.1:1/").await
}

/// Registers a benchmark system `id` speaking `protocol` at `endpoint`.
async fn register_as(
    store: &crate::store::Store,
    id: &str,
    protocol: &str,
    endpoint: &str,
) -> anyhow::Result<()> {
    let system = crate::systems::NewSystem {
        id: id.to_owned(),
        name: "benchmark".to_owned(),
        department: "benchmark".to_owned(),
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
