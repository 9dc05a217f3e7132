//! The write-back intake (办件回传, issue 6) end to end over real sockets: ronghe's router served
//! on loopback with a SQLite store, JSON pushes in the REST simulator's record shape, SOAP pushes
//! in GBK from the SOAP simulator's client; signatures (HMAC-SHA256, HMAC-SM3), SM4-GCM bodies,
//! duplicates, out-of-order versions, mixed batches and the data-quality queue; authentication
//! failures that all look alike; hostile and malformed bodies refused with nothing stored; and the
//! `writeback` / `quality` commands through the real binary.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use ronghe::intake::Intake;
use ronghe::server::AppState;
use ronghe::store::{NewQualityItem, Pool, QualityReason, Store};
use ronghe_adapters::XmlElement;
use ronghe_adapters::signing::Signer;
use ronghe_adapters::sim::SimOptions;
use ronghe_adapters::sim::data;
use ronghe_adapters::sim::rest;
use ronghe_adapters::sim::soap::{Push, SoapSim};
use ronghe_adapters::soap::SoapVersion;
use ronghe_crypto::{Cipher, MacAlgorithm};
use serde_json::{Value, json};

const REST: &str = "sim-rest";
const SOAP: &str = "sim-soap";
/// A system bound by secrecy rules (涉密): never served through the platform (Art. 13).
const SECRET: &str = "sim-secret";
const SHA_SECRET: &str = "writeback-sha-secret";
const SM3_SECRET: &str = "writeback-sm3-secret";
const SM4_KEY: &str = "00112233445566778899aabbccddeeff";
/// The server's body limit in these tests.
const MAX_BODY: usize = 256 * 1024;
const MAX_BATCH: usize = 10;

fn writeback_config() -> String {
    format!(
        r#"timestamp_window_seconds = 300

[[keys]]
id = "k-sha"
algorithm = "hmac-sha256"
secret = "env:WB_SHA"

[[keys]]
id = "k-sm3"
algorithm = "hmac-sm3"
secret = "env:WB_SM3"

[[keys]]
id = "k-old"
algorithm = "hmac-sha256"
secret = "env:WB_SHA"
retired = true

[encryption]
key = "env:WB_SM4"

[intake]
max_batch = {MAX_BATCH}
soap_record = "办件"
"#
    )
}

fn sha() -> Signer {
    Signer::new("k-sha", MacAlgorithm::HmacSha256, SHA_SECRET.as_bytes().to_vec())
}

fn sm3() -> Signer {
    Signer::new("k-sm3", MacAlgorithm::HmacSm3, SM3_SECRET.as_bytes().to_vec())
}

struct Platform {
    url: String,
    store: Store,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Platform {
    /// ronghe on a SQLite file, served on an ephemeral loopback port, with `sim-rest` and
    /// `sim-soap` registered and their write-back configs attached.
    async fn start() -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let store = common::sqlite_store(&dir).await;
        Platform::start_on(store, dir).await
    }

    /// The same on `store` (`dir` lives as long as the platform).
    async fn start_on(store: Store, dir: tempfile::TempDir) -> Platform {
        Platform::start_with(store, dir, None).await
    }

    /// The same, with a budget of `body_budget` bytes of pushed bodies in flight (else the
    /// default).
    async fn start_with(store: Store, dir: tempfile::TempDir, body_budget: Option<usize>) -> Platform {
        let mut secret = common::new_system(SECRET);
        secret.secret = true;
        let secret = secret.validate(Utc::now()).unwrap();
        for system in [common::system(REST), common::system(SOAP), secret] {
            store.insert_system(&system, "test").await.unwrap();
            store
                .set_writeback_config(&system.id, &writeback_config(), "test")
                .await
                .unwrap();
        }
        let secrets: HashMap<String, String> = [
            ("env:WB_SHA", SHA_SECRET),
            ("env:WB_SM3", SM3_SECRET),
            ("env:WB_SM4", SM4_KEY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut intake = Intake::new(
            &store,
            concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
            Arc::new(ronghe_adapters::Fixed(secrets)),
        );
        if let Some(bytes) = body_budget {
            intake = intake.with_body_budget(bytes);
        }
        let state = AppState {
            writeback: intake,
            ..common::app_state(store.clone())
        };
        let url = common::serve_app(state, MAX_BODY).await;
        Platform {
            url,
            http: common::authed(&common::admin_token(&store).await),
            store,
            _dir: dir,
        }
    }

    /// Sends `body` to `path` with `headers`; answers (status, body text).
    async fn send(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, String) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Signs `body` with `signer` and posts it to `path`.
    async fn signed(&self, signer: &Signer, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        let signed = signer.sign("POST", path, body).unwrap();
        self.send(path, content_type, &signed.headers, signed.body).await
    }

    /// A signed JSON push to a system; answers (status, JSON body).
    async fn push(&self, signer: &Signer, system: &str, body: &Value) -> (u16, Value) {
        let path = format!("/api/v1/writeback/{system}");
        let (status, text) = self
            .signed(signer, &path, "application/json", body.to_string().as_bytes())
            .await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// (case versions stored, quality items queued).
    async fn stored(&self) -> (i64, i64) {
        async fn count(store: &Store, table: &str) -> i64 {
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
            match store.pool() {
                Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
                Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            }
            .unwrap()
        }
        (
            count(&self.store, "case_versions").await,
            count(&self.store, "quality_items").await,
        )
    }
}

/// The REST simulator's record of seeded case `i`.
fn rest_record(i: usize) -> Value {
    rest::to_json(&data::case(7, i))
}

fn results(body: &Value) -> &Vec<Value> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {body}"))
}

#[tokio::test]
async fn json_pushes_are_verified_stored_and_repeated_pushes_get_the_same_receipt() {
    json_pushes(Platform::start().await).await;
}

/// The JSON pushes and the mixed batch on PostgreSQL.
#[cfg(feature = "postgres-tests")]
#[tokio::test]
async fn json_pushes_and_mixed_batches_on_postgres() {
    json_pushes(Platform::start_on(common::pg_store().await, tempfile::tempdir().unwrap()).await).await;
    mixed_batch(Platform::start_on(common::pg_store().await, tempfile::tempdir().unwrap()).await).await;
}

async fn json_pushes(platform: Platform) {
    // HMAC-SHA256, one record.
    let record = rest_record(0);
    let (status, body) = platform.push(&sha(), REST, &record).await;
    assert_eq!(status, 200, "{body}");
    let first = &results(&body)[0];
    assert_eq!(first["result"], "accepted", "{body}");
    assert_eq!(first["outcome"], "created");
    let receipt = first["receipt"].as_str().unwrap().to_owned();
    assert!(receipt.starts_with("WB-") && receipt.len() == 23, "{receipt}");
    let case_no = record["caseNo"].as_str().unwrap();
    let stored = platform.store.get_case(REST, case_no).await.unwrap();
    assert_eq!(stored.version, record["version"].as_i64().unwrap());

    // The same push again (a new nonce): a duplicate with the same receipt, nothing written.
    let (status, body) = platform.push(&sha(), REST, &record).await;
    assert_eq!(status, 200);
    assert_eq!(results(&body)[0]["result"], "duplicate");
    assert_eq!(results(&body)[0]["receipt"], receipt.as_str());
    assert_eq!(platform.stored().await, (1, 0));

    // HMAC-SM3, a batch; then an SM4-GCM encrypted body signed as sent.
    let batch = json!([rest_record(1), rest_record(2), rest_record(3)]);
    let (status, body) = platform.push(&sm3(), REST, &batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 3, "{body}");
    let key = Cipher::Sm4Gcm.key_from_hex(SM4_KEY).unwrap();
    let (status, body) = platform
        .push(&sm3().with_encryption(key), REST, &rest_record(4))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(results(&body)[0]["result"], "accepted", "{body}");
    assert_eq!(platform.stored().await, (5, 0));

    let metrics = platform
        .http
        .get(format!("{}/metrics", platform.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"ronghe_writeback_records_total{system="sim-rest",channel="push-json",outcome="accepted"} 5"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(r#"outcome="duplicate"} 1"#), "{metrics}");
}

#[tokio::test]
async fn an_older_version_never_overwrites_a_newer_one() {
    let platform = Platform::start().await;
    let old = rest_record(5);
    let mut new = old.clone();
    let version = old["version"].as_i64().unwrap();
    new["version"] = json!(version + 1);
    let (_, body) = platform.push(&sha(), REST, &new).await;
    assert_eq!(results(&body)[0]["outcome"], "created", "{body}");
    let (_, body) = platform.push(&sha(), REST, &old).await;
    assert_eq!(results(&body)[0]["result"], "accepted", "{body}");
    assert_eq!(results(&body)[0]["outcome"], "stale", "{body}");
    let case_no = old["caseNo"].as_str().unwrap();
    assert_eq!(
        platform.store.get_case(REST, case_no).await.unwrap().version,
        version + 1
    );
    assert_eq!(platform.store.case_history(REST, case_no).await.unwrap().len(), 2);
    // The same version with other content is a conflict: refused and queued, never stored.
    let mut conflicting = new.clone();
    conflicting["itemName"] = json!("另一个事项名称");
    let (_, body) = platform.push(&sha(), REST, &conflicting).await;
    let result = &results(&body)[0];
    assert_eq!(result["result"], "rejected", "{body}");
    assert_eq!(result["reasons"][0]["code"], "version_conflict", "{body}");
    assert_eq!(
        platform.store.get_case(REST, case_no).await.unwrap().version,
        version + 1
    );
}

#[tokio::test]
async fn a_mixed_batch_answers_per_record_and_queues_the_bad_ones_once() {
    mixed_batch(Platform::start().await).await;
}

async fn mixed_batch(platform: Platform) {
    let mut bad_id = rest_record(11);
    bad_id["applicant"]["idNo"] = json!("520102199001011234");
    let mut no_item = rest_record(12);
    no_item.as_object_mut().unwrap().remove("itemCode");
    let batch = json!([rest_record(10), bad_id, rest_record(13), no_item]);
    let (status, body) = platform.push(&sha(), REST, &batch).await;
    assert_eq!(status, 200, "{body}");
    let kinds: Vec<&str> = results(&body)
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["accepted", "rejected", "accepted", "rejected"], "{body}");
    let rejected = &results(&body)[1];
    assert!(rejected["quality_item"].as_i64().is_some(), "{body}");
    assert!(!rejected["mapping_version"].as_str().unwrap().is_empty());
    let reasons = rejected["reasons"].to_string();
    assert!(reasons.contains("applicant.certificate_no"), "{reasons}");
    assert!(
        !reasons.contains("520102199001011234"),
        "the number is masked: {reasons}"
    );
    assert_eq!(platform.stored().await, (2, 2));

    // A retried push adds nothing: same receipts, same quality items.
    let (_, again) = platform.push(&sha(), REST, &batch).await;
    let kinds: Vec<&str> = results(&again)
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["duplicate", "rejected", "duplicate", "rejected"]);
    assert_eq!(results(&again)[1]["quality_item"], rejected["quality_item"]);
    assert_eq!(results(&again)[0]["receipt"], results(&body)[0]["receipt"]);
    assert_eq!(platform.stored().await, (2, 2));

    // The queue through the API.
    let (status, list) = platform.get("/api/v1/quality?system=sim-rest&status=open").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let id = rejected["quality_item"].as_i64().unwrap();
    let (status, item) = platform.get(&format!("/api/v1/quality/{id}")).await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["channel"], "push-json");
    // Issue 14 (Art. 23): the record's values are masked unless unmasked with a purpose.
    assert_ne!(item["record"]["caseNo"], batch[1]["caseNo"]);
    assert!(item["record"]["caseNo"].as_str().unwrap().contains('*'), "{item}");
    assert_eq!(item["mapping_version"], rejected["mapping_version"]);
    let (status, item) = platform
        .get(&format!("/api/v1/quality/{id}?unmask=true&purpose=debug-mapping"))
        .await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["record"]["caseNo"], batch[1]["caseNo"]);
    let (status, _) = platform.get("/api/v1/quality?status=lost").await;
    assert_eq!(status, 400);
    let (status, _) = platform.get("/api/v1/quality/999999").await;
    assert_eq!(status, 404);

    // The source corrects the bad record: once stored, it resolves that item, and only that one.
    let (status, body) = platform.push(&sha(), REST, &json!([rest_record(11)])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(results(&body)[0]["result"], "accepted", "{body}");
    let (_, item) = platform.get(&format!("/api/v1/quality/{id}")).await;
    assert_eq!(item["status"], "resolved", "{item}");
    assert!(item["note"].as_str().unwrap().contains("superseded"), "{item}");
    let (_, list) = platform.get("/api/v1/quality?system=sim-rest&status=open").await;
    let open: Vec<&Value> = list.as_array().unwrap().iter().collect();
    assert_eq!(open.len(), 1, "{list}");
    assert_eq!(open[0]["case_no"], batch[3]["caseNo"], "{list}");

    // An operator dismisses the last one with a reason (the console's form has the same call);
    // without a reason, by an engineer, or twice, it is refused.
    let path = format!("/api/v1/quality/{}/dismiss", open[0]["id"]);
    let dismiss =
        |http: &reqwest::Client, body: Value| http.post(format!("{}{path}", platform.url)).json(&body).send();
    let engineer = common::authed(&common::staff_token(&platform.store, "eng", &["engineer@province"]).await);
    let refused = dismiss(&engineer, json!({ "reason": "源系统已更正" }))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let blank = dismiss(&platform.http, json!({ "reason": "  " })).await.unwrap();
    assert_eq!(blank.status().as_u16(), 422);
    let answered = dismiss(&platform.http, json!({ "reason": "源系统已更正" }))
        .await
        .unwrap();
    assert_eq!(answered.status().as_u16(), 200);
    let item: Value = answered.json().await.unwrap();
    assert_eq!(item["status"], "dismissed", "{item}");
    let again = dismiss(&platform.http, json!({ "reason": "再次" }))
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let (_, list) = platform.get("/api/v1/quality?system=sim-rest&status=open").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
}

/// Issue 17 (bounded memory): with a body budget smaller than any one push, concurrent JSON and
/// SOAP pushes run one at a time. Every push is answered 200 (none refused for the budget, none
/// stuck: a push larger than the budget runs alone) and every record is stored once.
#[tokio::test]
async fn pushes_past_the_body_budget_wait_their_turn_and_every_record_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    let platform = Arc::new(Platform::start_with(store, dir, Some(1024)).await);
    let soap_url = format!("{}/soap/{SOAP}/writeback", platform.url);
    let (clients, per_push) = (6, MAX_BATCH);
    let mut pushes = tokio::task::JoinSet::new();
    for c in 0..clients {
        let platform = platform.clone();
        pushes.spawn(async move {
            let batch: Vec<Value> = (0..per_push)
                .map(|r| rest_record(100 + c * per_push + r))
                .collect();
            let (status, body) = platform.push(&sha(), REST, &Value::Array(batch)).await;
            assert_eq!(status, 200, "{body}");
            body["accepted"].as_u64().unwrap()
        });
        let push = Push::new(&soap_url, Some(sha()));
        pushes.spawn(async move {
            let records: Vec<String> = (0..per_push)
                .map(|r| ronghe_adapters::sim::soap::case_xml(&data::case(3, c * per_push + r)))
                .collect();
            let answer = push.send(&records).await.unwrap();
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body.matches("result=\"accepted\"").count() as u64
        });
    }
    let answered = tokio::time::timeout(std::time::Duration::from_secs(120), pushes.join_all())
        .await
        .expect("every push is answered: none waits forever for the budget");
    let total = (2 * clients * per_push) as u64;
    assert_eq!(answered.iter().sum::<u64>(), total, "{answered:?}");
    assert_eq!(platform.stored().await, (total as i64, 0));
}

/// Issue 17: a SOAP push's parsed elements are dropped as soon as each is judged; a case the store
/// refuses (a version received before with other content) is queued with its record read again
/// from the body, the same record a kept element gives.
#[tokio::test]
async fn a_soap_record_the_store_refuses_is_queued_with_the_record_as_pushed() {
    let platform = Platform::start().await;
    let url = format!("{}/soap/{SOAP}/writeback", platform.url);
    let push = Push::new(&url, Some(sha()));
    let records: Vec<String> = (0..3)
        .map(|i| ronghe_adapters::sim::soap::case_xml(&data::case(3, i)))
        .collect();
    let answer = push.send(&records).await.unwrap();
    assert_eq!(
        answer.body.matches("result=\"accepted\"").count(),
        3,
        "{}",
        answer.body
    );

    // The same versions again, the middle one with another phone number.
    let phone = records[1]
        .split("<联系电话>")
        .nth(1)
        .and_then(|rest| rest.split("</联系电话>").next())
        .unwrap()
        .to_owned();
    let changed = records[1].replacen(&phone, "13900000000", 1);
    assert_ne!(changed, records[1]);
    let again = [records[0].clone(), changed.clone(), records[2].clone()];
    let answer = push.send(&again).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains("index=\"0\" result=\"duplicate\""),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("index=\"1\" result=\"rejected\""),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("index=\"2\" result=\"duplicate\""),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("version_conflict"), "{}", answer.body);
    let id = answer
        .body
        .split("qualityItem=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let (status, item) = platform
        .get(&format!("/api/v1/quality/{id}?unmask=true&purpose=debug-mapping"))
        .await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["channel"], "push-soap", "{item}");
    let expected = ronghe_adapters::Raw::Xml(ronghe_adapters::soap::parse_xml(&changed).unwrap()).to_json();
    assert_eq!(item["record"], expected, "{item}");
    assert_eq!(platform.stored().await, (3, 1));
}

#[tokio::test]
async fn the_soap_simulator_pushes_gbk_envelopes_signed_and_encrypted() {
    let platform = Platform::start().await;
    let sim = SoapSim::start(&SimOptions {
        seed: 3,
        cases: 20,
        listen: "127.0.0.1:0".parse().unwrap(),
        bridge: None,
    })
    .await
    .unwrap();
    let url = format!("{}/soap/{SOAP}/writeback", platform.url);
    let completed = sim.completed();
    assert!(!completed.is_empty());
    let pushed = sim.push_completed(&Push::new(&url, Some(sm3()))).await.unwrap();
    assert_eq!(pushed, completed.len());
    assert_eq!(platform.stored().await, (completed.len() as i64, 0));

    // A subset again, in one SOAP 1.1 envelope, SM4-encrypted: duplicates with their receipts.
    let key = Cipher::Sm4Gcm.key_from_hex(SM4_KEY).unwrap();
    let push = Push::new(&url, Some(sha().with_encryption(key)));
    let answer = push.send(&completed[..2]).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.content_type.starts_with("text/xml"),
        "{}",
        answer.content_type
    );
    assert_eq!(
        answer.body.matches("result=\"duplicate\"").count(),
        2,
        "{}",
        answer.body
    );
    assert!(answer.body.contains("receipt=\"WB-"), "{}", answer.body);

    // SOAP 1.2, a newer version of one case and a broken one.
    let newer = completed[0].replacen("<版本号>", "<版本号>1", 1);
    let broken =
        completed[1]
            .replacen("<事项编码>", "<事项编码_>", 1)
            .replacen("</事项编码>", "</事项编码_>", 1);
    let push12 = Push {
        version: SoapVersion::Soap12,
        ..Push::new(&url, Some(sha()))
    };
    let answer = push12.send(&[newer, broken]).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.content_type.starts_with("application/soap+xml"),
        "{}",
        answer.content_type
    );
    assert!(answer.body.contains("http://www.w3.org/2003/05/soap-envelope"));
    assert!(
        answer
            .body
            .contains("index=\"0\" result=\"accepted\" outcome=\"updated\""),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("index=\"1\" result=\"rejected\""),
        "{}",
        answer.body
    );
    let (_, items) = platform.get("/api/v1/quality?system=sim-soap").await;
    assert_eq!(items[0]["channel"], "push-soap", "{items}");

    // The WSDL, with this endpoint at the platform's public URL, whatever `Host` the caller
    // sends (a cached WSDL must not send signed pushes elsewhere).
    let public = format!("{}/soap/{SOAP}/writeback", common::PUBLIC_URL);
    for host in [None, Some("evil.example")] {
        let mut request = platform.http.get(format!("{url}?wsdl"));
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let wsdl = request.send().await.unwrap().text().await.unwrap();
        assert!(
            wsdl.contains("wsdl:definitions") && wsdl.contains(&format!("location=\"{public}\"")),
            "{wsdl}"
        );
        assert!(!wsdl.contains("evil.example"), "{wsdl}");
    }
    let (status, _) = platform.get("/soap/no-such/writeback?wsdl").await;
    assert_eq!(status, 404);
    // The OpenAPI document names the same public URL as its server, whatever `Host` says.
    let doc: serde_json::Value = platform
        .http
        .get(format!("{}/api/v1/openapi.json", platform.url))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["servers"],
        serde_json::json!([{ "url": common::PUBLIC_URL.trim_end_matches('/') }])
    );

    // A push signed with a key the system does not have: a fault that names no part.
    let stranger = Signer::new("k-none", MacAlgorithm::HmacSm3, SM3_SECRET.as_bytes().to_vec());
    let answer = Push::new(&url, Some(stranger))
        .send(&completed[..1])
        .await
        .unwrap();
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(
        answer.body.contains("<faultcode>soapenv:Client</faultcode>"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("<wb:code>unauthenticated</wb:code>"),
        "{}",
        answer.body
    );
    assert!(!answer.body.contains("k-none"), "{}", answer.body);
    sim.running.stop().await;
}

#[tokio::test]
async fn authentication_failures_look_alike_and_store_nothing() {
    let platform = Platform::start().await;
    let path = format!("/api/v1/writeback/{REST}");
    let body = rest_record(20).to_string().into_bytes();
    let json = "application/json";
    let now = Utc::now().timestamp();

    let tampered = {
        let mut signed = sha().sign("POST", &path, &body).unwrap();
        signed.body = rest_record(21).to_string().into_bytes();
        signed
    };
    let expired = sha()
        .sign_at("POST", &path, &body, now - 3600, "n-expired")
        .unwrap();
    let future = sha()
        .sign_at("POST", &path, &body, now + 3600, "n-future")
        .unwrap();
    let unknown_key = Signer::new("k-none", MacAlgorithm::HmacSha256, SHA_SECRET.as_bytes().to_vec())
        .sign("POST", &path, &body)
        .unwrap();
    let wrong_secret = Signer::new("k-sha", MacAlgorithm::HmacSha256, b"guess".to_vec())
        .sign("POST", &path, &body)
        .unwrap();
    let wrong_algorithm = Signer::new("k-sha", MacAlgorithm::HmacSm3, SHA_SECRET.as_bytes().to_vec())
        .sign("POST", &path, &body)
        .unwrap();
    let other_path = sha().sign("POST", "/api/v1/writeback/sim-soap", &body).unwrap();
    let mut unsigned = sha().sign("POST", &path, &body).unwrap();
    unsigned.headers.retain(|(h, _)| *h != "x-ronghe-signature");

    let mut answers = Vec::new();
    for (name, signed) in [
        ("tampered body", tampered),
        ("expired timestamp", expired),
        ("future timestamp", future),
        ("unknown key", unknown_key),
        ("wrong secret", wrong_secret),
        ("wrong algorithm", wrong_algorithm),
        ("signed for another path", other_path),
        ("no signature", unsigned),
    ] {
        let (status, text) = platform.send(&path, json, &signed.headers, signed.body).await;
        assert_eq!(status, 401, "{name}: {text}");
        answers.push((name, text));
    }
    // An unknown system, and a secret one, with requests that would be right for a known one.
    for (name, system) in [("unknown system", "no-such"), ("secret system", SECRET)] {
        let path = format!("/api/v1/writeback/{system}");
        let signed = sha().sign("POST", &path, &body).unwrap();
        let (status, text) = platform.send(&path, json, &signed.headers, signed.body).await;
        assert_eq!(status, 401, "{name}");
        answers.push((name, text));
    }
    for (name, text) in &answers {
        assert_eq!(text, &answers[0].1, "{name} answers like the others");
    }
    let error: Value = serde_json::from_str(&answers[0].1).unwrap();
    assert_eq!(error["error"]["code"], "unauthenticated");
    assert!(error["error"].get("field").is_none());

    // A retired key: forbidden, in the same shape.
    let retired = Signer::new("k-old", MacAlgorithm::HmacSha256, SHA_SECRET.as_bytes().to_vec());
    let (status, text) = platform.signed(&retired, &path, json, &body).await;
    assert_eq!(status, 403, "{text}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["code"], "forbidden");
    assert_eq!(platform.stored().await, (0, 0), "nothing stored");

    // A replayed request: the first is taken, the replay refused alike.
    let signed = sha().sign("POST", &path, &body).unwrap();
    let (status, _) = platform
        .send(&path, json, &signed.headers, signed.body.clone())
        .await;
    assert_eq!(status, 200);
    let (status, text) = platform.send(&path, json, &signed.headers, signed.body).await;
    assert_eq!(status, 401);
    assert_eq!(text, answers[0].1);
    assert_eq!(platform.stored().await, (1, 0), "the replay stored nothing");
}

/// Issue 17: concurrent pushes commit in groups, each request on its own: 24 pushes at once, two
/// of them the same signed request (one nonce). Every distinct push is answered after its cases
/// are stored; of the two copies exactly one is stored and the other refused like any replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_commit_together_and_a_shared_nonce_is_taken_once() {
    let platform = std::sync::Arc::new(Platform::start().await);
    let path = format!("/api/v1/writeback/{REST}");
    let copied = sha()
        .sign("POST", &path, rest_record(0).to_string().as_bytes())
        .unwrap();
    let mut pushes = Vec::new();
    for i in 0..24 {
        let (platform, path) = (platform.clone(), path.clone());
        let signed = if i < 2 {
            copied.clone()
        } else {
            sha()
                .sign("POST", &path, rest_record(i).to_string().as_bytes())
                .unwrap()
        };
        pushes.push(tokio::spawn(async move {
            platform
                .send(&path, "application/json", &signed.headers, signed.body)
                .await
        }));
    }
    let mut statuses = Vec::new();
    for push in pushes {
        let (status, text) = push.await.unwrap();
        if status == 200 {
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["accepted"], 1, "{body}");
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 23, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&401), "{statuses:?}");
    assert_eq!(platform.stored().await, (23, 0));
}

/// A retired system (Art. 25: its cases moved to the platform) takes no more cases: a signed
/// push is answered 409 `system_retired` and stores nothing; an unsigned one still gets the
/// 401 every stranger gets, so retirement is not revealed to it.
#[tokio::test]
async fn a_retired_system_takes_no_more_pushes() {
    let platform = Platform::start().await;
    let retire = platform
        .http
        .post(format!("{}/api/v1/systems/{REST}/retire", platform.url))
        .json(&json!({ "reason": "全流程迁移完成,原系统下线" }))
        .send()
        .await
        .unwrap();
    assert_eq!(retire.status(), 200);
    let (status, body) = platform.push(&sha(), REST, &rest_record(30)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "system_retired");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("retired"),
        "{body}"
    );
    let path = format!("/api/v1/writeback/{REST}");
    let (status, _) = platform
        .send(
            &path,
            "application/json",
            &[],
            rest_record(31).to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(platform.stored().await, (0, 0), "nothing stored");
    // The other system still takes its pushes.
    let (status, body) = platform.push(&sha(), SOAP, &rest_record(32)).await;
    assert_ne!(status, 409, "{body}");
}

/// Issue 17: a push reads its system, config and rules from the node's short-lived copy
/// (`intake::FRESH_FOR`), not the store. A change made through this node's store is seen by the
/// very next push; one made by another node (a second store on the same file) once that time
/// has passed. A missing config is never held, so attaching one works at once.
#[tokio::test]
async fn settings_changed_here_apply_at_once_and_another_nodes_within_the_freshness_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    let other_node = common::sqlite_store(&dir).await;
    let platform = Platform::start_on(store.clone(), dir).await;
    let (status, body) = platform.push(&sha(), REST, &rest_record(40)).await;
    assert_eq!(status, 200, "{body}");

    // This node retires the key it was just signed with: the next push is refused.
    let retired = writeback_config().replacen(
        "id = \"k-sha\"\nalgorithm = \"hmac-sha256\"\nsecret = \"env:WB_SHA\"\n",
        "id = \"k-sha\"\nalgorithm = \"hmac-sha256\"\nsecret = \"env:WB_SHA\"\nretired = true\n",
        1,
    );
    assert_ne!(retired, writeback_config());
    store.set_writeback_config(REST, &retired, "test").await.unwrap();
    let (status, body) = platform.push(&sha(), REST, &rest_record(41)).await;
    assert_eq!(status, 403, "a retired key is refused at once: {body}");

    // Another node puts the key back and publishes a rule: this node follows within FRESH_FOR.
    other_node
        .set_writeback_config(REST, &writeback_config(), "test")
        .await
        .unwrap();
    let rule = ronghe::rules::NewRule {
        item_code: "*".to_owned(),
        field: "case_no".to_owned(),
        check: ronghe::rules::Check::MaxLength { max: 1 },
        description: "测试:办件编号至多一个字符".to_owned(),
        published_on: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
    };
    other_node.insert_rule(&rule, "test").await.unwrap();
    tokio::time::sleep(ronghe::intake::FRESH_FOR + std::time::Duration::from_millis(300)).await;
    let (status, body) = platform.push(&sha(), REST, &rest_record(42)).await;
    assert_eq!(status, 200, "the key is back: {body}");
    assert_eq!(body["rejected"], 1, "the other node's rule binds: {body}");

    // A system with no config: refused, then attached elsewhere and taken by the next push
    // (sim-sql has a mapping in the repository's mappings; the REST record does not fit it).
    other_node
        .insert_system(&common::system("sim-sql"), "test")
        .await
        .unwrap();
    let (status, _) = platform.push(&sha(), "sim-sql", &rest_record(43)).await;
    assert_eq!(status, 401);
    other_node
        .set_writeback_config("sim-sql", &writeback_config(), "test")
        .await
        .unwrap();
    let (status, body) = platform.push(&sha(), "sim-sql", &rest_record(43)).await;
    assert_eq!(status, 200, "a config attached anywhere is used at once: {body}");
}

/// A body the intake must refuse: (what, path, content type, body, status, code).
type Refusal<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);

#[tokio::test]
async fn malformed_and_hostile_bodies_are_refused_with_the_error_shape_and_nothing_stored() {
    let platform = Platform::start().await;
    let json_path = format!("/api/v1/writeback/{REST}");
    let soap_path = format!("/soap/{SOAP}/writeback");
    let envelope = |body: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>{body}</s:Body></s:Envelope>"
        )
    };
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>{}",
        envelope("<办件><办件编号>&lol2;</办件编号></办件>")
    );
    let external = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        envelope("<办件><办件编号>&xxe;</办件编号></办件>")
    );
    let undeclared_entity = envelope("<办件><办件编号>&xxe;</办件编号></办件>");
    let gbk = Push::new("http://unused/", None)
        .envelope(&[ronghe_adapters::sim::soap::case_xml(&data::case(3, 0))]);
    let oversized = "x".repeat(MAX_BODY + 1);
    let too_many = Value::Array((0..=MAX_BATCH).map(rest_record).collect()).to_string();
    let xml = "text/xml; charset=UTF-8";
    // (what, path, content type, body, status, code)
    let cases: Vec<Refusal> = vec![
        (
            "malformed JSON",
            &json_path,
            "application/json",
            b"{\"caseNo\": ".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "a JSON scalar",
            &json_path,
            "application/json",
            b"42".to_vec(),
            400,
            "invalid_body",
        ),
        (
            "a batch of scalars",
            &json_path,
            "application/json",
            b"[1]".to_vec(),
            400,
            "invalid_record",
        ),
        (
            "JSON as text",
            &json_path,
            "text/plain",
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "a batch over max_batch",
            &json_path,
            "application/json",
            too_many.into_bytes(),
            413,
            "batch_too_large",
        ),
        (
            "an oversized JSON body",
            &json_path,
            "application/json",
            oversized.clone().into_bytes(),
            413,
            "body_too_large",
        ),
        (
            "malformed XML",
            &soap_path,
            xml,
            envelope("<办件>").into_bytes(),
            400,
            "invalid_xml",
        ),
        (
            "billion laughs",
            &soap_path,
            xml,
            laughs.into_bytes(),
            400,
            "xml_refused",
        ),
        (
            "external entity",
            &soap_path,
            xml,
            external.into_bytes(),
            400,
            "xml_refused",
        ),
        (
            "an undeclared entity",
            &soap_path,
            xml,
            undeclared_entity.into_bytes(),
            400,
            "xml_refused",
        ),
        (
            "GBK declared as UTF-8",
            &soap_path,
            xml,
            gbk.clone(),
            400,
            "encoding_mismatch",
        ),
        (
            "UTF-16 with its byte-order mark, declared GBK",
            &soap_path,
            "text/xml; charset=GBK",
            [0xFF, 0xFE]
                .into_iter()
                .chain(envelope("<办件/>").encode_utf16().flat_map(u16::to_le_bytes))
                .collect(),
            400,
            "encoding_mismatch",
        ),
        (
            "no case elements",
            &soap_path,
            xml,
            envelope("<x/>").into_bytes(),
            400,
            "no_records",
        ),
        (
            "not an envelope",
            &soap_path,
            xml,
            b"<a/>".to_vec(),
            400,
            "invalid_envelope",
        ),
        (
            "an oversized SOAP body",
            &soap_path,
            xml,
            oversized.into_bytes(),
            413,
            "body_too_large",
        ),
    ];
    for (name, path, content_type, body, status, code) in cases {
        let (got, text) = platform.signed(&sha(), path, content_type, &body).await;
        assert_eq!(got, status, "{name}: {text}");
        if path.starts_with("/soap/") {
            assert!(
                text.contains("Fault") && text.contains(&format!("<wb:code>{code}</wb:code>")),
                "{name}: {text}"
            );
        } else {
            let error: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"));
            assert_eq!(error["error"]["code"], code, "{name}: {text}");
            assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
    assert_eq!(platform.stored().await, (0, 0), "nothing stored");
    // The same GBK bytes, declared as what they are, are taken.
    let (status, text) = platform
        .signed(&sha(), &soap_path, "text/xml; charset=GBK", &gbk)
        .await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn writeback_and_quality_commands_through_the_binary() {
    let sandbox = common::binary::Sandbox::new();
    sandbox.add_system(REST, "http://127.0.0.1:9/api");
    let mut secret = common::binary::add_system_args(SECRET, "http://127.0.0.1:9/api");
    secret.push("--secret");
    sandbox.run(&secret).check(0, &[]);
    let good = sandbox.write("wb.toml", writeback_config());
    let bad = sandbox.write(
        "bad.toml",
        "[[keys]]\nid = \"a\"\nalgorithm = \"hmac-md5\"\nsecret = \"env:A\"\n",
    );
    sandbox.run(&["writeback", "check", &good]).check(
        0,
        &[
            "有效 valid: write-back config",
            "k-sm3 (hmac-sm3)",
            "batch ≤ 10",
            "SM4-GCM",
        ],
    );
    let run = sandbox.run(&["--json", "writeback", "check", &bad]).check(1, &[]);
    assert_eq!(run.json()["valid"], false, "{run}");
    sandbox.run(&["writeback", "attach", REST, &bad]).check(1, &[]);
    sandbox
        .run(&["writeback", "attach", REST, &good])
        .check(0, &["已绑定 attached: write-back config to sim-rest"]);
    sandbox
        .run(&["writeback", "attach", "no-such", &good])
        .check(1, &[]);

    // One refused record in the queue, as the intake leaves it.
    let store = Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    assert!(store.writeback_config(REST).await.unwrap().contains("k-sm3"));
    let ids = store
        .queue_quality_items(
            &[NewQualityItem {
                system_id: REST.to_owned(),
                case_no: Some("SC-1".to_owned()),
                version: Some(2),
                channel: "push-json".to_owned(),
                record_hash: "ab".repeat(32),
                record: json!({ "caseNo": "SC-1" }),
                reasons: vec![QualityReason {
                    code: "mapping".to_owned(),
                    field: Some("implementation_code".to_owned()),
                    message: "implementation_code: is required".to_owned(),
                }],
                mapping_version: Some("m1".to_owned()),
                received_at: Utc::now(),
            }],
            "test",
        )
        .await
        .unwrap();
    store.close().await;
    let id = ids[0].to_string();
    sandbox
        .run(&["quality", "list", "--system", REST, "--status", "open"])
        .check(0, &["SC-1", "mapping", "open"]);
    sandbox
        .run(&["quality", "show", &id])
        .check(0, &["implementation_code: is required", "m1"]);
    sandbox
        .run(&["quality", "dismiss", &id, "--reason", "测试数据"])
        .check(0, &["已忽略 dismissed"]);
    sandbox
        .run(&["quality", "dismiss", &id, "--reason", "again"])
        .check(1, &[]);
    let run = sandbox
        .run(&["--json", "quality", "list", "--status", "dismissed"])
        .check(0, &[]);
    assert_eq!(run.json()[0]["id"].as_i64(), Some(ids[0]), "{run}");
    let run = sandbox
        .run(&["--json", "quality", "list", "--status", "open"])
        .check(0, &[]);
    assert_eq!(run.json(), json!([]), "{run}");
    sandbox
        .run(&["quality", "list", "--status", "lost"])
        .check(1, &[]);
}

/// The `xsd:` child of `element` named `name` (by its `name` attribute when `named` is given).
fn xsd<'a>(element: &'a XmlElement, kind: &str, named: Option<&str>) -> Option<&'a XmlElement> {
    element
        .children
        .iter()
        .find(|c| c.name == kind && named.is_none_or(|n| c.attribute("name") == Some(n)))
}

/// A value as a stock client writes a value of the XML Schema type `xsd_type`.
fn typed_value(xsd_type: &str, text: &str) -> String {
    match xsd_type {
        "xsd:dateTime" => ronghe::validate::parse_timestamp(text)
            .unwrap_or_else(|e| panic!("{text}: {}", e.message))
            .to_rfc3339(),
        "xsd:long" => text
            .trim()
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("{text}"))
            .to_string(),
        "xsd:unsignedInt" => text
            .trim()
            .parse::<u32>()
            .unwrap_or_else(|_| panic!("{text}"))
            .to_string(),
        "xsd:string" => text.to_owned(),
        other => panic!("the test renders no {other}"),
    }
}

/// `source` as a SOAP client built from the WSDL writes an element `name` of the complex type
/// `declared`: only what the schema declares, children in its order, qualified in the
/// write-back namespace (`elementFormDefault="qualified"`, as zeep's `ns0:`), attributes
/// unqualified, values in their schema type's lexical form. A required element the source
/// lacks fails the test. Answers how many elements and attributes it wrote.
fn as_schema_says(name: &str, declared: &XmlElement, source: &XmlElement, out: &mut String) -> usize {
    let simple = xsd(declared, "simpleContent", None).and_then(|s| xsd(s, "extension", None));
    let attributes_of = simple.unwrap_or(declared);
    let mut written = 1;
    out.push_str(&format!("<ns0:{name}"));
    for attribute in attributes_of.children.iter().filter(|c| c.name == "attribute") {
        let attr = attribute.attribute("name").unwrap();
        match source.attribute(attr) {
            Some(value) => {
                let value = typed_value(attribute.attribute("type").unwrap(), value);
                out.push_str(&format!(" {attr}=\"{}\"", ronghe_adapters::soap::escape(&value)));
                written += 1;
            }
            None => assert_ne!(attribute.attribute("use"), Some("required"), "{name}/@{attr}"),
        }
    }
    out.push('>');
    if let Some(extension) = simple {
        let value = typed_value(extension.attribute("base").unwrap(), &source.text);
        out.push_str(&ronghe_adapters::soap::escape(&value));
    }
    for element in xsd(declared, "sequence", None).map_or(&[][..], |s| &s.children) {
        let child_name = element.attribute("name").unwrap();
        let Some(child) = source.child(child_name) else {
            assert_eq!(
                element.attribute("minOccurs"),
                Some("0"),
                "{child_name} is required"
            );
            continue;
        };
        match (element.attribute("type"), xsd(element, "complexType", None)) {
            (Some(simple_type), _) => {
                let value = typed_value(simple_type, &child.text);
                out.push_str(&format!(
                    "<ns0:{child_name}>{}</ns0:{child_name}>",
                    ronghe_adapters::soap::escape(&value)
                ));
                written += 1;
            }
            (None, Some(complex)) => written += as_schema_says(child_name, complex, child, out),
            (None, None) => panic!("{child_name} has no type"),
        }
    }
    out.push_str(&format!("</ns0:{name}>"));
    written
}

/// Issue 19: the WSDL types the case element by the system's mapping; a record built as its
/// XSD says (namespace-qualified, typed values, only the declared parts) is accepted and
/// stored, and the same push again is a duplicate with the same receipt.
#[tokio::test]
async fn the_wsdl_types_the_record_the_mapping_reads_and_a_record_built_by_it_is_stored() {
    let platform = Platform::start().await;
    let url = format!("{}/soap/{SOAP}/writeback", platform.url);
    let response = platform.http.get(format!("{url}?wsdl")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let text = response.text().await.unwrap();
    let wsdl = ronghe_adapters::soap::parse_xml(&text).unwrap_or_else(|e| panic!("{e}: {text}"));

    // The signature, documented on the service.
    let service = wsdl.child("service").unwrap();
    let documentation = &service.child("documentation").unwrap().text;
    for needed in [
        "X-Ronghe-Key-Id",
        "X-Ronghe-Timestamp",
        "X-Ronghe-Nonce",
        "X-Ronghe-Signature",
        "X-Ronghe-Encryption: sm4-gcm",
        "hmac-sha256",
        "hmac-sm3",
        "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256",
        "/soap/sim-soap/writeback",
        "README",
    ] {
        assert!(documentation.contains(needed), "{needed} in {documentation}");
    }

    // pushCases: a sequence of 办件 of the type the mapping reads.
    let schema = wsdl.child("types").unwrap().child("schema").unwrap();
    assert_eq!(schema.attribute("elementFormDefault"), Some("qualified"));
    let push = xsd(schema, "element", Some("pushCases")).unwrap();
    let sequence = push.child("complexType").unwrap().child("sequence").unwrap();
    let record = xsd(sequence, "element", Some("办件")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(record.attribute("type"), Some("wb:CaseRecord"));
    assert_eq!(
        record.attribute("maxOccurs"),
        Some(MAX_BATCH.to_string().as_str())
    );
    assert!(xsd(sequence, "any", None).is_none(), "no xsd:any: {text}");
    let case_record = xsd(schema, "complexType", Some("CaseRecord")).unwrap();
    let fields = case_record.child("sequence").unwrap();
    let field = |name: &str| xsd(fields, "element", Some(name)).unwrap_or_else(|| panic!("{name}: {text}"));
    assert_eq!(field("办件编号").attribute("type"), Some("xsd:string"));
    assert_eq!(
        field("办件编号").attribute("minOccurs"),
        None,
        "the key is required"
    );
    assert_eq!(field("版本号").attribute("type"), Some("xsd:long"));
    assert_eq!(field("受理时间").attribute("type"), Some("xsd:dateTime"));
    assert_eq!(field("受理时间").attribute("minOccurs"), Some("0"));
    assert_eq!(field("承诺时限").attribute("type"), Some("xsd:unsignedInt"));
    assert_eq!(field("办理状态").attribute("type"), Some("xsd:string"));
    let applicant = field("申请人").child("complexType").unwrap();
    assert!(xsd(applicant, "attribute", Some("类型")).is_some(), "{text}");
    assert!(xsd(applicant.child("sequence").unwrap(), "element", Some("证件号码")).is_some());
    let department = field("受理部门").child("complexType").unwrap();
    let extension = department
        .child("simpleContent")
        .unwrap()
        .child("extension")
        .unwrap();
    assert_eq!(extension.attribute("base"), Some("xsd:string"));
    assert!(xsd(extension, "attribute", Some("代码")).is_some());
    // The responses keep their types.
    assert!(xsd(schema, "element", Some("pushCasesResponse")).is_some());
    assert!(xsd(schema, "complexType", Some("Record")).is_some());

    // A record built from the schema with a simulated case's values.
    let sim = SoapSim::start(&SimOptions {
        seed: 11,
        cases: 10,
        listen: "127.0.0.1:0".parse().unwrap(),
        bridge: None,
    })
    .await
    .unwrap();
    let source = ronghe_adapters::soap::parse_xml(&sim.completed()[0]).unwrap();
    sim.running.stop().await;
    let mut built = String::new();
    let written = as_schema_says("办件", case_record, &source, &mut built);
    assert!(written >= 20, "{written} parts: {built}");
    let envelope = format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body><ns0:pushCases xmlns:ns0=\"urn:ronghe:writeback\">{built}</ns0:pushCases></soap-env:Body></soap-env:Envelope>"
    );
    let path = format!("/soap/{SOAP}/writeback");
    let xml = "text/xml; charset=utf-8";
    let receipt = |body: &str| {
        let start = body.find("receipt=\"").unwrap_or_else(|| panic!("{body}")) + 9;
        body[start..start + 23].to_owned()
    };
    let (status, body) = platform.signed(&sha(), &path, xml, envelope.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("result=\"accepted\" outcome=\"created\""), "{body}");
    let first = receipt(&body);
    assert!(first.starts_with("WB-"), "{first}");
    assert_eq!(platform.stored().await, (1, 0));
    let (status, body) = platform.signed(&sha(), &path, xml, envelope.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("result=\"duplicate\""), "{body}");
    assert_eq!(receipt(&body), first);
    assert_eq!(platform.stored().await, (1, 0));
}

/// Issue 19: without a mapping that reads XML the WSDL still answers, with untyped records and
/// the reason; an unknown system, one without write-back and a secret one answer the same 404;
/// a GET without `?wsdl` is a 400 in the API's error shape.
#[tokio::test]
async fn the_wsdl_without_a_mapping_and_for_systems_without_an_endpoint() {
    let platform = Platform::start().await;
    let unmapped = "sim-unmapped";
    let plain = "sim-plain";
    for id in [unmapped, plain] {
        platform
            .store
            .insert_system(&common::system(id), "test")
            .await
            .unwrap();
    }
    platform
        .store
        .set_writeback_config(unmapped, &writeback_config(), "test")
        .await
        .unwrap();
    let wsdl = |system: &str| {
        let request = platform
            .http
            .get(format!("{}/soap/{system}/writeback?wsdl", platform.url));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    for (system, why) in [
        (unmapped, "has no mapping yet"),
        (REST, "does not read XML records"),
    ] {
        let (status, text) = wsdl(system).await;
        assert_eq!(status, 200, "{system}: {text}");
        assert!(
            text.contains("<xsd:any ") && text.contains(why),
            "{system}: {text}"
        );
        assert!(!text.contains("CaseRecord"), "{system}: {text}");
        ronghe_adapters::soap::parse_xml(&text).unwrap();
    }

    let (status, missing) = wsdl("no-such").await;
    assert_eq!(status, 404, "{missing}");
    let error: Value = serde_json::from_str(&missing).unwrap();
    assert_eq!(error["error"]["code"], "not_found");
    for system in [plain, SECRET] {
        let (status, text) = wsdl(system).await;
        assert_eq!((status, text.as_str()), (404, missing.as_str()), "{system}");
    }

    let (status, text) = wsdl(SOAP).await;
    assert_eq!(status, 200, "{text}");
    let response = platform
        .http
        .get(format!("{}/soap/{SOAP}/writeback?wsdl=", platform.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), text, "?wsdl= is ?wsdl");
    // The OpenAPI document says so: the query parameter and every status of the GET.
    let (status, doc) = platform.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let get = &doc["paths"]["/soap/{system}/writeback"]["get"];
    let wsdl_param = get["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "wsdl")
        .unwrap_or_else(|| panic!("{get}"));
    assert_eq!(wsdl_param["in"], "query", "{get}");
    assert!(
        get["responses"]["200"]["content"]["text/xml"].is_object(),
        "{get}"
    );
    for status in ["400", "404"] {
        let schema = &get["responses"][status]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(schema, "#/components/schemas/ErrorBody", "{status}: {get}");
    }
    for query in ["", "?other", "?wsdl=yes"] {
        let (status, error) = platform.get(&format!("/soap/{SOAP}/writeback{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(error["error"]["code"], "wsdl_query", "{query}");
    }
}
