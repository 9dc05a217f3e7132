//! The scheduler (issue 7): reminders on correction-request deadlines, then an escalation after
//! repeated reminders (Art. 33), delivered to a real webhook on loopback, queued while it is
//! down; through the real binary (`ronghe scheduler run`, `ronghe notifications list`) and the
//! router (`GET /api/v1/notifications`). On PostgreSQL (feature `postgres-tests`): two
//! schedulers sharing one database run each tick once.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, Utc};
use common::binary::Sandbox;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

const SYSTEM: &str = "gy-scjg";

/// Registers the system, imports one case and raises a correction request on it, with `config`.
fn one_open_correction(sandbox: &Sandbox, config: &str) {
    sandbox.add_system(SYSTEM, "http://127.0.0.1:9/api");
    let case = common::case("case_application");
    let line = serde_json::to_string(&case).unwrap();
    let file = sandbox.write("cases.jsonl", format!("{line}\n"));
    sandbox.run(&["cases", "import", SYSTEM, &file]).check(0, &[]);
    let target = format!("{SYSTEM}/{}", case.case_no);
    sandbox
        .run_configured(
            config,
            &[
                "corrections",
                "raise",
                "--case",
                &target,
                "--reason",
                "申请人姓名有误",
            ],
        )
        .check(0, &[]);
}

/// A webhook receiver on loopback: `/notify` and `/escalate` record what they get while `up`,
/// and answer 503 while not. With a `secret`, a request whose `X-Ronghe-*` signature (HMAC-SHA256,
/// the write-back scheme) does not verify is answered 401 and not recorded.
struct Hook {
    base: String,
    up: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

async fn hook(secret: Option<&'static str>) -> Hook {
    use ronghe_adapters::signing::{self, SignedParts};
    use ronghe_crypto::MacAlgorithm;
    let up = Arc::new(AtomicBool::new(false));
    let received: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let (u, r) = (up.clone(), received.clone());
    let app = axum::Router::new().route(
        "/{path}",
        axum::routing::post(
            move |axum::extract::Path(path): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let (up, received) = (u.clone(), r.clone());
                async move {
                    if !up.load(Ordering::SeqCst) {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    if let Some(secret) = secret {
                        let header =
                            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
                        let parts = SignedParts {
                            method: "POST",
                            path: &format!("/{path}"),
                            timestamp: header(signing::TIMESTAMP),
                            nonce: header(signing::NONCE),
                            signature: header(signing::SIGNATURE),
                        };
                        if header(signing::KEY_ID) != "ronghe"
                            || !signing::verify(MacAlgorithm::HmacSha256, secret.as_bytes(), &parts, &body)
                        {
                            return StatusCode::UNAUTHORIZED;
                        }
                    }
                    received
                        .lock()
                        .unwrap()
                        .push((path, serde_json::from_slice(&body).unwrap()));
                    StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Hook { base, up, received }
}

#[tokio::test(flavor = "multi_thread")]
async fn overdue_requests_are_reminded_then_escalated_and_delivered_once_the_webhook_is_back() {
    // The webhook takes only requests signed with its secret.
    const SECRET: &str = "webhook-secret-for-tests";
    let hook = hook(Some(SECRET)).await;
    let sandbox = Sandbox::new();
    let secret = sandbox.write("webhook.secret", SECRET);
    let (config, calendar) = sandbox.plain_calendar_config(&format!(
        "[scheduler]\nwebhook_url = \"{}/notify\"\nescalation_webhook_url = \"{}/escalate\"\n\
         escalate_after_reminders = 3\nretry_base_seconds = 1\nwebhook_secret = \"file:{secret}\"\n",
        hook.base, hook.base
    ));
    let run = |args: &[&str]| sandbox.run_configured(&config, args);
    one_open_correction(&sandbox, &config);
    let due = ronghe::corrections::due_on(&calendar, Utc::now()).unwrap();

    let jobs = run(&["--json", "scheduler", "jobs"]).check(0, &[]).json();
    let names: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["plans", "corrections", "reconcile", "checks", "visits", "deliver"],
        "{jobs}"
    );
    assert!(
        jobs["jobs"][1]["next_run"].as_str().unwrap().ends_with("+08:00"),
        "{jobs}"
    );

    let corrections_on = |day: NaiveDate| {
        run(&[
            "--json",
            "scheduler",
            "run",
            "corrections",
            "--once",
            "--date",
            &day.to_string(),
        ])
        .check(0, &[])
        .json()[0]["notifications"]
            .as_u64()
            .unwrap()
    };
    let deliver = || run(&["--json", "scheduler", "run", "deliver", "--once"]).check(0, &[]);
    // Due today: a reminder; the webhook is down, so it stays queued with the error.
    assert_eq!(corrections_on(due), 1);
    deliver();
    let queued = run(&["--json", "notifications", "list", "--state", "queued"])
        .check(0, &[])
        .json();
    assert_eq!(queued.as_array().unwrap().len(), 1, "{queued}");
    assert_eq!(queued[0]["topic"], "due_soon");
    assert_eq!(queued[0]["attempts"], 1);
    assert!(
        queued[0]["last_error"].as_str().unwrap().contains("503"),
        "{queued}"
    );
    assert!(hook.received.lock().unwrap().is_empty());

    // Three overdue working days: one reminder each (a repeated tick adds nothing), then the
    // fourth day escalates, and only once.
    for (n, expected) in [(1, 1), (2, 1), (2, 0), (3, 1), (4, 1), (5, 0)] {
        let day = calendar.add_working_days(due, n).unwrap();
        assert_eq!(corrections_on(day), expected, "day {day} (+{n})");
    }
    let listed = run(&["--json", "notifications", "list"]).check(0, &[]).json();
    let listed: Vec<(String, String, i64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|n| {
            (
                n["topic"].as_str().unwrap().to_owned(),
                n["level"].as_str().unwrap().to_owned(),
                n["reminder_count"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, i64)> = [
        ("due_soon", "reminder", 0),
        ("overdue", "reminder", 1),
        ("overdue", "reminder", 2),
        ("overdue", "reminder", 3),
        ("overdue", "escalation", 3),
    ]
    .iter()
    .map(|(t, l, c)| (t.to_string(), l.to_string(), *c))
    .collect();
    assert_eq!(listed, expected);
    run(&["notifications", "list", "--level", "escalation"]).check(0, &["督办升级", "经 3 次提醒仍逾期"]);

    // The webhook is back: everything queued is delivered (the first after its retry wait).
    hook.up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        deliver();
        let left = run(&["--json", "notifications", "list", "--state", "queued"])
            .check(0, &[])
            .json();
        if left.as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still queued: {left}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let received = hook.received.lock().unwrap().clone();
    let escalations: Vec<&Value> = received
        .iter()
        .filter(|(p, _)| p == "escalate")
        .map(|(_, b)| b)
        .collect();
    let reminders: Vec<&Value> = received
        .iter()
        .filter(|(p, _)| p == "notify")
        .map(|(_, b)| b)
        .collect();
    assert_eq!((reminders.len(), escalations.len()), (4, 1), "{received:?}");
    assert_eq!(escalations[0]["level"], "escalation");
    assert_eq!(escalations[0]["subject_kind"], "correction");
    assert_eq!(escalations[0]["reminder_count"], 3);
    assert!(escalations[0]["message"].as_str().unwrap().contains("第三十三条"));
    for (_, body) in &received {
        assert!(
            !body["message"].as_str().unwrap().contains("申请人姓名有误"),
            "{body}"
        );
    }

    // Every tick is recorded as a finished run.
    let runs = run(&["--json", "scheduler", "runs", "--limit", "100"])
        .check(0, &[])
        .json();
    assert!(
        runs.as_array().unwrap().iter().all(|r| r["outcome"] == "ok"),
        "{runs}"
    );
    run(&["scheduler", "run", "nothing", "--once"])
        .check(1, &[])
        .stderr_has(&["unknown job"]);

    // The same list through the API.
    let store = ronghe::store::Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let router = ronghe::server::app(common::app_state(store.clone()), 1 << 20);
    let token = common::admin_token(&store).await;
    let get = |path: &str| {
        let router = router.clone();
        let request = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    // Old runs that queued nothing can be pruned; those behind a notification stay.
    let pruned = store
        .prune_runs("corrections", Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(pruned, 2, "the repeated day and the day after the escalation");
    let kept = store.job_runs(Some("corrections"), false, 100).await.unwrap();
    assert_eq!(kept.len(), 5, "{kept:?}");
    let (status, body) = get("/api/v1/notifications?level=escalation").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body[0]["delivery_state"], "delivered");
    let (status, body) = get("/api/v1/notifications?level=urgent").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (StatusCode::BAD_REQUEST, &Value::from("level"))
    );
    let (status, body) = get(&format!(
        "/api/v1/monitoring/{SYSTEM}/reconciliation?date=2026-01-05&format=pdf"
    ))
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &Value::from("invalid_format"))
    );
    let (_, openapi) = get("/api/v1/openapi.json").await;
    for path in ["/api/v1/notifications", "/api/v1/monitoring/reconciliations"] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
}

/// A webhook down for longer than `retry_horizon_seconds` (shortened here to 2 s): the
/// notification is retried until then, then listed as failed with the reason; nothing was sent.
#[tokio::test]
async fn a_notification_failing_past_the_horizon_is_listed_as_failed() {
    let hook = hook(None).await;
    let sandbox = Sandbox::new();
    let (config, calendar) = sandbox.plain_calendar_config(&format!(
        "[scheduler]\nwebhook_url = \"{}/notify\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n\
         retry_horizon_seconds = 2\n",
        hook.base
    ));
    let run = |args: &[&str]| sandbox.run_configured(&config, args);
    one_open_correction(&sandbox, &config);
    let due = ronghe::corrections::due_on(&calendar, Utc::now()).unwrap();
    run(&[
        "scheduler",
        "run",
        "corrections",
        "--once",
        "--date",
        &due.to_string(),
    ])
    .check(0, &[]);
    let deliver = || run(&["--json", "scheduler", "run", "deliver", "--once"]).check(0, &[]);
    let listed = |state: &str| {
        run(&["--json", "notifications", "list", "--state", state])
            .check(0, &[])
            .json()
    };
    deliver();
    assert_eq!(
        listed("queued").as_array().unwrap().len(),
        1,
        "retried within the horizon"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        deliver();
        let failed = listed("failed");
        if !failed.as_array().unwrap().is_empty() {
            break failed;
        }
        assert!(Instant::now() < deadline, "never failed: {}", listed("queued"));
    };
    assert!(
        failed[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("past the retry horizon")),
        "{failed}"
    );
    assert!(listed("queued").as_array().unwrap().is_empty());
    assert!(hook.received.lock().unwrap().is_empty(), "nothing was sent");
}

/// `ronghe serve` runs the jobs on their schedules: every second here, yet one reminder a day.
#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_the_jobs_on_their_schedules() {
    let hook = hook(None).await;
    hook.up.store(true, Ordering::SeqCst);
    let sandbox = Sandbox::new();
    let (config, _) = sandbox.plain_calendar_config(&format!(
        "[scheduler]\nwebhook_url = \"{}/notify\"\ncorrections_schedule = \"* * * * * *\"\n\
         deliver_schedule = \"* * * * * *\"\ndue_soon_working_days = 10\n",
        hook.base
    ));
    let run = |args: &[&str]| sandbox.run_configured(&config, args);
    one_open_correction(&sandbox, &config);

    let server = common::binary::Server::start(&sandbox.database(), std::path::Path::new(&config));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = run(&["--json", "scheduler", "runs", "--job", "corrections"])
            .check(0, &[])
            .json();
        let finished = runs
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["outcome"] == "ok")
            .count();
        if finished >= 3 && !hook.received.lock().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not run the jobs: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop();
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "one reminder a day: {received:?}");
    assert_eq!(received[0].1["topic"], "due_soon");
    let delivered = run(&["--json", "notifications", "list", "--state", "delivered"])
        .check(0, &[])
        .json();
    assert_eq!(delivered.as_array().unwrap().len(), 1, "{delivered}");
}

/// The daily plan evaluation: milestones past their baseline due date are reminded once a day,
/// and the plan turning red is said once.
#[test]
fn plan_evaluation_reminds_overdue_milestones_and_the_turn_to_red() {
    let sandbox = Sandbox::new();
    let (config, calendar) = sandbox.plain_calendar_config("");
    let run = |args: &[&str]| sandbox.run_configured(&config, args);
    sandbox.add_system(SYSTEM, "http://127.0.0.1:9/api");
    let today = ronghe::calendar::today();
    let plan = sandbox.write(
        "plan.toml",
        format!(
            "[plan]\nsystem = \"{SYSTEM}\"\nmode = \"compatible_transition\"\nstart = \"{today}\"\nowner = \"项目组\"\n\n\
             [[milestones]]\nid = \"a\"\nphase = \"映射\"\nname = \"映射配置评审通过\"\nowner = \"接入工程师\"\n\
             duration_working_days = 2\n\n\
             [[milestones]]\nid = \"b\"\nphase = \"回传\"\nname = \"办件回传联调\"\nowner = \"接入工程师\"\n\
             duration_working_days = 3\ndepends_on = [\"a\"]\n"
        ),
    );
    run(&["plans", "import", &plan]).check(0, &[]);
    let pm = sandbox.token_with("pm-li", &["project_manager@province"]);
    run(&[
        "--token",
        &pm,
        "plans",
        "baseline",
        SYSTEM,
        "--approved-by",
        "李主任",
    ])
    .check(0, &["v1"]);
    let evaluate = |day: NaiveDate| {
        run(&[
            "--json",
            "scheduler",
            "run",
            "plans",
            "--once",
            "--date",
            &day.to_string(),
        ])
        .check(0, &[])
        .json()[0]["notifications"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(evaluate(today), 0, "on track: nothing to say");
    let late = calendar.add_working_days(today, 10).unwrap();
    // Both milestones overdue, and the plan turned red: three notifications, once.
    assert_eq!(evaluate(late), 3);
    assert_eq!(evaluate(late), 0);
    // The next day: the milestones again (second reminders); the plan is still red.
    assert_eq!(evaluate(calendar.add_working_days(late, 1).unwrap()), 2);
    let listed = run(&["--json", "notifications", "list"]).check(0, &[]).json();
    let mut seen: Vec<(String, String, i64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["subject_id"].as_str().unwrap().to_owned(),
                n["topic"].as_str().unwrap().to_owned(),
                n["reminder_count"].as_i64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    let expected: Vec<(String, String, i64)> = [
        (SYSTEM, "rag_red", 0),
        ("gy-scjg/a", "overdue", 1),
        ("gy-scjg/a", "overdue", 2),
        ("gy-scjg/b", "overdue", 1),
        ("gy-scjg/b", "overdue", 2),
    ]
    .iter()
    .map(|(s, t, c)| (s.to_string(), t.to_string(), *c))
    .collect();
    assert_eq!(seen, expected);
    run(&["notifications", "list"]).check(0, &["红 滞后", "映射配置评审通过"]);
}

#[test]
fn a_bad_scheduler_table_is_refused_whole() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "ronghe.toml",
        "[scheduler]\nplans_schedule = \"0 8 * * *\"\nwebhook_url = \"nowhere\"\n",
    );
    sandbox
        .run(&["--config", &config, "scheduler", "jobs"])
        .check(3, &[])
        .stderr_has(&["scheduler.plans_schedule", "scheduler.webhook_url"]);
}

#[cfg(feature = "postgres-tests")]
mod postgres {
    use super::*;
    use ronghe::calendar::Calendar;
    use ronghe::scheduler::{Job, Scheduler, SchedulerConfig};
    use ronghe::store::{Store, StoreOptions};

    fn scheduler(store: Store) -> Scheduler {
        let intake = common::app_state(store.clone()).writeback;
        Scheduler::new(
            store,
            Arc::new(Calendar::embedded().clone()),
            intake,
            Arc::new(ronghe_adapters::Environment),
            SchedulerConfig::default(),
        )
        .unwrap()
    }

    /// Issue 7: a cron job does not run twice when two nodes share PostgreSQL.
    #[tokio::test(flavor = "multi_thread")]
    async fn two_nodes_run_each_tick_once() {
        let url = common::fresh_pg_url().await;
        let (a, b) = (
            Store::open(&url, &StoreOptions::default()).await.unwrap(),
            Store::open(&url, &StoreOptions::default()).await.unwrap(),
        );
        a.insert_system(&common::system(SYSTEM), "tester").await.unwrap();
        let day: NaiveDate = "2026-12-08".parse().unwrap();
        let notice: ronghe::notices::NewNotice = serde_json::from_value(serde_json::json!({
            "system_id": SYSTEM, "kind": "interface_change", "title": "接口升级", "effective_on": day,
        }))
        .unwrap();
        a.insert_notice(&notice, "2026-11-30".parse().unwrap(), day, "tester")
            .await
            .unwrap();
        let (node_a, node_b) = (scheduler(a.clone()), scheduler(b.clone()));
        for second in 0..3 {
            let tick = format!("2026-12-08T00:00:0{second}Z").parse().unwrap();
            let (ra, rb) = tokio::join!(
                node_a.run_tick(Job::Plans, tick, day),
                node_b.run_tick(Job::Plans, tick, day)
            );
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            assert!(
                ra.is_some() != rb.is_some(),
                "tick {tick}: exactly one node runs it: {ra:?} {rb:?}"
            );
            let report = ra.or(rb).unwrap();
            assert_eq!(report.outcome, "ok", "{report:?}");
            // The first tick queues the notice; later ticks of the day add nothing.
            assert_eq!(report.notifications, usize::from(second == 0), "{report:?}");
        }
        // A node that claims a tick and dies leaves it visible, unfinished; nobody runs it again.
        let tick = "2026-12-08T00:00:09Z".parse().unwrap();
        b.claim_tick("plans", tick, "dead-node", Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert!(node_a.run_tick(Job::Plans, tick, day).await.unwrap().is_none());
        let runs = b.job_runs(Some("plans"), false, 100).await.unwrap();
        assert_eq!(runs.len(), 4);
        assert_eq!(runs[0].node, "dead-node");
        assert!(runs[0].finished_at.is_none() && runs[0].outcome.is_none());
        assert!(runs[1..].iter().all(|r| r.finished_at.is_some()));
        let notifications = b.list_notifications(None, None, 100).await.unwrap();
        assert_eq!(notifications.len(), 1, "{notifications:?}");
        assert_eq!(notifications[0].topic, "effective_today");
        assert!(notifications[0].message.contains("接口升级"));
    }
}
