//! The mapping engine: a config compiles once into rules (every config error at once, with its
//! path); applying them to a record does no config parsing, and every error names the rule,
//! the source path, the record key and the offending value (masked where personal), with one
//! message per cause, all of a record's errors at once, and a block's root cause first.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime};
use ronghe_adapters::Raw;
use ronghe_adapters::config::parse_toml;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::assemble::Value;
use super::config::{Convert, EPOCH_MILLIS, EPOCH_SECONDS, MappingConfig, OrgField, Rule, Shape};
use super::path::{SourcePath, shape_of};
use super::schema::{Group, Kind, TARGETS, Target, target};
use crate::calendar::Calendar;
use crate::orgs::{Directory, Miss};
use crate::validate::{self, mask_certificate, mask_name, mask_phone};

/// A problem in a mapping config, at a path like `fields."applicant.name".from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingIssue {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for MappingIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why one record could not be mapped: which rule, from where, for which record, what value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MappingError {
    /// The canonical field whose rule failed (or, for the case's own validation, the field or
    /// part of the case that fails it).
    pub rule: String,
    /// The source path that supplied the value, where one did (none for a constant, or for a
    /// rule's default used because the path gave nothing: the message says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The record's key, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The offending value, masked where personal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The canonical case's check that failed (`resident_id.check_digit`), when the rules gave
    /// values but the case they make is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    pub message: String,
}

impl std::fmt::Display for MappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.rule)?;
        if let Some(source) = &self.source {
            write!(f, " (from {source})")?;
        }
        if let Some(key) = &self.key {
            write!(f, " [record {key}]")?;
        }
        if let Some(value) = &self.value {
            write!(f, " value {value:?}")?;
        }
        if let Some(check) = &self.check {
            write!(f, " check {check}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where a rule's value comes from; each path with its text as the config wrote it.
#[derive(Debug)]
enum Origin {
    From(SourcePath, String),
    Concat(Vec<(SourcePath, String)>, String),
    Const(String),
}

/// A rule's `when`: the path, as compiled and as written, and the values it must hold (any
/// non-empty value when none).
#[derive(Debug)]
struct When {
    path: SourcePath,
    text: String,
    equals: Vec<String>,
}

/// Why a rule gave a record no value: one cause each, each with its own message.
#[derive(Debug, Clone)]
enum Unfilled {
    /// The record has nothing at the rule's source path(s).
    Absent,
    /// The source holds only blanks.
    Empty,
    /// The rule's `when` does not hold: what its path holds, if anything.
    Skipped(Option<String>),
    /// The code table maps the value to `""`: the table and the code.
    TableEmpty(String, String),
}

/// A rule's result for one record.
enum Resolved {
    Value(Value),
    Unfilled(Unfilled),
}

/// One compiled rule.
#[derive(Debug)]
struct Compiled {
    target: &'static Target,
    /// Index of the target in `TARGETS`.
    slot: usize,
    origin: Origin,
    default: Option<String>,
    table: Option<String>,
    lookup: Option<OrgField>,
    format: Option<String>,
    /// `format`'s strftime items, read once when the rule is compiled (none for the epoch forms,
    /// or a format chrono cannot read, which then matches no record: each reports it).
    format_items: Option<Vec<Item<'static>>>,
    convert: Option<Convert>,
    add_working_days: Option<SourcePath>,
    when: Option<When>,
    normalize: bool,
}

/// A compiled mapping, ready to apply to records.
#[derive(Debug)]
pub struct Mapping {
    shape: Shape,
    key: SourcePath,
    rules: Vec<Compiled>,
    tables: HashMap<String, HashMap<String, String>>,
    version: String,
    config: MappingConfig,
    /// The organisations registry the rules with a `lookup` read.
    orgs: Option<std::sync::Arc<Directory>>,
}

/// Beijing time: legacy timestamps without an offset.
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(validate::SHANGHAI_OFFSET_SECONDS)
        .unwrap_or_else(|| unreachable!("+08:00 is a valid offset"))
}

/// A timestamp read by strftime `items`, as `NaiveDateTime::parse_from_str` reads it, else as
/// `NaiveDate::parse_from_str` at midnight (a date-only format).
fn naive_in(text: &str, items: &[Item<'static>]) -> Option<NaiveDateTime> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, items.iter()).ok()?;
    parsed
        .to_naive_datetime_with_offset(0)
        .or_else(|_| parsed.to_naive_date().map(|d| d.and_time(NaiveTime::MIN)))
        .ok()
}

/// Whether `c` is a full-width form of an ASCII character or the ideographic space.
fn full_width(c: char) -> bool {
    ('\u{FF01}'..='\u{FF5E}').contains(&c) || c == '\u{3000}'
}

/// A value typed wholly in full-width forms (a number, code or date from a Chinese input method,
/// `２０２５－０５－１１`) in half-width ASCII. A value with any other non-ASCII character is
/// Chinese text and is left as it is: its full-width punctuation (`，` `（` `：`) stays.
fn half_width(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || text.chars().any(|c| !c.is_ascii() && !full_width(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\u{3000}' => ' ',
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            })
            .collect(),
    )
}

/// Masks a value of a personal field for messages.
fn shown(target: &Target, value: &str) -> String {
    if !target.personal {
        return value.to_owned();
    }
    if target.path.ends_with("name")
        || target.path.ends_with("acceptor")
        || target.path.ends_with("handler")
        || target.path.ends_with("representative")
    {
        mask_name(value)
    } else if target.path.ends_with("phone") {
        mask_phone(value)
    } else {
        mask_certificate(value)
    }
}

impl Mapping {
    /// Parses and compiles a config; every problem at once.
    pub fn compile(text: &str) -> Result<Mapping, Vec<MappingIssue>> {
        let config: MappingConfig = parse_toml(text).map_err(|issues| {
            issues
                .into_iter()
                .map(|i| MappingIssue {
                    path: i.path,
                    message: i.message,
                })
                .collect::<Vec<_>>()
        })?;
        let version = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
        Mapping::from_config(config, version)
    }

    fn from_config(config: MappingConfig, version: String) -> Result<Mapping, Vec<MappingIssue>> {
        let mut issues = Vec::new();
        let mut issue = |path: String, message: String| issues.push(MappingIssue { path, message });
        let shape = config.source.shape;
        let key = SourcePath::compile(shape, &config.source.key)
            .map_err(|m| issue("source.key".into(), m))
            .ok();
        let mut rules = Vec::new();
        for (name, rule) in &config.fields {
            let at = |part: &str| {
                format!(
                    "fields.\"{name}\"{}{part}",
                    if part.is_empty() { "" } else { "." }
                )
            };
            let Some((slot, target)) = TARGETS.iter().enumerate().find(|(_, t)| t.path == name) else {
                let known: Vec<&str> = TARGETS.iter().map(|t| t.path).collect();
                issue(
                    at(""),
                    format!(
                        "no canonical field {name:?}; the fields are: {}",
                        known.join(", ")
                    ),
                );
                continue;
            };
            match compile_rule(shape, target, slot, rule, &config.tables) {
                Ok(compiled) => rules.push(compiled),
                Err(problems) => problems.into_iter().for_each(|(part, m)| issue(at(part), m)),
            }
        }
        for t in TARGETS
            .iter()
            .filter(|t| t.required && matches!(t.group, Group::Case | Group::Applicant))
        {
            if !config.fields.contains_key(t.path) {
                issue(
                    format!("fields.\"{}\"", t.path),
                    format!("required field {} ({}) has no rule", t.path, t.names[0]),
                );
            }
        }
        for group in [Group::Acceptance, Group::Result] {
            let mapped: Vec<&Target> = TARGETS
                .iter()
                .filter(|t| t.group == group && config.fields.contains_key(t.path))
                .collect();
            if mapped.is_empty() {
                continue;
            }
            for t in TARGETS
                .iter()
                .filter(|t| t.group == group && t.required && !config.fields.contains_key(t.path))
            {
                issue(
                    format!("fields.\"{}\"", t.path),
                    format!("{} is required once {} is mapped", t.path, mapped[0].path),
                );
            }
        }
        for (name, table) in &config.tables {
            if !config
                .fields
                .values()
                .any(|r| r.table.as_deref() == Some(name.as_str()))
            {
                issue(format!("tables.{name}"), "no rule uses this table".to_owned());
            }
            if table.is_empty() {
                issue(format!("tables.{name}"), "the table is empty".to_owned());
            }
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        let Some(key) = key else {
            unreachable!("a key error was recorded as an issue")
        };
        let tables = config
            .tables
            .iter()
            .map(|(n, t)| (n.clone(), t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .collect();
        Ok(Mapping {
            shape,
            key,
            rules,
            tables,
            version,
            config,
            orgs: None,
        })
    }

    /// Whether a rule looks agencies up in the organisations registry (`with_orgs` then gives it).
    pub fn uses_orgs(&self) -> bool {
        self.rules.iter().any(|r| r.lookup.is_some())
    }

    /// The mapping reading `directory` for its rules' lookups.
    pub fn with_orgs(mut self, directory: std::sync::Arc<Directory>) -> Mapping {
        self.orgs = Some(directory);
        self
    }

    /// The config's version: a hash of its text, stored with every case it produced.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn config(&self) -> &MappingConfig {
        &self.config
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The record's key, if it has one.
    pub fn key_of(&self, raw: &Raw) -> Option<String> {
        self.key.lookup(raw).map(|k| k.trim().to_owned())
    }

    /// The record's update time by its `updated_at` rule alone, where that gives one: what dates
    /// a record that does not map as a whole (a day's reconciliation reports that day's).
    pub fn updated_at(&self, raw: &Raw) -> Option<DateTime<FixedOffset>> {
        let rule = self.rules.iter().find(|r| r.target.path == "updated_at")?;
        match self.resolve(rule, raw) {
            Ok(Resolved::Value(Value::Time(at))) => Some(at),
            _ => None,
        }
    }

    /// Maps one record into a validated canonical case, or says every reason it cannot.
    pub fn apply(
        &self,
        raw: &Raw,
        now: DateTime<FixedOffset>,
    ) -> Result<crate::case::Case, Vec<MappingError>> {
        // The key is only for error messages: looked up when one is reported.
        let key = || self.key_of(raw);
        if shape_of(raw) != self.shape {
            return Err(vec![MappingError {
                rule: "source.shape".into(),
                source: None,
                key: key(),
                value: None,
                check: None,
                message: format!(
                    "the record is {} but the mapping reads {}",
                    shape_of(raw).name(),
                    self.shape.name()
                ),
            }]);
        }
        let mut values: Vec<Option<Value>> = vec![None; TARGETS.len()];
        // Why a slot has no value; `None` for a slot with a value, an error or no rule.
        let mut unfilled: Vec<Option<Unfilled>> = vec![None; TARGETS.len()];
        let mut failed = vec![false; TARGETS.len()];
        let mut errors = Vec::new();
        for rule in &self.rules {
            let resolved = match &rule.when {
                Some(when) => match when.holds(raw) {
                    Ok(()) => self.resolve(rule, raw),
                    Err(found) => Ok(Resolved::Unfilled(Unfilled::Skipped(found))),
                },
                None => self.resolve(rule, raw),
            };
            match resolved {
                Ok(Resolved::Value(value)) => values[rule.slot] = Some(value),
                Ok(Resolved::Unfilled(why)) => unfilled[rule.slot] = Some(why),
                Err((value, message)) => {
                    failed[rule.slot] = true;
                    let (source, message) = rule.supplier(raw, message);
                    errors.push(MappingError {
                        rule: rule.target.path.to_owned(),
                        source,
                        key: key(),
                        value: value.map(|v| shown(rule.target, &v)),
                        check: None,
                        message,
                    });
                }
            }
        }
        let causes = self.block_causes(raw, &values, &failed, key);
        let assembled = super::assemble::assemble(values, |path| {
            let slot = slot_of(path);
            if failed[slot] {
                return None;
            }
            let rule = self.rules.iter().find(|r| r.slot == slot);
            let (value, message) = match (rule, &unfilled[slot]) {
                (None, _) => (
                    None,
                    "required here, but the mapping has no rule for it".to_owned(),
                ),
                (Some(rule), Some(why)) => rule.unfilled_message(why),
                (Some(_), None) => (None, "required here, but the rule gave no value".to_owned()),
            };
            // Only a code-table entry can leave a default without a value.
            let (source, message) = match (rule, &unfilled[slot]) {
                (Some(rule), Some(Unfilled::TableEmpty(..))) => rule.supplier(raw, message),
                _ => (rule.and_then(Compiled::source_text), message),
            };
            Some(MappingError {
                rule: path.to_owned(),
                source,
                key: key(),
                value: value.and_then(|v| rule.map(|r| shown(r.target, &v))),
                check: None,
                message,
            })
        });
        let case = match assembled {
            Ok(case) if errors.is_empty() => case,
            Ok(_) => return Err(errors),
            Err(missing) => {
                let lacking: Vec<Group> = missing
                    .iter()
                    .filter_map(|e| target(&e.rule).map(|t| t.group))
                    .collect();
                let mut all: Vec<MappingError> = causes
                    .into_iter()
                    .filter(|(group, _)| lacking.contains(group))
                    .map(|(_, cause)| cause)
                    .collect();
                all.extend(errors);
                all.extend(missing);
                return Err(all);
            }
        };
        let findings = case.validate(now);
        if findings.is_valid() {
            Ok(case)
        } else {
            Err(findings
                .errors
                .into_iter()
                .map(|f| {
                    let rule = self.rules.iter().find(|r| names_part_of(&f.field, r.target.path));
                    let (source, message) = match rule {
                        Some(rule) => rule.supplier(raw, f.message),
                        None => (None, f.message),
                    };
                    MappingError {
                        source,
                        key: key(),
                        value: None,
                        check: Some(f.rule),
                        message,
                        rule: f.field,
                    }
                })
                .collect())
        }
    }

    /// For each optional block (acceptance, result) that some rule gave a value, the root-cause
    /// error to report before the block's missing fields: the first rule that made it exist.
    fn block_causes(
        &self,
        raw: &Raw,
        values: &[Option<Value>],
        failed: &[bool],
        key: impl Fn() -> Option<String>,
    ) -> Vec<(Group, MappingError)> {
        [Group::Acceptance, Group::Result]
            .into_iter()
            .filter_map(|group| {
                let rule = self
                    .rules
                    .iter()
                    .filter(|r| r.target.group == group && values[r.slot].is_some())
                    .min_by_key(|r| r.slot)?;
                let (name, not_yet) = match group {
                    Group::Acceptance => ("acceptance (受理)", "accepted"),
                    _ => ("result (办结)", "finished"),
                };
                let empty = TARGETS
                    .iter()
                    .enumerate()
                    .filter(|(i, t)| t.group == group && t.required && values[*i].is_none() && !failed[*i])
                    .map(|(_, t)| t.path)
                    .collect::<Vec<_>>()
                    .join(", ");
                let value = values[rule.slot].as_ref().map(|v| shown(rule.target, &v.text()));
                let (source, message) = rule.supplier(
                    raw,
                    format!(
                        "this value gives the case its {name} block, which then lacks {empty}: \
                         if such records are not {not_yet} yet, add a when to this rule"
                    ),
                );
                let cause = MappingError {
                    rule: rule.target.path.to_owned(),
                    source,
                    key: key(),
                    value,
                    check: None,
                    message,
                };
                Some((group, cause))
            })
            .collect()
    }

    /// The rule's value for this record, or why it has none; an error carries the offending
    /// value.
    fn resolve(&self, rule: &Compiled, raw: &Raw) -> Result<Resolved, (Option<String>, String)> {
        let text: Option<Cow<'_, str>> = match &rule.origin {
            Origin::Const(v) => Some(Cow::Borrowed(v.as_str())),
            Origin::From(path, _) => path.lookup(raw),
            Origin::Concat(paths, separator) => {
                let found: Vec<Cow<'_, str>> = paths.iter().filter_map(|(p, _)| p.lookup(raw)).collect();
                let parts: Vec<&str> = found.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect();
                match (found.is_empty(), parts.is_empty()) {
                    (true, _) => None,
                    (false, true) => Some(Cow::Borrowed("")),
                    (false, false) => Some(Cow::Owned(parts.join(separator))),
                }
            }
        };
        let text = match text {
            Some(t) if rule.normalize => {
                let clean = t.len() == t.trim().len() && matches!(half_width(&t), Cow::Borrowed(_));
                if clean {
                    Some(t)
                } else {
                    Some(Cow::Owned(half_width(t.trim()).into_owned()))
                }
            }
            other => other,
        };
        let mut text = match (text, rule.default.as_deref()) {
            (Some(t), _) if !t.trim().is_empty() => t,
            (_, Some(default)) => Cow::Borrowed(default),
            (None, None) => return Ok(Resolved::Unfilled(Unfilled::Absent)),
            (Some(_), None) => return Ok(Resolved::Unfilled(Unfilled::Empty)),
        };
        if let Some(table) = &rule.table {
            let codes = &self.tables[table];
            match codes.get(text.as_ref()).or_else(|| codes.get("*")) {
                Some(mapped) if mapped.is_empty() => {
                    return Ok(Resolved::Unfilled(Unfilled::TableEmpty(
                        table.clone(),
                        text.into_owned(),
                    )));
                }
                Some(mapped) => text = Cow::Owned(mapped.clone()),
                None => {
                    return Err((
                        Some(text.into_owned()),
                        format!(
                            "not in table {table:?}: add this code (or a \"*\" entry) to [tables.{table}]"
                        ),
                    ));
                }
            }
        }
        if let Some(field) = rule.lookup {
            text = Cow::Owned(self.lookup(field, &text)?.to_owned());
        }
        self.convert(rule, raw, text.into_owned()).map(Resolved::Value)
    }

    /// The field of the one agency the registry knows by `value`.
    fn lookup(&self, field: OrgField, value: &str) -> Result<&str, (Option<String>, String)> {
        let Some(orgs) = &self.orgs else {
            return Err((
                Some(value.to_owned()),
                "the rule looks the agency up in the organisations registry (部门库), which this \
                 mapping was not given"
                    .to_owned(),
            ));
        };
        match orgs.find(value) {
            Ok(org) => Ok(field.of(org)),
            Err(Miss::Unknown) => Err((
                Some(value.to_owned()),
                format!(
                    "no agency in the organisations registry (部门库) is known by this name or code \
                     ({} agencies): add it, or this name as an alias or code of one, with `ronghe orgs import`",
                    orgs.len()
                ),
            )),
            Err(Miss::Ambiguous(several)) => Err((
                Some(value.to_owned()),
                format!(
                    "{} agencies of the organisations registry are known by this name or code ({}): \
                     keep the alias on one of them only, or look up a source field that tells them apart",
                    several.len(),
                    several
                        .iter()
                        .map(|(name, code)| format!("{name} {code}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    fn convert(&self, rule: &Compiled, raw: &Raw, text: String) -> Result<Value, (Option<String>, String)> {
        match rule.target.kind {
            Kind::Text => Ok(Value::Text(text)),
            Kind::Code(set) if set.accepts(&text) => Ok(Value::Text(text)),
            Kind::Code(set) => Err((
                Some(text),
                format!("not a {} code; translate it with a table", set.name()),
            )),
            Kind::Integer => match rule.convert {
                Some(Convert::EpochMillis) => self
                    .timestamp(rule, &text)
                    .map(|t| Value::Int(t.timestamp_millis())),
                None => text
                    .parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| (Some(text), "not a whole number".to_owned())),
            },
            Kind::Timestamp => {
                let time = self.timestamp(rule, &text)?;
                let Some(days_path) = &rule.add_working_days else {
                    return Ok(Value::Time(time));
                };
                let days = days_path
                    .lookup(raw)
                    .and_then(|d| d.trim().parse::<u32>().ok())
                    .ok_or_else(|| {
                        (
                            days_path.lookup(raw).map(Cow::into_owned),
                            "add_working_days: not a whole number of days".to_owned(),
                        )
                    })?;
                let date = Calendar::embedded()
                    .add_working_days(time.date_naive(), days)
                    .map_err(|e| (Some(text.clone()), e.to_string()))?;
                let due = date
                    .and_time(time.time())
                    .and_local_timezone(*time.offset())
                    .single()
                    .ok_or_else(|| (Some(text), "no such local time".to_owned()))?;
                Ok(Value::Time(due))
            }
        }
    }

    fn timestamp(
        &self,
        rule: &Compiled,
        text: &str,
    ) -> Result<DateTime<FixedOffset>, (Option<String>, String)> {
        match &rule.format {
            None => validate::parse_timestamp(text).map_err(|v| (Some(text.to_owned()), v.message)),
            Some(format) if format == EPOCH_MILLIS || format == EPOCH_SECONDS => {
                let per_unit = if format == EPOCH_SECONDS { 1000 } else { 1 };
                text.trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| n.checked_mul(per_unit))
                    .and_then(DateTime::from_timestamp_millis)
                    .map(|t| t.with_timezone(&beijing()))
                    .ok_or_else(|| {
                        (
                            Some(text.to_owned()),
                            format!("does not match the format {format:?}"),
                        )
                    })
            }
            Some(format) => rule
                .format_items
                .as_ref()
                .and_then(|items| naive_in(text, items))
                .and_then(|t| t.and_local_timezone(beijing()).single())
                .ok_or_else(|| {
                    (
                        Some(text.to_owned()),
                        format!("does not match the format {format:?}"),
                    )
                }),
        }
    }

    /// How a canonical field is filled, for `mapping explain`.
    pub fn explain(&self, field: &str) -> Option<(&'static Target, Option<&Rule>)> {
        let target = target(field)?;
        Some((target, self.config.fields.get(field)))
    }
}

impl Compiled {
    /// The path(s) the rule reads, as the config wrote them (`a + b` for a concat).
    fn source_text(&self) -> Option<String> {
        match &self.origin {
            Origin::From(_, text) => Some(text.clone()),
            Origin::Concat(parts, _) => Some(
                parts
                    .iter()
                    .map(|(_, text)| text.as_str())
                    .collect::<Vec<_>>()
                    .join(" + "),
            ),
            Origin::Const(_) => None,
        }
    }

    /// Whether the rule's value for this record is its default: it has one, and its source
    /// gives nothing (absent or blank).
    fn defaulted(&self, raw: &Raw) -> bool {
        let given = |p: &SourcePath| p.lookup(raw).is_some_and(|v| !v.trim().is_empty());
        self.default.is_some()
            && match &self.origin {
                Origin::From(path, _) => !given(path),
                Origin::Concat(parts, _) => !parts.iter().any(|(p, _)| given(p)),
                Origin::Const(_) => false,
            }
    }

    /// What supplied the rule's value for this record, and `message` about that value: the
    /// source path(s); or, when the value is the rule's default, no path and a message that
    /// says so (the path gave nothing, so it is not the culprit).
    fn supplier(&self, raw: &Raw, message: String) -> (Option<String>, String) {
        let source = self.source_text();
        match (self.defaulted(raw), &source) {
            (true, Some(path)) => (
                None,
                format!(
                    "the value is the rule's default ({path} is absent or empty in this record): {message}"
                ),
            ),
            _ => (source, message),
        }
    }

    /// The value to show and the message for a required field this rule left without a value.
    fn unfilled_message(&self, why: &Unfilled) -> (Option<String>, String) {
        let required = "required here";
        match why {
            Unfilled::Absent => (
                None,
                format!(
                    "{required}, but the record has nothing at this path: check the path against the \
                     source's records, or give the rule a default"
                ),
            ),
            Unfilled::Empty => (
                None,
                format!("{required}, but empty in this record: give the rule a default"),
            ),
            Unfilled::Skipped(found) => {
                let Some(when) = &self.when else {
                    unreachable!("only a rule with a when is skipped")
                };
                let condition = match found {
                    None => format!("{} is absent or empty", when.text),
                    Some(found) => format!(
                        "{} is {found:?}, not one of {}",
                        when.text,
                        when.equals
                            .iter()
                            .map(|e| format!("{e:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                (
                    None,
                    format!("{required}, but the rule's when does not hold ({condition})"),
                )
            }
            Unfilled::TableEmpty(table, code) => (
                Some(code.clone()),
                format!(
                    "{required}, but table {table:?} maps this code to \"\" (no value): map it to a canonical value"
                ),
            ),
        }
    }
}

impl When {
    /// `Ok` when the condition holds; otherwise what its path holds, if anything.
    fn holds(&self, raw: &Raw) -> Result<(), Option<String>> {
        match self.path.lookup(raw) {
            Some(v) if !v.trim().is_empty() => {
                let v = v.trim();
                if self.equals.is_empty() || self.equals.iter().any(|e| e == v) {
                    Ok(())
                } else {
                    Err(Some(v.to_owned()))
                }
            }
            _ => Err(None),
        }
    }
}

/// The slot of a canonical path in `TARGETS`.
fn slot_of(path: &str) -> usize {
    TARGETS
        .iter()
        .position(|t| t.path == path)
        .unwrap_or_else(|| unreachable!("{path} is a canonical field"))
}

/// Whether the validation finding at `field` (`acceptance.department_uscc`, `steps[0].at`) is
/// about the canonical field `path`: the field itself or a part of it, never a longer name that
/// starts the same (`acceptance.department` is not `acceptance.department_uscc`).
fn names_part_of(field: &str, path: &str) -> bool {
    field
        .strip_prefix(path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// Compiles one rule, or gives its problems as (part of the rule, message).
fn compile_rule(
    shape: Shape,
    target: &'static Target,
    slot: usize,
    rule: &Rule,
    tables: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Compiled, Vec<(&'static str, String)>> {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let path = |part: &'static str, text: &str, problems: &mut Vec<(&'static str, String)>| {
        SourcePath::compile(shape, text)
            .map_err(|m| problems.push((part, m)))
            .ok()
    };
    let origin = match (&rule.from, &rule.concat, &rule.constant) {
        (Some(from), None, None) => path("from", from, &mut problems).map(|p| Origin::From(p, from.clone())),
        (None, Some(parts), None) if !parts.is_empty() => {
            let compiled: Vec<_> = parts
                .iter()
                .filter_map(|p| path("concat", p, &mut problems).map(|c| (c, p.clone())))
                .collect();
            (compiled.len() == parts.len()).then(|| Origin::Concat(compiled, rule.separator.clone()))
        }
        (None, None, Some(value)) => Some(Origin::Const(value.clone())),
        _ => {
            problems.push((
                "",
                "give exactly one of from, concat (non-empty) and const".to_owned(),
            ));
            None
        }
    };
    if let Some(table) = &rule.table {
        match tables.get(table) {
            None => problems.push(("table", format!("no table {table:?} under [tables]"))),
            Some(codes) => {
                if let Kind::Code(set) = target.kind {
                    for (code, value) in codes {
                        if !value.is_empty() && !set.accepts(value) {
                            problems.push((
                                "table",
                                format!("tables.{table}.{code:?} = {value:?} is not a {} code", set.name()),
                            ));
                        }
                    }
                }
            }
        }
    }
    if let Some(field) = rule.lookup {
        if rule.table.is_some() {
            problems.push((
                "lookup",
                "give either a table or a lookup: a looked-up agency needs no table".to_owned(),
            ));
        }
        if target.kind != Kind::Text {
            problems.push((
                "lookup",
                format!(
                    "{} is not text: {} fills text fields only",
                    target.path,
                    field.name()
                ),
            ));
        }
    }
    if let (Some(value), Kind::Code(set), None) = (&rule.constant, target.kind, &rule.table)
        && !set.accepts(value)
    {
        problems.push(("const", format!("{value:?} is not a {} code", set.name())));
    }
    if rule.format.is_some() && target.kind != Kind::Timestamp && rule.convert.is_none() {
        problems.push((
            "format",
            "only timestamps (or a version converted from one) take a format".to_owned(),
        ));
    }
    if rule.convert.is_some() && target.kind != Kind::Integer {
        problems.push((
            "convert",
            "epoch_millis turns a timestamp into a number: only for version-like fields".to_owned(),
        ));
    }
    if rule.add_working_days.is_some() && target.kind != Kind::Timestamp {
        problems.push((
            "add_working_days",
            "only timestamps take add_working_days".to_owned(),
        ));
    }
    let add_working_days = rule
        .add_working_days
        .as_deref()
        .and_then(|p| path("add_working_days", p, &mut problems));
    let when = rule.when.as_ref().and_then(|c| {
        path("when.path", &c.path, &mut problems).map(|p| When {
            path: p,
            text: c.path.clone(),
            equals: c.equals.clone(),
        })
    });
    if rule.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
        problems.push(("confidence", "must be between 0 and 1".to_owned()));
    }
    match origin {
        Some(origin) if problems.is_empty() => Ok(Compiled {
            target,
            slot,
            origin,
            default: rule.default.clone(),
            table: rule.table.clone(),
            lookup: rule.lookup,
            format: rule.format.clone(),
            format_items: rule
                .format
                .as_deref()
                .filter(|format| *format != EPOCH_MILLIS && *format != EPOCH_SECONDS)
                .and_then(|format| StrftimeItems::new(format).parse_to_owned().ok()),
            convert: rule.convert,
            add_working_days,
            when,
            normalize: rule.normalize.unwrap_or(true),
        }),
        _ => Err(problems),
    }
}
