//! The REST driver against the REST simulator over real sockets, and its failure paths against
//! wiremock (timeouts, 5xx then success, 4xx, truncated and garbage bodies) and its paging and
//! auth variants.

mod common;

use std::collections::HashMap;

use futures_util::TryStreamExt;
use ronghe_adapters::signing;
use ronghe_adapters::sim::{FaultPlan, SimOptions, rest::RestSim};
use ronghe_adapters::{Adapter, AdapterConfig, Checkpoint, ErrorClass, Fixed, Record};
use ronghe_crypto::MacAlgorithm;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn secrets() -> Fixed {
    Fixed(HashMap::from([(
        "env:SIM_REST_KEY".to_owned(),
        "sim-rest-key".to_owned(),
    )]))
}

/// The simulator's own config with test-friendly resilience settings and page size.
fn sim_config(base: &str, page_size: u32) -> String {
    let config = ronghe_adapters::sim::rest::adapter_config(base, "env:SIM_REST_KEY")
        .replace("size = 100", &format!("size = {page_size}"));
    format!(
        "{config}\n[resilience]\nrequest_timeout_seconds = 2\nbackoff_base_ms = 5\nbackoff_max_ms = 20\nmax_requests_per_second = 0\n"
    )
}

async fn adapter(toml: &str) -> Box<dyn Adapter> {
    let config = AdapterConfig::from_toml(toml).expect("config parses");
    let validated = config.validate().expect("config is valid");
    validated.build(&secrets()).await.expect("adapter builds")
}

async fn read_all(adapter: &dyn Adapter, from: Option<Checkpoint>) -> Vec<Record> {
    adapter.read(from).try_collect().await.expect("read succeeds")
}

#[tokio::test]
async fn against_the_simulator() {
    let sim = RestSim::start(&SimOptions {
        cases: 250,
        ..Default::default()
    })
    .await
    .unwrap();
    let rest = adapter(&sim_config(&sim.running.url(), 40)).await;

    let profile = rest.probe(5).await.unwrap();
    let licences = &profile.entities[0];
    assert_eq!(
        (licences.name.as_str(), licences.record_count),
        ("licences", Some(250))
    );
    common::assert_samples_show_every_value(licences, "/status", 5);
    for field in ["/caseNo", "/applicant/idNo", "/status", "/updatedAt"] {
        assert!(
            licences.fields.iter().any(|f| f.name == field),
            "{field} missing from the profile"
        );
    }

    let all = read_all(rest.as_ref(), None).await;
    assert_eq!(all.len(), 250);
    let mut keys: Vec<_> = all.iter().map(|r| r.key.clone().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 250, "no record twice");

    // Resume after record 97 (mid-page, and on a watermark shared with others or not).
    let checkpoint = all[96].checkpoint.clone().expect("records carry checkpoints");
    let rest_of = read_all(rest.as_ref(), Some(checkpoint)).await;
    let expected: Vec<_> = all[97..].iter().map(|r| r.key.clone()).collect();
    assert_eq!(
        rest_of.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        expected,
        "exactly the rest, in order"
    );

    let no = all[10].key.clone().unwrap();
    let fetched = rest.fetch(&no).await.unwrap().expect("found");
    assert_eq!(fetched.raw.to_json()["caseNo"], json!(no));
    assert!(rest.fetch("NO-SUCH-CASE").await.unwrap().is_none());

    let receipt = rest
        .submit(&json!({"itemCode": "X", "applicant": {"name": "张三"}}))
        .await
        .unwrap();
    assert_eq!(receipt.id.as_deref(), Some("SQ0000000001"));
    assert_eq!(sim.applications()[0]["applicant"]["name"], "张三");
}

#[tokio::test]
async fn simulator_faults_are_survived_or_classified() {
    let sim = RestSim::start(&SimOptions {
        cases: 30,
        ..Default::default()
    })
    .await
    .unwrap();
    let rest = adapter(&sim_config(&sim.running.url(), 10)).await;

    sim.running.faults.set(FaultPlan {
        server_errors: 2,
        ..Default::default()
    });
    assert_eq!(
        read_all(rest.as_ref(), None).await.len(),
        30,
        "two 503s are retried away"
    );

    sim.running.faults.set(FaultPlan {
        garbage: 1,
        ..Default::default()
    });
    let err = rest.probe(3).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Data, "{err}");
    sim.running.faults.set(FaultPlan {
        truncated: 1,
        ..Default::default()
    });
    assert_eq!(rest.probe(3).await.unwrap_err().class, ErrorClass::Data);

    let wrong_key = sim_config(&sim.running.url(), 10).replace("env:SIM_REST_KEY", "env:OTHER_KEY");
    let secrets = Fixed(HashMap::from([("env:OTHER_KEY".to_owned(), "wrong".to_owned())]));
    let config = AdapterConfig::from_toml(&wrong_key).unwrap().validate().unwrap();
    let err = config.build(&secrets).await.unwrap().probe(1).await.unwrap_err();
    assert_eq!(
        (err.class, err.http_status),
        (ErrorClass::Configuration, Some(401))
    );
}

fn plain_config(base: &str, paging: &str, auth: &str) -> String {
    format!(
        r#"
type = "rest"
base_url = "{base}"
{auth}
[records]
path = "items"
select = "/items"
key = "/id"
{paging}
[resilience]
request_timeout_seconds = 0.3
max_attempts = 3
backoff_base_ms = 1
backoff_max_ms = 5
max_requests_per_second = 0
"#
    )
}

fn items(ids: std::ops::Range<u32>) -> Value {
    json!({ "items": ids.map(|i| json!({"id": format!("A{i:03}")})).collect::<Vec<_>>() })
}

#[tokio::test]
async fn paging_variants() {
    let server = MockServer::start().await;
    // Offset paging: 0..5, 5..10, 10..12.
    for (offset, range) in [("0", 0..5), ("5", 5..10), ("10", 10..12)] {
        Mock::given(method("GET"))
            .and(path("/off/items"))
            .and(query_param("offset", offset))
            .and(query_param("limit", "5"))
            .respond_with(ResponseTemplate::new(200).set_body_json(items(range)))
            .mount(&server)
            .await;
    }
    let config = plain_config(
        &format!("{}/off", server.uri()),
        "[records.paging]\ntype = \"offset\"\nparam = \"offset\"\nsize_param = \"limit\"\nsize = 5",
        "",
    );
    assert_eq!(read_all(adapter(&config).await.as_ref(), None).await.len(), 12);

    // Cursor paging: the next token in the body until it is null.
    let mut first = items(0..3);
    first["next"] = json!("c2");
    let mut second = items(3..4);
    second["next"] = Value::Null;
    Mock::given(path("/cur/items"))
        .and(query_param("cursor", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .mount(&server)
        .await;
    Mock::given(path("/cur/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .mount(&server)
        .await;
    let config = plain_config(
        &format!("{}/cur", server.uri()),
        "[records.paging]\ntype = \"cursor\"\nparam = \"cursor\"\nnext = \"/next\"",
        "",
    );
    let keys: Vec<_> = read_all(adapter(&config).await.as_ref(), None)
        .await
        .into_iter()
        .map(|r| r.key.unwrap())
        .collect();
    assert_eq!(keys, ["A000", "A001", "A002", "A003"]);

    // Link header paging (RFC 8288).
    let next = format!("<{}/link/items?p=2>; rel=\"next\"", server.uri());
    Mock::given(path("/link/items"))
        .and(query_param("p", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(2..3)))
        .mount(&server)
        .await;
    Mock::given(path("/link/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(0..2))
                .insert_header("Link", next.as_str()),
        )
        .mount(&server)
        .await;
    let config = plain_config(
        &format!("{}/link", server.uri()),
        "[records.paging]\ntype = \"link\"",
        "",
    );
    assert_eq!(read_all(adapter(&config).await.as_ref(), None).await.len(), 3);
}

#[tokio::test]
async fn auth_variants_send_their_credentials() {
    let server = MockServer::start().await;
    Mock::given(path("/bearer/items"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(0..1)))
        .mount(&server)
        .await;
    // "u:pw" in base64.
    Mock::given(path("/basic/items"))
        .and(header("authorization", "Basic dTpwdw=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(0..1)))
        .mount(&server)
        .await;
    Mock::given(path("/hmac/items"))
        .and(|req: &Request| {
            let h = |name: &str| {
                req.headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let path_and_query = match req.url.query() {
                Some(q) => format!("{}?{q}", req.url.path()),
                None => req.url.path().to_owned(),
            };
            let (timestamp, nonce, signature) = (h("x-timestamp"), h("x-nonce"), h("x-signature"));
            let parts = signing::SignedParts {
                method: "GET",
                path: &path_and_query,
                timestamp: &timestamp,
                nonce: &nonce,
                signature: &signature,
            };
            h("x-key-id") == "kid"
                && nonce.len() == 16
                && signing::verify(MacAlgorithm::HmacSha256, b"s3cret", &parts, &req.body)
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(items(0..1)))
        .mount(&server)
        .await;
    let secrets = Fixed(HashMap::from([
        ("env:TOKEN".to_owned(), "tok".to_owned()),
        ("env:PW".to_owned(), "pw".to_owned()),
        ("env:HMAC".to_owned(), "s3cret".to_owned()),
    ]));
    for (prefix, auth) in [
        ("bearer", "[auth]\ntype = \"bearer\"\ntoken = \"env:TOKEN\""),
        (
            "basic",
            "[auth]\ntype = \"basic\"\nusername = \"u\"\npassword = \"env:PW\"",
        ),
        (
            "hmac",
            "[auth]\ntype = \"hmac\"\nkey_id = \"kid\"\nsecret = \"env:HMAC\"",
        ),
    ] {
        let toml = plain_config(&format!("{}/{prefix}", server.uri()), "", auth);
        let rest = AdapterConfig::from_toml(&toml)
            .unwrap()
            .validate()
            .unwrap()
            .build(&secrets)
            .await
            .unwrap();
        let records: Vec<Record> = rest
            .read(None)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{prefix}: {e}"));
        assert_eq!(records.len(), 1, "{prefix}");
    }
}

#[tokio::test]
async fn failure_paths() {
    let server = MockServer::start().await;
    let read = |prefix: &str| plain_config(&format!("{}/{prefix}", server.uri()), "", "");

    // Two 500s, then success: retried.
    Mock::given(path("/flaky/items"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/flaky/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(0..2)))
        .mount(&server)
        .await;
    assert_eq!(
        read_all(adapter(&read("flaky")).await.as_ref(), None).await.len(),
        2
    );

    // Slower than the timeout every time: unavailable after the attempts.
    Mock::given(path("/slow/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(0..1))
                .set_delay(std::time::Duration::from_secs(2)),
        )
        .mount(&server)
        .await;
    let slow = adapter(&read("slow")).await;
    let err = slow.read(None).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unavailable, "{err}");
    assert!(err.message.contains("after 3 attempt(s)"), "{err}");

    for (prefix, response, class) in [
        (
            "bad",
            ResponseTemplate::new(400).set_body_string("bad request"),
            ErrorClass::Data,
        ),
        ("gone", ResponseTemplate::new(404), ErrorClass::Configuration),
        (
            "garbage",
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
            ErrorClass::Data,
        ),
        (
            "cut",
            ResponseTemplate::new(200).set_body_string(r#"{"items": [{"id": "A0"#),
            ErrorClass::Data,
        ),
        (
            "shape",
            ResponseTemplate::new(200).set_body_json(json!({"items": {"id": 1}})),
            ErrorClass::Data,
        ),
    ] {
        Mock::given(path(format!("/{prefix}/items")))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = adapter(&read(prefix))
            .await
            .read(None)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert_eq!(err.class, class, "{prefix}: {err}");
    }
    let calls = server.received_requests().await.unwrap();
    assert_eq!(
        calls.iter().filter(|r| r.url.path() == "/bad/items").count(),
        1,
        "a 4xx is not retried"
    );
}

#[test]
fn config_problems_are_all_reported_with_paths() {
    let toml = r#"
type = "rest"
base_url = "ftp://x"
[auth]
type = "api_key"
header = "bad header"
key = "plain-secret"
[records]
path = "/abs"
select = "items"
key = ""
since_param = "since"
[records.paging]
type = "page"
param = "p"
size_param = "s"
size = 0
[resilience]
max_attempts = 0
"#;
    let issues = AdapterConfig::from_toml(toml).unwrap().validate().unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    for expected in [
        "base_url",
        "auth.header",
        "auth.key",
        "records.path",
        "records.select",
        "records.key",
        "records.since_param",
        "records.paging.size",
        "resilience.max_attempts",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
    let unknown = AdapterConfig::from_toml(
        "type = \"rest\"\nbase_url = \"http://x\"\ncolour = 1\n[records]\npath = \"a\"\nkey = \"/id\"\n",
    )
    .unwrap_err();
    assert!(
        unknown.len() == 1 && unknown[0].path == "colour" && unknown[0].message.contains("unknown field"),
        "{unknown:?}"
    );
    // A window format must be a strftime pattern that writes a time, and needs its watermark.
    let window = |records: &str| {
        let toml = format!(
            "type = \"rest\"\nbase_url = \"http://x\"\n[records]\npath = \"a\"\nkey = \"/id\"\n{records}"
        );
        let issues = AdapterConfig::from_toml(&toml)
            .unwrap()
            .validate()
            .err()
            .unwrap_or_default();
        issues
            .into_iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        window("watermark = \"/updated\"\nwindow_format = \"%Y年%m月%d日 %H:%M\"\n"),
        Vec::<String>::new()
    );
    let bad = window("watermark = \"/updated\"\nwindow_format = \"%Y-%Q\"\n");
    assert!(
        bad.len() == 1 && bad[0].starts_with("records.window_format: \"%Y-%Q\" is not a strftime pattern"),
        "{bad:?}"
    );
    let constant = window("watermark = \"/updated\"\nwindow_format = \"today\"\n");
    assert!(
        constant.len() == 1 && constant[0].contains("writes no part of a time"),
        "{constant:?}"
    );
    let alone = window("window_format = \"%Y-%m-%d\"\n");
    assert!(
        alone.len() == 1 && alone[0].contains("needs the watermark"),
        "{alone:?}"
    );
    let kind = AdapterConfig::from_toml("type = \"ftp\"\n").unwrap_err();
    assert!(
        kind[0].path == "type" && kind[0].message.contains("ftp"),
        "{kind:?}"
    );
}

/// Issue 16: an error inside a section a `type` tag selects (`[auth]`, `[records.paging]`)
/// carries the full path of the offending key, not only the section's, and they all come at once.
#[test]
fn errors_inside_type_tagged_sections_name_their_key() {
    let toml = r#"
type = "rest"
base_url = "http://x"
[auth]
type = "bearer"
tokn = "env:TOKEN"
[records]
path = "a"
key = "/id"
[records.paging]
type = "page"
param = "p"
size_param = "s"
size = "many"
"#;
    let issues = AdapterConfig::from_toml(toml).unwrap_err();
    let shown: Vec<String> = issues.iter().map(ToString::to_string).collect();
    let has = |prefix: &str| shown.iter().any(|s| s.starts_with(prefix));
    assert!(has("auth.tokn: unknown field `tokn`"), "{shown:#?}");
    assert!(has("auth.token: missing field"), "{shown:#?}");
    assert!(
        has("records.paging.size: invalid type: string \"many\""),
        "{shown:#?}"
    );
    let variant = AdapterConfig::from_toml(&toml.replace("type = \"page\"", "type = \"pages\"")).unwrap_err();
    assert!(
        variant
            .iter()
            .any(|i| i.path == "records.paging.type" && i.message.contains("unknown variant")),
        "{variant:?}"
    );
}
