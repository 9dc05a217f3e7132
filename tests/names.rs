//! The stable names of the enums that are stored and shown (issue 18: their name/parse pairs come
//! from `strum` derives): each name is the one serde writes in JSON, `parse` reads it back, and
//! an unknown or differently cased name is refused.

use ronghe::access::{AccountStatus, Role};
use ronghe::assessments::AssessmentState;
use ronghe::case::Stage;
use ronghe::corrections::Status;
use ronghe::notices::NoticeKind;
use ronghe::store::{HandoffState, Level, OutboxState, QualityStatus, RunState};
use ronghe::systems::SystemStatus;
use serde::Serialize;

/// Every value's name equals its JSON form and parses back to it; names are distinct.
fn check<T: Serialize + Copy + PartialEq + std::fmt::Debug>(
    values: &[T],
    name: impl Fn(T) -> &'static str,
    parse: impl Fn(&str) -> Option<T>,
) {
    let mut seen = std::collections::BTreeSet::new();
    for &value in values {
        let text = name(value);
        assert_eq!(
            serde_json::to_value(value).unwrap(),
            serde_json::json!(text),
            "{value:?}"
        );
        assert_eq!(parse(text), Some(value), "{text}");
        assert_eq!(
            parse(&text.to_uppercase()),
            None,
            "{text} is read as written only"
        );
        assert!(seen.insert(text), "{text} names two values");
    }
    assert_eq!(parse("no_such_name"), None);
    assert_eq!(parse(""), None);
}

#[test]
fn stored_names_are_the_json_names_and_parse_back() {
    check(Stage::ALL, Stage::name, Stage::parse);
    check(&Role::ALL, Role::name, Role::parse);
    check(NoticeKind::ALL, NoticeKind::name, NoticeKind::parse);
    check(
        AssessmentState::ALL,
        AssessmentState::name,
        AssessmentState::parse,
    );
    check(SystemStatus::ALL, SystemStatus::name, SystemStatus::parse);
    check(
        &[
            AccountStatus::Pending,
            AccountStatus::Active,
            AccountStatus::Suspended,
            AccountStatus::Disabled,
        ],
        AccountStatus::name,
        AccountStatus::parse,
    );
    check(
        &[
            HandoffState::Queued,
            HandoffState::Delivered,
            HandoffState::Failed,
        ],
        HandoffState::name,
        HandoffState::parse,
    );
    check(
        &[
            QualityStatus::Open,
            QualityStatus::Dismissed,
            QualityStatus::Resolved,
        ],
        QualityStatus::name,
        QualityStatus::parse,
    );
    check(
        &[
            RunState::Running,
            RunState::Stopped,
            RunState::Failed,
            RunState::Complete,
            RunState::Incomplete,
        ],
        RunState::name,
        RunState::parse,
    );
    check(&[Level::Reminder, Level::Escalation], Level::name, Level::parse);
    check(
        &[Status::Open, Status::Answered, Status::Closed, Status::Withdrawn],
        Status::name,
        Status::parse,
    );
}

#[test]
fn outbox_states_are_named_as_stored() {
    let states = [OutboxState::Pending, OutboxState::Delivered, OutboxState::Dead];
    let names: Vec<_> = states.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["pending", "delivered", "dead"]);
    for state in states {
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::json!(state.name())
        );
    }
}
