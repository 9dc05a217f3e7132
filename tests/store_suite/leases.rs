//! The store's one lease (issue 18, `store/lease.rs`) as its holders meet it, on every backend:
//! a system's pull and a bulk-migration run are held by one holder at a time, and only that
//! holder renews or releases them.

use chrono::Duration;
use ronghe::store::{Holder, PullState, RunFinish, RunState, Store};

use super::with_system;
use crate::common;

async fn pull_state(store: &Store, system: &str) -> PullState {
    let states = store.pull_states().await.unwrap();
    states
        .into_iter()
        .find(|s| s.system_id == system)
        .expect("the system's pull state")
}

pub async fn pull_leases_are_held_by_one_node_at_a_time(store: Store) {
    let system = "gy-pull";
    with_system(&store, system).await;
    let now = store.clock().await.unwrap();
    let lease = now + Duration::minutes(5);
    // First seen: due in an hour, so only a forced pull takes it now.
    let first_due = now + Duration::hours(1);
    let claim =
        |owner, at, force| store.claim_pull(system, owner, (at, first_due), at + Duration::minutes(5), force);
    assert_eq!(claim("a", now, false).await.unwrap(), None);
    assert_eq!(claim("a", now, true).await.unwrap(), Some(None));
    // While a holds it, nobody else takes it, forced or not.
    assert_eq!(claim("b", now, true).await.unwrap(), None);
    assert_eq!(
        claim("a", now, true).await.unwrap(),
        None,
        "not twice by its own holder either"
    );
    // Only the holder renews it (with the batch's checkpoint) or releases it.
    assert!(
        store
            .advance_pull(system, "a", Some("cp-1"), 10, lease)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_pull(system, "b", Some("cp-x"), 1, lease)
            .await
            .unwrap()
    );
    store
        .finish_pull(system, "b", now, now, Some("not mine"))
        .await
        .unwrap();
    let held = pull_state(&store, system).await;
    assert_eq!(
        (
            held.running_on.as_deref(),
            held.checkpoint.as_deref(),
            held.records_read,
            held.last_error
        ),
        (Some("a"), Some("cp-1"), 10, None)
    );
    // Once a's lease has run out, b takes it over from the checkpoint, and a has lost it.
    let after = lease + Duration::seconds(1);
    assert_eq!(
        claim("b", after, true).await.unwrap(),
        Some(Some("cp-1".to_owned()))
    );
    assert!(
        !store
            .advance_pull(system, "a", Some("cp-a"), 1, after)
            .await
            .unwrap()
    );
    // b's run ends: released, next due in two hours, its error kept.
    let next = now + Duration::hours(2);
    store
        .finish_pull(system, "b", after, next, Some("source down"))
        .await
        .unwrap();
    let ended = pull_state(&store, system).await;
    assert_eq!(
        (
            ended.running_on,
            ended.next_run_at,
            ended.last_run_at,
            ended.last_error.as_deref()
        ),
        (None, next, Some(after), Some("source down"))
    );
    assert_eq!(
        (ended.checkpoint.as_deref(), ended.records_read),
        (Some("cp-1"), 10)
    );
    // Free but not due: taken only when due (or forced).
    assert_eq!(claim("c", after, false).await.unwrap(), None);
    assert_eq!(
        claim("c", next, false).await.unwrap(),
        Some(Some("cp-1".to_owned()))
    );
}

pub async fn migration_runs_are_taken_over_only_from_gone_or_stale_holders(store: Store) {
    let system = "gy-mig";
    with_system(&store, system).await;
    let run = common::running_migration(&store, system).await;
    let first = "test-host:1:run";
    let holder = |owner| Holder {
        run_id: &run,
        owner,
        actor: "test",
    };
    let claim = |owner, gone, stale_before| store.claim_migration(&run, owner, gone, stale_before, "test");
    let long_ago = store.clock().await.unwrap() - Duration::hours(1);
    // A live holder keeps its run, unless it is known to be gone.
    assert!(!claim("other:2:x", None, long_ago).await.unwrap());
    assert!(
        !claim("other:2:x", Some("someone:9:else"), long_ago)
            .await
            .unwrap()
    );
    assert!(claim("other:2:x", Some(first), long_ago).await.unwrap());
    // The first holder has lost it: it neither renews nor releases it.
    assert!(!store.renew_migration(holder(first)).await.unwrap());
    assert!(
        !store
            .release_migration(holder(first), RunState::Failed, "late")
            .await
            .unwrap()
    );
    // The new holder renews it and takes it again itself.
    assert!(store.renew_migration(holder("other:2:x")).await.unwrap());
    assert!(claim("other:2:x", None, long_ago).await.unwrap());
    // A run that has not moved since the staleness bound is taken over.
    let stale_bound = store.clock().await.unwrap() + Duration::seconds(1);
    assert!(claim("third:3:y", None, stale_bound).await.unwrap());
    // Released by its holder: stopped, held by nobody, not renewed, resumed by anyone.
    assert!(
        store
            .release_migration(holder("third:3:y"), RunState::Stopped, "over budget")
            .await
            .unwrap()
    );
    let stopped = store.migration_run(&run).await.unwrap();
    assert_eq!(
        (stopped.state, stopped.owner, stopped.message.as_deref()),
        (RunState::Stopped, None, Some("over budget"))
    );
    assert!(!store.renew_migration(holder("third:3:y")).await.unwrap());
    assert!(claim("fourth:4:z", None, long_ago).await.unwrap());
    let resumed = store.migration_run(&run).await.unwrap();
    assert_eq!(
        (
            resumed.state,
            resumed.owner.as_deref(),
            resumed.message.as_deref()
        ),
        (RunState::Running, Some("fourth:4:z"), Some("resumed"))
    );
    // Finished by its holder: nobody takes it any more, however stale.
    let report = serde_json::json!({});
    let finish = RunFinish {
        state: RunState::Complete,
        message: "reconciled",
        differences: 0,
        report: &report,
        report_json_path: "migration-report.json",
        report_md_path: "migration-report.md",
        target_hashes: &[],
    };
    assert!(
        store
            .finish_migration(holder("fourth:4:z"), finish)
            .await
            .unwrap()
    );
    let late_bound = store.clock().await.unwrap() + Duration::hours(1);
    assert!(!claim("fifth:5:w", None, late_bound).await.unwrap());
    let finished = store.migration_run(&run).await.unwrap();
    assert_eq!((finished.state, finished.owner), (RunState::Complete, None));
}
