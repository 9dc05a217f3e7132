//! The verdict: which Art. 25 mode the panel's values put a system in, by the rubric's rules,
//! and why — every condition with its value, threshold and slack, the group indices behind them,
//! the smallest score changes that would give each other mode, and a confidence level from
//! agreement, completeness and margin. Or the secrecy exception, which needs a justification.
//!
//! Tie rule: a rule's fit is its slack (`all`: the smallest slack of its conditions; `any`: the
//! largest); a rule holds when its fit is not negative (thresholds are inclusive). No rule holding
//! gives the ordinary mode. When several rules hold, the larger fit wins; equal fits go to the
//! mode that keeps more of the legacy system running (兼容过渡, then 前端迁移, then 全流程迁移),
//! because a wrongly conservative verdict costs a work plan while a wrongly aggressive one retires
//! a system the department still needs. Never the order of rules, criteria or experts.

use serde::{Deserialize, Serialize};

use crate::IntegrationMode;
use crate::flip::{self, Flip};
use crate::panel::{CriterionResult, EPS};
use crate::rubric::{Condition, Rubric};

/// How much of the legacy system a mode keeps running: the tie rule's order.
fn keeps_legacy(mode: IntegrationMode) -> u8 {
    match mode {
        IntegrationMode::CompatibleTransition => 3,
        IntegrationMode::FrontEndMigration => 2,
        IntegrationMode::FullMigration => 1,
        IntegrationMode::SecrecyException => 0,
    }
}

/// The weighted mean of the values present among `members` (criterion position, weight).
fn weighted_mean(members: &[(usize, f64)], values: &[Option<f64>]) -> Option<f64> {
    let (sum, weight) = members
        .iter()
        .filter_map(|&(i, w)| values[i].map(|v| (v * w, w)))
        .fold((0.0, 0.0), |(s, t), (x, y)| (s + x, t + y));
    (weight > 0.0).then(|| sum / weight)
}

/// A group's criteria with their within-group weights.
fn group_members(rubric: &Rubric, group: &str) -> Vec<(usize, f64)> {
    rubric
        .members(group)
        .into_iter()
        .map(|i| (i, rubric.weights.local[i]))
        .collect()
}

/// A group's index: the weighted mean (within-group weights) of its criteria's panel values,
/// over the criteria that have one.
pub fn group_index(rubric: &Rubric, group: &str, values: &[Option<f64>]) -> Option<f64> {
    weighted_mean(&group_members(rubric, group), values)
}

/// A threshold, inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Bound {
    /// How far inside the threshold a value is (negative: outside).
    pub(crate) fn slack(self, value: f64) -> f64 {
        match self {
            Bound::AtLeast(t) => value - t,
            Bound::AtMost(t) => t - value,
        }
    }

    /// Whether a larger value satisfies it better.
    pub(crate) fn rises(self) -> bool {
        matches!(self, Bound::AtLeast(_))
    }
}

/// What a condition reads: a group index or one criterion's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Subject {
    pub(crate) kind: &'static str,
    pub(crate) id: String,
    pub(crate) name: String,
    /// Criterion positions and weights; one criterion with weight 1 for a criterion subject.
    pub(crate) members: Vec<(usize, f64)>,
}

impl Subject {
    pub(crate) fn value(&self, values: &[Option<f64>]) -> Option<f64> {
        weighted_mean(&self.members, values)
    }
}

/// A rule with its conditions resolved to subjects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledRule {
    pub(crate) mode: IntegrationMode,
    /// All conditions must hold (`all`), or one (`any`).
    pub(crate) all: bool,
    pub(crate) conditions: Vec<(usize, Bound)>,
}

/// The rubric's classification, resolved once: the subjects the conditions read and the rules
/// over them. `classify` and the search for flips both evaluate through it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rules {
    pub(crate) subjects: Vec<Subject>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) otherwise: IntegrationMode,
}

impl Rules {
    pub(crate) fn compile(rubric: &Rubric) -> Rules {
        let classification = &rubric.spec.classification;
        let mut subjects: Vec<Subject> = Vec::new();
        let mut subject_of = |condition: &Condition| -> Option<usize> {
            let (kind, id, name, members) = match (&condition.group, &condition.criterion) {
                (Some(g), _) => {
                    let (_, group) = rubric.group(g)?;
                    (
                        "group",
                        g.clone(),
                        format!("{}指数", group.name),
                        group_members(rubric, g),
                    )
                }
                (None, Some(c)) => {
                    let (i, criterion) = rubric.criterion(c)?;
                    ("criterion", c.clone(), criterion.name.clone(), vec![(i, 1.0)])
                }
                (None, None) => return None,
            };
            if let Some(found) = subjects.iter().position(|s| s.kind == kind && s.id == id) {
                return Some(found);
            }
            subjects.push(Subject {
                kind,
                id,
                name,
                members,
            });
            Some(subjects.len() - 1)
        };
        let rules = classification
            .rules
            .iter()
            .map(|rule| CompiledRule {
                mode: rule.mode,
                all: !rule.all.is_empty(),
                conditions: rule
                    .all
                    .iter()
                    .chain(&rule.any)
                    .filter_map(|c| {
                        let bound = match (c.at_least, c.at_most) {
                            (Some(t), _) => Bound::AtLeast(t),
                            (None, Some(t)) => Bound::AtMost(t),
                            (None, None) => return None,
                        };
                        Some((subject_of(c)?, bound))
                    })
                    .collect(),
            })
            .collect();
        Rules {
            subjects,
            rules,
            otherwise: classification.otherwise.mode,
        }
    }

    /// Every subject's value; `None` when one is missing.
    pub(crate) fn subject_values(&self, values: &[Option<f64>]) -> Option<Vec<f64>> {
        self.subjects.iter().map(|s| s.value(values)).collect()
    }

    /// The rules applied to the subjects' values.
    pub(crate) fn classify(&self, subject_values: &[f64]) -> Classified {
        let mut fits = Vec::with_capacity(self.rules.len() + 1);
        for rule in &self.rules {
            let slacks = rule
                .conditions
                .iter()
                .map(|&(s, bound)| bound.slack(subject_values[s]));
            let fit = if rule.all {
                slacks.fold(f64::INFINITY, f64::min)
            } else {
                slacks.fold(f64::NEG_INFINITY, f64::max)
            };
            fits.push(ModeFit {
                mode: rule.mode,
                label: rule.mode.label().to_owned(),
                fit,
                holds: fit >= -EPS,
            });
        }
        let best_rule = fits.iter().map(|f| f.fit).fold(f64::NEG_INFINITY, f64::max);
        let winner = fits
            .iter()
            .filter(|f| f.holds)
            .max_by(|a, b| {
                if (a.fit - b.fit).abs() <= EPS {
                    keeps_legacy(a.mode).cmp(&keeps_legacy(b.mode))
                } else {
                    a.fit.total_cmp(&b.fit)
                }
            })
            .map(|f| (f.mode, f.fit));
        let tie_broken = winner.is_some_and(|(mode, fit)| {
            fits.iter()
                .any(|f| f.holds && f.mode != mode && (f.fit - fit).abs() <= EPS)
        });
        fits.push(ModeFit {
            mode: self.otherwise,
            label: self.otherwise.label().to_owned(),
            fit: -best_rule,
            holds: winner.is_none(),
        });
        Classified {
            mode: winner.map_or(self.otherwise, |(mode, _)| mode),
            fits,
            tie_broken,
        }
    }
}

/// A mode's fit to the values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeFit {
    pub mode: IntegrationMode,
    pub label: String,
    /// A rule's slack; for the ordinary mode, minus the best rule's (how far every rule is from
    /// holding).
    pub fit: f64,
    pub holds: bool,
}

/// The outcome of applying the rules to a set of values.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub mode: IntegrationMode,
    pub fits: Vec<ModeFit>,
    /// Several rules held with equal fits and the tie rule chose.
    pub tie_broken: bool,
}

/// Applies the rubric's rules to per-criterion values (rubric order). `None` when a value a
/// condition reads is missing.
pub fn classify(rubric: &Rubric, values: &[Option<f64>]) -> Option<Classified> {
    let rules = Rules::compile(rubric);
    rules.subject_values(values).map(|v| rules.classify(&v))
}

/// One condition of one rule, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionCheck {
    pub mode: IntegrationMode,
    pub mode_label: String,
    /// `group` or `criterion`.
    pub kind: String,
    pub subject: String,
    pub subject_name: String,
    /// `≥` or `≤`.
    pub comparator: String,
    pub threshold: f64,
    pub value: f64,
    pub holds: bool,
    pub slack: f64,
}

/// A group index and what it is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    pub id: String,
    pub name: String,
    pub index: Option<f64>,
    pub eases_integration: bool,
    pub parts: Vec<GroupPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupPart {
    pub criterion: String,
    pub name: String,
    /// Weight within the group.
    pub weight: f64,
    pub value: Option<f64>,
}

/// What it would take to reach another mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub mode: IntegrationMode,
    pub label: String,
    /// The smallest number of one-point changes to individual scores that gives this mode;
    /// `None` when the search did not reach it.
    pub score_changes: Option<u32>,
    pub changes: Vec<flip::ScoreChange>,
}

/// Why the verdict is what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rationale {
    pub conditions: Vec<ConditionCheck>,
    pub groups: Vec<GroupResult>,
    pub fits: Vec<ModeFit>,
    pub tie_broken: bool,
    /// The winning mode's fit: for a rule, how far its tightest condition is inside its
    /// threshold; for the ordinary mode, how far the nearest rule is from holding.
    pub deciding_slack: f64,
    /// Every other mode the scores can reach, nearest first.
    pub alternatives: Vec<Alternative>,
    /// The cheapest flip: one-point score changes to the nearest other mode.
    pub smallest_flip: Option<u32>,
    /// How far the search for flips went, in one-point changes, when it stopped short.
    pub searched_up_to: Option<u32>,
}

/// Confidence levels, and risk levels (`risk.rs` reuses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Low => "低",
            Level::Medium => "中",
            Level::High => "高",
        }
    }
}

/// One input to the confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// `agreement`, `completeness` or `margin`.
    pub factor: String,
    pub label: String,
    pub level: Level,
    pub level_label: String,
    pub detail: String,
}

/// How far to trust the verdict: the lowest of its factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    pub level: Level,
    pub label: String,
    pub factors: Vec<Factor>,
}

fn factor(factor: &str, label: &str, level: Level, detail: String) -> Factor {
    Factor {
        factor: factor.to_owned(),
        label: label.to_owned(),
        level,
        level_label: level.label().to_owned(),
        detail,
    }
}

/// The rationale of a score-based verdict. `scores` holds each criterion's scores (rubric
/// order); `values` the panel's values.
pub fn rationale(
    rubric: &Rubric,
    scores: &[Vec<u8>],
    values: &[Option<f64>],
    classified: &Classified,
) -> Rationale {
    let rules = Rules::compile(rubric);
    let mut conditions = Vec::new();
    for rule in &rules.rules {
        for &(s, bound) in &rule.conditions {
            let subject = &rules.subjects[s];
            let Some(value) = subject.value(values) else {
                continue;
            };
            let (comparator, threshold) = match bound {
                Bound::AtLeast(t) => ("≥", t),
                Bound::AtMost(t) => ("≤", t),
            };
            let slack = bound.slack(value);
            conditions.push(ConditionCheck {
                mode: rule.mode,
                mode_label: rule.mode.label().to_owned(),
                kind: subject.kind.to_owned(),
                subject: subject.id.clone(),
                subject_name: subject.name.clone(),
                comparator: comparator.to_owned(),
                threshold,
                value,
                holds: slack >= -EPS,
                slack,
            });
        }
    }
    let groups = rubric
        .spec
        .groups
        .iter()
        .map(|g| GroupResult {
            id: g.id.clone(),
            name: g.name.clone(),
            index: group_index(rubric, &g.id, values),
            eases_integration: g.eases_integration,
            parts: rubric
                .members(&g.id)
                .into_iter()
                .map(|i| GroupPart {
                    criterion: rubric.spec.criteria[i].id.clone(),
                    name: rubric.spec.criteria[i].name.clone(),
                    weight: rubric.weights.local[i],
                    value: values[i],
                })
                .collect(),
        })
        .collect();
    let search = flip::smallest_flips(rubric, scores, classified.mode);
    let mut alternatives: Vec<Alternative> = classified
        .fits
        .iter()
        .filter(|f| f.mode != classified.mode)
        .map(|f| {
            let found: Option<&Flip> = search.flips.iter().find(|x| x.to == f.mode);
            Alternative {
                mode: f.mode,
                label: f.label.clone(),
                score_changes: found.map(|x| x.score_changes),
                changes: found.map(|x| x.changes.clone()).unwrap_or_default(),
            }
        })
        .collect();
    alternatives.sort_by_key(|a| (a.score_changes.is_none(), a.score_changes, keeps_legacy(a.mode)));
    let deciding_slack = classified
        .fits
        .iter()
        .find(|f| f.mode == classified.mode)
        .map_or(0.0, |f| f.fit);
    Rationale {
        conditions,
        groups,
        fits: classified.fits.clone(),
        tie_broken: classified.tie_broken,
        deciding_slack,
        smallest_flip: alternatives.iter().filter_map(|a| a.score_changes).min(),
        alternatives,
        searched_up_to: search.exhausted.then_some(search.searched_up_to),
    }
}

/// Confidence from agreement (contested criteria, ICC and Kendall's W), completeness and margin.
/// Agreement that cannot be measured (ICC or W undefined: one expert, or every criterion with
/// the same panel value, or every expert tying every criterion) is not high agreement: medium.
pub fn confidence(
    rubric: &Rubric,
    results: &[CriterionResult],
    icc_average: Option<f64>,
    kendall_w: Option<f64>,
    completeness: f64,
    smallest_flip: Option<u32>,
) -> Confidence {
    let bars = &rubric.spec.confidence;
    let classifying: Vec<&str> = rubric
        .classifying_criteria()
        .into_iter()
        .map(|i| rubric.spec.criteria[i].id.as_str())
        .collect();
    let contested: Vec<&CriterionResult> = results.iter().filter(|r| r.contested).collect();
    let deciding: Vec<&str> = contested
        .iter()
        .filter(|r| classifying.contains(&r.id.as_str()))
        .map(|r| r.name.as_str())
        .collect();
    let agreement = if !deciding.is_empty() {
        factor(
            "agreement",
            "一致性",
            Level::Low,
            format!("决定分类的指标仍有争议:{}", deciding.join("、")),
        )
    } else if !contested.is_empty() {
        let names: Vec<&str> = contested.iter().map(|r| r.name.as_str()).collect();
        factor(
            "agreement",
            "一致性",
            Level::Medium,
            format!("有争议的指标不参与分类:{}", names.join("、")),
        )
    } else {
        let medium = |detail: String| factor("agreement", "一致性", Level::Medium, detail);
        match (icc_average, kendall_w) {
            (None, _) => medium(
                "无争议指标,但一致性无法测量:ICC 不可计算(各指标面板值相同或只有一位专家)agreement cannot be measured"
                    .to_owned(),
            ),
            (_, None) => medium(
                "无争议指标,但一致性无法测量:Kendall's W 不可计算(只有一位专家,或各专家对各指标评分全部相同)agreement cannot be measured"
                    .to_owned(),
            ),
            (Some(icc), _) if icc + EPS < bars.high_icc => medium(format!(
                "无争议指标,但 ICC(2,k) = {icc:.2} 低于 {:.2}",
                bars.high_icc
            )),
            (Some(_), Some(w)) if bars.high_kendall_w.is_some_and(|bar| w + EPS < bar) => medium(format!(
                "无争议指标,但 Kendall's W = {w:.2} 低于 {:.2}",
                bars.high_kendall_w.unwrap_or_default()
            )),
            (Some(icc), Some(w)) => factor(
                "agreement",
                "一致性",
                Level::High,
                format!("无争议指标,ICC(2,k) = {icc:.2},Kendall's W = {w:.2}"),
            ),
        }
    };
    let completeness_level = if completeness + EPS >= bars.high_completeness {
        Level::High
    } else if completeness + EPS >= bars.medium_completeness {
        Level::Medium
    } else {
        Level::Low
    };
    let completeness = factor(
        "completeness",
        "完整度",
        completeness_level,
        format!("应评分项中已评 {:.0}%", completeness * 100.0),
    );
    let margin = match smallest_flip {
        None => factor(
            "margin",
            "裕度",
            Level::High,
            "在搜索范围内,任何评分改动都不能改变结论".to_owned(),
        ),
        Some(n) => {
            let level = if n >= bars.high_score_changes {
                Level::High
            } else if n >= bars.medium_score_changes {
                Level::Medium
            } else {
                Level::Low
            };
            factor(
                "margin",
                "裕度",
                level,
                format!("至少 {n} 处单分改动才会改变结论"),
            )
        }
    };
    let factors = vec![agreement, completeness, margin];
    let level = factors.iter().map(|f| f.level).min().unwrap_or(Level::Low);
    Confidence {
        level,
        label: level.label().to_owned(),
        factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntegrationMode::*;

    /// Values for the default rubric from one number per group (both criteria alike).
    fn values(rubric: &Rubric, by_group: &[(&str, f64)]) -> Vec<Option<f64>> {
        crate::fixtures::per_criterion(rubric, by_group, 3.0)
            .into_iter()
            .map(Some)
            .collect()
    }

    /// Agreement that cannot be measured is not high: with no contested criterion, full
    /// completeness and a wide margin, confidence is high only when ICC and W are both defined
    /// (and over a W bar the rubric sets).
    #[test]
    fn agreement_that_cannot_be_measured_is_not_high() {
        let mut rubric = Rubric::builtin();
        let level = |rubric: &Rubric, icc: Option<f64>, w: Option<f64>| {
            let got = confidence(rubric, &[], icc, w, 1.0, None);
            let agreement = got
                .factors
                .iter()
                .find(|f| f.factor == "agreement")
                .unwrap()
                .clone();
            (got.level, agreement.detail)
        };
        assert_eq!(level(&rubric, Some(0.8), Some(0.6)).0, Level::High);
        for (icc, w) in [(None, Some(0.0004)), (Some(0.8), None), (None, None)] {
            let (got, detail) = level(&rubric, icc, w);
            assert_eq!(got, Level::Medium, "{icc:?} {w:?}");
            assert!(
                detail.contains("无法测量") && detail.contains("cannot be measured"),
                "{detail}"
            );
        }
        // W below a bar the rubric sets lowers it too; without a bar W only has to exist.
        assert_eq!(level(&rubric, Some(0.8), Some(0.1)).0, Level::High);
        rubric.spec.confidence.high_kendall_w = Some(0.3);
        let (got, detail) = level(&rubric, Some(0.8), Some(0.1));
        assert_eq!(got, Level::Medium);
        assert!(detail.contains("Kendall's W = 0.10 低于 0.30"), "{detail}");
    }

    /// The classification table of the default rubric: each mode, and the boundaries between
    /// them (thresholds are inclusive: exactly 2.5 is "at most 2.5", exactly 3.5 "at least 3.5").
    #[test]
    fn classification_table() {
        let rubric = Rubric::builtin();
        let check = |by_group: &[(&str, f64)], expected: IntegrationMode, tie: bool| {
            let got = classify(&rubric, &values(&rubric, by_group)).unwrap();
            assert_eq!(
                (got.mode, got.tie_broken),
                (expected, tie),
                "{by_group:?}: {:?}",
                got.fits
            );
        };
        // An ordinary system.
        check(&[], FrontEndMigration, false);
        // Weak support, a single business line.
        check(&[("support", 1.5), ("business", 1.0)], FullMigration, false);
        check(&[("support", 2.5), ("business", 2.5)], FullMigration, false);
        check(&[("support", 2.51), ("business", 1.0)], FrontEndMigration, false);
        check(&[("support", 1.0), ("business", 2.51)], FrontEndMigration, false);
        // Complex and hard to connect.
        check(
            &[("process", 4.5), ("integration", 4.0)],
            CompatibleTransition,
            false,
        );
        check(
            &[("process", 3.5), ("integration", 3.5)],
            CompatibleTransition,
            false,
        );
        check(
            &[("process", 3.49), ("integration", 5.0)],
            FrontEndMigration,
            false,
        );
        check(
            &[("process", 5.0), ("integration", 3.49)],
            FrontEndMigration,
            false,
        );
        // Both rules hold: the larger slack wins …
        check(
            &[
                ("support", 1.0),
                ("business", 1.0),
                ("process", 3.6),
                ("integration", 3.6),
            ],
            FullMigration,
            false,
        );
        check(
            &[
                ("support", 2.4),
                ("business", 2.4),
                ("process", 5.0),
                ("integration", 5.0),
            ],
            CompatibleTransition,
            false,
        );
        // … and equal slacks go to the mode that keeps more of the legacy system.
        check(
            &[
                ("support", 2.0),
                ("business", 2.0),
                ("process", 4.0),
                ("integration", 4.0),
            ],
            CompatibleTransition,
            true,
        );
    }

    #[test]
    fn a_missing_value_gives_no_classification() {
        let rubric = Rubric::builtin();
        let mut v = values(&rubric, &[]);
        for i in rubric.members("process") {
            v[i] = None;
        }
        assert!(classify(&rubric, &v).is_none());
        // A value the rules never read may be missing.
        let (data, _) = rubric.criterion("data_quality").unwrap();
        let mut v = values(&rubric, &[]);
        v[data] = None;
        assert_eq!(classify(&rubric, &v).unwrap().mode, FrontEndMigration);
    }

    #[test]
    fn the_ordinary_modes_fit_is_the_distance_of_the_nearest_rule() {
        let rubric = Rubric::builtin();
        let got = classify(
            &rubric,
            &values(&rubric, &[("process", 3.3), ("integration", 4.0)]),
        )
        .unwrap();
        let ordinary = got.fits.iter().find(|f| f.mode == FrontEndMigration).unwrap();
        assert!(
            (ordinary.fit - 0.2).abs() < 1e-9 && ordinary.holds,
            "{:?}",
            got.fits
        );
    }
}
