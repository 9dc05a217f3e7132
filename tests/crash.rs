//! Crash safety of the write-back path (issue 6): the real `ronghe serve` process on a SQLite
//! store takes signed pushes from several clients while delivering to the exchange simulator;
//! it is killed with SIGKILL mid-stream and started again on the same store. Every push that was
//! acknowledged must be stored, and every stored version must reach the exchange as exactly one
//! fact (at-least-once delivery may repeat a request, never with different content).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ronghe::store::{Store, StoreOptions};
use ronghe_adapters::signing::{Algorithm, Signer};
use ronghe_adapters::sim::exchange::ExchangeSim;
use ronghe_adapters::sim::{data, rest};
use serde_json::Value;

const SYSTEM: &str = "sim-rest";
const SECRET: &str = "crash-test-secret";
const CLIENTS: usize = 4;
/// Acknowledged pushes before the kill.
const BEFORE_KILL: usize = 120;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    child: Child,
    url: String,
}

/// Starts `ronghe serve` with `config` and waits until it answers `/readyz`.
async fn start(dir: &std::path::Path, config: &str, port: u16) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_ronghe"))
        .args(["--config", config, "serve"])
        .current_dir(dir)
        .env("WB_SECRET", SECRET)
        .env("RONGHE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ronghe serve");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return Node { child, url };
        }
        assert!(
            Instant::now() < deadline,
            "ronghe serve did not become ready on {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pushes seeded REST records `next..` one at a time until told to stop or the server fails;
/// records every acknowledged (case number, version).
async fn client(
    url: String,
    signer: Signer,
    ids: std::ops::Range<usize>,
    acked: Arc<Mutex<Vec<(String, i64)>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let path = format!("/api/v1/writeback/{SYSTEM}");
    for i in ids {
        // Two versions of every case, the second a later stage, so per-case order matters.
        let mut record = rest::to_json(&data::case(11, i));
        for bump in 0..2 {
            if bump == 1 {
                let version = record["version"].as_i64().unwrap() + 1;
                record["version"] = Value::from(version);
            }
            let body = record.to_string();
            let signed = signer.sign("POST", &path, body.as_bytes()).unwrap();
            let mut request = http
                .post(format!("{url}{path}"))
                .header("content-type", "application/json");
            for (name, value) in &signed.headers {
                request = request.header(*name, value);
            }
            let Ok(response) = request.body(signed.body).send().await else {
                return; // the server died: this push was never acknowledged
            };
            if !response.status().is_success() {
                return;
            }
            let Ok(answer) = response.json::<Value>().await else {
                return;
            };
            for r in answer["results"].as_array().unwrap() {
                assert_ne!(r["result"], "rejected", "a valid record was rejected: {r}");
                acked.lock().unwrap().push((
                    r["case_no"].as_str().unwrap().to_owned(),
                    r["version"].as_i64().unwrap(),
                ));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_case_and_delivers_each_version_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ronghe.db").display());
    kill_and_restart(dir, url).await;
}

#[cfg(feature = "postgres-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_on_postgres_loses_nothing_either() {
    kill_and_restart(tempfile::tempdir().unwrap(), common::fresh_pg_url().await).await;
}

async fn kill_and_restart(dir: tempfile::TempDir, database_url: String) {
    let exchange = ExchangeSim::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = free_port();
    let config = format!(
        r#"listen = "127.0.0.1:{port}"
database_url = "{database_url}"
mappings_dir = "{mappings}"

[exchange]
url = "{exchange}"
lease_seconds = 3
timeout_seconds = 2
poll_interval_ms = 100
backoff_base_ms = 50
backoff_max_seconds = 1
"#,
        mappings = concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
        exchange = exchange.endpoint(),
    );
    let config_path = dir.path().join("ronghe.toml");
    std::fs::write(&config_path, config).unwrap();
    let config_path = config_path.display().to_string();
    let writeback = dir.path().join("writeback.toml");
    std::fs::write(
        &writeback,
        "[[keys]]\nid = \"k\"\nalgorithm = \"hmac-sm3\"\nsecret = \"env:WB_SECRET\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config_path.as_str()];
        all.extend_from_slice(args);
        common::binary::run_ronghe(dir.path(), &all, None).check(0, &[])
    };
    run(&common::binary::add_system_args(SYSTEM, "http://10.0.0.5/api"));
    run(&["writeback", "attach", SYSTEM, &writeback.display().to_string()]);

    let signer = Signer::new("k", Algorithm::HmacSm3, SECRET.as_bytes().to_vec());
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut node = start(dir.path(), &config_path, port).await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let ids = c * 1000..c * 1000 + 1000;
            tokio::spawn(client(node.url.clone(), signer.clone(), ids, acked.clone()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < BEFORE_KILL {
        assert!(Instant::now() < deadline, "the clients made too little progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.child.kill().expect("SIGKILL ronghe serve"); // Child::kill sends SIGKILL on Unix
    node.child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let before_restart = acked.lock().unwrap().len();
    assert!(before_restart >= BEFORE_KILL);
    assert!(
        before_restart < CLIENTS * 2000,
        "the kill came while the clients were still pushing"
    );

    // Started again on the same store: a few more pushes, then everything drains.
    let mut node = start(dir.path(), &config_path, port).await;
    client(node.url.clone(), signer.clone(), 9000..9010, acked.clone()).await;
    let acked: BTreeSet<(String, i64)> = acked.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        acked.len(),
        before_restart + 20,
        "every push after the restart is acknowledged"
    );

    let store = Store::open(&database_url, &StoreOptions::default())
        .await
        .unwrap();
    for (case_no, version) in &acked {
        let history = store.case_history(SYSTEM, case_no).await.unwrap();
        assert!(
            history.iter().any(|v| v.version == *version),
            "acknowledged {case_no} v{version} is not stored"
        );
    }
    let expected: BTreeSet<String> = acked.iter().map(|(no, v)| format!("{SYSTEM}/{no}/{v}")).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered: BTreeSet<String> = exchange.facts().into_iter().map(|f| f.key).collect();
        if expected.is_subset(&delivered) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered after the restart: {:?}",
            expected.difference(&delivered).take(5).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Exactly one fact per version: repeats (after the kill) carry the same content.
    let mut payloads: BTreeMap<String, Value> = BTreeMap::new();
    for r in exchange
        .received()
        .into_iter()
        .filter(|r| (200..300).contains(&r.status))
    {
        if let Some(first) = payloads.get(&r.key) {
            assert_eq!(
                first, &r.payload,
                "{} was delivered twice with different content",
                r.key
            );
        } else {
            payloads.insert(r.key, r.payload);
        }
    }
    assert!(
        exchange.concurrent().is_empty(),
        "delivered concurrently: {:?}",
        exchange.concurrent()
    );
    // In order per case: each case's versions arrive in version order.
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for fact in exchange.facts() {
        let (case, version) = fact.key.rsplit_once('/').unwrap();
        let version: i64 = version.parse().unwrap();
        if let Some(previous) = last.insert(case.to_owned(), version) {
            assert!(previous < version, "{case}: v{version} arrived after v{previous}");
        }
    }
    node.child.kill().unwrap();
    node.child.wait().unwrap();
}
