//! Stores written before a schema change, carried forward by the current build's migrations.

use std::collections::BTreeMap;

use ronghe::store::Store;
use serde_json::Value;

/// A case's current row as a store at schema 24 held it: (system, case) → (version, body).
pub type CurrentBodies = BTreeMap<(String, String), (i64, Value)>;

/// Reads every current row's body from a store at schema 24 (`cases.body` exists there).
pub const CURRENT_BODIES_SQL: &str = "SELECT system_id, case_no, version, body FROM cases";

/// Adds, to a store at schema 24, a current row whose version has no history row (none is
/// known to exist; the upgrade must still keep its body): a copy of the first case under the
/// number `ORPHAN`.
pub const ORPHAN_SQL: &str =
    "INSERT INTO cases (system_id, case_no, version, content_hash, stage, item_name, region_code, applied_at, body, received_at, mapping_version)
     SELECT system_id, 'ORPHAN', version, content_hash, stage, item_name, region_code, applied_at, body, received_at, mapping_version
     FROM cases WHERE case_no = (SELECT MIN(case_no) FROM cases)";

/// An outbox item as every schema since 0023 holds it: id, case, version, state, attempts, due
/// time, lease holder, failing-since.
pub type OutboxRow = (
    i64,
    String,
    String,
    i64,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
);

/// Reads every outbox item of a SQLite store, in id order (times as stored).
pub const OUTBOX_ROWS_SQL: &str =
    "SELECT id, system_id, case_no, version, state, attempts, next_attempt_at, lease_owner, failing_since
     FROM exchange_outbox ORDER BY id";

/// Issue 18, the outbox on the job queue (migration 0031 drops `lease_until`): every item is
/// kept as it was, and the store counts the old store's backlog and dead letters.
pub async fn outbox_is_carried_forward(store: &Store, before: &[OutboxRow]) {
    assert!(!before.is_empty(), "the old store holds outbox items");
    let ronghe::store::Pool::Sqlite(pool) = store.pool() else {
        unreachable!("a SQLite store")
    };
    let after: Vec<OutboxRow> = sqlx::query_as(OUTBOX_ROWS_SQL).fetch_all(pool).await.unwrap();
    assert_eq!(after, before);
    let status = store.outbox_status().await.unwrap();
    let count = |state: &str| before.iter().filter(|row| row.4 == state).count() as i64;
    assert_eq!((status.backlog, status.dead), (count("pending"), count("dead")));
}

/// Issue 17, each case body stored once: after the upgrade (migration 0025) every case reads
/// back the body and version its current row held before, by one case and by the
/// list of its day; the row without history gained one version; no other version was added.
pub async fn case_bodies_are_carried_forward(store: &Store, before: &CurrentBodies, versions_before: usize) {
    assert!(before.len() > 2, "the old store holds cases: {}", before.len());
    let orphans = before.keys().filter(|(_, case_no)| case_no == "ORPHAN").count();
    assert!(orphans > 0, "the old store holds a current row without history");
    for ((system_id, case_no), (version, body)) in before {
        let record = store
            .get_case(system_id, case_no)
            .await
            .expect("a case of the old store");
        assert_eq!(record.version, *version, "{system_id}/{case_no}");
        assert_eq!(
            &serde_json::to_value(&record.case).unwrap(),
            body,
            "{system_id}/{case_no}: the body the old current row held"
        );
    }
    // Each case is listed on the Beijing day its body says it changed (migration 0026), and its
    // history holds what the old store held.
    let mut days: BTreeMap<(&String, chrono::NaiveDate), Vec<&String>> = BTreeMap::new();
    let mut versions = 0;
    for ((system_id, case_no), (_, body)) in before {
        let updated_at = chrono::DateTime::parse_from_rfc3339(body["updated_at"].as_str().unwrap()).unwrap();
        days.entry((system_id, ronghe::calendar::beijing_date(&updated_at)))
            .or_default()
            .push(case_no);
        versions += store.case_history(system_id, case_no).await.unwrap().len();
    }
    for ((system_id, day), expected) in days {
        let listed = store.cases_changed_on(system_id, day).await.unwrap();
        let listed: Vec<&String> = listed.iter().map(|c| &c.case_no).collect();
        assert_eq!(listed, expected, "{system_id} {day}");
    }
    assert_eq!(
        versions,
        versions_before + orphans,
        "only the rows without history gained a version"
    );
}
