//! The HTTP API through the real router (`app(state).oneshot(request)`) on SQLite: every
//! endpoint's happy path and the error shape for bad input.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use ronghe::server::{AppState, Metrics, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const MAX_BODY: usize = 64 * 1024;

struct Api {
    router: axum::Router,
    store: ronghe::store::Store,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = common::sqlite_store(&dir).await;
        let router = app(
            AppState {
                store: store.clone(),
                metrics: Metrics::new(),
                bridge: None,
            },
            MAX_BODY,
        );
        Api {
            router,
            store,
            _dir: dir,
        }
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
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
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-ronghe-actor", "tester")
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
    let bad_actor = Request::get("/api/v1/systems/gy-a/cases/x")
        .header("x-ronghe-actor", " ")
        .body(Body::empty())
        .unwrap();
    check_error(
        api.call(bad_actor).await,
        StatusCode::BAD_REQUEST,
        "invalid_actor",
        Some("X-Ronghe-Actor"),
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
    assert_eq!(
        record["case"]["applicant"]["certificate_no"],
        case.applicant.certificate_no
    );
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

    let ronghe::store::Store::Sqlite(pool) = &api.store else {
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
            ("anonymous".into(), "case.read".into()),
            ("anonymous".into(), "case.read_history".into())
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
