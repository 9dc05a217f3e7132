//! Plans of the statements on tables that grow with traffic (issue 23), on every backend: each
//! table is filled to a realistic size by the database itself (`Store::fill`), PostgreSQL's
//! statistics are refreshed, and a statement whose plan reads a whole table fails. The shared
//! helpers (`check_plan`, `check_plan_with`) serve every plan test of the suite: the nonce
//! statements (`housekeeping.rs`) and the exchange status and claim (`outbox.rs`) too.

use chrono::{DateTime, Duration, Utc};
use ronghe::housekeeping::HousekeepingConfig;
use ronghe::store::{Backend, Fill, PlanArg, Purge, Store, purge_sql};
use serde_json::json;

use super::with_system;

/// The full scans of `tables` in a plan, described; empty when every access uses an index.
/// SQLite names a table by its alias in a statement, so aliases go in `tables` too.
fn full_scans(backend: Backend, plan: &str, tables: &[&str]) -> Vec<String> {
    match backend {
        Backend::Sqlite => plan
            .lines()
            .filter(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                words.first() == Some(&"SCAN")
                    && words.get(1).is_some_and(|name| tables.contains(name))
                    && !["USING INDEX", "USING COVERING INDEX", "USING PRIMARY KEY"]
                        .iter()
                        .any(|using| line.contains(using))
            })
            .map(str::to_owned)
            .collect(),
        Backend::Postgres => pg_nodes(plan, tables)
            .into_iter()
            .filter(|node| node.get("Node Type").and_then(|v| v.as_str()) == Some("Seq Scan"))
            .map(|node| {
                let relation = node
                    .get("Relation Name")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                format!("Seq Scan on {relation}")
            })
            .collect(),
    }
}

/// Every node of a PostgreSQL JSON plan that reads one of `tables`.
fn pg_nodes(plan: &str, tables: &[&str]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    fn walk(
        node: &serde_json::Value,
        tables: &[&str],
        found: &mut Vec<serde_json::Map<String, serde_json::Value>>,
    ) {
        match node {
            serde_json::Value::Object(fields) => {
                let relation = fields.get("Relation Name").and_then(|v| v.as_str());
                if relation.is_some_and(|name| tables.contains(&name)) {
                    found.push(fields.clone());
                }
                fields.values().for_each(|v| walk(v, tables, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, tables, found)),
            _ => {}
        }
    }
    let plan: serde_json::Value = serde_json::from_str(plan).expect("plan is JSON");
    let mut found = Vec::new();
    walk(&plan, tables, &mut found);
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
        Backend::Postgres => pg_nodes(plan, &[table])
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

/// Fails when the plan of `sql` scans the whole of one of `tables`; returns the plan.
pub async fn check_plan(store: &Store, what: &str, sql: &str, args: &[PlanArg], tables: &[&str]) -> String {
    check_plan_with(store, what, &[], sql, args, tables).await
}

/// [`check_plan`] after `setup` (the planner settings the statement runs with).
pub async fn check_plan_with(
    store: &Store,
    what: &str,
    setup: &[&str],
    sql: &str,
    args: &[PlanArg],
    tables: &[&str],
) -> String {
    let plan = store.explain_with(setup, sql, args).await.expect("explain");
    let scans = full_scans(store.backend(), &plan, tables);
    assert!(
        scans.is_empty(),
        "{what} scans the whole of {tables:?} on {}: {scans:?}\nstatement: {sql}\nplan:\n{plan}",
        store.backend().name()
    );
    plan
}

/// Fails unless `plan` reads through one of `indexes`.
fn uses(plan: &str, indexes: &[&str], what: &str) {
    assert!(
        indexes.iter().any(|index| plan.contains(index)),
        "{what} does not use {indexes:?}:\n{plan}"
    );
}

const SYSTEM: &str = "plan-a";

fn text(value: &str) -> Fill {
    Fill::Value(PlanArg::Text(value.to_owned()))
}

fn int(value: i64) -> Fill {
    Fill::Value(PlanArg::Int(value))
}

fn at(value: DateTime<Utc>) -> Fill {
    Fill::Value(PlanArg::Time(value))
}

fn document(value: serde_json::Value) -> Fill {
    Fill::Value(PlanArg::Json(value))
}

async fn fill(store: &Store, table: &str, columns: &[(&str, Fill)], numbers: std::ops::RangeInclusive<i64>) {
    let expected = numbers.end() - numbers.start() + 1;
    let added = store.fill(table, columns, numbers).await.expect("fill");
    assert_eq!(added, u64::try_from(expected).unwrap(), "rows added to {table}");
}

/// 20,000 cases of one system with 50,000 versions between them (every case has two, every
/// second one a third), changed over twenty days: reading a case and its history go by key, a
/// day's cases (reconciliation) by `cases_changed_on`.
pub async fn plans_of_cases_and_versions(store: Store) {
    with_system(&store, SYSTEM).await;
    let now = Utc::now();
    let cases = |version: i64| {
        vec![
            ("system_id", text(SYSTEM)),
            ("case_no", Fill::Numbered("C".to_owned())),
            ("version", int(version)),
            ("content_hash", text("hash")),
            ("stage", text("accepted")),
            ("body", document(json!({}))),
            ("received_at", Fill::SecondsAfter(now - Duration::days(30))),
        ]
    };
    // The current row holds no body since issue 17: reading a case joins its version's.
    let mut current: Vec<_> = cases(3)
        .into_iter()
        .filter(|(column, _)| *column != "body")
        .collect();
    current.extend([
        ("item_name", text("事项")),
        ("region_code", text("520102")),
        ("applied_at", at(now)),
        ("applicant_index", Fill::Numbered("k1:applicant-".to_owned())),
    ]);
    // A thousand cases changed on each of twenty days.
    for day in 0..20_i64 {
        let mut of_day = current.clone();
        of_day.push((
            "changed_on",
            Fill::Value(PlanArg::Date(now.date_naive() - Duration::days(day))),
        ));
        fill(&store, "cases", &of_day, day * 1000 + 1..=(day + 1) * 1000).await;
    }
    for version in 1..=2 {
        fill(&store, "case_versions", &cases(version), 1..=20_000).await;
    }
    fill(&store, "case_versions", &cases(3), 1..=10_000).await;
    store.analyze().await.expect("analyze");

    let key = [
        PlanArg::Text(SYSTEM.to_owned()),
        PlanArg::Text("C12345".to_owned()),
    ];
    for (what, sql, table) in [
        (
            "reading a case",
            ronghe::store::GET_CASE,
            &["cases", "case_versions"][..],
        ),
        (
            "a case's history",
            ronghe::store::CASE_HISTORY,
            &["case_versions"][..],
        ),
    ] {
        check_plan(&store, what, sql, &key, table).await;
    }
    let day = [
        PlanArg::Text(SYSTEM.to_owned()),
        PlanArg::Date(now.date_naive() - Duration::days(3)),
    ];
    let plan = check_plan(
        &store,
        "a day's cases",
        ronghe::store::CASES_CHANGED_ON,
        &day,
        &["cases"],
    )
    .await;
    uses(&plan, &["cases_changed_on"], "a day's cases");
    // Issue 17: from the index alone, not a table row per case (PostgreSQL chooses an index-only
    // scan by how much of the table its visibility map covers, which a fresh table lacks).
    if store.backend() == Backend::Sqlite {
        assert!(
            plan.contains("USING COVERING INDEX cases_changed_on"),
            "a day's cases read the table:\n{plan}"
        );
    }
    // Issue 20: an applicant's cases, by the blind index under two keys.
    let applicant = [
        PlanArg::Text("k1:applicant-12345".to_owned()),
        PlanArg::Text("k0:applicant-12345".to_owned()),
        PlanArg::Int(1000),
    ];
    let sql = ronghe::store::cases_of_applicant_sql(2);
    let plan = check_plan(&store, "an applicant's cases", &sql, &applicant, &["cases"]).await;
    uses(&plan, &["cases_applicant"], "an applicant's cases");
}

/// 20,000 refused records of which 200 (the oldest) are still open: the queue's listing of open items,
/// of one system or of all, goes through `quality_items_status`. Issue 23 found it reading the
/// whole queue: the optional filters were written `$1 IS NULL OR system_id = $1`.
pub async fn plans_of_the_quality_queue(store: Store) {
    with_system(&store, SYSTEM).await;
    let now = Utc::now();
    let items = |status: &str| {
        vec![
            ("system_id", text(SYSTEM)),
            ("case_no", Fill::Numbered("C".to_owned())),
            ("version", int(1)),
            ("channel", text("push_json")),
            ("record_hash", Fill::Numbered("record-".to_owned())),
            ("record", document(json!({}))),
            ("reasons", document(json!([]))),
            ("received_at", Fill::SecondsAfter(now - Duration::days(30))),
            ("status", text(status)),
        ]
    };
    // The items left open are the old ones nobody has looked at yet.
    fill(&store, "quality_items", &items("open"), 1..=200).await;
    fill(&store, "quality_items", &items("resolved"), 201..=20_000).await;
    store.analyze().await.expect("analyze");

    let sql = ronghe::store::list_quality_sql(true, true);
    let args = [
        PlanArg::Text(SYSTEM.to_owned()),
        PlanArg::Text("open".to_owned()),
        PlanArg::Int(100),
    ];
    let plan = check_plan(&store, "a system's open items", &sql, &args, &["quality_items"]).await;
    // Either index of the open items will do; not the primary key walked newest first.
    let open = ["quality_items_status", "quality_items_open_case"];
    uses(&plan, &open, "a system's open items");
    let sql = ronghe::store::list_quality_sql(false, true);
    let args = [PlanArg::Text("open".to_owned()), PlanArg::Int(100)];
    let plan = check_plan(&store, "every open item", &sql, &args, &["quality_items"]).await;
    uses(&plan, &open, "every open item");
}

/// 50,000 chained audit events: an append finds its predecessor by seq, and the listing pages
/// by seq and by time without reading the log.
pub async fn plans_of_the_audit_log(store: Store) {
    let now = Utc::now();
    // After whatever opening the store wrote, so the seq stays unique.
    let events = [
        ("seq", Fill::Number),
        ("at", Fill::SecondsAfter(now - Duration::days(2))),
        ("actor", text("host:root@plan")),
        ("action", text("case.read")),
        ("target", Fill::Numbered("case/plan-a/C".to_owned())),
        ("detail", document(json!({}))),
        ("prev_hash", text("0")),
        ("hash", text("0")),
    ];
    fill(&store, "audit_events", &events, 1_000_001..=1_050_000).await;
    store.analyze().await.expect("analyze");

    let plan = check_plan(
        &store,
        "an append's predecessor",
        ronghe::store::audit_log::HASH_BEFORE,
        &[PlanArg::Int(1_050_001)],
        &["audit_events"],
    )
    .await;
    uses(&plan, &["audit_events_seq"], "an append's predecessor");
    let sql = ronghe::store::audit_log::audit_events_sql();
    let page = |since: PlanArg, after: PlanArg| {
        [
            PlanArg::NoText,
            PlanArg::NoText,
            PlanArg::NoText,
            since,
            PlanArg::NoTime,
            after,
            PlanArg::Int(100),
        ]
    };
    let last_hour = page(PlanArg::Time(now - Duration::hours(1)), PlanArg::NoInt);
    check_plan(
        &store,
        "the last hour's events",
        &sql,
        &last_hour,
        &["audit_events"],
    )
    .await;
    let next_page = page(PlanArg::NoTime, PlanArg::Int(1_049_000));
    check_plan(&store, "the next page", &sql, &next_page, &["audit_events"]).await;
}

/// A realistic outbox (45,000 delivered, 5,000 of them past the retention; 4,000 pending heads,
/// 1,000 dead) and 20,000 runs of the minute's `deliver` job (2,000 past the retention, the
/// latest 5,000 named by notifications): each purge finds its rows through its own index.
pub async fn plans_of_the_purges(store: Store) {
    with_system(&store, SYSTEM).await;
    let now = Utc::now();
    let settings = HousekeepingConfig::default();
    let outbox = |state: &str, at: DateTime<Utc>, head: bool| {
        vec![
            ("system_id", text(SYSTEM)),
            ("case_no", Fill::Numbered("C".to_owned())),
            ("version", int(1)),
            ("content_hash", text("hash")),
            ("enqueued_at", Fill::SecondsAfter(at)),
            ("state", text(state)),
            ("attempts", int(1)),
            ("next_attempt_at", Fill::SecondsAfter(at)),
            ("head", Fill::Value(PlanArg::Bool(head))),
        ]
    };
    let delivered = |at: DateTime<Utc>| {
        let mut columns = outbox("delivered", at, false);
        columns.push(("delivered_at", Fill::SecondsAfter(at)));
        columns
    };
    for (columns, numbers) in [
        (delivered(now - Duration::days(30)), 1..=5_000),
        (delivered(now - Duration::days(2)), 5_001..=45_000),
        (outbox("pending", now - Duration::hours(1), true), 45_001..=49_000),
        (outbox("dead", now - Duration::days(3), true), 49_001..=50_000),
    ] {
        fill(&store, "exchange_outbox", &columns, numbers).await;
    }

    let runs = |at: DateTime<Utc>| {
        vec![
            ("job", text("deliver")),
            ("tick", Fill::SecondsAfter(at)),
            ("node", text("node-plan")),
            ("started_at", Fill::SecondsAfter(at)),
            ("finished_at", Fill::SecondsAfter(at)),
            ("outcome", text("ok")),
        ]
    };
    fill(&store, "job_runs", &runs(now - Duration::days(60)), 1..=2_000).await;
    fill(&store, "job_runs", &runs(now - Duration::days(5)), 2_001..=20_000).await;
    // Notifications of the latest runs, naming them by id (the fill's numbers are the ids).
    let notifications = [
        ("dedup_key", Fill::Numbered("plan-".to_owned())),
        ("subject_kind", text("correction")),
        ("subject_id", Fill::Numbered("RC-".to_owned())),
        ("topic", text("overdue")),
        ("level", text("reminder")),
        ("message", text("提醒")),
        ("reminder_count", int(1)),
        ("day", Fill::Value(PlanArg::Date(now.date_naive()))),
        ("job_run_id", Fill::Number),
        ("created_at", at(now)),
        ("delivery_state", text("delivered")),
        ("next_attempt_at", at(now)),
    ];
    fill(&store, "notifications", &notifications, 15_001..=20_000).await;
    store.analyze().await.expect("analyze");

    let backend = store.backend();
    let args = |purge: Purge| [PlanArg::Time(settings.horizon(purge, now)), PlanArg::Int(1000)];
    let plan = check_plan(
        &store,
        "the delivered outbox purge",
        &purge_sql(backend, Purge::DeliveredOutbox),
        &args(Purge::DeliveredOutbox),
        &["exchange_outbox"],
    )
    .await;
    uses(
        &plan,
        &["exchange_outbox_delivered"],
        "the delivered outbox purge",
    );
    let plan = check_plan(
        &store,
        "the job runs purge",
        &purge_sql(backend, Purge::JobRuns),
        &args(Purge::JobRuns),
        &["job_runs", "later", "notifications"],
    )
    .await;
    uses(&plan, &["job_runs_finished"], "the job runs purge");
    uses(&plan, &["notifications_job_run"], "the job runs purge");
}

/// 20,000 staff sessions, of which the last minute's worth ended a week ago (what a pass finds in
/// steady state): the session purge finds them through the indexes on both ends of a session,
/// on PostgreSQL too (the nonce test checks it on SQLite only, where the table is empty).
pub async fn plans_of_the_session_purge(store: Store) {
    let account = "plan-staff";
    crate::common::enrolled(&store, account, &["operator@province"]).await;
    let now = Utc::now();
    let sessions = |opened: DateTime<Utc>, expires: DateTime<Utc>| {
        vec![
            ("id_hash", Fill::Numbered("session-".to_owned())),
            ("account_id", text(account)),
            ("csrf_token", Fill::Numbered("csrf-".to_owned())),
            ("created_at", Fill::SecondsAfter(opened)),
            ("last_seen_at", Fill::SecondsAfter(opened)),
            ("expires_at", Fill::SecondsAfter(expires)),
        ]
    };
    let week_ago = now - Duration::days(8);
    fill(&store, "account_sessions", &sessions(week_ago, week_ago), 1..=20).await;
    let mut revoked = sessions(week_ago, now + Duration::days(1));
    revoked.push(("revoked_at", at(week_ago)));
    fill(&store, "account_sessions", &revoked, 21..=40).await;
    let open = sessions(now - Duration::hours(8), now + Duration::hours(4));
    fill(&store, "account_sessions", &open, 41..=20_000).await;
    store.analyze().await.expect("analyze");

    let horizon = HousekeepingConfig::default().horizon(Purge::Sessions, now);
    let plan = check_plan(
        &store,
        "the session purge",
        &purge_sql(store.backend(), Purge::Sessions),
        &[PlanArg::Time(horizon), PlanArg::Int(1000)],
        &["account_sessions"],
    )
    .await;
    uses(&plan, &["account_sessions_expiry"], "the session purge");
    uses(&plan, &["account_sessions_revoked"], "the session purge");
}
