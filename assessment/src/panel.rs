//! A panel's scores: each expert's sheet, its validation against the rubric, the per-criterion
//! results (panel value, spread, contested or not, anonymised reasons), the panel's agreement,
//! and the Delphi summary of a closed round. Sheets are a set: reordering the experts changes
//! nothing here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::{LEVELS, Spread};
use crate::agreement::{Concordance, Icc, icc, kendall_w};
use crate::rubric::{Issue, Rubric};

/// Longest reason accepted with a score, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// Tolerance for comparing computed values with rubric thresholds.
pub(crate) const EPS: f64 = 1e-9;

/// One expert's scores: criterion id → level 1–5, or `None` where the expert abstained
/// (无法判断). A criterion absent from the map was not asked of the expert. Sheets order by
/// content, which gives a panel's sheets a canonical order whoever submitted first.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Sheet {
    pub scores: BTreeMap<String, Option<u8>>,
    /// Why, per criterion (optional); shown to the panel without the author's name.
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

impl Sheet {
    /// Checks a submission for a round whose criteria are `in_play`: every one of them scored or
    /// abstained, no other, levels 1–5, reasons short. Every problem at once.
    pub fn validate(&self, rubric: &Rubric, in_play: &[String]) -> Result<(), Vec<Issue>> {
        let mut issues = Vec::new();
        let mut add = |path: String, rule: &str, message: String| {
            issues.push(Issue {
                path,
                rule: rule.to_owned(),
                message,
            })
        };
        for id in in_play {
            if !self.scores.contains_key(id) {
                add(
                    format!("scores.{id}"),
                    "required",
                    "score every criterion of this round (1-5), or abstain with null".to_owned(),
                );
            }
        }
        for (id, score) in &self.scores {
            if !in_play.contains(id) {
                let message = if rubric.criterion(id).is_some() {
                    "this criterion is not scored in this round".to_owned()
                } else {
                    format!("rubric {} has no criterion {id:?}", rubric.spec.id)
                };
                add(format!("scores.{id}"), "assessment.criterion", message);
            } else if score.is_some_and(|s| !LEVELS.contains(&s)) {
                add(
                    format!("scores.{id}"),
                    "assessment.level",
                    "a score is a level from 1 to 5, or abstain (\"abstain\", or null in JSON)".to_owned(),
                );
            }
        }
        for (id, reason) in &self.reasons {
            if !self.scores.contains_key(id) {
                add(
                    format!("reasons.{id}"),
                    "assessment.criterion",
                    "a reason goes with a score of the same criterion".to_owned(),
                );
            } else if reason.chars().count() > MAX_REASON_CHARS {
                add(
                    format!("reasons.{id}"),
                    "max_length",
                    format!("at most {MAX_REASON_CHARS} characters"),
                );
            }
        }
        if issues.is_empty() { Ok(()) } else { Err(issues) }
    }
}

/// The scores the panel gave one criterion, in no particular order.
pub fn scores_of(sheets: &[Sheet], criterion: &str) -> Vec<u8> {
    sheets
        .iter()
        .filter_map(|s| s.scores.get(criterion).copied().flatten())
        .collect()
}

/// A reason given with a score, without who gave it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reason {
    /// The score it explains; `None` for an abstention.
    pub score: Option<u8>,
    pub text: String,
}

/// One criterion's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionResult {
    pub id: String,
    pub name: String,
    pub group: String,
    pub group_name: String,
    /// Overall weight (sums to 1 over the rubric).
    pub weight: f64,
    /// The panel's value; `None` when nobody scored it.
    pub value: Option<f64>,
    /// The level nearest the panel's value, and the rubric's words for it.
    pub level: Option<u8>,
    pub level_text: Option<String>,
    pub spread: Option<Spread>,
    /// Experts who abstained.
    pub abstained: usize,
    /// Spread beyond the rubric's Delphi bars.
    pub contested: bool,
    /// Reasons, sorted by score then text: never in the order the experts gave them.
    pub reasons: Vec<Reason>,
}

/// Results for the criteria at `positions` (rubric order).
pub fn criterion_results(rubric: &Rubric, positions: &[usize], sheets: &[Sheet]) -> Vec<CriterionResult> {
    let spec = &rubric.spec;
    positions
        .iter()
        .map(|&i| {
            let c = &spec.criteria[i];
            let scores = scores_of(sheets, &c.id);
            let value = spec.panel.aggregation.apply(&scores, spec.panel.trim_from_scores);
            let spread = Spread::of(&scores);
            let contested = spread.as_ref().is_some_and(|s| {
                s.iqr > spec.delphi.max_iqr + EPS || s.cv.is_some_and(|cv| cv > spec.delphi.max_cv + EPS)
            });
            let level = value.map(|v| v.round().clamp(1.0, 5.0) as u8);
            let mut reasons: Vec<Reason> = sheets
                .iter()
                .filter_map(|s| {
                    let text = s.reasons.get(&c.id)?.trim();
                    (!text.is_empty()).then(|| Reason {
                        score: s.scores.get(&c.id).copied().flatten(),
                        text: text.to_owned(),
                    })
                })
                .collect();
            reasons.sort();
            CriterionResult {
                id: c.id.clone(),
                name: c.name.clone(),
                group: c.group.clone(),
                group_name: rubric
                    .group(&c.group)
                    .map(|(_, g)| g.name.clone())
                    .unwrap_or_default(),
                weight: rubric.weights.global[i],
                value,
                level,
                level_text: level.map(|l| c.levels[usize::from(l - 1)].clone()),
                spread,
                abstained: sheets
                    .iter()
                    .filter(|s| matches!(s.scores.get(&c.id), Some(None)))
                    .count(),
                contested,
                reasons,
            }
        })
        .collect()
}

/// How far the panel agrees over the criteria every expert scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Kendall's W: do the experts agree on which criteria are high and which low for this
    /// system (tie-corrected; experts are raters, criteria the ranked objects).
    pub kendall_w: Option<Concordance>,
    /// ICC(2,1) and ICC(2,k) over the same matrix (criteria are the targets).
    pub icc: Option<Icc>,
    /// Criteria left out because some expert abstained on them.
    pub left_out: Vec<String>,
    /// Criteria whose spread passes the Delphi bars.
    pub contested: Vec<String>,
}

impl Agreement {
    /// Over the complete part of the score matrix: criteria every sheet scored.
    pub fn of(rubric: &Rubric, sheets: &[Sheet], results: &[CriterionResult]) -> Agreement {
        let (complete, left_out): (Vec<&str>, Vec<&str>) = rubric
            .spec
            .criteria
            .iter()
            .map(|c| c.id.as_str())
            .partition(|id| {
                sheets
                    .iter()
                    .all(|s| s.scores.get(*id).copied().flatten().is_some())
            });
        let value = |s: &Sheet, id: &str| s.scores.get(id).copied().flatten().map_or(0.0, f64::from);
        let by_expert: Vec<Vec<f64>> = sheets
            .iter()
            .map(|s| complete.iter().map(|id| value(s, id)).collect())
            .collect();
        let by_criterion: Vec<Vec<f64>> = complete
            .iter()
            .map(|id| sheets.iter().map(|s| value(s, id)).collect())
            .collect();
        Agreement {
            kendall_w: kendall_w(&by_expert),
            icc: icc(&by_criterion),
            left_out: left_out.into_iter().map(str::to_owned).collect(),
            contested: results
                .iter()
                .filter(|r| r.contested)
                .map(|r| r.id.clone())
                .collect(),
        }
    }
}

/// What a closed round shows the panel (Delphi feedback): per-criterion results with the
/// anonymised reasons, which criteria are contested, and whether another round follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundSummary {
    pub round: u32,
    pub criteria: Vec<CriterionResult>,
    pub contested: Vec<String>,
    /// The criteria of the next round, when the rubric allows another round.
    pub next_round: Option<Vec<String>>,
}

/// The sheets in their canonical order, so that floating-point sums come out bit-identical
/// however the experts are ordered.
pub(crate) fn canonical(sheets: &[Sheet]) -> Vec<Sheet> {
    let mut sorted = sheets.to_vec();
    sorted.sort();
    sorted
}

/// Summarises a closed round over the criteria `in_play` (its own scores only).
pub fn summarize_round(rubric: &Rubric, round: u32, in_play: &[String], sheets: &[Sheet]) -> RoundSummary {
    let sheets = &canonical(sheets);
    let positions: Vec<usize> = rubric
        .spec
        .criteria
        .iter()
        .enumerate()
        .filter(|(_, c)| in_play.contains(&c.id))
        .map(|(i, _)| i)
        .collect();
    let criteria = criterion_results(rubric, &positions, sheets);
    let contested: Vec<String> = criteria
        .iter()
        .filter(|c| c.contested)
        .map(|c| c.id.clone())
        .collect();
    let next_round =
        (!contested.is_empty() && round < rubric.spec.delphi.max_rounds).then(|| contested.clone());
    RoundSummary {
        round,
        criteria,
        contested,
        next_round,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(scores: &[(&str, Option<u8>)]) -> Sheet {
        Sheet {
            scores: scores.iter().map(|(c, s)| ((*c).to_owned(), *s)).collect(),
            reasons: BTreeMap::new(),
        }
    }

    #[test]
    fn a_sheet_is_checked_against_the_round() {
        let rubric = Rubric::builtin();
        let in_play = vec!["process_steps".to_owned(), "process_rules".to_owned()];
        assert!(
            sheet(&[("process_steps", Some(3)), ("process_rules", None)])
                .validate(&rubric, &in_play)
                .is_ok()
        );
        let mut bad = sheet(&[
            ("process_steps", Some(6)),
            ("data_quality", Some(3)),
            ("nonsense", Some(1)),
        ]);
        bad.reasons.insert("support_coverage".into(), "x".into());
        let rules: Vec<(String, String)> = bad
            .validate(&rubric, &in_play)
            .unwrap_err()
            .into_iter()
            .map(|i| (i.path, i.rule))
            .collect();
        assert_eq!(
            rules,
            [
                ("scores.process_rules", "required"),
                ("scores.data_quality", "assessment.criterion"),
                ("scores.nonsense", "assessment.criterion"),
                ("scores.process_steps", "assessment.level"),
                ("reasons.support_coverage", "assessment.criterion"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[test]
    fn a_wide_spread_is_contested_and_goes_to_another_round() {
        let rubric = Rubric::builtin();
        let in_play = vec!["process_steps".to_owned(), "process_rules".to_owned()];
        let mut sheets: Vec<Sheet> = [(1, 3), (2, 3), (3, 3), (5, 4), (5, 3)]
            .iter()
            .map(|&(a, b)| sheet(&[("process_steps", Some(a)), ("process_rules", Some(b))]))
            .collect();
        sheets[0]
            .reasons
            .insert("process_steps".into(), "流程只有受理和办结两步".into());
        sheets[3]
            .reasons
            .insert("process_steps".into(), "含现场勘验和专家评审".into());
        let summary = summarize_round(&rubric, 1, &in_play, &sheets);
        assert_eq!(summary.contested, ["process_steps"]);
        assert_eq!(summary.next_round, Some(vec!["process_steps".to_owned()]));
        let steps = &summary.criteria[0];
        assert_eq!(steps.spread.as_ref().map(|s| s.iqr), Some(3.0));
        assert_eq!(
            steps.reasons.iter().map(|r| r.score).collect::<Vec<_>>(),
            [Some(1), Some(5)]
        );
        // The last round allowed: contested criteria stay contested, no further round.
        assert_eq!(summarize_round(&rubric, 3, &in_play, &sheets).next_round, None);
    }
}
