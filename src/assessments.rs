//! The expert panel's workflow for one system's assessment (Art. 25): who sits on the panel and
//! who stands aside (an expert from the assessed system's own department, or one who declares a
//! conflict with it), rounds of sealed scoring, Delphi re-rounds for contested criteria, and the
//! verdict that moves the system to `assessed`. Pure rules over a loaded [`Panel`]; the store
//! loads it and writes the resulting [`Change`]s in one transaction.
//!
//! Sealed scores live only inside `Panel`, which is not serialisable: reads go through
//! [`Panel::view`] (who submitted, never what), [`Panel::round_summary`] (closed rounds only,
//! anonymised) and the stored report.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ronghe_assessment::IntegrationMode;
use ronghe_assessment::panel::{RoundSummary, Sheet, summarize_round};
use ronghe_assessment::portfolio::{SystemsConcordance, across_systems};
use ronghe_assessment::report::{AssessmentInput, Member, Report, SystemInfo, VerdictError, assess};
use ronghe_assessment::risk::{DataProfile, ProfileField};
use ronghe_assessment::rubric::{Issue, Rubric, RubricError};
use serde::{Deserialize, Serialize};

use crate::case::{FieldIssue, Problems};
use crate::systems::{System, SystemError, SystemPatch, SystemStatus, is_slug, stamp};

/// Where an assessment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum AssessmentState {
    /// A round is open: experts score, sealed.
    Scoring,
    /// Every round is closed; the chair can give the verdict.
    Closed,
    /// The verdict is recorded; nothing changes any more.
    Decided,
}

impl AssessmentState {
    pub const ALL: &'static [AssessmentState] = &[
        AssessmentState::Scoring,
        AssessmentState::Closed,
        AssessmentState::Decided,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn label(self) -> &'static str {
        match self {
            AssessmentState::Scoring => "评分中",
            AssessmentState::Closed => "待结论",
            AssessmentState::Decided => "已结论",
        }
    }

    pub fn parse(name: &str) -> Option<AssessmentState> {
        name.parse().ok()
    }
}

/// One assessment of one system by one panel, with one rubric version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assessment {
    /// `SYSTEM.N`, N counting the system's assessments from 1.
    pub id: String,
    pub system_id: String,
    pub seq: i64,
    pub rubric_id: String,
    pub rubric_version: i64,
    /// The actor who opened it; only the chair adds experts, closes rounds and gives the verdict.
    pub chair: String,
    pub state: AssessmentState,
    /// The current (or last) round.
    pub round: i64,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A declared conflict of interest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conflict {
    /// The organisation or system the expert has ties to.
    pub with: String,
    /// The tie (曾参与建设, 近三年咨询服务 …).
    pub reason: String,
}

/// A panel member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Expert {
    /// Slug; also the actor name the expert acts under.
    pub id: String,
    pub name: String,
    /// 工作单位.
    pub department: String,
    /// `None` until the expert declares (an empty list declares none).
    pub conflicts: Option<Vec<Conflict>>,
    pub declared_at: Option<DateTime<Utc>>,
    /// Why the expert stands aside (回避); such an expert cannot score.
    pub recusal: Option<String>,
    pub added_at: DateTime<Utc>,
}

/// A round of scoring over some criteria (all in round 1; the contested ones after).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Round {
    pub number: i64,
    pub criteria: Vec<String>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed it: the chair's actor name, or `all_submitted`.
    pub closed_by: Option<String>,
}

/// A round as anyone may see it: who has submitted, never what.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RoundStatus {
    #[serde(flatten)]
    pub round: Round,
    pub submitted: Vec<String>,
}

/// An assessment as the API and CLI show it. It holds no score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AssessmentView {
    #[serde(flatten)]
    pub assessment: Assessment,
    pub system_name: String,
    pub rubric_title: String,
    pub experts: Vec<Expert>,
    pub rounds: Vec<RoundStatus>,
    /// Experts who have yet to submit in the open round.
    pub pending: Vec<String>,
}

/// One stored score: part of the sealed state while its round is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreRow {
    pub round: i64,
    pub expert: String,
    pub criterion: String,
    /// `None`: the expert abstained.
    pub score: Option<u8>,
    pub reason: Option<String>,
    pub submitted_at: DateTime<Utc>,
}

/// A new panel member, as the chair sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExpert {
    /// Slug, e.g. `wang-li`: the actor name the expert will act under.
    pub id: String,
    pub name: String,
    /// 工作单位; an expert from the assessed system's own department is recused.
    pub department: String,
}

/// One score as an expert sends it: a level, or the word `abstain` (弃权; JSON `null` too).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ScoreValue {
    Level(i64),
    Word(String),
}

/// An expert's sheet for the open round as sent: an API body (JSON) or a file (TOML or JSON).
///
/// ```toml
/// [scores]
/// support_coverage = 2
/// data_quality = "abstain"
/// [reasons]
/// support_coverage = "审查和决定都在线下"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreSheet {
    /// Criterion id → level 1-5, or "abstain"; every criterion of the round, no other.
    #[schema(value_type = Object, example = json!({"support_coverage": 2, "data_quality": "abstain"}))]
    pub scores: BTreeMap<String, Option<ScoreValue>>,
    /// Why, per criterion (optional); shown to the panel without the author's name.
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

impl ScoreSheet {
    /// The sheet. A value that is no level (out of range, another word) becomes 0, which the
    /// round's validation then reports with its path, alongside every other problem.
    pub fn into_sheet(self) -> Sheet {
        let scores = self
            .scores
            .into_iter()
            .map(|(criterion, value)| {
                let level = match value {
                    None => None,
                    Some(ScoreValue::Word(w)) if w == "abstain" => None,
                    Some(ScoreValue::Level(l)) => Some(u8::try_from(l).unwrap_or(0)),
                    Some(ScoreValue::Word(_)) => Some(0),
                };
                (criterion, level)
            })
            .collect();
        Sheet {
            scores,
            reasons: self.reasons,
        }
    }
}

/// Why a panel action was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AssessmentError {
    #[error("{}", summary(.0))]
    Invalid(Vec<FieldIssue>),
    #[error("only the chair ({chair}) may {action}")]
    NotChair { chair: String, action: &'static str },
    #[error("only expert {expert} may {action}; this call comes from {actor}")]
    NotTheExpert {
        expert: String,
        actor: String,
        action: &'static str,
    },
    #[error("expert {expert} stands aside from this assessment and cannot score: {reason}")]
    Recused { expert: String, reason: String },
    #[error("no expert {0:?} on this panel")]
    UnknownExpert(String),
    #[error("no round {0} in this assessment")]
    UnknownRound(i64),
    /// The assessment is not in a state that allows the action; `code` says which.
    #[error("{message}")]
    State { code: &'static str, message: String },
    #[error(transparent)]
    Verdict(#[from] VerdictError),
    #[error(transparent)]
    Rubric(#[from] RubricError),
    #[error(transparent)]
    System(#[from] SystemError),
}

fn summary(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn state(code: &'static str, message: impl Into<String>) -> AssessmentError {
    AssessmentError::State {
        code,
        message: message.into(),
    }
}

/// The crate's issues as the platform's field issues.
pub fn field_issues(issues: Vec<Issue>) -> Vec<FieldIssue> {
    issues
        .into_iter()
        .map(|i| FieldIssue {
            field: i.path,
            rule: i.rule,
            message: i.message,
        })
        .collect()
}

impl AssessmentError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AssessmentError::Invalid(_) | AssessmentError::Rubric(_) | AssessmentError::System(_) => {
                "validation_failed"
            }
            AssessmentError::NotChair { .. } => "not_chair",
            AssessmentError::NotTheExpert { .. } => "not_the_expert",
            AssessmentError::Recused { .. } => "recused",
            AssessmentError::UnknownExpert(_) | AssessmentError::UnknownRound(_) => "not_found",
            AssessmentError::State { code, .. } => code,
            AssessmentError::Verdict(VerdictError::JustificationRequired { .. }) => {
                "secrecy_justification_required"
            }
            AssessmentError::Verdict(VerdictError::JustificationTooShort { .. }) => "justification_too_short",
            AssessmentError::Verdict(VerdictError::TooFewScores { .. }) => "too_few_scores",
        }
    }

    /// Every field problem, where there are some.
    pub fn issues(&self) -> Vec<FieldIssue> {
        match self {
            AssessmentError::Invalid(issues) => issues.clone(),
            AssessmentError::Rubric(e) => field_issues(e.issues.clone()),
            AssessmentError::System(SystemError::Invalid(issues)) => issues.clone(),
            _ => Vec::new(),
        }
    }
}

/// What a panel action asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The chair adds an expert (first round only).
    AddExpert(NewExpert),
    /// An expert declares their conflicts of interest (an empty list: none).
    Declare {
        expert: String,
        conflicts: Vec<Conflict>,
    },
    /// An expert submits (or replaces) their sheet for the open round.
    Submit { expert: String, sheet: Sheet },
    /// The chair closes the open round.
    Close,
    /// The chair gives the verdict.
    Decide {
        secrecy_justification: Option<String>,
        profile: Option<DataProfile>,
    },
}

/// A write the store makes for an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    InsertExpert(Expert),
    UpdateExpert(Expert),
    /// Replaces one expert's scores in one round.
    ReplaceScores {
        round: i64,
        expert: String,
        rows: Vec<ScoreRow>,
    },
    CloseRound {
        round: i64,
        closed_at: DateTime<Utc>,
        closed_by: String,
    },
    OpenRound(Round),
    UpdateAssessment(Assessment),
    InsertVerdict {
        report: Box<Report>,
        decided_at: DateTime<Utc>,
        decided_by: String,
    },
    UpdateSystem(System),
}

/// An audit event for an action: what, on which target, in detail (never a score).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub action: &'static str,
    pub target: String,
    pub detail: serde_json::Value,
}

/// A round that was just closed, and what follows.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RoundClosed {
    /// Delphi feedback: per-criterion results and anonymised reasons (ronghe_assessment's
    /// `RoundSummary`).
    #[schema(value_type = Object)]
    pub summary: RoundSummary,
    /// The number of the next round, when contested criteria go to one.
    pub next_round: Option<i64>,
}

/// What a score submission answers: never the scores themselves.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub assessment_id: String,
    pub round: i64,
    pub expert: String,
    /// Criteria scored (abstentions included).
    pub criteria: usize,
    /// Experts yet to submit in this round.
    pub pending: Vec<String>,
    /// Set when this submission was the last one and closed the round.
    pub closed: Option<RoundClosed>,
}

/// The answer to an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Expert(Expert),
    Submitted(Receipt),
    Closed(RoundClosed),
    Decided(Box<Report>),
}

/// What an action does: the writes, the audit events, and the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub changes: Vec<Change>,
    pub audit: Vec<AuditEvent>,
    pub outcome: Outcome,
}

/// Opens an assessment (its first round covers every criterion).
pub fn open(
    system: &System,
    rubric: &Rubric,
    seq: i64,
    chair: &str,
    now: DateTime<Utc>,
) -> Result<(Assessment, Round), AssessmentError> {
    if system.status == SystemStatus::Retired {
        return Err(state(
            "system_retired",
            format!("system {} is retired; it is not assessed any more", system.id),
        ));
    }
    let now = stamp(now);
    let assessment = Assessment {
        id: format!("{}.{seq}", system.id),
        system_id: system.id.clone(),
        seq,
        rubric_id: rubric.spec.id.clone(),
        rubric_version: i64::from(rubric.spec.version),
        chair: chair.to_owned(),
        state: AssessmentState::Scoring,
        round: 1,
        opened_at: now,
        updated_at: now,
    };
    let round = Round {
        number: 1,
        criteria: rubric.spec.criteria.iter().map(|c| c.id.clone()).collect(),
        opened_at: now,
        closed_at: None,
        closed_by: None,
    };
    Ok((assessment, round))
}

/// Everything about one assessment, sealed scores included. Not serialisable.
#[derive(Debug, Clone)]
pub struct Panel {
    pub assessment: Assessment,
    pub system: System,
    pub rubric: Rubric,
    pub experts: Vec<Expert>,
    pub rounds: Vec<Round>,
    scores: Vec<ScoreRow>,
}

impl Panel {
    pub fn new(
        assessment: Assessment,
        system: System,
        rubric: Rubric,
        experts: Vec<Expert>,
        rounds: Vec<Round>,
        scores: Vec<ScoreRow>,
    ) -> Panel {
        Panel {
            assessment,
            system,
            rubric,
            experts,
            rounds,
            scores,
        }
    }

    fn open_round(&self) -> Option<&Round> {
        self.rounds.iter().find(|r| r.closed_at.is_none())
    }

    fn expert(&self, id: &str) -> Result<&Expert, AssessmentError> {
        self.experts
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AssessmentError::UnknownExpert(id.to_owned()))
    }

    fn scoring(&self) -> impl Iterator<Item = &Expert> {
        self.experts.iter().filter(|e| e.recusal.is_none())
    }

    fn submitted(scores: &[ScoreRow], round: i64) -> Vec<String> {
        let mut ids: Vec<String> = scores
            .iter()
            .filter(|s| s.round == round)
            .map(|s| s.expert.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn pending(&self, scores: &[ScoreRow]) -> Vec<String> {
        let Some(round) = self.open_round() else {
            return Vec::new();
        };
        let done = Panel::submitted(scores, round.number);
        self.scoring()
            .filter(|e| !done.contains(&e.id))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Whether `round` may close with the submissions in `scores`: a first round needs as many
    /// experts as the rubric needs scores per criterion for a verdict; a later round revises,
    /// and the scores not revised stand.
    fn enough_to_close(&self, scores: &[ScoreRow], round: &Round) -> bool {
        round.number > 1 || Panel::submitted(scores, round.number).len() >= self.rubric.spec.panel.min_scores
    }

    fn require_chair(&self, actor: &str, action: &'static str) -> Result<(), AssessmentError> {
        if actor == self.assessment.chair {
            Ok(())
        } else {
            Err(AssessmentError::NotChair {
                chair: self.assessment.chair.clone(),
                action,
            })
        }
    }

    /// The expert `expert_id`, when `actor` is that expert and the assessment is undecided.
    fn acting_expert(
        &self,
        actor: &str,
        expert_id: &str,
        action: &'static str,
    ) -> Result<&Expert, AssessmentError> {
        let expert = self.expert(expert_id)?;
        if actor != expert.id {
            return Err(AssessmentError::NotTheExpert {
                expert: expert.id.clone(),
                actor: actor.to_owned(),
                action,
            });
        }
        self.require_undecided()?;
        Ok(expert)
    }

    fn require_undecided(&self) -> Result<(), AssessmentError> {
        if self.assessment.state == AssessmentState::Decided {
            Err(state(
                "assessment_decided",
                format!(
                    "assessment {} has its verdict; open a new assessment to reassess",
                    self.assessment.id
                ),
            ))
        } else {
            Ok(())
        }
    }

    fn sheet(rows: &[&ScoreRow]) -> Sheet {
        let mut sheet = Sheet::default();
        for row in rows {
            sheet.scores.insert(row.criterion.clone(), row.score);
            if let Some(reason) = &row.reason {
                sheet.reasons.insert(row.criterion.clone(), reason.clone());
            }
        }
        sheet
    }

    /// The sheets of one round, one per expert who is not recused.
    fn round_sheets(&self, scores: &[ScoreRow], round: i64) -> Vec<Sheet> {
        self.scoring()
            .filter_map(|e| {
                let rows: Vec<&ScoreRow> = scores
                    .iter()
                    .filter(|s| s.round == round && s.expert == e.id)
                    .collect();
                (!rows.is_empty()).then(|| Panel::sheet(&rows))
            })
            .collect()
    }

    /// Each expert's effective sheet: per criterion, the score from the latest closed round
    /// in which the expert scored it (Delphi rounds revise; a score not revised stands).
    pub fn effective_sheets(&self) -> BTreeMap<String, Sheet> {
        let closed: Vec<i64> = self
            .rounds
            .iter()
            .filter(|r| r.closed_at.is_some())
            .map(|r| r.number)
            .collect();
        let mut latest: BTreeMap<(&str, &str), &ScoreRow> = BTreeMap::new();
        for row in self.scores.iter().filter(|s| closed.contains(&s.round)) {
            let key = (row.expert.as_str(), row.criterion.as_str());
            if latest.get(&key).is_none_or(|r| r.round < row.round) {
                latest.insert(key, row);
            }
        }
        self.scoring()
            .filter_map(|e| {
                let rows: Vec<&ScoreRow> = latest
                    .iter()
                    .filter(|((expert, _), _)| *expert == e.id)
                    .map(|(_, row)| *row)
                    .collect();
                (!rows.is_empty()).then(|| (e.id.clone(), Panel::sheet(&rows)))
            })
            .collect()
    }

    /// The assessment as anyone may see it.
    pub fn view(&self) -> AssessmentView {
        AssessmentView {
            assessment: self.assessment.clone(),
            system_name: self.system.name.clone(),
            rubric_title: self.rubric.spec.title.clone(),
            experts: self.experts.clone(),
            rounds: self
                .rounds
                .iter()
                .map(|r| RoundStatus {
                    round: r.clone(),
                    submitted: Panel::submitted(&self.scores, r.number),
                })
                .collect(),
            pending: self.pending(&self.scores),
        }
    }

    /// A closed round's Delphi summary; an open round's scores are sealed.
    pub fn round_summary(&self, number: i64) -> Result<RoundSummary, AssessmentError> {
        let round = self
            .rounds
            .iter()
            .find(|r| r.number == number)
            .ok_or(AssessmentError::UnknownRound(number))?;
        if round.closed_at.is_none() {
            return Err(sealed(number));
        }
        Ok(summarize_round(
            &self.rubric,
            round_u32(number),
            &round.criteria,
            &self.round_sheets(&self.scores, number),
        ))
    }

    /// Applies an action by `actor` at `now`.
    pub fn apply(
        &self,
        actor: &str,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<Effect, AssessmentError> {
        let now = stamp(now);
        match command {
            Command::AddExpert(new) => self.add_expert(actor, new, now),
            Command::Declare { expert, conflicts } => self.declare(actor, &expert, conflicts, now),
            Command::Submit { expert, sheet } => self.submit(actor, &expert, sheet, now),
            Command::Close => {
                self.require_chair(actor, "close a round")?;
                self.require_undecided()?;
                let Some(round) = self.open_round() else {
                    return Err(state("no_open_round", "no round is open; give the verdict"));
                };
                if !self.enough_to_close(&self.scores, round) {
                    return Err(state(
                        "too_few_submissions",
                        format!(
                            "round {} has {} submission(s); rubric {} needs {} before the first round closes (a verdict needs that many scores per criterion)",
                            round.number,
                            Panel::submitted(&self.scores, round.number).len(),
                            self.rubric.spec.id,
                            self.rubric.spec.panel.min_scores
                        ),
                    ));
                }
                let (changes, closed) = self.close(&self.scores, round, actor, now);
                Ok(Effect {
                    changes,
                    audit: vec![self.audit(
                        "assessment.close",
                        serde_json::json!({
                            "round": round.number,
                            "contested": closed.summary.contested,
                            "next_round": closed.next_round,
                        }),
                    )],
                    outcome: Outcome::Closed(closed),
                })
            }
            Command::Decide {
                secrecy_justification,
                profile,
            } => self.decide(actor, secrecy_justification, profile, now),
        }
    }

    fn audit(&self, action: &'static str, detail: serde_json::Value) -> AuditEvent {
        AuditEvent {
            action,
            target: self.assessment.id.clone(),
            detail,
        }
    }

    fn add_expert(&self, actor: &str, new: NewExpert, now: DateTime<Utc>) -> Result<Effect, AssessmentError> {
        self.require_chair(actor, "add experts")?;
        self.require_undecided()?;
        if self.assessment.round != 1 || self.assessment.state != AssessmentState::Scoring {
            return Err(state(
                "panel_fixed",
                "the panel is fixed once its first round has closed",
            ));
        }
        let mut p = Problems::default();
        if !is_slug(&new.id) {
            p.add(
                "id",
                "expert.id",
                "use 2-63 lower-case letters, digits and '-', starting with a letter (e.g. wang-li); the expert acts under this name",
            );
        }
        p.plain_text("name", &new.name, 100);
        p.plain_text("department", &new.department, 200);
        p.finish((), AssessmentError::Invalid)?;
        if self.experts.iter().any(|e| e.id == new.id) {
            return Err(state(
                "expert_exists",
                format!("expert {} is already on this panel", new.id),
            ));
        }
        let max = self.rubric.spec.panel.max_experts;
        if self.experts.len() >= max {
            return Err(state(
                "panel_full",
                format!("rubric {} allows at most {max} experts", self.rubric.spec.id),
            ));
        }
        let department = new.department.trim().to_owned();
        let recusal = (department == self.system.department.trim())
            .then(|| format!("与被评估系统同属{department}(所在部门回避)"));
        let expert = Expert {
            id: new.id,
            name: new.name.trim().to_owned(),
            department,
            conflicts: None,
            declared_at: None,
            recusal,
            added_at: now,
        };
        Ok(Effect {
            changes: vec![Change::InsertExpert(expert.clone())],
            audit: vec![self.audit(
                "assessment.expert_add",
                serde_json::json!({ "expert": expert.id, "name": expert.name, "department": expert.department, "recusal": expert.recusal }),
            )],
            outcome: Outcome::Expert(expert),
        })
    }

    fn declare(
        &self,
        actor: &str,
        expert_id: &str,
        conflicts: Vec<Conflict>,
        now: DateTime<Utc>,
    ) -> Result<Effect, AssessmentError> {
        let expert = self.acting_expert(actor, expert_id, "declare conflicts of interest")?;
        if expert.declared_at.is_some() {
            return Err(state(
                "already_declared",
                format!(
                    "expert {} has declared already; a declaration is not changed",
                    expert.id
                ),
            ));
        }
        let mut p = Problems::default();
        if conflicts.len() > 20 {
            p.add("conflicts", "max_items", "at most 20 conflicts");
        }
        for (i, c) in conflicts.iter().enumerate() {
            p.text(&format!("conflicts[{i}].with"), &c.with, 200);
            p.text(&format!("conflicts[{i}].reason"), &c.reason, 500);
        }
        p.finish((), AssessmentError::Invalid)?;
        let system = &self.system;
        let concerning = conflicts.iter().find(|c| {
            let with = c.with.trim();
            with == system.department.trim() || with == system.id || with == system.name.trim()
        });
        let mut next = expert.clone();
        next.declared_at = Some(now);
        if next.recusal.is_none()
            && let Some(c) = concerning
        {
            next.recusal = Some(format!(
                "申报与被评估系统存在利益冲突:{}({})",
                c.with.trim(),
                c.reason.trim()
            ));
        }
        let recused = next.recusal.is_some();
        next.conflicts = Some(
            conflicts
                .into_iter()
                .map(|c| Conflict {
                    with: c.with.trim().to_owned(),
                    reason: c.reason.trim().to_owned(),
                })
                .collect(),
        );
        let mut changes = vec![Change::UpdateExpert(next.clone())];
        let mut audit = vec![self.audit(
            "assessment.declare",
            serde_json::json!({ "expert": next.id, "conflicts": next.conflicts, "recused": recused }),
        )];
        // Standing aside may leave everyone else done: the round closes as if they had submitted.
        let mut after = self.clone();
        if let Some(e) = after.experts.iter_mut().find(|e| e.id == next.id) {
            *e = next.clone();
        }
        if let Some(round) = after.open_round()
            && after.enough_to_close(&after.scores, round)
            && after.pending(&after.scores).is_empty()
        {
            let (more, closed) = after.close(&after.scores, round, "all_submitted", now);
            changes.extend(more);
            audit.push(self.audit(
                "assessment.close",
                serde_json::json!({ "round": round.number, "contested": closed.summary.contested, "next_round": closed.next_round }),
            ));
        }
        Ok(Effect {
            changes,
            audit,
            outcome: Outcome::Expert(next),
        })
    }

    fn submit(
        &self,
        actor: &str,
        expert_id: &str,
        sheet: Sheet,
        now: DateTime<Utc>,
    ) -> Result<Effect, AssessmentError> {
        let expert = self.acting_expert(actor, expert_id, "submit these scores")?;
        if let Some(reason) = &expert.recusal {
            return Err(AssessmentError::Recused {
                expert: expert.id.clone(),
                reason: reason.clone(),
            });
        }
        if expert.declared_at.is_none() {
            return Err(state(
                "not_declared",
                format!(
                    "expert {} declares conflicts of interest (or none) before scoring",
                    expert.id
                ),
            ));
        }
        let Some(round) = self.open_round() else {
            return Err(state("round_closed", "no round is open for scoring"));
        };
        sheet
            .validate(&self.rubric, &round.criteria)
            .map_err(|issues| AssessmentError::Invalid(field_issues(issues)))?;
        let rows: Vec<ScoreRow> = sheet
            .scores
            .iter()
            .map(|(criterion, score)| ScoreRow {
                round: round.number,
                expert: expert.id.clone(),
                criterion: criterion.clone(),
                score: *score,
                reason: sheet
                    .reasons
                    .get(criterion)
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty()),
                submitted_at: now,
            })
            .collect();
        let abstained = rows.iter().filter(|r| r.score.is_none()).count();
        let mut scores: Vec<ScoreRow> = self
            .scores
            .iter()
            .filter(|s| !(s.round == round.number && s.expert == expert.id))
            .cloned()
            .collect();
        scores.extend(rows.iter().cloned());
        let mut changes = vec![Change::ReplaceScores {
            round: round.number,
            expert: expert.id.clone(),
            rows,
        }];
        // The detail says how much was scored, never what.
        let mut audit = vec![self.audit(
            "assessment.score",
            serde_json::json!({ "expert": expert.id, "round": round.number, "criteria": sheet.scores.len(), "abstained": abstained }),
        )];
        let pending = self.pending(&scores);
        let closed = if pending.is_empty() && self.enough_to_close(&scores, round) {
            let (more, closed) = self.close(&scores, round, "all_submitted", now);
            changes.extend(more);
            audit.push(self.audit(
                "assessment.close",
                serde_json::json!({ "round": round.number, "contested": closed.summary.contested, "next_round": closed.next_round }),
            ));
            Some(closed)
        } else {
            None
        };
        Ok(Effect {
            changes,
            audit,
            outcome: Outcome::Submitted(Receipt {
                assessment_id: self.assessment.id.clone(),
                round: round.number,
                expert: expert.id.clone(),
                criteria: sheet.scores.len(),
                pending,
                closed,
            }),
        })
    }

    /// Closes `round` over `scores`; contested criteria go to the next round while the rubric
    /// allows one.
    fn close(
        &self,
        scores: &[ScoreRow],
        round: &Round,
        closed_by: &str,
        now: DateTime<Utc>,
    ) -> (Vec<Change>, RoundClosed) {
        let summary = summarize_round(
            &self.rubric,
            round_u32(round.number),
            &round.criteria,
            &self.round_sheets(scores, round.number),
        );
        let mut changes = vec![Change::CloseRound {
            round: round.number,
            closed_at: now,
            closed_by: closed_by.to_owned(),
        }];
        let mut assessment = self.assessment.clone();
        assessment.updated_at = now;
        let next_round = summary.next_round.as_ref().map(|criteria| {
            let number = round.number + 1;
            changes.push(Change::OpenRound(Round {
                number,
                criteria: criteria.clone(),
                opened_at: now,
                closed_at: None,
                closed_by: None,
            }));
            number
        });
        match next_round {
            Some(number) => assessment.round = number,
            None => assessment.state = AssessmentState::Closed,
        }
        changes.push(Change::UpdateAssessment(assessment));
        (changes, RoundClosed { summary, next_round })
    }

    fn decide(
        &self,
        actor: &str,
        secrecy_justification: Option<String>,
        profile: Option<DataProfile>,
        now: DateTime<Utc>,
    ) -> Result<Effect, AssessmentError> {
        self.require_chair(actor, "give the verdict")?;
        self.require_undecided()?;
        let mut decided = self.clone();
        let mut changes = Vec::new();
        if let Some(round) = self.open_round() {
            if secrecy_justification
                .as_deref()
                .is_none_or(|j| j.trim().is_empty())
            {
                if self.system.secret {
                    return Err(VerdictError::JustificationRequired {
                        system: self.system.id.clone(),
                    }
                    .into());
                }
                return Err(state(
                    "round_open",
                    format!(
                        "round {} is still open: close it before the verdict (only the secrecy exception may be recorded while it is open)",
                        round.number
                    ),
                ));
            }
            // The secrecy exception rests on its justification, not on scores: it closes the
            // open round as it stands.
            changes.push(Change::CloseRound {
                round: round.number,
                closed_at: now,
                closed_by: "verdict".to_owned(),
            });
            if let Some(r) = decided.rounds.iter_mut().find(|r| r.number == round.number) {
                r.closed_at = Some(now);
            }
        }
        let system = &self.system;
        let input = AssessmentInput {
            assessment_id: self.assessment.id.clone(),
            system: SystemInfo {
                id: system.id.clone(),
                name: system.name.clone(),
                department: system.department.clone(),
                secret: system.secret,
            },
            members: self
                .experts
                .iter()
                .map(|e| Member {
                    name: e.name.clone(),
                    department: e.department.clone(),
                    recusal: e.recusal.clone(),
                })
                .collect(),
            sheets: decided.effective_sheets().into_values().collect(),
            rounds: round_u32(self.assessment.round),
            decided_at: now.with_timezone(&crate::validate::SHANGHAI).to_rfc3339(),
            decided_by: actor.to_owned(),
            secrecy_justification,
            profile,
        };
        let report = assess(&self.rubric, input)?;
        let assessed = system.apply(
            SystemPatch {
                status: Some(SystemStatus::Assessed.name().to_owned()),
                ..SystemPatch::default()
            },
            now,
        )?;
        let mut assessment = self.assessment.clone();
        assessment.state = AssessmentState::Decided;
        assessment.updated_at = now;
        let audit = vec![
            self.audit(
                "assessment.verdict",
                serde_json::json!({
                    "mode": report.verdict.mode,
                    "confidence": report.verdict.confidence.as_ref().map(|c| c.level),
                    "justification": report.verdict.justification,
                }),
            ),
            AuditEvent {
                action: "system.assess",
                target: system.id.clone(),
                detail: serde_json::json!({ "before": system, "after": assessed, "reason": format!("verdict of assessment {}", self.assessment.id) }),
            },
        ];
        let report = Box::new(report);
        changes.extend([
            Change::InsertVerdict {
                report: report.clone(),
                decided_at: now,
                decided_by: actor.to_owned(),
            },
            Change::UpdateAssessment(assessment),
            Change::UpdateSystem(assessed),
        ]);
        Ok(Effect {
            changes,
            audit,
            outcome: Outcome::Decided(report),
        })
    }
}

/// A probe profile (the adapters' discovery of a system) as the data-sharing risk reads it:
/// every field of every entity, with its values in the sampled records. Fields are named
/// `ENTITY:FIELD`; a field that is a JSON pointer reads through the record, a column name
/// reads the record's member of that name.
pub fn data_profile(profile: &ronghe_adapters::Profile, probed_at: DateTime<Utc>) -> DataProfile {
    let fields = profile
        .entities
        .iter()
        .flat_map(|entity| {
            entity.fields.iter().map(move |field| {
                let samples = entity
                    .samples
                    .iter()
                    .filter_map(|record| match field.name.starts_with('/') {
                        true => record.pointer(&field.name),
                        false => record.get(&field.name),
                    })
                    .filter_map(|value| match value {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                ProfileField {
                    name: format!("{}:{}", entity.name, field.name),
                    label: None,
                    shared: true,
                    samples,
                }
            })
        })
        .collect();
    DataProfile {
        source: Some(format!(
            "适配器探查 adapters probe {}",
            probed_at.with_timezone(&crate::validate::SHANGHAI).to_rfc3339()
        )),
        fields,
    }
}

/// One system in the portfolio.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PortfolioEntry {
    pub system_id: String,
    pub name: String,
    pub department: String,
    pub status: SystemStatus,
    /// The latest assessment, whatever its state.
    pub assessment_id: Option<String>,
    pub assessment_state: Option<AssessmentState>,
    /// The latest assessment with a verdict, which the mode below comes from.
    pub verdict_assessment_id: Option<String>,
    #[schema(value_type = Option<String>, example = "front_end_migration")]
    pub mode: Option<IntegrationMode>,
    pub mode_label: Option<String>,
    /// 高, 中 or 低; none for the secrecy exception.
    pub confidence: Option<String>,
    /// 融合难度指数, 1 (easy) to 5 (hard).
    pub burden_index: Option<f64>,
}

/// Every system with its mode, confidence and status, and how far the experts agree across
/// systems.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Portfolio {
    pub systems: Vec<PortfolioEntry>,
    /// Kendall's W over the systems assessed with one rubric version, from the experts who scored
    /// all of them (ronghe_assessment's `SystemsConcordance`).
    #[schema(value_type = Vec<Object>)]
    pub agreement: Vec<SystemsConcordance>,
}

/// Builds the portfolio from every system, each system's latest assessment, its latest verdict
/// (assessment id and report), and the panels of those verdicts.
pub fn portfolio(
    systems: &[System],
    latest: &[Assessment],
    verdicts: &[(String, Report)],
    panels: &[Panel],
) -> Portfolio {
    let entries = systems
        .iter()
        .map(|system| {
            let assessment = latest.iter().find(|a| a.system_id == system.id);
            let verdict = verdicts.iter().find(|(_, r)| r.system.id == system.id);
            let report = verdict.map(|(_, r)| r);
            PortfolioEntry {
                system_id: system.id.clone(),
                name: system.name.clone(),
                department: system.department.clone(),
                status: system.status,
                assessment_id: assessment.map(|a| a.id.clone()),
                assessment_state: assessment.map(|a| a.state),
                verdict_assessment_id: verdict.map(|(id, _)| id.clone()),
                mode: report.map(|r| r.verdict.mode),
                mode_label: report.map(|r| r.verdict.label.clone()),
                confidence: report.and_then(|r| r.verdict.confidence.as_ref().map(|c| c.label.clone())),
                burden_index: report.and_then(|r| r.burden_index),
            }
        })
        .collect();
    let mut by_rubric: BTreeMap<(String, u32), Vec<&Panel>> = BTreeMap::new();
    // A system nobody scored (a secrecy exception) is not ranked.
    for panel in panels.iter().filter(|p| !p.effective_sheets().is_empty()) {
        let key = (panel.rubric.spec.id.clone(), panel.rubric.spec.version);
        by_rubric.entry(key).or_default().push(panel);
    }
    let agreement = by_rubric
        .into_values()
        .filter(|group| group.len() >= 2)
        .map(|group| {
            let systems: Vec<(String, BTreeMap<String, Sheet>)> = group
                .iter()
                .map(|p| (p.system.id.clone(), p.effective_sheets()))
                .collect();
            across_systems(&group[0].rubric, &systems)
        })
        .collect();
    Portfolio {
        systems: entries,
        agreement,
    }
}

fn sealed(round: i64) -> AssessmentError {
    state(
        "sealed",
        format!(
            "round {round} is open: its scores are sealed until every expert has submitted or the chair closes it"
        ),
    )
}

/// Round numbers are small and positive; stored as i64.
fn round_u32(round: i64) -> u32 {
    u32::try_from(round).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::NewSystem;

    const CHAIR: &str = "chair-zhang";

    fn system() -> System {
        NewSystem {
            id: "gy-scjg".into(),
            name: "市场监管许可系统".into(),
            department: "贵阳市市场监督管理局".into(),
            region_code: "520100".into(),
            protocol: "rest".into(),
            endpoint: "http://127.0.0.1:9001/api".into(),
            credentials_ref: None,
            secret: false,
        }
        .validate(Utc::now())
        .unwrap()
    }

    fn panel() -> Panel {
        let rubric = Rubric::builtin();
        let (assessment, round) = open(&system(), &rubric, 1, CHAIR, Utc::now()).unwrap();
        Panel::new(assessment, system(), rubric, vec![], vec![round], vec![])
    }

    /// Applies an action and the changes it makes to the panel, as the store would.
    fn run(panel: &mut Panel, actor: &str, command: Command) -> Result<Outcome, AssessmentError> {
        let effect = panel.apply(actor, command, Utc::now())?;
        for change in effect.changes {
            match change {
                Change::InsertExpert(e) => panel.experts.push(e),
                Change::UpdateExpert(e) => {
                    if let Some(x) = panel.experts.iter_mut().find(|x| x.id == e.id) {
                        *x = e;
                    }
                }
                Change::ReplaceScores { round, expert, rows } => {
                    panel.scores.retain(|s| !(s.round == round && s.expert == expert));
                    panel.scores.extend(rows);
                }
                Change::CloseRound {
                    round,
                    closed_at,
                    closed_by,
                } => {
                    if let Some(r) = panel.rounds.iter_mut().find(|r| r.number == round) {
                        r.closed_at = Some(closed_at);
                        r.closed_by = Some(closed_by);
                    }
                }
                Change::OpenRound(r) => panel.rounds.push(r),
                Change::UpdateAssessment(a) => panel.assessment = a,
                Change::InsertVerdict { .. } => {}
                Change::UpdateSystem(s) => panel.system = s,
            }
        }
        Ok(effect.outcome)
    }

    fn add(panel: &mut Panel, id: &str, department: &str) {
        run(
            panel,
            CHAIR,
            Command::AddExpert(NewExpert {
                id: id.into(),
                name: format!("专家{id}"),
                department: department.into(),
            }),
        )
        .unwrap();
    }

    fn declare(panel: &mut Panel, id: &str) {
        run(
            panel,
            id,
            Command::Declare {
                expert: id.into(),
                conflicts: vec![],
            },
        )
        .unwrap();
    }

    fn sheet(panel: &Panel, level: u8) -> Sheet {
        let round = panel.open_round().unwrap();
        Sheet {
            scores: round.criteria.iter().map(|c| (c.clone(), Some(level))).collect(),
            reasons: BTreeMap::new(),
        }
    }

    fn submit(panel: &mut Panel, id: &str, sheet: Sheet) -> Result<Outcome, AssessmentError> {
        run(
            panel,
            id,
            Command::Submit {
                expert: id.into(),
                sheet,
            },
        )
    }

    fn codes(result: Result<Outcome, AssessmentError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn an_expert_from_the_systems_department_is_recused_and_cannot_score() {
        let mut p = panel();
        add(&mut p, "own", "贵阳市市场监督管理局");
        add(&mut p, "ties", "省大数据局");
        assert!(
            p.experts[0]
                .recusal
                .as_deref()
                .is_some_and(|r| r.contains("回避"))
        );
        declare(&mut p, "own");
        let s = sheet(&p, 3);
        assert_eq!(codes(submit(&mut p, "own", s.clone())), "recused");
        // A declared conflict with the system's department recuses too.
        run(
            &mut p,
            "ties",
            Command::Declare {
                expert: "ties".into(),
                conflicts: vec![Conflict {
                    with: "贵阳市市场监督管理局".into(),
                    reason: "曾参与该系统建设".into(),
                }],
            },
        )
        .unwrap();
        assert_eq!(codes(submit(&mut p, "ties", s)), "recused");
        assert!(p.scores.is_empty(), "nothing was written for a recused expert");
    }

    #[test]
    fn who_may_do_what() {
        let mut p = panel();
        let new = NewExpert {
            id: "wang".into(),
            name: "王".into(),
            department: "省大数据局".into(),
        };
        assert_eq!(
            codes(run(&mut p, "someone", Command::AddExpert(new.clone()))),
            "not_chair"
        );
        add(&mut p, "wang", "省大数据局");
        add(&mut p, "li", "省政务服务中心");
        let s = sheet(&p, 3);
        assert_eq!(codes(submit(&mut p, "wang", s.clone())), "not_declared");
        declare(&mut p, "wang");
        assert_eq!(
            codes(run(
                &mut p,
                "wang",
                Command::Declare {
                    expert: "wang".into(),
                    conflicts: vec![]
                }
            )),
            "already_declared"
        );
        assert_eq!(
            codes(run(
                &mut p,
                CHAIR,
                Command::Submit {
                    expert: "wang".into(),
                    sheet: s.clone()
                }
            )),
            "not_the_expert",
            "not even the chair scores for an expert"
        );
        assert_eq!(codes(run(&mut p, "wang", Command::Close)), "not_chair");
        assert_eq!(codes(submit(&mut p, "nobody", s)), "not_found");
        assert_eq!(
            codes(run(
                &mut p,
                CHAIR,
                Command::Decide {
                    secrecy_justification: None,
                    profile: None
                }
            )),
            "round_open"
        );
        let mut bad = sheet(&p, 3);
        bad.scores.insert("support_coverage".into(), Some(9));
        assert_eq!(codes(submit(&mut p, "wang", bad)), "validation_failed");
    }

    #[test]
    fn the_round_closes_when_everyone_has_submitted_and_contested_criteria_go_again() {
        let mut p = panel();
        for id in ["ea", "eb", "ec"] {
            add(&mut p, id, "省大数据局");
            declare(&mut p, id);
        }
        // Agreement everywhere but 环节与分支, where the scores are 1, 3, 5.
        for (id, steps) in [("ea", 1), ("eb", 3), ("ec", 5)] {
            let mut s = sheet(&p, 3);
            s.scores.insert("process_steps".into(), Some(steps));
            s.reasons.insert("process_steps".into(), format!("理由{id}"));
            let outcome = submit(&mut p, id, s).unwrap();
            let Outcome::Submitted(receipt) = outcome else {
                panic!()
            };
            assert_eq!(receipt.closed.is_some(), id == "ec", "{receipt:?}");
            if id != "ec" {
                assert!(matches!(
                    p.round_summary(1),
                    Err(AssessmentError::State { code: "sealed", .. })
                ));
            }
        }
        assert_eq!(p.assessment.round, 2);
        assert_eq!(p.open_round().unwrap().criteria, ["process_steps"]);
        let summary = p.round_summary(1).unwrap();
        assert_eq!(summary.contested, ["process_steps"]);
        let reasons: Vec<&str> = summary
            .criteria
            .iter()
            .flat_map(|c| c.reasons.iter().map(|r| r.text.as_str()))
            .collect();
        assert_eq!(reasons, ["理由ea", "理由eb", "理由ec"]);
        // Round 2: two experts revise, the chair closes; ec's first score stands.
        for (id, steps) in [("ea", 3), ("eb", 3)] {
            let mut s = sheet(&p, 3);
            s.scores.insert("process_steps".into(), Some(steps));
            submit(&mut p, id, s).unwrap();
        }
        run(&mut p, CHAIR, Command::Close).unwrap();
        assert_eq!(p.assessment.state, AssessmentState::Closed);
        let effective = p.effective_sheets();
        assert_eq!(effective["ea"].scores["process_steps"], Some(3));
        assert_eq!(effective["ec"].scores["process_steps"], Some(5));
        let Outcome::Decided(report) = run(
            &mut p,
            CHAIR,
            Command::Decide {
                secrecy_justification: None,
                profile: None,
            },
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            report.verdict.mode,
            ronghe_assessment::IntegrationMode::FrontEndMigration
        );
        assert_eq!(report.panel.rounds, 2);
        assert_eq!(p.system.status, SystemStatus::Assessed);
        assert_eq!(p.assessment.state, AssessmentState::Decided);
        assert_eq!(codes(run(&mut p, CHAIR, Command::Close)), "assessment_decided");
    }

    #[test]
    fn a_probe_profile_reads_as_a_data_profile() {
        let probed = ronghe_adapters::Profile {
            entities: vec![ronghe_adapters::Entity {
                name: "SX_BJ".into(),
                kind: "table".into(),
                fields: ["SQRZJHM", "/nested/phone"]
                    .map(|name| ronghe_adapters::Field {
                        name: name.into(),
                        data_type: "varchar".into(),
                        nullable: true,
                        distinct: Vec::new(),
                    })
                    .to_vec(),
                record_count: None,
                samples: vec![
                    serde_json::json!({"SQRZJHM": "52010219900101123X", "nested": {"phone": 13985012345_u64}}),
                    serde_json::json!({"SQRZJHM": null}),
                ],
            }],
        };
        let profile = data_profile(&probed, Utc::now());
        let fields: Vec<(&str, Vec<&str>)> = profile
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.samples.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            fields,
            [
                ("SX_BJ:SQRZJHM", vec!["52010219900101123X"]),
                ("SX_BJ:/nested/phone", vec!["13985012345"]),
            ]
        );
        assert!(profile.source.is_some_and(|s| s.contains("+08:00")));
    }

    /// Regression (issue 4): an expert who scored before the rest of the panel was seated closed
    /// the round alone and left the assessment stuck. A first round closes only with as many
    /// submissions as the rubric needs scores per criterion (3 by default).
    #[test]
    fn a_first_round_needs_enough_submissions_to_close() {
        let mut p = panel();
        add(&mut p, "early", "省大数据局");
        declare(&mut p, "early");
        let s = sheet(&p, 3);
        let Outcome::Submitted(receipt) = submit(&mut p, "early", s).unwrap() else {
            panic!()
        };
        assert!(
            receipt.closed.is_none() && receipt.pending.is_empty(),
            "{receipt:?}"
        );
        assert_eq!(codes(run(&mut p, CHAIR, Command::Close)), "too_few_submissions");
        // The panel can still be completed, and then it closes by itself.
        for id in ["late-a", "late-b"] {
            add(&mut p, id, "省大数据局");
            declare(&mut p, id);
            let s = sheet(&p, 3);
            submit(&mut p, id, s).unwrap();
        }
        assert_eq!(p.assessment.state, AssessmentState::Closed);
    }

    #[test]
    fn the_secrecy_exception_may_be_recorded_while_the_round_is_open() {
        let mut p = panel();
        let decide = |j: Option<&str>| Command::Decide {
            secrecy_justification: j.map(str::to_owned),
            profile: None,
        };
        assert_eq!(codes(run(&mut p, CHAIR, decide(None))), "round_open");
        let justification = "该系统处理涉密审批事项,按保密规定不得接入互联网政务服务平台。";
        let Outcome::Decided(report) = run(&mut p, CHAIR, decide(Some(justification))).unwrap() else {
            panic!()
        };
        assert_eq!(
            report.verdict.mode,
            ronghe_assessment::IntegrationMode::SecrecyException
        );
        assert!(p.open_round().is_none() && p.assessment.state == AssessmentState::Decided);
    }

    #[test]
    fn the_view_never_holds_a_score() {
        let mut p = panel();
        add(&mut p, "ea", "省大数据局");
        add(&mut p, "eb", "省大数据局");
        declare(&mut p, "ea");
        let mut s = sheet(&p, 4);
        s.reasons.insert("data_quality".into(), "SEALED-REASON".into());
        submit(&mut p, "ea", s).unwrap();
        let view = serde_json::to_string(&p.view()).unwrap();
        assert!(
            !view.contains("SEALED-REASON") && !view.contains("\"score"),
            "{view}"
        );
        assert_eq!(p.view().pending, ["eb"]);
        assert_eq!(p.view().rounds[0].submitted, ["ea"]);
    }
}
