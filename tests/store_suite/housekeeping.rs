//! Housekeeping on every backend (issue 23): the nonce insert and every purge are planned
//! through indexes against a table of realistic size, and a pass purges only what expired, so
//! the replay check stays exact for the whole window; sessions and enrolment links go a week
//! after they ended.

use chrono::{DateTime, Duration, Utc};
use ronghe::housekeeping::{ENDED_RETENTION_DAYS, Housekeeper, HousekeepingConfig};
use ronghe::store::{
    Backend, NONCE_RETENTION_SECONDS, PlanArg, Purge, SessionRow, Store, purge_sql, take_nonce_sql,
};

use super::check_plan;
use crate::common;

/// A housekeeper with the default settings.
fn housekeeper(store: &Store) -> Housekeeper {
    Housekeeper::new(store.clone(), HousekeepingConfig::default())
}

/// The default horizon of `purge` at `now`.
fn horizon(purge: Purge, now: DateTime<Utc>) -> DateTime<Utc> {
    HousekeepingConfig::default().horizon(purge, now)
}

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
        PlanArg::Time(now),
        PlanArg::Time(horizon(Purge::Nonces, now)),
        PlanArg::Text(SYSTEMS[1].to_owned()),
        PlanArg::Text("nonce-new".to_owned()),
    ];
    let plan = check_plan(
        &store,
        "taking a nonce",
        &take_nonce_sql(),
        &take,
        &["writeback_nonces"],
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
        &["writeback_nonces"],
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
        for purge in [
            Purge::Sessions,
            Purge::Enrolments,
            Purge::Challenges,
            Purge::BridgeTokens,
        ] {
            let args = [PlanArg::Time(horizon(purge, now)), PlanArg::Int(1000)];
            check_plan(
                &store,
                purge.name(),
                &purge_sql(backend, purge),
                &args,
                &[purge.table()],
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
    let purged = housekeeper(&store)
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
    let again = housekeeper(&store).pass(now, &|| false).await.expect("pass");
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
    let purged = housekeeper(&store).pass(later, &|| false).await.expect("pass");
    assert_eq!((purged.sessions, purged.enrolments), (2, 1), "{purged:?}");
    assert!(store.session("ended-session-hash").await.unwrap().is_none());
    assert!(store.session("revoked-session-hash").await.unwrap().is_none());
    assert!(store.session("open-session-hash").await.unwrap().is_some());
    assert!(store.enrolment("link-open").await.unwrap().is_some());
    // A week after that link expired, it goes too.
    let much_later = now + Duration::hours(72) + Duration::days(ENDED_RETENTION_DAYS) + Duration::seconds(1);
    let purged = housekeeper(&store)
        .pass(much_later, &|| false)
        .await
        .expect("pass");
    assert_eq!(purged.enrolments, 1, "{purged:?}");
    assert!(store.enrolment("link-open").await.unwrap().is_none());
}

/// Issue 23: delivered outbox items go a retention after their delivery, in batches; pending and
/// dead items stay, and nothing that reads the outbox answers differently: the status (the
/// delivered counter included), the case's history, the head of a case, the enqueue.
pub async fn housekeeping_purges_delivered_outbox_items_only(store: Store) {
    use super::version;
    use ronghe::store::{OutboxState, Settlement};

    let system = SYSTEMS[0];
    with_systems(&store).await;
    let cases = [version("A", 1), version("B", 1), version("C", 1), version("A", 2)];
    store.upsert_cases(system, &cases).await.unwrap();
    // The heads A1, B1, C1: two delivered, one dead; A2 waits behind A1, A3 comes later.
    let claimed = store
        .claim_outbox("node-1", 10, Duration::seconds(30))
        .await
        .unwrap();
    let settlements: Vec<_> = claimed
        .iter()
        .map(|c| {
            let settlement = if c.item.case_no == "C" {
                Settlement::Dead {
                    error: "refused".to_owned(),
                }
            } else {
                Settlement::Delivered
            };
            (c.item.id, settlement)
        })
        .collect();
    assert_eq!(settlements.len(), 3, "{claimed:?}");
    store.settle_outbox_many("node-1", &settlements).await.unwrap();
    store.upsert_cases(system, &[version("A", 3)]).await.unwrap();
    let status = store.outbox_status().await.unwrap();
    assert_eq!(
        (status.backlog, status.dead, status.delivered),
        (2, 1, 2),
        "{status:?}"
    );
    let states = |items: Vec<ronghe::store::OutboxItem>| -> Vec<(i64, OutboxState)> {
        items.into_iter().map(|i| (i.version, i.state)).collect()
    };

    // Within the retention nothing goes.
    let purged = housekeeper(&store)
        .pass(Utc::now(), &|| false)
        .await
        .expect("pass");
    assert_eq!(purged.delivered_outbox, 0, "{purged:?}");
    // A week and a day on, in batches of one: the two delivered items, nothing else.
    let later = Utc::now() + Duration::days(8);
    let metrics = ronghe::housekeeping::HousekeepingMetrics::new();
    let purged = housekeeper(&store)
        .with_metrics(metrics.clone())
        .with_batch_rows(1)
        .pass(later, &|| false)
        .await
        .expect("pass");
    assert_eq!(purged.delivered_outbox, 2, "{purged:?}");
    assert_eq!(metrics.purged(Purge::DeliveredOutbox), 2, "counted for /metrics");
    assert_eq!(
        states(store.outbox_of_case(system, "A").await.unwrap()),
        [(2, OutboxState::Pending), (3, OutboxState::Pending)]
    );
    assert_eq!(states(store.outbox_of_case(system, "B").await.unwrap()), []);
    assert_eq!(
        states(store.outbox_of_case(system, "C").await.unwrap()),
        [(1, OutboxState::Dead)],
        "a dead item is never purged"
    );
    assert_eq!(
        store.outbox_status().await.unwrap(),
        status,
        "the status answers the same"
    );
    assert_eq!(store.case_history(system, "A").await.unwrap().len(), 3);

    // A purged version pushed again is not enqueued again: its case holds it already.
    let again = store
        .upsert_cases(system, &[version("A", 1), version("B", 1)])
        .await
        .unwrap();
    assert!(
        again.iter().all(|outcome| matches!(
            outcome,
            ronghe::store::UpsertOutcome::Stale | ronghe::store::UpsertOutcome::Duplicate
        )),
        "{again:?}"
    );
    assert_eq!(states(store.outbox_of_case(system, "B").await.unwrap()), []);
    // A2 still heads its case, and A3 follows it once it is delivered.
    for expected in [2, 3] {
        let claimed = store
            .claim_outbox("node-1", 10, Duration::seconds(30))
            .await
            .unwrap();
        let versions: Vec<_> = claimed.iter().map(|c| c.item.key()).collect();
        assert_eq!(versions, [format!("{system}/A/{expected}")]);
        store
            .settle_outbox(claimed[0].item.id, "node-1", &Settlement::Delivered)
            .await
            .unwrap();
    }
    assert_eq!(
        store.outbox_status().await.unwrap().delivered,
        4,
        "the counter keeps counting"
    );
}

/// Issue 23: finished job runs go a retention after they finished, except each job's latest run
/// and the runs a notification names; a run still going stays. Their audit events stay.
pub async fn housekeeping_purges_finished_job_runs_but_keeps_what_is_named(store: Store) {
    use ronghe::store::{AuditFilter, Level, NewNotification};

    let now = Utc::now();
    let retention = Duration::days(HousekeepingConfig::default().job_runs_retention_days.into());
    let old = now - retention - Duration::days(1);
    // (job, started, finished): plans ran three times long ago; deliver twice long ago (the
    // first queued a notification) and once lately; corrections once unfinished, then once more.
    let runs = [
        ("plans", old, Some(old)),
        ("plans", old + Duration::hours(1), Some(old + Duration::hours(1))),
        ("plans", old + Duration::hours(2), Some(old + Duration::hours(2))),
        ("deliver", old, Some(old)),
        (
            "deliver",
            old + Duration::minutes(1),
            Some(old + Duration::minutes(1)),
        ),
        (
            "deliver",
            now - Duration::hours(1),
            Some(now - Duration::hours(1)),
        ),
        ("corrections", old, None),
        (
            "corrections",
            old + Duration::days(1),
            Some(old + Duration::days(1)),
        ),
    ];
    let mut ids = Vec::new();
    for (job, started, finished) in runs {
        let id = store
            .claim_tick(job, started, "node-1", started)
            .await
            .unwrap()
            .expect("a new tick");
        if let Some(finished) = finished {
            store.finish_run(id, "ok", "", finished).await.unwrap();
        }
        ids.push(id);
    }
    let reminder = NewNotification {
        subject_kind: "correction",
        subject_id: "RC-1".to_owned(),
        topic: "overdue",
        level: Level::Reminder,
        message: "提醒".to_owned(),
        reminder_count: 1,
        day: old.date_naive(),
        dedup_key: "hk-reminder".to_owned(),
    };
    store
        .add_notification(&reminder, Some(ids[3]), old)
        .await
        .unwrap();

    let purged = housekeeper(&store)
        .with_batch_rows(1)
        .pass(now, &|| false)
        .await
        .expect("pass");
    assert_eq!(purged.job_runs, 3, "{purged:?}");
    let kept = |job: &'static str| {
        let store = store.clone();
        async move {
            let mut ids: Vec<i64> = store
                .job_runs(Some(job), false, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|run| run.id)
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    assert_eq!(kept("plans").await, [ids[2]], "the latest run stays");
    assert_eq!(
        kept("deliver").await,
        [ids[3], ids[5]],
        "the run a notification names stays"
    );
    assert_eq!(
        kept("corrections").await,
        [ids[6], ids[7]],
        "an unfinished run stays"
    );
    let finished = store
        .audit_events(&AuditFilter {
            action: Some("scheduler.run".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(finished.len(), 7, "every run's outcome stays in the audit log");
}

/// Issue 23: bridge tickets go a day after they expired, by housekeeping rather than on the path
/// of the next ticket issued; a ticket not expired yet stays usable once.
pub async fn housekeeping_purges_bridge_tokens_a_day_after_they_expired(store: Store) {
    use ronghe::store::TokenUse;

    with_systems(&store).await;
    let system = SYSTEMS[0];
    let now = Utc::now();
    for (jti, expires_at) in [
        ("expired", now - Duration::days(2)),
        ("live", now + Duration::minutes(5)),
    ] {
        store
            .insert_token(
                &ronghe::store::NewToken {
                    jti,
                    kind: "ticket",
                    system_id: system,
                    subject: "link-1",
                    user_id: "user-1",
                    expires_at,
                },
                "test",
            )
            .await
            .unwrap();
    }
    let purged = housekeeper(&store).pass(now, &|| false).await.expect("pass");
    assert_eq!(purged.bridge_tokens, 1, "{purged:?}");
    let used = |jti: &'static str| {
        let store = store.clone();
        async move {
            store
                .use_token((jti, "ticket"), system, now, "test")
                .await
                .unwrap()
        }
    };
    assert_eq!(used("expired").await, TokenUse::Unknown);
    assert_eq!(used("live").await, TokenUse::Fresh("link-1".to_owned()));
    assert_eq!(used("live").await, TokenUse::Used);
}
