//! Pull mode (issue 6): a system that cannot push has its cases read through its adapter from
//! the last checkpoint into the write-back pipeline — by `ronghe writeback pull` and on the cron
//! schedule inside `ronghe serve` — with the SQL simulator's database as the system.

mod common;

use std::time::{Duration, Instant};

use common::binary::Sandbox;
use ronghe_adapters::sim::sql;
use serde_json::Value;

const SYSTEM: &str = "sim-sql";

/// A sandbox with the SQL simulator's database (`cases` cases), the system registered with its
/// adapter and a write-back config with `schedule`; answers the sandbox, its config file and the
/// simulator's URL.
async fn setup(cases: usize, schedule: &str) -> (Sandbox, String, String) {
    let sandbox = Sandbox::new();
    let url = format!("sqlite://{}", sandbox.path("county.db").display());
    sql::load(&url, 2025, cases).await.unwrap();
    let adapter = sandbox.write("adapter.toml", sql::adapter_config(&url, 100));
    let key = sandbox.write("key.txt", "pull-test-secret");
    let writeback = sandbox.write(
        "writeback.toml",
        format!(
            "[[keys]]\nid = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"file:{key}\"\n\n[pull]\nschedule = \"{schedule}\"\n"
        ),
    );
    let config = sandbox.write(
        "ronghe.toml",
        format!(
            "database_url = \"sqlite://{}\"\nmappings_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\n",
            sandbox.path("ronghe.db").display(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        ),
    );
    sandbox.attach_sql(SYSTEM, &url, &adapter);
    sandbox
        .run(&["writeback", "attach", SYSTEM, &writeback])
        .check(0, &[]);
    (sandbox, config, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_reads_from_the_checkpoint_through_the_pipeline() {
    let (sandbox, config, url) = setup(250, "0 0 3 * * *").await;
    let pull = || {
        sandbox
            .run(&["--config", &config, "--json", "writeback", "pull", SYSTEM])
            .check(0, &[])
            .json()
    };
    let first = pull();
    assert_eq!(
        (first["read"].as_u64(), first["accepted"].as_u64()),
        (Some(250), Some(250)),
        "{first}"
    );
    let again = pull();
    assert_eq!(again["read"], 0, "nothing new since the checkpoint: {again}");
    // Users change three cases: their next versions are read, and only they.
    let numbers: Vec<String> = [6, 9, 99]
        .iter()
        .map(|&i| ronghe_adapters::sim::data::case(2025, i).no)
        .collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    sql::touch(&url, &numbers, "2026-11-30 09:00:00").await.unwrap();
    let changed = pull();
    assert_eq!(
        (changed["read"].as_u64(), changed["accepted"].as_u64()),
        (Some(3), Some(3)),
        "{changed}"
    );
    let states = sandbox
        .run(&["--config", &config, "--json", "writeback", "pulls"])
        .check(0, &[])
        .json();
    assert_eq!(states[0]["records_read"], 253, "{states}");
    assert!(states[0]["last_error"].is_null(), "{states}");
    // A system without a pull schedule is refused, and says why.
    sandbox
        .run(&["--config", &config, "writeback", "pull", "nowhere"])
        .check(1, &[])
        .stderr_has(&["nowhere"]);
    // A retired system is pulled no more.
    sandbox
        .run(&["systems", "retire", SYSTEM, "--reason", "并入政务服务网"])
        .check(0, &[]);
    sandbox
        .run(&["--config", &config, "writeback", "pull", SYSTEM])
        .check(1, &[])
        .stderr_has(&["is retired; it takes no more cases"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_pulls_on_the_schedule() {
    let (sandbox, config, _url) = setup(40, "* * * * * *").await;
    let mut child = serve(&sandbox, &config);
    let state = pull_state_when(&sandbox, &config, |s| {
        s["records_read"].as_i64().unwrap_or(0) >= 40
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(state["records_read"], Value::from(40));
}

/// The first system's pull state (`writeback pulls`) once `ready` holds, polled for up to 30 s.
async fn pull_state_when(sandbox: &Sandbox, config: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let states: Value = sandbox
            .run(&["--config", config, "--json", "writeback", "pulls"])
            .check(0, &[])
            .json();
        if let Some(state) = states.as_array().and_then(|s| s.first()).filter(|s| ready(s)) {
            return state.clone();
        }
        assert!(Instant::now() < deadline, "no pull state as awaited: {states}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `ronghe serve` with `config` in `sandbox`, its output dropped.
fn serve(sandbox: &Sandbox, config: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_ronghe"))
        .args(["--config", config, "serve"])
        .current_dir(sandbox.path(""))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A system just attached is first pulled at its schedule's next time (here 03:00 Beijing time), not on the
/// scheduler's next tick: the engineer's own `writeback pull` right after attaching reads every
/// record instead of finding another node pulling (seen in the demo).
#[tokio::test(flavor = "multi_thread")]
async fn a_newly_attached_system_waits_for_its_schedule() {
    let (sandbox, config, _url) = setup(10, "0 0 3 * * *").await;
    let mut child = serve(&sandbox, &config);
    // The scheduler has seen the system once its state exists.
    let state = pull_state_when(&sandbox, &config, |_| true).await;
    assert_eq!(state["records_read"], Value::from(0), "{state}");
    assert_eq!(state["last_run_at"], Value::Null, "{state}");
    // 03:00 in Beijing, as the scheduler's jobs read their cron fields.
    let next = state["next_run_at"].as_str().unwrap();
    assert!(next.ends_with("T19:00:00Z"), "{state}");
    sandbox
        .run(&["--config", &config, "writeback", "pull", SYSTEM])
        .check(0, &["accepted 10"]);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Issue 7 (Art. 15): reconciliation finds an injected missing case and an injected altered case;
/// spot-check samples are reproducible by seed.
/// `setup` with `cases` cases (pulled at 03:00 only), every one of them pulled at once.
async fn pulled(cases: usize) -> (Sandbox, String, String) {
    let (sandbox, config, url) = setup(cases, "0 0 3 * * *").await;
    with_config(&sandbox, &config, &["writeback", "pull", SYSTEM]).check(0, &[&format!("accepted {cases}")]);
    (sandbox, config, url)
}

/// `ronghe --config CONFIG ARGS…` in `sandbox`.
fn with_config(sandbox: &Sandbox, config: &str, args: &[&str]) -> common::binary::Run {
    let mut all = vec!["--config", config];
    all.extend_from_slice(args);
    sandbox.run(&all)
}

/// The platform's store in `sandbox` and its cases by the Beijing day they last changed.
async fn cases_by_day(
    sandbox: &Sandbox,
) -> (sqlx::SqlitePool, std::collections::BTreeMap<String, Vec<String>>) {
    let platform = sqlx::SqlitePool::connect(&format!("sqlite://{}", sandbox.path("ronghe.db").display()))
        .await
        .unwrap();
    let mut by_day: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.case_no, json_extract(v.body, '$.updated_at') FROM cases c JOIN case_versions v
         ON v.system_id = c.system_id AND v.case_no = c.case_no AND v.version = c.version",
    )
    .fetch_all(&platform)
    .await
    .unwrap();
    // updated_at is stored in Beijing time.
    for (case_no, updated_at) in rows {
        assert!(updated_at.ends_with("+08:00"), "{updated_at}");
        by_day
            .entry(updated_at[..10].to_owned())
            .or_default()
            .push(case_no);
    }
    (platform, by_day)
}

/// The platform's store in `sandbox`, the Beijing day on which most of its cases last changed
/// (at least six), and those cases.
async fn busiest_day(sandbox: &Sandbox) -> (sqlx::SqlitePool, String, Vec<String>) {
    let (platform, by_day) = cases_by_day(sandbox).await;
    let (day, cases) = by_day.into_iter().max_by_key(|(_, cases)| cases.len()).unwrap();
    assert!(cases.len() >= 6, "{day}: {cases:?}");
    (platform, day, cases)
}

#[tokio::test(flavor = "multi_thread")]
async fn reconciliation_finds_missing_and_altered_cases() {
    let (sandbox, config, url) = pulled(120).await;
    let run = |args: &[&str]| with_config(&sandbox, &config, args);
    // A day with several cases, and two of them.
    let (platform, day, cases) = busiest_day(&sandbox).await;
    let (first, second) = (cases[0].clone(), cases[1].clone());
    run(&["reconcile", SYSTEM, "--date", &day]).check(0, &["无差异 clean"]);

    // The platform loses one case; the department edits another without a new version.
    for table in ["exchange_outbox", "cases"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE case_no = $1"
        )))
        .bind(&first)
        .execute(&platform)
        .await
        .unwrap();
    }
    let legacy = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE SP_BJXX SET SXMC = '篡改后的事项名称' WHERE SBLSH = $1")
        .bind(&second)
        .execute(&legacy)
        .await
        .unwrap();
    let report = run(&["--json", "reconcile", SYSTEM, "--date", &day])
        .check(1, &[])
        .json();
    let kinds: Vec<(String, String)> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["case_no"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(kinds.contains(&(first.clone(), "missing".to_owned())), "{report}");
    assert!(
        kinds.contains(&(second.clone(), "altered".to_owned())),
        "{report}"
    );
    assert_eq!(kinds.len(), 2, "{report}");

    // The report formats: CSV (one row per differing case), Markdown with its table, HTML.
    let csv = run(&["reconcile", SYSTEM, "--date", &day, "--format", "csv"]).check(1, &[]);
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    assert_eq!(&reader.headers().unwrap()[2], "case_no");
    let rows: Vec<(String, String, bool)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[2].to_owned(), r[3].to_owned(), r[6].len() == 64)
        })
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows.contains(&(first.clone(), "missing".to_owned(), true)),
        "{csv}"
    );
    assert!(
        rows.contains(&(second.clone(), "altered".to_owned(), true)),
        "{csv}"
    );
    run(&["reconcile", SYSTEM, "--date", &day, "--format", "md"]).check(
        1,
        &["| 办件编号 case_no |", &format!("| {first} | 平台缺失 missing |")],
    );
    run(&["reconcile", SYSTEM, "--date", &day, "--format", "html"]).check(
        1,
        &[
            "<!DOCTYPE html>",
            &format!("<tr><td>{second}</td><td>内容不一致 altered</td>"),
        ],
    );

    // The daily job reconciles the day before its own and saves it for the report endpoints.
    let next = (day.parse::<chrono::NaiveDate>().unwrap() + chrono::Days::new(1)).to_string();
    run(&["scheduler", "run", "reconcile", "--once", "--date", &next]).check(0, &["reconciled 1"]);
    let saved = run(&["--json", "reconcile", "--stored", SYSTEM])
        .check(0, &[])
        .json();
    assert_eq!(saved[0]["date"], Value::from(day.as_str()), "{saved}");
    assert_eq!(
        saved[0]["report"]["differences"], report["differences"],
        "{saved}"
    );
    let stored_csv = run(&["reconcile", "--stored", SYSTEM, "--date", &day, "--format", "csv"]).check(0, &[]);
    assert_eq!(stored_csv.stdout, csv.stdout);
    run(&["--json", "notifications", "list"]).check(0, &["对账发现 2 处差异"]);
    let store = ronghe::store::Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let token = common::admin_token(&store).await;
    let router = ronghe::server::app(common::app_state(store), 1 << 20);
    use tower::ServiceExt as _;
    let uri = format!("/api/v1/monitoring/reconciliations?system={SYSTEM}&date={day}&format=csv");
    let response = router
        .oneshot(
            axum::http::Request::get(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    use http_body_util::BodyExt as _;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        String::from_utf8(body.to_vec()).unwrap().trim_end(),
        csv.stdout.trim_end()
    );

    let sample = |seed: &str| {
        run(&[
            "--json",
            "spot-check",
            SYSTEM,
            "--date",
            &day,
            "--size",
            "5",
            "--seed",
            seed,
        ])
        .check(0, &[])
        .json()["sample"]
            .clone()
    };
    assert_eq!(sample("42"), sample("42"), "the same seed draws the same sample");
    assert_eq!(sample("42").as_array().unwrap().len(), 5);
    assert_ne!(sample("42"), sample("43"));
    let sample_csv = run(&[
        "spot-check",
        SYSTEM,
        "--date",
        &day,
        "--size",
        "5",
        "--seed",
        "42",
        "--format",
        "csv",
    ])
    .check(0, &["system_id,date,seed,draw,case_no"]);
    let drawn: Vec<String> = csv::Reader::from_reader(sample_csv.stdout.as_bytes())
        .records()
        .map(|r| r.unwrap()[4].to_owned())
        .collect();
    assert_eq!(Value::from(drawn), sample("42"));

    // Issue 16: records that no longer map are reported on their own day only (dated by the
    // mapping's updated_at rule alone), not on every day's reconciliation.
    let (_, by_day) = cases_by_day(&sandbox).await;
    let (other_day, others) = by_day.iter().find(|(d, _)| **d != day).unwrap();
    for case_no in [&cases[2], &others[0]] {
        sqlx::query("UPDATE SP_BJXX SET SXMC = '' WHERE SBLSH = $1")
            .bind(case_no)
            .execute(&legacy)
            .await
            .unwrap();
    }
    let report = run(&["--json", "reconcile", SYSTEM, "--date", &day])
        .check(1, &[])
        .json();
    assert_eq!(report["unmappable"], serde_json::json!([cases[2]]), "{report}");
    let report = run(&["--json", "reconcile", SYSTEM, "--date", other_day])
        .check(1, &[])
        .json();
    assert_eq!(report["unmappable"], serde_json::json!([others[0]]), "{report}");
}

/// Issue 17: a day's reconciliation reads the legacy system from the day's start on (the SQL
/// adapter's `window_format` writes it as a `GXSJ` watermark), not its whole history, and
/// answers as a whole read does: a case the department moved back to the day before is fetched
/// by key and reported altered, not extra.
#[tokio::test(flavor = "multi_thread")]
async fn a_days_reconciliation_reads_the_day_and_answers_as_a_whole_read() {
    let (sandbox, config, url) = pulled(120).await;
    let run = |args: &[&str]| with_config(&sandbox, &config, args);
    // The last day with a few cases: earlier days hold cases the window leaves out.
    let (_, by_day) = cases_by_day(&sandbox).await;
    let (day, cases) = by_day
        .into_iter()
        .rev()
        .find(|(_, cases)| cases.len() >= 3)
        .unwrap();
    let windowed = run(&["--json", "reconcile", SYSTEM, "--date", &day])
        .check(0, &[])
        .json();
    assert_eq!(
        windowed["source_window"],
        Value::from(format!("{day} 00:00:00")),
        "{windowed}"
    );
    let read = windowed["source_records"].as_u64().unwrap();
    assert!(
        (cases.len() as u64..120).contains(&read),
        "the window reads the day's cases and later ones, not all 120: {windowed}"
    );

    let legacy = sqlx::SqlitePool::connect(&url).await.unwrap();
    let day_before = (day.parse::<chrono::NaiveDate>().unwrap() - chrono::Days::new(1)).to_string();
    sqlx::query("UPDATE SP_BJXX SET GXSJ = $1 WHERE SBLSH = $2")
        .bind(format!("{day_before} 23:00:00"))
        .bind(&cases[0])
        .execute(&legacy)
        .await
        .unwrap();
    let differences = |report: &Value| report["differences"].clone();
    let windowed = run(&["--json", "reconcile", SYSTEM, "--date", &day])
        .check(1, &[])
        .json();
    assert_eq!(
        differences(&windowed)
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["case_no"].as_str().unwrap(), d["kind"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(cases[0].as_str(), "altered")],
        "{windowed}"
    );

    // The same day read whole (no window_format): the same answer, from every record.
    let whole_config = sql::adapter_config(&url, 100).replace("window_format = \"%Y-%m-%d %H:%M:%S\"\n", "");
    assert!(!whole_config.contains("window_format"));
    let adapter = sandbox.write("adapter-whole.toml", whole_config);
    sandbox
        .run(&["adapters", "attach", SYSTEM, &adapter])
        .check(0, &[]);
    let whole = run(&["--json", "reconcile", SYSTEM, "--date", &day])
        .check(1, &[])
        .json();
    assert_eq!(whole["source_window"], Value::Null, "{whole}");
    assert_eq!(whole["source_records"], Value::from(120), "{whole}");
    assert_eq!(differences(&whole), differences(&windowed));
    for field in ["legacy_cases", "platform_cases", "matched"] {
        assert_eq!(whole[field], windowed[field], "{field}: {whole} {windowed}");
    }
}

/// Issue 22: `scheduler jobs` follows the attached settings: once a system's `[pull]` is
/// removed, its pull job is gone from the list, though its pull state is kept.
#[tokio::test(flavor = "multi_thread")]
async fn removing_pull_from_the_settings_removes_its_job() {
    let (sandbox, config, _) = setup(5, "0 0 3 * * *").await;
    sandbox
        .run(&["--config", &config, "writeback", "pull", SYSTEM])
        .check(0, &[]);
    let pull_jobs = || {
        let jobs = sandbox
            .run(&["--config", &config, "--json", "scheduler", "jobs"])
            .check(0, &[])
            .json();
        jobs["pulls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["system_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(pull_jobs(), [SYSTEM]);
    let key = sandbox.path("key.txt");
    let push_only = sandbox.write(
        "push-only.toml",
        format!(
            "[[keys]]\nid = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"file:{}\"\n",
            key.display()
        ),
    );
    sandbox
        .run(&["writeback", "attach", SYSTEM, &push_only])
        .check(0, &[]);
    assert!(pull_jobs().is_empty(), "{:?}", pull_jobs());
    let table = sandbox
        .run(&["--config", &config, "scheduler", "jobs"])
        .check(0, &["plans"]);
    assert!(!table.stdout.contains("pull:"), "{}", table.stdout);
    let states = sandbox
        .run(&["--config", &config, "--json", "writeback", "pulls"])
        .check(0, &[])
        .json();
    assert_eq!(states[0]["system_id"], SYSTEM, "the pull state is kept: {states}");
}

/// Issue 16: a first pull that reads nothing from a source its probe counted records in fails
/// (exit 1), names the likely cause, and keeps the error in the pull's state; with no checkpoint
/// taken, the next pull reads from the start again.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_pull_of_nothing_where_the_probe_counted_records_fails() {
    let (sandbox, config, url) = setup(40, "0 0 3 * * *").await;
    sandbox
        .run(&["--config", &config, "adapters", "probe", SYSTEM])
        .check(0, &["records: 40"]);
    // The adapter now reaches a source without cases (say, a test instance).
    sql::load(&url, 2025, 0).await.unwrap();
    sandbox
        .run(&["--config", &config, "writeback", "pull", SYSTEM])
        .check(1, &[])
        .stderr_has(&[
            "first pull of system \"sim-sql\" read no record",
            "counted",
            "SQL table and filter",
        ]);
    let states = sandbox
        .run(&["--config", &config, "--json", "writeback", "pulls"])
        .check(0, &[])
        .json();
    assert!(
        states[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("read no record")),
        "{states}"
    );
    assert!(states[0]["checkpoint"].is_null(), "{states}");
    // Cases again: the next pull reads them all from the start.
    sql::load(&url, 2025, 40).await.unwrap();
    let pulled = sandbox
        .run(&["--config", &config, "--json", "writeback", "pull", SYSTEM])
        .check(0, &[])
        .json();
    assert_eq!(pulled["read"], 40, "{pulled}");
}

/// Issue 17: the intake holds a system's adapter between pulls and reconciliations (its
/// connections and catalogue carry over) while the attached config's text is unchanged; the
/// data is still read anew each time, and a new config is used at once. No config attached is
/// a configuration error, and nothing is held for it.
#[tokio::test(flavor = "multi_thread")]
async fn the_intake_holds_a_systems_adapter_until_its_config_changes() {
    use futures_util::StreamExt as _;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    let url = format!("sqlite://{}", dir.path().join("county.db").display());
    sql::load(&url, 2025, 30).await.unwrap();
    store
        .insert_system(&common::system(SYSTEM), "test")
        .await
        .unwrap();
    let intake = ronghe::intake::Intake::new(
        &store,
        concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
        Arc::new(ronghe_adapters::Environment),
    );
    let missing = intake.adapter(&store, SYSTEM).await.unwrap().err().unwrap();
    assert!(
        missing.to_string().contains("no adapter config attached"),
        "{missing}"
    );

    let windowed = sql::adapter_config(&url, 100);
    store.set_adapter_config(SYSTEM, &windowed, "test").await.unwrap();
    let count = |adapter: Arc<dyn ronghe_adapters::Adapter>| async move {
        let mut records = adapter.read(None);
        let mut n = 0;
        while let Some(record) = records.next().await {
            record.unwrap();
            n += 1;
        }
        n
    };
    let first = intake.adapter(&store, SYSTEM).await.unwrap().unwrap();
    assert_eq!(count(first.clone()).await, 30);
    let legacy = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM SP_BJXX WHERE rowid = (SELECT max(rowid) FROM SP_BJXX)")
        .execute(&legacy)
        .await
        .unwrap();
    let held = intake.adapter(&store, SYSTEM).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &held), "the same config: the adapter is held");
    assert_eq!(count(held).await, 29, "a held adapter still reads the data anew");

    // The same config attached again changes nothing; another one is built at once.
    store.set_adapter_config(SYSTEM, &windowed, "test").await.unwrap();
    let same = intake.adapter(&store, SYSTEM).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &same));
    let whole = windowed.replace("window_format = \"%Y-%m-%d %H:%M:%S\"\n", "");
    assert_ne!(whole, windowed);
    store.set_adapter_config(SYSTEM, &whole, "test").await.unwrap();
    let rebuilt = intake.adapter(&store, SYSTEM).await.unwrap().unwrap();
    assert!(!Arc::ptr_eq(&first, &rebuilt), "a new config: a new adapter");
    let from_now = chrono::Utc::now().fixed_offset();
    assert!(
        first.since(from_now).is_some(),
        "the windowed config has a window"
    );
    assert!(rebuilt.since(from_now).is_none(), "the new one reads whole");
}
