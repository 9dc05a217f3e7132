//! The SOAP driver against the social-security benefits simulator over real sockets (probe,
//! full and resumed reads, fetch, submit, both SOAP versions, injected faults), against
//! wiremock for the failure paths (timeouts, 5xx, 4xx, broken bodies, SOAP faults, wrong
//! encodings, DTDs), and the simulator's push client against wiremock.

mod common;

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use ronghe_adapters::sim::soap::{self as sbdy, Push, SoapSim};
use ronghe_adapters::sim::{FaultPlan, SimOptions};
use ronghe_adapters::soap::{SoapConfig, SoapVersion};
use ronghe_adapters::{
    Adapter, AdapterConfig, AdapterError, Cause, Checkpoint, ErrorClass, Fixed, Record, RoundTrip, round_trip,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The simulator's own config; the tests point `endpoint` at the running simulator.
fn fixture() -> String {
    ronghe_adapters::sim::soap::adapter_config(
        "http://127.0.0.1:1/sbdy/services/CaseService",
        "env:SBDY_PASSWORD",
    )
}
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

fn secrets() -> Fixed {
    Fixed(HashMap::from([(
        "env:SBDY_PASSWORD".to_owned(),
        sbdy::PASSWORD.to_owned(),
    )]))
}

fn soap_config(toml: &str) -> SoapConfig {
    match AdapterConfig::from_toml(toml) {
        Ok(AdapterConfig::Soap(c)) => c,
        other => panic!("not a SOAP config: {other:?}"),
    }
}

async fn build(config: SoapConfig) -> Box<dyn Adapter> {
    AdapterConfig::Soap(config)
        .validate()
        .unwrap()
        .build(&secrets())
        .await
        .unwrap()
}

async fn start(cases: usize) -> SoapSim {
    SoapSim::start(&SimOptions {
        cases,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The driver for the simulator, as the fixture configures it.
async fn driver(sim: &SoapSim, edit: impl FnOnce(&mut SoapConfig)) -> Box<dyn Adapter> {
    let mut config = soap_config(&fixture());
    config.endpoint = sim.endpoint();
    edit(&mut config);
    build(config).await
}

fn text(record: &Record, pointer: &str) -> String {
    record
        .raw
        .to_json()
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn probe_lists_the_wsdl_operations_and_samples() {
    let sim = start(120).await;
    let profile = driver(&sim, |_| {}).await.probe(5).await.unwrap();
    let names: Vec<&str> = profile.entities.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["queryCases", "getCase", "submitApplication"]);
    let listing = &profile.entities[0];
    assert_eq!(listing.record_count, Some(120));
    common::assert_samples_show_every_value(listing, "/办件/办理状态", 5);
    let field = |name: &str| listing.fields.iter().find(|f| f.name == name);
    assert_eq!(
        field("/办件/办件编号").map(|f| f.data_type.as_str()),
        Some("string")
    );
    assert!(field("/办件/申请人/@类型").is_some(), "{:?}", listing.fields);
    assert!(field("/办件/更新时间").is_some());
    let get_case = &profile.entities[1];
    assert_eq!(
        get_case
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["input/办件编号", "output/return"]
    );
    let submit = &profile.entities[2];
    let optional: Vec<&str> = submit
        .fields
        .iter()
        .filter(|f| f.nullable)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        optional,
        [
            "input/事项名称",
            "input/联系电话",
            "input/行政区划",
            "output/return"
        ]
    );
}

#[tokio::test]
async fn full_read_then_resume_from_a_checkpoint_gives_exactly_the_rest() {
    let sim = start(500).await;
    let adapter = driver(&sim, |c| c.records.page_size = Some(64)).await;
    let all: Vec<Record> = adapter.read(None).try_collect().await.unwrap();
    assert_eq!(all.len(), 500);
    let keys: Vec<String> = all.iter().map(|r| r.key.clone().unwrap()).collect();
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 500, "no duplicates");
    let watermarks: Vec<String> = all.iter().map(|r| text(r, "/办件/更新时间")).collect();
    assert!(watermarks.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert!(
        watermarks[0].contains('年') && watermarks[0].contains('时'),
        "{}",
        watermarks[0]
    );

    // Resume in the middle of a page, at a page boundary, and (where the data has one) inside
    // a run of records that share a watermark: the key breaks the tie.
    let tie = watermarks.windows(2).position(|w| w[0] == w[1]);
    assert!(
        tie.is_some(),
        "the seeded data has records that share a watermark"
    );
    for at in [0, 63, 64, 250, 498, 499].into_iter().chain(tie) {
        let from: Checkpoint = all[at].checkpoint.clone().unwrap();
        let rest: Vec<String> = adapter
            .read(Some(from))
            .map_ok(|r| r.key.unwrap())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(rest, keys[at + 1..], "resuming after record {at}");
    }
}

/// Issue 16: against a service that reads request parameters as UTF-8, a config that sends
/// GBK resumes from a watermark the service reads as other text: the round trip fails and names
/// the request encoding. Sending UTF-8, or to a service that decodes what it is sent, it passes.
#[tokio::test]
async fn the_watermark_round_trip_names_a_request_encoding_the_system_does_not_decode() {
    let sim = start(600).await;
    sim.read_parameters_as_utf8(true);
    let gbk = driver(&sim, |c| assert_eq!(c.request_encoding, "GBK")).await;
    match round_trip(gbk.as_ref()).await.unwrap() {
        RoundTrip::Failed { cause, message } => {
            assert_eq!(cause, Cause::RequestEncoding, "{message}");
            assert!(
                message.starts_with("likely cause: request encoding")
                    && message.contains("request_encoding = \"GBK\"")
                    && message.contains("UTF-8"),
                "{message}"
            );
        }
        other => panic!("the GBK round trip passed: {other:?}"),
    }
    let utf8 = driver(&sim, |c| c.request_encoding = "UTF-8".to_owned()).await;
    assert_eq!(
        round_trip(utf8.as_ref()).await.unwrap(),
        RoundTrip::Passed {
            read: 500,
            from_key: keys_of(utf8.as_ref()).await[49].clone(),
            compared: 450
        }
    );
    sim.read_parameters_as_utf8(false);
    assert!(
        matches!(round_trip(gbk.as_ref()).await.unwrap(), RoundTrip::Passed { .. }),
        "a service that decodes GBK reads the watermark back"
    );
}

async fn keys_of(adapter: &dyn Adapter) -> Vec<String> {
    adapter
        .read(None)
        .map_ok(|r| r.key.unwrap())
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn fetch_finds_a_case_or_answers_none() {
    let sim = start(50).await;
    let adapter = driver(&sim, |_| {}).await;
    let first: Record = adapter.read(None).try_next().await.unwrap().unwrap();
    let key = first.key.clone().unwrap();
    let fetched = adapter.fetch(&key).await.unwrap().unwrap();
    assert_eq!(fetched.raw, first.raw);
    assert_eq!(text(&fetched, "/办件/申请日期").chars().nth(4), Some('年'));
    assert_eq!(adapter.fetch("520000NOSUCHCASE").await.unwrap(), None);
}

#[tokio::test]
async fn submit_returns_the_receipt_and_the_system_keeps_the_application() {
    let sim = start(10).await;
    let adapter = driver(&sim, |_| {}).await;
    let application = json!({
        "itemCode": "11520000MB1563282M4520111002000",
        "itemName": "养老保险待遇申领",
        "applicant": {"name": "欧阳娜 <测试&>", "idType": "111", "idNo": "52010219800101123X", "mobile": "13800000000"},
        "areaCode": "520102",
    });
    let receipt = adapter.submit(&application).await.unwrap();
    assert_eq!(receipt.id.as_deref(), Some("SB0000000001"));
    assert_eq!(receipt.response["结果"]["返回信息"], "受理成功");
    let kept = sim.applications();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0]["submitApplication"]["申请人姓名"], "欧阳娜 <测试&>",
        "escaped in the envelope, intact at the system"
    );

    let mut missing = application.clone();
    missing["applicant"]["name"] = json!("");
    let refused = adapter.submit(&missing).await.unwrap_err();
    assert_eq!(refused.class, ErrorClass::Data);
    assert!(
        refused.message.contains("1001") && refused.message.contains("缺少申请人姓名"),
        "{refused}"
    );
    let no_variable = adapter.submit(&json!({"itemCode": "x"})).await.unwrap_err();
    assert_eq!(
        no_variable.class,
        ErrorClass::Data,
        "strict templates: {no_variable}"
    );
}

#[tokio::test]
async fn soap_12_and_utf8_requests_work_too() {
    let sim = start(30).await;
    let adapter = driver(&sim, |c| {
        c.version = SoapVersion::Soap12;
        c.request_encoding = "UTF-8".into();
        c.records.page_size = Some(7);
    })
    .await;
    let all: Vec<Record> = adapter.read(None).try_collect().await.unwrap();
    assert_eq!(all.len(), 30);
    let raw = adapter
        .call("getCase", &json!({"key": all[3].key.clone().unwrap()}))
        .await
        .unwrap();
    assert_eq!(raw.to_json()["结果"]["返回码"], "0000");
}

#[tokio::test]
async fn wrong_credentials_are_a_configuration_error() {
    let sim = start(5).await;
    let mut config = soap_config(&fixture());
    config.endpoint = sim.endpoint();
    let wrong = Fixed(HashMap::from([(
        "env:SBDY_PASSWORD".to_owned(),
        "guess".to_owned(),
    )]));
    let adapter = AdapterConfig::Soap(config)
        .validate()
        .unwrap()
        .build(&wrong)
        .await
        .unwrap();
    let err = adapter.fetch("x").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Configuration, "{err}");
    assert!(
        err.message.contains("FailedAuthentication") && err.message.contains("身份认证失败"),
        "{err}"
    );
}

#[tokio::test]
async fn injected_server_faults_are_retried_and_garbage_is_reported() {
    let sim = start(40).await;
    let adapter = driver(&sim, |_| {}).await;
    sim.running.faults.set(FaultPlan {
        server_errors: 2,
        ..Default::default()
    });
    let all: Vec<Record> = adapter.read(None).try_collect().await.unwrap();
    assert_eq!(all.len(), 40, "two SOAP Server faults, then the answer");
    for plan in [
        FaultPlan {
            garbage: 1,
            ..Default::default()
        },
        FaultPlan {
            truncated: 1,
            ..Default::default()
        },
    ] {
        sim.running.faults.set(plan);
        let err = adapter.fetch("x").await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Data, "{plan:?}: {err}");
    }
}

#[test]
fn a_bad_config_reports_every_problem_with_its_path() {
    let bad = fixture()
        .replace("request_encoding = \"GBK\"", "request_encoding = \"Big5\"")
        .replace("select = \"办件列表/办件\"", "select = \"ns:办件列表/\"")
        .replace("operation = \"getCase\"", "operation = \"getcase\"")
        .replace("{{#if since}}", "{{#if since}")
        .replace("page_size = 200", "page_size = 0")
        .replace("env:SBDY_PASSWORD", "hunter2");
    let issues = AdapterConfig::from_toml(&bad).unwrap().validate().unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "request_encoding",
            "secrets.password",
            "operations.queryCases.body",
            "fetch.operation",
            "records.select",
            "records.page_size",
        ],
        "{issues:#?}"
    );
}

/// Issue 16: shape errors (a key missing, unknown or of the wrong type) come all at once, each
/// at its full path, before validation.
#[test]
fn shape_errors_come_all_at_once_with_their_full_paths() {
    let bad = fixture()
        .replace("select = \"办件列表/办件\"", "")
        .replace("version = \"1.1\"", "verison = \"1.1\"")
        .replace("page_size = 200", "page_size = \"many\"");
    let issues = AdapterConfig::from_toml(&bad).unwrap_err();
    let shown: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert!(
        shown.contains(&"records.select: missing field".to_owned()),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("verison: unknown field `verison`")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("records.page_size: invalid type")),
        "{shown:#?}"
    );
    let kind =
        AdapterConfig::from_toml(&fixture().replace("type = \"soap\"", "type = \"sopa\"")).unwrap_err();
    assert_eq!(kind.len(), 1);
    assert!(
        kind[0]
            .to_string()
            .starts_with("type: unknown adapter type \"sopa\": one of rest, soap"),
        "{kind:?}"
    );
}

// ---- failure paths against wiremock ----

const MOCK: &str = r#"
type = "soap"
endpoint = "ENDPOINT/ws"
[records]
operation = "list"
select = "item"
key = "id"
[fetch]
operation = "get"
select = "case"
[operations.list]
body = "<list/>"
[operations.get]
action = "urn:get"
result = "return"
body = "<m:get xmlns:m='urn:m'><id>{{key}}</id></m:get>"
[resilience]
request_timeout_seconds = 0.3
max_attempts = 3
backoff_base_ms = 1
backoff_max_ms = 2
breaker_failures = 100
max_requests_per_second = 0
"#;

async fn mock_driver(server: &MockServer, edit: impl FnOnce(&mut SoapConfig)) -> Box<dyn Adapter> {
    let mut config = soap_config(&MOCK.replace("ENDPOINT", &server.uri()));
    edit(&mut config);
    build(config).await
}

fn envelope(namespace: &str, body: &str) -> String {
    format!(r#"<s:Envelope xmlns:s="{namespace}"><s:Body>{body}</s:Body></s:Envelope>"#)
}

const CASE: &str = "<m:getResponse xmlns:m='urn:m'><return><case><id>A1</id><姓名>欧阳娜</姓名></case></return></m:getResponse>";

fn xml(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), content_type)
}

async fn answer(server: &MockServer, response: ResponseTemplate, calls: u64) {
    Mock::given(method("POST"))
        .and(path("/ws"))
        .respond_with(response)
        .expect(calls)
        .mount(server)
        .await;
}

async fn fetch_error(response: ResponseTemplate, calls: u64) -> AdapterError {
    let server = MockServer::start().await;
    answer(&server, response, calls).await;
    let err = mock_driver(&server, |_| {}).await.fetch("A1").await.unwrap_err();
    server.verify().await;
    err
}

fn name_of(record: Option<Record>) -> String {
    record
        .map(|r| {
            r.raw.to_json()["case"]["姓名"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn requests_carry_the_version_s_content_type_and_action() {
    for (version, namespace) in [(SoapVersion::Soap11, SOAP11), (SoapVersion::Soap12, SOAP12)] {
        let server = MockServer::start().await;
        answer(
            &server,
            xml(200, "text/xml; charset=utf-8", envelope(namespace, CASE)),
            1,
        )
        .await;
        let adapter = mock_driver(&server, |c| {
            c.version = version;
            c.request_encoding = "GB18030".into();
        })
        .await;
        assert_eq!(name_of(adapter.fetch("甲&<1>").await.unwrap()), "欧阳娜");
        let request = &server.received_requests().await.unwrap()[0];
        let content_type = request
            .headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let action = request
            .headers
            .get("soapaction")
            .map(|v| v.to_str().unwrap().to_owned());
        let (body, _, errors) = encoding_rs::GB18030.decode(&request.body);
        assert!(!errors);
        assert!(
            body.contains("<id>甲&amp;&lt;1&gt;</id>") && body.contains(namespace),
            "{body}"
        );
        match version {
            SoapVersion::Soap11 => {
                assert_eq!(content_type, "text/xml; charset=gb18030");
                assert_eq!(action.as_deref(), Some("\"urn:get\""));
            }
            SoapVersion::Soap12 => {
                assert_eq!(
                    content_type,
                    "application/soap+xml; charset=gb18030; action=\"urn:get\""
                );
                assert_eq!(action, None);
            }
        }
    }
}

#[tokio::test]
async fn a_slow_system_times_out_and_becomes_unavailable() {
    let slow = xml(200, "text/xml", envelope(SOAP11, CASE)).set_delay(std::time::Duration::from_secs(2));
    let err = fetch_error(slow, 3).await;
    assert_eq!(err.class, ErrorClass::Unavailable, "{err}");
    assert!(err.message.contains("after 3 attempt(s)"), "{err}");
}

#[tokio::test]
async fn a_5xx_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(xml(
            503,
            "text/html",
            "<html><body>Service Unavailable</body></html>",
        ))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    answer(&server, xml(200, "text/xml", envelope(SOAP11, CASE)), 1).await;
    let record = mock_driver(&server, |_| {}).await.fetch("A1").await.unwrap();
    assert_eq!(name_of(record), "欧阳娜");
    server.verify().await;
}

#[tokio::test]
async fn client_errors_and_broken_bodies_are_not_retried() {
    let full = envelope(SOAP11, CASE);
    let cases = [
        (
            "404",
            xml(404, "text/html", "<html>Not Found</html>"),
            ErrorClass::Configuration,
            "HTTP 404",
        ),
        (
            "400",
            xml(400, "text/plain", "bad request"),
            ErrorClass::Data,
            "HTTP 400",
        ),
        (
            "truncated",
            xml(200, "text/xml", &full.as_bytes()[..full.len() / 2]),
            ErrorClass::Data,
            "not well-formed",
        ),
        (
            "garbage",
            xml(200, "text/html", "<html><body>维护中<hr></body></html>"),
            ErrorClass::Data,
            "not well-formed",
        ),
        (
            "JSON",
            xml(200, "application/json", r#"{"code":"0000"}"#),
            ErrorClass::Data,
            "not well-formed",
        ),
        (
            "no envelope",
            xml(200, "text/xml", "<result>ok</result>"),
            ErrorClass::Data,
            "not a SOAP envelope",
        ),
        (
            "no result",
            xml(
                200,
                "text/xml",
                envelope(SOAP11, "<m:getResponse xmlns:m='urn:m'/>"),
            ),
            ErrorClass::Data,
            "has no \"return\"",
        ),
    ];
    for (name, response, class, says) in cases {
        let err = fetch_error(response, 1).await;
        assert_eq!(err.class, class, "{name}: {err}");
        assert!(err.message.contains(says), "{name}: {err}");
    }
}

#[tokio::test]
async fn soap_faults_of_both_versions_are_typed_errors() {
    let fault11 = |code: &str| {
        envelope(
            SOAP11,
            &format!(
                "<s:Fault><faultcode>{code}</faultcode><faultstring>办件编号格式错误</faultstring></s:Fault>"
            ),
        )
    };
    let fault12 = |code: &str| {
        envelope(
            SOAP12,
            &format!(
                "<s:Fault><s:Code><s:Value>{code}</s:Value></s:Code><s:Reason><s:Text xml:lang='zh'>数据库连接失败</s:Text></s:Reason></s:Fault>"
            ),
        )
    };
    let cases = [
        (
            xml(500, "text/xml; charset=utf-8", fault11("s:Client")),
            1,
            ErrorClass::Data,
            "SOAP fault s:Client: 办件编号格式错误",
        ),
        (
            xml(500, "text/xml", fault11("s:Server")),
            3,
            ErrorClass::Unavailable,
            "SOAP fault s:Server",
        ),
        (
            xml(400, "application/soap+xml", fault12("s:Sender")),
            1,
            ErrorClass::Data,
            "SOAP fault s:Sender: 数据库连接失败",
        ),
        (
            xml(500, "application/soap+xml", fault12("s:Receiver")),
            3,
            ErrorClass::Unavailable,
            "s:Receiver: 数据库连接失败",
        ),
        (
            xml(200, "text/xml", fault11("s:VersionMismatch")),
            1,
            ErrorClass::Configuration,
            "VersionMismatch",
        ),
    ];
    for (response, calls, class, says) in cases {
        let err = fetch_error(response, calls).await;
        assert_eq!(err.class, class, "{err}");
        assert!(err.message.contains(says), "{err}");
    }
}

#[tokio::test]
async fn gbk_bodies_decode_whatever_they_declare() {
    let gbk = |text: &str| encoding_rs::GBK.encode(text).0.into_owned();
    let gb18030 = |text: &str| encoding_rs::GB18030.encode(text).0.into_owned();
    let with_decl = |encoding: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"{encoding}\"?>{}",
            envelope(SOAP11, CASE)
        )
    };
    let rare = envelope(SOAP11, &CASE.replace("欧阳娜", "王䶮"));
    let cases = [
        (
            "GBK, declared UTF-8",
            xml(200, "text/xml", gbk(&with_decl("UTF-8"))),
            "欧阳娜",
        ),
        (
            "GBK, header UTF-8 and declared UTF-8",
            xml(200, "text/xml; charset=UTF-8", gbk(&with_decl("UTF-8"))),
            "欧阳娜",
        ),
        (
            "GBK, no declaration nor charset",
            xml(200, "text/xml", gbk(&envelope(SOAP11, CASE))),
            "欧阳娜",
        ),
        (
            "GBK, declared and labelled",
            xml(200, "text/xml; charset=GBK", gbk(&with_decl("GBK"))),
            "欧阳娜",
        ),
        (
            "GB18030 four-byte character",
            xml(200, "text/xml; charset=GB18030", gb18030(&rare)),
            "王䶮",
        ),
        (
            "UTF-8 declared GBK",
            xml(200, "text/xml", with_decl("GBK")),
            "欧阳娜",
        ),
    ];
    for (name, response, expected) in cases {
        let server = MockServer::start().await;
        answer(&server, response, 1).await;
        let record = mock_driver(&server, |_| {}).await.fetch("A1").await;
        assert_eq!(
            name_of(record.unwrap_or_else(|e| panic!("{name}: {e}"))),
            expected,
            "{name}"
        );
    }
}

#[tokio::test]
async fn inner_documents_in_cdata_or_escaped_are_unwrapped() {
    let inner = "<?xml version=\"1.0\" encoding=\"GBK\"?><结果><case><id>A1</id><姓名>欧阳娜 &amp; 子</姓名></case></结果>";
    let escaped = inner
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    for wrapped in [format!("<![CDATA[{inner}]]>"), escaped] {
        let server = MockServer::start().await;
        let body = envelope(
            SOAP11,
            &format!("<m:getResponse xmlns:m='urn:m'><return>{wrapped}</return></m:getResponse>"),
        );
        answer(
            &server,
            xml(
                200,
                "text/xml; charset=GBK",
                encoding_rs::GBK.encode(&body).0.into_owned(),
            ),
            1,
        )
        .await;
        let adapter = mock_driver(&server, |c| {
            if let Some(op) = c.operations.get_mut("get") {
                op.inner_document = true;
            }
        })
        .await;
        assert_eq!(name_of(adapter.fetch("A1").await.unwrap()), "欧阳娜 & 子");
    }
}

#[tokio::test]
async fn dtds_and_entities_are_refused_and_never_expanded() {
    let server = MockServer::start().await;
    let external = format!("{}/evil.dtd", server.uri());
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><lolz>&lol2;</lolz>"#.to_owned();
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "{external}">]>{}"#,
        envelope(
            SOAP11,
            "<m:getResponse xmlns:m='urn:m'><return><case><id>&xxe;</id></case></return></m:getResponse>"
        )
    );
    let inner_xxe = envelope(
        SOAP11,
        &format!(
            "<m:getResponse xmlns:m='urn:m'><return>&lt;!DOCTYPE r [&lt;!ENTITY x SYSTEM \"{external}\"&gt;]&gt;&lt;case&gt;&amp;x;&lt;/case&gt;</return></m:getResponse>"
        ),
    );
    for (name, body, status) in [
        ("billion laughs", laughs, 200),
        ("XXE", xxe.clone(), 200),
        ("XXE with a 500", xxe, 500),
        ("XXE inside the inner document", inner_xxe, 200),
    ] {
        server.reset().await;
        answer(&server, xml(status, "text/xml", body), 1).await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        let adapter = mock_driver(&server, |c| {
            if let Some(op) = c.operations.get_mut("get") {
                op.inner_document = true;
            }
        })
        .await;
        let err = adapter.fetch("A1").await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Data, "{name}: {err}");
        assert!(err.message.contains("never"), "{name}: {err}");
        assert!(!err.message.contains("lollol"), "{name}: {err}");
        server.verify().await;
    }
}

#[tokio::test]
async fn a_wsdl_from_a_file_is_read_for_probe() {
    let server = MockServer::start().await;
    answer(
        &server,
        xml(
            200,
            "text/xml",
            envelope(SOAP11, "<r><item><id>1</id></item><item><id>2</id></item></r>"),
        ),
        1,
    )
    .await;
    let dir = std::env::temp_dir().join(format!("ronghe-wsdl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("service.wsdl");
    std::fs::write(
        &file,
        r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"><portType name="P"><operation name="list"/><operation name="get"/></portType></definitions>"#,
    )
    .unwrap();
    let adapter = mock_driver(&server, |c| c.wsdl = Some(file.display().to_string())).await;
    let profile = adapter.probe(10).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let names: Vec<&str> = profile.entities.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["list", "get"]);
    assert_eq!(
        profile.entities[0].samples,
        [json!({"item": {"id": "1"}}), json!({"item": {"id": "2"}})]
    );
}

// ---- the simulator's push client ----

#[tokio::test]
async fn the_simulator_pushes_completed_cases_as_gbk_envelopes() {
    let sim = start(25).await;
    let intake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/soap/sbdy/writeback"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&intake)
        .await;
    let pushed = sim
        .push_completed(&Push::new(format!("{}/soap/sbdy/writeback", intake.uri()), None))
        .await
        .unwrap();
    let requests = intake.received_requests().await.unwrap();
    assert!(pushed > 0);
    assert_eq!(requests.len(), pushed);
    // Every completed case, and only those: the listing's cases with an 办结时间.
    let adapter = driver(&sim, |_| {}).await;
    let finished: Vec<String> = adapter
        .read(None)
        .try_filter(|r| std::future::ready(!text(r, "/办件/办结时间").is_empty()))
        .map_ok(|r| r.key.unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pushed, finished.len());
    for (request, key) in requests.iter().zip(&finished) {
        assert_eq!(
            request.headers.get("content-type").unwrap().to_str().unwrap(),
            "text/xml; charset=GBK"
        );
        assert!(std::str::from_utf8(&request.body).is_err(), "GBK, not UTF-8");
        let (body, errors) = encoding_rs::GBK.decode_without_bom_handling(&request.body);
        assert!(!errors, "decodes as GBK");
        assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"GBK\"?>"));
        assert!(body.contains(&format!("<办件编号>{key}</办件编号>")), "{body}");
        assert!(body.contains("<系统编码>GZ-RST-SBDY</系统编码>") && body.contains("<办结时间>"));
    }

    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&refusing)
        .await;
    let err = sim
        .push_completed(&Push::new(refusing.uri(), None))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Configuration);
}
