//! The platform store's behaviour, written once and run on every backend (SQLite in
//! `tests/store_sqlite.rs`, PostgreSQL in `tests/store_postgres.rs`).
#![allow(dead_code, unreachable_pub)]

mod assessments;

pub use assessments::*;
mod bridge;
mod writeback;

pub use bridge::*;
pub use writeback::*;
mod outbox;

pub use outbox::*;
mod audit;

pub use audit::*;
mod housekeeping;

pub use housekeeping::*;
mod plans;

pub use plans::*;
mod upgrade;

pub use upgrade::*;
mod sealing;

pub use sealing::*;
mod visits;

pub use visits::*;
mod leases;

pub use leases::*;

use chrono::Duration;
use ronghe::case::{Case, Stage};
use ronghe::store::{Guarded, RejectReason, Store, StoreError, UpsertOutcome};
use ronghe::systems::{SystemPatch, SystemStatus};

use crate::common;

/// Version `v` of one case: the application fixture with content that differs per version.
fn version(case_no: &str, v: i64) -> Case {
    let mut c = common::case("case_application");
    c.case_no = case_no.to_owned();
    c.version = v;
    c.updated_at += Duration::minutes(v);
    c
}

async fn with_system(store: &Store, id: &str) {
    store
        .insert_system(&common::system(id), "test")
        .await
        .expect("insert system");
}

pub async fn systems_registry(store: Store) {
    with_system(&store, "gy-a").await;
    with_system(&store, "gy-b").await;
    let err = store
        .insert_system(&common::system("gy-a"), "test")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");

    let now = chrono::Utc::now();
    let patch = SystemPatch {
        status: Some("assessed".into()),
        name: Some("新名称".into()),
        ..Default::default()
    };
    let updated = store
        .modify_system("gy-b", "alice", ("system.update", None), |s| s.apply(patch, now))
        .await
        .unwrap();
    assert_eq!(updated.status, SystemStatus::Assessed);
    assert_eq!(store.get_system("gy-b").await.unwrap(), updated);

    let refused = store
        .modify_system("gy-a", "alice", ("system.update", None), |s| {
            s.apply(
                SystemPatch {
                    status: Some("live".into()),
                    ..Default::default()
                },
                now,
            )
        })
        .await
        .unwrap_err();
    assert!(matches!(refused, Guarded::Refused(_)), "{refused:?}");
    assert_eq!(
        store.get_system("gy-a").await.unwrap().status,
        SystemStatus::Registered,
        "a refused change writes nothing"
    );

    let all = store.list_systems(None).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["gy-a", "gy-b"]
    );
    let assessed = store.list_systems(Some(SystemStatus::Assessed)).await.unwrap();
    assert_eq!(assessed.len(), 1);
    assert!(matches!(
        store.get_system("nope").await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
}

pub async fn idempotent_upsert(store: Store) {
    with_system(&store, "sys").await;
    let case = common::case("case_finished");
    assert_eq!(
        store
            .upsert_cases("sys", std::slice::from_ref(&case))
            .await
            .unwrap(),
        [UpsertOutcome::Created]
    );
    assert_eq!(
        store
            .upsert_cases("sys", std::slice::from_ref(&case))
            .await
            .unwrap(),
        [UpsertOutcome::Duplicate]
    );
    let record = store.get_case("sys", &case.case_no).await.unwrap();
    assert_eq!(
        record.case, case,
        "the stored case reads back equal, offsets included"
    );
    assert_eq!(record.content_hash, case.content_hash());
    assert_eq!(store.case_history("sys", &case.case_no).await.unwrap().len(), 1);
}

pub async fn version_ordering_and_history(store: Store) {
    with_system(&store, "sys").await;
    let outcomes = store.upsert_cases("sys", &[version("c1", 3)]).await.unwrap();
    assert_eq!(outcomes, [UpsertOutcome::Created]);
    // An older version arrives late: history only.
    assert_eq!(
        store.upsert_cases("sys", &[version("c1", 1)]).await.unwrap(),
        [UpsertOutcome::Stale]
    );
    assert_eq!(store.get_case("sys", "c1").await.unwrap().version, 3);
    // A newer one replaces it.
    assert_eq!(
        store.upsert_cases("sys", &[version("c1", 4)]).await.unwrap(),
        [UpsertOutcome::Updated]
    );
    // The same version number with other content is refused, not silently merged.
    let mut altered = version("c1", 4);
    altered.item_name = "另一事项".into();
    assert_eq!(
        store.upsert_cases("sys", &[altered]).await.unwrap(),
        [UpsertOutcome::Rejected {
            reason: RejectReason::VersionConflict { version: 4 }
        }]
    );
    let history = store.case_history("sys", "c1").await.unwrap();
    assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 3, 4]);
    assert_eq!(store.get_case("sys", "c1").await.unwrap().case, version("c1", 4));
}

pub async fn stage_machine_guards_current(store: Store) {
    with_system(&store, "sys").await;
    let finished = common::case("case_finished");
    store
        .upsert_cases("sys", std::slice::from_ref(&finished))
        .await
        .unwrap();
    let mut back = finished.clone();
    back.version += 1;
    back.stage = Stage::Review;
    back.result = None;
    assert_eq!(
        store.upsert_cases("sys", &[back]).await.unwrap(),
        [UpsertOutcome::Rejected {
            reason: RejectReason::IllegalTransition {
                from: Stage::Finished,
                to: Stage::Review
            }
        }]
    );
    assert_eq!(
        store.case_history("sys", &finished.case_no).await.unwrap().len(),
        1,
        "nothing written for a refused version"
    );
}

pub async fn batches_across_chunks(store: Store) {
    with_system(&store, "sys").await;
    // 1,200 cases cross the store's 500-row statement chunks; every tenth arrives twice.
    let mut batch: Vec<Case> = (0..1200).map(|i| version(&format!("b{i:05}"), 1)).collect();
    let repeats: Vec<Case> = batch.iter().step_by(10).cloned().collect();
    batch.extend(repeats);
    let outcomes = store.upsert_cases("sys", &batch).await.unwrap();
    let created = outcomes.iter().filter(|o| **o == UpsertOutcome::Created).count();
    let duplicates = outcomes
        .iter()
        .filter(|o| **o == UpsertOutcome::Duplicate)
        .count();
    assert_eq!((created, duplicates), (1200, 120));
    assert_eq!(store.get_case("sys", "b01199").await.unwrap().version, 1);
    // Several versions of one case inside one batch: the newest becomes current.
    let outcomes = store
        .upsert_cases("sys", &[version("m", 2), version("m", 5), version("m", 3)])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            UpsertOutcome::Created,
            UpsertOutcome::Updated,
            UpsertOutcome::Stale
        ]
    );
    assert_eq!(store.get_case("sys", "m").await.unwrap().version, 5);
}

/// Two writers push interleaved and overlapping versions of one case at once: every version is
/// stored exactly once, exactly one writer sees each version as new, and the newest is current.
pub async fn concurrent_writers(store: Store) {
    with_system(&store, "sys").await;
    const VERSIONS: i64 = 40;
    let writer = |store: Store, order: Vec<i64>| {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for v in order {
                let outcome = store
                    .upsert_cases("sys", &[version("race", v)])
                    .await
                    .expect("upsert");
                seen.push((v, outcome.into_iter().next().expect("one outcome")));
            }
            seen
        })
    };
    let forward: Vec<i64> = (1..=VERSIONS).collect();
    let backward: Vec<i64> = (1..=VERSIONS).rev().collect();
    let (a, b) = tokio::join!(writer(store.clone(), forward), writer(store.clone(), backward));
    let mut all = a.unwrap();
    all.extend(b.unwrap());
    for v in 1..=VERSIONS {
        let fresh = all
            .iter()
            .filter(|(ver, o)| *ver == v && *o != UpsertOutcome::Duplicate)
            .count();
        assert_eq!(fresh, 1, "version {v} was new to exactly one writer: {all:?}");
    }
    assert!(
        all.iter()
            .all(|(_, o)| !matches!(o, UpsertOutcome::Rejected { .. })),
        "{all:?}"
    );
    assert_eq!(store.get_case("sys", "race").await.unwrap().version, VERSIONS);
    assert_eq!(
        store.case_history("sys", "race").await.unwrap().len(),
        VERSIONS as usize
    );
}

pub async fn published_rules(store: Store) {
    use ronghe::rules::{Check, NewRule};
    let rule = |item: &str, field: &str| NewRule {
        item_code: item.to_owned(),
        field: field.to_owned(),
        check: Check::OneOf {
            values: vec!["a".into(), "b".into()],
        },
        description: "测试".to_owned(),
        published_on: "2026-12-01".parse().unwrap(),
    };
    let first = store
        .insert_rule(&rule("ITEM-1", "applicant.phone"), "alice")
        .await
        .unwrap();
    let second = store
        .insert_rule(&rule("*", "applicant.address"), "alice")
        .await
        .unwrap();
    store
        .insert_rule(&rule("ITEM-2", "item_name"), "alice")
        .await
        .unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(store.list_rules(None).await.unwrap().len(), 3);
    let for_item: Vec<i64> = store
        .list_rules(Some("ITEM-1"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        for_item,
        [first.id, second.id],
        "the item's rules and those for every item"
    );
    assert_eq!(
        store.list_rules(Some("ITEM-1")).await.unwrap()[0],
        first,
        "reads back equal"
    );
}

/// An organisation of the registry fixtures: `n` picks its organisation code.
fn organisation(n: u32, name: &str, division: &str) -> ronghe::orgs::Organisation {
    let body = format!("11{division}MB{n:07}");
    ronghe::orgs::Organisation {
        credit_code: format!("{body}{}", ronghe_adapters::sim::data::uscc_check(&body)),
        name: name.to_owned(),
        division: division.to_owned(),
        parent: None,
        aliases: vec![],
        codes: vec![],
        synthetic: false,
    }
}

/// Issue 16: the organisations registry is imported whole or not at all, reads back as written
/// (lists, flags, parent), raises its revision once per import, and two imports at once that
/// would give one name to two agencies leave one of them refused.
pub async fn organisations_registry(store: Store) {
    assert_eq!(store.orgs_revision().await.unwrap(), 0);
    let city = organisation(1, "贵阳市市场监督管理局", "520100");
    let mut county = organisation(2, "南明区市场监督管理局", "520102");
    county.parent = Some(city.credit_code.clone());
    county.aliases = vec!["南明区市监局".into(), "南明市场监管".into()];
    county.codes = vec!["SJJ-NM".into()];
    county.synthetic = true;
    let imported = store
        .import_orgs(vec![(1, county.clone()), (2, city.clone())], "test")
        .await
        .unwrap();
    assert_eq!((imported.created, imported.updated, imported.revision), (2, 0, 1));
    assert_eq!(
        store.list_orgs(None).await.unwrap(),
        [city.clone(), county.clone()]
    );
    assert_eq!(store.list_orgs(Some("520102")).await.unwrap(), [county.clone()]);
    assert_eq!(
        store.get_org(&county.credit_code.to_lowercase()).await.unwrap(),
        county
    );
    let directory = store.org_directory().await.unwrap();
    assert_eq!(directory.revision(), 1);
    assert_eq!(directory.find("sjj-nm").unwrap().credit_code, county.credit_code);

    // Refused: nothing written, the revision as it was.
    let clash = organisation(3, "贵阳市市场监督管理局", "520103");
    let refused = store.import_orgs(vec![(1, clash)], "test").await;
    assert!(matches!(refused, Err(Guarded::Refused(_))), "{refused:?}");
    assert_eq!(store.orgs_revision().await.unwrap(), 1);
    assert_eq!(store.list_orgs(None).await.unwrap().len(), 2);

    let (a, b) = (
        organisation(4, "云岩区市场监督管理局", "520103"),
        organisation(5, "云岩区市场监督管理局", "520103"),
    );
    let (first, second) = tokio::join!(
        store.import_orgs(vec![(1, a)], "test-a"),
        store.import_orgs(vec![(1, b)], "test-b")
    );
    assert_eq!(
        usize::from(first.is_ok()) + usize::from(second.is_ok()),
        1,
        "one import of the name wins: {first:?} {second:?}"
    );
    assert_eq!(store.list_orgs(Some("520103")).await.unwrap().len(), 1);
    assert_eq!(store.orgs_revision().await.unwrap(), 2);
}

/// Generates one `#[tokio::test]` per suite function, opening the store with `$open`.
#[macro_export]
macro_rules! store_suite {
    ($open:expr) => {
        $crate::store_suite!(@tests $open;
            systems_registry, idempotent_upsert, version_ordering_and_history,
            stage_machine_guards_current, batches_across_chunks, concurrent_writers, published_rules,
            organisations_registry,
            rubric_versions, panel_lifecycle, delphi_round, concurrent_submissions, which_assessments_may_open);
        $crate::store_suite!(@tests $open; bridge_auto_links_by_certificate_only,
            bridge_tickets_single_use_bound_and_short_lived, bridge_link_proofs,
            bridge_resolution_reports_unknown_accounts, bridge_key_rotation, bridge_unlink_sticks,
            bridge_release_is_minimal_and_audited, bridge_failed_credentials_are_throttled);
        $crate::store_suite!(@tests $open; writeback_nonces_are_taken_once,
            quality_queue_is_idempotent_and_audited, intake_group_commits_each_request_alone);
        $crate::store_suite!(@tests $open; outbox_enqueues_current_versions_and_claims_heads,
            outbox_status_reads_no_delivered_item, outbox_claim_reads_only_due_heads,
            outbox_writes_find_rows_by_key_with_stale_statistics, bulk_batches_keep_every_value,
            a_mixed_batch_is_settled_item_by_item);
        $crate::store_suite!(@tests $open; audit_chain_verifies_and_names_tampering,
            concurrent_audit_writers_leave_one_chain);
        $crate::store_suite!(@tests $open; housekeeping_plans_use_indexes,
            housekeeping_purges_only_expired_nonces,
            housekeeping_purges_sessions_and_links_a_week_after_they_ended,
            housekeeping_purges_delivered_outbox_items_only,
            housekeeping_purges_finished_job_runs_but_keeps_what_is_named,
            housekeeping_purges_bridge_tokens_a_day_after_they_expired);
        $crate::store_suite!(@tests $open; plans_of_cases_and_versions, plans_of_the_quality_queue,
            plans_of_the_audit_log, plans_of_the_purges, plans_of_the_session_purge);
        $crate::store_suite!(@tests $open; visits_sample_a_months_finished_cases_once_and_record_outcomes);
        $crate::store_suite!(@tests $open; pull_leases_are_held_by_one_node_at_a_time,
            migration_runs_are_taken_over_only_from_gone_or_stale_holders);
    };
    (@tests $open:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $open.await;
                store_suite::$name(store).await;
            }
        )+
    };
}
