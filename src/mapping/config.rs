//! The mapping config (`mappings/SYSTEM.toml`): how one system's raw records become canonical
//! cases. Readable and diffable; every rule may carry the evidence and confidence that
//! generation found for it.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A system's mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    pub source: Source,
    /// One rule per canonical field, keyed by its path (`applicant.certificate_no`).
    #[serde(default)]
    pub fields: BTreeMap<String, Rule>,
    /// Code tables: legacy code → canonical value (`"*"` catches the rest; `""` means no value).
    #[serde(default)]
    pub tables: BTreeMap<String, BTreeMap<String, String>>,
}

/// The shape of the records and where their key is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub shape: Shape,
    /// Path of the record's key (its case number), for error messages.
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Paths are JSON pointers: `/applicant/idNo`.
    Json,
    /// Paths are element paths below the record element: `申请人/姓名`, `办件/@id`, `.` for its text.
    Xml,
    /// Paths are column names: `SQRMC`.
    Row,
}

impl Rule {
    /// Where the rule takes its value, in words (`from X`, `concat a + b with "-"`,
    /// `constant "…"`): what `mapping explain` and the API's mapping route show.
    pub fn origin(&self) -> String {
        let origin = match (&self.from, &self.concat, &self.constant) {
            (Some(from), _, _) => format!("from {from}"),
            (_, Some(parts), _) => format!("concat {} with {:?}", parts.join(" + "), self.separator),
            (_, _, Some(c)) => format!("constant {c:?}"),
            _ => String::new(),
        };
        match self.lookup {
            Some(field) => format!(
                "{origin}, looked up in the organisations registry for {}",
                field.name()
            ),
            None => origin,
        }
    }
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Json => "json",
            Shape::Xml => "xml",
            Shape::Row => "row",
        }
    }
}

/// How one canonical field gets its value. Exactly one of `from`, `concat` and `const`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A source path.
    pub from: Option<String>,
    /// Source paths whose values are joined with `separator`.
    pub concat: Option<Vec<String>>,
    #[serde(default)]
    pub separator: String,
    /// A fixed value.
    #[serde(rename = "const")]
    pub constant: Option<String>,
    /// The value when the source is missing or empty.
    pub default: Option<String>,
    /// A code table translating the source value.
    pub table: Option<String>,
    /// Looks the value (a name, alias, departmental code or credit code) up in the organisations
    /// registry (部门库) and takes the agency's `org.credit_code`, `org.name` or `org.division`.
    pub lookup: Option<OrgField>,
    /// A chrono format for timestamps without an offset (read as +08:00), e.g. `%Y%m%d%H%M%S`,
    /// or `epoch_millis` / `epoch_seconds` for a count since the Unix epoch; without it the
    /// common legacy forms are recognised.
    pub format: Option<String>,
    /// `epoch_millis`: a timestamp turned into milliseconds (a version from an update time).
    pub convert: Option<Convert>,
    /// A source path holding a number of working days to add to the timestamp (a promised
    /// finish time from the acceptance time and the time limit).
    pub add_working_days: Option<String>,
    /// Apply the rule only when this holds.
    pub when: Option<Condition>,
    /// Trim, and turn a value written wholly in full-width forms (`５２０１０２`) into half-width
    /// ASCII (default true). Chinese text is never altered: its full-width punctuation stays.
    pub normalize: Option<bool>,
    /// Why generation proposed this rule (documentation; `mapping explain` shows it).
    pub evidence: Option<String>,
    /// Generation's confidence in the rule, 0–1 (documentation).
    pub confidence: Option<f64>,
}

/// What a `lookup` takes from the agency it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OrgField {
    #[serde(rename = "org.credit_code")]
    CreditCode,
    #[serde(rename = "org.name")]
    Name,
    #[serde(rename = "org.division")]
    Division,
}

impl OrgField {
    /// The agency's value of this field.
    pub fn of(self, org: &crate::orgs::Organisation) -> &str {
        match self {
            OrgField::CreditCode => &org.credit_code,
            OrgField::Name => &org.name,
            OrgField::Division => &org.division,
        }
    }

    /// As a config writes it.
    pub fn name(self) -> &'static str {
        match self {
            OrgField::CreditCode => "org.credit_code",
            OrgField::Name => "org.name",
            OrgField::Division => "org.division",
        }
    }
}

/// The `format` of a timestamp written as milliseconds since the Unix epoch.
pub const EPOCH_MILLIS: &str = "epoch_millis";
/// The `format` of a timestamp written as seconds since the Unix epoch.
pub const EPOCH_SECONDS: &str = "epoch_seconds";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Convert {
    EpochMillis,
}

/// A rule applies when the value at `path` is present (and, with `equals`, one of those).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub path: String,
    #[serde(default)]
    pub equals: Vec<String>,
}
