//! The store suite on PostgreSQL. Needs `--features postgres-tests` and RONGHE_TEST_PG_URL
//! (`.ci/run` starts a server and sets it); fails, saying how, when the server is missing.
#![cfg(feature = "postgres-tests")]

mod common;
mod store_suite;

async fn open() -> (ronghe::store::Store, ()) {
    (common::pg_store().await, ())
}

store_suite!(open());

/// Issue 17: a PostgreSQL store at schema 24 (migrated by the previous build's migrations, two
/// systems' cases written as that build wrote them: a current row and its versions) keeps
/// every case's body when the current build stores it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_stores_case_bodies_are_carried_forward() {
    use sqlx::Connection as _;
    let url = common::fresh_pg_url().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut previous = sqlx::migrate!("./migrations/postgres");
    previous.migrations = previous
        .migrations
        .iter()
        .filter(|m| m.version <= 24)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    previous
        .run(&mut conn)
        .await
        .expect("the previous build's schema");
    let now = chrono::Utc::now();
    for system in ["gy-a", "gy-b"] {
        sqlx::query(
            "INSERT INTO systems (id, name, department, region_code, protocol, endpoint, secret, status, created_at, updated_at)
             VALUES ($1, '市场监管许可系统', '市场监管局', '520100', 'rest', 'http://x', false, 'registered', $2, $2)",
        )
        .bind(system)
        .bind(now)
        .execute(&mut conn)
        .await
        .unwrap();
        for (case_no, current) in [("C-1", 3_i64), ("C-2", 1)] {
            let mut case = common::case("case_application");
            case.case_no = case_no.to_owned();
            for version in 1..=current {
                case.version = version;
                case.updated_at += chrono::Duration::minutes(1);
                let body = sqlx::types::Json(&case);
                sqlx::query(
                    "INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(system)
                .bind(case_no)
                .bind(version)
                .bind(format!("h{version}"))
                .bind(case.stage.name())
                .bind(body)
                .bind(now)
                .execute(&mut conn)
                .await
                .unwrap();
            }
            sqlx::query(
                "INSERT INTO cases (system_id, case_no, version, content_hash, stage, item_name, region_code, applied_at, body, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(system)
            .bind(case_no)
            .bind(current)
            .bind(format!("h{current}"))
            .bind(case.stage.name())
            .bind(&case.item_name)
            .bind(&case.region_code)
            .bind(case.applied_at.with_timezone(&chrono::Utc))
            .bind(sqlx::types::Json(&case))
            .bind(now)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
    sqlx::query(store_suite::ORPHAN_SQL)
        .execute(&mut conn)
        .await
        .unwrap();
    let before: store_suite::CurrentBodies = sqlx::query_as::<
        _,
        (String, String, i64, sqlx::types::Json<serde_json::Value>),
    >(store_suite::CURRENT_BODIES_SQL)
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|(s, c, v, b)| ((s, c), (v, b.0)))
    .collect();
    conn.close().await.unwrap();
    let store = ronghe::store::Store::open(&url, &ronghe::store::StoreOptions::default())
        .await
        .expect("the schema-24 store upgrades");
    // Four versions of C-1 and C-2 in each of the two systems.
    store_suite::case_bodies_are_carried_forward(&store, &before, 8).await;
}

/// Issue 20: a `pg_dump` of the PostgreSQL store holds none of the personal values written
/// through a store with keys. `pg_dump` is the server's own (PATH, else the newest under
/// /usr/lib/postgresql, where `.ci/run` installs it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_holds_no_personal_value() {
    let url = common::fresh_pg_url().await;
    let store = ronghe::store::Store::open(&url, &ronghe::store::StoreOptions::default())
        .await
        .unwrap();
    let written = store_suite::personal_values_are_sealed_at_rest(store.clone()).await;
    store.close().await;
    let dump = std::process::Command::new(common::pg_dump())
        .args(["--data-only", "--dbname", &url])
        .output()
        .expect("run pg_dump");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    store_suite::dump_holds_no_personal_value(&written, &dump.stdout, "the pg_dump");
}
