//! Validation of the identifiers and values that approval-system records carry: resident ID
//! numbers, unified social credit codes, administrative division codes and timestamps, plus
//! masking of personal values for logs and messages.
//!
//! Every check reports a [`Violation`] with a stable rule code (for example
//! `resident_id.check_digit`) that callers can match on, and a message a person can act on.
//! Messages never contain a full certificate number.

mod division;
mod mask;
mod resident_id;
pub mod stated;
mod timestamp;
mod uscc;

pub use division::{Division, DivisionLevel, division, division_path, find_division};
pub use mask::{mask_certificate, mask_name, mask_phone, mask_record, mask_refused_value};
pub use resident_id::{ResidentId, Sex, check_character, parse_resident_id};
pub use timestamp::{SHANGHAI, SHANGHAI_OFFSET_SECONDS, parse_timestamp};
pub use uscc::{Uscc, parse_uscc};

/// A broken validation rule: a stable machine-readable rule code and a message a person can act on.
/// Messages never contain a full certificate number (mask personal values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{message}")]
pub struct Violation {
    pub rule: &'static str,
    pub message: String,
}

impl Violation {
    pub(crate) fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Violation;

    #[test]
    fn violation_displays_its_message() {
        let violation = Violation::new("uscc.length", "unified social credit code must be 18");
        assert_eq!(violation.to_string(), "unified social credit code must be 18");
        assert_eq!(violation.rule, "uscc.length");
    }
}
