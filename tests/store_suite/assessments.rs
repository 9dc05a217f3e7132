//! Assessments in the store, on every backend: rubric versions, a panel's whole life (recusal,
//! sealed rounds, Delphi re-rounds, verdict and status move), concurrent submissions, and the
//! rules about which assessments may open.
#![allow(dead_code, unreachable_pub)]

use ronghe::assessments::{AssessmentError, AssessmentState, Command, Conflict, NewExpert, Outcome};
use ronghe::store::{Guarded, Store, StoreError};
use ronghe::systems::SystemStatus;
use ronghe_assessment::IntegrationMode;
use ronghe_assessment::panel::Sheet;
use ronghe_assessment::rubric::{DEFAULT_RUBRIC, Rubric};

use crate::common::verdict::{self, CHAIR, EXPERTS};
use crate::common::{self, COMPLEX_AND_HARD, Profile, WEAK_AND_SINGLE, expert_sheet};

fn state_code(err: Guarded<AssessmentError>) -> &'static str {
    match err {
        Guarded::Refused(e) => e.code(),
        other => panic!("not a panel refusal: {other:?}"),
    }
}

/// Registers `id`, opens its assessment with the built-in rubric, adds and declares the five
/// experts; returns the assessment id.
async fn panel_of_five(store: &Store, id: &str) -> String {
    store
        .insert_system(&common::system(id), "test")
        .await
        .expect("insert system");
    verdict::panel_of_five(store, id).await
}

async fn submit_sheet(store: &Store, assessment: &str, expert: &str, sheet: Sheet) -> Outcome {
    let command = Command::Submit {
        expert: expert.into(),
        sheet,
    };
    store
        .act_on_assessment(assessment, expert, command)
        .await
        .expect("submit")
}

async fn submit(store: &Store, assessment: &str, expert: usize, profile: Profile) -> Outcome {
    submit_sheet(store, assessment, EXPERTS[expert], expert_sheet(profile, expert)).await
}

async fn decide(store: &Store, assessment: &str) -> Outcome {
    store
        .act_on_assessment(
            assessment,
            CHAIR,
            Command::Decide {
                secrecy_justification: None,
                profile: None,
            },
        )
        .await
        .expect("verdict")
}

pub async fn rubric_versions(store: Store) {
    let builtin = Rubric::builtin();
    let first = store
        .register_rubric(&builtin, DEFAULT_RUBRIC, "author")
        .await
        .unwrap();
    assert_eq!(
        (first.id.as_str(), first.version, first.assessments),
        ("ronghe-default", 1, 0)
    );
    // The same content again changes nothing.
    let again = store
        .register_rubric(&builtin, DEFAULT_RUBRIC, "other")
        .await
        .unwrap();
    assert_eq!(again.registered_by, "author");
    // Other content under an unused version replaces it.
    let changed_source = DEFAULT_RUBRIC.replace("max_iqr = 1.0", "max_iqr = 1.5");
    let changed = Rubric::parse(&changed_source).unwrap();
    let replaced = store
        .register_rubric(&changed, &changed_source, "author")
        .await
        .unwrap();
    assert_eq!(replaced.content_hash, changed.content_hash);
    assert_eq!(store.rubric("ronghe-default", 1).await.unwrap(), changed);
    // Once used, a version never changes: the change needs a new version.
    store.insert_system(&common::system("sys"), "test").await.unwrap();
    store
        .open_assessment("sys", ("ronghe-default", 1), CHAIR, CHAIR)
        .await
        .unwrap();
    let err = store
        .register_rubric(&builtin, DEFAULT_RUBRIC, "author")
        .await
        .unwrap_err();
    assert_eq!(state_code(err), "rubric_version_used");
    let v2_source = DEFAULT_RUBRIC.replace("version = 1", "version = 2");
    let v2 = Rubric::parse(&v2_source).unwrap();
    store.register_rubric(&v2, &v2_source, "author").await.unwrap();
    let listed: Vec<(i64, i64)> = store
        .list_rubrics()
        .await
        .unwrap()
        .iter()
        .map(|r| (r.version, r.assessments))
        .collect();
    assert_eq!(listed, [(1, 1), (2, 0)]);
    assert!(matches!(
        store.rubric("ronghe-default", 9).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
}

pub async fn panel_lifecycle(store: Store) {
    let id = panel_of_five(&store, "gz-shbz").await;
    // Two more: one from the system's own department, one who declares a tie to it.
    for (expert, department) in [("own-dept", "贵阳市市场监督管理局"), ("ties", "省政务服务中心")]
    {
        let new = NewExpert {
            id: expert.into(),
            name: expert.into(),
            department: department.into(),
        };
        store
            .act_on_assessment(&id, CHAIR, Command::AddExpert(new))
            .await
            .unwrap();
    }
    let tie = Conflict {
        with: "贵阳市市场监督管理局".into(),
        reason: "近三年为其提供咨询服务".into(),
    };
    for (expert, conflicts) in [("own-dept", vec![]), ("ties", vec![tie])] {
        let declare = Command::Declare {
            expert: expert.into(),
            conflicts,
        };
        store.act_on_assessment(&id, expert, declare).await.unwrap();
    }
    for expert in ["own-dept", "ties"] {
        let err = store
            .act_on_assessment(
                &id,
                expert,
                Command::Submit {
                    expert: expert.into(),
                    sheet: expert_sheet(COMPLEX_AND_HARD, 0),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(state_code(err), "recused", "{expert}");
    }

    for expert in 0..4 {
        let Outcome::Submitted(receipt) = submit(&store, &id, expert, COMPLEX_AND_HARD).await else {
            panic!("a receipt")
        };
        assert!(receipt.closed.is_none());
    }
    // Sealed: the view says who submitted, never what; the round's summary is refused.
    let view = store.assessment(&id).await.unwrap();
    assert_eq!(view.pending, ["sun-yu"]);
    assert_eq!(view.rounds[0].submitted.len(), 4);
    let text = serde_json::to_string(&view).unwrap();
    assert!(!text.contains("的理由") && !text.contains("\"score"), "{text}");
    assert_eq!(
        state_code(store.round_summary(&id, 1).await.unwrap_err()),
        "sealed"
    );
    assert_eq!(
        state_code(store.verdict_report(&id).await.unwrap_err()),
        "no_verdict"
    );

    let Outcome::Submitted(last) = submit(&store, &id, 4, COMPLEX_AND_HARD).await else {
        panic!("a receipt")
    };
    let closed = last.closed.expect("the last submission closes the round");
    assert_eq!(closed.next_round, None, "the panel agrees: no Delphi round");
    assert_eq!(store.round_summary(&id, 1).await.unwrap(), closed.summary);
    assert_eq!(
        store.assessment(&id).await.unwrap().assessment.state,
        AssessmentState::Closed
    );

    // The system was probed: its profile stands in for the data profile of the Art. 24 risk.
    let probed = ronghe_adapters::Profile {
        entities: vec![ronghe_adapters::Entity {
            name: "getCases".into(),
            kind: "operation".into(),
            fields: ["/applicant/idNo", "/applicant/mobile", "/itemName"]
                .map(|name| ronghe_adapters::Field {
                    name: name.into(),
                    data_type: "string".into(),
                    nullable: false,
                    distinct: Vec::new(),
                })
                .to_vec(),
            record_count: Some(2),
            samples: vec![
                serde_json::json!({"applicant": {"idNo": "52010219900101123X", "mobile": "13985012345"}, "itemName": "养老金申领"}),
                serde_json::json!({"applicant": {"idNo": "520102198512240021", "mobile": "13985012346"}, "itemName": "失业金申领"}),
            ],
        }],
    };
    store.save_profile("gz-shbz", &probed).await.unwrap();
    let Outcome::Decided(report) = store.decide_assessment(&id, CHAIR, None, None).await.unwrap() else {
        panic!("a report")
    };
    assert_eq!(report.verdict.mode, IntegrationMode::CompatibleTransition);
    assert_eq!(report.panel.expected, 5, "recused experts are not expected");
    let findings = report.risk.profile.as_ref().expect("the probe profile was read");
    assert!(
        findings
            .source
            .as_deref()
            .is_some_and(|s| s.contains("adapters probe"))
    );
    let kinds: Vec<String> = findings.sensitive.iter().map(|f| f.kind_label.clone()).collect();
    assert_eq!(kinds, ["个人身份证件号码", "电话号码"]);
    assert!(report.risk.level.is_some());
    let stored = serde_json::to_string(&store.verdict_report(&id).await.unwrap()).unwrap();
    assert!(
        !stored.contains("52010219900101123X") && !stored.contains("13985012345"),
        "samples are never stored"
    );
    assert_eq!(
        store.verdict_report(&id).await.unwrap(),
        *report,
        "the stored report reads back equal"
    );
    assert_eq!(
        store.get_system("gz-shbz").await.unwrap().status,
        SystemStatus::Assessed
    );
    assert_eq!(
        state_code(
            store
                .act_on_assessment(&id, CHAIR, Command::Close)
                .await
                .unwrap_err()
        ),
        "assessment_decided"
    );

    let trail: Vec<String> = common::audit_trail(&store, &id)
        .await
        .into_iter()
        .map(|(actor, action)| format!("{actor} {action}"))
        .collect();
    for expected in [
        "chair-zhang assessment.open",
        "chair-zhang assessment.expert_add",
        "ties assessment.declare",
        "wang-li assessment.score",
        "sun-yu assessment.close",
        "chair-zhang assessment.verdict",
    ] {
        assert!(
            trail.contains(&expected.to_owned()),
            "{expected} missing from {trail:?}"
        );
    }
    assert_eq!(
        common::audit_trail(&store, "gz-shbz")
            .await
            .last()
            .map(|(_, a)| a.as_str()),
        Some("system.assess")
    );
    let portfolio = store.portfolio().await.unwrap();
    let entry = &portfolio.systems[0];
    assert_eq!(
        (entry.mode, entry.confidence.as_deref(), entry.status),
        (
            Some(IntegrationMode::CompatibleTransition),
            Some("高"),
            SystemStatus::Assessed
        )
    );
}

pub async fn delphi_round(store: Store) {
    let id = panel_of_five(&store, "gy-scjg").await;
    // The experts disagree on 办件数据质量: 1, 2, 3, 4, 5.
    for (i, expert) in EXPERTS.iter().enumerate() {
        let mut sheet = expert_sheet(WEAK_AND_SINGLE, i);
        sheet.scores.insert("data_quality".into(), Some(i as u8 + 1));
        sheet
            .reasons
            .insert("data_quality".into(), format!("数据质量理由{i}"));
        submit_sheet(&store, &id, expert, sheet).await;
    }
    let view = store.assessment(&id).await.unwrap();
    assert_eq!(view.assessment.round, 2);
    assert_eq!(view.rounds[1].round.criteria, ["data_quality"]);
    let summary = store.round_summary(&id, 1).await.unwrap();
    assert_eq!(summary.contested, ["data_quality"]);
    let data = summary.criteria.iter().find(|c| c.id == "data_quality").unwrap();
    assert_eq!(
        data.reasons.len(),
        5,
        "the reasons go back to the panel, anonymised"
    );
    assert_eq!(
        state_code(store.round_summary(&id, 2).await.unwrap_err()),
        "sealed"
    );

    // Round 2: three experts converge, the chair closes; the others' round-1 scores stand.
    for expert in &EXPERTS[..3] {
        let mut sheet = Sheet::default();
        sheet.scores.insert("data_quality".into(), Some(3));
        submit_sheet(&store, &id, expert, sheet).await;
    }
    let Outcome::Closed(closed) = store.act_on_assessment(&id, CHAIR, Command::Close).await.unwrap() else {
        panic!("closed")
    };
    assert_eq!(closed.next_round, None);
    let Outcome::Decided(report) = decide(&store, &id).await else {
        panic!("a report")
    };
    assert_eq!(report.verdict.mode, IntegrationMode::FullMigration);
    assert_eq!(report.panel.rounds, 2);
    let data = report.criteria.iter().find(|c| c.id == "data_quality").unwrap();
    // Effective scores: 3, 3, 3 (revised) and 4, 5 (standing).
    assert_eq!(
        data.spread.as_ref().map(|s| s.distribution),
        Some([0, 0, 3, 1, 1])
    );
}

/// Five experts submit at once: every submission is kept and exactly one of them closes the
/// round.
pub async fn concurrent_submissions(store: Store) {
    let id = panel_of_five(&store, "gz-sql").await;
    let tasks: Vec<_> = (0..5)
        .map(|expert| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move { submit(&store, &id, expert, COMPLEX_AND_HARD).await })
        })
        .collect();
    let mut closers = 0;
    for task in tasks {
        if let Outcome::Submitted(receipt) = task.await.unwrap()
            && receipt.closed.is_some()
        {
            closers += 1;
        }
    }
    assert_eq!(closers, 1);
    let view = store.assessment(&id).await.unwrap();
    assert_eq!(view.rounds[0].submitted.len(), 5);
    assert_eq!(view.assessment.state, AssessmentState::Closed);
}

pub async fn which_assessments_may_open(store: Store) {
    let id = panel_of_five(&store, "sys").await;
    let err = store
        .open_assessment("sys", ("ronghe-default", 1), CHAIR, CHAIR)
        .await
        .unwrap_err();
    assert_eq!(state_code(err), "assessment_in_progress");
    for expert in 0..5 {
        submit(&store, &id, expert, WEAK_AND_SINGLE).await;
    }
    decide(&store, &id).await;
    // A reassessment opens once the first has its verdict.
    let second = store
        .open_assessment("sys", ("ronghe-default", 1), "chair-li", "chair-li")
        .await
        .unwrap();
    assert_eq!(
        (second.assessment.id.as_str(), second.assessment.seq),
        ("sys.2", 2)
    );
    assert_eq!(
        store
            .list_assessments(Some("sys"))
            .await
            .unwrap()
            .iter()
            .map(|a| a.seq)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    let portfolio = store.portfolio().await.unwrap();
    assert_eq!(portfolio.systems[0].assessment_id.as_deref(), Some("sys.2"));
    assert_eq!(
        portfolio.systems[0].verdict_assessment_id.as_deref(),
        Some("sys.1")
    );
    // A retired system is not assessed.
    store.insert_system(&common::system("old"), "test").await.unwrap();
    store
        .modify_system("old", "test", ("system.retire", Some("停用")), |s| {
            s.retire("停用", chrono::Utc::now())
        })
        .await
        .unwrap();
    let err = store
        .open_assessment("old", ("ronghe-default", 1), CHAIR, CHAIR)
        .await
        .unwrap_err();
    assert_eq!(state_code(err), "system_retired");
    assert!(matches!(
        store
            .open_assessment("nope", ("ronghe-default", 1), CHAIR, CHAIR)
            .await
            .unwrap_err(),
        Guarded::Store(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .act_on_assessment("nope.1", CHAIR, Command::Close)
            .await
            .unwrap_err(),
        Guarded::Store(StoreError::NotFound { .. })
    ));
}
