//! Validation of a canonical case: identifiers, division codes, lengths from GB/T 39046, the
//! fields Art. 27 requires at each stage, and the order of its timestamps. Pure: the caller passes
//! the current time. Every finding names the field path and the rule.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::{ApplicantKind, Case, CertificateType, ResultCode, Stage};
use crate::validate::{self, Violation, mask_certificate};

/// One broken rule on one field of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldIssue {
    /// Path of the field, e.g. `applicant.certificate_no` or `steps[1].opinion`.
    pub field: String,
    /// Stable rule code, e.g. `resident_id.check_digit`.
    pub rule: String,
    /// What is wrong and what to do, for a person.
    pub message: String,
}

/// Collects field problems so that all are reported at once.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<FieldIssue>);

impl Problems {
    pub(crate) fn add(&mut self, field: &str, rule: &str, message: impl Into<String>) {
        self.0.push(FieldIssue {
            field: field.to_owned(),
            rule: rule.to_owned(),
            message: message.into(),
        });
    }

    /// A required text of at most `max` characters.
    pub(crate) fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "required", "must not be empty");
        } else if value.chars().count() > max {
            self.add(field, "max_length", format!("at most {max} characters"));
        }
    }

    /// A required text of at most `max` characters without control characters.
    pub(crate) fn plain_text(&mut self, field: &str, value: &str, max: usize) {
        let found = self.0.len();
        self.text(field, value, max);
        if self.0.len() == found && value.chars().any(char::is_control) {
            self.add(field, "control_character", "must not contain control characters");
        }
    }

    pub(crate) fn into_issues(self) -> Vec<FieldIssue> {
        self.0
    }

    /// `value` when nothing was found, else the problems.
    pub(crate) fn result<T>(self, value: T) -> Result<T, Vec<FieldIssue>> {
        self.finish(value, |issues| issues)
    }

    /// `value` when nothing was found, else the problems wrapped by `invalid`.
    pub(crate) fn finish<T, E>(self, value: T, invalid: impl FnOnce(Vec<FieldIssue>) -> E) -> Result<T, E> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(invalid(self.0))
        }
    }
}

/// What validation found: errors reject the case; warnings are reported and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Findings {
    pub errors: Vec<FieldIssue>,
    pub warnings: Vec<FieldIssue>,
}

impl Findings {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, field: impl Into<String>, rule: &str, message: impl Into<String>) {
        self.errors.push(FieldIssue {
            field: field.into(),
            rule: rule.to_owned(),
            message: message.into(),
        });
    }

    fn warning(&mut self, field: impl Into<String>, rule: &str, message: impl Into<String>) {
        self.warnings.push(FieldIssue {
            field: field.into(),
            rule: rule.to_owned(),
            message: message.into(),
        });
    }

    fn violation(&mut self, field: &str, v: Violation) {
        self.error(field, v.rule, v.message);
    }

    /// Required, trimmed-non-empty text of at most `max` characters (GB/T 39046 `an..N`).
    fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.error(field, "required", "must not be empty");
        } else {
            self.optional_text(field, value, max);
        }
    }

    fn optional_text(&mut self, field: &str, value: &str, max: usize) {
        let len = value.chars().count();
        if len > max {
            self.error(
                field,
                "max_length",
                format!("is {len} characters long; at most {max} are allowed"),
            );
        }
        if value.chars().any(char::is_control) {
            self.error(field, "control_character", "must not contain control characters");
        }
    }

    fn before(
        &mut self,
        field: &str,
        earlier: &DateTime<FixedOffset>,
        later: &DateTime<FixedOffset>,
        earlier_name: &str,
    ) {
        if later < earlier {
            self.error(
                field,
                "time_order",
                format!("is earlier than {earlier_name} ({earlier})"),
            );
        }
    }
}

/// Leeway for clocks of legacy systems that run a little ahead of ours.
const CLOCK_SKEW_SECONDS: i64 = 300;

impl Case {
    /// Checks the case against the canonical rules at `now`.
    pub fn validate(&self, now: DateTime<FixedOffset>) -> Findings {
        let mut f = Findings::default();
        f.text("case_no", &self.case_no, 50);
        f.text("implementation_code", &self.implementation_code, 50);
        f.text("item_name", &self.item_name, 200);
        if self.version < 0 {
            f.error("version", "version.negative", "must be zero or more");
        }
        if let Err(v) = validate::division(&self.region_code) {
            f.violation("region_code", v);
        }
        self.validate_applicant(&mut f, now);
        if let Some(agent) = &self.agent {
            f.text("agent.name", &agent.name, 100);
            certificate(
                &mut f,
                "agent.certificate_no",
                agent.certificate_type,
                &agent.certificate_no,
                now,
            );
            if agent.certificate_type == CertificateType::UnifiedSocialCreditCode {
                f.error(
                    "agent.certificate_type",
                    "agent.kind",
                    "an agent is a natural person; use a personal certificate type",
                );
            }
        }
        let future = now + chrono::Duration::seconds(CLOCK_SKEW_SECONDS);
        if self.applied_at > future {
            f.error(
                "applied_at",
                "time_in_future",
                format!("{} is in the future", self.applied_at),
            );
        }
        if self.updated_at > future {
            f.error(
                "updated_at",
                "time_in_future",
                format!("{} is in the future", self.updated_at),
            );
        }
        self.validate_acceptance(&mut f);
        for (i, step) in self.steps.iter().enumerate() {
            let path = format!("steps[{i}]");
            f.text(&format!("{path}.name"), &step.name, 100);
            f.text(&format!("{path}.handler"), &step.handler, 30);
            if let Some(opinion) = &step.opinion {
                f.optional_text(&format!("{path}.opinion"), opinion, 1000);
            }
            if let Some(done) = &step.finished_at {
                f.before(
                    &format!("{path}.finished_at"),
                    &step.started_at,
                    done,
                    "the step's started_at",
                );
            }
        }
        if let Some(opinion) = &self.review_opinion {
            f.text("review_opinion", opinion, 1000);
        } else if self.stage.is_decided() {
            f.error(
                "review_opinion",
                "required_at_stage",
                format!(
                    "is required once a case reaches the {} stage (Art. 27 审查意见)",
                    self.stage
                ),
            );
        }
        self.validate_result(&mut f);
        f
    }

    fn validate_applicant(&self, f: &mut Findings, now: DateTime<FixedOffset>) {
        let a = &self.applicant;
        f.text("applicant.name", &a.name, 100);
        certificate(
            f,
            "applicant.certificate_no",
            a.certificate_type,
            &a.certificate_no,
            now,
        );
        let uses_uscc = a.certificate_type == CertificateType::UnifiedSocialCreditCode;
        match (a.kind, uses_uscc) {
            (ApplicantKind::NaturalPerson, true) => f.error(
                "applicant.certificate_type",
                "applicant.kind_mismatch",
                "a natural person is identified by a personal certificate, not a unified social credit code",
            ),
            (ApplicantKind::LegalPerson | ApplicantKind::OtherOrganisation, false) => f.error(
                "applicant.certificate_type",
                "applicant.kind_mismatch",
                "a legal person or organisation is identified by its unified social credit code",
            ),
            _ => {}
        }
        if let Some(phone) = &a.phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            if !(7..=15).contains(&digits)
                || phone
                    .chars()
                    .any(|c| !(c.is_ascii_digit() || "+- ()".contains(c)))
            {
                f.warning(
                    "applicant.phone",
                    "phone.format",
                    "does not look like a phone number",
                );
            }
        }
        if let Some(address) = &a.address {
            f.optional_text("applicant.address", address, 200);
        }
    }

    fn validate_acceptance(&self, f: &mut Findings) {
        let Some(acc) = &self.acceptance else {
            if self.stage.is_accepted() {
                f.error(
                    "acceptance",
                    "required_at_stage",
                    format!(
                        "is required once a case reaches the {} stage (Art. 27 受理部门, 受理人, 办结时限)",
                        self.stage
                    ),
                );
            }
            return;
        };
        f.text("acceptance.department", &acc.department, 200);
        if let Err(v) = validate::parse_uscc(&acc.department_uscc) {
            f.violation("acceptance.department_uscc", v);
        }
        f.text("acceptance.acceptor", &acc.acceptor, 30);
        f.before(
            "acceptance.accepted_at",
            &self.applied_at,
            &acc.accepted_at,
            "applied_at",
        );
        f.before(
            "acceptance.promised_finish_at",
            &acc.accepted_at,
            &acc.promised_finish_at,
            "acceptance.accepted_at",
        );
        if let Some(doc) = &acc.document_no {
            f.optional_text("acceptance.document_no", doc, 100);
        }
    }

    fn validate_result(&self, f: &mut Findings) {
        let Some(result) = &self.result else {
            if self.stage.is_terminal() {
                f.error(
                    "result",
                    "required_at_stage",
                    format!(
                        "is required once a case reaches the {} stage (Art. 27 办理结果)",
                        self.stage
                    ),
                );
            }
            return;
        };
        if !self.stage.is_terminal() {
            f.error("result", "result.not_finished", format!("a case at the {} stage has no result yet; send the result with the stage that ends the case", self.stage));
        }
        let expected_stage = match result.code {
            ResultCode::Approved | ResultCode::Rejected | ResultCode::Returned => Stage::Finished,
            ResultCode::NotAccepted => Stage::NotAccepted,
            ResultCode::Voided => Stage::Voided,
            ResultCode::Transferred => Stage::Transferred,
        };
        if self.stage.is_terminal() && self.stage != expected_stage {
            f.error(
                "result.code",
                "result.stage_mismatch",
                format!(
                    "result {} belongs to the {} stage, but the case is at {}",
                    result.code, expected_stage, self.stage
                ),
            );
        }
        let needs_reason = result.code != ResultCode::Approved;
        if needs_reason && result.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
            f.error(
                "result.description",
                "result.reason_required",
                format!("a reason is required for the result {}", result.code),
            );
        }
        if let Some(d) = &result.description {
            f.optional_text("result.description", d, 1000);
        }
        f.before(
            "result.finished_at",
            &self.applied_at,
            &result.finished_at,
            "applied_at",
        );
        if let Some(acc) = &self.acceptance {
            f.before(
                "result.finished_at",
                &acc.accepted_at,
                &result.finished_at,
                "acceptance.accepted_at",
            );
        }
    }
}

/// Checks a certificate number by its type: resident IDs and credit codes by their check
/// characters, the rest by length.
fn certificate(
    f: &mut Findings,
    field: &str,
    kind: CertificateType,
    number: &str,
    now: DateTime<FixedOffset>,
) {
    match kind {
        CertificateType::ResidentId => match validate::parse_resident_id(number, now.date_naive()) {
            Ok(id) if !id.region_known() => f.warning(
                field,
                "resident_id.region_unknown",
                format!(
                    "region {} of {} is not in today's division list (old IDs keep old codes)",
                    id.region,
                    mask_certificate(number)
                ),
            ),
            Ok(_) => {}
            Err(v) => f.violation(field, v),
        },
        CertificateType::UnifiedSocialCreditCode => {
            if let Err(v) = validate::parse_uscc(number) {
                f.violation(field, v);
            }
        }
        _ => f.text(field, number, 50),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Case {
        let text = match name {
            "finished" => include_str!("../../tests/data/case_finished.json"),
            _ => include_str!("../../tests/data/case_application.json"),
        };
        serde_json::from_str(text).expect("fixture parses")
    }

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2025-12-01T12:00:00+08:00").unwrap()
    }

    /// Applies `edit` to a fixture and checks which rule fires on which field (`None`: valid).
    fn check(name: &str, edit: impl FnOnce(&mut Case), expected: Option<(&str, &str)>) {
        let mut case = fixture(name);
        edit(&mut case);
        let found = case.validate(now());
        match expected {
            None => assert!(found.is_valid(), "expected valid, got {:?}", found.errors),
            Some((field, rule)) => assert!(
                found.errors.iter().any(|e| e.field == field && e.rule == rule),
                "expected {rule} on {field}, got {:?}",
                found.errors
            ),
        }
    }

    #[test]
    fn one_serialisation_gives_body_and_hash() {
        let case = fixture("finished");
        let (json, hash) = case.encoded().unwrap();
        assert_eq!(hash, case.content_hash());
        assert_eq!(serde_json::from_str::<Case>(json.get()).unwrap(), case);
    }

    #[test]
    fn fixtures_are_valid() {
        check("finished", |_| {}, None);
        check("application", |_| {}, None);
    }

    #[test]
    fn broken_rules_name_field_and_rule() {
        check(
            "finished",
            |c| c.case_no = " ".into(),
            Some(("case_no", "required")),
        );
        check(
            "finished",
            |c| c.item_name = "项".repeat(201),
            Some(("item_name", "max_length")),
        );
        check(
            "finished",
            |c| c.region_code = "52010".into(),
            Some(("region_code", "division.format")),
        );
        check(
            "finished",
            |c| c.region_code = "529999".into(),
            Some(("region_code", "division.unknown")),
        );
        check(
            "finished",
            |c| c.applicant.certificate_no = "520102199001011231".into(),
            Some(("applicant.certificate_no", "resident_id.check_digit")),
        );
        check(
            "application",
            |c| c.applicant.certificate_no = "91520100MA6DK0L1TK".into(),
            Some(("applicant.certificate_no", "uscc.check_character")),
        );
        check(
            "application",
            |c| c.applicant.kind = ApplicantKind::NaturalPerson,
            Some(("applicant.certificate_type", "applicant.kind_mismatch")),
        );
        check(
            "finished",
            |c| c.acceptance = None,
            Some(("acceptance", "required_at_stage")),
        );
        check(
            "finished",
            |c| c.review_opinion = None,
            Some(("review_opinion", "required_at_stage")),
        );
        check(
            "finished",
            |c| c.result = None,
            Some(("result", "required_at_stage")),
        );
        check(
            "finished",
            |c| c.stage = Stage::Voided,
            Some(("result.code", "result.stage_mismatch")),
        );
        check(
            "finished",
            |c| {
                if let Some(r) = c.result.as_mut() {
                    r.code = ResultCode::Rejected;
                }
            },
            Some(("result.description", "result.reason_required")),
        );
        check(
            "finished",
            |c| {
                if let Some(a) = c.acceptance.as_mut() {
                    a.accepted_at = DateTime::parse_from_rfc3339("2025-11-19T10:00:00+08:00").unwrap();
                }
            },
            Some(("acceptance.accepted_at", "time_order")),
        );
        check(
            "application",
            |c| c.applied_at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00+08:00").unwrap(),
            Some(("applied_at", "time_in_future")),
        );
        check(
            "application",
            |c| c.stage = Stage::Review,
            Some(("acceptance", "required_at_stage")),
        );
    }

    #[test]
    fn old_region_in_resident_id_is_a_warning() {
        let mut case = fixture("finished");
        // 522121 (遵义县) became 520304 (播州区) in 2016; IDs issued before keep it.
        case.applicant.certificate_no = old_region_id();
        let found = case.validate(now());
        assert!(found.is_valid(), "{:?}", found.errors);
        assert_eq!(found.warnings[0].rule, "resident_id.region_unknown");
        assert!(!found.warnings[0].message.contains(&case.applicant.certificate_no));
    }

    fn old_region_id() -> String {
        let body = "52212119800101002";
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body
            .chars()
            .zip(weights)
            .map(|(c, w)| c.to_digit(10).unwrap() * w)
            .sum();
        let check = (12 - sum % 11) % 11;
        format!(
            "{body}{}",
            if check == 10 {
                'X'
            } else {
                char::from_digit(check, 10).unwrap()
            }
        )
    }
}
