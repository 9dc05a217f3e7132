//! Return visits (办件回访, Art. 15, issue 21) through the real entry points: the binary draws a
//! month's plan reproducibly, lists the applicants to call masked unless unmasked for a stated
//! purpose, records outcomes (a finding opens a correction request due in 10 working days) and
//! reports the month; the API refuses callers without the role or out of scope and serves
//! those in scope. The store's behaviour on both backends is in `tests/store_suite/visits.rs`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use ronghe::calendar::Calendar;
use ronghe::case::Case;
use ronghe::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use common::binary::Sandbox;

const PHONE: &str = "13812345678";

/// `count` finished cases of one item, numbered `prefix-NN`, finished in November 2025.
fn finished(prefix: &str, count: usize) -> Vec<Case> {
    (0..count)
        .map(|i| {
            let mut c = common::case("case_finished");
            c.case_no = format!("{prefix}-{i:02}");
            c
        })
        .collect()
}

fn sandbox_with_cases() -> (Sandbox, String, Calendar) {
    let sandbox = Sandbox::new();
    let (config, calendar) = sandbox.plain_calendar_config("[visits]\nsample_size_per_month = 3\n");
    sandbox.add_system("gy-a", "http://127.0.0.1:9/api");
    let lines: String = finished("SC-2025-1", 8)
        .iter()
        .map(|c| format!("{}\n", serde_json::to_string(c).unwrap()))
        .collect();
    let file = sandbox.write("cases.jsonl", lines);
    sandbox.run(&["cases", "import", "gy-a", &file]).check(0, &[]);
    (sandbox, config, calendar)
}

#[test]
fn return_visits_through_the_cli() {
    let (sandbox, config, calendar) = sandbox_with_cases();
    let run = |args: &[&str]| sandbox.run_configured(&config, args);
    let plan = |sandbox: &Sandbox| {
        let sample: Vec<String> = sandbox
            .run_configured(
                &config,
                &["--json", "visits", "plan", "--month", "2025-11", "--seed", "9"],
            )
            .check(0, &[])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["case_no"].as_str().unwrap().to_owned())
            .collect();
        sample
    };
    let first = plan(&sandbox);
    assert_eq!(first.len(), 3, "[visits] sample_size_per_month: {first:?}");
    // The same cases and seed elsewhere give the same sample.
    let (elsewhere, _, _) = sandbox_with_cases();
    assert_eq!(plan(&elsewhere), first, "reproducible");
    run(&["visits", "plan", "--month", "2025-11", "--system", "gy-a"])
        .check(1, &[])
        .stderr_has(&["2025-11 already has a return-visit plan for gy-a"]);
    run(&["visits", "plan", "--month", "2025-13"]).check(2, &[]);

    // The applicant's phone is masked unless unmasked for a purpose, which is audited.
    let listed = run(&["visits", "list", "--month", "2025-11"]).check(0, &[&first[0], "待回访"]);
    assert!(!listed.stdout.contains(PHONE), "{listed}");
    run(&[
        "visits",
        "list",
        "--month",
        "2025-11",
        "--unmask",
        "--purpose",
        "办件回访致电申请人",
    ])
    .check(0, &[PHONE]);
    run(&["visits", "list", "--month", "2025-11", "--unmask"]).check(2, &[]);

    // Reached without a rating: refused, naming the field and what to do.
    run(&[
        "visits",
        "record",
        "1",
        "--reached",
        "yes",
        "--handled",
        "yes",
        "--note",
        "已接通",
    ])
    .check(1, &[])
    .stderr_has(&["satisfaction (required)", "非常满意"]);
    run(&[
        "visits",
        "record",
        "1",
        "--reached",
        "yes",
        "--attempts",
        "2",
        "--handled",
        "no",
        "--satisfaction",
        "不满意",
        "--note",
        "申请人称未收到决定书",
        "--finding",
        "决定书送达记录与申请人陈述不符",
    ])
    .check(0, &["已联系", "不满意", "已提出校核申请 correction request 1"]);
    let correction = run(&["--json", "corrections", "show", "1"]).check(0, &[]).json();
    let due = ronghe::corrections::due_on(&calendar, Utc::now()).unwrap();
    assert_eq!(correction["due_on"], due.to_string(), "{correction}");
    assert_eq!(correction["case_no"], first[0].as_str());
    run(&["visits", "record", "1", "--reached", "no", "--note", "x"])
        .check(1, &[])
        .stderr_has(&["its outcome is final"]);
    run(&[
        "visits",
        "record",
        "2",
        "--reached",
        "no",
        "--attempts",
        "3",
        "--note",
        "无人接听",
    ])
    .check(0, &["未联系上"]);

    let report = run(&["--json", "visits", "report", "--month", "2025-11"])
        .check(0, &[])
        .json();
    assert_eq!(report["total"]["planned"], 3, "{report}");
    assert_eq!(report["total"]["recorded"], 2);
    assert_eq!(report["total"]["reach_rate"], 0.5);
    assert_eq!(report["total"]["satisfaction"], json!([0, 0, 0, 1, 0]));
    assert_eq!(report["total"]["findings"], 1);
    run(&["visits", "report", "--month", "2025-11"]).check(0, &["合计 total", "50.0%", "不满意"]);
}

/// The scheduler's `visits` job plans the previous month on the month's first working day only
/// (Monday 1 December 2025 is one), and a second run finds every system planned.
#[test]
fn the_scheduler_plans_the_previous_month_on_its_first_working_day() {
    let (sandbox, config, _) = sandbox_with_cases();
    let run = |args: &[&str]| sandbox.run_configured(&config, args);
    run(&["scheduler", "run", "visits", "--once", "--date", "2025-12-02"]).check(
        0,
        &["2025-12-02 is not 2025-12's first working day (2025-12-01): no plan"],
    );
    run(&["visits", "list", "--month", "2025-11"]).check(0, &["(无 none)"]);
    run(&["scheduler", "run", "visits", "--once", "--date", "2025-12-01"])
        .check(0, &["planned 3 return visits of 2025-11"]);
    let planned = run(&["--json", "visits", "list", "--month", "2025-11"])
        .check(0, &[])
        .json();
    assert_eq!(planned.as_array().unwrap().len(), 3, "{planned}");
    assert!(
        planned[0]["planned_by"]
            .as_str()
            .unwrap()
            .starts_with("scheduler"),
        "{planned}"
    );
    run(&["scheduler", "run", "visits", "--once", "--date", "2025-12-01"])
        .check(0, &["planned 0 return visits of 2025-11"]);
}

struct Api {
    router: axum::Router,
    store: Store,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_visits_through_the_api_in_scope_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    for (id, region) in [("gy-a", "520100"), ("zy-a", "520300")] {
        let mut new = common::new_system(id);
        new.region_code = region.to_owned();
        store
            .insert_system(&new.validate(Utc::now()).unwrap(), "test")
            .await
            .unwrap();
        store
            .upsert_cases(id, &finished(&format!("SC-{id}"), 4))
            .await
            .unwrap();
    }
    let mut state = common::app_state(store.clone());
    let years = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(years.path(), common::plain_years_toml()).unwrap();
    state.calendar = std::sync::Arc::new(Calendar::load(Some(years.path())).unwrap());
    let api = Api {
        router: ronghe::server::app(state, 64 * 1024),
        store,
        _dir: dir,
    };
    let gy = common::staff_token(&api.store, "op-gy", &["operator@region:520100"]).await;
    let zy = common::staff_token(&api.store, "op-zy", &["operator@region:520300"]).await;
    let engineer = common::staff_token(&api.store, "eng", &["engineer@province"]).await;
    let admin = common::staff_token(&api.store, "admin", &["platform_admin@province"]).await;
    let plan = |system: Option<&str>| json!({ "month": "2025-11", "system": system, "size": 2, "seed": 3 });

    let code = |answer: &(StatusCode, Value)| answer.1["error"]["code"].as_str().unwrap_or("").to_owned();
    let refused = api
        .call(
            &engineer,
            "POST",
            "/api/v1/monitoring/visits",
            Some(plan(Some("gy-a"))),
        )
        .await;
    assert_eq!(
        (refused.0, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden".to_owned())
    );
    let refused = api
        .call(&gy, "POST", "/api/v1/monitoring/visits", Some(plan(Some("zy-a"))))
        .await;
    assert_eq!(
        (refused.0, code(&refused)),
        (StatusCode::FORBIDDEN, "out_of_scope".to_owned())
    );
    let refused = api
        .call(&gy, "POST", "/api/v1/monitoring/visits", Some(plan(None)))
        .await;
    assert_eq!(
        (refused.0, code(&refused)),
        (StatusCode::UNPROCESSABLE_ENTITY, "system_required".to_owned())
    );

    let (status, planned) = api
        .call(&gy, "POST", "/api/v1/monitoring/visits", Some(plan(Some("gy-a"))))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{planned}");
    assert_eq!(planned.as_array().unwrap().len(), 2);
    // Every system left: zy-a only, gy-a has its plan.
    let (status, rest) = api
        .call(&admin, "POST", "/api/v1/monitoring/visits", Some(plan(None)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rest}");
    assert!(
        rest.as_array().unwrap().iter().all(|v| v["system_id"] == "zy-a"),
        "{rest}"
    );

    let (status, listed) = api
        .call(&gy, "GET", "/api/v1/monitoring/visits?month=2025-11", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "only the caller's systems");
    assert!(listed.iter().all(|v| v["system_id"] == "gy-a"));
    assert!(!listed[0].to_string().contains(PHONE), "masked: {}", listed[0]);

    let id = listed[0]["id"].as_i64().unwrap();
    let outcome = json!({
        "reached": true, "attempts": 1, "handled_as_recorded": false,
        "satisfaction": "dissatisfied", "note": "申请人称未收到证照", "finding": "证照送达记录有误",
    });
    let path = format!("/api/v1/monitoring/visits/{id}/outcome");
    let refused = api.call(&zy, "POST", &path, Some(outcome.clone())).await;
    assert_eq!(
        (refused.0, code(&refused)),
        (StatusCode::FORBIDDEN, "out_of_scope".to_owned())
    );
    let (status, visit) = api.call(&gy, "POST", &path, Some(outcome.clone())).await;
    assert_eq!(status, StatusCode::OK, "{visit}");
    let correction = api
        .store
        .correction(visit["correction_id"].as_i64().unwrap())
        .await
        .unwrap();
    let today = ronghe::calendar::today();
    let calendar = Calendar::load(Some(years.path())).unwrap();
    assert_eq!(
        calendar.working_days_between(today, correction.due_on).unwrap(),
        10
    );
    let again = api.call(&gy, "POST", &path, Some(outcome)).await;
    assert_eq!(
        (again.0, code(&again)),
        (StatusCode::CONFLICT, "visit_state_conflict".to_owned())
    );

    let (status, report) = api
        .call(&zy, "GET", "/api/v1/monitoring/visits/report?month=2025-11", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["total"]["planned"], 2, "zy-a's only: {report}");
    assert_eq!(report["total"]["recorded"], 0);
    let (_, report) = api
        .call(
            &admin,
            "GET",
            "/api/v1/monitoring/visits/report?month=2025-11",
            None,
        )
        .await;
    assert_eq!(report["total"]["planned"], 4);
    assert_eq!(report["total"]["findings"], 1);
}
