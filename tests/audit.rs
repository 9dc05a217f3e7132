//! The hash-chained audit log (Art. 21, 32) through the real binary on its own SQLite file:
//! `audit verify` after audited commands, then each kind of tampering done with raw SQL named as
//! the first break; pruning refused within 366 days and done behind an anchor; a signed export
//! checked with the node's public key; a store written by the build before the chain (v17)
//! carried forward; the request context landing in the row; the API's list and verify.

mod common;

use std::str::FromStr;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use http_body_util::BodyExt;
use ronghe::store::{AuditContext, AuditFilter, with_audit_context};
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};
use tower::ServiceExt;

use common::binary::Sandbox;

/// The predecessor hash of the first event.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A raw connection to a sandbox's store, as someone with the file would have.
async fn raw(database: &str) -> SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(database).expect("sqlite URL");
    SqliteConnection::connect_with(&options)
        .await
        .expect("open the store file")
}

/// Runs statements on the store file, in order, on one connection.
fn tamper(sandbox: &Sandbox, statements: &[&str]) {
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let mut conn = raw(&sandbox.database()).await;
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.close().await.expect("close");
    });
}

/// A sandbox with four audited commands (seq 1-4) and an intact chain.
fn audited() -> Sandbox {
    let sandbox = Sandbox::new();
    for id in ["gy-a", "gy-b", "gy-c", "gy-d"] {
        sandbox.add_system(id, "http://127.0.0.1:9/api");
    }
    sandbox
        .run(&["audit", "verify"])
        .check(0, &["审计日志完整 chain intact: 4 events"]);
    sandbox
}

#[test]
fn verify_names_the_first_break_of_each_kind_of_tampering() {
    // (what was done, the statements, what verify must say)
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "one event's detail edited",
            &[r#"UPDATE audit_events SET detail = '{"id":"gy-x"}' WHERE seq = 2"#],
            "payload altered: event seq 2 (id 2)",
        ),
        ("one event deleted", &["DELETE FROM audit_events WHERE seq = 3"], "missing: seq 3 is absent"),
        (
            "two events' rows swapped",
            &[
                "CREATE TEMP TABLE swapped AS SELECT * FROM audit_events WHERE id IN (2, 3)",
                "UPDATE audit_events SET seq = NULL WHERE id IN (2, 3)",
                "UPDATE audit_events SET (seq, at, actor, action, target, detail, prev_hash, hash) =
                     (SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM swapped WHERE swapped.id = 5 - audit_events.id)
                 WHERE id IN (2, 3)",
            ],
            "out of order: event seq 3 (id 2)",
        ),
        (
            "one event's predecessor link rewritten, without fixing its hash",
            &["UPDATE audit_events SET prev_hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE seq = 2"],
            "payload altered: event seq 2",
        ),
    ];
    for (what, statements, says) in cases {
        let sandbox = audited();
        tamper(&sandbox, statements);
        let run = sandbox.run(&["audit", "verify"]);
        assert_eq!(run.code, 1, "{what}: {run}");
        assert!(
            run.stdout.contains("审计日志被篡改 chain broken"),
            "{what}: {run}"
        );
        assert!(run.stdout.contains(says), "{what}: expected {says:?} in {run}");
        let json = sandbox.run(&["--json", "audit", "verify"]).check(1, &[]).json();
        assert_eq!(json["intact"], false, "{what}");
    }
}

/// An event's hash as README documents it, computed here independently of the crate: SHA-256
/// over tagged, length-prefixed fields (context fields absent).
fn documented_hash(prev_hash: &str, seq: i64, at_micros: i64, names: [&str; 3], detail: &Value) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update([1u8]);
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&at_micros.to_be_bytes());
    for name in names {
        field(name.as_bytes());
    }
    // serde_json's map keeps keys sorted; the details here hold no nested objects.
    field(detail.to_string().as_bytes());
    for _ in 0..5 {
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

#[test]
fn a_relinked_event_with_a_recomputed_hash_breaks_the_link() {
    let sandbox = audited();
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let mut conn = raw(&sandbox.database()).await;
        let (at, actor, action, target, detail, prev_hash, hash): (
            chrono::DateTime<Utc>,
            String,
            String,
            String,
            sqlx::types::Json<Value>,
            String,
            String,
        ) = sqlx::query_as(
            "SELECT at, actor, action, target, detail, prev_hash, hash FROM audit_events WHERE seq = 2",
        )
        .fetch_one(&mut conn)
        .await
        .expect("seq 2");
        let names = [actor.as_str(), action.as_str(), target.as_str()];
        assert_eq!(
            documented_hash(&prev_hash, 2, at.timestamp_micros(), names, &detail.0),
            hash,
            "the hash is computed as documented"
        );
        // Seq 1 dropped from seq 2's link, and seq 2's hash made to match: only the link shows it.
        let forged = documented_hash(GENESIS, 2, at.timestamp_micros(), names, &detail.0);
        sqlx::query("UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE seq = 2")
            .bind(GENESIS)
            .bind(forged)
            .execute(&mut conn)
            .await
            .expect("forge");
        conn.close().await.expect("close");
    });
    sandbox.run(&["audit", "verify"]).check(
        1,
        &["link broken: event seq 2 (id 2) does not carry its predecessor's hash"],
    );
}

#[test]
fn prune_is_refused_within_366_days_and_leaves_an_anchor_that_verifies() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["audit", "verify"])
        .check(0, &["chain intact: 0 events"]);
    // Events an older build wrote (no hash): three 400 days old, one 200 days old. The next
    // open chains them first, in id order.
    let now = Utc::now();
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let mut conn = raw(&sandbox.database()).await;
        for days in [402, 401, 400, 200] {
            sqlx::query("INSERT INTO audit_events (at, actor, action, target, detail) VALUES ($1, 'old', 'system.register', $2, '{}')")
                .bind(now - Duration::days(days))
                .bind(format!("old-{days}"))
                .execute(&mut conn)
                .await
                .expect("insert an old event");
        }
        conn.close().await.expect("close");
    });
    sandbox.add_system("gy-a", "http://127.0.0.1:9/api");
    sandbox
        .run(&["audit", "verify"])
        .check(0, &["chain intact: 5 events"]);

    let within = (now - Duration::days(199)).date_naive().to_string();
    sandbox
        .run(&["audit", "prune", "--before", &within])
        .check(1, &[])
        .stderr_has(&["拒绝清理 refused", "366 days", "Art. 21"]);
    let before = (now - Duration::days(380)).date_naive().to_string();
    sandbox
        .run(&["audit", "prune", "--before", &before])
        .check(0, &["已清理 pruned 3 events (seq 1..3)"]);
    // The 200-day-old event, the registration and the prune's own event.
    sandbox
        .run(&["audit", "verify"])
        .check(0, &["chain intact: 3 events"]);
    let events = sandbox.run(&["--json", "audit", "list"]).check(0, &[]).json();
    let seqs: Vec<i64> = events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, [4, 5, 6]);
    assert_eq!(events[2]["action"], "audit.prune");
    assert_eq!(events[2]["detail"]["events"], 3);
    // The chain goes on from the anchor.
    sandbox.add_system("gy-b", "http://127.0.0.1:9/api");
    sandbox
        .run(&["audit", "verify"])
        .check(0, &["chain intact: 4 events"]);
    // Deleting what the anchor follows is still seen.
    tamper(&sandbox, &["DELETE FROM audit_events WHERE seq = 4"]);
    sandbox.run(&["audit", "verify"]).check(1, &["missing: seq 4"]);
}

#[test]
fn list_filters_and_pages() {
    let sandbox = audited();
    sandbox
        .run(&["systems", "retire", "gy-b", "--reason", "replaced"])
        .check(0, &[]);
    // Issue 14: the command line acts as the host administrator, recorded as such.
    let host = sandbox.run(&["--json", "audit", "list"]).check(0, &[]).json()[4]["actor"]
        .as_str()
        .expect("an actor")
        .to_owned();
    assert!(host.starts_with("host:") && host.contains('@'), "{host}");
    let list = |args: &[&str]| {
        let mut all = vec!["--json", "audit", "list"];
        all.extend_from_slice(args);
        let events = sandbox.run(&all).check(0, &[]).json();
        events
            .as_array()
            .expect("array")
            .iter()
            .map(|e| e["seq"].as_i64().expect("seq"))
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&[]), [1, 2, 3, 4, 5]);
    assert_eq!(list(&["--actor", &host]), [1, 2, 3, 4, 5]);
    assert_eq!(list(&["--actor", "alice"]), Vec::<i64>::new());
    assert_eq!(
        list(&["--action", "system.register", "--target", "gy-"]),
        [1, 2, 3, 4]
    );
    assert_eq!(list(&["--target", "gy-b"]), [2, 5]);
    assert_eq!(list(&["--limit", "2", "--after-seq", "2"]), [3, 4]);
    assert_eq!(list(&["--until", "2000-01-01"]), Vec::<i64>::new());
    assert_eq!(
        list(&["--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01"]),
        [1, 2, 3, 4, 5]
    );
    sandbox
        .run(&["audit", "list", "--since", "soon"])
        .check(1, &[])
        .stderr_has(&["--since"]);
    sandbox.run(&["audit", "list", "--limit", "1001"]).check(2, &[]);
}

#[test]
fn export_writes_the_range_and_signs_it_with_the_node_key() {
    let sandbox = audited();
    let out = sandbox.path("audit.jsonl").display().to_string();
    let range = [
        "--since",
        "2000-01-01",
        "--until",
        "2100-01-01",
        "--out",
        out.as_str(),
    ];
    let mut args = vec!["audit", "export"];
    args.extend_from_slice(&range);
    sandbox.run(&args).check(2, &[]).stderr_has(&["no [bridge] keys"]);

    let key = sandbox.write("k1.key", common::key_secret("k1"));
    let config = sandbox.write(
        "ronghe.toml",
        format!("[bridge]\nactive_key = \"k1\"\n[[bridge.keys]]\nid = \"k1\"\nsecret = \"file:{key}\"\n"),
    );
    let mut args = vec!["--config", config.as_str(), "audit", "export"];
    args.extend_from_slice(&range);
    sandbox
        .run(&args)
        .check(0, &["已导出 exported 4 events (seq 1..4)"]);

    let text = std::fs::read_to_string(&out).expect("read the export");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let (signed, events) = lines.split_last().expect("lines");
    assert_eq!(events.len(), 4);
    for pair in events.windows(2) {
        assert_eq!(
            pair[1]["prev_hash"], pair[0]["hash"],
            "the exported events are one chain"
        );
    }
    assert_eq!(signed["first_seq"], 1);
    assert_eq!(signed["last_seq"], 4);
    assert_eq!(signed["last_hash"], events[3]["hash"]);
    assert_eq!(signed["key_id"], "k1");

    // The node's public key, as `Keyring::public_keys` gives it, verifies the documented statement.
    let keys = common::bridge_keys("k1", &[("k1", ronghe_crypto::Cipher::Aes256Gcm)]);
    let keyring = ronghe::bridge::Keyring::build(&keys, &common::bridge_secrets(&keys)).expect("keys");
    let (_, public) = keyring
        .public_keys()
        .into_iter()
        .find(|(id, _)| id == "k1")
        .expect("k1");
    let statement = format!(
        "ronghe audit export v1\nfirst_seq=1\nlast_seq=4\nlast_hash={}\n",
        signed["last_hash"].as_str().expect("hash")
    );
    let signature = hex::decode(signed["signature"].as_str().expect("signature")).expect("hex");
    let signature = Signature::from_slice(&signature).expect("64 bytes");
    let verifying = VerifyingKey::from_bytes(&public).expect("public key");
    verifying
        .verify(statement.as_bytes(), &signature)
        .expect("the signature verifies");
    assert!(
        verifying
            .verify(b"ronghe audit export v1\nfirst_seq=1\nlast_seq=3\n", &signature)
            .is_err()
    );
}

#[test]
fn a_store_written_before_the_chain_is_carried_forward() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = common::store_written_by("v17", &dir);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let count = |sql: &'static str| {
        runtime.block_on(async {
            let mut conn = raw(&database).await;
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut conn).await.expect(sql);
            conn.close().await.expect("close");
            n
        })
    };
    let old = count("SELECT COUNT(*) FROM audit_events");
    assert!(old > 0, "the fixture holds audit events");

    let run = common::binary::run_ronghe(dir.path(), &["--database", &database, "audit", "verify"], None);
    let run = run.check(0, &[&format!("审计日志完整 chain intact: {old} events")]);
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE hash IS NULL OR seq IS NULL"),
        0,
        "{run}"
    );
    // Chained in id order: seq 1..n follows the ids.
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM audit_events a JOIN audit_events b ON b.seq = a.seq + 1 WHERE b.id < a.id"
        ),
        0
    );
    assert_eq!(count("SELECT MAX(seq) FROM audit_events"), old);
    // A second open chains nothing again, and new events follow the old ones.
    common::binary::run_ronghe(
        dir.path(),
        &[
            "--database",
            &database,
            "rules",
            "add",
            "--item",
            "*",
            "--field",
            "applicant.phone",
            "--check",
            "required",
            "--description",
            "联系电话必填",
        ],
        None,
    )
    .check(0, &[]);
    common::binary::run_ronghe(dir.path(), &["--database", &database, "audit", "verify"], None)
        .check(0, &[&format!("chain intact: {} events", old + 1)]);
}

#[tokio::test]
async fn the_request_context_lands_in_the_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::sqlite_store(&dir).await;
    let context = AuditContext {
        role: Some("auditor".into()),
        scope: Some("dept:520100".into()),
        client_addr: Some("10.0.0.7".into()),
        user_agent: Some("Mozilla/5.0".into()),
        request_id: Some("req-42".into()),
    };
    with_audit_context(context.clone(), async {
        store
            .record_audit("alice", "case.read", "gy-a/1", serde_json::json!({}))
            .await
            .expect("record");
        store
            .insert_system(&common::system("gy-a"), "alice")
            .await
            .expect("a change");
    })
    .await;
    store
        .record_audit("bob", "case.read", "gy-a/2", serde_json::json!({}))
        .await
        .expect("record");

    let events = store.audit_events(&AuditFilter::default()).await.expect("list");
    let contexts: Vec<_> = events
        .iter()
        .map(|e| (e.actor.as_str(), e.context.clone()))
        .collect();
    assert_eq!(
        contexts,
        [
            ("alice", context.clone()),
            ("alice", context),
            ("bob", AuditContext::default())
        ]
    );
    assert_eq!(store.verify_audit_chain().await.expect("intact"), 3);

    // The API lists and verifies the same chain, to an auditor.
    let router = ronghe::server::app(common::app_state(store.clone()), 1 << 20);
    let token = common::staff_token(&store, "audit-wu", &["auditor@province"]).await;
    let get = |path: &'static str| {
        let router = router.clone();
        let token = token.clone();
        async move {
            let response = router
                .oneshot(
                    Request::get(path)
                        .header("authorization", format!("Bearer {token}"))
                        .body(Body::empty())
                        .expect("request"),
                )
                .await
                .expect("answer");
            let status = response.status();
            let bytes = response.into_body().collect().await.expect("body").to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = get("/api/v1/audit?actor=alice&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["context"]["role"], "auditor");
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    let (status, body) = get("/api/v1/audit?limit=1001").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
    let (status, body) = get("/api/v1/audit?since=later").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (status, body) = get("/api/v1/audit/verify").await;
    let events = store.verify_audit_chain().await.expect("intact");
    assert!(events > 3, "the auditor's enrolment and sign-in are audited too");
    assert_eq!(
        (status, &body["intact"], &body["events"]),
        (StatusCode::OK, &Value::Bool(true), &Value::from(events))
    );
}
