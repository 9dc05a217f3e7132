//! `ronghe migrate` end to end through the real binary (issue 9): the SQL simulator's history
//! moves into a fresh store and reconciles clean (SQLite store; PostgreSQL store behind
//! `postgres-tests`); a run SIGKILLed at seeded random points and resumed holds every source case
//! exactly once, and one process at a time carries a run; bad records go to the quality queue and
//! the error budget stops the run; PostgreSQL and MariaDB sources (`postgres-tests`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::binary::{Run, run_ronghe};
use common::verdict;
use http_body_util::BodyExt as _;
use ronghe_assessment::IntegrationMode;
use serde_json::Value;
use sqlx::Connection as _;
use tower::ServiceExt as _;

const SYSTEM: &str = "sim-sql";

/// A directory with the SQL simulator's database (`legacy.db`, `cases` cases) and a job file
/// `integration/sim-sql/migration-job.toml` (chunks of `chunk_rows`).
struct Setup {
    dir: tempfile::TempDir,
    database: String,
    legacy: String,
}

impl Setup {
    async fn new(cases: usize, chunk_rows: u32, database: Option<String>) -> Setup {
        Setup::with_source(cases, chunk_rows, database, None).await
    }

    /// `new` with the simulator in the database at `legacy` (default: `legacy.db` in the directory).
    async fn with_source(
        cases: usize,
        chunk_rows: u32,
        database: Option<String>,
        legacy: Option<String>,
    ) -> Setup {
        let setup = Setup::unassessed(cases, chunk_rows, database, legacy).await;
        setup
            .give_verdict(common::WEAK_AND_SINGLE, IntegrationMode::FullMigration)
            .await;
        setup
    }

    /// `with_source` without the verdict: the system is registered and attached, not assessed.
    async fn unassessed(
        cases: usize,
        chunk_rows: u32,
        database: Option<String>,
        legacy: Option<String>,
    ) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let legacy = legacy.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("legacy.db").display()));
        ronghe_adapters::sim::sql::load(&legacy, 2025, cases)
            .await
            .unwrap();
        let database =
            database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("ronghe.db").display()));
        let setup = Setup {
            dir,
            database,
            legacy: legacy.clone(),
        };
        setup
            .run(&[
                "systems",
                "add",
                "--id",
                SYSTEM,
                "--name",
                "县级审批系统",
                "--department",
                "某县政务服务中心",
                "--region",
                "520100",
                "--protocol",
                "sql",
                "--endpoint",
                &legacy,
            ])
            .check(0, &[]);
        let adapter = setup.dir.path().join("adapter.toml");
        std::fs::write(&adapter, ronghe_adapters::sim::sql::adapter_config(&legacy, 200)).unwrap();
        setup
            .run(&["adapters", "attach", SYSTEM, &adapter.display().to_string()])
            .check(0, &[]);
        setup.write_job(chunk_rows, 100, 0.5);
        setup
    }

    /// The system's expert panel sees it as `profile` and gives the verdict `mode`.
    async fn give_verdict(&self, profile: common::Profile, mode: IntegrationMode) {
        assert_eq!(verdict::give_verdict(&self.database, SYSTEM, profile).await, mode);
    }

    fn write_job(&self, chunk_rows: u32, max_rejects: u64, max_reject_ratio: f64) {
        let dir = self.dir.path().join("integration").join(SYSTEM);
        std::fs::create_dir_all(&dir).unwrap();
        let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/sim-sql.toml");
        std::fs::write(
            dir.join("migration-job.toml"),
            format!(
                "[job]\nsystem = \"{SYSTEM}\"\nmapping = \"{}\"\n[run]\nchunk_rows = {chunk_rows}\nparallelism = 2\n\
                 [error_budget]\nmax_rejects = {max_rejects}\nmax_reject_ratio = {max_reject_ratio}\n",
                mapping.display()
            ),
        )
        .unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--database", self.database.as_str()];
        all.extend_from_slice(args);
        run_ronghe(self.dir.path(), &all, None)
    }

    /// Starts `ronghe ARGS` on the setup's store without waiting for it.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_ronghe"))
            .args(["--database", self.database.as_str()])
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RONGHE_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn report(&self) -> Value {
        let path = self
            .dir
            .path()
            .join("integration")
            .join(SYSTEM)
            .join("migration-report.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

/// (cases, case versions, exchange outbox entries, quality items) of the system in the store.
async fn counts(database: &str) -> (i64, i64, i64, i64) {
    let tables = ["cases", "case_versions", "exchange_outbox", "quality_items"];
    let mut out = [0; 4];
    for (i, table) in tables.iter().enumerate() {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE system_id = $1"));
        out[i] = if database.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(database).await.unwrap();
            sqlx::query_as::<_, (i64,)>(sql)
                .bind(SYSTEM)
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .0
        } else {
            let mut conn = sqlx::PgConnection::connect(database).await.unwrap();
            sqlx::query_as::<_, (i64,)>(sql)
                .bind(SYSTEM)
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .0
        };
    }
    (out[0], out[1], out[2], out[3])
}

/// `GET path` through the real router on the setup's store: status and body (JSON or text).
async fn api_get(database: &str, path: &str) -> (StatusCode, Value) {
    let store = ronghe::store::Store::open(database, &Default::default())
        .await
        .unwrap();
    let router = ronghe::server::app(common::app_state(store.clone()), 1 << 20);
    // One administrator per store, made on the first call.
    static TOKENS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
    let known = TOKENS
        .lock()
        .unwrap()
        .iter()
        .find(|(db, _)| db == database)
        .map(|(_, token)| token.clone());
    let token = match known {
        Some(token) => token,
        None => {
            let token = common::admin_token(&store).await;
            TOKENS.lock().unwrap().push((database.to_owned(), token.clone()));
            token
        }
    };
    let response = router
        .oneshot(
            Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    store.close().await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

fn assert_clean(report: &Value, cases: i64) {
    assert_eq!(report["state"], "complete", "{report:#}");
    assert_eq!(report["clean"], true);
    assert_eq!(report["differences"].as_array().unwrap().len(), 0);
    let chunks = report["chunks"].as_array().unwrap();
    assert!(
        chunks
            .iter()
            .all(|c| c["matches"] == true && c["source_hash"] == c["target_hash"])
    );
    let target: i64 = chunks.iter().map(|c| c["cases_target"].as_i64().unwrap()).sum();
    assert_eq!(target, cases);
}

/// Issue 16: `migrate run` moves only a system whose verdict is full migration. Without a
/// verdict, or under another mode's, it is refused naming the system, the verdict and what to
/// do, and nothing is written; `--force --reason` runs it, audited with the actor and reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_needs_a_full_migration_verdict_or_a_forced_reason() {
    let setup = Setup::unassessed(300, 100, None, None).await;
    setup.run(&["migrate", "run", SYSTEM]).check(2, &[]).stderr_has(&[
        "system \"sim-sql\" has no verdict",
        "ronghe assess open sim-sql",
        "--force --reason",
    ]);
    setup
        .run(&["migrate", "run", SYSTEM, "--force"])
        .check(2, &[])
        .stderr_has(&["--reason"]);
    setup
        .run(&["migrate", "run", SYSTEM, "--force", "--reason", " "])
        .check(2, &[])
        .stderr_has(&["--reason is empty"]);
    setup
        .give_verdict(common::ORDINARY, IntegrationMode::FrontEndMigration)
        .await;
    setup.run(&["migrate", "run", SYSTEM]).check(2, &[]).stderr_has(&[
        "has the verdict 前端迁移 (front_end_migration, assessment sim-sql.1), not full migration",
        "--force --reason",
    ]);
    assert_eq!(counts(&setup.database).await, (0, 0, 0, 0));
    setup
        .run(&["migrate", "status", SYSTEM])
        .check(1, &[])
        .stderr_has(&["has no migration run"]);

    let reason = "部门书面同意先行迁移历史数据 (letter 2026-12)";
    setup
        .run(&["migrate", "run", SYSTEM, "--force", "--reason", reason])
        .check(0, &["complete"]);
    assert_eq!(counts(&setup.database).await, (300, 300, 300, 0));
    let events = setup
        .run(&["--json", "audit", "list", "--action", "migration.start"])
        .check(0, &[])
        .json();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0]["actor"].as_str().unwrap().starts_with("host:"),
        "{events:?}"
    );
    assert_eq!(events[0]["detail"]["forced_reason"], reason);
    assert_eq!(events[0]["detail"]["system"], SYSTEM);
}

/// Issue 16: a job file's and a write-back config's shape errors come all at once, each at its
/// full path (a missing key, an unknown one, a wrong type, inside a table or an array).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_files_report_every_shape_error_at_its_path() {
    let setup = Setup::unassessed(10, 100, None, None).await;
    let job = setup.dir.path().join("bad-job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nsystem = \"{SYSTEM}\"\n[run]\nchunk_rows = \"many\"\nparallelism = 2\nthreads = 4\n\
             [error_budget]\nmax_rejects = 1\nmax_reject_ratio = 0.5\n"
        ),
    )
    .unwrap();
    setup
        .run(&["migrate", "run", SYSTEM, "--job", &job.display().to_string()])
        .check(2, &[])
        .stderr_has(&[
            "job.mapping: missing field",
            "run.chunk_rows: invalid type: string \"many\"",
            "run.threads: unknown field `threads`",
        ]);
    let writeback = setup.dir.path().join("bad-writeback.toml");
    std::fs::write(
        &writeback,
        "[[keys]]\nid = \"k1\"\nalgorithm = \"hmac-sm3\"\nsecret = \"env:K1\"\n\
         [[keys]]\nid = 2\nsecret = \"env:K2\"\n",
    )
    .unwrap();
    setup
        .run(&["writeback", "check", &writeback.display().to_string()])
        .check(
            1,
            &[
                "keys[1].id: invalid type: integer `2`",
                "keys[1].algorithm: missing field",
            ],
        );
}

/// Issue 16: a run whose source gives no record, where the system's probe counted some, fails
/// naming the likely cause (it would otherwise end "complete" with nothing moved); once the
/// adapter reaches the source again, it resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_an_empty_source_the_probe_counted_fails() {
    let setup = Setup::new(40, 100, None).await;
    setup.run(&["adapters", "probe", SYSTEM]).check(0, &[]);
    let empty = format!("sqlite://{}", setup.dir.path().join("empty.db").display());
    ronghe_adapters::sim::sql::load(&empty, 2025, 0).await.unwrap();
    let attach = |legacy: &str| {
        let adapter = setup.dir.path().join("adapter.toml");
        std::fs::write(&adapter, ronghe_adapters::sim::sql::adapter_config(legacy, 200)).unwrap();
        setup
            .run(&["adapters", "attach", SYSTEM, &adapter.display().to_string()])
            .check(0, &[]);
    };
    attach(&empty);
    setup.run(&["migrate", "run", SYSTEM]).check(2, &[]).stderr_has(&[
        "gave no record, but its probe of",
        "records.select",
        "migrate resume sim-sql",
    ]);
    setup.run(&["migrate", "status", SYSTEM]).check(1, &["failed"]);
    attach(&setup.legacy);
    setup
        .run(&["migrate", "resume", SYSTEM])
        .check(0, &["complete", "读取 read 40"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_sqlite_moves_every_case_and_reconciles_clean() {
    let setup = Setup::new(1200, 250, None).await;
    let run = setup
        .run(&["--json", "migrate", "run", SYSTEM])
        .check(0, &["\"state\":\"complete\""]);
    let status = run.json();
    assert_eq!(status["rows_read"], 1200);
    assert_eq!(status["rows_written"], 1200);
    assert_eq!(status["chunks"], 5);
    assert_clean(&setup.report(), 1200);
    let md = std::fs::read_to_string(
        setup
            .dir
            .path()
            .join("integration")
            .join(SYSTEM)
            .join("migration-report.md"),
    )
    .unwrap();
    assert!(md.contains("对账无差异"), "{md}");
    // Art. 27: migrated history reaches the exchange too, once per version.
    assert_eq!(counts(&setup.database).await, (1200, 1200, 1200, 0));
    setup
        .run(&["migrate", "status", SYSTEM])
        .check(0, &["complete", "migration-report.md"]);
    // The system's plan references the run and its report.
    let years = setup.dir.path().join("years.toml");
    std::fs::write(&years, common::plain_years_toml()).unwrap();
    let config = setup.dir.path().join("ronghe.toml");
    std::fs::write(
        &config,
        format!("calendar_override = {:?}\n", years.display().to_string()),
    )
    .unwrap();
    let plan = setup.dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            "[plan]\nsystem = \"{SYSTEM}\"\nmode = \"full_migration\"\nstart = \"{}\"\nowner = \"张经理\"\n\n\
             [[milestones]]\nid = \"m\"\nphase = \"迁移\"\nname = \"历史办件迁移\"\nowner = \"接入工程师\"\n\
             duration_working_days = 3\ngate = \"迁移对账无差异\"\n",
            ronghe::calendar::today()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    setup
        .run(&[
            "--config",
            &config,
            "plans",
            "import",
            &plan.display().to_string(),
        ])
        .check(0, &[]);
    setup.run(&["--config", &config, "plans", "show", SYSTEM]).check(
        0,
        &["全量迁移 migration", "complete", "migration-report.md (差异 0)"],
    );
    setup
        .run(&[
            "--config", &config, "plans", "report", SYSTEM, "--format", "markdown",
        ])
        .check(0, &["全量迁移 migration: complete", "migration-report.md"]);
    // A finished run is not resumed; a new run finds everything already stored.
    setup
        .run(&["migrate", "resume", SYSTEM])
        .check(2, &[])
        .stderr_has(&["nothing to resume"]);
    setup.run(&["migrate", "run", SYSTEM]).check(0, &["complete"]);
    assert_eq!(counts(&setup.database).await, (1200, 1200, 1200, 0));

    // The source changes after the run: a case's content differs, reconciliation says which.
    let mut legacy = sqlx::SqliteConnection::connect(&setup.legacy).await.unwrap();
    let (changed,): (String,) =
        sqlx::query_as("SELECT SBLSH FROM SP_BJXX ORDER BY GXSJ, SBLSH LIMIT 1 OFFSET 7")
            .fetch_one(&mut legacy)
            .await
            .unwrap();
    sqlx::query("UPDATE SP_BJXX SET SXMC = SXMC || '(变更)' WHERE SBLSH = $1")
        .bind(&changed)
        .execute(&mut legacy)
        .await
        .unwrap();
    setup
        .run(&["migrate", "run", SYSTEM])
        .check(1, &["incomplete", &changed]);
    let report = setup.report();
    assert_eq!(report["state"], "incomplete");
    let differences = report["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{report:#}");
    assert_eq!(differences[0]["case_no"], changed.as_str());
    assert_eq!(differences[0]["kind"], "content_differs");

    // Once retired (where a full migration ends), the system takes no more runs.
    setup
        .run(&["systems", "retire", SYSTEM, "--reason", "全流程迁移完成"])
        .check(0, &[]);
    for command in ["run", "resume"] {
        setup
            .run(&["migrate", command, SYSTEM])
            .check(1, &[])
            .stderr_has(&["is retired; it takes no more cases"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_random_points_and_resumed_holds_every_case_once() {
    const CASES: i64 = 3000;
    let setup = Setup::new(CASES as usize, 100, None).await;
    let mut rng = fastrand::Rng::with_seed(9);
    let mut args = vec!["migrate", "run", SYSTEM];
    let mut kills = 0;
    for round in 0..6 {
        let mut child = setup.spawn(&args);
        // Kill once the run has read past a seeded random number of rows (or the run ends).
        let target = rng.i64(0..CASES - 500);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let read = rows_read(&setup.database).await;
            if read >= target {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: the run made no progress"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.wait().unwrap();
        args = vec!["migrate", "resume", SYSTEM];
    }
    assert!(kills >= 3, "only {kills} kills landed");
    let status = setup.run(&["--json", "migrate", "status", SYSTEM]);
    if status.json()["state"] != "complete" {
        setup.run(&["migrate", "resume", SYSTEM]).check(0, &["complete"]);
    }
    assert_clean(&setup.report(), CASES);
    assert_eq!(counts(&setup.database).await, (CASES, CASES, CASES, 0));
    let status = setup
        .run(&["--json", "migrate", "status", SYSTEM])
        .check(0, &[])
        .json();
    assert_eq!(status["rows_read"], CASES);
    assert_eq!(status["rows_written"], CASES);
}

/// One process at a time carries a run. While the first lives, a second `migrate resume` is
/// refused, naming the holder, and the first ends clean. A SIGKILLed holder on this machine is
/// taken over at once (the test above); one on another machine only once the run has not moved
/// for five minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_carried_by_one_process_at_a_time() {
    const CASES: i64 = 20_000;
    let setup = Setup::new(CASES as usize, 20, None).await;
    let mut first = setup.spawn(&["migrate", "run", SYSTEM]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while rows_read(&setup.database).await == 0 {
        assert!(first.try_wait().unwrap().is_none(), "the first run ended early");
        assert!(Instant::now() < deadline, "the first run made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    setup
        .run(&["migrate", "resume", SYSTEM])
        .check(2, &[])
        .stderr_has(&["is being carried by", &format!(":{}:", first.id())]);
    assert!(first.wait().unwrap().success());
    assert_clean(&setup.report(), CASES);
    assert_eq!(counts(&setup.database).await, (CASES, CASES, CASES, 0));

    // A run left by a process on another machine: refused while it moved lately, taken over
    // once it has not moved for five minutes.
    setup.write_job(20, 100, 0.5);
    let mut killed = setup.spawn(&["migrate", "run", SYSTEM]);
    while killed.try_wait().unwrap().is_none() && rows_read(&setup.database).await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    let moved = |ago: i64| chrono::Utc::now() - chrono::Duration::seconds(ago);
    set_holder(&setup.database, "elsewhere.example:4242:0000abcd", moved(60)).await;
    setup
        .run(&["migrate", "resume", SYSTEM])
        .check(2, &[])
        .stderr_has(&["elsewhere.example:4242:0000abcd", "5 minutes"]);
    set_holder(&setup.database, "elsewhere.example:4242:0000abcd", moved(6 * 60)).await;
    setup.run(&["migrate", "resume", SYSTEM]).check(0, &["complete"]);
    assert_clean(&setup.report(), CASES);
}

/// Makes `owner` the holder of the latest run, last moved at `at`.
async fn set_holder(database: &str, owner: &str, at: chrono::DateTime<chrono::Utc>) {
    let mut conn = sqlx::SqliteConnection::connect(database).await.unwrap();
    let done = sqlx::query(
        "UPDATE migration_runs SET owner = $1, updated_at = $2
         WHERE id = (SELECT id FROM migration_runs ORDER BY started_at DESC LIMIT 1) AND state = 'running'",
    )
    .bind(owner)
    .bind(at)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "no running run to hand to {owner}");
}

/// The running run's rows read, 0 while none runs.
async fn rows_read(database: &str) -> i64 {
    let Ok(mut conn) = sqlx::SqliteConnection::connect(database).await else {
        return 0;
    };
    sqlx::query_as::<_, (i64,)>("SELECT rows_read FROM migration_runs WHERE state = 'running'")
        .fetch_optional(&mut conn)
        .await
        .ok()
        .flatten()
        .map_or(0, |(n,)| n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_queued_with_reasons_and_the_error_budget_stops_the_run() {
    let setup = Setup::new(1000, 100, None).await;
    // Every 50th case gets a region code that is not a division: 20 bad records.
    let mut legacy = sqlx::SqliteConnection::connect(&setup.legacy).await.unwrap();
    let bad = sqlx::query("UPDATE SP_BJXX SET XZQHDM = '999999' WHERE rowid % 50 = 0")
        .execute(&mut legacy)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(bad, 20);
    setup.write_job(100, 5, 0.5);
    setup
        .run(&["migrate", "run", SYSTEM])
        .check(1, &["stopped", "max_rejects = 5"]);
    let status = setup
        .run(&["--json", "migrate", "status", SYSTEM])
        .check(1, &[])
        .json();
    assert_eq!(status["state"], "stopped");
    assert!(status["message"].as_str().unwrap().contains("错误预算"));
    let stopped_at = status["rows_read"].as_i64().unwrap();
    assert!(stopped_at < 1000, "{status}");
    // The plan dashboard sees the stopped run; there is no report yet.
    let (code, body) = api_get(&setup.database, "/api/v1/systems/sim-sql/migration").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["run"]["state"], "stopped");
    assert_eq!(body["report_url"], Value::Null);
    let (code, body) = api_get(&setup.database, "/api/v1/systems/sim-sql/migration/report").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_report"))
    );
    // The rejects so far are in the quality queue with their reasons.
    let queued = setup
        .run(&["--json", "quality", "list", "--system", SYSTEM])
        .check(0, &[])
        .json();
    let items = queued.as_array().unwrap();
    assert!(items.len() > 5, "{queued}");
    assert!(items.iter().all(|i| i["channel"] == "migration"
        && i["reasons"].as_array().is_some_and(|r| !r.is_empty())
        && i["case_no"].is_string()));
    // A run cannot start over an unfinished one.
    setup
        .run(&["migrate", "run", SYSTEM])
        .check(2, &[])
        .stderr_has(&["resume"]);
    // The budget is raised: the run resumes where it stopped and completes.
    setup.write_job(100, 50, 0.5);
    setup.run(&["migrate", "resume", SYSTEM]).check(0, &["complete"]);
    let report = setup.report();
    assert_eq!(report["rows_rejected"], 20);
    assert_clean(&report, 980);
    assert_eq!(counts(&setup.database).await, (980, 980, 980, 20));
    let (code, body) = api_get(&setup.database, "/api/v1/systems/sim-sql/migration").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["run"]["state"], "complete");
    assert_eq!(body["progress"], 1.0);
    let url = body["report_url"].as_str().unwrap().to_owned();
    let (code, json) = api_get(&setup.database, &url).await;
    assert_eq!((code, &json["rows_rejected"]), (StatusCode::OK, &Value::from(20)));
    let (code, md) = api_get(&setup.database, &format!("{url}?format=md")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        md.as_str()
            .unwrap()
            .contains("拒收(数据质量队列) rejected (quality queue) | 20"),
        "{md}"
    );
    let (code, body) = api_get(&setup.database, &format!("{url}?format=pdf")).await;
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("format"))
    );
}

#[cfg(feature = "postgres-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_into_a_postgres_store_reconciles_clean() {
    let url = common::fresh_pg_url().await;
    let setup = Setup::new(1500, 400, Some(url.clone())).await;
    setup.run(&["migrate", "run", SYSTEM]).check(0, &["complete"]);
    assert_clean(&setup.report(), 1500);
    assert_eq!(counts(&url).await, (1500, 1500, 1500, 0));
}

/// The source is a PostgreSQL, then a MariaDB database (the SQL adapter reads each in its own
/// dialect): every case moves and the run reconciles clean.
#[cfg(feature = "postgres-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_from_postgres_and_mariadb_sources_reconcile_clean() {
    for legacy in [common::fresh_pg_url().await, common::fresh_mysql_url().await] {
        let setup = Setup::with_source(1500, 400, None, Some(legacy.clone())).await;
        setup.run(&["migrate", "run", SYSTEM]).check(0, &["complete"]);
        assert_clean(&setup.report(), 1500);
        assert_eq!(counts(&setup.database).await, (1500, 1500, 1500, 0), "{legacy}");
    }
}
