//! Assembling a canonical case from the values the rules produced: optional parts (acceptance,
//! result, applicant details) appear when any of their fields has a value, and then every
//! field they require must have one.

use chrono::{DateTime, FixedOffset};

use super::engine::MappingError;
use super::schema::{Group, TARGETS};
use crate::case::{
    Acceptance, Applicant, ApplicantKind, Case, CaseResult, CaseType, CertificateType, Channel, ItemType,
    ResultCode, Stage,
};

/// Index of each canonical path in `TARGETS`.
static SLOTS: std::sync::LazyLock<std::collections::HashMap<&'static str, usize>> =
    std::sync::LazyLock::new(|| TARGETS.iter().enumerate().map(|(i, t)| (t.path, i)).collect());

/// A value on its way into the case.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Text(String),
    Int(i64),
    Time(DateTime<FixedOffset>),
}

impl Value {
    /// The value as text, for messages.
    pub(super) fn text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Int(i) => i.to_string(),
            Value::Time(t) => t.to_rfc3339(),
        }
    }
}

/// Reads values by canonical path and collects the missing required ones.
struct Values<'a, F: Fn(&str) -> Option<MappingError>> {
    values: Vec<Option<Value>>,
    missing: &'a F,
    errors: Vec<MappingError>,
    /// Whether a required field has no value (with or without an error of its own here).
    incomplete: bool,
}

impl<F: Fn(&str) -> Option<MappingError>> Values<'_, F> {
    fn slot(&self, path: &str) -> usize {
        // Every path named below is in TARGETS: a test checks the schema against the case.
        *SLOTS
            .get(path)
            .unwrap_or_else(|| unreachable!("{path} is a canonical field"))
    }

    fn take(&mut self, path: &str) -> Option<Value> {
        let slot = self.slot(path);
        self.values[slot].take()
    }

    fn text(&mut self, path: &str) -> Option<String> {
        self.take(path).map(|v| match v {
            Value::Text(t) => t,
            other => other.text(),
        })
    }

    fn required<T>(&mut self, path: &str, get: impl FnOnce(&mut Self, &str) -> Option<T>) -> Option<T> {
        let value = get(self, path);
        if value.is_none() {
            self.incomplete = true;
            self.errors.extend((self.missing)(path));
        }
        value
    }

    fn int(&mut self, path: &str) -> Option<i64> {
        match self.take(path)? {
            Value::Int(i) => Some(i),
            Value::Text(t) => t.parse().ok(),
            Value::Time(t) => Some(t.timestamp_millis()),
        }
    }

    fn time(&mut self, path: &str) -> Option<DateTime<FixedOffset>> {
        match self.take(path)? {
            Value::Time(t) => Some(t),
            _ => None,
        }
    }

    fn code<T>(&mut self, path: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
        self.text(path).and_then(|t| parse(&t))
    }

    /// Whether any field of the group has a value.
    fn present(&self, group: Group) -> bool {
        TARGETS
            .iter()
            .zip(&self.values)
            .any(|(t, v)| t.group == group && v.is_some())
    }
}

/// Builds the case, or lists every required field without a value (`missing` says why, or
/// `None` when the field's failure is already reported).
pub(super) fn assemble(
    values: Vec<Option<Value>>,
    missing: impl Fn(&str) -> Option<MappingError>,
) -> Result<Case, Vec<MappingError>> {
    let mut v = Values {
        values,
        missing: &missing,
        errors: Vec::new(),
        incomplete: false,
    };
    let has_acceptance = v.present(Group::Acceptance);
    let has_result = v.present(Group::Result);
    let case_no = v.required("case_no", Values::text);
    let version = v.required("version", Values::int);
    let implementation_code = v.required("implementation_code", Values::text);
    let item_name = v.required("item_name", Values::text);
    let item_type = v.code("item_type", ItemType::parse);
    let case_type = v.required("case_type", |v, p| v.code(p, CaseType::parse));
    let channel = v.required("channel", |v, p| v.code(p, Channel::parse));
    let region_code = v.required("region_code", Values::text);
    let applicant_name = v.required("applicant.name", Values::text);
    let kind = v.required("applicant.kind", |v, p| v.code(p, ApplicantKind::parse));
    let certificate_type = v.required("applicant.certificate_type", |v, p| {
        v.code(p, CertificateType::parse)
    });
    let certificate_no = v.required("applicant.certificate_no", Values::text);
    let phone = v.text("applicant.phone");
    let address = v.text("applicant.address");
    let legal_representative = v.text("applicant.legal_representative");
    let account = v.text("applicant.account");
    let applied_at = v.required("applied_at", Values::time);
    let acceptance = if has_acceptance {
        let department = v.required("acceptance.department", Values::text);
        let department_uscc = v.required("acceptance.department_uscc", Values::text);
        let acceptor = v.required("acceptance.acceptor", Values::text);
        let accepted_at = v.required("acceptance.accepted_at", Values::time);
        let document_no = v.text("acceptance.document_no");
        let promised_finish_at = v.required("acceptance.promised_finish_at", Values::time);
        let time_limit_working_days = v
            .int("acceptance.time_limit_working_days")
            .and_then(|d| u32::try_from(d).ok());
        match (
            department,
            department_uscc,
            acceptor,
            accepted_at,
            promised_finish_at,
        ) {
            (
                Some(department),
                Some(department_uscc),
                Some(acceptor),
                Some(accepted_at),
                Some(promised_finish_at),
            ) => Some(Acceptance {
                department,
                department_uscc,
                acceptor,
                accepted_at,
                document_no,
                promised_finish_at,
                time_limit_working_days,
            }),
            _ => None,
        }
    } else {
        None
    };
    let review_opinion = v.text("review_opinion");
    let result = if has_result {
        let code = v.required("result.code", |v, p| v.code(p, ResultCode::parse));
        let finished_at = v.required("result.finished_at", Values::time);
        let description = v.text("result.description");
        let handler = v.text("result.handler");
        let certificate_name = v.text("result.certificate_name");
        let certificate_no = v.text("result.certificate_no");
        match (code, finished_at) {
            (Some(code), Some(finished_at)) => Some(CaseResult {
                code,
                description,
                finished_at,
                handler,
                certificate_name,
                certificate_no,
            }),
            _ => None,
        }
    } else {
        None
    };
    let stage = v.required("stage", |v, p| v.code(p, Stage::parse));
    let updated_at = v.required("updated_at", Values::time);
    if v.incomplete {
        return Err(v.errors);
    }

    match (
        case_no,
        version,
        implementation_code,
        item_name,
        case_type,
        channel,
        region_code,
        applicant_name,
        kind,
        certificate_type,
        certificate_no,
        applied_at,
        stage,
        updated_at,
    ) {
        (
            Some(case_no),
            Some(version),
            Some(implementation_code),
            Some(item_name),
            Some(case_type),
            Some(channel),
            Some(region_code),
            Some(name),
            Some(kind),
            Some(certificate_type),
            Some(certificate_no),
            Some(applied_at),
            Some(stage),
            Some(updated_at),
        ) => Ok(Case {
            case_no,
            version,
            implementation_code,
            item_name,
            item_type,
            case_type,
            channel,
            region_code,
            applicant: Applicant {
                name,
                kind,
                certificate_type,
                certificate_no,
                phone,
                address,
                legal_representative,
                account,
            },
            agent: None,
            applied_at,
            acceptance,
            steps: Vec::new(),
            review_opinion,
            result,
            stage,
            updated_at,
        }),
        _ => unreachable!("a missing required field makes the values incomplete"),
    }
}
