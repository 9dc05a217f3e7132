//! Return visits (办件回访, Art. 15, issue 21) on every backend: a month's plan samples only
//! that month's finished cases, reproducibly and stratified by system and item, once per system;
//! an outcome is recorded under its rules and audited; a finding opens a correction request
//! (Art. 28) linked to the visit and due 10 working days later on the official calendar.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ronghe::calendar::Calendar;
use ronghe::corrections::Status;
use ronghe::monitoring::{plan_visits, record_visit, visit_report};
use ronghe::store::{AuditFilter, Guarded, Store};
use ronghe::visits::{Month, Outcome, Satisfaction, VisitError};

use super::with_system;
use crate::common;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// Finished cases of `system` for `item`, numbered from `from`, changed on `day` (Beijing).
async fn finished(store: &Store, system: &str, item: &str, count: usize, day: &str) {
    let cases: Vec<_> = (0..count)
        .map(|i| {
            let mut c = common::case("case_finished");
            c.case_no = format!("{system}-{item}-{day}-{i:02}");
            c.implementation_code = item.to_owned();
            c.updated_at = DateTime::parse_from_rfc3339(&format!("{day}T10:00:00+08:00")).unwrap();
            c
        })
        .collect();
    store.upsert_cases(system, &cases).await.unwrap();
}

fn reached(satisfaction: Satisfaction, finding: Option<&str>) -> Outcome {
    Outcome {
        reached: true,
        attempts: 2,
        handled_as_recorded: Some(finding.is_none()),
        satisfaction: Some(satisfaction),
        note: "申请人接听并作答".to_owned(),
        finding: finding.map(str::to_owned),
    }
}

pub async fn visits_sample_a_months_finished_cases_once_and_record_outcomes(store: Store) {
    with_system(&store, "gy-a").await;
    with_system(&store, "zy-b").await;
    finished(&store, "gy-a", "A1", 12, "2025-09-10").await;
    finished(&store, "gy-a", "A2", 3, "2025-09-30").await;
    finished(&store, "zy-b", "B1", 5, "2025-09-01").await;
    // Not the month's: finished in August and October (Beijing days), and one still in review.
    finished(&store, "gy-a", "A1", 2, "2025-08-31").await;
    finished(&store, "gy-a", "A1", 2, "2025-10-01").await;
    let mut open = common::case("case_application");
    open.case_no = "gy-a-open".to_owned();
    open.updated_at = DateTime::parse_from_rfc3339("2025-09-15T10:00:00+08:00").unwrap();
    store.upsert_cases("gy-a", &[open]).await.unwrap();

    let month = Month::parse("2025-09").unwrap();
    let plan = plan_visits(&store, month, None, 6, 42, "operator").await.unwrap();
    assert_eq!(plan.len(), 6);
    let strata = |visits: &[ronghe::visits::Visit]| {
        let mut s: Vec<(String, String)> = visits
            .iter()
            .map(|v| (v.system_id.clone(), v.implementation_code.clone()))
            .collect();
        s.dedup();
        s
    };
    assert_eq!(
        strata(&plan),
        [
            ("gy-a".to_owned(), "A1".to_owned()),
            ("gy-a".to_owned(), "A2".to_owned()),
            ("zy-b".to_owned(), "B1".to_owned())
        ],
        "every system and item is sampled"
    );
    for v in &plan {
        assert!(
            v.case_no.contains("-2025-09-"),
            "only the month's finished cases: {}",
            v.case_no
        );
        assert_eq!((v.month.as_str(), v.seed), ("2025-09", 42));
        assert!(v.outcome.is_none());
    }
    // Once per system and month.
    let again = plan_visits(&store, month, Some("gy-a"), 6, 42, "operator").await;
    assert!(
        matches!(again, Err(Guarded::Refused(VisitError::AlreadyPlanned { ref system, .. })) if system == "gy-a"),
        "{again:?}"
    );
    let none_left = plan_visits(&store, month, None, 6, 7, "operator").await.unwrap();
    assert!(none_left.is_empty(), "every system has its plan: {none_left:?}");

    let (first, second) = (&plan[0], &plan[1]);
    let calendar = Calendar::embedded();
    let raised_at = at("2025-09-26T10:00:00+08:00");
    let visit = record_visit(
        &store,
        calendar,
        first.id,
        &reached(Satisfaction::Dissatisfied, Some("决定书送达日期与记录不符")),
        "operator",
        raised_at,
    )
    .await
    .unwrap();
    let correction_id = visit.correction_id.expect("a finding opens a correction request");
    let correction = store.correction(correction_id).await.unwrap();
    assert_eq!(correction.status, Status::Open);
    assert_eq!(correction.case_no.as_deref(), Some(first.case_no.as_str()));
    assert_eq!(correction.system_id, first.system_id);
    assert!(
        correction.reason.contains("决定书送达日期与记录不符"),
        "{}",
        correction.reason
    );
    // 10 working days after Friday 26 September 2025 on the State Council's 2025 notice: the
    // National Day week (1-8 October) is off, Sunday 28 September and Saturday 11 October work.
    let due: NaiveDate = "2025-10-16".parse().unwrap();
    assert_eq!(correction.due_on, due);
    let mut working = 0;
    let mut day: NaiveDate = "2025-09-26".parse().unwrap();
    while day < due {
        day += Duration::days(1);
        working += i32::from(calendar.is_working_day(day).unwrap());
    }
    assert_eq!(working, 10, "counted independently, day by day");

    // Reached: final. Not reached: may be called again.
    let refused = record_visit(
        &store,
        calendar,
        first.id,
        &reached(Satisfaction::Satisfied, None),
        "operator",
        raised_at,
    )
    .await;
    assert!(
        matches!(refused, Err(Guarded::Refused(VisitError::State { .. }))),
        "{refused:?}"
    );
    let missed = Outcome {
        reached: false,
        attempts: 3,
        handled_as_recorded: None,
        satisfaction: None,
        note: "三次无人接听".to_owned(),
        finding: None,
    };
    record_visit(&store, calendar, second.id, &missed, "operator", raised_at)
        .await
        .unwrap();
    let bad = Outcome {
        attempts: 0,
        ..missed.clone()
    };
    let invalid = record_visit(&store, calendar, second.id, &bad, "operator", raised_at).await;
    assert!(
        matches!(invalid, Err(Guarded::Refused(VisitError::Invalid(_)))),
        "{invalid:?}"
    );
    let later = record_visit(
        &store,
        calendar,
        second.id,
        &reached(Satisfaction::VerySatisfied, None),
        "operator",
        raised_at,
    )
    .await
    .unwrap();
    assert!(later.correction_id.is_none());
    assert!(matches!(
        store.visit(9999).await,
        Err(Guarded::Refused(VisitError::NotFound(9999)))
    ));

    let report = visit_report(&store, month, None).await.unwrap();
    assert_eq!(report.total.planned, 6);
    assert_eq!(report.total.recorded, 2);
    assert_eq!(report.total.reach_rate, Some(1.0));
    assert_eq!(report.total.satisfaction, [1, 0, 0, 1, 0]);
    assert_eq!((report.total.findings, report.total.not_as_recorded), (1, 1));
    assert_eq!(report.rows.len(), 3);

    let events = store.audit_events(&AuditFilter::default()).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for action in ["visit.plan", "visit.record", "correction.raise"] {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }
}
