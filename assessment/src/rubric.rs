//! The rubric: a versioned, content-hashed TOML file that says what experts score (criteria in
//! groups, each level of the 1–5 scale described in zh-CN), how scores aggregate, when a
//! criterion goes to another Delphi round, how weights are set (directly or by AHP), the Art. 25
//! classification rules, the confidence bars and the Art. 24 risk inputs. Parsing validates the
//! whole file and reports every problem at once; the default rubric ships in `rubrics/`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::IntegrationMode;
use crate::aggregate::Aggregation;
use crate::ahp::{AhpError, Comparison, Judgment, Priorities};

/// The rubric that ships with ronghe.
pub const DEFAULT_RUBRIC: &str = include_str!("../rubrics/ronghe-default-v1.toml");

/// The AHP scope that compares the groups with each other.
pub const GROUPS_SCOPE: &str = "groups";

/// The largest panel a rubric may allow: keeps the verdict's search for the smallest score
/// change exact and fast.
pub const MAX_PANEL: usize = 30;

/// One problem found in a rubric (or another input), with the path of what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Where, e.g. `criteria[2].levels` or `weights.judgments[0]`.
    pub path: String,
    /// Stable rule code, e.g. `rubric.levels`, `ahp.consistency`.
    pub rule: String,
    pub message: String,
}

/// Why a rubric was refused: every problem found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid rubric: {}", .issues.iter().map(|i| format!("{}: {} [{}]", i.path, i.message, i.rule)).collect::<Vec<_>>().join("; "))]
pub struct RubricError {
    pub issues: Vec<Issue>,
}

/// What the author writes (the TOML file, comments aside). The content hash covers exactly this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RubricSpec {
    /// Stable identifier, e.g. `ronghe-default`.
    pub id: String,
    /// A changed rubric is a new version; a used version never changes.
    pub version: u32,
    /// 量表名称.
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub panel: PanelRules,
    pub delphi: DelphiRules,
    pub confidence: ConfidenceRules,
    pub groups: Vec<Group>,
    pub criteria: Vec<Criterion>,
    pub weights: Weighting,
    pub classification: Classification,
    pub risk: RiskRules,
}

/// How a panel's scores are combined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelRules {
    pub aggregation: Aggregation,
    /// The trimmed mean drops the highest and the lowest score once a criterion has this many.
    pub trim_from_scores: usize,
    /// Scores a criterion used by the classification needs before a verdict.
    pub min_scores: usize,
    /// The most experts a panel may have (at most 30).
    pub max_experts: usize,
}

/// When a criterion's spread sends it to another round (Delphi).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelphiRules {
    /// A criterion whose interquartile range exceeds this is contested.
    pub max_iqr: f64,
    /// A criterion whose coefficient of variation exceeds this is contested.
    pub max_cv: f64,
    /// Rounds in all, the first included; contested criteria after the last stay contested.
    pub max_rounds: u32,
}

/// The bars for a verdict's confidence: each factor is high, medium or low; the verdict takes
/// the lowest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfidenceRules {
    /// Share of the expected scores given (non-recused experts × criteria) for high.
    pub high_completeness: f64,
    /// … and for medium.
    pub medium_completeness: f64,
    /// One-point score changes needed to flip the verdict, for high.
    pub high_score_changes: u32,
    /// … and for medium.
    pub medium_score_changes: u32,
    /// Agreement is high only with no contested criterion and ICC(2,k) at least this.
    pub high_icc: f64,
    /// … and, when set, Kendall's W at least this (the experts rank the criteria alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_kendall_w: Option<f64>,
}

/// A group of criteria (e.g. 支撑能力).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// High scores here make integration easier (interface readiness, data quality, security):
    /// the burden index counts them reversed.
    #[serde(default)]
    pub eases_integration: bool,
}

/// One scored criterion; `levels[0]` describes score 1, `levels[4]` score 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub id: String,
    pub group: String,
    pub name: String,
    /// What the expert judges.
    pub question: String,
    pub levels: Vec<String>,
}

/// How criterion weights are set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Weighting {
    /// A positive weight per criterion; normalised to sum to 1.
    Direct { criteria: BTreeMap<String, f64> },
    /// Saaty's AHP: the groups compared with each other (scope `groups`), and the criteria of
    /// each group with each other (scope = the group id). Several judges' matrices of one scope
    /// combine by element-wise geometric mean.
    Ahp { judgments: Vec<JudgmentSet> },
}

/// One judge's pairwise judgments in one scope. Each pair is `[a, b, value]`: a is `value`
/// times as important as b (write the more important element first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgmentSet {
    pub judge: String,
    pub scope: String,
    pub pairs: Vec<(String, String, f64)>,
}

/// The Art. 25 classification, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// The mode of an ordinary system: the verdict when no rule holds.
    pub otherwise: Otherwise,
    /// Each rule's conditions say when its mode applies.
    pub rules: Vec<Rule>,
    pub exception: Exception,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Otherwise {
    pub mode: IntegrationMode,
    /// The regulation's words for it.
    pub basis: String,
}

/// A mode and the conditions under which it applies: all of `all`, or at least one of `any`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub mode: IntegrationMode,
    pub basis: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<Condition>,
}

/// A threshold on a group's index or a criterion's value; thresholds are inclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
}

/// The secrecy exception (Art. 25, last paragraph).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub basis: String,
    /// The shortest justification accepted, in characters.
    pub min_justification_chars: usize,
}

/// Which criteria answer Art. 24's 保障能力 and 应用合规性, and what counts as strong or weak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRules {
    pub safeguards: String,
    pub compliance: String,
    /// Both at least this lower the risk one level.
    pub strong_at_least: f64,
    /// Either at most this raises the risk one level.
    pub weak_at_most: f64,
}

/// The weights the rubric gives, derived from its weighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// Per group, in the order of `groups`; sums to 1.
    pub groups: Vec<f64>,
    /// Per criterion within its group, in the order of `criteria`; each group's sum to 1.
    pub local: Vec<f64>,
    /// Per criterion overall (group × local); sums to 1.
    pub global: Vec<f64>,
}

/// The AHP result of one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AhpScope {
    pub scope: String,
    pub judges: Vec<String>,
    /// Each judge's own consistency ratio.
    pub judge_cr: Vec<f64>,
    /// From the geometric mean of the judges' matrices.
    pub priorities: Priorities,
}

/// A validated rubric with its derived weights and content hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rubric {
    #[serde(flatten)]
    pub spec: RubricSpec,
    /// SHA-256 (hex) of the canonical JSON of `spec`: comments and layout do not count.
    pub content_hash: String,
    pub weights: Weights,
    /// Empty for direct weights.
    pub ahp: Vec<AhpScope>,
}

/// Collects problems so that all are reported at once.
#[derive(Default)]
struct Problems(Vec<Issue>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, rule: &str, message: impl Into<String>) {
        self.0.push(Issue {
            path: path.into(),
            rule: rule.to_owned(),
            message: message.into(),
        });
    }

    fn text(&mut self, path: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(path, "required", "must not be empty");
        }
    }
}

fn is_identifier(id: &str, extra: char) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

impl Rubric {
    /// Parses and validates a rubric file, deriving its weights.
    pub fn parse(text: &str) -> Result<Rubric, RubricError> {
        let spec: RubricSpec = toml::from_str(text).map_err(|e| RubricError {
            issues: vec![Issue {
                path: e.span().map(|s| format!("byte {}", s.start)).unwrap_or_default(),
                rule: "rubric.syntax".to_owned(),
                message: e.message().to_owned(),
            }],
        })?;
        Rubric::from_spec(spec)
    }

    /// The rubric that ships with ronghe (`rubrics/ronghe-default-v1.toml`).
    pub fn builtin() -> Rubric {
        // Invariant: the shipped file is valid; `the_default_rubric_is_valid` checks it.
        Rubric::parse(DEFAULT_RUBRIC).expect("the built-in rubric is valid")
    }

    /// Validates a spec and derives its weights.
    pub fn from_spec(spec: RubricSpec) -> Result<Rubric, RubricError> {
        let mut p = Problems::default();
        check_header(&mut p, &spec);
        check_structure(&mut p, &spec);
        check_classification(&mut p, &spec);
        let (weights, ahp) = derive_weights(&mut p, &spec);
        if !p.0.is_empty() {
            return Err(RubricError { issues: p.0 });
        }
        let canonical = serde_json::to_vec(&spec).map_err(|e| RubricError {
            issues: vec![Issue {
                path: String::new(),
                rule: "rubric.encoding".to_owned(),
                message: e.to_string(),
            }],
        })?;
        let content_hash = format!("{:x}", Sha256::digest(&canonical));
        Ok(Rubric {
            spec,
            content_hash,
            weights,
            ahp,
        })
    }

    /// A criterion's position and definition.
    pub fn criterion(&self, id: &str) -> Option<(usize, &Criterion)> {
        self.spec.criteria.iter().enumerate().find(|(_, c)| c.id == id)
    }

    /// A group's position and definition.
    pub fn group(&self, id: &str) -> Option<(usize, &Group)> {
        self.spec.groups.iter().enumerate().find(|(_, g)| g.id == id)
    }

    /// Positions of the criteria of a group.
    pub fn members(&self, group: &str) -> Vec<usize> {
        (0..self.spec.criteria.len())
            .filter(|&i| self.spec.criteria[i].group == group)
            .collect()
    }

    /// Positions of every criterion a classification condition reads, directly or through its
    /// group, in rubric order.
    pub fn classifying_criteria(&self) -> Vec<usize> {
        let mut used = BTreeSet::new();
        for rule in &self.spec.classification.rules {
            for condition in rule.all.iter().chain(&rule.any) {
                if let Some(group) = &condition.group {
                    used.extend(self.members(group));
                }
                if let Some((i, _)) = condition.criterion.as_deref().and_then(|c| self.criterion(c)) {
                    used.insert(i);
                }
            }
        }
        used.into_iter().collect()
    }
}

fn check_header(p: &mut Problems, spec: &RubricSpec) {
    if !is_identifier(&spec.id, '-') {
        p.add(
            "id",
            "rubric.id",
            "use lower-case letters, digits and '-', starting with a letter (e.g. ronghe-default)",
        );
    }
    if spec.version == 0 {
        p.add("version", "rubric.version", "versions start at 1");
    }
    p.text("title", &spec.title);
    let panel = &spec.panel;
    if panel.trim_from_scores < 3 {
        p.add(
            "panel.trim_from_scores",
            "rubric.range",
            "trimming needs at least 3 scores",
        );
    }
    if panel.min_scores == 0 {
        p.add("panel.min_scores", "rubric.range", "must be at least 1");
    }
    if !(2..=MAX_PANEL).contains(&panel.max_experts) {
        p.add(
            "panel.max_experts",
            "rubric.range",
            format!("must be between 2 and {MAX_PANEL}"),
        );
    }
    let delphi = &spec.delphi;
    for (path, value) in [
        ("delphi.max_iqr", delphi.max_iqr),
        ("delphi.max_cv", delphi.max_cv),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            p.add(path, "rubric.range", "must be zero or more");
        }
    }
    if !(1..=5).contains(&delphi.max_rounds) {
        p.add("delphi.max_rounds", "rubric.range", "must be between 1 and 5");
    }
    let c = &spec.confidence;
    let share = |x: f64| x > 0.0 && x <= 1.0;
    if !(share(c.high_completeness)
        && share(c.medium_completeness)
        && c.medium_completeness <= c.high_completeness)
    {
        p.add(
            "confidence",
            "rubric.range",
            "completeness bars are shares in (0, 1], medium at most high",
        );
    }
    if !(c.medium_score_changes >= 1 && c.medium_score_changes <= c.high_score_changes) {
        p.add(
            "confidence",
            "rubric.range",
            "score-change bars are at least 1, medium at most high",
        );
    }
    if !(-1.0..=1.0).contains(&c.high_icc) {
        p.add("confidence.high_icc", "rubric.range", "must be between -1 and 1");
    }
    if c.high_kendall_w.is_some_and(|w| !(0.0..=1.0).contains(&w)) {
        p.add(
            "confidence.high_kendall_w",
            "rubric.range",
            "must be between 0 and 1",
        );
    }
}

fn check_structure(p: &mut Problems, spec: &RubricSpec) {
    let mut group_ids = BTreeSet::new();
    for (i, g) in spec.groups.iter().enumerate() {
        if !is_identifier(&g.id, '_') || g.id == GROUPS_SCOPE {
            p.add(
                format!("groups[{i}].id"),
                "rubric.id",
                format!(
                    "use lower-case letters, digits and '_' (not {GROUPS_SCOPE:?}), starting with a letter"
                ),
            );
        }
        if !group_ids.insert(g.id.as_str()) {
            p.add(
                format!("groups[{i}].id"),
                "rubric.duplicate",
                format!("group {:?} is defined twice", g.id),
            );
        }
        p.text(&format!("groups[{i}].name"), &g.name);
    }
    if spec.groups.is_empty() {
        p.add("groups", "required", "a rubric needs at least one group");
    }
    let mut criterion_ids = BTreeSet::new();
    for (i, c) in spec.criteria.iter().enumerate() {
        if !is_identifier(&c.id, '_') {
            p.add(
                format!("criteria[{i}].id"),
                "rubric.id",
                "use lower-case letters, digits and '_', starting with a letter",
            );
        }
        if !criterion_ids.insert(c.id.as_str()) {
            p.add(
                format!("criteria[{i}].id"),
                "rubric.duplicate",
                format!("criterion {:?} is defined twice", c.id),
            );
        }
        if !group_ids.contains(c.group.as_str()) {
            p.add(
                format!("criteria[{i}].group"),
                "rubric.unknown",
                format!("no group {:?}", c.group),
            );
        }
        p.text(&format!("criteria[{i}].name"), &c.name);
        p.text(&format!("criteria[{i}].question"), &c.question);
        if c.levels.len() != 5 || c.levels.iter().any(|l| l.trim().is_empty()) {
            p.add(
                format!("criteria[{i}].levels"),
                "rubric.levels",
                "describe each of the five levels 1-5, in order",
            );
        }
    }
    for (i, g) in spec.groups.iter().enumerate() {
        if !spec.criteria.iter().any(|c| c.group == g.id) {
            p.add(
                format!("groups[{i}]"),
                "rubric.empty_group",
                format!("group {:?} has no criterion", g.id),
            );
        }
    }
    for (path, id) in [
        ("risk.safeguards", &spec.risk.safeguards),
        ("risk.compliance", &spec.risk.compliance),
    ] {
        if !criterion_ids.contains(id.as_str()) {
            p.add(path, "rubric.unknown", format!("no criterion {id:?}"));
        }
    }
    let r = &spec.risk;
    if !(in_scale(r.strong_at_least) && in_scale(r.weak_at_most) && r.weak_at_most < r.strong_at_least) {
        p.add(
            "risk",
            "rubric.range",
            "thresholds lie within 1-5, weak_at_most below strong_at_least",
        );
    }
}

fn in_scale(x: f64) -> bool {
    (1.0..=5.0).contains(&x)
}

fn check_classification(p: &mut Problems, spec: &RubricSpec) {
    let c = &spec.classification;
    if c.otherwise.mode == IntegrationMode::SecrecyException {
        p.add(
            "classification.otherwise.mode",
            "rubric.mode",
            "the secrecy exception follows from a justification, never from scores",
        );
    }
    p.text("classification.otherwise.basis", &c.otherwise.basis);
    p.text("classification.exception.basis", &c.exception.basis);
    if c.rules.is_empty() {
        p.add(
            "classification.rules",
            "required",
            "at least one rule besides the ordinary mode",
        );
    }
    let mut modes = BTreeSet::from([c.otherwise.mode.name()]);
    for (i, rule) in c.rules.iter().enumerate() {
        let path = format!("classification.rules[{i}]");
        if rule.mode == IntegrationMode::SecrecyException {
            p.add(
                format!("{path}.mode"),
                "rubric.mode",
                "the secrecy exception follows from a justification, never from scores",
            );
        } else if !modes.insert(rule.mode.name()) {
            p.add(
                format!("{path}.mode"),
                "rubric.duplicate",
                format!("{} already has a rule or is the ordinary mode", rule.mode.name()),
            );
        }
        p.text(&format!("{path}.basis"), &rule.basis);
        if rule.all.is_empty() == rule.any.is_empty() {
            p.add(
                path.clone(),
                "rubric.conditions",
                "give the conditions as either `all` or `any`, not both and not neither",
            );
        }
        for (kind, list) in [("all", &rule.all), ("any", &rule.any)] {
            for (j, condition) in list.iter().enumerate() {
                check_condition(p, spec, &format!("{path}.{kind}[{j}]"), condition);
            }
        }
    }
    // Conditions read disjoint sets of criteria: a criterion is used directly or through its
    // group, never both (the search for the smallest flip relies on it).
    let conditions = c.rules.iter().flat_map(|r| r.all.iter().chain(&r.any));
    let groups: BTreeSet<&str> = conditions.clone().filter_map(|c| c.group.as_deref()).collect();
    for criterion in conditions.filter_map(|c| c.criterion.as_deref()) {
        if let Some(found) = spec.criteria.iter().find(|x| x.id == criterion)
            && groups.contains(found.group.as_str())
        {
            p.add(
                "classification.rules",
                "rubric.overlap",
                format!(
                    "criterion {criterion:?} is used both directly and through its group {:?}; use one or the other",
                    found.group
                ),
            );
        }
    }
}

fn check_condition(p: &mut Problems, spec: &RubricSpec, path: &str, condition: &Condition) {
    match (&condition.group, &condition.criterion) {
        (Some(g), None) if !spec.groups.iter().any(|x| &x.id == g) => {
            p.add(path, "rubric.unknown", format!("no group {g:?}"));
        }
        (None, Some(c)) if !spec.criteria.iter().any(|x| &x.id == c) => {
            p.add(path, "rubric.unknown", format!("no criterion {c:?}"));
        }
        (Some(_), None) | (None, Some(_)) => {}
        _ => p.add(
            path,
            "rubric.condition",
            "name exactly one of `group` or `criterion`",
        ),
    }
    match (condition.at_least, condition.at_most) {
        (Some(t), None) | (None, Some(t)) if in_scale(t) => {}
        (Some(_), None) | (None, Some(_)) => p.add(path, "rubric.range", "thresholds lie within 1-5"),
        _ => p.add(
            path,
            "rubric.condition",
            "give exactly one of `at_least` or `at_most`",
        ),
    }
}

fn derive_weights(p: &mut Problems, spec: &RubricSpec) -> (Weights, Vec<AhpScope>) {
    let groups = spec.groups.len();
    let criteria = spec.criteria.len();
    let member_ids = |group: &str| -> Vec<String> {
        spec.criteria
            .iter()
            .filter(|c| c.group == group)
            .map(|c| c.id.clone())
            .collect()
    };
    let mut weights = Weights {
        groups: vec![0.0; groups],
        local: vec![0.0; criteria],
        global: vec![0.0; criteria],
    };
    let mut scopes = Vec::new();
    match &spec.weights {
        Weighting::Direct { criteria: given } => {
            for (i, c) in spec.criteria.iter().enumerate() {
                match given.get(&c.id) {
                    Some(&w) if w.is_finite() && w > 0.0 => weights.global[i] = w,
                    Some(_) => p.add(
                        format!("weights.criteria.{}", c.id),
                        "rubric.weight",
                        "weights are positive numbers",
                    ),
                    None => p.add(
                        format!("weights.criteria.{}", c.id),
                        "required",
                        "every criterion needs a weight",
                    ),
                }
            }
            for id in given.keys() {
                if !spec.criteria.iter().any(|c| &c.id == id) {
                    p.add(
                        format!("weights.criteria.{id}"),
                        "rubric.unknown",
                        format!("no criterion {id:?}"),
                    );
                }
            }
            let total: f64 = weights.global.iter().sum();
            if total > 0.0 {
                weights.global.iter_mut().for_each(|w| *w /= total);
            }
            for (g, group) in spec.groups.iter().enumerate() {
                let members: Vec<usize> = (0..criteria)
                    .filter(|&i| spec.criteria[i].group == group.id)
                    .collect();
                let sum: f64 = members.iter().map(|&i| weights.global[i]).sum();
                weights.groups[g] = sum;
                for i in members {
                    weights.local[i] = if sum > 0.0 { weights.global[i] / sum } else { 0.0 };
                }
            }
        }
        Weighting::Ahp { judgments } => {
            for (i, set) in judgments.iter().enumerate() {
                if set.scope != GROUPS_SCOPE && !spec.groups.iter().any(|g| g.id == set.scope) {
                    p.add(
                        format!("weights.judgments[{i}].scope"),
                        "rubric.unknown",
                        format!("scope {:?} is neither {GROUPS_SCOPE:?} nor a group", set.scope),
                    );
                }
            }
            let group_ids: Vec<String> = spec.groups.iter().map(|g| g.id.clone()).collect();
            if let Some(scope) = ahp_scope(p, judgments, GROUPS_SCOPE, &group_ids) {
                weights.groups = scope.priorities.weights.clone();
                scopes.push(scope);
            } else {
                weights.groups = vec![1.0 / groups.max(1) as f64; groups];
            }
            for (g, group) in spec.groups.iter().enumerate() {
                let ids = member_ids(&group.id);
                let local = match ahp_scope(p, judgments, &group.id, &ids) {
                    Some(scope) => {
                        let w = scope.priorities.weights.clone();
                        scopes.push(scope);
                        w
                    }
                    None => vec![1.0 / ids.len().max(1) as f64; ids.len()],
                };
                for (id, w) in ids.iter().zip(local) {
                    if let Some(i) = spec.criteria.iter().position(|c| &c.id == id) {
                        weights.local[i] = w;
                        weights.global[i] = weights.groups[g] * w;
                    }
                }
            }
        }
    }
    (weights, scopes)
}

/// The combined AHP result of one scope over `elements`. A scope of one element needs no
/// judgment (`None`); a larger one needs at least one judge; every judge's matrix and the
/// combined one must be consistent (CR ≤ 0.10).
fn ahp_scope(p: &mut Problems, sets: &[JudgmentSet], scope: &str, elements: &[String]) -> Option<AhpScope> {
    let mine: Vec<(usize, &JudgmentSet)> = sets
        .iter()
        .enumerate()
        .filter(|(_, s)| s.scope == scope)
        .collect();
    if elements.len() < 2 {
        for (i, _) in mine {
            p.add(
                format!("weights.judgments[{i}]"),
                "ahp.scope",
                format!("scope {scope:?} has a single element; it needs no judgment"),
            );
        }
        return None;
    }
    if mine.is_empty() {
        p.add(
            "weights.judgments",
            "ahp.missing_scope",
            format!("no judge compares the elements of scope {scope:?}"),
        );
        return None;
    }
    let mut comparisons = Vec::new();
    let mut judges = Vec::new();
    let mut judge_cr = Vec::new();
    for (i, set) in mine {
        let judgments: Vec<Judgment> = set
            .pairs
            .iter()
            .map(|(a, b, value)| Judgment {
                a: a.clone(),
                b: b.clone(),
                value: *value,
            })
            .collect();
        match Comparison::from_judgments(elements, &judgments) {
            Ok(c) => {
                let priorities = c.priorities();
                if let Err(e) = priorities.check() {
                    p.add(
                        format!("weights.judgments[{i}]"),
                        "ahp.consistency",
                        format!("judge {:?}, scope {scope:?}: {e}", set.judge),
                    );
                }
                judges.push(set.judge.clone());
                judge_cr.push(priorities.cr);
                comparisons.push(c);
            }
            Err(errors) => {
                for e in errors {
                    let rule = match e {
                        AhpError::OutOfScale { .. } => "ahp.scale",
                        AhpError::Missing { .. } => "ahp.missing",
                        _ => "ahp.judgment",
                    };
                    p.add(
                        format!("weights.judgments[{i}]"),
                        rule,
                        format!("judge {:?}, scope {scope:?}: {e}", set.judge),
                    );
                }
            }
        }
    }
    let combined = Comparison::geometric_mean(&comparisons)?;
    let priorities = combined.priorities();
    if let Err(e) = priorities.check() {
        p.add(
            "weights.judgments",
            "ahp.consistency",
            format!("scope {scope:?}, the judges' combined matrix: {e}"),
        );
    }
    Some(AhpScope {
        scope: scope.to_owned(),
        judges,
        judge_cr,
        priorities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(String, String)> {
        match Rubric::parse(text) {
            Ok(_) => vec![],
            Err(e) => e.issues.into_iter().map(|i| (i.path, i.rule)).collect(),
        }
    }

    #[test]
    fn the_default_rubric_is_valid() {
        let rubric = Rubric::parse(DEFAULT_RUBRIC).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (rubric.spec.id.as_str(), rubric.spec.version),
            ("ronghe-default", 1)
        );
        let total: f64 = rubric.weights.global.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(rubric.ahp.iter().all(|s| s.priorities.cr <= 0.10));
        for c in &rubric.spec.criteria {
            assert!(
                c.levels
                    .iter()
                    .all(|l| l.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch))),
                "{} levels are described in zh-CN",
                c.id
            );
        }
        assert_eq!(rubric.content_hash.len(), 64);
    }

    #[test]
    fn the_hash_covers_content_not_layout() {
        let a = Rubric::parse(DEFAULT_RUBRIC).unwrap();
        let reformatted = format!("# a new comment\n{}", DEFAULT_RUBRIC.replace(" = ", "="));
        assert_eq!(Rubric::parse(&reformatted).unwrap().content_hash, a.content_hash);
        let changed = DEFAULT_RUBRIC.replace("max_iqr = 1.0", "max_iqr = 1.5");
        assert_ne!(Rubric::parse(&changed).unwrap().content_hash, a.content_hash);
    }

    #[test]
    fn every_problem_at_once() {
        let broken = DEFAULT_RUBRIC
            .replace("id = \"ronghe-default\"", "id = \"Bad Id\"")
            .replace("group = \"data\"", "group = \"nowhere\"")
            .replace(
                "{ group = \"process\", at_least = 3.5 }",
                "{ group = \"process\", at_least = 7.0 }",
            )
            .replace("max_rounds = 3", "max_rounds = 0");
        let found = rules(&broken);
        for expected in [
            ("id", "rubric.id"),
            ("criteria[9].group", "rubric.unknown"),
            ("groups[5]", "rubric.empty_group"),
            ("classification.rules[1].all[0]", "rubric.range"),
            ("delphi.max_rounds", "rubric.range"),
        ] {
            assert!(
                found.iter().any(|(p, r)| (p.as_str(), r.as_str()) == expected),
                "{expected:?} missing from {found:?}"
            );
        }
        assert_eq!(
            rules("id = 3"),
            [("byte 5".to_owned(), "rubric.syntax".to_owned())]
        );
    }

    #[test]
    fn inconsistent_judgments_are_refused_naming_the_judgment() {
        // Judge A says support ≫ business, business ≫ process, but process ≫ support.
        let broken =
            DEFAULT_RUBRIC.replace("[\"support\", \"business\", 2]", "[\"business\", \"support\", 9]");
        let err = Rubric::parse(&broken).unwrap_err();
        let issue = err
            .issues
            .iter()
            .find(|i| i.rule == "ahp.consistency")
            .unwrap_or_else(|| panic!("{err}"));
        assert!(
            issue.message.contains("business vs support = 9"),
            "{}",
            issue.message
        );
        assert_eq!(issue.path, "weights.judgments[0]");
    }

    #[test]
    fn direct_weights_are_normalised() {
        let rubric = Rubric::builtin();
        let mut spec = rubric.spec.clone();
        spec.weights = Weighting::Direct {
            criteria: spec.criteria.iter().map(|c| (c.id.clone(), 2.0)).collect(),
        };
        let direct = Rubric::from_spec(spec).unwrap();
        let n = direct.spec.criteria.len() as f64;
        assert!(direct.weights.global.iter().all(|w| (w - 1.0 / n).abs() < 1e-12));
        let (support, _) = direct.group("support").unwrap();
        assert!((direct.weights.groups[support] - 2.0 / n).abs() < 1e-12);
        assert!(direct.ahp.is_empty());
    }
}
