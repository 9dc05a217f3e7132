//! Delivery to the provincial data-sharing exchange (issue 6, Art. 27): the worker against the
//! exchange simulator over a real socket, on SQLite; two workers (two node ids) sharing one
//! PostgreSQL outbox with `--features postgres-tests` (RONGHE_TEST_PG_URL).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ronghe::case::Case;
use ronghe::exchange::{DeliveryMetrics, ExchangeConfig, Worker};
use ronghe::store::{OutboxState, Replay, Store};
use ronghe_adapters::sim::exchange::ExchangeSim;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const SYSTEM: &str = "gy-scjg";

/// Version `v` of case `no`: the finished fixture with content that differs per version.
fn version(no: &str, v: i64) -> Case {
    let mut c = common::case("case_finished");
    c.case_no = no.to_owned();
    c.version = v;
    c.review_opinion = Some(format!("第{v}版审查意见"));
    c
}

async fn exchange_sim() -> ExchangeSim {
    ExchangeSim::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("start the exchange simulator")
}

/// A config for the simulator with short waits, so retries come quickly.
fn config(sim: &ExchangeSim) -> ExchangeConfig {
    let mut config = ExchangeConfig::new(sim.endpoint());
    config.backoff_base_ms = 5;
    config.backoff_max_seconds = 1;
    config.poll_interval_ms = 50;
    config.timeout_seconds = 2;
    config.lease_seconds = 10;
    config.batch_size = 8;
    config
}

fn worker(store: &Store, config: &ExchangeConfig, node: &str) -> Worker {
    worker_counting(store, config, node, DeliveryMetrics::new())
}

fn worker_counting(
    store: &Store,
    config: &ExchangeConfig,
    node: &str,
    metrics: std::sync::Arc<DeliveryMetrics>,
) -> Worker {
    let secrets = ronghe_adapters::Fixed(HashMap::from([(
        "env:EXCHANGE_TOKEN".to_owned(),
        "t0ken".to_owned(),
    )]));
    let exchange = config.build(&secrets).expect("the exchange config builds");
    Worker::new(store.clone(), exchange, node.to_owned(), metrics).expect("worker")
}

async fn with_system(store: &Store) {
    store
        .insert_system(&common::system(SYSTEM), "test")
        .await
        .expect("insert system");
}

/// Waits (with a deadline) until nothing is pending.
async fn until_delivered(store: &Store, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = store.outbox_status().await.unwrap();
        if status.backlog == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still pending after {within:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts every fact arrived once, and each case's versions arrived in ascending order.
fn assert_once_in_order(sim: &ExchangeSim, expected: usize) {
    let facts = sim.facts();
    assert_eq!(
        facts.len(),
        expected,
        "facts: {:?}",
        facts.iter().map(|f| &f.key).collect::<Vec<_>>()
    );
    let mut last: HashMap<String, i64> = HashMap::new();
    for fact in &facts {
        let no = fact.payload["办件编号"].as_str().unwrap().to_owned();
        let v = fact.payload["版本号"].as_i64().unwrap();
        assert_eq!(fact.key, format!("{SYSTEM}/{no}/{v}"));
        if let Some(previous) = last.insert(no.clone(), v) {
            assert!(
                previous < v,
                "{no}: version {v} reached the exchange after {previous}"
            );
        }
    }
    // Every acknowledged delivery of one key carried the same fact.
    for received in sim.received().iter().filter(|r| r.status == 200) {
        let fact = facts.iter().find(|f| f.key == received.key).unwrap();
        assert_eq!(
            fact.payload, received.payload,
            "{} delivered as two facts",
            received.key
        );
    }
    assert!(
        sim.concurrent().is_empty(),
        "concurrent deliveries: {:?}",
        sim.concurrent()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_cases_reach_the_exchange_with_the_art_27_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    with_system(&store).await;
    let sim = exchange_sim().await;
    let mut config = config(&sim);
    config.token = Some(ronghe_adapters::SecretRef("env:EXCHANGE_TOKEN".into()));
    let worker = worker(&store, &config, "node-a");

    store
        .upsert_cases(SYSTEM, &[version("SC-1", 1), version("SC-2", 1)])
        .await
        .unwrap();
    let report = worker.drain().await.unwrap();
    assert_eq!((report.delivered, report.retried, report.dead), (2, 0, 0));
    let mut facts = sim.facts();
    // Different cases go out concurrently, in no set order.
    facts.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        facts.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["gy-scjg/SC-1/1", "gy-scjg/SC-2/1"]
    );
    let payload = &facts[0].payload;
    let fixture = common::case("case_finished");
    for (field, expected) in [
        ("事项名称", Value::from(fixture.item_name.clone())),
        ("办理区划", fixture.region_code.clone().into()),
        ("申请时间", "2025-11-20T09:30:00+08:00".into()),
        ("受理部门", "贵阳市南明区市场监督管理局".into()),
        ("受理人", "李四".into()),
        ("审查意见", "第1版审查意见".into()),
        ("办结时限", "2025-12-04T17:30:00+08:00".into()),
        ("办理结果", "approved".into()),
    ] {
        assert_eq!(payload[field], expected, "{field} in {payload:#}");
    }
    assert_eq!(payload["申请人"]["申请者名称"], "张三");
    assert_eq!(
        payload["申请人"]["申请者证件号码"],
        fixture.applicant.certificate_no.as_str()
    );
    assert_eq!(facts[0].authorization.as_deref(), Some("Bearer t0ken"));
    let status = store.outbox_status().await.unwrap();
    assert_eq!(
        (status.backlog, status.delivered, status.oldest_pending_at),
        (0, 2, None)
    );

    // An operator's template replaces the built-in one.
    let template = dir.path().join("payload.hbs");
    std::fs::write(
        &template,
        r#"{"caseNo": {{{json case_no}}}, "item": "{{case.item_name}}", "result": {{{json labels.result}}}, "key": "{{idempotency_key}}"}"#,
    )
    .unwrap();
    config.template = Some(template);
    let worker = self::worker(&store, &config, "node-a");
    let mut quoted = version("SC-3", 1);
    quoted.item_name = "食品\"经营\"许可".into();
    store.upsert_cases(SYSTEM, &[quoted]).await.unwrap();
    assert_eq!(worker.drain().await.unwrap().delivered, 1);
    let last = sim.facts().pop().unwrap();
    assert_eq!(
        last.payload,
        serde_json::json!({ "caseNo": "SC-3", "item": "食品\"经营\"许可", "result": "准予许可(出证办结)", "key": "gy-scjg/SC-3/1" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_down_then_back_delivers_everything_in_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    with_system(&store).await;
    let sim = exchange_sim().await;
    sim.set_down(true);
    let worker = worker(&store, &config(&sim), "node-a");
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    // Four versions of five cases, arriving in interleaved batches while the exchange is down.
    for v in 1..=4 {
        let batch: Vec<Case> = (1..=5).map(|n| version(&format!("SC-{n}"), v)).collect();
        store.upsert_cases(SYSTEM, &batch).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.received().len() < 10 {
        assert!(
            Instant::now() < deadline,
            "the worker does not try while the exchange is down"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sim.facts().is_empty());
    let status = store.outbox_status().await.unwrap();
    assert_eq!((status.backlog, status.dead), (20, 0));
    let retried = store.outbox_items(OutboxState::Pending, None, 100).await.unwrap();
    assert!(
        retried
            .iter()
            .any(|i| i.last_error.as_deref() == Some("HTTP 503 Service Unavailable"))
    );

    sim.set_down(false);
    until_delivered(&store, Duration::from_secs(30)).await;
    assert_once_in_order(&sim, 20);
    assert!(sim.repeated().is_empty(), "{:?}", sim.repeated());
    assert_eq!(store.outbox_status().await.unwrap().dead, 0);

    // New cases wake the worker at once (no poll wait needed, but polling would also find them).
    store.upsert_cases(SYSTEM, &[version("SC-9", 1)]).await.unwrap();
    until_delivered(&store, Duration::from_secs(10)).await;
    assert_once_in_order(&sim, 21);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops when told")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_exhausted_items_go_to_the_dead_letter_queue_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    with_system(&store).await;
    let sim = exchange_sim().await;
    let mut config = config(&sim);
    config.notify_after_seconds = 1;
    config.escalate_after_seconds = 2;
    config.retry_horizon_seconds = 3;
    let worker = worker(&store, &config, "node-a");

    // A non-retryable answer: A/2 is dead at once, A/3 waits behind it; B goes through.
    sim.reject("gy-scjg/A/2", true);
    store
        .upsert_cases(SYSTEM, &[version("A", 1), version("B", 1)])
        .await
        .unwrap();
    store.upsert_cases(SYSTEM, &[version("A", 2)]).await.unwrap();
    store.upsert_cases(SYSTEM, &[version("A", 3)]).await.unwrap();
    let report = worker.drain().await.unwrap();
    assert_eq!((report.delivered, report.dead), (2, 1), "{report:?}");
    let dead = store.outbox_items(OutboxState::Dead, None, 100).await.unwrap();
    assert_eq!(dead.iter().map(|i| i.key()).collect::<Vec<_>>(), ["gy-scjg/A/2"]);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400 Bad Request"));
    assert_eq!(dead[0].attempts, 1);

    // Past the retry horizon: C/1 is dead once it has been failing for 3 s.
    sim.set_down(true);
    store.upsert_cases(SYSTEM, &[version("C", 1)]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.outbox_status().await.unwrap().dead < 2 {
        assert!(
            Instant::now() < deadline,
            "C/1 never went to the dead-letter queue"
        );
        worker.pass().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let dead = store
        .outbox_items(OutboxState::Dead, Some(SYSTEM), 100)
        .await
        .unwrap();
    assert_eq!(
        dead.iter().map(|i| i.key()).collect::<Vec<_>>(),
        ["gy-scjg/A/2", "gy-scjg/C/1"]
    );
    assert!(
        dead[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("past the retry horizon of 3s"),
        "{:?}",
        dead[1]
    );
    let c_tries = sim.received().iter().filter(|r| r.key == "gy-scjg/C/1").count();
    assert_eq!(i64::try_from(c_tries).unwrap(), dead[1].attempts);
    assert!(
        c_tries > 2,
        "retried until the horizon, not given up at once: {c_tries}"
    );

    // While dead, A/3 is never tried.
    assert!(!sim.received().iter().any(|r| r.key == "gy-scjg/A/3"));

    // Replay after the cause is fixed: A/2 then A/3, and C/1, each once.
    sim.set_down(false);
    sim.reject("gy-scjg/A/2", false);
    let replayed = store
        .replay_outbox(&Replay::All { system_id: None }, "ops")
        .await
        .unwrap();
    assert_eq!(replayed.len(), 2);
    let report = worker.drain().await.unwrap();
    assert_eq!((report.delivered, report.dead), (3, 0), "{report:?}");
    assert_once_in_order(&sim, 5);
    let a: Vec<String> = sim
        .facts()
        .into_iter()
        .map(|f| f.key)
        .filter(|k| k.contains("/A/"))
        .collect();
    assert_eq!(a, ["gy-scjg/A/1", "gy-scjg/A/2", "gy-scjg/A/3"]);
    let status = store.outbox_status().await.unwrap();
    assert_eq!((status.backlog, status.dead, status.delivered), (0, 0, 5));
}

/// Two nodes (two pools, two node ids) deliver from one PostgreSQL outbox while cases arrive: no
/// key is ever in flight twice, and with an exchange that never fails each version arrives once.
#[cfg(feature = "postgres-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres_never_deliver_one_item_twice() {
    use ronghe::store::StoreOptions;
    let url = common::fresh_pg_url().await;
    let first = Store::open(&url, &StoreOptions::default()).await.unwrap();
    let second = Store::open(&url, &StoreOptions::default()).await.unwrap();
    with_system(&first).await;
    let sim = exchange_sim().await;
    sim.set_delay(Duration::from_millis(15));
    let config = config(&sim);
    let stop = CancellationToken::new();
    let counts = [DeliveryMetrics::new(), DeliveryMetrics::new()];
    let nodes = [
        tokio::spawn(worker_counting(&first, &config, "node-1", counts[0].clone()).run(stop.clone())),
        tokio::spawn(worker_counting(&second, &config, "node-2", counts[1].clone()).run(stop.clone())),
    ];
    const CASES: usize = 30;
    const VERSIONS: i64 = 3;
    for v in 1..=VERSIONS {
        for chunk in (1..=CASES).collect::<Vec<_>>().chunks(10) {
            let batch: Vec<Case> = chunk.iter().map(|n| version(&format!("PG-{n}"), v)).collect();
            let store = if v % 2 == 0 { &first } else { &second };
            store.upsert_cases(SYSTEM, &batch).await.unwrap();
        }
    }
    until_delivered(&first, Duration::from_secs(60)).await;
    assert_once_in_order(&sim, CASES * VERSIONS as usize);
    assert!(
        sim.repeated().is_empty(),
        "delivered more than once: {:?}",
        sim.repeated()
    );
    assert_eq!(sim.received().len(), CASES * VERSIONS as usize);
    stop.cancel();
    for node in nodes {
        tokio::time::timeout(Duration::from_secs(10), node)
            .await
            .unwrap()
            .unwrap();
    }
    // Both nodes took part, and between them acknowledged each version once.
    let delivered: Vec<u64> = counts.iter().map(|m| m.delivered.get()).collect();
    assert!(
        delivered.iter().all(|&n| n > 0),
        "one node did all the work: {delivered:?}"
    );
    assert_eq!(delivered.iter().sum::<u64>(), (CASES * VERSIONS as usize) as u64);
}

/// Migration 0007 enqueues the current version of every case stored before it.
/// (A macro: one body per backend, like the store's `on_pool!`.)
macro_rules! backfill_enqueues_stored_cases {
    ($connection:ty, $url:expr, $dialect:literal) => {{
    use sqlx::Connection;
    let mut conn = <$connection>::connect($url).await.unwrap();
    let dialect = $dialect;
    let dir = format!("{}/migrations/{dialect}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    // The migrations before the exchange's (0007), then 0007 itself: later ones may touch the
    // outbox (0021 does).
    let name = |p: &std::path::PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    let before: Vec<_> = files.iter().filter(|p| name(p).as_str() < "0007").cloned().collect();
    let exchange: Vec<_> = files.iter().filter(|p| name(p).starts_with("0007")).cloned().collect();
    for file in &before {
        sqlx::raw_sql(sqlx::AssertSqlSafe(std::fs::read_to_string(file).unwrap()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let now = "2025-11-20T01:30:00.000001Z";
    let setup = format!(
        "INSERT INTO systems (id, name, department, region_code, protocol, endpoint, secret, status, created_at, updated_at)
         VALUES ('gy-a', 'n', 'd', '520100', 'rest', 'http://x', false, 'registered', '{now}', '{now}');
         INSERT INTO cases (system_id, case_no, version, content_hash, stage, item_name, region_code, applied_at, body, received_at)
         VALUES ('gy-a', 'OLD-1', 7, 'h7', 'finished', 'i', '520102', '{now}', '{{}}', '{now}'),
                ('gy-a', 'OLD-2', 2, 'h2', 'review', 'i', '520102', '{now}', '{{}}', '{now}');"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup)).execute(&mut conn).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(std::fs::read_to_string(&exchange[0]).unwrap()))
        .execute(&mut conn)
        .await
        .unwrap();
    let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT case_no, version, state, attempts FROM exchange_outbox ORDER BY case_no",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            ("OLD-1".to_owned(), 7, "pending".to_owned(), 0),
            ("OLD-2".to_owned(), 2, "pending".to_owned(), 0)
        ]
    );
    }};
}

#[tokio::test]
async fn migration_backfills_the_outbox_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    backfill_enqueues_stored_cases!(sqlx::SqliteConnection, &url, "sqlite");
}

#[cfg(feature = "postgres-tests")]
#[tokio::test]
async fn migration_backfills_the_outbox_on_postgres() {
    backfill_enqueues_stored_cases!(sqlx::PgConnection, &common::fresh_pg_url().await, "postgres");
}

/// A version stored on this node wakes its worker at once, long before the next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_items_wake_the_worker_before_its_poll() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    with_system(&store).await;
    let sim = exchange_sim().await;
    let mut config = config(&sim);
    config.poll_interval_ms = 600_000;
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker(&store, &config, "node-a").run(stop.clone()));
    for n in 1..=3 {
        store
            .upsert_cases(SYSTEM, &[version(&format!("W-{n}"), 1)])
            .await
            .unwrap();
        until_delivered(&store, Duration::from_secs(30)).await;
    }
    assert_once_in_order(&sim, 3);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap();
}

/// Issue 22: a store an older build wrote (the v17 fixture) with an open outbox (two open
/// versions per case of one system, a dead version with a later one behind it in another) is
/// carried forward: after the upgrade only the lowest open version of each case is claimable, the
/// next one heads its case once that is delivered, and a dead version still holds its case back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_store_keeps_its_open_outbox_in_order() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = common::store_written_by("v17", &dir);
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at, mapping_version)
         SELECT system_id, case_no, version + 1, content_hash || '+1', stage, body, received_at, mapping_version
         FROM case_versions WHERE system_id IN ('sim-rest', 'sim-soap');
         UPDATE exchange_outbox SET state = 'pending', delivered_at = NULL WHERE system_id = 'sim-rest';
         UPDATE exchange_outbox SET state = 'dead', last_error = 'HTTP 400' WHERE system_id = 'sim-soap';
         INSERT INTO exchange_outbox (system_id, case_no, version, content_hash, enqueued_at, state, attempts, next_attempt_at)
         SELECT system_id, case_no, version + 1, content_hash || '+1', enqueued_at, 'pending', 0, next_attempt_at
         FROM exchange_outbox WHERE system_id IN ('sim-rest', 'sim-soap');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let versions: HashMap<(String, String), i64> =
        sqlx::query_as::<_, (String, String, i64)>("SELECT system_id, case_no, version FROM cases")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|(s, c, v)| ((s, c), v))
            .collect();
    conn.close().await.unwrap();

    let store = Store::open(&url, &ronghe::store::StoreOptions::default())
        .await
        .expect("the v17 store upgrades");
    let lease = chrono::Duration::seconds(30);
    // Claims everything claimable, delivers it, and names what was claimed: system, case and
    // how far past the case's version before the upgrade.
    let round = || async {
        let claimed = store.claim_outbox("node-1", 1000, lease).await.unwrap();
        let settlements: Vec<_> = claimed
            .iter()
            .map(|c| (c.item.id, ronghe::store::Settlement::Delivered))
            .collect();
        store.settle_outbox_many("node-1", &settlements).await.unwrap();
        let mut seen: Vec<(String, i64)> = claimed
            .iter()
            .map(|c| {
                let old = versions[&(c.item.system_id.clone(), c.item.case_no.clone())];
                (c.item.system_id.clone(), c.item.version - old)
            })
            .collect();
        seen.sort();
        seen.dedup();
        (claimed.len(), seen)
    };
    assert_eq!(round().await, (40, vec![("sim-rest".to_owned(), 0)]));
    assert_eq!(round().await, (40, vec![("sim-rest".to_owned(), 1)]));
    assert_eq!(
        round().await,
        (0, vec![]),
        "the dead versions hold their cases back"
    );
    let replayed = store
        .replay_outbox(&Replay::All { system_id: None }, "ops")
        .await
        .unwrap();
    assert_eq!(replayed.len(), 26);
    assert_eq!(round().await, (26, vec![("sim-soap".to_owned(), 0)]));
    assert_eq!(round().await, (26, vec![("sim-soap".to_owned(), 1)]));
    let status = store.outbox_status().await.unwrap();
    assert_eq!((status.backlog, status.dead), (0, 0), "{status:?}");
}

/// Issue 22: an exchange down for longer than the old give-up time (12 attempts) receives every
/// version, in order, once it is back, without an operator: no dead letter, one notification and
/// one escalation (Art. 33) for the whole outage. Horizon and backoff cap are shortened so that
/// the outage takes seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_ends_with_everything_delivered_and_one_escalation() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    with_system(&store).await;
    let sim = exchange_sim().await;
    sim.set_down(true);
    let mut config = config(&sim);
    config.notify_after_seconds = 1;
    config.escalate_after_seconds = 2;
    config.retry_horizon_seconds = 120;
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker(&store, &config, "node-a").run(stop.clone()));
    for v in 1..=3 {
        let batch: Vec<Case> = (1..=5).map(|n| version(&format!("OUT-{n}"), v)).collect();
        store.upsert_cases(SYSTEM, &batch).await.unwrap();
    }
    // Down until every head has been tried more often than the old limit of 12 attempts.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tries = |n: usize| {
            sim.received()
                .iter()
                .filter(|r| r.key == format!("{SYSTEM}/OUT-{n}/1"))
                .count()
        };
        if (1..=5).all(|n| tries(n) > 12) {
            break;
        }
        assert!(Instant::now() < deadline, "the worker stopped trying");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = store.outbox_status().await.unwrap();
    assert_eq!((status.backlog, status.dead), (15, 0), "{status:?}");
    assert!(sim.facts().is_empty());
    let raised = store.list_notifications(None, None, 100).await.unwrap();
    let levels: Vec<&str> = raised.iter().rev().map(|n| n.level.as_str()).collect();
    assert_eq!(levels, ["reminder", "escalation"], "{raised:?}");
    assert!(
        raised
            .iter()
            .all(|n| n.subject_kind == "exchange" && n.topic == "unreachable")
    );
    assert!(
        raised[0]
            .message
            .contains("15 个办件版本待送达；恢复后将按序自动补送"),
        "{}",
        raised[0].message
    );

    sim.set_down(false);
    until_delivered(&store, Duration::from_secs(30)).await;
    assert_once_in_order(&sim, 15);
    let status = store.outbox_status().await.unwrap();
    assert_eq!((status.backlog, status.dead, status.delivered), (0, 0, 15));
    assert_eq!(store.list_notifications(None, None, 100).await.unwrap().len(), 2);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops when told")
        .unwrap();
}
