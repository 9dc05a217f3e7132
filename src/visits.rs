//! Return visits (办件回访, Art. 15), pure: the month a plan covers, the seeded sample of a
//! month's finished cases stratified by system and item, a visit's outcome (reached, attempts,
//! the applicant's answers, the 好差评 satisfaction level, a note, a finding) and its checks, and
//! the monthly report per system and item.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::CalendarError;
use crate::case::FieldIssue;

/// Longest note or finding accepted, in characters.
pub const MAX_TEXT_CHARS: usize = crate::corrections::MAX_TEXT_CHARS;

/// Most call attempts one outcome records.
pub const MAX_ATTEMPTS: u32 = 20;

/// Cases a month's plan draws when no size is given.
pub const DEFAULT_SAMPLE_SIZE: usize = 30;

/// `[visits]`: return visits (see README, monitoring).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisitsConfig {
    /// Finished cases a month's plan draws across the systems it covers (30); `ronghe visits
    /// plan --size` and the API's `size` override it for one plan.
    pub sample_size_per_month: usize,
}

impl Default for VisitsConfig {
    fn default() -> Self {
        VisitsConfig {
            sample_size_per_month: DEFAULT_SAMPLE_SIZE,
        }
    }
}

impl VisitsConfig {
    /// Every problem with the settings, without I/O.
    pub fn problems(&self) -> Vec<String> {
        if self.sample_size_per_month == 0 {
            vec!["[visits] sample_size_per_month must be at least 1".to_owned()]
        } else {
            Vec::new()
        }
    }
}

/// A calendar month (Beijing time), written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(NaiveDate);

impl Month {
    /// `YYYY-MM`, or why not.
    pub fn parse(text: &str) -> Result<Month, String> {
        NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
            .map(Month)
            .map_err(|_| format!("month {text:?} is not YYYY-MM (e.g. 2026-11)"))
    }

    /// The month `day` lies in.
    pub fn of(day: NaiveDate) -> Month {
        // Invariant: the first of a valid date's month is a valid date.
        Month(day.with_day(1).expect("the first of a month"))
    }

    pub fn first_day(self) -> NaiveDate {
        self.0
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().0.pred_opt().unwrap_or(self.0)
    }

    pub fn next(self) -> Month {
        Month(self.0.checked_add_months(Months::new(1)).unwrap_or(self.0))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m"))
    }
}

impl std::str::FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Month, String> {
        Month::parse(s)
    }
}

/// A finished case that may be visited: its system, number and item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Candidate {
    pub system_id: String,
    /// The item's implementation code (实施编码): the stratum within the system.
    pub implementation_code: String,
    pub case_no: String,
    pub item_name: String,
}

/// Draws `size` candidates reproducibly (the same candidates and `seed` give the same sample)
/// stratified by system and item: when `size` reaches the number of strata each gets one case,
/// and the rest is shared in proportion to each stratum's remaining cases (largest remainder,
/// ties in stratum order); within a stratum the cases are shuffled by the seeded generator from
/// case-number order. Smaller months are taken whole. Strata in order, each in draw order.
pub fn draw(candidates: Vec<Candidate>, size: usize, seed: u64) -> Vec<Candidate> {
    let mut strata: BTreeMap<(String, String), Vec<Candidate>> = BTreeMap::new();
    for c in candidates {
        strata
            .entry((c.system_id.clone(), c.implementation_code.clone()))
            .or_default()
            .push(c);
    }
    let counts: Vec<usize> = strata.values().map(Vec::len).collect();
    let quotas = allocate(&counts, size);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sample = Vec::with_capacity(quotas.iter().sum());
    for (mut cases, quota) in strata.into_values().zip(quotas) {
        cases.sort_by(|a, b| a.case_no.cmp(&b.case_no));
        cases.dedup_by(|a, b| a.case_no == b.case_no);
        rng.shuffle(&mut cases);
        sample.extend(cases.into_iter().take(quota));
    }
    sample
}

/// How many of each stratum's `counts` a sample of `size` takes (see `draw`).
fn allocate(counts: &[usize], size: usize) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    if size >= total {
        return counts.to_vec();
    }
    let base = usize::from(size >= counts.len());
    let mut quotas: Vec<usize> = counts.iter().map(|&n| n.min(base)).collect();
    let rest = size - quotas.iter().sum::<usize>();
    let weights: Vec<usize> = counts.iter().zip(&quotas).map(|(n, q)| n - q).collect();
    let weight: usize = weights.iter().sum();
    if weight == 0 || rest == 0 {
        return quotas;
    }
    // Exact shares rest·w/weight: floors first, then the largest remainders.
    let mut remainders = Vec::with_capacity(counts.len());
    for (i, w) in weights.iter().enumerate() {
        quotas[i] += rest * w / weight;
        remainders.push((rest * w % weight, i));
    }
    let left = size - quotas.iter().sum::<usize>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(left) {
        quotas[i] += 1;
    }
    quotas
}

/// A seed for a plan drawn without one: random, below 2^53 so that it reads back exactly from
/// JSON in any client (JavaScript numbers are doubles).
pub fn fresh_seed() -> u64 {
    fastrand::u64(..1 << 53)
}

/// The 好差评 five levels of satisfaction.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Satisfaction {
    /// 非常满意
    VerySatisfied,
    /// 满意
    Satisfied,
    /// 基本满意
    Basic,
    /// 不满意
    Dissatisfied,
    /// 非常不满意
    VeryDissatisfied,
}

impl Satisfaction {
    /// Best first.
    pub const ALL: [Satisfaction; 5] = [
        Satisfaction::VerySatisfied,
        Satisfaction::Satisfied,
        Satisfaction::Basic,
        Satisfaction::Dissatisfied,
        Satisfaction::VeryDissatisfied,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The zh-CN label the applicant chose.
    pub fn label(self) -> &'static str {
        match self {
            Satisfaction::VerySatisfied => "非常满意",
            Satisfaction::Satisfied => "满意",
            Satisfaction::Basic => "基本满意",
            Satisfaction::Dissatisfied => "不满意",
            Satisfaction::VeryDissatisfied => "非常不满意",
        }
    }

    /// By its name (`very_satisfied`) or its label (`非常满意`).
    pub fn parse(text: &str) -> Option<Satisfaction> {
        let text = text.trim();
        text.parse()
            .ok()
            .or_else(|| Satisfaction::ALL.into_iter().find(|s| s.label() == text))
    }
}

/// What the call found, as the operator records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    /// Whether the applicant was reached.
    pub reached: bool,
    /// Call attempts so far, 1-20.
    pub attempts: u32,
    /// The applicant's answer: was the case handled as the platform records it (reached only).
    pub handled_as_recorded: Option<bool>,
    /// The applicant's rating (reached only).
    pub satisfaction: Option<Satisfaction>,
    /// What was said or tried, free text.
    pub note: String,
    /// A discrepancy worth a correction request (Art. 28) to the providing department.
    pub finding: Option<String>,
}

impl Outcome {
    /// Every problem at once: the field, the rule, and what to do.
    pub fn check(&self) -> Result<(), VisitError> {
        let mut issues = Vec::new();
        let mut issue = |field: &str, rule: &str, message: String| {
            issues.push(FieldIssue {
                field: field.to_owned(),
                rule: rule.to_owned(),
                message,
            })
        };
        if !(1..=MAX_ATTEMPTS).contains(&self.attempts) {
            issue(
                "attempts",
                "range",
                format!(
                    "attempts is {}: count the calls made, 1-{MAX_ATTEMPTS}",
                    self.attempts
                ),
            );
        }
        if self.reached {
            if self.handled_as_recorded.is_none() {
                issue(
                    "handled_as_recorded",
                    "required",
                    "the applicant was reached: record whether the case was handled as recorded (yes or no)"
                        .to_owned(),
                );
            }
            if self.satisfaction.is_none() {
                issue(
                    "satisfaction",
                    "required",
                    "the applicant was reached: record their rating, one of 非常满意 满意 基本满意 不满意 非常不满意"
                        .to_owned(),
                );
            }
        } else {
            if self.handled_as_recorded.is_some() {
                issue(
                    "handled_as_recorded",
                    "not_reached",
                    "the applicant was not reached: leave their answers out".to_owned(),
                );
            }
            if self.satisfaction.is_some() {
                issue(
                    "satisfaction",
                    "not_reached",
                    "the applicant was not reached: leave the rating out".to_owned(),
                );
            }
        }
        if self.note.trim().is_empty() {
            issue(
                "note",
                "required",
                "note is required: say what was said or tried".to_owned(),
            );
        } else if self.note.chars().count() > MAX_TEXT_CHARS {
            issue(
                "note",
                "max_length",
                format!("note is longer than {MAX_TEXT_CHARS} characters: shorten it"),
            );
        }
        if let Some(finding) = &self.finding {
            if finding.trim().is_empty() {
                issue(
                    "finding",
                    "required",
                    "finding is empty: say what is wrong, or leave it out".to_owned(),
                );
            } else if finding.chars().count() > MAX_TEXT_CHARS {
                issue(
                    "finding",
                    "max_length",
                    format!("finding is longer than {MAX_TEXT_CHARS} characters: shorten it"),
                );
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(VisitError::Invalid(issues))
        }
    }
}

/// A sampled case to call, and once called, its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Visit {
    pub id: i64,
    /// `YYYY-MM`: the month whose finished cases were sampled.
    pub month: String,
    pub system_id: String,
    pub case_no: String,
    pub implementation_code: String,
    pub item_name: String,
    /// The seed the month's sample was drawn with.
    pub seed: u64,
    pub planned_by: String,
    pub planned_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub recorded_by: Option<String>,
    pub recorded_at: Option<DateTime<Utc>>,
    /// The correction request a finding opened.
    pub correction_id: Option<i64>,
}

impl Visit {
    /// Whether an outcome may be recorded: until the applicant has been reached (a call that
    /// did not reach them may be followed by another).
    pub fn check_recordable(&self) -> Result<(), VisitError> {
        match &self.outcome {
            Some(outcome) if outcome.reached => Err(VisitError::State { id: self.id }),
            _ => Ok(()),
        }
    }
}

/// Why a plan or an outcome is refused.
#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    /// Bad input, every problem at once.
    #[error("invalid visit outcome: {}", describe(.0))]
    Invalid(Vec<FieldIssue>),
    #[error("return visit {0} not found")]
    NotFound(i64),
    #[error("return visit {id} already reached the applicant: its outcome is final")]
    State { id: i64 },
    #[error(
        "{month} already has a return-visit plan for {system}: list it with `ronghe visits list --month {month}`"
    )]
    AlreadyPlanned { month: String, system: String },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The finding's correction request could not be raised.
    #[error("the finding's correction request: {0}")]
    Correction(#[from] crate::corrections::CorrectionError),
}

fn describe(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{} ({}): {}", i.field, i.rule, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl VisitError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VisitError::Invalid(_) => "validation_failed",
            VisitError::NotFound(_) => "not_found",
            VisitError::State { .. } => "visit_state_conflict",
            VisitError::AlreadyPlanned { .. } => "visit_already_planned",
            VisitError::Calendar(_) => "calendar_unknown_year",
            VisitError::Correction(e) => e.code(),
        }
    }
}

/// One system and item's row of a month's report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    pub system_id: String,
    pub implementation_code: String,
    pub item_name: String,
    /// Visits planned.
    pub planned: usize,
    /// Visits with an outcome.
    pub recorded: usize,
    pub reached: usize,
    /// reached / recorded; none before any outcome.
    pub reach_rate: Option<f64>,
    /// Reached applicants who said the case was not handled as recorded.
    pub not_as_recorded: usize,
    /// Count per level, best first (非常满意 … 非常不满意).
    pub satisfaction: [usize; 5],
    /// Outcomes with a finding.
    pub findings: usize,
}

/// A month's report: a row per system and item, and the total.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = VisitReport)]
pub struct Report {
    pub month: String,
    pub rows: Vec<ReportRow>,
    pub total: ReportRow,
}

/// The report of `visits` (one month's).
pub fn report(month: Month, visits: &[Visit]) -> Report {
    let empty = |system: &str, code: &str, item: &str| ReportRow {
        system_id: system.to_owned(),
        implementation_code: code.to_owned(),
        item_name: item.to_owned(),
        planned: 0,
        recorded: 0,
        reached: 0,
        reach_rate: None,
        not_as_recorded: 0,
        satisfaction: [0; 5],
        findings: 0,
    };
    let mut rows: BTreeMap<(&str, &str), ReportRow> = BTreeMap::new();
    let mut total = empty("", "", "");
    for v in visits {
        let row = rows
            .entry((&v.system_id, &v.implementation_code))
            .or_insert_with(|| empty(&v.system_id, &v.implementation_code, &v.item_name));
        for row in [row, &mut total] {
            count(row, v);
        }
    }
    let mut rows: Vec<ReportRow> = rows.into_values().collect();
    for row in rows.iter_mut().chain(std::iter::once(&mut total)) {
        row.reach_rate = (row.recorded > 0).then(|| row.reached as f64 / row.recorded as f64);
    }
    Report {
        month: month.to_string(),
        rows,
        total,
    }
}

fn count(row: &mut ReportRow, visit: &Visit) {
    row.planned += 1;
    let Some(outcome) = &visit.outcome else {
        return;
    };
    row.recorded += 1;
    if outcome.reached {
        row.reached += 1;
    }
    if outcome.handled_as_recorded == Some(false) {
        row.not_as_recorded += 1;
    }
    if let Some(level) = outcome.satisfaction
        && let Some(i) = Satisfaction::ALL.iter().position(|l| *l == level)
    {
        row.satisfaction[i] += 1;
    }
    if outcome.finding.is_some() {
        row.findings += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(strata: &[(&str, &str, usize)]) -> Vec<Candidate> {
        let mut all = Vec::new();
        for (system, code, n) in strata {
            for i in 0..*n {
                all.push(Candidate {
                    system_id: (*system).to_owned(),
                    implementation_code: (*code).to_owned(),
                    case_no: format!("{system}-{code}-{i:03}"),
                    item_name: "事项".to_owned(),
                });
            }
        }
        all
    }

    fn per_stratum(sample: &[Candidate]) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for c in sample {
            *counts
                .entry((c.system_id.clone(), c.implementation_code.clone()))
                .or_default() += 1;
        }
        counts
    }

    #[test]
    fn allocation_gives_each_stratum_one_then_shares_in_proportion() {
        let check = |counts: &[usize], size: usize, expected: &[usize]| {
            let got = allocate(counts, size);
            assert_eq!(got, expected, "{counts:?} size {size}");
            assert_eq!(got.iter().sum::<usize>(), size.min(counts.iter().sum()));
        };
        check(&[60, 30, 10], 10, &[5, 3, 2]);
        check(&[91, 1, 8], 10, &[7, 1, 2]);
        check(&[5, 5], 20, &[5, 5]);
        check(&[50, 30, 20], 2, &[1, 1, 0]);
        check(&[3, 3, 3], 4, &[2, 1, 1]);
    }

    #[test]
    fn the_same_seed_draws_the_same_stratified_sample() {
        let month = candidates(&[("gy-a", "A1", 40), ("gy-a", "A2", 10), ("zy-b", "B1", 50)]);
        let mut shuffled = month.clone();
        shuffled.reverse();
        let first = draw(month.clone(), 10, 7);
        assert_eq!(first, draw(shuffled, 10, 7), "input order does not matter");
        assert_ne!(first, draw(month.clone(), 10, 8), "another seed, another sample");
        let counts: Vec<usize> = per_stratum(&first).into_values().collect();
        assert_eq!(counts, [4, 2, 4]);
        assert_eq!(draw(month, 1000, 7).len(), 100, "a small month is taken whole");
    }

    #[test]
    fn outcomes_are_checked_all_at_once() {
        let reached = Outcome {
            reached: true,
            attempts: 1,
            handled_as_recorded: Some(true),
            satisfaction: Some(Satisfaction::Satisfied),
            note: "申请人确认".to_owned(),
            finding: None,
        };
        assert!(reached.check().is_ok());
        let bad = Outcome {
            attempts: 0,
            handled_as_recorded: None,
            satisfaction: None,
            note: " ".to_owned(),
            finding: Some(String::new()),
            ..reached.clone()
        };
        let Err(VisitError::Invalid(issues)) = bad.check() else {
            panic!("refused")
        };
        let fields: Vec<(&str, &str)> = issues
            .iter()
            .map(|i| (i.field.as_str(), i.rule.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("attempts", "range"),
                ("handled_as_recorded", "required"),
                ("satisfaction", "required"),
                ("note", "required"),
                ("finding", "required"),
            ]
        );
        let unreached = Outcome {
            reached: false,
            ..reached
        };
        let Err(VisitError::Invalid(issues)) = unreached.check() else {
            panic!("refused")
        };
        assert!(issues.iter().all(|i| i.rule == "not_reached"), "{issues:?}");
    }

    #[test]
    fn satisfaction_reads_names_and_labels() {
        for level in Satisfaction::ALL {
            assert_eq!(Satisfaction::parse(level.label()), Some(level));
            assert_eq!(Satisfaction::parse(level.name()), Some(level));
        }
        assert_eq!(Satisfaction::parse("还行"), None);
    }

    #[test]
    fn months_read_and_step() {
        let m = Month::parse("2026-12").unwrap();
        assert_eq!(m.last_day(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(m.next().to_string(), "2027-01");
        assert!(Month::parse("2026-13").is_err());
    }
}
