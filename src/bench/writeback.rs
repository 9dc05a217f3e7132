//! Write-back intake throughput and end-to-end lag (issue 6): signed pushes to a real listening
//! server on a benchmark's store (a fresh SQLite file, or an empty PostgreSQL database). First
//! the lag from acknowledgement to arrival at the exchange simulator, with the delivery worker
//! running; then single records at several concurrency levels and batches, against a bare
//! handler that does no work (same client, same signed bodies, same server stack) and a raw
//! multi-row insert of the same rows into the same store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use axum::Router;
use axum::routing::post;
use ronghe_adapters::signing::Signer;
use ronghe_adapters::sim::exchange::ExchangeSim;
use ronghe_adapters::sim::{data, rest};
use ronghe_adapters::{Fixed, Raw};
use ronghe_crypto::MacAlgorithm;
use serde_json::Value;

use super::Figure;
use crate::mapping::Mapping;
use crate::server::{AppState, Metrics, app};
use crate::store::Store;

pub(super) const SYSTEM: &str = "bench-writeback";
pub(super) const SECRET: &str = "bench-writeback-secret";

/// The benchmark system's write-back config, its key's secret at `secret` (a reference).
fn config(secret: &str) -> String {
    format!(
        "[[keys]]\nid = \"bench\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{secret}\"\n\n[intake]\nmax_batch = 500\n"
    )
}

/// The signer of the benchmark's pushes, and the path they go to.
pub(super) fn signer() -> (Signer, String) {
    (
        Signer::new("bench", MacAlgorithm::HmacSha256, SECRET.as_bytes().to_vec()),
        format!("/api/v1/writeback/{SYSTEM}"),
    )
}

/// Latencies of the requests of one run, and how long it took.
pub(super) struct Run {
    pub(super) elapsed: Duration,
    latencies: Vec<Duration>,
    /// When each record was acknowledged, by idempotency key.
    pub(super) acked: Vec<(String, SystemTime)>,
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Sends `bodies` (each a JSON array or object of records) to `url` from `concurrency` tasks.
pub(super) async fn load(
    url: &str,
    path: &str,
    signer: &Signer,
    bodies: Vec<String>,
    concurrency: usize,
) -> anyhow::Result<Run> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (http, queue, signer) = (http.clone(), queue.clone(), signer.clone());
            let (url, path) = (url.to_owned(), path.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut acked = Vec::new();
                loop {
                    let Some(body) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                        return Ok::<_, anyhow::Error>((latencies, acked));
                    };
                    let (latency, keys) = push(&http, &url, &path, &signer, body).await?;
                    latencies.push(latency);
                    let now = SystemTime::now();
                    acked.extend(keys.into_iter().map(|key| (key, now)));
                }
            })
        })
        .collect();
    let mut run = Run {
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        acked: Vec::new(),
    };
    for task in tasks {
        let (latencies, acked) = task.await??;
        run.latencies.extend(latencies);
        run.acked.extend(acked);
    }
    run.elapsed = started.elapsed();
    run.latencies.sort();
    Ok(run)
}

/// Signs `body` and pushes it to `url` + `path`: how long the answer took, and the idempotency
/// keys (`system/case_no/version`) of the records it stored as their case's new current version
/// (`created` or `updated`: the ones the exchange is to receive; a stale, duplicate or rejected
/// record is left out).
pub(super) async fn push(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    signer: &Signer,
    body: String,
) -> anyhow::Result<(Duration, Vec<String>)> {
    let signed = signer.sign("POST", path, body.as_bytes())?;
    let mut request = http
        .post(format!("{url}{path}"))
        .header("content-type", "application/json");
    for (name, value) in &signed.headers {
        request = request.header(*name, value);
    }
    let sent = Instant::now();
    let response = request.body(signed.body).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "push answered {}",
        response.status()
    );
    let answer: Value = response.json().await?;
    let latency = sent.elapsed();
    let keys = answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["result"] == "accepted" && ["created", "updated"].contains(&r["outcome"].as_str().unwrap_or(""))
        })
        .filter_map(|r| {
            Some(format!(
                "{SYSTEM}/{}/{}",
                r["case_no"].as_str()?,
                r["version"].as_i64()?
            ))
        })
        .collect();
    Ok((latency, keys))
}

/// The simulator's case series the write-back benches push.
pub(super) const SERIES: u64 = 4242;

/// The REST simulator's records `from..from + count`, as JSON texts, spaced so that all of them
/// fall within the simulator's history (`data::history_spacing`; its usual 10 minutes up to
/// about 96,000 records). At 10 minutes apart, the records past about the 101,000th would be
/// applied in the future, and the platform refuses them.
pub(super) fn records(from: usize, count: usize) -> Vec<Value> {
    let spacing = data::history_spacing(from + count);
    (from..from + count)
        .map(|i| rest::to_json(&data::case_spaced(SERIES, i, spacing)))
        .collect()
}

pub(super) async fn serve(router: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

fn figure(name: String, items: usize, bytes: usize, run: &Run, baseline: &Run) -> Figure {
    Figure {
        name,
        items,
        bytes,
        seconds: run.elapsed.as_secs_f64(),
        baseline_seconds: baseline.elapsed.as_secs_f64(),
        p50_ms: Some(percentile(&run.latencies, 0.5)),
        p99_ms: Some(percentile(&run.latencies, 0.99)),
    }
}

/// Single pushes of `requests` records at each concurrency, batches of `batch`, the raw insert
/// baseline, and the end-to-end lag, on a benchmark's store: the PostgreSQL `database` (an empty
/// database), or a fresh SQLite file removed afterwards.
pub async fn run(
    database: &str,
    requests: usize,
    batch: usize,
    concurrency: &[usize],
) -> anyhow::Result<Vec<Figure>> {
    super::in_scratch_dir("writeback", |dir| async move {
        let (store, url) = platform(&dir, database, None).await?;
        let figures = measure(&store, &url, requests, batch, concurrency).await;
        store.close().await;
        figures
    })
    .await
}

/// A platform on a benchmark's store (`open_store`: the PostgreSQL `database`, or a fresh SQLite
/// file in `dir`), sealing personal values with `sealer` when given, with the benchmark systems
/// and the write-back config, served on loopback: its store and URL.
pub(super) async fn platform(
    dir: &std::path::Path,
    database: &str,
    sealer: Option<Arc<dyn crate::store::Sealer>>,
) -> anyhow::Result<(Store, String)> {
    std::fs::create_dir_all(dir)?;
    let (store, _) = super::open_store(database, dir).await?;
    let store = match sealer {
        Some(sealer) => store.sealed_with(sealer),
        None => store,
    };
    prepare(&store, dir, "env:BENCH_WB").await?;
    let secrets = Fixed(HashMap::from([("env:BENCH_WB".to_owned(), SECRET.to_owned())]));
    let state = AppState {
        store: store.clone(),
        metrics: Metrics::new(),
        bridge: None,
        calendar: Arc::new(crate::calendar::Calendar::embedded().clone()),
        writeback: crate::intake::Intake::new(&store, dir, Arc::new(secrets)),
        accounts: crate::accounts::Accounts::new(store.clone(), None, Default::default()),
    };
    let url = serve(app(state, 8 * 1024 * 1024)).await?;
    Ok((store, url))
}

/// Makes `store` ready for the benchmark's pushes (refused, `NotEmpty`, unless it holds no
/// system yet): the benchmark systems registered, the
/// mapping written into `mappings` (created), the write-back config attached with its key's
/// secret at `secret` (an `env:`/`file:` reference).
pub(super) async fn prepare(store: &Store, mappings: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    let held = store.list_systems(None).await?;
    if let Some(first) = held.first() {
        return Err(super::NotEmpty {
            systems: held.len(),
            first: first.id.clone(),
        }
        .into());
    }
    std::fs::create_dir_all(mappings)?;
    std::fs::write(
        mappings.join(format!("{SYSTEM}.toml")),
        super::mapping::REST_MAPPING,
    )?;
    for id in [SYSTEM, "bench-raw"] {
        super::register(store, id).await?;
    }
    store
        .set_writeback_config(SYSTEM, &config(secret), "bench")
        .await?;
    Ok(())
}

/// The lag first, while the store holds nothing to deliver, then the throughput runs on the
/// same platform (the lag's figure printed last).
async fn measure(
    store: &Store,
    url: &str,
    requests: usize,
    batch: usize,
    concurrency: &[usize],
) -> anyhow::Result<Vec<Figure>> {
    let (signer, path) = signer();
    let lag_records = requests.min(2000);
    let lag = lag(store, url, records(0, lag_records)).await?;
    let mut next = lag_records;
    let bare = serve(Router::new().route(
        "/bare",
        post(|body: bytes::Bytes| async move {
            axum::Json(serde_json::json!({ "results": [], "bytes": body.len() }))
        }),
    ))
    .await?;
    let mut figures = Vec::new();
    for &c in concurrency {
        let bodies: Vec<String> = records(next, requests).iter().map(Value::to_string).collect();
        next += requests;
        let bytes = bodies.iter().map(String::len).sum();
        let baseline = load(&bare, "/bare", &signer, bodies.clone(), c).await?;
        let run = load(url, &path, &signer, bodies, c).await?;
        anyhow::ensure!(
            run.acked.len() == requests,
            "{} of {requests} acknowledged",
            run.acked.len()
        );
        figures.push(figure(
            format!("write-back single, {c} clients (vs bare)"),
            requests,
            bytes,
            &run,
            &baseline,
        ));
    }
    let batch_records = records(next, requests);
    let batches: Vec<String> = batch_records
        .chunks(batch.max(1))
        .map(|chunk| Value::Array(chunk.to_vec()).to_string())
        .collect();
    let bytes = batches.iter().map(String::len).sum();
    let c = 4;
    let baseline = load(&bare, "/bare", &signer, batches.clone(), c).await?;
    let run = load(url, &path, &signer, batches, c).await?;
    anyhow::ensure!(
        run.acked.len() == requests,
        "{} of {requests} acknowledged",
        run.acked.len()
    );
    figures.push(figure(
        format!("write-back batch {batch}, {c} clients (vs bare)"),
        requests,
        bytes,
        &run,
        &baseline,
    ));

    // The same rows, mapped, inserted plainly: the store's floor.
    let mapping = Mapping::compile(super::mapping::REST_MAPPING).map_err(|i| anyhow::anyhow!("{i:?}"))?;
    let now = chrono::Utc::now().fixed_offset();
    let cases = batch_records
        .into_iter()
        .map(|r| {
            mapping
                .apply(&Raw::Json(r), now)
                .map_err(|e| anyhow::anyhow!("{e:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    store
        .insert_versions_unchecked("bench-raw", &cases, batch)
        .await?;
    let raw = Run {
        elapsed: started.elapsed(),
        latencies: Vec::new(),
        acked: Vec::new(),
    };
    let mut vs_raw = figure(
        format!("write-back batch {batch} (vs raw insert)"),
        requests,
        bytes,
        &run,
        &raw,
    );
    (vs_raw.p50_ms, vs_raw.p99_ms) = (None, None);
    figures.push(vs_raw);
    figures.push(lag);
    Ok(figures)
}

/// End-to-end lag: `records` pushed singly by 8 clients to the platform at `url` while a
/// delivery worker on its `store` delivers to the exchange simulator; p50 and p99 from each
/// record's acknowledgement to its arrival.
async fn lag(store: &Store, url: &str, records: Vec<Value>) -> anyhow::Result<Figure> {
    let (signer, path) = signer();
    let exchange = ExchangeSim::start("127.0.0.1:0".parse()?).await?;
    let mut config = crate::exchange::ExchangeConfig::new(exchange.endpoint());
    config.poll_interval_ms = 50;
    let worker = crate::exchange::Worker::new(
        store.clone(),
        config
            .build(&Fixed::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        "bench".to_owned(),
        crate::exchange::DeliveryMetrics::new(),
    )
    .context("exchange worker")?;
    let stop = tokio_util::sync::CancellationToken::new();
    let delivering = tokio::spawn(worker.run(stop.clone()));
    let count = records.len();
    let bodies: Vec<String> = records.iter().map(Value::to_string).collect();
    let run = load(url, &path, &signer, bodies, 8).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let arrived: HashMap<String, SystemTime> = loop {
        let facts: HashMap<String, SystemTime> =
            exchange.facts().into_iter().map(|f| (f.key, f.at)).collect();
        if run.acked.iter().all(|(k, _)| facts.contains_key(k)) {
            break facts;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the exchange did not receive everything in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.cancel();
    let _ = delivering.await;
    let mut lags: Vec<Duration> = run
        .acked
        .iter()
        .map(|(k, acked)| arrived[k].duration_since(*acked).unwrap_or(Duration::ZERO))
        .collect();
    lags.sort();
    Ok(Figure {
        name: "end-to-end lag ack → exchange (8 clients)".to_owned(),
        items: count,
        bytes: 0,
        seconds: run.elapsed.as_secs_f64(),
        baseline_seconds: run.elapsed.as_secs_f64(),
        p50_ms: Some(percentile(&lags, 0.5)),
        p99_ms: Some(percentile(&lags, 0.99)),
    })
}

#[cfg(test)]
mod tests {
    use super::records;

    /// The last of a million records is applied before the simulator's history ends (the end of
    /// October 2026), not in the future.
    #[test]
    fn a_long_run_of_records_stays_in_the_past() {
        for (from, count) in [(0, 3), (999_997, 3)] {
            for record in records(from, count) {
                let applied = record["applyTime"].as_str().expect("an application time");
                assert!(applied < "2026-11-01", "record {from}+: applied {applied}");
            }
        }
    }
}
