//! The user bridge end to end over real sockets: ronghe's router served on loopback, the REST
//! simulator with its single sign-on login redeeming tickets server-to-server. A platform user
//! reaches the legacy system as the right account; refused tickets come back with distinct
//! codes; a legacy login proves an account once; unknown accounts are reported; and the SQLite
//! file holds no name or certificate number in clear.

mod common;

use base64::Engine as _;
use chrono::{Duration, Utc};
use ronghe::server::AppState;
use ronghe_adapters::signing::Signer;
use ronghe_adapters::sim::data;
use ronghe_adapters::sim::data::LegacyAccount;
use ronghe_adapters::sim::rest::{self, API_KEY, RestSim};
use ronghe_adapters::sim::{SimBridge, SimOptions};
use ronghe_crypto::Cipher;
use ronghe_crypto::MacAlgorithm;
use serde_json::{Value, json};

const SYSTEM: &str = "sim-rest";
const OTHER: &str = "sim-other";

struct Platform {
    url: String,
    bridge: ronghe::bridge::Bridge,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Platform {
    /// ronghe on a SQLite file, served on an ephemeral loopback port.
    async fn start() -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let store = common::sqlite_store(&dir).await;
        let keys = common::bridge_keys("k1", &[("k1", Cipher::Aes256Gcm)]);
        let bridge = common::bridge(&store, &keys);
        let state = AppState {
            bridge: Some(bridge.clone()),
            ..common::app_state(store.clone())
        };
        let url = common::serve_app(state, 1 << 20).await;
        Platform {
            url,
            bridge,
            http: common::authed(&common::admin_token(&store).await),
            dir,
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// Redeems as `system` would, with `secret`.
    async fn redeem(&self, system: &str, secret: &str, ticket: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/bridge/tickets/redeem", self.url))
            .basic_auth(system, Some(secret))
            .json(&json!({ "ticket": ticket }))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn register(&self, system: &str, callback: &str, signature: &str) {
        let registration = json!({
            "id": system, "name": "市场监管许可系统", "department": "贵阳市市场监督管理局",
            "region_code": "520100", "protocol": "rest", "endpoint": "http://127.0.0.1:9/api",
        });
        assert_eq!(self.post("/api/v1/systems", registration).await.0, 201);
        let config = common::bridge_config("basic", signature, callback);
        self.bridge
            .store()
            .set_bridge_config(system, &config, "engineer")
            .await
            .unwrap();
    }

    async fn issue(&self, user: &str, system: &str) -> Value {
        let (status, issued) = self
            .post(
                "/api/v1/bridge/tickets",
                json!({ "user_id": user, "system_id": system }),
            )
            .await;
        assert_eq!(status, 201, "{issued}");
        issued
    }
}

/// The identity the real-name system holds for the person behind a legacy account.
fn identity_of(user_id: &str, account: &LegacyAccount) -> Value {
    let company = ronghe::validate::parse_uscc(&account.certificate_no).is_ok();
    json!({
        "user_id": user_id,
        "kind": if company { "legal_person" } else { "natural_person" },
        "name": account.name,
        "certificate_type": if company { "unified_social_credit_code" } else { "resident_id" },
        "certificate_no": account.certificate_no,
        "level": "advanced",
    })
}

/// Sends a request and reads the JSON answer.
async fn fetch(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("?")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_user_reaches_the_legacy_system_as_the_right_account() {
    let platform = Platform::start().await;
    let sim = RestSim::start(&SimOptions {
        cases: 50,
        bridge: Some(SimBridge {
            platform_url: platform.url.clone(),
            system_id: SYSTEM.to_owned(),
            secret: common::SYSTEM_SECRET.to_owned(),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let sim_url = sim.running.url();
    platform
        .register(SYSTEM, &format!("{sim_url}/sso/login"), "hmac-sha256")
        .await;
    platform
        .register(OTHER, "https://other.example.gov.cn/sso/", "ed25519")
        .await;

    // The department exports its accounts; the bridge imports them.
    let export: Value = fetch(
        platform
            .http
            .get(format!("{sim_url}/api/v1/accounts"))
            .header("x-api-key", API_KEY),
    )
    .await;
    let accounts = export["data"]["list"].clone();
    let (status, imported) = platform
        .post(
            &format!("/api/v1/bridge/systems/{SYSTEM}/accounts"),
            json!({ "accounts": accounts }),
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["accounts"], sim.accounts().len());

    // The real-name system's identities arrive: linked through the certificate number.
    let first = &sim.accounts()[0];
    let (status, report) = platform
        .post("/api/v1/bridge/identities", identity_of("pu-1", first))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["links"],
        json!([{ "outcome": "linked", "system_id": SYSTEM, "link_id": report["links"][0]["link_id"] }])
    );
    assert!(!report.to_string().contains(&first.certificate_no) && !report.to_string().contains(&first.name));
    // The second person registered twice in the legacy system: a conflict, reported.
    let second = &sim.accounts()[1];
    let (_, report) = platform
        .post("/api/v1/bridge/identities", identity_of("pu-2", second))
        .await;
    assert_eq!(report["links"][0]["outcome"], "conflict", "{report}");
    assert_eq!(report["links"][0]["reason"], "duplicate_certificate");
    let (_, problems) = platform.get("/api/v1/bridge/report").await;
    assert_eq!(
        problems["conflicts"][0]["account_ids"],
        json!(["u00002", "u00002b"]),
        "{problems}"
    );

    // Round trip: ticket → redirect → the simulator redeems → logged in as u00001.
    let issued = platform.issue("pu-1", SYSTEM).await;
    let redirect = issued["redirect_url"].as_str().unwrap();
    assert!(
        redirect.starts_with(&format!("{sim_url}/sso/login?ticket=")),
        "{redirect}"
    );
    let login: Value = fetch(platform.http.get(redirect)).await;
    assert_eq!(login["code"], "0000", "{login}");
    assert_eq!(login["data"]["account"], "u00001");
    // No legal basis in the config: the name is released masked (issue 24).
    let masked_name = ronghe::validate::mask_name(&first.name);
    assert_eq!(login["data"]["attributes"]["userName"], masked_name.as_str());
    assert_ne!(masked_name, first.name);
    let session = login["data"]["session"].as_str().unwrap();
    let me: Value = fetch(
        platform
            .http
            .get(format!("{sim_url}/api/v1/me"))
            .header("x-session", session),
    )
    .await;
    assert_eq!(
        me["data"]["account"], "u00001",
        "logged in as the right legacy account"
    );
    // The same link again: the simulator shows the platform's refusal.
    let replay: Value = fetch(platform.http.get(redirect)).await;
    assert_eq!(replay["data"]["reason"], "ticket_replayed", "{replay}");

    // Every refusal reaches the redeeming system with its own code.
    let secret = common::SYSTEM_SECRET;
    let ticket = platform.issue("pu-1", SYSTEM).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = platform.redeem(SYSTEM, "wrong", &ticket).await;
    assert_eq!((status, error_code(&body)), (401, "bridge_unauthorized"));
    let (status, body) = platform.redeem(OTHER, secret, &ticket).await;
    assert_eq!((status, error_code(&body)), (403, "ticket_wrong_system"));
    let mut parts: Vec<&str> = ticket.split('.').collect();
    let other_ticket = platform.issue("pu-1", SYSTEM).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    parts[2] = other_ticket.rsplit('.').next().unwrap();
    let (status, body) = platform.redeem(SYSTEM, secret, &parts.join(".")).await;
    assert_eq!((status, error_code(&body)), (403, "ticket_tampered"));
    let (status, body) = platform.redeem(SYSTEM, secret, "garbage").await;
    assert_eq!((status, error_code(&body)), (400, "ticket_malformed"));
    // A header naming another algorithm than the system's is refused whatever it signs (issue 18).
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header: Value =
        serde_json::from_slice(&b64.decode(ticket.split('.').next().unwrap()).unwrap()).unwrap();
    header["alg"] = "none".into();
    let unsigned = format!(
        "{}.{}.",
        b64.encode(header.to_string()),
        ticket.split('.').nth(1).unwrap()
    );
    let (status, body) = platform.redeem(SYSTEM, secret, &unsigned).await;
    assert_eq!((status, error_code(&body)), (403, "ticket_wrong_algorithm"));
    let stale = platform
        .bridge
        .issue(
            "pu-1",
            SYSTEM,
            &ronghe::bridge::Redirect::default(),
            "platform",
            Utc::now() - Duration::seconds(61),
        )
        .await
        .unwrap();
    let (status, body) = platform.redeem(SYSTEM, secret, &stale.ticket).await;
    assert_eq!((status, error_code(&body)), (410, "ticket_expired"));
    let mut downgraded = identity_of("pu-1", first);
    downgraded["level"] = json!("unverified");
    assert_eq!(
        platform.post("/api/v1/bridge/identities", downgraded).await.0,
        200
    );
    let (status, body) = platform.redeem(SYSTEM, secret, &ticket).await;
    assert_eq!((status, error_code(&body)), (403, "ticket_level_too_low"));
    let (status, body) = platform
        .post(
            "/api/v1/bridge/tickets",
            json!({ "user_id": "pu-1", "system_id": SYSTEM }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (403, "level_too_low"));
    assert_eq!(
        platform
            .post("/api/v1/bridge/identities", identity_of("pu-1", first))
            .await
            .0,
        200
    );

    // A system that verifies offline: an Ed25519 ticket checks out against the published key.
    platform
        .post(
            &format!("/api/v1/bridge/systems/{OTHER}/accounts"),
            json!({ "accounts": [{ "account_id": "o-1", "certificate_no": first.certificate_no }] }),
        )
        .await;
    let offline = platform.issue("pu-1", OTHER).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, keys) = platform.get("/api/v1/bridge/keys").await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key: [u8; 32] = b64
        .decode(keys[0]["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let (signed, signature) = offline.rsplit_once('.').unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&b64.decode(signature).unwrap()).unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .unwrap()
        .verify_strict(signed.as_bytes(), &signature)
        .unwrap();

    // The person registered twice proves one account by logging in there once.
    let link: Value = fetch(
        platform
            .http
            .post(format!("{sim_url}/sso/link"))
            .json(&json!({ "username": "u00002b", "password": "pw-u00002b", "user_id": "pu-2" })),
    )
    .await;
    let proof = link["data"]["proof"].as_str().unwrap();
    let (status, linked) = platform
        .post(
            "/api/v1/bridge/links",
            json!({ "user_id": "pu-2", "system_id": SYSTEM, "proof": proof }),
        )
        .await;
    assert_eq!(
        (status, linked["method"].as_str()),
        (201, Some("legacy_login")),
        "{linked}"
    );
    let login: Value = fetch(
        platform.http.get(
            platform.issue("pu-2", SYSTEM).await["redirect_url"]
                .as_str()
                .unwrap(),
        ),
    )
    .await;
    assert_eq!(login["data"]["account"], "u00002b", "{login}");

    let (_, links) = platform.get("/api/v1/bridge/links?user_id=pu-1").await;
    assert_eq!(links.as_array().map(Vec::len), Some(2), "{links}");
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
        metrics.contains("ronghe_bridge_tickets_total{outcome=\"redeemed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"ticket_replayed\""), "{metrics}");
    let (_, doc) = platform.get("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/bridge/tickets/redeem"].is_object());

    // Encrypted at rest: the database files (WAL included) hold no number or name in clear.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(platform.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ronghe.db")
        {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(bytes.len() > 10_000, "the store was written");
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for account in &sim.accounts()[..2] {
        assert!(
            !contains(account.certificate_no.as_bytes()),
            "certificate number of {} in clear",
            account.account_id
        );
        assert!(
            !contains(account.name.as_bytes()),
            "name of {} in clear",
            account.account_id
        );
        assert!(
            !contains(account.account_id.as_bytes()),
            "account id {} in clear",
            account.account_id
        );
    }
    // Department → platform (after the at-rest check: case bodies are not sealed, see the notes):
    // the system writes its cases back (a signed push); each lands under
    // the platform user its applicant's account is linked to; an account linked to no one is
    // recorded and reported, never guessed.
    let key = platform.dir.path().join("writeback.key");
    std::fs::write(&key, "bridge-writeback-secret").unwrap();
    platform
        .bridge
        .store()
        .set_writeback_config(
            SYSTEM,
            &format!(
                "[[keys]]\nid = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"file:{}\"\n",
                key.display()
            ),
            "test",
        )
        .await
        .unwrap();
    let mine = rest::to_json(&data::case(2025, 0));
    assert_eq!(mine["applicant"]["accountId"], "u00001");
    let mut stranger = rest::to_json(&data::case(2025, 40));
    stranger["applicant"]["accountId"] = json!("u09999");
    let body = json!([mine, stranger]).to_string();
    let path = format!("/api/v1/writeback/{SYSTEM}");
    let signed = Signer::new("k", MacAlgorithm::HmacSha256, b"bridge-writeback-secret".to_vec())
        .sign("POST", &path, body.as_bytes())
        .unwrap();
    let mut push = platform
        .http
        .post(format!("{}{path}", platform.url))
        .header("content-type", "application/json");
    for (name, value) in &signed.headers {
        push = push.header(*name, value);
    }
    let pushed = fetch(push.body(signed.body)).await;
    assert_eq!(pushed["accepted"], 2, "{pushed}");
    let (status, cases) = platform.get("/api/v1/bridge/identities/pu-1/cases").await;
    assert_eq!(status, 200, "{cases}");
    assert_eq!(cases.as_array().map(Vec::len), Some(1), "{cases}");
    assert_eq!(cases[0]["case_no"], mine["caseNo"]);
    assert_eq!(cases[0]["system_id"], SYSTEM);
    let (_, problems) = platform
        .get(&format!("/api/v1/bridge/report?system_id={SYSTEM}"))
        .await;
    assert!(problems["conflicts"].as_array().unwrap().is_empty(), "{problems}");
    assert_eq!(problems["unresolved"][0]["account_id"], "u09999");
    assert_eq!(problems["unresolved"][0]["last_context"], stranger["caseNo"]);
}

const ZHANG: &str = "11010519491231002X";

impl Platform {
    /// A system with the given signature whose account `a-zhang` is linked to platform user
    /// `pu-zhang` through the certificate number.
    async fn with_linked_user(system: &str, signature: &str) -> Platform {
        let platform = Platform::start().await;
        platform
            .register(system, "https://scjg.example.gov.cn/sso/login", signature)
            .await;
        let accounts = json!({ "accounts": [{ "account_id": "a-zhang", "certificate_no": ZHANG }] });
        let path = format!("/api/v1/bridge/systems/{system}/accounts");
        assert_eq!(platform.post(&path, accounts).await.0, 200);
        let (status, report) = platform
            .post(
                "/api/v1/bridge/identities",
                common::identity("pu-zhang", "张三", ZHANG, "advanced"),
            )
            .await;
        assert_eq!(
            (status, report["links"][0]["outcome"].as_str()),
            (200, Some("linked")),
            "{report}"
        );
        platform
    }

    /// The audit events of one action.
    async fn audited(&self, action: &str) -> Vec<ronghe::store::AuditEvent> {
        self.bridge
            .store()
            .audit_events(&ronghe::store::AuditFilter {
                action: Some(action.into()),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    async fn issue_to(&self, system: &str, callback: &str, state: Option<&str>) -> (u16, Value) {
        let mut body = json!({ "user_id": "pu-zhang", "system_id": system, "callback_url": callback });
        if let Some(state) = state {
            body["state"] = json!(state);
        }
        self.post("/api/v1/bridge/tickets", body).await
    }
}

/// Issue 24: a callback is a registered redirect URI exactly; the path and query tricks that
/// passed the old prefix match are refused, and the department's `state` comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_registered_redirect_uris_exactly() {
    let platform = Platform::with_linked_user(SYSTEM, "hmac-sha256").await;
    let registered = "https://scjg.example.gov.cn/sso/login";
    for trick in [
        "https://scjg.example.gov.cn/sso/login/..;/..;/admin",
        "https://scjg.example.gov.cn/sso/login/..%2f..%2fadmin",
        "https://scjg.example.gov.cn/sso/login/../../admin",
        "https://scjg.example.gov.cn/sso/login?next=http://evil.example/",
        "https://scjg.example.gov.cn/sso/login?ticket=attacker-ticket",
        "https://scjg.example.gov.cn/sso/login/deeper",
        "https://scjg.example.gov.cn.evil.example/sso/login",
    ] {
        let (status, body) = platform.issue_to(SYSTEM, trick, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (422, "callback_not_allowed"),
            "{trick}: {body}"
        );
        assert_eq!(body["error"]["field"], "callback_url");
    }
    let (status, issued) = platform.issue_to(SYSTEM, registered, Some("csrf-7Hq")).await;
    assert_eq!(status, 201, "{issued}");
    let redirect = url::Url::parse(issued["redirect_url"].as_str().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = redirect.query_pairs().into_owned().collect();
    assert_eq!(redirect.path(), "/sso/login");
    assert_eq!(pairs[0], ("state".to_owned(), "csrf-7Hq".to_owned()));
    assert_eq!(pairs[1].0, "ticket");
    assert_eq!(pairs.len(), 2);
    let (status, body) = platform.issue_to(SYSTEM, registered, Some("")).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("state")),
        "{body}"
    );
    // Every refused issue is audited.
    let events = platform.audited("bridge.ticket.refused_issue").await;
    assert_eq!(events.len(), 8, "{events:?}");
}

/// Issue 24: failed credentials are throttled per system and address with Retry-After; the
/// right secret is refused too while throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_credentials_are_throttled_with_retry_after() {
    let platform = Platform::with_linked_user(SYSTEM, "hmac-sha256").await;
    let ticket = platform.issue("pu-zhang", SYSTEM).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..ronghe::bridge::CREDENTIAL_FAILURE_LIMIT {
        let (status, body) = platform.redeem(SYSTEM, "guess", &ticket).await;
        assert_eq!((status, error_code(&body)), (401, "bridge_unauthorized"));
    }
    let response = platform
        .http
        .post(format!("{}/api/v1/bridge/tickets/redeem", platform.url))
        .basic_auth(SYSTEM, Some(common::SYSTEM_SECRET))
        .json(&json!({ "ticket": ticket }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let wait: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "bridge_throttled");
    let refused = platform.audited("bridge.credentials.refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].detail["source"], "127.0.0.1");
}

/// Issue 24: a ticket is verified with the algorithm the system is configured with now: an
/// HS256 ticket issued before the system moved to Ed25519 is refused, whatever it verifies as.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_of_another_algorithm_than_the_systems_is_refused() {
    let platform = Platform::with_linked_user(SYSTEM, "hmac-sha256").await;
    let ticket = platform.issue("pu-zhang", SYSTEM).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = common::bridge_config("basic", "ed25519", "https://scjg.example.gov.cn/sso/login");
    platform
        .bridge
        .store()
        .set_bridge_config(SYSTEM, &config, "engineer")
        .await
        .unwrap();
    let (status, body) = platform.redeem(SYSTEM, common::SYSTEM_SECRET, &ticket).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "ticket_wrong_algorithm"),
        "{body}"
    );
    let fresh = platform.issue("pu-zhang", SYSTEM).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = platform.redeem(SYSTEM, common::SYSTEM_SECRET, &fresh).await;
    assert_eq!(status, 200, "{body}");
}

/// Issue 24 over HTTP: after an unlink, a refreshed identity is not linked again, and a proof
/// made for one user does not link another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinks_stick_and_proofs_are_bound_to_their_user() {
    let platform = Platform::with_linked_user(SYSTEM, "hmac-sha256").await;
    let unlink = json!({ "user_id": "pu-zhang", "system_id": SYSTEM, "reason": "用户申请解除" });
    assert_eq!(platform.post("/api/v1/bridge/links/revoke", unlink).await.0, 200);
    let (status, report) = platform
        .post(
            "/api/v1/bridge/identities",
            common::identity("pu-zhang", "张三", ZHANG, "advanced"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        report["links"],
        json!([{ "outcome": "unlinked", "system_id": SYSTEM }])
    );
    let (status, body) = platform
        .post(
            "/api/v1/bridge/tickets",
            json!({ "user_id": "pu-zhang", "system_id": SYSTEM }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "not_linked"), "{body}");

    // A proof the system made for pu-zhang, presented for pu-li: refused, and still good.
    platform
        .post(
            "/api/v1/bridge/identities",
            common::identity("pu-li", "李四", "360426199101010071", "advanced"),
        )
        .await;
    let response = platform
        .http
        .post(format!("{}/api/v1/bridge/proofs", platform.url))
        .basic_auth(SYSTEM, Some(common::SYSTEM_SECRET))
        .json(&json!({ "user_id": "pu-zhang", "account_id": "a-zhang" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let proof: Value = response.json().await.unwrap();
    let link = |user: &str| json!({ "user_id": user, "system_id": SYSTEM, "proof": proof["proof"] });
    let (status, body) = platform.post("/api/v1/bridge/links", link("pu-li")).await;
    assert_eq!((status, error_code(&body)), (403, "proof_wrong_user"), "{body}");
    let (status, body) = platform.post("/api/v1/bridge/links", link("pu-zhang")).await;
    assert_eq!(
        (status, body["method"].as_str()),
        (201, Some("legacy_login")),
        "{body}"
    );
}

/// Issue 24's migration on a store an older build wrote (the v17 fixture, with a link proof
/// recorded before proofs named their user): the store upgrades, the token is kept, and such a
/// proof links no one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_stores_tokens_are_carried_forward() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = common::store_written_by("v17", &dir);
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let system: (String,) = sqlx::query_as("SELECT id FROM systems ORDER BY id LIMIT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let system = system.0;
    sqlx::query(
        "INSERT INTO bridge_tokens (jti, kind, system_id, subject, expires_at) VALUES ('pf_old', 'link_proof', $1, 'ac_old', '2099-01-01T00:00:00Z')",
    )
    .bind(&system)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = ronghe::store::Store::open(&url, &ronghe::store::StoreOptions::default())
        .await
        .expect("the v17 store upgrades");
    let linked = store
        .link_by_proof("pf_old", ("pu-1", &system), Utc::now(), "pu-1")
        .await
        .unwrap();
    assert_eq!(
        linked,
        ronghe::store::ProofLink::Refused(ronghe::store::TokenUse::OtherUser)
    );
    // Refused, so not used up: the row is as it was.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let row: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT user_id, used_at FROM bridge_tokens WHERE jti = 'pf_old'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(row, (None, None));
}
