//! The write-back path end to end through the real `ronghe serve` (issue 6), on SQLite and on
//! PostgreSQL: the SOAP simulator's completed cases reach the exchange simulator; and crash
//! safety — the node takes signed pushes from several clients while delivering to the exchange,
//! is killed with SIGKILL mid-stream and started again on the same store. Every push that was
//! acknowledged must be stored, and every stored version must reach the exchange as exactly one
//! fact (at-least-once delivery may repeat a request, never with different content).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::Server;
use ronghe::store::{Store, StoreOptions};
use ronghe_adapters::signing::Signer;
use ronghe_adapters::sim::exchange::ExchangeSim;
use ronghe_adapters::sim::soap::{Push, SoapSim};
use ronghe_adapters::sim::{SimOptions, data, rest};
use ronghe_crypto::MacAlgorithm;
use serde_json::Value;

const SYSTEM: &str = "sim-rest";
const SECRET: &str = "crash-test-secret";
const CLIENTS: usize = 4;
/// Acknowledged pushes before the kill.
const BEFORE_KILL: usize = 120;

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

/// A node's config in `dir` (mappings of the repository, delivery to `exchange` with short
/// leases and back-off) and `system` registered with a write-back key: answers the config path.
fn platform(dir: &std::path::Path, database_url: &str, exchange: &str, system: &str) -> String {
    let config = format!(
        r#"mappings_dir = "{mappings}"

[exchange]
url = "{exchange}"
lease_seconds = 3
timeout_seconds = 2
poll_interval_ms = 100
backoff_base_ms = 50
backoff_max_seconds = 1
"#,
        mappings = concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
    );
    let config_path = dir.join("ronghe.toml");
    std::fs::write(&config_path, config).unwrap();
    let config_path = config_path.display().to_string();
    let secret = dir.join("writeback.key");
    std::fs::write(&secret, SECRET).unwrap();
    let writeback = dir.join("writeback.toml");
    std::fs::write(
        &writeback,
        format!(
            "[[keys]]\nid = \"k\"\nalgorithm = \"hmac-sm3\"\nsecret = \"file:{}\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config_path.as_str(), "--database", database_url];
        all.extend_from_slice(args);
        common::binary::run_ronghe(dir, &all, None).check(0, &[])
    };
    run(&common::binary::add_system_args(system, "http://10.0.0.5/api"));
    run(&["writeback", "attach", system, &writeback.display().to_string()]);
    config_path
}

/// Waits (with a deadline) until the exchange holds every one of `keys`.
async fn delivered(exchange: &ExchangeSim, keys: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let facts: BTreeSet<String> = exchange.facts().into_iter().map(|f| f.key).collect();
        if keys.is_subset(&facts) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered: {:?}",
            keys.difference(&facts).take(5).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The SOAP simulator (社保待遇系统) pushes its completed cases, GBK and signed with SM3, into
/// `ronghe serve`, which delivers each to the exchange simulator with the Art. 27 fields.
async fn soap_to_exchange(dir: tempfile::TempDir, database_url: String) {
    let exchange = ExchangeSim::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config = platform(dir.path(), &database_url, &exchange.endpoint(), "sim-soap");
    let node = Server::start(&database_url, std::path::Path::new(&config));
    let sim = SoapSim::start(&SimOptions {
        cases: 120,
        ..Default::default()
    })
    .await
    .unwrap();
    let signer = Signer::new("k", MacAlgorithm::HmacSm3, SECRET.as_bytes().to_vec());
    let push = Push::new(format!("{}/soap/sim-soap/writeback", node.base), Some(signer));
    let pushed = sim.push_completed(&push).await.unwrap();
    assert_eq!(pushed, sim.completed().len());
    assert!(pushed > 10, "the simulator holds completed cases");
    let store = Store::open(&database_url, &StoreOptions::default())
        .await
        .unwrap();
    let mapping = ronghe::mapping::Mapping::compile(include_str!("../mappings/sim-soap.toml")).unwrap();
    let mut keys = BTreeSet::new();
    for xml in sim.completed() {
        let no = xml
            .split("<办件编号>")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap();
        let record = store.get_case("sim-soap", no).await.unwrap();
        assert_eq!(
            record.mapping_version.as_deref(),
            Some(mapping.version()),
            "issue 5: the mapping's version is stored with the case"
        );
        keys.insert(format!("sim-soap/{no}/{}", record.version));
    }
    delivered(&exchange, &keys).await;
    let fact = exchange.facts().into_iter().next().unwrap();
    for field in ["事项名称", "申请人", "受理部门", "办理结果"] {
        assert!(
            fact.payload.to_string().contains(field),
            "Art. 27 field {field} in {}",
            fact.payload
        );
    }
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_soap_simulator_reaches_the_exchange_through_ronghe() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ronghe.db").display());
    soap_to_exchange(dir, url).await;
}

#[cfg(feature = "postgres-tests")]
#[tokio::test(flavor = "multi_thread")]
async fn the_soap_simulator_reaches_the_exchange_through_ronghe_on_postgres() {
    soap_to_exchange(tempfile::tempdir().unwrap(), common::fresh_pg_url().await).await;
}

async fn kill_and_restart(dir: tempfile::TempDir, database_url: String) {
    let exchange = ExchangeSim::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config_path = platform(dir.path(), &database_url, &exchange.endpoint(), SYSTEM);
    let signer = Signer::new("k", MacAlgorithm::HmacSm3, SECRET.as_bytes().to_vec());
    let acked = Arc::new(Mutex::new(Vec::new()));
    let node = Server::start(&database_url, std::path::Path::new(&config_path));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let ids = c * 1000..c * 1000 + 1000;
            tokio::spawn(client(node.base.clone(), signer.clone(), ids, acked.clone()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < BEFORE_KILL {
        assert!(Instant::now() < deadline, "the clients made too little progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.kill();
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
    let node = Server::start(&database_url, std::path::Path::new(&config_path));
    client(node.base.clone(), signer.clone(), 9000..9010, acked.clone()).await;
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
    delivered(&exchange, &expected).await;
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
    node.stop();
}
