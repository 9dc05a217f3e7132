//! The store suite on SQLite (always runs).

mod common;
mod store_suite;

async fn open() -> (ronghe::store::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (common::sqlite_store(&dir).await, dir)
}

store_suite!(open());

/// Issue 17: a store the previous build wrote (`tests/data/stores/v24.sqlite`, `ronghe demo`)
/// keeps every case's body when the current build stores it once, and every outbox item when the
/// outbox drops its lease column (issue 18).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_stores_case_bodies_are_carried_forward() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = common::store_written_by("v24", &dir);
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
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
    let (versions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM case_versions")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let outbox: Vec<store_suite::OutboxRow> = sqlx::query_as(store_suite::OUTBOX_ROWS_SQL)
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let store = ronghe::store::Store::open(&url, &ronghe::store::StoreOptions::default())
        .await
        .expect("the v24 store upgrades");
    store_suite::case_bodies_are_carried_forward(&store, &before, usize::try_from(versions).unwrap()).await;
    store_suite::outbox_is_carried_forward(&store, &outbox).await;
    // Issue 17: the upgrade dropped the outbox index that repeated the unique one.
    let ronghe::store::Pool::Sqlite(pool) = store.pool() else {
        unreachable!("a SQLite store")
    };
    let (left,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM sqlite_master WHERE name = 'exchange_outbox_open'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
    // Issue 16: the upgraded store has an empty organisations registry, ready for an import.
    assert_eq!(store.orgs_revision().await.unwrap(), 0);
    assert!(store.list_orgs(None).await.unwrap().is_empty());
}

/// Issue 20: the SQLite store's files (database, write-ahead log) hold none of the personal
/// values written through a store with keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_files_hold_no_personal_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::sqlite_store(&dir).await;
    let written = store_suite::personal_values_are_sealed_at_rest(store.clone()).await;
    let mut dump = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        dump.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    store_suite::dump_holds_no_personal_value(&written, &dump, "the SQLite files");

    // A case's sealed values are bound to it: moved into another case, they do not open.
    let ronghe::store::Pool::Sqlite(pool) = store.pool() else {
        unreachable!("a SQLite store")
    };
    sqlx::query(
        "UPDATE case_versions SET body = json_set(body, '$.applicant.name',
             (SELECT json_extract(body, '$.applicant.name') FROM case_versions WHERE case_no = 'SEAL-0001'))
         WHERE case_no = 'SEAL-0002'",
    )
    .execute(pool)
    .await
    .unwrap();
    let keyed = common::sealed(store.clone(), "k1", &[("k1", ronghe_crypto::Cipher::Sm4Gcm)]);
    assert!(keyed.get_case("gy-seal", "SEAL-0001").await.is_ok());
    let moved = keyed.get_case("gy-seal", "SEAL-0002").await.unwrap_err();
    assert!(
        matches!(moved, ronghe::store::StoreError::Sealing(_)),
        "{moved:?}"
    );
    store.close().await;
}

/// Issue 17: a SQLite store's write-ahead log is copied into the database file by the store's own
/// checkpointer, off the commit path; writers only checkpoint past a far larger log. Read alone
/// (`immutable`, which ignores the log), the database file comes to hold a committed case within a
/// few checkpoint periods; with SQLite's default, a small write stays in the log until 1,000 pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_checkpointed_off_the_commit_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::sqlite_store(&dir).await;
    let ronghe::store::Pool::Sqlite(pool) = store.pool() else {
        unreachable!("a SQLite store")
    };
    let (writer_pages,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(writer_pages, i64::from(ronghe::store::WRITER_CHECKPOINT_PAGES));

    store
        .insert_system(&common::system("gy-ckpt"), "test")
        .await
        .unwrap();
    store
        .upsert_cases("gy-ckpt", &[common::case("case_application")])
        .await
        .unwrap();
    let file_alone = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("ronghe.db"))
        .immutable(true)
        .read_only(true);
    let mut held = 0;
    for _ in 0..40 {
        tokio::time::sleep(ronghe::store::CHECKPOINT_EVERY / 2).await;
        let mut file = sqlx::ConnectOptions::connect(&file_alone).await.unwrap();
        // Before any checkpoint the file may not even hold the tables: the schema is in the log.
        held = sqlx::query_as("SELECT COUNT(*) FROM case_versions WHERE system_id = 'gy-ckpt'")
            .fetch_one(&mut file)
            .await
            .map_or(0, |(count,): (i64,)| count);
        if held == 1 {
            break;
        }
    }
    assert_eq!(held, 1, "the database file alone holds the committed case");
    store.close().await;
}
