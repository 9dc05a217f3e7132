//! The HTTP API through the real router (`app(state).oneshot(request)`) on SQLite: every
//! endpoint's happy path and the error shape for bad input.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use ronghe::server::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const MAX_BODY: usize = 64 * 1024;

struct Api {
    router: axum::Router,
    store: ronghe::store::Store,
    /// Each acting account's token, made on first use: `tester` holds every duty but expert
    /// and auditor province-wide; anyone else is an expert.
    tokens: tokio::sync::Mutex<std::collections::HashMap<String, String>>,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new() -> Api {
        Api::with_calendar(ronghe::calendar::Calendar::embedded().clone()).await
    }

    async fn with_calendar(calendar: ronghe::calendar::Calendar) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = common::sqlite_store(&dir).await;
        let router = app(
            AppState {
                calendar: std::sync::Arc::new(calendar),
                ..common::app_state(store.clone())
            },
            MAX_BODY,
        );
        Api {
            router,
            store,
            tokens: Default::default(),
            _dir: dir,
        }
    }

    async fn token(&self, actor: &str) -> String {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(actor) {
            return token.clone();
        }
        let grants: &[&str] = if actor == "tester" {
            common::ALL_DUTIES
        } else {
            &["expert@province"]
        };
        let token = common::staff_token(&self.store, actor, grants).await;
        tokens.insert(actor.to_owned(), token.clone());
        token
    }

    /// The expert account `id` (created on first use), for naming it as chair or member.
    async fn expert(&self, id: &str) -> String {
        self.token(id).await;
        id.to_owned()
    }

    /// Sends `request` as `tester` unless it already carries credentials.
    async fn call(&self, mut request: Request<Body>) -> (StatusCode, Value) {
        if !request.headers().contains_key(header::AUTHORIZATION) {
            let token = self.token("tester").await;
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        }
        self.call_plain(request).await
    }

    /// Answers `request` (as `tester` unless it carries credentials) as the raw response.
    async fn raw(&self, mut request: Request<Body>) -> axum::response::Response {
        if !request.headers().contains_key(header::AUTHORIZATION) {
            let token = self.token("tester").await;
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        }
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Sends `request` as it is (no credentials added).
    async fn call_plain(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Request::get(path).body(Body::empty()).unwrap()).await
    }

    async fn send(&self, method: &str, path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        self.send_as("tester", method, path, body).await
    }

    async fn send_as(
        &self,
        actor: &str,
        method: &str,
        path: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let token = self.token(actor).await;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(body.into())
            .unwrap();
        self.call(request).await
    }
}

fn registration(id: &str) -> Value {
    json!({
        "id": id, "name": "市场监管许可系统", "department": "贵阳市市场监督管理局", "region_code": "520100",
        "protocol": "rest", "endpoint": "http://127.0.0.1:9001/api", "credentials_ref": "env:GY_KEY"
    })
}

/// Checks the one error shape: status, stable code, and the field when one applies.
fn check_error(
    (status, body): (StatusCode, Value),
    expected_status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    match field {
        Some(f) => assert_eq!(body["error"]["field"], f, "{body}"),
        None => assert!(body["error"].get("field").is_none(), "{body}"),
    }
}

#[tokio::test]
async fn systems_lifecycle() {
    let api = Api::new().await;
    let (status, created) = api
        .send("POST", "/api/v1/systems", registration("gy-scjg").to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "registered");

    let (status, list) = api.get("/api/v1/systems").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (_, none) = api.get("/api/v1/systems?status=live").await;
    assert_eq!(none, json!([]));

    let (status, shown) = api.get("/api/v1/systems/gy-scjg").await;
    assert_eq!((status, &shown), (StatusCode::OK, &created));

    let (status, updated) = api
        .send("PATCH", "/api/v1/systems/gy-scjg", r#"{"status":"assessed"}"#)
        .await;
    assert_eq!(
        (status, updated["status"].as_str()),
        (StatusCode::OK, Some("assessed"))
    );

    let (status, retired) = api
        .send(
            "POST",
            "/api/v1/systems/gy-scjg/retire",
            r#"{"reason":"并入政务服务网"}"#,
        )
        .await;
    assert_eq!(
        (status, retired["status"].as_str()),
        (StatusCode::OK, Some("retired"))
    );
    check_error(
        api.send("PATCH", "/api/v1/systems/gy-scjg", r#"{"name":"x"}"#)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("status"),
    );
}

#[tokio::test]
async fn bad_input_gets_the_error_shape_and_writes_nothing() {
    let api = Api::new().await;
    let with_unknown = {
        let mut r = registration("gy-a");
        r["colour"] = json!("red");
        r.to_string()
    };
    let with_wrong_type = {
        let mut r = registration("gy-a");
        r["secret"] = json!("yes");
        r.to_string()
    };
    let invalid = json!({
        "id": "Bad Id", "name": "", "department": "部门", "region_code": "999999",
        "protocol": "ftp", "endpoint": "http://u:pw@host/", "credentials_ref": "hunter2"
    });
    for (body, status, code, field) in [
        (
            "{not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            with_unknown,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("colour"),
        ),
        (
            with_wrong_type,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("secret"),
        ),
        (
            invalid.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("id"),
        ),
        (
            "x".repeat(MAX_BODY + 1),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            None,
        ),
    ] {
        check_error(
            api.send("POST", "/api/v1/systems", body).await,
            status,
            code,
            field,
        );
    }
    let (_, body) = api.send("POST", "/api/v1/systems", invalid.to_string()).await;
    let rules: Vec<&str> = body["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["rule"].as_str())
        .collect();
    for rule in [
        "system.id",
        "required",
        "division.unknown",
        "system.protocol",
        "system.credentials_ref",
    ] {
        assert!(rules.contains(&rule), "{rule} missing: {body}");
    }
    assert_eq!(
        api.store.list_systems(None).await.unwrap().len(),
        0,
        "nothing half-written"
    );

    let text = Request::post("/api/v1/systems")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    check_error(
        api.call(text).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );
    api.send("POST", "/api/v1/systems", registration("gy-a").to_string())
        .await;
    check_error(
        api.send("POST", "/api/v1/systems", registration("gy-a").to_string())
            .await,
        StatusCode::CONFLICT,
        "already_exists",
        None,
    );
    check_error(
        api.send("PATCH", "/api/v1/systems/gy-a", r#"{"status":"live"}"#)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("status"),
    );
    check_error(
        api.get("/api/v1/systems/nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    check_error(
        api.get("/api/v1/systems?status=flying").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("status"),
    );
    check_error(
        api.get("/api/v2/nothing").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    check_error(
        api.send("DELETE", "/api/v1/systems", "").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );
    // Issue 14: a claimed actor is not believed; without credentials nothing is answered.
    let claimed = Request::get("/api/v1/systems/gy-a/cases/x")
        .header("x-ronghe-actor", "tester")
        .body(Body::empty())
        .unwrap();
    check_error(
        api.call_plain(claimed).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );
    let forged = Request::get("/api/v1/systems")
        .header(header::AUTHORIZATION, "Bearer rh.0000000000000000.forged")
        .body(Body::empty())
        .unwrap();
    check_error(
        api.call_plain(forged).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );
}

#[tokio::test]
async fn case_reads_are_audited() {
    let api = Api::new().await;
    api.store
        .insert_system(&common::system("sys"), "test")
        .await
        .unwrap();
    let case = common::case("case_finished");
    api.store
        .upsert_cases("sys", std::slice::from_ref(&case))
        .await
        .unwrap();

    let (status, record) = api
        .get(&format!("/api/v1/systems/sys/cases/{}", case.case_no))
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    // Issue 14 (Art. 23): masked by default; full values one item at a time, with a purpose.
    let full = &case.applicant.certificate_no;
    let shown = record["case"]["applicant"]["certificate_no"].as_str().unwrap();
    assert!(
        shown.contains('*') && shown != full && !record.to_string().contains(full.as_str()),
        "{record}"
    );
    check_error(
        api.get(&format!("/api/v1/systems/sys/cases/{}?unmask=true", case.case_no))
            .await,
        StatusCode::BAD_REQUEST,
        "purpose_required",
        Some("purpose"),
    );
    let (status, unmasked) = api
        .get(&format!(
            "/api/v1/systems/sys/cases/{}?unmask=true&purpose=%E6%A0%B8%E5%AE%9E",
            case.case_no
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unmasked["case"]["applicant"]["certificate_no"], full.as_str());
    let (status, history) = api
        .get(&format!("/api/v1/systems/sys/cases/{}/history", case.case_no))
        .await;
    assert_eq!(
        (status, history.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    check_error(
        api.get("/api/v1/systems/sys/cases/none").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );

    let ronghe::store::Pool::Sqlite(pool) = api.store.pool() else {
        unreachable!("sqlite store")
    };
    let reads: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, action FROM audit_events WHERE target = $1 ORDER BY id")
            .bind(format!("sys/{}", case.case_no))
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        reads,
        [
            ("tester".into(), "case.read".into()),
            ("tester".into(), "case.unmask".into()),
            ("tester".into(), "case.read_history".into())
        ]
    );
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let api = Api::new().await;
    assert_eq!(
        api.get("/healthz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        api.get("/readyz").await,
        (StatusCode::OK, json!({"status": "ready", "store": "sqlite"}))
    );
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/systems",
        "/api/v1/systems/{id}",
        "/api/v1/systems/{id}/retire",
        "/api/v1/systems/{id}/cases/{case_no}",
        "/readyz",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    api.get("/api/v1/systems/nope").await;
    let (status, Value::String(text)) = api.get("/metrics").await else {
        panic!("metrics is text")
    };
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.lines().any(|l| l.starts_with("ronghe_http_requests_total{")
            && l.contains(r#"route="/api/v1/systems/{id}""#)
            && l.contains(r#"status="404""#)),
        "{text}"
    );

    api.store.close().await;
    check_error(
        api.get("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        None,
    );
}

#[tokio::test]
async fn bridge_without_keys_says_so() {
    let api = Api::new().await;
    check_error(
        api.get("/api/v1/bridge/keys").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "bridge_not_configured",
        None,
    );
    check_error(
        api.send("POST", "/api/v1/bridge/tickets/redeem", r#"{"ticket":"x"}"#)
            .await,
        StatusCode::UNAUTHORIZED,
        "bridge_unauthorized",
        None,
    );
}

#[tokio::test]
async fn published_rules_are_public_and_validated() {
    let api = Api::new().await;
    let tomorrow = (chrono::Local::now().date_naive() + chrono::Duration::days(1)).to_string();
    let rule = json!({
        "item_code": "11520000009390240A4520117005000", "field": "applicant.phone",
        "check": {"type": "required"}, "description": "新增采集项:联系电话", "published_on": tomorrow
    });
    let (status, created) = api.send("POST", "/api/v1/rules", rule.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, list) = api
        .get("/api/v1/rules?item_code=11520000009390240A4520117005000")
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (_, none) = api.get("/api/v1/rules?item_code=OTHER").await;
    assert_eq!(none, json!([]));

    let mut past = rule.clone();
    past["published_on"] = json!("2020-01-01");
    past["field"] = json!("applicant.shoe_size");
    let (status, body) = api.send("POST", "/api/v1/rules", past.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let rules: Vec<&str> = body["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["rule"].as_str())
        .collect();
    assert_eq!(rules, ["rule.field", "rule.published_in_past"]);
    let mut odd = rule.clone();
    odd["check"] = json!({"type": "sometimes"});
    check_error(
        api.send("POST", "/api/v1/rules", odd.to_string()).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("check.type"),
    );
    assert_eq!(
        api.store.list_rules(None).await.unwrap().len(),
        1,
        "refused rules are not stored"
    );
}

// ---------------------------------------------------------------------------------------------
// Assessments (issue 4)
// ---------------------------------------------------------------------------------------------

const CHAIR: &str = "chair-zhang";
const EXPERTS: [&str; 5] = ["wang-li", "li-na", "zhao-qiang", "qian-hui", "sun-yu"];

/// A system registration in its own department.
fn department_system(id: &str, name: &str, department: &str, secret: bool) -> Value {
    json!({
        "id": id, "name": name, "department": department, "region_code": "520100",
        "protocol": "rest", "endpoint": "http://127.0.0.1:9001/api", "secret": secret
    })
}

/// Expert `expert`'s JSON sheet for a system seen as `profile`, with a reason.
fn score_body(profile: common::Profile, expert: usize, reason: &str) -> String {
    let scores: serde_json::Map<String, Value> = common::expert_scores(profile, expert)
        .into_iter()
        .map(|(c, l)| (c, json!(l)))
        .collect();
    json!({ "scores": scores, "reasons": { "integration_tech": reason } }).to_string()
}

impl Api {
    /// Registers a system, opens its assessment as the chair and seats the five experts (plus
    /// one from the system's own department, who is recused); returns the assessment id.
    async fn panel(&self, system: Value) -> String {
        let id = system["id"].as_str().unwrap().to_owned();
        let (status, body) = self.send("POST", "/api/v1/systems", system.to_string()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, opened) = self
            .send_as(
                "tester",
                "POST",
                "/api/v1/assessments",
                json!({ "system_id": id, "chair": self.expert(CHAIR).await }).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{opened}");
        let assessment = opened["id"].as_str().unwrap().to_owned();
        assert_eq!(
            (opened["chair"].as_str(), opened["round"].as_i64()),
            (Some(CHAIR), Some(1))
        );
        let own_department = system["department"].as_str().unwrap().to_owned();
        for (expert, department) in EXPERTS
            .iter()
            .map(|e| (*e, "省大数据局"))
            .chain([("own-dept", own_department.as_str())])
        {
            let new = json!({ "id": self.expert(expert).await, "name": format!("专家{expert}"), "department": department });
            let (status, added) = self
                .send_as(
                    CHAIR,
                    "POST",
                    &format!("/api/v1/assessments/{assessment}/experts"),
                    new.to_string(),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{added}");
            assert_eq!(added["recusal"].is_string(), expert == "own-dept", "{added}");
            let (status, declared) = self
                .send_as(
                    expert,
                    "PUT",
                    &format!("/api/v1/assessments/{assessment}/experts/{expert}/conflicts"),
                    r#"{"conflicts": []}"#,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{declared}");
        }
        assessment
    }

    async fn score(&self, assessment: &str, expert: usize, body: String) -> (StatusCode, Value) {
        let who = EXPERTS[expert];
        self.send_as(
            who,
            "PUT",
            &format!("/api/v1/assessments/{assessment}/experts/{who}/scores"),
            body,
        )
        .await
    }
}

/// A verdict given through the API without a data profile reads the system's latest probe
/// profile, as the CLI's does.
#[tokio::test]
async fn a_verdict_without_a_data_profile_reads_the_probe_profile() {
    let api = Api::new().await;
    let system = "gz-shbz";
    let assessment = api
        .panel(department_system(
            system,
            "社会保障待遇系统",
            "贵州省人力资源和社会保障厅",
            false,
        ))
        .await;
    for expert in 0..5 {
        let (status, receipt) = api
            .score(
                &assessment,
                expert,
                score_body(common::COMPLEX_AND_HARD, expert, "源代码缺失"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
    let probed = ronghe_adapters::Profile {
        entities: vec![ronghe_adapters::Entity {
            name: "getCases".into(),
            kind: "operation".into(),
            fields: vec![ronghe_adapters::Field {
                name: "/applicant/idNo".into(),
                data_type: "string".into(),
                nullable: false,
                distinct: Vec::new(),
            }],
            record_count: Some(1),
            samples: vec![json!({"applicant": {"idNo": "52010219900101123X"}})],
        }],
    };
    api.store.save_profile(system, &probed).await.unwrap();
    let (status, report) = api
        .send_as(
            CHAIR,
            "POST",
            &format!("/api/v1/assessments/{assessment}/verdict"),
            "{}".to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let source = report["risk"]["profile"]["source"].as_str().unwrap_or_default();
    assert!(source.contains("adapters probe"), "{report}");
    assert!(
        !report.to_string().contains("52010219900101123X"),
        "no sample in the report"
    );
}

/// A panel of five experts assesses four systems through the API — one per integration mode and
/// a secret one — and gets a verdict and a report for each; the portfolio shows them all.
#[tokio::test]
async fn five_experts_assess_systems_end_to_end() {
    let api = Api::new().await;
    let cases = [
        (
            "gy-scjg",
            "市场监管许可系统",
            "贵阳市市场监督管理局",
            common::ORDINARY,
            "front_end_migration",
        ),
        (
            "gz-shbz",
            "社会保障待遇系统",
            "贵州省人力资源和社会保障厅",
            common::COMPLEX_AND_HARD,
            "compatible_transition",
        ),
        (
            "qn-hyzx",
            "婚姻登记档案系统",
            "黔南州民政局",
            common::WEAK_AND_SINGLE,
            "full_migration",
        ),
    ];
    for (system, name, department, profile, mode) in cases {
        let assessment = api
            .panel(department_system(system, name, department, false))
            .await;
        let own = api
            .send_as(
                "own-dept",
                "PUT",
                &format!("/api/v1/assessments/{assessment}/experts/own-dept/scores"),
                score_body(profile, 0, "x"),
            )
            .await;
        check_error(own, StatusCode::FORBIDDEN, "recused", None);
        for expert in 0..5 {
            let (status, receipt) = api
                .score(&assessment, expert, score_body(profile, expert, "源代码缺失"))
                .await;
            assert_eq!(status, StatusCode::OK, "{receipt}");
            assert_eq!(receipt["closed"].is_object(), expert == 4, "{receipt}");
        }
        // The data profile, given with the verdict: the risk reads it, the report keeps no sample.
        let profile = json!({ "profile": { "source": "数据目录", "fields": [
            { "name": "SQRZJHM", "label": "申请人证件号码", "samples": ["52010219900101123X"] },
            { "name": "SXMC", "samples": ["食品经营许可"] }
        ] } });
        let (status, report) = api
            .send_as(
                CHAIR,
                "POST",
                &format!("/api/v1/assessments/{assessment}/verdict"),
                profile.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        assert_eq!(report["verdict"]["mode"], mode, "{system}");
        assert_eq!(report["risk"]["profile"]["sensitive"][0]["kind"], "personal_id");
        assert!(report["risk"]["level"].is_string());
        assert!(!report.to_string().contains("52010219900101123X"));
        // Agreement that cannot be measured is not high: the ordinary profile gives every
        // criterion the same panel value, so there is no ICC, and the confidence is medium.
        let measured = !report["agreement"]["icc"].is_null();
        assert_eq!(measured, system != "gy-scjg", "{}", report["agreement"]);
        let expected = if measured { "high" } else { "medium" };
        assert_eq!(report["verdict"]["confidence"]["level"], expected, "{system}");
        assert!(report["verdict"]["rationale"]["alternatives"][0]["changes"][0]["criterion"].is_string());
        let (_, shown) = api.get(&format!("/api/v1/systems/{system}")).await;
        assert_eq!(shown["status"], "assessed");

        let (status, json_report) = api.get(&format!("/api/v1/assessments/{assessment}/report")).await;
        assert_eq!((status, &json_report), (StatusCode::OK, &report));
        for (format, media, needle) in [
            ("html", "text/html", "<svg"),
            ("markdown", "text/markdown", "## 结论"),
        ] {
            let response = api
                .raw(
                    Request::get(format!("/api/v1/assessments/{assessment}/report?format={format}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            let content_type = response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(content_type.starts_with(media), "{content_type}");
            let text =
                String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
            assert!(
                text.contains(needle) && text.contains(report["verdict"]["label"].as_str().unwrap()),
                "{text}"
            );
            assert!(
                text.contains("什么样的评分改动会改变结论"),
                "the report says which scores to challenge"
            );
        }
        let trail = common::audit_trail(&api.store, &assessment).await;
        for expert in EXPERTS {
            assert!(
                trail.contains(&(expert.to_owned(), "assessment.score".to_owned())),
                "{trail:?}"
            );
        }
    }

    // A secret system: the secrecy exception, which needs its justification and no score; the
    // chair records it while the first round is still open.
    let secret = api
        .panel(department_system("gz-jm", "涉密审批系统", "省国家保密局", true))
        .await;
    check_error(
        api.send_as(CHAIR, "POST", &format!("/api/v1/assessments/{secret}/close"), "")
            .await,
        StatusCode::CONFLICT,
        "too_few_submissions",
        None,
    );
    check_error(
        api.send_as(
            CHAIR,
            "POST",
            &format!("/api/v1/assessments/{secret}/verdict"),
            "{}",
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "secrecy_justification_required",
        None,
    );
    let justification = json!({ "secrecy_justification": "该系统承办涉及国家秘密的审批事项,依照保密法律法规不得接入互联网政务服务平台。" });
    let (status, report) = api
        .send_as(
            CHAIR,
            "POST",
            &format!("/api/v1/assessments/{secret}/verdict"),
            justification.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["verdict"]["mode"], "secrecy_exception");

    let (status, portfolio) = api.get("/api/v1/assessments/portfolio").await;
    assert_eq!(status, StatusCode::OK);
    let modes: Vec<(&str, &str)> = portfolio["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["system_id"].as_str().unwrap(), s["mode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        modes,
        [
            ("gy-scjg", "front_end_migration"),
            ("gz-jm", "secrecy_exception"),
            ("gz-shbz", "compatible_transition"),
            ("qn-hyzx", "full_migration"),
        ]
    );
    // The same five experts scored three systems: they agree on which is the hardest.
    let agreement = &portfolio["agreement"][0];
    assert_eq!(agreement["experts"], 5, "{portfolio}");
    assert!(
        agreement["concordance"]["w"].as_f64().unwrap() > 0.9,
        "{portfolio}"
    );

    let (_, doc) = api.get("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/assessments",
        "/api/v1/assessments/{id}",
        "/api/v1/assessments/{id}/experts",
        "/api/v1/assessments/{id}/experts/{expert}/conflicts",
        "/api/v1/assessments/{id}/experts/{expert}/scores",
        "/api/v1/assessments/{id}/close",
        "/api/v1/assessments/{id}/rounds/{round}",
        "/api/v1/assessments/{id}/verdict",
        "/api/v1/assessments/{id}/report",
        "/api/v1/assessments/portfolio",
        "/api/v1/assessments/rubrics",
        "/api/v1/assessments/rubrics/{id}/{version}",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
}

/// A fresh API with the market-regulation system's panel seated; the assessment id.
async fn market_regulation_panel() -> (Api, String) {
    let api = Api::new().await;
    let assessment = api
        .panel(department_system(
            "gy-scjg",
            "市场监管许可系统",
            "贵阳市市场监督管理局",
            false,
        ))
        .await;
    (api, assessment)
}

/// While a round is open no endpoint reveals an expert's scores or reasons — not to the chair,
/// not to the experts; once it closes, the round's summary shows them anonymised.
#[tokio::test]
async fn sealed_scores_cannot_be_read_before_the_round_closes() {
    let (api, assessment) = market_regulation_panel().await;
    for expert in 0..4 {
        let (status, receipt) = api
            .score(
                &assessment,
                expert,
                score_body(common::ORDINARY, expert, &format!("SEALED-{expert}")),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !receipt.to_string().contains("SEALED"),
            "a receipt never repeats the scores: {receipt}"
        );
        assert!(receipt.get("scores").is_none());
    }
    let reads = [
        "/api/v1/assessments".to_owned(),
        "/api/v1/assessments?system=gy-scjg".to_owned(),
        format!("/api/v1/assessments/{assessment}"),
        format!("/api/v1/assessments/{assessment}/rounds/1"),
        format!("/api/v1/assessments/{assessment}/report"),
        format!("/api/v1/assessments/{assessment}/report?format=html"),
        format!("/api/v1/assessments/{assessment}/report?format=markdown"),
        "/api/v1/assessments/portfolio".to_owned(),
        "/api/v1/assessments/rubrics".to_owned(),
        "/api/v1/assessments/rubrics/ronghe-default/1".to_owned(),
        "/api/v1/systems/gy-scjg".to_owned(),
    ];
    for actor in [CHAIR, EXPERTS[0], "anonymous"] {
        for path in &reads {
            let request = Request::get(path)
                .header("x-ronghe-actor", actor)
                .body(Body::empty())
                .unwrap();
            let (status, body) = api.call(request).await;
            let text = body.to_string();
            assert!(
                !text.contains("SEALED"),
                "{path} as {actor} reveals a sealed reason: {text}"
            );
            assert!(
                !text.contains("\"scores\""),
                "{path} as {actor} shows scores: {text}"
            );
            if path.ends_with("/rounds/1") {
                check_error((status, body), StatusCode::CONFLICT, "sealed", None);
            } else if path.contains("/report") {
                check_error((status, body), StatusCode::CONFLICT, "no_verdict", None);
            } else {
                assert_eq!(status, StatusCode::OK, "{path}: {text}");
            }
        }
    }
    let (_, view) = api.get(&format!("/api/v1/assessments/{assessment}")).await;
    assert_eq!(
        view["pending"],
        json!(["sun-yu"]),
        "who is pending is public, what was scored is not"
    );

    let (_, receipt) = api
        .score(&assessment, 4, score_body(common::ORDINARY, 4, "SEALED-4"))
        .await;
    assert!(receipt["closed"].is_object());
    let (status, summary) = api
        .get(&format!("/api/v1/assessments/{assessment}/rounds/1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = summary.to_string();
    assert!(
        (0..5).all(|e| text.contains(&format!("SEALED-{e}"))),
        "closed: the reasons show, anonymised"
    );
    assert!(
        !EXPERTS.iter().any(|e| text.contains(e)),
        "no expert is named next to a reason: {text}"
    );
}

#[tokio::test]
async fn assessment_bad_input_gets_the_error_shape() {
    let (api, assessment) = market_regulation_panel().await;
    let scores = format!("/api/v1/assessments/{assessment}/experts/wang-li/scores");
    let mut out_of_range = common::expert_scores(common::ORDINARY, 0);
    out_of_range[0].1 = 9;
    let out_of_range = json!({
        "scores": out_of_range.into_iter().map(|(c, l)| (c, json!(l))).collect::<serde_json::Map<_, _>>()
    });
    let wrong_round = json!({ "scores": { "support_coverage": 3 } });
    let rubric = |text: &str| json!({ "toml": text }).to_string();
    let inconsistent = ronghe_assessment::rubric::DEFAULT_RUBRIC
        .replace("[\"support\", \"business\", 2]", "[\"business\", \"support\", 9]")
        .replace("version = 1", "version = 7");
    for (actor, method, path, body, status, code, field) in [
        (
            "wang-li",
            "PUT",
            scores.clone(),
            "{".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            "wang-li",
            "PUT",
            scores.clone(),
            r#"{"scores": {}, "colour": 1}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("colour"),
        ),
        (
            "wang-li",
            "PUT",
            scores.clone(),
            out_of_range.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("scores.support_coverage"),
        ),
        (
            "wang-li",
            "PUT",
            scores.clone(),
            wrong_round.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("scores.support_operations"),
        ),
        (
            CHAIR,
            "PUT",
            scores.clone(),
            score_body(common::ORDINARY, 0, "x"),
            StatusCode::FORBIDDEN,
            "not_the_expert",
            None,
        ),
        (
            "wang-li",
            "POST",
            format!("/api/v1/assessments/{assessment}/close"),
            String::new(),
            StatusCode::FORBIDDEN,
            "not_chair",
            None,
        ),
        (
            CHAIR,
            "POST",
            format!("/api/v1/assessments/{assessment}/verdict"),
            "{}".to_owned(),
            StatusCode::CONFLICT,
            "round_open",
            None,
        ),
        (
            "tester",
            "POST",
            "/api/v1/assessments".to_owned(),
            r#"{"chair": "chair-zhang", "system_id": "gy-scjg"}"#.to_owned(),
            StatusCode::CONFLICT,
            "assessment_in_progress",
            None,
        ),
        (
            "tester",
            "POST",
            "/api/v1/assessments".to_owned(),
            r#"{"chair": "chair-zhang", "system_id": "nope"}"#.to_owned(),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            "tester",
            "POST",
            "/api/v1/assessments".to_owned(),
            r#"{"chair": "chair-zhang", "system_id": "gy-scjg", "rubric": {"id": "mine", "version": 1}}"#
                .to_owned(),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            CHAIR,
            "POST",
            "/api/v1/assessments/nope.1/close".to_owned(),
            String::new(),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            CHAIR,
            "POST",
            format!("/api/v1/assessments/{assessment}/experts"),
            r#"{"id": "Bad Id", "name": "", "department": "x"}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("id"),
        ),
        (
            CHAIR,
            "POST",
            format!("/api/v1/assessments/{assessment}/experts"),
            r#"{"id": "wang-li", "name": "王", "department": "x"}"#.to_owned(),
            StatusCode::CONFLICT,
            "expert_exists",
            None,
        ),
        (
            "ghost",
            "PUT",
            format!("/api/v1/assessments/{assessment}/experts/ghost/conflicts"),
            r#"{"conflicts": []}"#.to_owned(),
            StatusCode::FORBIDDEN,
            "out_of_scope",
            None,
        ),
        (
            "wang-li",
            "PUT",
            format!("/api/v1/assessments/{assessment}/experts/wang-li/conflicts"),
            r#"{"conflicts": []}"#.to_owned(),
            StatusCode::CONFLICT,
            "already_declared",
            None,
        ),
        (
            "tester",
            "POST",
            "/api/v1/assessments/rubrics".to_owned(),
            rubric("id = 3"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            None,
        ),
        (
            "tester",
            "POST",
            "/api/v1/assessments/rubrics".to_owned(),
            rubric(&inconsistent),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("weights.judgments[0]"),
        ),
    ] {
        let result = api.send_as(actor, method, &path, body.clone()).await;
        let field = match (field, code) {
            (None, "validation_failed") => result.1["error"]["field"].as_str().map(str::to_owned),
            (f, _) => f.map(str::to_owned),
        };
        check_error(result, status, code, field.as_deref());
    }
    let (_, refused) = api
        .send_as(
            "tester",
            "POST",
            "/api/v1/assessments/rubrics",
            rubric(&inconsistent),
        )
        .await;
    let message = refused["error"]["issues"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("business vs support = 9") && message.contains("consistency ratio"),
        "{message}"
    );
    check_error(
        api.get(&format!("/api/v1/assessments/{assessment}/report?format=pdf"))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("format"),
    );
    check_error(
        api.get(&format!("/api/v1/assessments/{assessment}/rounds/9"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (_, view) = api.get(&format!("/api/v1/assessments/{assessment}")).await;
    assert_eq!(view["rounds"][0]["submitted"], json!([]), "nothing half-written");
}

/// The embedded calendar with `common::plain_years_toml` added.
fn calendar_through_next_year() -> ronghe::calendar::Calendar {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), common::plain_years_toml()).unwrap();
    ronghe::calendar::Calendar::load(Some(file.path())).unwrap()
}

/// Issue 7: a notice taking effect too soon is refused with the earliest allowed date; on that
/// date it is accepted; the list and the Atom feed show it.
#[tokio::test]
async fn notices_keep_their_notice_period() {
    let calendar = calendar_through_next_year();
    let api = Api::with_calendar(calendar.clone()).await;
    api.send("POST", "/api/v1/systems", registration("gy-scjg").to_string())
        .await;
    let today = ronghe::calendar::today();
    let earliest = calendar.add_working_days(today, 5).unwrap();
    let notice = |effective: chrono::NaiveDate, reason: Option<&str>| {
        json!({ "system_id": "gy-scjg", "kind": "interface_change", "title": "办件查询接口升级 <v2>",
                "body": "字段 & 分页方式变化", "effective_on": effective, "emergency_reason": reason })
        .to_string()
    };
    let refused = api
        .send(
            "POST",
            "/api/v1/notices",
            notice(earliest.pred_opt().unwrap(), None),
        )
        .await;
    assert!(
        refused.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&earliest.to_string()),
        "{}",
        refused.1
    );
    check_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("effective_on"),
    );
    let (status, created) = api.send("POST", "/api/v1/notices", notice(earliest, None)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["earliest_allowed_on"], earliest.to_string());
    assert_eq!(created["basis"], "第三十条第（一）项");
    let (status, urgent) = api
        .send(
            "POST",
            "/api/v1/notices",
            notice(today, Some("证书到期，须当日更换接口证书")),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "an emergency with a reason: {urgent}"
    );
    let unknown = api
        .send(
            "POST",
            "/api/v1/notices",
            notice(earliest, None).replace("gy-scjg", "nowhere"),
        )
        .await;
    check_error(unknown, StatusCode::NOT_FOUND, "not_found", None);

    let (status, listed) = api.get("/api/v1/notices?system=gy-scjg").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let (status, feed) = api.get("/api/v1/notices.atom").await;
    assert_eq!(status, StatusCode::OK);
    let feed = feed.as_str().unwrap();
    assert!(
        feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
        "{feed}"
    );
    assert!(
        feed.contains("办件查询接口升级 &lt;v2&gt;") && feed.contains("字段 &amp; 分页方式变化"),
        "escaped: {feed}"
    );
    assert!(feed.contains("紧急变更理由：证书到期"), "{feed}");
    assert_eq!(feed.matches("<entry>").count(), 2);
}

/// Issue 7: plans through the API: import, show, baseline, progress (refused in the future),
/// the Gantt chart, the report and the portfolio.
#[tokio::test]
async fn plans_through_the_api() {
    let api = Api::with_calendar(calendar_through_next_year()).await;
    api.send("POST", "/api/v1/systems", registration("gy-scjg").to_string())
        .await;
    let today = ronghe::calendar::today();
    let toml = format!(
        "[plan]\nsystem = \"gy-scjg\"\nmode = \"front_end_migration\"\nstart = \"{today}\"\nowner = \"张经理\"\n\n\
         [[milestones]]\nid = \"handoff\"\nphase = \"对接\"\nname = \"申请推送联调\"\nowner = \"工程师\"\nduration_working_days = 4\n"
    );
    let (status, view) = api
        .send(
            "PUT",
            "/api/v1/plans/gy-scjg",
            json!({ "toml": toml }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["milestones"][0]["forecast"]["critical"], true);
    assert!(view["rag"].is_null(), "no baseline yet: {view}");
    let wrong = api
        .send("PUT", "/api/v1/plans/other", json!({ "toml": toml }).to_string())
        .await;
    check_error(
        wrong,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("plan.system"),
    );
    let bad = api
        .send(
            "PUT",
            "/api/v1/plans/gy-scjg",
            json!({ "toml": toml.replace("duration_working_days = 4", "duration_working_days = 999") })
                .to_string(),
        )
        .await;
    check_error(
        bad,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("milestones[0].duration_working_days"),
    );

    let (status, baselined) = api
        .send(
            "POST",
            "/api/v1/plans/gy-scjg/baseline",
            json!({ "approved_by": "李主任" }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{baselined}");
    assert_eq!(baselined["rag"], "green");
    assert_eq!(baselined["baseline"]["version"], 1);
    let future = today.succ_opt().unwrap();
    let refused = api
        .send(
            "PUT",
            "/api/v1/plans/gy-scjg/milestones/handoff",
            json!({ "started_on": future }).to_string(),
        )
        .await;
    check_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("started_on"),
    );
    let (status, updated) = api
        .send(
            "PUT",
            "/api/v1/plans/gy-scjg/milestones/handoff",
            json!({ "started_on": today, "note": "开始联调" }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["milestones"][0]["progress"]["started_on"],
        today.to_string()
    );

    let response = api
        .raw(
            Request::get("/api/v1/plans/gy-scjg/gantt.svg")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "image/svg+xml; charset=utf-8"
    );
    let (status, report) = api.get("/api/v1/plans/gy-scjg/report?format=markdown").await;
    assert_eq!(status, StatusCode::OK);
    assert!(report.as_str().unwrap().contains("申请推送联调"), "{report}");
    check_error(
        api.get("/api/v1/plans/gy-scjg/report?format=pdf").await,
        StatusCode::BAD_REQUEST,
        "invalid_format",
        Some("format"),
    );
    check_error(
        api.get("/api/v1/plans/nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (status, portfolio) = api.get("/api/v1/plans").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(portfolio[0]["system_id"], "gy-scjg");
    assert_eq!(portfolio[0]["rag"], "green");
}

/// Issue 7 (Art. 15): monitoring endpoints answer through the router; a system with no adapter
/// cannot be reconciled and says so.
#[tokio::test]
async fn monitoring_endpoints() {
    let api = Api::new().await;
    api.send("POST", "/api/v1/systems", registration("gy-scjg").to_string())
        .await;
    let (status, sample) = api
        .get("/api/v1/monitoring/gy-scjg/spot-check?date=2026-01-05&seed=7")
        .await;
    assert_eq!(status, StatusCode::OK, "{sample}");
    assert_eq!(sample, json!([]));
    let refused = api
        .get("/api/v1/monitoring/gy-scjg/reconciliation?date=2026-01-05")
        .await;
    check_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "not_configured", None);
    let (status, _) = api
        .get("/api/v1/monitoring/gy-scjg/reconciliation?date=someday")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Issue 20: a body the decoder refuses is answered with the field and the kind of value it
/// refused, never the value itself: here an applicant written as one string holding a name and
/// a resident ID number where an object belongs.
#[tokio::test]
async fn a_refused_value_is_not_echoed_in_clear() {
    let api = Api::new().await;
    let (status, _) = api
        .send("POST", "/api/v1/systems", registration("gy-a").to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut case = serde_json::to_value(common::case("case_application")).unwrap();
    case["applicant"] = json!("张三 52010219900101123X");
    let (status, body) = api
        .send("POST", "/api/v1/systems/gy-a/applications", case.to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        (&body["error"]["code"], &body["error"]["field"]),
        (&json!("invalid_field"), &json!("applicant")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("invalid type: string \"*********************\""),
        "{body}"
    );
    assert!(!message.contains("张三") && !message.contains("5201"), "{body}");
}

/// Issue 19: a client generated from the document talks to the server as it is. Code sets carry
/// their JSON names, query parameters are in the query, every refusal an operation can answer is
/// documented in the error shape, integers carry the range their type takes, and every response
/// has the description OpenAPI requires.
#[tokio::test]
async fn the_openapi_document_is_true_to_the_wire() {
    use ronghe::case::{ApplicantKind, CaseType, CertificateType, Channel, ItemType, ResultCode, StepAction};
    let api = Api::new().await;
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &doc["components"]["schemas"];
    let names = |all: Vec<&str>| json!(all);
    for (schema, wire) in [
        (
            "ApplicantKind",
            names(ApplicantKind::ALL.iter().map(|c| c.name()).collect()),
        ),
        (
            "CaseType",
            names(CaseType::ALL.iter().map(|c| c.name()).collect()),
        ),
        (
            "CertificateType",
            names(CertificateType::ALL.iter().map(|c| c.name()).collect()),
        ),
        ("Channel", names(Channel::ALL.iter().map(|c| c.name()).collect())),
        (
            "ItemType",
            names(ItemType::ALL.iter().map(|c| c.name()).collect()),
        ),
        (
            "ResultCode",
            names(ResultCode::ALL.iter().map(|c| c.name()).collect()),
        ),
        (
            "StepAction",
            names(StepAction::ALL.iter().map(|c| c.name()).collect()),
        ),
    ] {
        assert_eq!(schemas[schema]["enum"], wire, "{schema}");
    }
    assert_eq!(schemas["ApplicantKind"]["enum"][0], "natural_person");

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let at = format!("{method} {path}");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    parameter["in"],
                    if in_path { "path" } else { "query" },
                    "{at} {name}"
                );
            }
            let responses = operation["responses"].as_object().unwrap();
            for (code, response) in responses {
                assert!(
                    response["description"].is_string(),
                    "{at} {code} has no description"
                );
            }
            let signed = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|r| !r.is_empty())));
            if signed {
                for code in ["401", "403"] {
                    assert!(responses.contains_key(code), "{at} does not document {code}");
                }
            }
            if operation["requestBody"]["content"]
                .get("application/json")
                .is_some()
            {
                for code in ["400", "413", "415", "422"] {
                    let response = &responses[code];
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{at} {code}"
                    );
                }
            }
        }
    }
    assert!(operations > 100, "{operations}");

    fn integers_are_bounded(node: &Value, at: &str) {
        match node {
            Value::Object(map) => {
                if map.get("type") == Some(&json!("integer")) {
                    assert!(
                        map.contains_key("maximum") && map.contains_key("minimum"),
                        "{at}: {node}"
                    );
                }
                map.iter()
                    .for_each(|(k, v)| integers_are_bounded(v, &format!("{at}/{k}")));
            }
            Value::Array(items) => items.iter().for_each(|v| integers_are_bounded(v, at)),
            _ => {}
        }
    }
    integers_are_bounded(&doc, "");
    let check = schemas["Check"]["oneOf"].as_array().unwrap();
    assert!(
        check.iter().all(|v| v["additionalProperties"] == json!(false)),
        "{check:?}"
    );
    assert!(
        schemas["PlanSummary"]["properties"]["late"]["items"]["maxItems"] == json!(2),
        "{}",
        schemas["PlanSummary"]
    );
}

/// Issue 19: what an extractor refuses — a query or path parameter, a value its type's parser
/// refuses — answers in the JSON error shape, naming the field; an integral number written as
/// `30.0` is the integer JSON Schema says it is.
#[tokio::test]
async fn extractor_refusals_answer_in_the_error_shape() {
    let api = Api::new().await;
    check_error(
        api.get("/api/v1/bridge/links?history=x").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("history"),
    );
    check_error(
        api.get("/api/v1/monitoring/visits").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("month"),
    );
    check_error(
        api.get("/api/v1/quality?limit=99999999999999999999").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("limit"),
    );
    check_error(
        api.get("/api/v1/assessments/rubrics/any/99999999999999999999")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
        Some("version"),
    );
    check_error(
        api.get("/api/v1/notifications?limit=5000").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("limit"),
    );
    // A scope of the right shape naming no division: the value breaks a rule, 422.
    api.expert("someone").await;
    check_error(
        api.send(
            "POST",
            "/api/v1/accounts/someone/grants",
            json!({"role": "operator", "scope": "region:999999", "reason": "x"}).to_string(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
        Some("scope"),
    );
    let (status, token) = api
        .send(
            "POST",
            "/api/v1/me/tokens",
            json!({"name": "ci", "days": 30.0}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    check_error(
        api.send(
            "POST",
            "/api/v1/me/tokens",
            json!({"name": "ci", "days": 30.5}).to_string(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("days"),
    );
}

/// An administrator does not change their own roles or enrolment: another administrator does
/// (and no one locks themselves out).
#[tokio::test]
async fn administrators_do_not_act_on_their_own_account() {
    let api = Api::new().await;
    let grant = json!({"role": "operator", "scope": "region:520100", "reason": "x"});
    check_error(
        api.send("POST", "/api/v1/accounts/tester/grants", grant.to_string())
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    check_error(
        api.send(
            "POST",
            "/api/v1/accounts/tester/grants/revoke",
            json!({"grant": 1, "reason": "x"}).to_string(),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    check_error(
        api.send("POST", "/api/v1/accounts/tester/enrolment", "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    let (status, me) = api.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    // Another account is acted on as before.
    api.expert("wang").await;
    let (status, body) = api
        .send("POST", "/api/v1/accounts/wang/grants", grant.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// `GET /api/v1/systems/{id}/cases`: a system's newest cases, masked and audited; for the
/// system's readers only.
#[tokio::test]
async fn a_systems_newest_cases_are_listed_masked() {
    let api = Api::new().await;
    api.store
        .insert_system(&common::system("sys"), "test")
        .await
        .unwrap();
    let cases: Vec<_> = ["case_finished", "case_application"]
        .into_iter()
        .map(common::case)
        .collect();
    api.store.upsert_cases("sys", &cases).await.unwrap();

    let (status, listed) = api.get("/api/v1/systems/sys/cases?limit=5").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed.as_array().unwrap();
    let mut numbers: Vec<_> = listed
        .iter()
        .map(|r| r["case"]["case_no"].as_str().unwrap())
        .collect();
    numbers.sort_unstable();
    let mut expected: Vec<_> = cases.iter().map(|c| c.case_no.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(numbers, expected);
    for case in &cases {
        let record = listed
            .iter()
            .find(|r| r["case"]["case_no"] == case.case_no.as_str())
            .unwrap();
        assert_eq!(record["case"], serde_json::to_value(case.masked()).unwrap());
    }
    let (_, first) = api.get("/api/v1/systems/sys/cases?limit=1").await;
    assert_eq!(first.as_array().map(Vec::len), Some(1));
    let ronghe::store::Pool::Sqlite(pool) = api.store.pool() else {
        unreachable!("sqlite store")
    };
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_events WHERE target = 'sys'")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(
        actions.iter().filter(|a| *a == "case.list").count() >= 2,
        "{actions:?}"
    );

    check_error(
        api.get("/api/v1/systems/sys/cases?limit=0").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("limit"),
    );
    check_error(
        api.get("/api/v1/systems/nope/cases").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (status, body) = api.send_as("wang", "GET", "/api/v1/systems/sys/cases", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

/// Issue 19: names and departments reach operators' terminals (`systems show`): control
/// characters and ANSI escapes are refused, naming the field and the rule.
#[tokio::test]
async fn registry_texts_refuse_control_characters() {
    let api = Api::new().await;
    let mut body = registration("gy-ansi");
    body["name"] = json!("许可系统\u{1b}[2J\u{1b}[31m");
    body["department"] = json!("市场监管局\u{7}");
    let (status, answer) = api.send("POST", "/api/v1/systems", body.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let issues: Vec<(&str, &str)> = answer["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["field"].as_str().unwrap(), i["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        issues,
        [("name", "control_character"), ("department", "control_character")]
    );
    check_error(
        api.get("/api/v1/systems/gy-ansi").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (status, created) = api
        .send("POST", "/api/v1/systems", registration("gy-ansi").to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, answer) = api
        .send(
            "PATCH",
            "/api/v1/systems/gy-ansi",
            json!({"name": "新名称\r\n伪造的一行"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "name", "{answer}");
}
