//! Correction requests (Art. 28 校核纠错), pure: where a request comes from, its due date (10
//! working days after the day it is raised, that day not counted), its state machine
//! (`open → answered → closed`, or `open → withdrawn`) and how many working days it is overdue.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError, beijing_date};
use crate::case::FieldIssue;

/// Working days the providing department has to verify, correct and answer (Art. 28).
pub const ANSWER_WORKING_DAYS: u32 = 10;

/// Longest reason or answer accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Where a correction request is raised from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A record refused at intake, in the data-quality queue (`quality_items.id`).
    QualityItem(i64),
    /// A case the platform holds whose content is disputed.
    Case { system_id: String, case_no: String },
}

/// The life of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CorrectionStatus)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    /// Raised; the department has not answered yet.
    Open,
    /// The department has verified, corrected where needed, and answered.
    Answered,
    /// The raiser accepted the answer.
    Closed,
    /// The raiser took the request back before an answer.
    Withdrawn,
}

impl Status {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// zh-CN label for people.
    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "待核实",
            Status::Answered => "已反馈",
            Status::Closed => "已办结",
            Status::Withdrawn => "已撤回",
        }
    }

    pub fn parse(name: &str) -> Option<Status> {
        name.parse().ok()
    }
}

/// A correction request as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Correction {
    pub id: i64,
    pub system_id: String,
    /// The data-quality item it was raised from, if any.
    pub quality_item_id: Option<i64>,
    /// The case concerned, when known.
    pub case_no: Option<String>,
    /// The providing department (the system's department).
    pub department: String,
    pub reason: String,
    pub raised_by: String,
    pub raised_at: DateTime<Utc>,
    /// The last day for the answer.
    pub due_on: NaiveDate,
    pub status: Status,
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
    /// When it was closed or withdrawn.
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

/// What a person does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The department answers (open only).
    Answer { answer: String },
    /// The raiser accepts the answer (answered only).
    Close,
    /// The raiser takes the request back (open only).
    Withdraw,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Answer { .. } => "answer",
            Action::Close => "close",
            Action::Withdraw => "withdraw",
        }
    }
}

/// Why a request cannot be raised or changed.
#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    /// Bad input, every problem at once.
    #[error("invalid correction request: {}", describe(.0))]
    Invalid(Vec<FieldIssue>),
    /// The source (`field`) names nothing the platform holds.
    #[error("{message}")]
    UnknownSource { field: &'static str, message: String },
    #[error("correction request {0} not found")]
    NotFound(i64),
    /// The state machine refuses the action.
    #[error("correction request {id} is {}: it cannot be {}", .status.name(), past(.action))]
    State {
        id: i64,
        status: Status,
        action: &'static str,
    },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

fn describe(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn past(action: &str) -> &'static str {
    match action {
        "answer" => "answered",
        "close" => "closed",
        _ => "withdrawn",
    }
}

impl CorrectionError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CorrectionError::Invalid(_) => "validation_failed",
            CorrectionError::UnknownSource { .. } | CorrectionError::NotFound(_) => "not_found",
            CorrectionError::State { .. } => "correction_state_conflict",
            CorrectionError::Calendar(_) => "calendar_unknown_year",
        }
    }
}

/// The due date of a request raised at `raised_at`: 10 working days after that day.
pub fn due_on(calendar: &Calendar, raised_at: DateTime<Utc>) -> Result<NaiveDate, CalendarError> {
    calendar.add_working_days(beijing_date(&raised_at), ANSWER_WORKING_DAYS)
}

/// Checks a reason or answer: present and not too long.
pub fn check_text(field: &str, text: &str) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    if text.trim().is_empty() {
        issues.push(FieldIssue {
            field: field.to_owned(),
            rule: "required".to_owned(),
            message: format!("{field} is required: say what is wrong or what was done"),
        });
    } else if text.chars().count() > MAX_TEXT_CHARS {
        issues.push(FieldIssue {
            field: field.to_owned(),
            rule: "max_length".to_owned(),
            message: format!("{field} is longer than {MAX_TEXT_CHARS} characters"),
        });
    }
    issues
}

impl Correction {
    /// The request after `action` by `actor` at `now`, or why the state machine refuses it.
    pub fn apply(
        &self,
        action: &Action,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Correction, CorrectionError> {
        let refused = || CorrectionError::State {
            id: self.id,
            status: self.status,
            action: action.name(),
        };
        let mut next = self.clone();
        match (self.status, action) {
            (Status::Open, Action::Answer { answer }) => {
                let issues = check_text("answer", answer);
                if !issues.is_empty() {
                    return Err(CorrectionError::Invalid(issues));
                }
                next.status = Status::Answered;
                next.answer = Some(answer.trim().to_owned());
                next.answered_at = Some(now);
                next.answered_by = Some(actor.to_owned());
            }
            (Status::Answered, Action::Close) => {
                next.status = Status::Closed;
                next.closed_at = Some(now);
                next.closed_by = Some(actor.to_owned());
            }
            (Status::Open, Action::Withdraw) => {
                next.status = Status::Withdrawn;
                next.closed_at = Some(now);
                next.closed_by = Some(actor.to_owned());
            }
            _ => return Err(refused()),
        }
        Ok(next)
    }

    /// Working days past the due date on `today`: 0 unless the request is still open and
    /// working days have passed since `due_on` (a weekend after the due date does not count).
    pub fn working_days_overdue(&self, calendar: &Calendar, today: NaiveDate) -> Result<i64, CalendarError> {
        if self.status != Status::Open || today <= self.due_on {
            return Ok(0);
        }
        calendar.working_days_between(self.due_on, today)
    }

    /// Whether the request is open and past its due date in working days.
    pub fn is_overdue(&self, calendar: &Calendar, today: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.working_days_overdue(calendar, today)? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn open(due: &str) -> Correction {
        Correction {
            id: 1,
            system_id: "gy-scjg".into(),
            quality_item_id: None,
            case_no: Some("C1".into()),
            department: "贵阳市市场监督管理局".into(),
            reason: "申请人姓名有误".into(),
            raised_by: "alice".into(),
            raised_at: at("2025-09-26T02:00:00Z"),
            due_on: date(due),
            status: Status::Open,
            answer: None,
            answered_at: None,
            answered_by: None,
            closed_at: None,
            closed_by: None,
        }
    }

    #[test]
    fn due_date_skips_the_raising_day_weekends_and_holidays() {
        let calendar = Calendar::embedded();
        // Friday 2025-09-26 (Beijing): the National Day holiday runs 10-01..10-08, with
        // Sunday 09-28 and Saturday 10-11 worked.
        let check = |raised: &str, due: &str| {
            assert_eq!(
                due_on(calendar, at(raised)).unwrap(),
                date(due),
                "raised {raised}"
            );
        };
        check("2025-09-26T02:00:00Z", "2025-10-16");
        // 23:30 UTC on Thursday is Friday in Beijing.
        check("2025-09-25T23:30:00Z", "2025-10-16");
        // An ordinary fortnight: Monday 2025-11-03 → Monday 2025-11-17.
        check("2025-11-03T01:00:00Z", "2025-11-17");
    }

    #[test]
    fn overdue_counts_working_days_only_for_open_requests() {
        let calendar = Calendar::embedded();
        let c = open("2025-11-14"); // a Friday
        assert_eq!(c.working_days_overdue(calendar, date("2025-11-14")).unwrap(), 0);
        assert_eq!(c.working_days_overdue(calendar, date("2025-11-16")).unwrap(), 0);
        assert!(!c.is_overdue(calendar, date("2025-11-16")).unwrap());
        assert_eq!(c.working_days_overdue(calendar, date("2025-11-18")).unwrap(), 2);
        let answered = c
            .apply(
                &Action::Answer {
                    answer: "已更正".into(),
                },
                "dept",
                Utc::now(),
            )
            .unwrap();
        assert_eq!(
            answered
                .working_days_overdue(calendar, date("2025-11-18"))
                .unwrap(),
            0
        );
    }

    #[test]
    fn state_machine() {
        let now = Utc::now();
        let c = open("2025-11-14");
        let answer = Action::Answer {
            answer: "已核实并更正".into(),
        };
        let answered = c.apply(&answer, "dept", now).unwrap();
        assert_eq!(answered.status, Status::Answered);
        assert_eq!(answered.answered_by.as_deref(), Some("dept"));
        let closed = answered.apply(&Action::Close, "alice", now).unwrap();
        assert_eq!(closed.status, Status::Closed);
        for (from, action) in [
            (&closed, &answer),
            (&closed, &Action::Close),
            (&closed, &Action::Withdraw),
            (&answered, &answer),
            (&answered, &Action::Withdraw),
            (&c, &Action::Close),
        ] {
            let err = from.apply(action, "x", now).unwrap_err();
            assert_eq!(err.code(), "correction_state_conflict", "{err}");
        }
        let withdrawn = c.apply(&Action::Withdraw, "alice", now).unwrap();
        assert_eq!(withdrawn.status, Status::Withdrawn);
        assert!(withdrawn.apply(&answer, "dept", now).is_err());
        let blank = c
            .apply(&Action::Answer { answer: "  ".into() }, "dept", now)
            .unwrap_err();
        assert_eq!(blank.code(), "validation_failed");
    }
}
