//! Published data-collection items and validation rules (Art. 29): a service item may add a
//! required field or a check only through a published rule, and a rule binds only applications
//! made on or after its publication date. Checking is pure; the store keeps the rules.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::beijing_date;
use crate::case::{Case, FieldIssue, Problems};
use crate::mapping::schema;

/// A published rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishedRule {
    pub id: i64,
    /// The 实施编码 it applies to, or `*` for every item.
    pub item_code: String,
    /// The canonical field it checks, e.g. `applicant.phone`.
    pub field: String,
    pub check: Check,
    /// What the rule asks of applicants, in zh-CN, as published.
    pub description: String,
    /// 公布日期: applications made from this day on must satisfy the rule.
    pub published_on: NaiveDate,
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// A new data-collection item: the field must have a value.
    Required,
    /// At most `max` characters.
    MaxLength { max: usize },
    /// One of the listed values.
    OneOf { values: Vec<String> },
    /// Matches the regular expression (whole value).
    Pattern { regex: String },
}

/// A rule as submitted, before it has an id.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    pub item_code: String,
    pub field: String,
    pub check: Check,
    pub description: String,
    pub published_on: NaiveDate,
}

impl NewRule {
    /// Every problem at once. A rule cannot be published in the past: it would bind
    /// applications that were made before anyone could know it.
    pub fn problems(&self, today: NaiveDate) -> Vec<FieldIssue> {
        let mut problems = Problems::default();
        let mut add = |field: &str, rule: &str, message: String| problems.add(field, rule, message);
        if self.item_code.trim().is_empty() || self.item_code.chars().count() > 50 {
            add(
                "item_code",
                "required",
                "give the item's 实施编码 (up to 50 characters), or * for every item".to_owned(),
            );
        }
        if schema::target(&self.field).is_none() {
            add(
                "field",
                "rule.field",
                format!("no canonical field {:?}", self.field),
            );
        }
        if self.description.trim().is_empty() {
            add(
                "description",
                "required",
                "say what the rule asks of applicants, as it is published".to_owned(),
            );
        }
        if self.published_on < today {
            add(
                "published_on",
                "rule.published_in_past",
                format!(
                    "{} is in the past; a rule binds only from its publication on",
                    self.published_on
                ),
            );
        }
        match &self.check {
            Check::MaxLength { max: 0 } => add("check.max", "rule.check", "must be at least 1".to_owned()),
            Check::OneOf { values } if values.is_empty() => {
                add("check.values", "rule.check", "list at least one value".to_owned())
            }
            Check::Pattern { regex } => {
                if let Err(e) = regex_lite::Regex::new(regex) {
                    add(
                        "check.regex",
                        "rule.check",
                        format!("not a regular expression: {e}"),
                    );
                }
            }
            _ => {}
        }
        problems.into_issues()
    }
}

impl PublishedRule {
    /// Whether the rule binds this case: same item (or every item), applied on or after the
    /// publication day, both days in Beijing time (the province's days), whatever offset the
    /// application's time was written with.
    pub fn binds(&self, case: &Case) -> bool {
        (self.item_code == "*" || self.item_code == case.implementation_code)
            && beijing_date(&case.applied_at) >= self.published_on
    }

    /// The case's value for the rule's field, as text.
    fn value(&self, case: &Case) -> Option<String> {
        let json = serde_json::to_value(case).ok()?;
        match json.pointer(&format!("/{}", self.field.replace('.', "/")))? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The problem this rule finds in the case, if any (only when it binds the case).
    pub fn check(&self, case: &Case) -> Option<FieldIssue> {
        if !self.binds(case) {
            return None;
        }
        let value = self.value(case);
        let broken = match (&self.check, &value) {
            (Check::Required, None) => Some("is required".to_owned()),
            (_, None) => None,
            (Check::Required, Some(_)) => None,
            (Check::MaxLength { max }, Some(v)) => {
                (v.chars().count() > *max).then(|| format!("is longer than {max} characters"))
            }
            (Check::OneOf { values }, Some(v)) => {
                (!values.contains(v)).then(|| format!("must be one of {}", values.join(", ")))
            }
            (Check::Pattern { regex }, Some(v)) => {
                let whole = format!("^(?:{regex})$");
                regex_lite::Regex::new(&whole)
                    .ok()
                    .filter(|re| !re.is_match(v))
                    .map(|_| "does not have the published form".to_owned())
            }
        }?;
        Some(FieldIssue {
            field: self.field.clone(),
            rule: format!("published.{}", self.id),
            message: format!(
                "{broken} under published rule {} of {} ({})",
                self.id, self.published_on, self.description
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> Case {
        serde_json::from_str(include_str!("../tests/data/case_finished.json")).unwrap()
    }

    fn rule(field: &str, check: Check, published_on: &str) -> PublishedRule {
        PublishedRule {
            id: 7,
            item_code: "*".into(),
            field: field.into(),
            check,
            description: "测试规则".into(),
            published_on: published_on.parse().unwrap(),
        }
    }

    #[test]
    fn rules_bind_from_their_publication_date() {
        // The fixture was applied for on 2025-11-20.
        let phone_required = rule("applicant.address", Check::Required, "2025-11-20");
        let mut c = case();
        c.applicant.address = None;
        assert_eq!(
            phone_required.check(&c).map(|i| i.rule),
            Some("published.7".to_owned())
        );
        let later = rule("applicant.address", Check::Required, "2025-11-21");
        assert_eq!(later.check(&c), None, "applied before publication: not bound");
        // 2025-11-20T16:30Z is already 2025-11-21 in Beijing: bound by a rule of that day.
        c.applied_at = "2025-11-20T16:30:00Z".parse().unwrap();
        assert_eq!(
            later.check(&c).map(|i| i.rule),
            Some("published.7".to_owned()),
            "the day counts in Beijing time"
        );
        let other_item = PublishedRule {
            item_code: "OTHER".into(),
            ..phone_required
        };
        assert_eq!(other_item.check(&c), None);
    }

    #[test]
    fn each_check() {
        let c = case();
        for (check, broken) in [
            (Check::MaxLength { max: 2 }, true),
            (Check::MaxLength { max: 20 }, false),
            (
                Check::OneOf {
                    values: vec!["食品经营许可".into()],
                },
                false,
            ),
            (
                Check::OneOf {
                    values: vec!["其他".into()],
                },
                true,
            ),
            (
                Check::Pattern {
                    regex: "食品.*".into(),
                },
                false,
            ),
            (
                Check::Pattern {
                    regex: "食品".into()
                },
                true,
            ),
        ] {
            assert_eq!(
                rule("item_name", check.clone(), "2025-01-01").check(&c).is_some(),
                broken,
                "{check:?}"
            );
        }
    }

    #[test]
    fn new_rules_report_every_problem() {
        let new = NewRule {
            item_code: " ".into(),
            field: "applicant.shoe_size".into(),
            check: Check::Pattern { regex: "(".into() },
            description: "".into(),
            published_on: "2025-01-01".parse().unwrap(),
        };
        let fields: Vec<String> = new
            .problems("2026-01-01".parse().unwrap())
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            ["item_code", "field", "description", "published_on", "check.regex"]
        );
    }
}
