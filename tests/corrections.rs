//! Correction requests (Art. 28 校核纠错, issue 6 part 5): raised from a data-quality item or a
//! stored case, due in 10 working days by the embedded calendar, answered, closed or withdrawn;
//! the overdue ones listed. Through the router on SQLite, the store on both backends, and the
//! real binary.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, NaiveDate, Utc};
use http_body_util::BodyExt;
use ronghe::calendar::Calendar;
use ronghe::corrections::{self, Action, CorrectionError, Source, Status};
use ronghe::server::app;
use ronghe::store::{CorrectionFilter, Guarded, Pool, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

use common::binary::Sandbox;

const SYSTEM: &str = "gy-scjg";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Puts a refused record in the data-quality queue with plain SQL (the queue is another
/// module's) and returns its id.
async fn quality_item(store: &Store, case_no: &str) -> i64 {
    const SQL: &str = "INSERT INTO quality_items (system_id, case_no, version, channel, record_hash, record, reasons, received_at, status)
         VALUES ($1, $2, 1, 'json', $3, $4, $5, $6, 'open') RETURNING id";
    let record = json!({ "caseNo": case_no });
    let reasons = json!([{
        "code": "canonical", "field": "applicant.certificate_no",
        "message": "resident_id.check_digit: the check digit does not match"
    }]);
    let hash = format!("hash-{case_no}");
    let (id,): (i64,) = match store.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_as(SQL)
                .bind(SYSTEM)
                .bind(case_no)
                .bind(&hash)
                .bind(record.to_string())
                .bind(reasons.to_string())
                .bind(Utc::now())
                .fetch_one(pool)
                .await
        }
        Pool::Postgres(pool) => {
            sqlx::query_as(SQL)
                .bind(SYSTEM)
                .bind(case_no)
                .bind(&hash)
                .bind(sqlx::types::Json(&record))
                .bind(sqlx::types::Json(&reasons))
                .bind(Utc::now())
                .fetch_one(pool)
                .await
        }
    }
    .expect("insert a data-quality item");
    id
}

async fn count(store: &Store) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM corrections";
    let (n,): (i64,) = match store.pool() {
        Pool::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await,
        Pool::Postgres(pool) => sqlx::query_as(SQL).fetch_one(pool).await,
    }
    .unwrap();
    n
}

async fn with_system_and_case(store: &Store) -> String {
    store
        .insert_system(&common::system(SYSTEM), "test")
        .await
        .unwrap();
    let case = common::case("case_application");
    store
        .upsert_cases(SYSTEM, std::slice::from_ref(&case))
        .await
        .unwrap();
    case.case_no
}

/// The store's behaviour, on either backend: due dates from an injected `now`, the source
/// checks, the state machine under the lock, the overdue filter and the audit trail.
async fn store_behaviour(store: Store) {
    let case_no = with_system_and_case(&store).await;
    let calendar = Calendar::embedded();
    // Friday 2025-09-26 in Beijing, before the National Day holiday (10-01..10-08; Sunday 09-28
    // and Saturday 10-11 worked): the day itself does not count, so the due date is 10-16.
    let raised_at = at("2025-09-26T02:00:00Z");
    let due = corrections::due_on(calendar, raised_at).unwrap();
    assert_eq!(due, date("2025-10-16"));

    let item = quality_item(&store, "SC-BAD-1").await;
    let from_item = store
        .raise_correction(
            &Source::QualityItem(item),
            "证件号码校验位错误",
            due,
            "alice",
            raised_at,
        )
        .await
        .unwrap();
    assert_eq!(from_item.system_id, SYSTEM);
    assert_eq!(from_item.quality_item_id, Some(item));
    assert_eq!(from_item.case_no.as_deref(), Some("SC-BAD-1"));
    assert_eq!(from_item.department, "贵阳市市场监督管理局");
    assert_eq!(from_item.status, Status::Open);
    assert_eq!(from_item.due_on, due);
    assert_eq!(from_item.raised_at, raised_at);

    let source = Source::Case {
        system_id: SYSTEM.into(),
        case_no: case_no.clone(),
    };
    let from_case = store
        .raise_correction(&source, "申请人姓名与证件不符", due, "bob", raised_at)
        .await
        .unwrap();
    assert_eq!(from_case.quality_item_id, None);
    assert_eq!(from_case.case_no.as_deref(), Some(case_no.as_str()));

    for (source, field) in [
        (Source::QualityItem(9999), "quality_item"),
        (
            Source::Case {
                system_id: SYSTEM.into(),
                case_no: "NO-SUCH".into(),
            },
            "case",
        ),
    ] {
        let err = store
            .raise_correction(&source, "x", due, "bob", raised_at)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Guarded::Refused(CorrectionError::UnknownSource { field: f, .. }) if f == field),
            "{err:?}"
        );
    }
    assert_eq!(count(&store).await, 2, "a refused request writes nothing");

    // Overdue on Friday 10-17 (one working day), not on the due date itself.
    let overdue = |today: &str| CorrectionFilter {
        open_due_before: Some(date(today)),
        ..Default::default()
    };
    assert!(
        store
            .list_corrections(&overdue("2025-10-16"))
            .await
            .unwrap()
            .is_empty()
    );
    let late = store.list_corrections(&overdue("2025-10-17")).await.unwrap();
    assert_eq!(late.len(), 2);
    assert_eq!(
        late[0]
            .working_days_overdue(calendar, date("2025-10-17"))
            .unwrap(),
        1
    );

    let now = at("2025-10-20T03:00:00Z");
    let answered = store
        .act_on_correction(
            from_case.id,
            &Action::Answer {
                answer: "已核实更正".into(),
            },
            "dept",
            now,
        )
        .await
        .unwrap();
    assert_eq!(answered.status, Status::Answered);
    assert_eq!(answered.answered_at, Some(now));
    assert_eq!(
        store
            .list_corrections(&overdue("2025-10-21"))
            .await
            .unwrap()
            .len(),
        1
    );
    let closed = store
        .act_on_correction(from_case.id, &Action::Close, "bob", now)
        .await
        .unwrap();
    assert_eq!(closed.status, Status::Closed);
    let err = store
        .act_on_correction(
            from_case.id,
            &Action::Answer {
                answer: "再次".into(),
            },
            "dept",
            now,
        )
        .await
        .unwrap_err();
    let Guarded::Refused(err) = err else {
        panic!("a refusal, not a store failure: {err:?}")
    };
    assert_eq!(err.code(), "correction_state_conflict", "{err}");
    assert_eq!(
        store.correction(from_case.id).await.unwrap(),
        closed,
        "a refusal changes nothing"
    );
    let withdrawn = store
        .act_on_correction(from_item.id, &Action::Withdraw, "alice", now)
        .await
        .unwrap();
    assert_eq!(withdrawn.status, Status::Withdrawn);
    assert!(matches!(
        store
            .act_on_correction(4242, &Action::Close, "x", now)
            .await
            .unwrap_err(),
        Guarded::Refused(CorrectionError::NotFound(4242))
    ));

    let by_status = CorrectionFilter {
        status: Some(Status::Closed),
        system_id: Some(SYSTEM.into()),
        ..Default::default()
    };
    let listed = store.list_corrections(&by_status).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![from_case.id]
    );

    let trail = common::audit_trail(&store, &format!("correction/{}", from_case.id)).await;
    let expected = [
        ("bob", "correction.raise"),
        ("dept", "correction.answer"),
        ("bob", "correction.close"),
    ];
    assert_eq!(
        trail,
        expected.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec()
    );
}

#[tokio::test]
async fn store_behaviour_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    store_behaviour(common::sqlite_store(&dir).await).await;
}

#[cfg(feature = "postgres-tests")]
#[tokio::test]
async fn store_behaviour_on_postgres() {
    store_behaviour(common::pg_store().await).await;
}

/// The embedded calendar with `common::plain_years_toml` added, so that requests raised today
/// have a due date after the last embedded year too.
fn calendar_through_next_year() -> Calendar {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), common::plain_years_toml()).unwrap();
    Calendar::load(Some(file.path())).unwrap()
}

struct Api {
    router: axum::Router,
    store: Store,
    _dir: tempfile::TempDir,
    /// A province-wide administrator's token (`tester`).
    token: String,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = common::sqlite_store(&dir).await;
        let mut state = common::app_state(store.clone());
        state.calendar = std::sync::Arc::new(calendar_through_next_year());
        let router = app(state, 64 * 1024);
        Api {
            token: common::admin_token(&store).await,
            router,
            store,
            _dir: dir,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
    if let Some(field) = field {
        assert_eq!(answer.1["error"]["field"], field, "{}", answer.1);
    }
}

#[tokio::test]
async fn corrections_through_the_api() {
    let api = Api::new().await;
    let case_no = with_system_and_case(&api.store).await;
    let item = quality_item(&api.store, "SC-BAD-2").await;
    let expected_due = corrections::due_on(&calendar_through_next_year(), Utc::now()).unwrap();

    let (status, raised) = api
        .call(
            "POST",
            "/api/v1/corrections",
            Some(json!({ "quality_item": item, "reason": "证件号码有误" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{raised}");
    assert_eq!(raised["system_id"], SYSTEM);
    assert_eq!(raised["case_no"], "SC-BAD-2");
    assert_eq!(raised["department"], "贵阳市市场监督管理局");
    assert_eq!(raised["status"], "open");
    assert_eq!(raised["raised_by"], "tester");
    assert_eq!(raised["due_on"], expected_due.to_string());
    assert_eq!(raised["working_days_overdue"], 0);
    let id = raised["id"].as_i64().unwrap();

    let (status, from_case) = api
        .call(
            "POST",
            "/api/v1/corrections",
            Some(json!({ "case": { "system": SYSTEM, "case_no": case_no }, "reason": "办理结果与实际不符" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{from_case}");
    assert_eq!(from_case["quality_item_id"], Value::Null);

    // Bad input: a clear error naming the field, and nothing written.
    let before = count(&api.store).await;
    let refused = [
        (
            json!({ "quality_item": 777, "reason": "x" }),
            StatusCode::NOT_FOUND,
            "not_found",
            "quality_item",
        ),
        (
            json!({ "case": { "system": SYSTEM, "case_no": "NOPE" }, "reason": "x" }),
            StatusCode::NOT_FOUND,
            "not_found",
            "case",
        ),
        (
            json!({ "reason": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "quality_item",
        ),
        (
            json!({ "quality_item": item, "reason": "  " }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "reason",
        ),
        (
            json!({ "quality_item": item, "case": { "system": SYSTEM, "case_no": case_no }, "reason": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "case",
        ),
        (
            json!({ "quality_item": item }),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            ".",
        ),
    ];
    for (body, status, code, field) in refused {
        let answer = api.call("POST", "/api/v1/corrections", Some(body.clone())).await;
        let field = (field != ".").then_some(field);
        assert_error(&answer, status, code, field);
    }
    assert_eq!(count(&api.store).await, before);

    // An old request, raised with an injected time, is overdue today; the new ones are not.
    let raised_at = at("2025-09-26T02:00:00Z");
    let old = api
        .store
        .raise_correction(
            &Source::QualityItem(item),
            "旧的申请",
            corrections::due_on(Calendar::embedded(), raised_at).unwrap(),
            "alice",
            raised_at,
        )
        .await
        .unwrap();
    let (status, overdue) = api.call("GET", "/api/v1/corrections?overdue=true", None).await;
    assert_eq!(status, StatusCode::OK);
    let overdue = overdue.as_array().unwrap();
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(overdue[0]["id"], old.id);
    assert!(overdue[0]["working_days_overdue"].as_i64().unwrap() > 200);
    let (_, as_of) = api
        .call("GET", "/api/v1/corrections?overdue=true&as_of=2025-10-20", None)
        .await;
    assert_eq!(
        as_of[0]["working_days_overdue"], 2,
        "10-17 and 10-20 are working days: {as_of}"
    );
    let (_, all) = api
        .call(
            "GET",
            &format!("/api/v1/corrections?system={SYSTEM}&status=open"),
            None,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_error(
        &api.call("GET", "/api/v1/corrections?status=lost", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("status"),
    );

    // The state machine, and its refusals with a clear code.
    let path = |action: &str| format!("/api/v1/corrections/{id}/{action}");
    assert_error(
        &api.call("POST", &path("close"), None).await,
        StatusCode::CONFLICT,
        "correction_state_conflict",
        None,
    );
    let (status, answered) = api
        .call(
            "POST",
            &path("answer"),
            Some(json!({ "answer": "已核实并更正证件号码" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["status"], "answered");
    assert_eq!(answered["answered_by"], "tester");
    let (status, closed) = api.call("POST", &path("close"), None).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed");
    let refused = api
        .call("POST", &path("answer"), Some(json!({ "answer": "again" })))
        .await;
    assert_error(&refused, StatusCode::CONFLICT, "correction_state_conflict", None);
    assert!(
        refused.1["error"]["message"].as_str().unwrap().contains("closed"),
        "{}",
        refused.1
    );
    assert_error(
        &api.call("POST", &path("withdraw"), None).await,
        StatusCode::CONFLICT,
        "correction_state_conflict",
        None,
    );
    let (_, shown) = api.call("GET", &format!("/api/v1/corrections/{id}"), None).await;
    assert_eq!(shown["status"], "closed");
    assert_eq!(shown["answer"], "已核实并更正证件号码");
    assert_error(
        &api.call("GET", "/api/v1/corrections/999", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (_, openapi) = api.call("GET", "/api/v1/openapi.json", None).await;
    for path in [
        "/api/v1/corrections",
        "/api/v1/corrections/{id}/answer",
        "/api/v1/systems/{id}/applications",
        "/api/v1/systems/{id}/applications/{case_no}",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
    let withdraw = format!("/api/v1/corrections/{}/withdraw", from_case["id"]);
    let (status, withdrawn) = api.call("POST", &withdraw, None).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["status"], "withdrawn");
}

#[test]
fn corrections_through_the_cli() {
    let sandbox = Sandbox::new();
    let (config, calendar) = sandbox.plain_calendar_config("");
    let run = |args: &[&str]| sandbox.run_configured(&config, args);
    sandbox.add_system(SYSTEM, "http://127.0.0.1:9/api");
    let case = common::case("case_application");
    let line = serde_json::to_string(&case).unwrap();
    let file = sandbox.write("cases.jsonl", format!("{line}\n"));
    sandbox.run(&["cases", "import", SYSTEM, &file]).check(0, &[]);

    let target = format!("{SYSTEM}/{}", case.case_no);
    let raised = run(&[
        "corrections",
        "raise",
        "--case",
        &target,
        "--reason",
        "申请人姓名有误",
    ])
    .check(0, &["已提出校核申请", "到期日"]);
    let due = corrections::due_on(&calendar, Utc::now()).unwrap();
    assert!(raised.stdout.contains(&due.to_string()), "{raised}");
    let json = run(&["--json", "corrections", "show", "1"]).check(0, &[]).json();
    assert_eq!(json["status"], "open");
    // Issue 14: the command line acts as the host administrator, never a claimed name.
    assert!(
        json["raised_by"]
            .as_str()
            .is_some_and(|by| by.starts_with("host:")),
        "{json}"
    );

    run(&["corrections", "raise", "--quality", "12", "--reason", "x"])
        .check(1, &[])
        .stderr_has(&["data-quality item 12 not found"]);
    run(&["corrections", "raise", "--case", "no-slash", "--reason", "x"])
        .check(1, &[])
        .stderr_has(&["SYSTEM/CASE_NO"]);

    // Three working days after the due date.
    let later = calendar.add_working_days(due, 3).unwrap().to_string();
    run(&["corrections", "list", "--overdue", "--as-of", &later]).check(0, &["已逾期 3 个工作日", "待核实"]);
    run(&["corrections", "list", "--overdue"]).check(0, &["(无 none)"]);

    run(&["corrections", "answer", "1", "--answer", "已更正"]).check(0, &["已反馈"]);
    run(&["corrections", "close", "1"]).check(0, &["已办结"]);
    run(&["corrections", "answer", "1", "--answer", "again"])
        .check(1, &[])
        .stderr_has(&["correction request 1 is closed: it cannot be answered"]);
    run(&["corrections", "list", "--status", "closed"]).check(0, &["已办结 closed"]);
}
