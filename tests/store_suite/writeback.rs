//! The write-back intake's store behaviour on every backend: nonces taken once even by
//! concurrent writers, old nonces purged, the data-quality queue idempotent by record hash,
//! filtered listings, and status changes that leave an audit trail.

use chrono::{Duration, Utc};
use ronghe::store::{
    IntakeCommit, IntakeWrite, NONCE_RETENTION_SECONDS, NewQualityItem, QualityReason, QualityStatus, Store,
    UpsertOutcome,
};
use serde_json::json;

use crate::common;

async fn with_system(store: &Store, id: &str) {
    store
        .insert_system(&common::system(id), "test")
        .await
        .expect("insert system");
}

pub async fn writeback_nonces_are_taken_once(store: Store) {
    with_system(&store, "wb-a").await;
    with_system(&store, "wb-b").await;
    let now = Utc::now();
    // Eight concurrent takes of one nonce: exactly one wins.
    let takes: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_nonce("wb-a", "n-1", now).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for take in takes {
        won += usize::from(take.await.unwrap());
    }
    assert_eq!(won, 1);
    // Nonces are per system.
    assert!(store.take_nonce("wb-b", "n-1", now).await.unwrap());
    // Past the retention, a nonce is purged (the timestamp window refuses such a request anyway).
    let later = now + Duration::seconds(NONCE_RETENTION_SECONDS + 1);
    assert!(store.take_nonce("wb-a", "n-2", later).await.unwrap());
    assert!(store.take_nonce("wb-a", "n-1", later).await.unwrap());
    assert!(!store.take_nonce("wb-a", "n-1", later).await.unwrap());
}

fn item(system: &str, hash: &str, case_no: &str) -> NewQualityItem {
    NewQualityItem {
        system_id: system.to_owned(),
        case_no: Some(case_no.to_owned()),
        version: Some(1),
        channel: "push-json".to_owned(),
        record_hash: hash.to_owned(),
        record: json!({ "caseNo": case_no }),
        reasons: vec![QualityReason {
            code: "canonical".to_owned(),
            field: Some("applicant.certificate_no".to_owned()),
            message: "check digit".to_owned(),
        }],
        mapping_version: Some("m1".to_owned()),
        received_at: Utc::now(),
    }
}

pub async fn quality_queue_is_idempotent_and_audited(store: Store) {
    with_system(&store, "wb-a").await;
    with_system(&store, "wb-b").await;
    let first = store
        .queue_quality_items(
            &[item("wb-a", "h1", "A-1"), item("wb-a", "h2", "A-2")],
            "system:wb-a",
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    // Retried: same ids, nothing added; another system's same hash is its own item.
    let again = store
        .queue_quality_items(
            &[item("wb-a", "h2", "A-2"), item("wb-b", "h1", "B-1")],
            "system:wb-a",
        )
        .await
        .unwrap();
    assert_eq!(again[0], first[1]);
    assert!(!first.contains(&again[1]));
    assert_eq!(store.list_quality_items(None, None, 100).await.unwrap().len(), 3);
    let open_a = store
        .list_quality_items(Some("wb-a"), Some(QualityStatus::Open), 100)
        .await
        .unwrap();
    assert_eq!(
        open_a.iter().map(|i| i.id).collect::<Vec<_>>(),
        [first[1], first[0]]
    );

    let got = store.quality_item(first[0]).await.unwrap();
    assert_eq!(got.record, json!({ "caseNo": "A-1" }));
    assert_eq!(got.reasons[0].code, "canonical");
    assert_eq!(got.mapping_version.as_deref(), Some("m1"));

    let dismissed = store
        .set_quality_status(first[0], QualityStatus::Dismissed, "test data", "reviewer")
        .await
        .unwrap();
    assert_eq!(dismissed.status, QualityStatus::Dismissed);
    assert_eq!(dismissed.note.as_deref(), Some("test data"));
    assert!(dismissed.resolved_at.is_some());
    // A closed item stays as it is.
    let unchanged = store
        .set_quality_status(first[0], QualityStatus::Resolved, "late", "reviewer")
        .await
        .unwrap();
    assert_eq!(unchanged.status, QualityStatus::Dismissed);
    assert_eq!(
        store
            .list_quality_items(Some("wb-a"), Some(QualityStatus::Open), 100)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.quality_item(999_999).await.is_err());
    assert_eq!(
        common::audit_trail(&store, &format!("quality/{}", first[0])).await,
        [
            ("system:wb-a".to_owned(), "quality.queue".to_owned()),
            ("reviewer".to_owned(), "quality.status".to_owned()),
        ]
    );
}

/// A case of `system` with this number and version (the finished fixture).
fn case_of(number: &str, version: i64) -> ronghe::case::Case {
    let mut case = common::case("case_finished");
    case.case_no = number.to_owned();
    case.version = version;
    case
}

/// One request's writes: its nonce, its cases, a refused record; the store's refusals queued
/// under `case_no@version`.
fn write(system: &str, nonce: Option<&str>, cases: Vec<ronghe::case::Case>, refused: &[&str]) -> IntakeWrite {
    let system_id = system.to_owned();
    IntakeWrite {
        system_id: system.to_owned(),
        nonce: nonce.map(str::to_owned),
        cases,
        mapping_version: Some("m1".to_owned()),
        refused: refused.iter().map(|hash| item(system, hash, hash)).collect(),
        on_reject: Box::new(move |_, case, _| {
            item(
                &system_id,
                &format!("{}@{}", case.case_no, case.version),
                &case.case_no,
            )
        }),
        actor: format!("system:{system}"),
    }
}

/// Issue 17: several requests commit in one transaction, their cases merged into one batch
/// per system. A replayed nonce (even one taken earlier in the same group) writes nothing of its
/// request; a case two requests carry is classified as if they came one after the other; the
/// others' cases, nonces and quality items are all stored. A group with a request whose writes
/// fail stores nothing, and committed through `GroupCommit`, the failure is that request's alone.
pub async fn intake_group_commits_each_request_alone(store: Store) {
    with_system(&store, "wb-a").await;
    let changed = {
        let mut changed = case_of("A-1", 1);
        changed.item_name = "另一个事项".to_owned();
        changed
    };
    let writes = vec![
        write(
            "wb-a",
            Some("n-1"),
            vec![case_of("A-1", 1), case_of("A-2", 1)],
            &["bad-1"],
        ),
        // The same nonce again in the same group: replayed, its case not stored.
        write("wb-a", Some("n-1"), vec![case_of("A-3", 1)], &["bad-2"]),
        // A pull: no nonce; version 1 of A-1 again with other content is the store's refusal.
        write("wb-a", None, vec![changed, case_of("A-4", 1)], &[]),
    ];
    let answers = store.commit_group(&writes).await.expect("the group commits");
    assert_eq!(answers.len(), 3);
    let IntakeCommit::Committed {
        outcomes,
        refused,
        rejected,
    } = &answers[0]
    else {
        panic!("{:?}", answers[0]);
    };
    assert_eq!(outcomes, &[UpsertOutcome::Created, UpsertOutcome::Created]);
    assert_eq!(refused.len(), 1);
    assert!(rejected.is_empty());
    assert!(matches!(answers[1], IntakeCommit::Replayed), "{:?}", answers[1]);
    let IntakeCommit::Committed {
        outcomes, rejected, ..
    } = &answers[2]
    else {
        panic!("{:?}", answers[2]);
    };
    assert!(
        matches!(outcomes[0], UpsertOutcome::Rejected { .. }),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], UpsertOutcome::Created);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 0);
    assert_eq!(rejected[0].2.record_hash, "A-1@1");
    let stored = |store: Store, system: &'static str| async move {
        // Every case number the requests below carry.
        let numbers = ["A-1", "A-2", "A-3", "A-4", "A-5", "A-6", "X-1"];
        let mut stored: Vec<String> = store
            .current_cases(system, &numbers)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.case_no)
            .collect();
        stored.sort();
        stored
    };
    assert_eq!(stored(store.clone(), "wb-a").await, ["A-1", "A-2", "A-4"]);
    // Queued: the first request's refused record and the pull's refused case, not the replayed
    // request's record.
    let mut queued: Vec<String> = store
        .list_quality_items(Some("wb-a"), None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|i| i.case_no)
        .collect();
    queued.sort();
    assert_eq!(queued, ["A-1", "bad-1"]);
    assert!(!store.take_nonce("wb-a", "n-1", Utc::now()).await.unwrap());

    // The group's nonces are taken in one statement: a nonce an earlier group took is a replay
    // among fresh ones, and nonces are per system (another system's n-2 is fresh too).
    with_system(&store, "wb-b").await;
    let mixed = vec![
        write("wb-a", Some("n-2"), vec![case_of("A-7", 1)], &[]),
        write("wb-a", Some("n-1"), vec![case_of("A-8", 1)], &[]),
        write("wb-b", Some("n-2"), vec![case_of("B-1", 1)], &[]),
    ];
    let answers = store.commit_group(&mixed).await.expect("the group commits");
    let kinds: Vec<bool> = answers
        .iter()
        .map(|a| matches!(a, IntakeCommit::Committed { .. }))
        .collect();
    assert_eq!(kinds, [true, false, true], "{answers:?}");
    let held = |system: &'static str, numbers: &'static [&'static str]| {
        let store = store.clone();
        async move { store.current_cases(system, numbers).await.unwrap().len() }
    };
    assert_eq!(held("wb-a", &["A-7", "A-8"]).await, 1);
    assert_eq!(held("wb-b", &["B-1"]).await, 1);
    for (system, nonce) in [("wb-a", "n-2"), ("wb-b", "n-2")] {
        assert!(!store.take_nonce(system, nonce, Utc::now()).await.unwrap());
    }

    // A request for an unregistered system fails its insert (foreign key): the group stores
    // nothing; through `GroupCommit`, only that request fails.
    let failing = || {
        vec![
            write("wb-a", Some("n-5"), vec![case_of("A-5", 1)], &[]),
            write("wb-x", Some("n-6"), vec![case_of("X-1", 1)], &[]),
            write("wb-a", Some("n-7"), vec![case_of("A-6", 1)], &[]),
        ]
    };
    assert!(store.commit_group(&failing()).await.is_err());
    assert_eq!(stored(store.clone(), "wb-a").await, ["A-1", "A-2", "A-4"]);
    let commits = ronghe::intake::GroupCommit::new(store.clone());
    let mut answers = Vec::new();
    for write in failing() {
        let commits = commits.clone();
        answers.push(tokio::spawn(async move {
            commits.commit(write).await.map(|(commit, _)| commit)
        }));
    }
    let mut results = Vec::new();
    for answer in answers {
        results.push(answer.await.unwrap());
    }
    assert!(
        matches!(results[0], Ok(IntakeCommit::Committed { .. })),
        "{:?}",
        results[0]
    );
    assert!(results[1].is_err(), "{:?}", results[1]);
    assert!(
        matches!(results[2], Ok(IntakeCommit::Committed { .. })),
        "{:?}",
        results[2]
    );
    assert_eq!(
        stored(store.clone(), "wb-a").await,
        ["A-1", "A-2", "A-4", "A-5", "A-6"]
    );
    assert!(stored(store.clone(), "wb-x").await.is_empty());
}
