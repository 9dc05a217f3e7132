//! Housekeeping on every backend (issue 23): the nonce insert and every purge are planned
//! through indexes against a table of realistic size, and a pass purges only what expired, so
//! the replay check stays exact for the whole window; sessions and enrolment links go a week
//! after they ended.

use chrono::{DateTime, Duration, Utc};
use ronghe::housekeeping::{ENDED_RETENTION_DAYS, Housekeeper, horizon};
use ronghe::store::{
    Backend, NONCE_RETENTION_SECONDS, PlanArg, Purge, SessionRow, Store, purge_sql, take_nonce_sql,
};

use crate::common;

const SYSTEMS: [&str; 3] = ["hk-a", "hk-b", "hk-c"];

async fn with_systems(store: &Store) {
    for id in SYSTEMS {
        store
            .insert_system(&common::system(id), "test")
            .await
            .expect("insert system");
    }
}

/// `count` nonces over `SYSTEMS`, seen evenly over the `span_seconds` before `now`.
fn nonces(count: usize, span_seconds: i64, now: DateTime<Utc>) -> Vec<(String, String, DateTime<Utc>)> {
    (0..count)
        .map(|i| {
            let age = span_seconds * i64::try_from(i).unwrap() / i64::try_from(count).unwrap();
            (
                SYSTEMS[i % SYSTEMS.len()].to_owned(),
                format!("nonce-{i:06}"),
                now - Duration::seconds(age),
            )
        })
        .collect()
}

/// The full scans of `table` in a plan, described; empty when every access uses an index.
fn full_scans(backend: Backend, plan: &str, table: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => plan
            .lines()
            .filter(|line| {
                line.split_whitespace().collect::<Vec<_>>().get(..2) == Some(&["SCAN", table][..])
                    && !["USING INDEX", "USING COVERING INDEX", "USING PRIMARY KEY"]
                        .iter()
                        .any(|using| line.contains(using))
            })
            .map(str::to_owned)
            .collect(),
        Backend::Postgres => pg_nodes(plan, table)
            .into_iter()
            .filter(|node| node.get("Node Type").and_then(|v| v.as_str()) == Some("Seq Scan"))
            .map(|_| format!("Seq Scan on {table}"))
            .collect(),
    }
}

/// Every node of a PostgreSQL JSON plan that reads `table`.
fn pg_nodes(plan: &str, table: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    fn walk(
        node: &serde_json::Value,
        table: &str,
        found: &mut Vec<serde_json::Map<String, serde_json::Value>>,
    ) {
        match node {
            serde_json::Value::Object(fields) => {
                if fields.get("Relation Name").and_then(|v| v.as_str()) == Some(table) {
                    found.push(fields.clone());
                }
                fields.values().for_each(|v| walk(v, table, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, table, found)),
            _ => {}
        }
    }
    let plan: serde_json::Value = serde_json::from_str(plan).expect("plan is JSON");
    let mut found = Vec::new();
    walk(&plan, table, &mut found);
    found
}

/// How a plan reads `table`, one line per access: PostgreSQL's `index: condition` (or the node
/// type when no index is used), SQLite's `SEARCH`/`SCAN` detail lines of the table or `alias`.
pub fn table_reads(backend: Backend, plan: &str, table: &str, alias: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => plan
            .lines()
            .filter(|line| {
                let words: Vec<_> = line.split_whitespace().take(2).collect();
                matches!(words.first(), Some(&("SEARCH" | "SCAN")))
                    && words.get(1).is_some_and(|name| *name == table || *name == alias)
            })
            .map(str::to_owned)
            .collect(),
        Backend::Postgres => pg_nodes(plan, table)
            .into_iter()
            .filter(|node| {
                node.get("Node Type")
                    .and_then(|v| v.as_str())
                    .is_some_and(|t| t.ends_with("Scan"))
            })
            .map(|node| {
                let field = |name: &str| {
                    node.get(name)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                match node.get("Index Name") {
                    Some(_) => format!("{}: {}", field("Index Name"), field("Index Cond")),
                    None => field("Node Type"),
                }
            })
            .collect(),
    }
}

/// Fails when the plan of `sql` scans the whole of `table`; returns the plan.
pub async fn check_plan(store: &Store, what: &str, sql: &str, args: &[PlanArg], table: &str) -> String {
    check_plan_with(store, what, &[], sql, args, table).await
}

/// [`check_plan`] after `setup` (the planner settings the statement runs with).
pub async fn check_plan_with(
    store: &Store,
    what: &str,
    setup: &[&str],
    sql: &str,
    args: &[PlanArg],
    table: &str,
) -> String {
    let plan = store.explain_with(setup, sql, args).await.expect("explain");
    let scans = full_scans(store.backend(), &plan, table);
    assert!(
        scans.is_empty(),
        "{what} scans the whole of {table} on {}: {scans:?}\nstatement: {sql}\nplan:\n{plan}",
        store.backend().name()
    );
    plan
}

pub async fn housekeeping_plans_use_indexes(store: Store) {
    with_systems(&store).await;
    let now = Utc::now();
    // Three hours of nonces: the last two are kept, the hour before is due for purging.
    store
        .insert_nonces(&nonces(50_000, 3 * 3600, now))
        .await
        .expect("load nonces");
    store.analyze().await.expect("analyze");
    let backend = store.backend();

    let take = [
        PlanArg::Text(SYSTEMS[1].to_owned()),
        PlanArg::Text("nonce-new".to_owned()),
        PlanArg::Time(now),
        PlanArg::Time(horizon(Purge::Nonces, now)),
    ];
    let plan = check_plan(
        &store,
        "taking a nonce",
        take_nonce_sql(),
        &take,
        "writeback_nonces",
    )
    .await;
    // SQLite shows no plan for an insert (its conflict check is by the key by construction);
    // PostgreSQL names the index the conflict is checked through.
    if backend == Backend::Postgres {
        assert!(plan.contains("writeback_nonces_pkey"), "{plan}");
    }
    let purge_nonces = [PlanArg::Time(horizon(Purge::Nonces, now)), PlanArg::Int(1000)];
    let plan = check_plan(
        &store,
        "the nonce purge",
        &purge_sql(backend, Purge::Nonces),
        &purge_nonces,
        "writeback_nonces",
    )
    .await;
    // Not a scan, and not a walk of one system's nonces through the primary key either (issue
    // 23: that is how the old per-push purge was planned): the rows are found by their age.
    assert!(
        plan.contains("writeback_nonces_seen"),
        "the nonce purge does not use the seen_at index:\n{plan}"
    );
    // SQLite keeps no statistics, so its plans for the (here empty) account tables are the ones a
    // production store gets; PostgreSQL rightly scans a table this small, so only its nonce plans
    // are checked.
    if backend == Backend::Sqlite {
        for purge in [Purge::Sessions, Purge::Enrolments, Purge::Challenges] {
            let args = [PlanArg::Time(horizon(purge, now)), PlanArg::Int(1000)];
            check_plan(
                &store,
                purge.name(),
                &purge_sql(backend, purge),
                &args,
                purge.table(),
            )
            .await;
        }
    }
}

pub async fn housekeeping_purges_only_expired_nonces(store: Store) {
    with_systems(&store).await;
    let now = Utc::now();
    let retention = Duration::seconds(NONCE_RETENTION_SECONDS);
    let system = SYSTEMS[0];
    // Five expired nonces and two inside the window, one of them a second from its end.
    let mut rows: Vec<_> = (0..5)
        .map(|i| {
            (
                system.to_owned(),
                format!("old-{i}"),
                now - retention - Duration::seconds(60 + i),
            )
        })
        .collect();
    rows.push((
        system.to_owned(),
        "edge".to_owned(),
        now - retention + Duration::seconds(1),
    ));
    rows.push((
        system.to_owned(),
        "recent".to_owned(),
        now - Duration::seconds(30),
    ));
    store.insert_nonces(&rows).await.expect("load nonces");

    // Batches of two: the pass keeps going until a batch comes back short.
    let purged = Housekeeper::new(store.clone())
        .with_batch_rows(2)
        .pass(now, &|| false)
        .await
        .expect("pass");
    assert_eq!(purged.nonces, 5);
    assert_eq!(
        store.nonce_count(system).await.unwrap(),
        2,
        "expired nonces are gone"
    );
    // Inside the window a nonce is still refused as a replay, after the purge as before it.
    assert!(!store.take_nonce(system, "recent", now).await.unwrap());
    assert!(!store.take_nonce(system, "edge", now).await.unwrap());
    // A second pass finds nothing.
    let again = Housekeeper::new(store.clone())
        .pass(now, &|| false)
        .await
        .expect("pass");
    assert!(!again.any(), "{again:?}");
}

/// A session of `account` opened at `now` that expires `expires_in` later.
fn session(account: &str, id_hash: &str, now: DateTime<Utc>, expires_in: Duration) -> SessionRow {
    SessionRow {
        id_hash: id_hash.to_owned(),
        account_id: account.to_owned(),
        csrf_token: format!("csrf-{id_hash}"),
        created_at: now,
        last_seen_at: now,
        expires_at: now + expires_in,
        revoked_at: None,
        client_addr: None,
        user_agent: None,
    }
}

pub async fn housekeeping_purges_sessions_and_links_a_week_after_they_ended(store: Store) {
    let account = "hk-staff";
    common::enrolled(&store, account, &["operator@province"]).await;
    let now = Utc::now();
    // A new link: the one the account enrolled with is marked used now.
    store
        .new_enrolment(account, "link-open", now + Duration::hours(72), "test")
        .await
        .unwrap();
    for (step, (id, expires_in)) in [
        ("ended-session-hash", Duration::hours(12)),
        ("revoked-session-hash", Duration::days(30)),
        ("open-session-hash", Duration::days(30)),
    ]
    .into_iter()
    .enumerate()
    {
        let opened = store
            .sign_in_succeeded(
                account,
                Some(i64::MAX - 10 + i64::try_from(step).unwrap()),
                "totp",
                Some(&session(account, id, now, expires_in)),
            )
            .await
            .unwrap();
        assert!(opened, "{id}");
    }
    store
        .end_sessions(account, Some("revoked-session-hash"), "test")
        .await
        .unwrap();

    // A week and a day on: the session that expired, the one revoked and the used link are gone
    // (`enrolled` signed in for a token, which opens no session); the open session and the link
    // that has not expired yet stay.
    let later = now + Duration::days(ENDED_RETENTION_DAYS + 1);
    let purged = Housekeeper::new(store.clone())
        .pass(later, &|| false)
        .await
        .expect("pass");
    assert_eq!((purged.sessions, purged.enrolments), (2, 1), "{purged:?}");
    assert!(store.session("ended-session-hash").await.unwrap().is_none());
    assert!(store.session("revoked-session-hash").await.unwrap().is_none());
    assert!(store.session("open-session-hash").await.unwrap().is_some());
    assert!(store.enrolment("link-open").await.unwrap().is_some());
    // A week after that link expired, it goes too.
    let much_later = now + Duration::hours(72) + Duration::days(ENDED_RETENTION_DAYS) + Duration::seconds(1);
    let purged = Housekeeper::new(store.clone())
        .pass(much_later, &|| false)
        .await
        .expect("pass");
    assert_eq!(purged.enrolments, 1, "{purged:?}");
    assert!(store.enrolment("link-open").await.unwrap().is_none());
}
