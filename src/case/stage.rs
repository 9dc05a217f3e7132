//! The stage machine of a case (Art. 13: appointment → application → acceptance → review →
//! decision → certificate → finished) with its side exits, and which moves between stages are legal.
//!
//! Legacy systems report snapshots, not every step, so a case may jump forward along the main line
//! (application straight to finished is legal); it may never go back along it, and a terminal
//! stage is final.

use serde::{Deserialize, Serialize};

/// Where a case stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Stage {
    /// 预约
    Appointment,
    /// 申请
    Application,
    /// 受理
    Acceptance,
    /// 审查
    Review,
    /// 决定
    Decision,
    /// 制证
    Certificate,
    /// 办结
    Finished,
    /// 不予受理 (terminal)
    NotAccepted,
    /// 补正: returned to the applicant for correction; resumes at application or acceptance.
    ReturnedForCorrection,
    /// 作废 (terminal)
    Voided,
    /// 转报: handed to another authority (terminal)
    Transferred,
}

impl Stage {
    /// Every stage, main line first.
    pub const ALL: &'static [Stage] = &[
        Stage::Appointment,
        Stage::Application,
        Stage::Acceptance,
        Stage::Review,
        Stage::Decision,
        Stage::Certificate,
        Stage::Finished,
        Stage::NotAccepted,
        Stage::ReturnedForCorrection,
        Stage::Voided,
        Stage::Transferred,
    ];

    /// The zh-CN name.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Appointment => "预约",
            Stage::Application => "申请",
            Stage::Acceptance => "受理",
            Stage::Review => "审查",
            Stage::Decision => "决定",
            Stage::Certificate => "制证",
            Stage::Finished => "办结",
            Stage::NotAccepted => "不予受理",
            Stage::ReturnedForCorrection => "补正",
            Stage::Voided => "作废",
            Stage::Transferred => "转报",
        }
    }

    /// The stable English name used in JSON and in the store.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Parses the English name.
    pub fn parse(value: &str) -> Option<Stage> {
        value.parse().ok()
    }

    /// Position on the main line, or `None` for a side stage.
    fn main_line(self) -> Option<u8> {
        Some(match self {
            Stage::Appointment => 0,
            Stage::Application => 1,
            Stage::Acceptance => 2,
            Stage::Review => 3,
            Stage::Decision => 4,
            Stage::Certificate => 5,
            Stage::Finished => 6,
            _ => return None,
        })
    }

    /// No move leaves a terminal stage.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Stage::Finished | Stage::NotAccepted | Stage::Voided | Stage::Transferred
        )
    }

    /// Whether the case has been accepted by the department by this stage (so the acceptance
    /// fields of Art. 27 must be present).
    pub fn is_accepted(self) -> bool {
        self.main_line().is_some_and(|i| i >= 2)
    }

    /// Whether a decision has been taken by this stage (so the review opinion must be present).
    pub fn is_decided(self) -> bool {
        self.main_line().is_some_and(|i| i >= 4)
    }

    /// Whether a case may move from `self` to `next`. Staying put is legal (a correction of the
    /// same stage's data).
    pub fn can_move_to(self, next: Stage) -> bool {
        if self == next {
            return true;
        }
        if self.is_terminal() {
            return false;
        }
        match (self.main_line(), next.main_line()) {
            (Some(from), Some(to)) => to > from,
            _ => match next {
                Stage::Voided => true,
                Stage::NotAccepted => matches!(self, Stage::Application | Stage::ReturnedForCorrection),
                Stage::ReturnedForCorrection => {
                    matches!(self, Stage::Application | Stage::Acceptance | Stage::Review)
                }
                Stage::Transferred => {
                    matches!(self, Stage::Application | Stage::Acceptance | Stage::Review)
                }
                // Back from correction: resubmitted, then accepted or carried on.
                Stage::Application | Stage::Acceptance | Stage::Review => {
                    self == Stage::ReturnedForCorrection
                }
                _ => false,
            },
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Stage::{self, *};

    fn check(from: Stage, to: Stage, legal: bool) {
        assert_eq!(from.can_move_to(to), legal, "{from} -> {to}");
    }

    #[test]
    fn transitions() {
        let table = [
            (Appointment, Application, true),
            (Application, Acceptance, true),
            (Application, Finished, true),
            (Acceptance, Review, true),
            (Review, Decision, true),
            (Decision, Certificate, true),
            (Certificate, Finished, true),
            (Review, Review, true),
            (Finished, Finished, true),
            (Review, Acceptance, false),
            (Finished, Review, false),
            (Decision, Application, false),
            (Application, NotAccepted, true),
            (Review, NotAccepted, false),
            (Application, ReturnedForCorrection, true),
            (Acceptance, ReturnedForCorrection, true),
            (Decision, ReturnedForCorrection, false),
            (ReturnedForCorrection, Application, true),
            (ReturnedForCorrection, Acceptance, true),
            (ReturnedForCorrection, Finished, false),
            (ReturnedForCorrection, NotAccepted, true),
            (Review, Transferred, true),
            (Certificate, Transferred, false),
            (Decision, Voided, true),
            (Appointment, Voided, true),
            (Voided, Application, false),
            (NotAccepted, Acceptance, false),
            (Transferred, Finished, false),
            (Finished, Voided, false),
        ];
        for (from, to, legal) in table {
            check(from, to, legal);
        }
    }

    #[test]
    fn names_parse_back_and_match_serde() {
        for &s in Stage::ALL {
            assert_eq!(Stage::parse(s.name()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.name()));
        }
    }
}
