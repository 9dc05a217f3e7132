//! Front-end migration hand-off (前端迁移, Art. 22, issue 6 part 6), through a real listening
//! server and the REST simulator: applications are accepted (202) and queued even while the
//! department's system is down, delivered exactly once when it is back, left visible as failed
//! on a configuration error and retried by an operator; an invalid case is refused (422) with
//! nothing stored. Plus the CLI through the real binary.

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use ronghe::case::{Case, Stage};
use ronghe::handoff::{RoundSummary, Worker};
use ronghe::rules::{Check, NewRule};
use ronghe::store::{AttemptOutcome, Store};
use ronghe::store::{Enqueued, HandoffState};
use ronghe_adapters::Fixed;
use ronghe_adapters::sim::SimOptions;
use ronghe_adapters::sim::faults::FaultPlan;
use ronghe_adapters::sim::rest::{self, RestSim};
use serde_json::{Value, json};

const SYSTEM: &str = "gy-scjg";

struct Platform {
    url: String,
    store: Store,
    worker: Worker,
    sim: RestSim,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The platform on SQLite, listening on a real socket, with the REST simulator registered as
/// `SYSTEM`; its adapter config reads the API key from `env:SIM_REST_KEY`, which the worker's
/// secrets resolve to `key`.
async fn platform(key: &str) -> Platform {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    let sim = RestSim::start(&SimOptions::default()).await.unwrap();
    store
        .insert_system(&common::system(SYSTEM), "test")
        .await
        .unwrap();
    let config = rest::adapter_config(&sim.running.url(), "env:SIM_REST_KEY");
    store.set_adapter_config(SYSTEM, &config, "test").await.unwrap();
    let secrets = Fixed([("env:SIM_REST_KEY".to_owned(), key.to_owned())].into());
    let worker = Worker::new(store.clone(), Arc::new(secrets));
    let url = common::serve_app(common::app_state(store.clone()), 1 << 20).await;
    let http = common::authed(&common::admin_token(&store).await);
    Platform {
        url,
        store,
        worker,
        sim,
        http,
        _dir: dir,
    }
}

impl Platform {
    async fn apply(&self, case: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/systems/{SYSTEM}/applications", self.url))
            .json(case)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn show(&self, case_no: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!(
                "{}/api/v1/systems/{SYSTEM}/applications/{case_no}",
                self.url
            ))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Applications the simulated system holds with this case number.
    fn received(&self, case_no: &str) -> usize {
        self.sim
            .applications()
            .iter()
            .filter(|a| a["case_no"] == case_no)
            .count()
    }
}

fn application(case_no: &str) -> Case {
    let mut case = common::case("case_application");
    case.case_no = case_no.to_owned();
    case
}

fn summary(delivered: usize, retry_later: usize, failed: usize) -> RoundSummary {
    RoundSummary {
        delivered,
        retry_later,
        failed,
    }
}

#[tokio::test]
async fn queued_while_the_system_is_down_then_delivered_exactly_once() {
    let p = platform(rest::API_KEY).await;
    p.sim.running.faults.set(FaultPlan {
        server_errors: 1000,
        ..Default::default()
    });
    let case = application("QZ-2026-0001");
    let (status, accepted) = p.apply(&serde_json::to_value(&case).unwrap()).await;
    assert_eq!(status, 202, "accepted even though the system is down: {accepted}");
    assert_eq!(accepted["state"], "queued");
    assert_eq!(accepted["duplicate"], false);
    let id = accepted["id"].as_i64().unwrap();

    let now = Utc::now();
    assert_eq!(p.worker.run_once(now).await.unwrap(), summary(0, 1, 0));
    let (status, shown) = p.show(&case.case_no).await;
    assert_eq!(status, 200);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["state"], "queued");
    assert_eq!(shown["attempts"], 1);
    assert!(
        shown["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{shown}"
    );
    assert_eq!(shown["status"], Value::Null, "no status has come back yet");
    assert_eq!(p.received(&case.case_no), 0);

    // Back up: nothing is due before the backoff has passed, then it is handed over once.
    p.sim.running.faults.set(FaultPlan::default());
    assert_eq!(p.worker.run_once(now).await.unwrap(), summary(0, 0, 0));
    let later = now + Duration::minutes(5);
    assert_eq!(p.worker.run_once(later).await.unwrap(), summary(1, 0, 0));
    assert_eq!(
        p.worker.run_once(later + Duration::hours(1)).await.unwrap(),
        summary(0, 0, 0)
    );
    assert_eq!(p.received(&case.case_no), 1);
    let (_, shown) = p.show(&case.case_no).await;
    assert_eq!(shown["state"], "delivered");
    assert_eq!(shown["attempts"], 2);
    assert!(
        shown["receipt"]["id"]
            .as_str()
            .is_some_and(|r| r.starts_with("SQ")),
        "{shown}"
    );

    // The same case again is not a second application.
    let (status, again) = p.apply(&serde_json::to_value(&case).unwrap()).await;
    assert_eq!(status, 202);
    assert_eq!(again["id"], id);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["state"], "delivered");
    assert_eq!(
        p.worker.run_once(later + Duration::hours(2)).await.unwrap(),
        summary(0, 0, 0)
    );
    assert_eq!(p.received(&case.case_no), 1);
    let mut changed = serde_json::to_value(&case).unwrap();
    changed["item_name"] = json!("另一个事项");
    let (status, refused) = p.apply(&changed).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "handoff_conflict");
    assert_eq!(refused["error"]["field"], "case_no");

    // The status that came back (here written as write-back would) shows with the hand-off.
    let mut accepted_case = case.clone();
    accepted_case.version = 2;
    accepted_case.stage = Stage::Acceptance;
    accepted_case.updated_at += Duration::minutes(1);
    p.store.upsert_cases(SYSTEM, &[accepted_case]).await.unwrap();
    let (_, shown) = p.show(&case.case_no).await;
    assert_eq!(shown["status"]["stage"], "acceptance", "{shown}");
    assert_eq!(shown["status"]["version"], 2);

    let trail = common::audit_trail(&p.store, &format!("handoff/{id}")).await;
    let actions: Vec<&str> = trail.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "handoff.accept",
            "handoff.retry_later",
            "handoff.read",
            "handoff.deliver",
            "handoff.read",
            "handoff.read"
        ]
    );
    assert_eq!(trail[0].0, "tester", "the signed-in operator, not a claimed name");
}

/// A system down for longer than the retry horizon (72 hours from acceptance): the application
/// stays queued through the outage, then fails visibly for an operator; nothing was handed over.
#[tokio::test]
async fn an_application_failing_past_the_horizon_waits_for_an_operator() {
    let p = platform(rest::API_KEY).await;
    p.sim.running.faults.set(FaultPlan {
        server_errors: 1000,
        ..Default::default()
    });
    let case = application("QZ-2026-0072");
    let (status, accepted) = p.apply(&serde_json::to_value(&case).unwrap()).await;
    assert_eq!(status, 202, "{accepted}");
    let now = Utc::now();
    assert_eq!(p.worker.run_once(now).await.unwrap(), summary(0, 1, 0));
    // A day later the system is still down: still queued, not given up.
    assert_eq!(
        p.worker.run_once(now + Duration::hours(24)).await.unwrap(),
        summary(0, 1, 0)
    );
    let (_, shown) = p.show(&case.case_no).await;
    assert_eq!(shown["state"], "queued", "{shown}");
    // Past 72 hours since it was accepted: failed, saying why.
    assert_eq!(
        p.worker.run_once(now + Duration::hours(73)).await.unwrap(),
        summary(0, 0, 1)
    );
    let (_, shown) = p.show(&case.case_no).await;
    assert_eq!(shown["state"], "failed", "{shown}");
    assert!(
        shown["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("retry horizon of 72h")),
        "{shown}"
    );
    assert_eq!(p.received(&case.case_no), 0);
}

#[tokio::test]
async fn configuration_error_fails_visibly_and_an_operator_retries() {
    let p = platform("not-the-key").await;
    let case = application("QZ-2026-0002");
    let (status, accepted) = p.apply(&serde_json::to_value(&case).unwrap()).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_i64().unwrap();
    let now = Utc::now();
    assert_eq!(p.worker.run_once(now).await.unwrap(), summary(0, 0, 1));
    let (_, shown) = p.show(&case.case_no).await;
    assert_eq!(shown["state"], "failed");
    assert!(
        shown["last_error"].as_str().unwrap().contains("configuration"),
        "{shown}"
    );
    let failed = p
        .store
        .list_handoffs(Some(SYSTEM), Some(HandoffState::Failed))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    // A failed item is not retried by itself.
    assert_eq!(
        p.worker.run_once(now + Duration::hours(1)).await.unwrap(),
        summary(0, 0, 0)
    );

    // The operator fixes the key and retries.
    let fixed = Worker::new(
        p.store.clone(),
        Arc::new(Fixed(
            [("env:SIM_REST_KEY".to_owned(), rest::API_KEY.to_owned())].into(),
        )),
    );
    let (retried, put_back) = p.store.retry_handoff(id, "operator", now).await.unwrap();
    assert!(put_back);
    assert_eq!(retried.state, HandoffState::Queued);
    assert_eq!(fixed.run_once(now).await.unwrap(), summary(1, 0, 0));
    assert_eq!(p.received(&case.case_no), 1);
    let (delivered, put_back) = p.store.retry_handoff(id, "operator", now).await.unwrap();
    assert!(!put_back, "a delivered item is never handed over again");
    assert_eq!(delivered.state, HandoffState::Delivered);
    assert_eq!(
        fixed.run_once(now + Duration::hours(1)).await.unwrap(),
        summary(0, 0, 0)
    );
}

#[tokio::test]
async fn invalid_or_misaddressed_applications_are_refused_and_nothing_is_stored() {
    let p = platform(rest::API_KEY).await;
    let mut bad = serde_json::to_value(application("QZ-2026-0003")).unwrap();
    bad["applicant"]["certificate_no"] = json!("520102199001011234");
    bad["region_code"] = json!("999999");
    let (status, refused) = p.apply(&bad).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "validation_failed");
    let fields: Vec<&str> = refused["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"applicant.certificate_no"), "{refused}");
    assert!(
        !refused.to_string().contains("520102199001011234"),
        "certificate masked: {refused}"
    );

    // A rule published today binds applications made from today on (Art. 29).
    p.store
        .insert_rule(
            &NewRule {
                item_code: "*".to_owned(),
                field: "applicant.address".to_owned(),
                check: Check::Required,
                description: "新增采集项:通讯地址".to_owned(),
                published_on: ronghe::calendar::today(),
            },
            "test",
        )
        .await
        .unwrap();
    let mut today = application("QZ-2026-0006");
    today.applied_at = (Utc::now() - Duration::minutes(1)).fixed_offset();
    let (status, refused) = p.apply(&serde_json::to_value(&today).unwrap()).await;
    assert_eq!(status, 422, "{refused}");
    let issue = &refused["error"]["issues"][0];
    assert_eq!(issue["field"], "applicant.address", "{refused}");
    assert!(
        issue["rule"].as_str().unwrap().starts_with("published."),
        "{refused}"
    );

    let mut unparsable = serde_json::to_value(application("QZ-2026-0004")).unwrap();
    unparsable["version"] = json!("one");
    let (status, refused) = p.apply(&unparsable).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "version");

    let response = p
        .http
        .post(format!("{}/api/v1/systems/no-such/applications", p.url))
        .json(&serde_json::to_value(application("QZ-2026-0005")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);

    p.store
        .modify_system(SYSTEM, "test", ("system.retire", Some("已整合")), |s| {
            s.retire("已整合", Utc::now())
        })
        .await
        .unwrap();
    let (status, refused) = p
        .apply(&serde_json::to_value(application("QZ-2026-0007")).unwrap())
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "system_retired");

    assert!(p.store.list_handoffs(None, None).await.unwrap().is_empty());
    assert_eq!(p.show("QZ-2026-0003").await.0, 404);
}

// The binary runs synchronously on the test thread: the simulator needs threads of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_through_the_cli() {
    let sim = RestSim::start(&SimOptions::default()).await.unwrap();
    let sandbox = common::binary::attached_rest(&sim);
    let system = common::binary::SYSTEM;
    let store = Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    for n in 1..=2 {
        store
            .enqueue_handoff(system, &application(&format!("QZ-CLI-{n}")), "test", Utc::now())
            .await
            .unwrap();
    }
    sim.running.faults.set(FaultPlan {
        server_errors: 1000,
        ..Default::default()
    });
    sandbox
        .run(&["handoff", "run", "--once"])
        .check(0, &["0 delivered", "2 queued for retry"]);
    sandbox
        .run(&["handoff", "list", "--state", "queued"])
        .check(0, &["QZ-CLI-1", "QZ-CLI-2", "排队中"]);
    sandbox
        .run(&["handoff", "retry", "1"])
        .check(1, &[])
        .stderr_has(&["hand-off 1 is queued", "only a failed hand-off"]);
    // As if the system had refused it: failed, visible, and put back by an operator.
    let failed = AttemptOutcome::Failed {
        error: "data: 请求体须为JSON对象".to_owned(),
    };
    store
        .finish_handoff_attempt(1, &failed, "test", Utc::now())
        .await
        .unwrap();
    sandbox
        .run(&["handoff", "list", "--state", "failed"])
        .check(0, &["QZ-CLI-1", "推送失败", "请求体须为JSON对象"]);
    sim.running.faults.set(FaultPlan::default());
    sandbox.run(&["handoff", "retry", "1"]).check(0, &["已重新排队"]);
    // The retried one is due at once (the other one too, if its 10 s backoff has passed).
    sandbox
        .run(&["handoff", "run", "--once"])
        .check(0, &["delivered 已推送"]);
    let listed = sandbox
        .run(&["--json", "handoff", "list", "--system", system])
        .check(0, &[])
        .json();
    assert_eq!(listed[0]["state"], "delivered");
    let delivered = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["state"] == "delivered")
        .count();
    sandbox
        .run(&["handoff", "retry", "1"])
        .check(1, &[])
        .stderr_has(&["hand-off 1 is delivered"]);
    sandbox
        .run(&["handoff", "list", "--state", "lost"])
        .check(1, &[])
        .stderr_has(&["queued, delivered or failed"]);
    assert_eq!(sim.applications().len(), delivered);
}

/// `ronghe serve` runs the hand-off worker: an application accepted while the system is down
/// reaches it once the system is back, with no command in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("ronghe.db").display());
    let store = Store::open(&database_url, &Default::default()).await.unwrap();
    let sim = RestSim::start(&SimOptions::default()).await.unwrap();
    store
        .insert_system(&common::system(SYSTEM), "test")
        .await
        .unwrap();
    let key = dir.path().join("rest.key");
    std::fs::write(&key, rest::API_KEY).unwrap();
    let config = rest::adapter_config(&sim.running.url(), &format!("file:{}", key.display()));
    store.set_adapter_config(SYSTEM, &config, "test").await.unwrap();

    // A free port for the server (bound and released here; the server binds it again).
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = ronghe::config::Config {
        listen,
        database_url,
        ..Default::default()
    };
    tokio::spawn(ronghe::server::serve(config));
    let http = common::authed(&common::admin_token(&store).await);
    let base = format!("http://{listen}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let poll = std::time::Duration::from_millis(100);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start within 60 s"
        );
        tokio::time::sleep(poll).await;
    }

    sim.running.faults.set(FaultPlan {
        server_errors: 3,
        ..Default::default()
    });
    let case = application("QZ-SERVE-1");
    let response = http
        .post(format!("{base}/api/v1/systems/{SYSTEM}/applications"))
        .json(&case)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let shown = loop {
        let shown: Value = http
            .get(format!(
                "{base}/api/v1/systems/{SYSTEM}/applications/{}",
                case.case_no
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if shown["state"] == "delivered" {
            break shown;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered within 60 s: {shown}"
        );
        tokio::time::sleep(poll).await;
    };
    assert_eq!(
        shown["attempts"], 2,
        "one refused attempt while down, then delivered: {shown}"
    );
    assert_eq!(sim.applications().len(), 1);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for outcome in ["accepted", "retry_later", "delivered"] {
        let line =
            format!("ronghe_handoff_applications_total{{system=\"{SYSTEM}\",outcome=\"{outcome}\"}} 1");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}

/// The queue in the store, on either backend: one hand-off per case, leases that keep two
/// workers off the same item (concurrent claims take disjoint items), and a lease that ends.
async fn queue_behaviour(store: Store) {
    store
        .insert_system(&common::system(SYSTEM), "test")
        .await
        .unwrap();
    let now = Utc::now();
    for n in 0..6 {
        let (_, enqueued) = store
            .enqueue_handoff(SYSTEM, &application(&format!("QZ-Q-{n}")), "test", now)
            .await
            .unwrap();
        assert_eq!(enqueued, Enqueued::Created);
    }
    let (again, enqueued) = store
        .enqueue_handoff(SYSTEM, &application("QZ-Q-0"), "test", now)
        .await
        .unwrap();
    assert_eq!(enqueued, Enqueued::Duplicate);
    assert_eq!(again.case_no, "QZ-Q-0");
    let mut changed = application("QZ-Q-0");
    changed.item_name = "另一个事项".to_owned();
    let (_, enqueued) = store
        .enqueue_handoff(SYSTEM, &changed, "test", now)
        .await
        .unwrap();
    assert_eq!(enqueued, Enqueued::Conflict);

    let lease = now + Duration::minutes(5);
    let (a, b) = tokio::join!(
        store.claim_handoffs(now, lease, 4),
        store.claim_handoffs(now, lease, 4)
    );
    let mut ids: Vec<i64> = a
        .unwrap()
        .iter()
        .chain(b.unwrap().iter())
        .map(|c| c.handoff.id)
        .collect();
    let claimed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "an item was claimed twice");
    assert_eq!(claimed, 6);
    assert!(
        store.claim_handoffs(now, lease, 10).await.unwrap().is_empty(),
        "leased"
    );
    let after_lease = store
        .claim_handoffs(lease, lease + Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(
        after_lease.len(),
        6,
        "a crashed worker's items come back when the lease ends"
    );
    assert_eq!(after_lease[0].payload["case_no"], "QZ-Q-0");
}

#[tokio::test]
async fn queue_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    queue_behaviour(common::sqlite_store(&dir).await).await;
}

#[cfg(feature = "postgres-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_on_postgres() {
    queue_behaviour(common::pg_store().await).await;
}

/// A data error from the system (an answer that is not its protocol) leaves the application
/// failed and visible; retried by an operator, it is delivered once.
#[tokio::test]
async fn data_error_fails_visibly_and_an_operator_retries() {
    let p = platform(rest::API_KEY).await;
    p.sim.running.faults.set(FaultPlan {
        garbage: 1,
        ..Default::default()
    });
    let case = application("QZ-2026-0006");
    let (status, accepted) = p.apply(&serde_json::to_value(&case).unwrap()).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_i64().unwrap();
    let now = Utc::now();
    assert_eq!(p.worker.run_once(now).await.unwrap(), summary(0, 0, 1));
    let (_, shown) = p.show(&case.case_no).await;
    assert_eq!(shown["state"], "failed");
    assert!(
        shown["last_error"].as_str().unwrap().contains("(data)"),
        "{shown}"
    );
    assert_eq!(p.received(&case.case_no), 0);
    assert_eq!(
        p.worker.run_once(now + Duration::hours(1)).await.unwrap(),
        summary(0, 0, 0)
    );

    let (_, put_back) = p.store.retry_handoff(id, "operator", now).await.unwrap();
    assert!(put_back);
    assert_eq!(p.worker.run_once(now).await.unwrap(), summary(1, 0, 0));
    assert_eq!(p.received(&case.case_no), 1);
    let trail = common::audit_trail(&p.store, &format!("handoff/{id}")).await;
    let actions: Vec<&str> = trail.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "handoff.accept",
            "handoff.fail",
            "handoff.read",
            "handoff.retry",
            "handoff.deliver"
        ]
    );
}
