//! `ronghe serve` as a user runs it: the real binary on a real socket, every endpoint over
//! HTTP, bad input, and a graceful stop on SIGTERM. On SQLite always; on PostgreSQL with
//! `--features postgres-tests` (RONGHE_TEST_PG_URL).

mod common;

use std::process::Command;

use common::binary::Server;
use serde_json::{Value, json};

async fn walk_every_endpoint(database_url: &str, backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ronghe.toml");
    std::fs::write(&config, "max_body_bytes = 4096\nshutdown_grace_seconds = 5\n").unwrap();
    let server = Server::start(database_url, &config);
    // Issue 14: nothing is answered without credentials; the tests act through tokens of
    // accounts made on the same store (the server needs no keys to check a token).
    let store = ronghe::store::Store::open(database_url, &Default::default())
        .await
        .unwrap();
    let anonymous = reqwest::Client::new()
        .get(format!("{}/api/v1/systems", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let http = common::authed(&common::admin_token(&store).await);
    common::staff_token(&store, "chair-zhang", &["expert@province"]).await;
    let url = |path: &str| format!("{}{path}", server.base);

    let get = |path: &str| http.get(url(path)).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: Value = get("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready, json!({"status": "ready", "store": backend}));

    let registration = json!({
        "id": "gy-scjg", "name": "市场监管许可系统", "department": "贵阳市市场监督管理局",
        "region_code": "520100", "protocol": "rest", "endpoint": "http://127.0.0.1:9001/api"
    });
    let created = http
        .post(url("/api/v1/systems"))
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let listed: Value = get("/api/v1/systems").await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["id"], "gy-scjg");
    let patched = http
        .patch(url("/api/v1/systems/gy-scjg"))
        .json(&json!({"status": "assessed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let shown: Value = get("/api/v1/systems/gy-scjg")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "assessed");

    // Bad input over the wire: malformed JSON, an oversized body (config: 4096 bytes).
    let malformed = http
        .post(url("/api/v1/systems"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    let big = http
        .post(url("/api/v1/systems"))
        .header("content-type", "application/json")
        .body(vec![b' '; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let body: Value = big.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");

    let missing = get("/api/v1/systems/gy-scjg/cases/NOPE").await.unwrap();
    assert_eq!(missing.status(), 404);

    // An assessment over the wire (issue 4): the caller chairs it; its open round is sealed.
    let opened = http
        .post(url("/api/v1/assessments"))
        .json(&json!({"system_id": "gy-scjg", "chair": "chair-zhang"}))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 201);
    let portfolio: Value = get("/api/v1/assessments/portfolio")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(portfolio["systems"][0]["assessment_id"], "gy-scjg.1");
    let sealed: Value = get("/api/v1/assessments/gy-scjg.1/rounds/1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sealed["error"]["code"], "sealed");
    let retired = http
        .post(url("/api/v1/systems/gy-scjg/retire"))
        .json(&json!({"reason": "并网"}))
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), 200);

    let doc: Value = get("/api/v1/openapi.json").await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/systems"].is_object());
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("ronghe_http_requests_total"), "{metrics}");
    // The housekeeping task of `serve` counts into the same registry (issue 23).
    for name in [
        "ronghe_housekeeping_passes_total",
        "ronghe_housekeeping_failed_passes_total",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }

    server.stop();
}

#[tokio::test]
async fn serve_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ronghe.db").display());
    walk_every_endpoint(&url, "sqlite").await;
}

#[cfg(feature = "postgres-tests")]
#[tokio::test]
async fn serve_on_postgres() {
    walk_every_endpoint(&common::fresh_pg_url().await, "postgres").await;
}

#[tokio::test]
async fn bad_config_is_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ronghe.toml");
    std::fs::write(&config, "listen_port = 8080\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ronghe"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `listen_port`"), "{stderr}");
}

/// Issue 18: one cancellation token stops the HTTP server and every background task `serve_on`
/// spawned (exchange delivery, pull, scheduler, housekeeping, hand-off). The grace period is far
/// longer than the hang guard, so a task that ignored the token would make `serve_on` overrun it.
#[tokio::test]
async fn cancelling_the_token_stops_the_server_and_every_background_task() {
    let dir = tempfile::tempdir().unwrap();
    let config = ronghe::config::Config {
        database_url: format!("sqlite://{}", dir.path().join("ronghe.db").display()),
        mappings_dir: dir.path().join("mappings"),
        // Never called: nothing is queued for it.
        exchange: Some(ronghe::exchange::ExchangeConfig::new(
            "http://127.0.0.1:9/exchange",
        )),
        shutdown_grace_seconds: 600,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health = format!("http://{}/healthz", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let served = tokio::spawn(ronghe::server::serve_on(config, listener, shutdown.clone()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reqwest::get(&health)
        .await
        .is_ok_and(|answer| answer.status().is_success())
    {
        assert!(std::time::Instant::now() < deadline, "the server never answered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(120), served)
        .await
        .expect("serve_on still running after its token was cancelled")
        .expect("the server task panicked")
        .expect("serve_on failed");
    assert!(
        reqwest::get(&health).await.is_err(),
        "still answering after the stop"
    );
}
