//! The exchange outbox (issue 6): enqueued in the case's transaction, claimed head of case first
//! under a lease, settled only by the lease holder, dead items replayed with an audit event.

use chrono::Duration;
use ronghe::store::{OutboxState, Replay, Settlement, Store, StoreError};

use super::{version, with_system};
use crate::common;

fn keys(items: &[ronghe::store::Claimed]) -> Vec<String> {
    items.iter().map(|c| c.item.key()).collect()
}

/// Claims until something is claimable (a lease ran out, a retry came due by the database's
/// clock), failing after ten seconds.
async fn claim_within(store: &Store, owner: &str, limit: u32) -> Vec<ronghe::store::Claimed> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let claimed = store
            .claim_outbox(owner, limit, Duration::seconds(30))
            .await
            .unwrap();
        if !claimed.is_empty() {
            return claimed;
        }
        assert!(std::time::Instant::now() < deadline, "nothing became claimable");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn outbox_enqueues_current_versions_and_claims_heads(store: Store) {
    with_system(&store, "gy-a").await;
    let lease = Duration::seconds(2);
    // v1 and v3 become current (in this order); v2 arrives late: stale, kept but not delivered;
    // a repeated v3 is a duplicate and enqueues nothing.
    store
        .upsert_cases("gy-a", &[version("A", 1), version("B", 1)])
        .await
        .unwrap();
    store
        .upsert_cases("gy-a", &[version("A", 3), version("A", 2), version("A", 3)])
        .await
        .unwrap();
    let queued: Vec<i64> = store
        .outbox_of_case("gy-a", "A")
        .await
        .unwrap()
        .iter()
        .map(|i| i.version)
        .collect();
    assert_eq!(queued, [1, 3], "stale and duplicate versions are not enqueued");
    assert_eq!(
        store.case_history("gy-a", "A").await.unwrap().len(),
        3,
        "the stale version is in the history"
    );
    let status = store.outbox_status().await.unwrap();
    assert_eq!((status.backlog, status.dead, status.delivered), (3, 0, 0));
    assert!(status.oldest_pending_at.is_some());

    // Only heads: A/1 and B/1, not A/3; the claim counts an attempt and carries the case. Leases
    // and due times are the database's clock (issue 22), so the test waits for them to pass.
    let first = store.claim_outbox("node-1", 10, lease).await.unwrap();
    assert_eq!(keys(&first), ["gy-a/A/1", "gy-a/B/1"]);
    assert_eq!(first[0].case.version, 1);
    assert_eq!(first[0].item.attempts, 1);
    // Leased items and the versions behind them are nobody else's.
    assert!(store.claim_outbox("node-2", 10, lease).await.unwrap().is_empty());

    // Only the lease holder settles.
    let a1 = first[0].item.id;
    assert!(
        !store
            .settle_outbox(a1, "node-2", &Settlement::Delivered)
            .await
            .unwrap()
    );
    assert!(
        store
            .settle_outbox(a1, "node-1", &Settlement::Delivered)
            .await
            .unwrap()
    );
    let next = store.claim_outbox("node-2", 10, lease).await.unwrap();
    assert_eq!(keys(&next), ["gy-a/A/3"], "A/3 is the head once A/1 is delivered");
    // Refused by the exchange: dead.
    let a3 = next[0].item.id;
    let dead = Settlement::Dead {
        error: "HTTP 400 Bad Request".into(),
    };
    assert!(store.settle_outbox(a3, "node-2", &dead).await.unwrap());

    // A crashed node's lease runs out: another node takes the item over; the old owner lost it.
    let b1 = first[1].item.id;
    let taken = claim_within(&store, "node-3", 10).await;
    assert_eq!(keys(&taken), ["gy-a/B/1"]);
    assert!(
        !store
            .settle_outbox(b1, "node-1", &Settlement::Delivered)
            .await
            .unwrap()
    );
    let retry = Settlement::Retry {
        delay: Duration::seconds(2),
        error: "HTTP 503".into(),
    };
    assert!(store.settle_outbox(b1, "node-3", &retry).await.unwrap());
    let failing = store.outbox_of_case("gy-a", "B").await.unwrap();
    assert!(failing[0].failing_since.is_some(), "{failing:?}");
    assert!(
        store.claim_outbox("node-3", 10, lease).await.unwrap().is_empty(),
        "not due before its next attempt"
    );

    // Dead: listed, blocks later versions of its case, replayed with an audit event.
    store.upsert_cases("gy-a", &[version("A", 4)]).await.unwrap();
    let claimed = claim_within(&store, "node-1", 10).await;
    assert_eq!(keys(&claimed), ["gy-a/B/1"], "A/4 waits behind the dead A/3");
    assert!(
        store
            .settle_outbox(claimed[0].item.id, "node-1", &Settlement::Delivered)
            .await
            .unwrap()
    );
    assert_eq!(
        store.outbox_failing_since().await.unwrap(),
        None,
        "delivered: not failing"
    );
    let listed = store
        .outbox_items(OutboxState::Dead, Some("gy-a"), 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_error.as_deref(), Some("HTTP 400 Bad Request"));
    assert!(
        store
            .outbox_items(OutboxState::Dead, Some("gy-b"), 100)
            .await
            .unwrap()
            .is_empty()
    );

    let err = store
        .replay_outbox(&Replay::Ids(vec![a3, a1]), "ops")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(
        store.outbox_status().await.unwrap().dead,
        1,
        "a refused replay changes nothing"
    );
    let replayed = store
        .replay_outbox(
            &Replay::All {
                system_id: Some("gy-a".into()),
            },
            "ops",
        )
        .await
        .unwrap();
    assert_eq!(replayed.len(), 1);
    assert_eq!(
        (replayed[0].state, replayed[0].attempts),
        (OutboxState::Pending, 0)
    );
    assert_eq!(
        common::audit_trail(&store, &a3.to_string()).await,
        [
            ("node-2".to_owned(), "exchange.dead".to_owned()),
            ("ops".to_owned(), "exchange.replay".to_owned())
        ]
    );
    let claimed = store.claim_outbox("node-1", 10, lease).await.unwrap();
    assert_eq!(keys(&claimed), ["gy-a/A/3"]);
    assert!(
        store
            .settle_outbox(claimed[0].item.id, "node-1", &Settlement::Delivered)
            .await
            .unwrap()
    );
    assert_eq!(
        keys(&store.claim_outbox("node-1", 10, lease).await.unwrap()),
        ["gy-a/A/4"]
    );
}

/// Issue 23: the status page reads no delivered item. With a realistic outbox (mostly
/// delivered, a backlog, a few dead), its statement is planned through indexes on both backends,
/// and the maintained delivered counter agrees with the rows.
pub async fn outbox_status_reads_no_delivered_item(store: Store) {
    with_system(&store, "gy-a").await;
    let cases: Vec<_> = (0..20_000).map(|i| version(&format!("C{i:05}"), 1)).collect();
    for chunk in cases.chunks(1000) {
        store.upsert_cases("gy-a", chunk).await.unwrap();
    }
    let lease = Duration::seconds(30);
    let (mut settled_so_far, mut delivered) = (0, 0);
    // As in the soak: all but 1% settled (one in 200 dead, the rest delivered).
    while settled_so_far < 19_800 {
        let limit = (19_800 - settled_so_far).min(1000);
        let claimed = store.claim_outbox("node-1", limit, lease).await.unwrap();
        settled_so_far += u32::try_from(claimed.len()).unwrap();
        let settlements: Vec<_> = claimed
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let settlement = if i % 200 == 0 {
                    Settlement::Dead {
                        error: "refused".to_owned(),
                    }
                } else {
                    delivered += 1;
                    Settlement::Delivered
                };
                (c.item.id, settlement)
            })
            .collect();
        let settled = store.settle_outbox_many("node-1", &settlements).await.unwrap();
        assert!(settled.iter().all(|done| *done));
    }
    let status = store.outbox_status().await.unwrap();
    let dead = 20_000 - status.backlog - delivered;
    assert_eq!((status.delivered, status.dead), (delivered, dead), "{status:?}");
    assert_eq!(status.backlog, 200, "{status:?}");
    assert!(dead > 0, "{status:?}");
    assert_eq!(
        store
            .outbox_items(OutboxState::Dead, None, 1000)
            .await
            .unwrap()
            .len(),
        usize::try_from(dead).unwrap()
    );

    store.analyze().await.expect("analyze");
    super::check_plan(
        &store,
        "the exchange status",
        ronghe::store::outbox_status_sql(),
        &[],
        &["exchange_outbox"],
    )
    .await;
}

/// Issue 22: the claim's cost follows the batch, not the backlog, with the statistics PostgreSQL
/// took of an empty outbox. The old claim (`NOT EXISTS` an earlier open version, per candidate)
/// was planned as a nested-loop anti-join over the open rows: 6 s per claim at a 6,000 backlog.
/// Now it reads due heads through one partial index in the statement's order.
pub async fn outbox_claim_reads_only_due_heads(store: Store) {
    with_system(&store, "gy-a").await;
    store.analyze().await.expect("analyze the empty outbox");
    // 20,000 versions over 5,000 cases, enqueued version by version as an outage builds them up.
    for v in 1..=4 {
        let cases: Vec<_> = (0..5_000).map(|i| version(&format!("H{i:05}"), v)).collect();
        for chunk in cases.chunks(1000) {
            store.upsert_cases("gy-a", chunk).await.unwrap();
        }
    }
    assert_eq!(store.outbox_status().await.unwrap().backlog, 20_000);

    let now = store.clock().await.unwrap();
    let args = [ronghe::store::PlanArg::Time(now), ronghe::store::PlanArg::Int(32)];
    let sql = ronghe::store::claim_sql(store.backend());
    let setup = ronghe::store::claim_setup(store.backend());
    let plan = super::check_plan_with(
        &store,
        "the outbox claim",
        setup,
        &sql,
        &args,
        &["exchange_outbox"],
    )
    .await;
    assert!(
        plan.contains("exchange_outbox_heads"),
        "the claim does not read the heads index on {}:\n{plan}",
        store.backend().name()
    );
    // One access to the outbox: no join, no subquery per candidate, no sort of the backlog.
    let forbidden: &[&str] = match store.backend() {
        ronghe::store::Backend::Sqlite => &["CORRELATED", "TEMP B-TREE", "SUBQUERY"],
        ronghe::store::Backend::Postgres => &["Nested Loop", "Anti", "SubPlan", "\"Sort\""],
    };
    for word in forbidden {
        assert!(!plan.contains(word), "the claim plan has {word}:\n{plan}");
    }
    eprintln!("claim plan on {}:\n{plan}", store.backend().name());

    // And it claims heads only: the first version of 32 cases; their second versions follow
    // once they are delivered, not before.
    let lease = Duration::seconds(30);
    let first = store.claim_outbox("node-1", 32, lease).await.unwrap();
    assert_eq!(first.len(), 32);
    assert!(first.iter().all(|c| c.item.version == 1), "{:?}", keys(&first));
    let settlements: Vec<_> = first.iter().map(|c| (c.item.id, Settlement::Delivered)).collect();
    store.settle_outbox_many("node-1", &settlements).await.unwrap();
    let mut all = Vec::new();
    loop {
        let claimed = store.claim_outbox("node-2", 1000, lease).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        all.extend(claimed);
    }
    assert_eq!(all.len(), 5_000, "one head per case");
    let second: Vec<_> = all
        .iter()
        .filter(|c| c.item.version == 2)
        .map(|c| c.item.key())
        .collect();
    let mut expected: Vec<_> = first
        .iter()
        .map(|c| format!("gy-a/{}/2", c.item.case_no))
        .collect();
    expected.sort();
    let mut second = second;
    second.sort();
    assert_eq!(
        second, expected,
        "the delivered heads' next versions head their cases"
    );
}

/// Issue 22: every statement that claims, leases, settles and enqueues (with the intake's
/// lookups of the batch's cases and versions) finds its rows by key,
/// with statistics PostgreSQL took when the outbox held only delivered history (as after a
/// quiet spell before an outage). Each used to say `state = 'pending'` or `case_no IN (…)`, and
/// PostgreSQL then read the whole backlog through a partial index and filtered it: 24 ms per
/// settled item, 29 ms per lease and 82 ms per enqueued batch at a 100,000 backlog, so a stale
/// drain ran at 0.55 of a fresh one.
pub async fn outbox_writes_find_rows_by_key_with_stale_statistics(store: Store) {
    use ronghe::store::{Backend, PlanArg};

    with_system(&store, "gy-a").await;
    with_system(&store, "gy-b").await;
    let lease = Duration::seconds(30);
    let history: Vec<_> = (0..5_000).map(|i| version(&format!("D{i:05}"), 1)).collect();
    for chunk in history.chunks(1000) {
        store.upsert_cases("gy-a", chunk).await.unwrap();
    }
    loop {
        let claimed = store.claim_outbox("node-1", 1000, lease).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        let settlements: Vec<_> = claimed
            .iter()
            .map(|c| (c.item.id, Settlement::Delivered))
            .collect();
        store.settle_outbox_many("node-1", &settlements).await.unwrap();
    }
    store.analyze().await.expect("analyze the delivered history");
    for v in 1..=4 {
        let cases: Vec<_> = (0..5_000).map(|i| version(&format!("H{i:05}"), v)).collect();
        for chunk in cases.chunks(1000) {
            store.upsert_cases("gy-b", chunk).await.unwrap();
        }
    }
    assert_eq!(store.outbox_status().await.unwrap().backlog, 20_000);
    let backend = store.backend();

    // Leasing and settling: by the primary key and nothing else.
    let now = store.clock().await.unwrap();
    let ids = [
        PlanArg::Time(now),
        PlanArg::Text("node-1".to_owned()),
        PlanArg::Int(7),
        PlanArg::Int(9),
    ];
    let lease_sql = ronghe::store::claim_lease_sql(2);
    let settle = [
        PlanArg::Int(7),
        PlanArg::Time(now),
        PlanArg::Text("node-1".to_owned()),
    ];
    let settle_sql = ronghe::store::settle_sql();
    for (what, sql, args) in [
        ("the lease", &lease_sql, &ids[..]),
        ("the settle", &settle_sql, &settle[..]),
    ] {
        let plan = store.explain(sql, args).await.expect("explain");
        let by_key = super::table_reads(backend, &plan, "exchange_outbox", "exchange_outbox");
        let expected = match backend {
            Backend::Sqlite => "USING INTEGER PRIMARY KEY",
            Backend::Postgres => "exchange_outbox_pkey: ",
        };
        assert!(
            !by_key.is_empty() && by_key.iter().all(|read| read.contains(expected)),
            "{what} does not find its rows by key on {}: {by_key:?}\n{plan}",
            backend.name()
        );
    }

    // Moving the heads (each row then by its key) and asking which cases are open: one probe
    // per case key.
    let key_probe = match backend {
        Backend::Sqlite => "case_no=?",
        Backend::Postgres => "case_no = ",
    };
    let keys: Vec<_> = std::iter::once(PlanArg::Text("gy-b".to_owned()))
        .chain((0..500).map(|i| PlanArg::Text(format!("H{i:05}"))))
        .collect();
    let open_sql = ronghe::store::open_cases_sql(500);
    let move_sql = ronghe::store::move_heads_sql(backend, 500);
    let versions_sql = ronghe::store::rows_of_cases_sql(
        backend,
        "case_versions",
        "t.case_no, t.version, t.content_hash",
        500,
    );
    let cases_sql = ronghe::store::rows_of_cases_sql(backend, "cases", "t.case_no, t.version, t.stage", 500);
    for (what, sql, args, table, alias) in [
        (
            "moving the heads",
            move_sql.as_str(),
            &keys[..],
            "exchange_outbox",
            "e",
        ),
        (
            "the open-case lookup",
            open_sql.as_str(),
            &keys[..],
            "exchange_outbox",
            "o",
        ),
        (
            "the versions lookup",
            versions_sql.as_str(),
            &keys[..],
            "case_versions",
            "t",
        ),
        ("the cases lookup", cases_sql.as_str(), &keys[..], "cases", "t"),
    ] {
        let plan = store.explain(sql, args).await.expect("explain");
        let probes: Vec<_> = super::table_reads(backend, &plan, table, alias)
            .into_iter()
            .filter(|read| !read.contains("PRIMARY KEY") && !read.starts_with("exchange_outbox_pkey"))
            .collect();
        assert!(
            !probes.is_empty() && probes.iter().all(|read| read.contains(key_probe)),
            "{what} does not probe by case on {}: {probes:?}\n{plan}",
            backend.name()
        );
    }
}

/// A large batch and a small one keep every value as written (issue 17: PostgreSQL binds each
/// column as one array, SQLite a multi-row insert): bodies with tabs, newlines, carriage returns,
/// backslashes and quotes, each version in the history at the time the current row has, and
/// each new version's outbox item, due by the database's clock, the lowest heading its case.
pub async fn bulk_batches_keep_every_value(store: Store) {
    with_system(&store, "gy-bulk").await;
    let awkward = "许可\t事项\n第二行\r\\反斜杠\\N \"引号\" \\.";
    for (prefix, size) in [("big", 120), ("small", 3)] {
        let batch: Vec<_> = (0..size)
            .flat_map(|i| {
                [1, 2].map(|v| {
                    let mut c = version(&format!("{prefix}\\{i}"), v);
                    c.item_name = format!("{awkward} {i}");
                    c.applicant.name = format!("张\t三\n{v}");
                    c
                })
            })
            .collect();
        let before = chrono::Utc::now() - Duration::seconds(60);
        let outcomes = store.upsert_cases("gy-bulk", &batch).await.unwrap();
        assert!(
            outcomes.iter().all(|o| matches!(
                o,
                ronghe::store::UpsertOutcome::Created | ronghe::store::UpsertOutcome::Updated
            )),
            "{prefix}: {outcomes:?}"
        );
        for expected in batch.iter().filter(|c| c.version == 2) {
            let current = store.get_case("gy-bulk", &expected.case_no).await.unwrap();
            assert_eq!(
                &current.case, expected,
                "{prefix}: the current body is the one written"
            );
            let history = store.case_history("gy-bulk", &expected.case_no).await.unwrap();
            let written: Vec<_> = batch.iter().filter(|c| c.case_no == expected.case_no).collect();
            assert_eq!(
                history.iter().map(|v| &v.case).collect::<Vec<_>>(),
                written,
                "{prefix}: every version's body"
            );
            let newest = history.iter().find(|v| v.version == 2).unwrap();
            assert_eq!(
                newest.received_at, current.received_at,
                "{prefix}: one received time"
            );
            assert_eq!(newest.content_hash, expected.content_hash());
            let queued = store.outbox_of_case("gy-bulk", &expected.case_no).await.unwrap();
            assert_eq!(
                queued.iter().map(|i| i.version).collect::<Vec<_>>(),
                [1, 2],
                "{prefix}"
            );
            for item in &queued {
                assert_eq!((item.state, item.attempts), (OutboxState::Pending, 0), "{prefix}");
                assert_eq!(
                    item.enqueued_at, item.next_attempt_at,
                    "{prefix}: due when enqueued"
                );
                assert!(
                    item.enqueued_at > before,
                    "{prefix}: enqueued by the database's clock"
                );
            }
        }
        // Only the lowest version of each case heads it: one claim takes exactly those.
        let claimed = store
            .claim_outbox("node-bulk", 1000, Duration::seconds(60))
            .await
            .unwrap();
        let mut heads = keys(&claimed);
        heads.sort();
        let mut expected: Vec<String> = (0..size).map(|i| format!("gy-bulk/{prefix}\\{i}/1")).collect();
        expected.sort();
        assert_eq!(heads, expected, "{prefix}: the heads");
        assert!(claimed.iter().all(|c| c.case.item_name.starts_with(awkward)));
    }
}

/// One batch settled with every kind of settlement, interleaved (issue 17: a settlement is one
/// statement per kind, not one per item): each item gets its own answer in input order, an item
/// another node holds is not settled, a delivered case's next version heads it at once, a retried
/// or dead one's does not, and each dead item leaves one audit event.
pub async fn a_mixed_batch_is_settled_item_by_item(store: Store) {
    use ronghe::store::AuditFilter;

    with_system(&store, "gy-mix").await;
    let cases = ["M0", "M1", "M2", "M3", "M4", "M5"];
    let batch: Vec<_> = cases
        .iter()
        .flat_map(|c| [version(c, 1), version(c, 2)])
        .collect();
    store.upsert_cases("gy-mix", &batch).await.unwrap();
    let lease = Duration::seconds(60);
    let theirs = store.claim_outbox("node-2", 1, lease).await.unwrap();
    assert_eq!(keys(&theirs), ["gy-mix/M0/1"]);
    let mine = store.claim_outbox("node-1", 10, lease).await.unwrap();
    assert_eq!(keys(&mine).len(), 5);
    let id = |case: &str| {
        mine.iter()
            .chain(&theirs)
            .find(|c| c.item.case_no == case)
            .map(|c| c.item.id)
            .unwrap()
    };
    let busy = |error: &str| Settlement::Retry {
        delay: Duration::seconds(60),
        error: error.into(),
    };
    let settlements = [
        (id("M1"), Settlement::Delivered),
        (id("M2"), busy("HTTP 503")),
        (id("M0"), Settlement::Delivered),
        (
            id("M3"),
            Settlement::Dead {
                error: "HTTP 400".into(),
            },
        ),
        (id("M4"), Settlement::Delivered),
        (id("M5"), busy("timed out")),
    ];
    let answers = store.settle_outbox_many("node-1", &settlements).await.unwrap();
    assert_eq!(answers, [true, true, false, true, true, true]);
    let state = |case: &'static str| {
        let store = store.clone();
        async move {
            let items = store.outbox_of_case("gy-mix", case).await.unwrap();
            (items[0].state, items[0].last_error.clone())
        }
    };
    assert_eq!(state("M1").await, (OutboxState::Delivered, None));
    assert_eq!(
        state("M2").await,
        (OutboxState::Pending, Some("HTTP 503".to_owned()))
    );
    assert_eq!(
        state("M5").await,
        (OutboxState::Pending, Some("timed out".to_owned()))
    );
    assert_eq!(
        state("M3").await,
        (OutboxState::Dead, Some("HTTP 400".to_owned()))
    );
    assert_eq!(state("M0").await.0, OutboxState::Pending, "node-2 still holds it");
    let mut next = keys(&store.claim_outbox("node-3", 10, lease).await.unwrap());
    next.sort();
    assert_eq!(
        next,
        ["gy-mix/M1/2", "gy-mix/M4/2"],
        "only the delivered cases move on"
    );
    let dead = store
        .audit_events(&AuditFilter {
            action: Some("exchange.dead".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].target, id("M3").to_string());
}
