//! The exchange (issue 6, Art. 27) through the real binary: `ronghe exchange status`, `dlq list`,
//! `dlq replay`, `deliver --once`, and `ronghe serve` delivering with its worker, `/metrics` and
//! `/api/v1/exchange/*` over HTTP, against the exchange simulator.

mod common;

use std::time::{Duration, Instant};

use common::binary::{Sandbox, Server};
use ronghe_adapters::sim::exchange::ExchangeSim;
use serde_json::{Value, json};

const SYSTEM: &str = "gy-scjg";

/// JSON lines of versions `(case_no, version)` of the finished fixture.
fn cases(versions: &[(&str, i64)]) -> String {
    versions
        .iter()
        .map(|(no, v)| {
            let mut c = common::case("case_finished");
            c.case_no = (*no).to_owned();
            c.version = *v;
            c.review_opinion = Some(format!("第{v}版"));
            serde_json::to_string(&c).unwrap()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A sandbox with the system registered, its cases imported, and a config pointing at `sim`.
async fn sandbox(sim: &ExchangeSim, versions: &[(&str, i64)]) -> (Sandbox, String) {
    let sandbox = Sandbox::new();
    sandbox.add_system(SYSTEM, "http://127.0.0.1:9/api");
    let file = sandbox.write("cases.jsonl", cases(versions));
    sandbox.run(&["cases", "import", SYSTEM, &file]).check(0, &[]);
    let config = sandbox.write(
        "ronghe.toml",
        format!(
            "shutdown_grace_seconds = 5\n\n[exchange]\nurl = \"{}\"\npoll_interval_ms = 50\nbackoff_base_ms = 5\nbackoff_max_seconds = 1\ntimeout_seconds = 2\nlease_seconds = 10\n",
            sim.endpoint()
        ),
    );
    (sandbox, config)
}

async fn exchange_sim() -> ExchangeSim {
    ExchangeSim::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("start the exchange simulator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_dlq_list_and_replay_through_the_binary() {
    let sim = exchange_sim().await;
    let (sandbox, config) = sandbox(&sim, &[("A", 1), ("B", 1)]).await;
    let file = sandbox.write("more.jsonl", cases(&[("A", 2)]));
    sandbox.run(&["cases", "import", SYSTEM, &file]).check(0, &[]);
    let file = sandbox.write("more.jsonl", cases(&[("A", 3)]));
    sandbox.run(&["cases", "import", SYSTEM, &file]).check(0, &[]);

    sandbox
        .run(&["exchange", "status"])
        .check(0, &["待投递 backlog: 4", "死信 dead: 0"]);
    sim.reject("gy-scjg/A/2", true);
    let run = sandbox
        .run(&["--json", "--config", &config, "exchange", "deliver", "--once"])
        .check(0, &[]);
    let report = run.json();
    assert_eq!(
        (report["delivered"].as_u64(), report["dead"].as_u64()),
        (Some(2), Some(1)),
        "{run}"
    );

    let status = sandbox
        .run(&["--json", "exchange", "status"])
        .check(0, &[])
        .json();
    assert_eq!(
        (status["backlog"].as_i64(), status["dead"].as_i64()),
        (Some(1), Some(1)),
        "{status}"
    );
    sandbox
        .run(&["exchange", "dlq", "list"])
        .check(0, &["gy-scjg", "HTTP 400 Bad Request"]);
    let listed = sandbox
        .run(&["--json", "exchange", "dlq", "list", "--system", SYSTEM])
        .check(0, &[])
        .json();
    let id = listed[0]["id"].as_i64().unwrap();
    assert_eq!(
        (listed[0]["case_no"].as_str(), listed[0]["version"].as_i64()),
        (Some("A"), Some(2))
    );
    let other = sandbox
        .run(&["--json", "exchange", "dlq", "list", "--system", "gy-other"])
        .check(0, &[])
        .json();
    assert_eq!(other, json!([]));

    // A wrong id refuses the replay; ids and --all exclude each other.
    sandbox
        .run(&["exchange", "dlq", "replay", "99999"])
        .check(1, &[])
        .stderr_has(&["99999"]);
    sandbox
        .run(&["exchange", "dlq", "replay", &id.to_string(), "--all"])
        .check(2, &[]);
    sandbox.run(&["exchange", "dlq", "replay"]).check(2, &[]);

    sim.reject("gy-scjg/A/2", false);
    sandbox
        .run(&["exchange", "dlq", "replay", &id.to_string()])
        .check(0, &["replayed 1 item(s): gy-scjg/A/2"]);
    let report = sandbox
        .run(&["--json", "--config", &config, "exchange", "deliver", "--once"])
        .check(0, &[])
        .json();
    assert_eq!(report["delivered"].as_u64(), Some(2), "A/2 then A/3: {report}");
    sandbox
        .run(&["exchange", "status"])
        .check(0, &["待投递 backlog: 0", "死信 dead: 0", "已投递 delivered: 4"]);
    // Cases go out concurrently; the versions of one case in order.
    let keys: Vec<String> = sim
        .facts()
        .into_iter()
        .map(|f| f.key)
        .filter(|k| !k.contains("/B/"))
        .collect();
    assert_eq!(keys, ["gy-scjg/A/1", "gy-scjg/A/2", "gy-scjg/A/3"]);
    assert_eq!(sim.facts().len(), 4);

    let store = ronghe::store::Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let trail = common::audit_trail(&store, &id.to_string()).await;
    assert!(
        trail
            .iter()
            .any(|(actor, action)| actor.starts_with("host:") && action == "exchange.replay"),
        "{trail:?}"
    );

    // Without [exchange] there is nothing to deliver with.
    sandbox
        .run(&["exchange", "deliver", "--once"])
        .check(1, &[])
        .stderr_has(&["[exchange]"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_worker_with_metrics_and_endpoints() {
    let sim = exchange_sim().await;
    let (sandbox, config) = sandbox(&sim, &[("S", 1), ("T", 1)]).await;
    let server = Server::start(&sandbox.database(), std::path::Path::new(&config));
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.facts().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "serve did not deliver the stored cases"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another process (a second writer) stores a version; serve's poll finds it.
    let file = sandbox.write("s2.jsonl", cases(&[("S", 2)]));
    sandbox.run(&["cases", "import", SYSTEM, &file]).check(0, &[]);
    while sim.facts().len() < 3 {
        assert!(Instant::now() < deadline, "serve did not deliver the new version");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let store = ronghe::store::Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let http = common::authed(&common::admin_token(&store).await);
    let url = |path: &str| format!("{}{path}", server.base);
    let status: Value = http
        .get(url("/api/v1/exchange/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (status["backlog"].as_i64(), status["delivered"].as_i64()),
        (Some(0), Some(3)),
        "{status}"
    );
    let dlq: Value = http
        .get(url("/api/v1/exchange/dlq"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dlq, json!([]));
    let refused = http
        .post(url("/api/v1/exchange/dlq/replay"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (Some("invalid_replay"), Some("ids"))
    );
    let missing = http
        .post(url("/api/v1/exchange/dlq/replay"))
        .json(&json!({ "ids": [12345] }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let metrics = http
        .get(url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "ronghe_exchange_delivered_total 3",
        "ronghe_exchange_backlog 0",
        "ronghe_exchange_dead_items 0",
        "ronghe_exchange_delivery_lag_seconds_count 3",
        "ronghe_exchange_oldest_pending_age_seconds 0",
    ] {
        assert!(
            metrics.lines().any(|l| l.starts_with(line)),
            "{line} missing in\n{metrics}"
        );
    }
    let doc: Value = http
        .get(url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/exchange/dlq/replay"].is_object());
    server.stop();
}
