//! Proposing a mapping from a system's probe profile: each canonical field is matched to a
//! source field by name (the GB/T 39046 Chinese names, common English names, also spelt across
//! nested paths: `/item/code` ↔ itemCode, and the pinyin initials legacy schemas use: `SQRMC` ↔
//! 申请人名称) and by the shape of its values (resident IDs, credit codes, division codes,
//! timestamps, epoch milliseconds, phone numbers); a name whose values are of another kind is
//! not taken. Code fields get code tables filled from the whole column's distinct values
//! through `vocabulary` and the profile's own code tables, unknown codes listed, never guessed.
//! A field the source lacks is derived from one it has where that says it (the result from the
//! status, the applicant's kind from the certificate type through a table). The acceptance and
//! result blocks apply only `when` their time is present, where it can be absent. An accepting
//! agency with no credit code (or no name) in the source is looked up in the organisations
//! registry (部门库) by the column whose values the registry knows best. Every proposal carries
//! its evidence and confidence.

use std::collections::{BTreeMap, BTreeSet};

use pinyin::ToPinyin;
use ronghe_adapters::{Entity, Profile, ValueCount};
use serde::Serialize;
use serde_json::Value;

use super::config::{EPOCH_MILLIS, EPOCH_SECONDS, Shape};
use super::schema::{CodeSet, Group, Kind, TARGETS, Target, target};
use super::vocabulary;
use crate::orgs::Directory;
use crate::validate;

/// A proposed rule for one canonical field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposed {
    pub field: &'static str,
    /// The rule as an inline TOML table, e.g. `{ from = "/caseNo" }`.
    pub rule: String,
    pub evidence: String,
    pub confidence: f64,
    /// The source path, when the rule reads one.
    pub source: Option<String>,
}

/// A code table to review: every legacy code of the field, with its canonical value or "".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftTable {
    pub name: String,
    /// (legacy code, canonical value or "" while unknown).
    pub entries: Vec<(String, String)>,
    pub note: String,
}

/// What generation proposes for a system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub entity: String,
    pub shape: Shape,
    pub key: Option<String>,
    pub rules: Vec<Proposed>,
    pub tables: Vec<DraftTable>,
    /// Required canonical fields left for the engineer.
    pub unmatched: Vec<&'static str>,
}

impl Serialize for Shape {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Upper-case pinyin initials of the Chinese characters in `text` (other letters and digits kept).
pub fn initials(text: &str) -> String {
    text.chars()
        .zip(text.to_pinyin())
        .filter_map(|(c, p)| match p {
            Some(p) => p.first_letter().chars().next().map(|l| l.to_ascii_uppercase()),
            None if c.is_ascii_alphanumeric() => Some(c.to_ascii_uppercase()),
            None => None,
        })
        .collect()
}

fn norm(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A source field with its sampled values.
struct Candidate<'a> {
    /// The path a mapping rule reads it by.
    path: String,
    /// The path as the profile names it.
    profiled: &'a str,
    /// The last segment of the path: the field's own name.
    name: &'a str,
    /// The last two segments joined: the name a nested field spells with its parent.
    nested: String,
    nullable: bool,
    values: Vec<String>,
    /// The whole column's distinct values with their counts, where the probe counted them.
    distinct: &'a [ValueCount],
}

/// Shares of sampled values that look like each kind of identifier or value.
#[derive(Default)]
struct Shapes {
    resident_id: f64,
    uscc: f64,
    /// Either a resident ID or a credit code (a number can pass both checks by chance).
    certificate: f64,
    division: f64,
    timestamp: f64,
    phone: f64,
}

/// The epoch format a number is written in, if it reads as a time between 2000 and 2100:
/// 13 digits of milliseconds or 10 of seconds.
fn epoch_format(value: &str) -> Option<&'static str> {
    let n: i64 = value
        .parse()
        .ok()
        .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))?;
    match value.len() {
        13 if (946_684_800_000..4_102_444_800_000).contains(&n) => Some(EPOCH_MILLIS),
        10 if (946_684_800..4_102_444_800).contains(&n) => Some(EPOCH_SECONDS),
        _ => None,
    }
}

/// Mobiles (`1[3-9]` and nine digits, perhaps after `+86`) and landlines with their area code
/// (`0851-86812345`, `(0851)86812345`, `085186812345`, an extension after `-` or `转`).
static PHONE: std::sync::LazyLock<regex_lite::Regex> = std::sync::LazyLock::new(|| {
    regex_lite::Regex::new(
        r"^(?:(?:\+?86)?1[3-9]\d{9}|(?:0\d{2,3}-?|\(0\d{2,3}\))[1-9]\d{6,7}(?:(?:-|转)\d{1,6})?)$",
    )
    .unwrap_or_else(|e| unreachable!("the phone pattern is valid: {e}"))
});

/// Whether `value` is written as a phone number (spaces aside).
fn phone_number(value: &str) -> bool {
    PHONE.is_match(&value.replace(' ', ""))
}

impl Candidate<'_> {
    /// The values to judge the field by, with their weights: the whole column's distinct
    /// values where the probe counted them, else the sampled values.
    fn weighted(&self) -> Vec<(&str, u64)> {
        if self.distinct.is_empty() {
            self.values.iter().map(|v| (v.as_str(), 1)).collect()
        } else {
            self.distinct
                .iter()
                .map(|v| (v.value.as_str(), v.records))
                .collect()
        }
    }

    /// The distinct values a code table must cover.
    fn codes(&self) -> BTreeSet<&str> {
        self.weighted().into_iter().map(|(v, _)| v).collect()
    }

    /// The epoch format every value is written in, if one is.
    fn epoch(&self) -> Option<&'static str> {
        let weighted = self.weighted();
        let first = epoch_format(weighted.first()?.0)?;
        weighted
            .iter()
            .all(|(v, _)| epoch_format(v) == Some(first))
            .then_some(first)
    }

    fn shapes(&self) -> Shapes {
        let weighted = self.weighted();
        let n: u64 = weighted.iter().map(|(_, w)| w).sum();
        if n == 0 {
            return Shapes::default();
        }
        let share = |f: &dyn Fn(&str) -> bool| {
            weighted.iter().filter(|(v, _)| f(v)).map(|(_, w)| w).sum::<u64>() as f64 / n as f64
        };
        let today = chrono::Local::now().date_naive();
        Shapes {
            resident_id: share(&|v| validate::parse_resident_id(v, today).is_ok()),
            uscc: share(&|v| validate::parse_uscc(v).is_ok()),
            certificate: share(&|v| {
                validate::parse_resident_id(v, today).is_ok() || validate::parse_uscc(v).is_ok()
            }),
            division: share(&|v| validate::division(v).is_ok()),
            timestamp: share(&|v| validate::parse_timestamp(v).is_ok() || epoch_format(v).is_some()),
            phone: share(&phone_number),
        }
    }
}

/// How well `c` fits `t` by name, with the reason.
fn name_score(t: &Target, c: &Candidate<'_>) -> Option<(f64, String)> {
    let name = c.name.trim();
    if let Some(zh) = t.names.iter().find(|zh| **zh == name) {
        return Some((0.95, format!("name {name} is the data element {zh}")));
    }
    let joined = c.path.replace(['/', '@'], "");
    if let Some(zh) = t.names.iter().find(|zh| **zh == joined) {
        return Some((0.92, format!("path {} reads as the data element {zh}", c.path)));
    }
    let segments = norm(&c.path.replace(['/', '.'], ""));
    if segments == norm(&t.path.replace('.', "")) {
        return Some((0.9, format!("path {} spells {}", c.path, t.path)));
    }
    if c.nested != norm(name)
        && let Some(en) = t.english.iter().find(|en| norm(en) == c.nested)
    {
        return Some((0.89, format!("path {} spells the English name {en}", c.path)));
    }
    if let Some(en) = t.english.iter().find(|en| norm(en) == norm(name)) {
        let parent_ok =
            !t.path.contains('.') || c.path.len() > name.len() + 1 || !matches!(*en, "name" | "type");
        if parent_ok {
            return Some((0.88, format!("name {name} is the common English name {en}")));
        }
    }
    if name.len() >= 2
        && name.chars().all(|ch| ch.is_ascii_alphabetic())
        && let Some(zh) = t
            .names
            .iter()
            .find(|zh| initials(zh) == name.to_ascii_uppercase())
    {
        return Some((0.85, format!("name {name} is the pinyin initials of {zh}")));
    }
    None
}

/// Whether `c`'s values rule it out for `t` whatever its name: fewer than half of them are the
/// division codes, credit codes, certificate numbers or phone numbers `t` holds.
fn contradicted(t: &Target, c: &Candidate<'_>, s: &Shapes) -> bool {
    let share = match t.path {
        "region_code" => s.division,
        "acceptance.department_uscc" => s.uscc,
        "applicant.certificate_no" => s.certificate,
        "applicant.phone" => s.phone,
        _ => return false,
    };
    !c.weighted().is_empty() && share < 0.5
}

/// How well `c`'s sampled values fit `t`, with the reason.
fn shape_score(t: &Target, c: &Candidate<'_>, s: &Shapes) -> Option<(f64, String)> {
    let pct = |x: f64| match c.distinct.is_empty() {
        true => format!("{:.0}% of {} sampled values", x * 100.0, c.values.len()),
        false => format!("{:.0}% of the column's values", x * 100.0),
    };
    match t.path {
        "applicant.certificate_no" if s.certificate >= 0.8 => Some((
            0.75,
            format!("{} are resident IDs or credit codes", pct(s.certificate)),
        )),
        "acceptance.department_uscc" if s.uscc >= 0.8 && s.resident_id == 0.0 => {
            Some((0.6, format!("{} are credit codes", pct(s.uscc))))
        }
        "region_code" if s.division >= 0.8 && s.uscc == 0.0 => {
            Some((0.7, format!("{} are division codes", pct(s.division))))
        }
        "applicant.phone" if s.phone >= 0.8 => {
            Some((0.75, format!("{} are mobile or landline numbers", pct(s.phone))))
        }
        _ if t.kind == Kind::Timestamp && s.timestamp >= 0.8 => {
            Some((0.3, format!("{} are timestamps", pct(s.timestamp))))
        }
        _ => None,
    }
}

/// The value of a profiled field in one sample, as text. Profiles name JSON and XML fields by
/// JSON pointers into the record's JSON view (`Raw::to_json`), and SQL fields by column.
fn value_at(shape: Shape, field: &str, sample: &Value) -> Option<String> {
    let found = match shape {
        Shape::Json | Shape::Xml => sample.pointer(field),
        Shape::Row => sample.get(field),
    }?;
    match found {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("#text").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// The mapping path of a profiled field: XML pointers (`/办件/申请人/@类型`, `/办件/受理部门/#text`)
/// become element paths below the record element (`申请人/@类型`, `受理部门`).
pub(super) fn rule_path(shape: Shape, field: &str) -> String {
    match shape {
        Shape::Xml => {
            let segments: Vec<&str> = field.split('/').skip(2).filter(|s| *s != "#text").collect();
            if segments.is_empty() {
                ".".to_owned()
            } else {
                segments.join("/")
            }
        }
        _ => field.to_owned(),
    }
}

/// Values at `path` in the samples, as text.
fn sample_values(shape: Shape, path: &str, samples: &[Value]) -> Vec<String> {
    samples.iter().filter_map(|s| value_at(shape, path, s)).collect()
}

/// The certificate type a legacy code stands for, judged by the certificate numbers that come
/// with it in the samples: at least four in five resident IDs, or credit codes (legacy data
/// holds a few numbers with a wrong check digit).
fn certificate_type_of(
    code: &str,
    shape: Shape,
    type_path: &str,
    number_path: &str,
    samples: &[Value],
) -> Option<&'static str> {
    let today = chrono::Local::now().date_naive();
    let numbers: Vec<String> = samples
        .iter()
        .filter(|s| value_at(shape, type_path, s).as_deref() == Some(code))
        .filter_map(|s| value_at(shape, number_path, s))
        .collect();
    let most = |f: &dyn Fn(&str) -> bool| {
        !numbers.is_empty() && numbers.iter().filter(|n| f(n)).count() * 5 >= numbers.len() * 4
    };
    if most(&|n| validate::parse_resident_id(n, today).is_ok()) {
        Some("resident_id")
    } else if most(&|n| validate::parse_uscc(n).is_ok()) {
        Some("unified_social_credit_code")
    } else {
        None
    }
}

/// The entity that holds the case records: of those with samples, the one with the most
/// records (a code table has a few), then the most samples.
fn case_entity(profile: &Profile) -> Option<&Entity> {
    profile
        .entities
        .iter()
        .filter(|e| !e.samples.is_empty())
        .max_by_key(|e| (e.record_count.unwrap_or(0), e.samples.len()))
}

/// Labels of opaque codes from a code table the profile holds: another entity with a column
/// whose values include the codes and, beside it, a column of text with one label per code.
/// Where several could label them, the one that labels most of the codes (at least half) wins,
/// then the one whose name speaks of the field or of the code column (`DM_ZJLX` for `ZJLX`,
/// 证件类型), then the one with the fewest other entries. Gives the table's name and column, and
/// code → label.
fn code_labels(
    profile: &Profile,
    shape: Shape,
    cases: &Entity,
    (t, column): (&Target, &str),
    codes: &BTreeSet<&str>,
) -> Option<(String, BTreeMap<String, String>)> {
    let text = |s: &Value, f: &str| value_at(shape, f, s);
    let mut found = Vec::new();
    for e in profile
        .entities
        .iter()
        .filter(|e| e.name != cases.name && !e.samples.is_empty())
    {
        for code in &e.fields {
            let mut held: BTreeSet<String> = e.samples.iter().filter_map(|s| text(s, &code.name)).collect();
            held.extend(code.distinct.iter().map(|v| v.value.clone()));
            if codes.iter().filter(|c| held.contains(**c)).count() * 2 < codes.len() {
                continue;
            }
            let labelled = e.fields.iter().filter(|f| f.name != code.name).find_map(|label| {
                let mut labels = BTreeMap::new();
                for s in &e.samples {
                    let (Some(k), Some(v)) = (text(s, &code.name), text(s, &label.name)) else {
                        continue;
                    };
                    if v.chars().all(|ch| ch.is_ascii_digit())
                        || labels.insert(k, v.clone()).is_some_and(|old| old != v)
                    {
                        return None;
                    }
                }
                let covered = codes.iter().filter(|c| labels.contains_key(**c)).count();
                (covered * 2 >= codes.len() && covered > 0).then_some((label, labels, covered))
            });
            if let Some((label, labels, covered)) = labelled {
                let named = [e.name.as_str(), code.name.as_str(), label.name.as_str()]
                    .iter()
                    .any(|n| speaks_of(n, t, column));
                let extra = held.iter().filter(|h| !codes.contains(h.as_str())).count();
                found.push(((covered, named, std::cmp::Reverse(extra)), e, label, labels));
            }
        }
    }
    // The first of equals, as the profile lists them.
    found
        .into_iter()
        .rev()
        .max_by_key(|(rank, ..)| *rank)
        .map(|(_, e, label, labels)| (format!("{} ({})", e.name, label.name), labels))
}

/// Whether the name of a code table (or of one of its columns) speaks of the field `t` or of
/// the code column `column`: holds the column's name, one of the field's Chinese names or their
/// pinyin initials, or one of its English names.
fn speaks_of(name: &str, t: &Target, column: &str) -> bool {
    let name = norm(name);
    let initials = t.names.iter().map(|zh| initials(zh).to_lowercase());
    std::iter::once(norm(column))
        .chain(t.names.iter().map(|zh| norm(zh)))
        .chain(initials)
        .chain(t.english.iter().map(|en| norm(en)))
        .any(|word| word.chars().count() >= 2 && name.contains(&word))
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A code table's entries for `codes` in `set`, with the note an engineer reads: each code kept
/// when canonical, else read through `vocabulary` (by its label from the profile's code table
/// where it has one), else by `guess`; unknown codes are left empty and listed.
fn fill_table(
    set: CodeSet,
    codes: &BTreeSet<&str>,
    labels: Option<&(String, BTreeMap<String, String>)>,
    guess: &dyn Fn(&str) -> Option<&'static str>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut unknown = Vec::new();
    let entries = codes
        .iter()
        .map(|code| {
            let label = labels.and_then(|(_, l)| l.get(*code)).map(String::as_str);
            let value = if set.accepts(code) {
                Some((*code).to_owned())
            } else {
                vocabulary::canonical(set, label.unwrap_or(code))
                    .or_else(|| guess(code))
                    .map(str::to_owned)
            };
            if value.is_none() {
                unknown.push(match label {
                    Some(label) => format!("{code} ({label})"),
                    None => (*code).to_owned(),
                });
            }
            ((*code).to_owned(), value.unwrap_or_default())
        })
        .collect();
    (entries, unknown)
}

/// The note over a drafted code table.
fn table_note(
    path: &str,
    set: CodeSet,
    labels: Option<&(String, BTreeMap<String, String>)>,
    unknown: &[String],
) -> String {
    let mut note = format!("codes of {path}, read as canonical {} values", set.name());
    if let Some((table, _)) = labels {
        note.push_str(&format!(" through their labels in {table}"));
    }
    if unknown.is_empty() {
        note.push_str("; review");
    } else {
        note.push_str(&format!("; fill in the unknown: {}", unknown.join(", ")));
    }
    note
}

/// Adds `part` to an inline-table rule (`{ from = "x" }` → `{ from = "x", part }`).
fn with_part(rule: &str, part: &str) -> String {
    format!("{}, {part} }}", rule.trim_end().trim_end_matches('}').trim_end())
}

/// Proposes a mapping for records of `shape` from the profile; `orgs` is the organisations
/// registry an agency's credit code or name may be looked up in.
pub fn propose(profile: &Profile, shape: Shape, orgs: &Directory) -> Option<Proposal> {
    let entity = case_entity(profile)?;
    let candidates: Vec<Candidate<'_>> = entity
        .fields
        .iter()
        // A field only ever seen null (the parent of fields that are sometimes absent) has no value to map.
        .filter(|f| f.data_type != "null")
        .map(|f| {
            let segments: Vec<&str> = f
                .name
                .split(['/', '.'])
                .filter(|s| !s.is_empty() && *s != "#text")
                .map(|s| s.trim_start_matches('@'))
                .collect();
            Candidate {
                path: rule_path(shape, &f.name),
                profiled: &f.name,
                name: segments.last().copied().unwrap_or(&f.name),
                nested: norm(&segments[segments.len().saturating_sub(2)..].concat()),
                nullable: f.nullable,
                values: sample_values(shape, &f.name, &entity.samples),
                distinct: &f.distinct,
            }
        })
        .collect();
    let shapes: Vec<Shapes> = candidates.iter().map(Candidate::shapes).collect();

    // Name matches first, unless the values say otherwise; then shape matches, on fields no
    // name claimed.
    let mut chosen: Vec<Option<(usize, f64, String)>> = vec![None; TARGETS.len()];
    for (ti, t) in TARGETS.iter().enumerate() {
        let best = candidates
            .iter()
            .enumerate()
            .filter(|(ci, c)| !contradicted(t, c, &shapes[*ci]))
            .filter_map(|(ci, c)| {
                let (score, why) = name_score(t, c)?;
                let agrees = shape_score(t, c, &shapes[ci]);
                Some(match agrees {
                    Some((_, shape_why)) => (ci, (score + 0.04).min(0.99), format!("{why}; {shape_why}")),
                    None => (ci, score, why),
                })
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        chosen[ti] = best;
    }
    let claimed: BTreeSet<usize> = chosen.iter().flatten().map(|(ci, _, _)| *ci).collect();
    for (ti, t) in TARGETS.iter().enumerate() {
        if chosen[ti].is_some() {
            continue;
        }
        chosen[ti] = candidates
            .iter()
            .enumerate()
            .filter(|(ci, _)| !claimed.contains(ci))
            .filter_map(|(ci, c)| shape_score(t, c, &shapes[ci]).map(|(s, why)| (ci, s, why)))
            .filter(|(_, s, _)| *s >= 0.5)
            .max_by(|a, b| a.1.total_cmp(&b.1));
    }

    let source = |t: &str| -> Option<&Candidate<'_>> {
        let ti = TARGETS.iter().position(|x| x.path == t)?;
        chosen[ti].as_ref().map(|(ci, _, _)| &candidates[*ci])
    };
    // A block whose time can be absent applies only when it is there: no acceptance block
    // before the case is accepted, no result before it is finished.
    let when = |t: &Target| -> Option<String> {
        let time = match t.group {
            Group::Acceptance => "acceptance.accepted_at",
            Group::Result => "result.finished_at",
            _ => return None,
        };
        (t.path != time)
            .then(|| source(time))
            .flatten()
            .filter(|c| c.nullable)
            .map(|c| format!("when = {{ path = {} }}", quoted(&c.path)))
    };
    let mut rules = Vec::new();
    let mut tables = Vec::new();
    let mut unmatched = Vec::new();
    for (ti, t) in TARGETS.iter().enumerate() {
        match &chosen[ti] {
            Some((ci, confidence, evidence)) => {
                let c = &candidates[*ci];
                let mut parts = vec![format!("from = {}", quoted(&c.path))];
                let mut evidence = evidence.clone();
                if let Kind::Code(set) = t.kind {
                    let codes = c.codes();
                    if !codes.is_empty() && !codes.iter().all(|v| set.accepts(v)) {
                        let name = t.path.replace('.', "_");
                        parts.push(format!("table = {}", quoted(&name)));
                        let labels = code_labels(profile, shape, entity, (t, c.name), &codes);
                        let numbers = source("applicant.certificate_no")
                            .filter(|_| t.path == "applicant.certificate_type");
                        let guess = |code: &str| {
                            numbers.and_then(|n| {
                                certificate_type_of(code, shape, c.profiled, n.profiled, &entity.samples)
                            })
                        };
                        let (entries, unknown) = fill_table(set, &codes, labels.as_ref(), &guess);
                        let mut note = table_note(&c.path, set, labels.as_ref(), &unknown);
                        if numbers.is_some() {
                            note.push_str(
                                " (certificate types also judged from the numbers that come with each code)",
                            );
                        }
                        evidence.push_str(&match unknown.len() {
                            0 => format!("; its {} codes are translated by a table", codes.len()),
                            n => format!("; its codes need a table, {n} of {} unknown", codes.len()),
                        });
                        tables.push(DraftTable { name, entries, note });
                    }
                }
                if t.kind == Kind::Timestamp {
                    match c.epoch() {
                        Some(format) => {
                            parts.push(format!("format = {}", quoted(format)));
                            evidence.push_str(&format!("; written as {format}"));
                        }
                        None if c.values.iter().any(|v| validate::parse_timestamp(v).is_err()) => {
                            evidence.push_str("; some samples are in no recognised form: add a format");
                        }
                        None => {}
                    }
                }
                if let Some(when) = when(t) {
                    parts.push(when);
                    evidence.push_str("; only when the block's time is present");
                }
                rules.push(Proposed {
                    field: t.path,
                    rule: format!("{{ {} }}", parts.join(", ")),
                    evidence,
                    confidence: *confidence,
                    source: Some(c.path.to_owned()),
                });
            }
            None => match fallback(t, &source, profile, shape, entity)
                .or_else(|| registry_lookup(t, &candidates, &source, orgs).map(|p| (p, None)))
            {
                Some((mut p, table)) => {
                    if let (Some(when), Some(_)) = (when(t), &p.source) {
                        p.rule = with_part(&p.rule, &when);
                    }
                    rules.push(p);
                    tables.extend(table);
                }
                None if t.required => unmatched.push(t.path),
                None => {}
            },
        }
    }
    let key = source("case_no").map(|c| c.path.to_owned());
    Some(Proposal {
        entity: entity.name.clone(),
        shape,
        key,
        rules,
        tables,
        unmatched,
    })
}

/// Rules derived from other matches when a field has no source of its own, with the code
/// table they need.
fn fallback<'a>(
    t: &Target,
    source: &dyn Fn(&str) -> Option<&'a Candidate<'a>>,
    profile: &Profile,
    shape: Shape,
    entity: &Entity,
) -> Option<(Proposed, Option<DraftTable>)> {
    let derived = |rule: String, evidence: &str, confidence: f64, from: Option<&str>| Proposed {
        field: t.path,
        rule,
        evidence: evidence.to_owned(),
        confidence,
        source: from.map(str::to_owned),
    };
    // `format = …` for a source written in epoch time.
    let epoch = |c: &Candidate<'_>| {
        c.epoch()
            .map(|f| format!(", format = {}", quoted(f)))
            .unwrap_or_default()
    };
    let rule = match t.path {
        "result.code" => {
            let status = source("stage")?;
            let codes = status.codes();
            let labels = code_labels(profile, shape, entity, (target("stage")?, status.name), &codes);
            // A status that is not a terminal stage has no result yet; a terminal one names it.
            let (stages, _) = fill_table(CodeSet::Stage, &codes, labels.as_ref(), &|_| None);
            let mut unknown = Vec::new();
            let mut entries: Vec<(String, String)> = stages
                .into_iter()
                .map(|(code, stage)| {
                    let terminal = crate::case::Stage::parse(&stage).is_none_or(|s| s.is_terminal());
                    let label = labels.as_ref().and_then(|(_, l)| l.get(&code)).unwrap_or(&code);
                    let result = match terminal {
                        true => vocabulary::canonical(CodeSet::ResultCode, label).map(str::to_owned),
                        false => Some(String::new()),
                    };
                    if result.is_none() {
                        unknown.push(code.clone());
                    }
                    (code, result.unwrap_or_default())
                })
                .collect();
            entries.push(("*".to_owned(), String::new()));
            let mut note = format!(
                "result codes of {}: a status that has not ended the case has none",
                status.path
            );
            if !unknown.is_empty() {
                note.push_str(&format!("; fill in the result of: {}", unknown.join(", ")));
            }
            let table = DraftTable {
                name: "result_code".to_owned(),
                entries,
                note,
            };
            let rule = derived(
                format!("{{ from = {}, table = \"result_code\" }}", quoted(&status.path)),
                "no result field: the status says how a finished case ended",
                if unknown.is_empty() { 0.7 } else { 0.5 },
                Some(&status.path),
            );
            return Some((rule, Some(table)));
        }
        "version" => source("updated_at").map(|c| {
            derived(
                format!(
                    "{{ from = {}, convert = \"epoch_millis\"{} }}",
                    quoted(&c.path),
                    epoch(c)
                ),
                "no version field: the update time orders the versions",
                0.6,
                Some(&c.path),
            )
        }),
        "acceptance.promised_finish_at" => match (
            source("acceptance.accepted_at"),
            source("acceptance.time_limit_working_days"),
        ) {
            (Some(at), Some(days)) => Some(derived(
                format!(
                    "{{ from = {}, add_working_days = {}{} }}",
                    quoted(&at.path),
                    quoted(&days.path),
                    epoch(at)
                ),
                "no due-time field: the acceptance time plus the time limit in working days",
                0.6,
                Some(&at.path),
            )),
            _ => None,
        },
        "case_type" => Some(derived(
            "{ const = \"promised\" }".to_owned(),
            "no source field: most items are 承诺件; review",
            0.3,
            None,
        )),
        "channel" => Some(derived(
            "{ const = \"other\" }".to_owned(),
            "no source field: set the system's channel",
            0.3,
            None,
        )),
        "applicant.kind" => return derived_kind(source, profile, shape, entity),
        "applicant.certificate_type" => source("applicant.certificate_no").and_then(|c| {
            let today = chrono::Local::now().date_naive();
            let all = |f: &dyn Fn(&str) -> bool| !c.values.is_empty() && c.values.iter().all(|v| f(v));
            if all(&|v| validate::parse_resident_id(v, today).is_ok()) {
                Some(derived(
                    "{ const = \"resident_id\" }".to_owned(),
                    "every sampled certificate number is a resident ID",
                    0.5,
                    None,
                ))
            } else {
                None
            }
        }),
        _ => None,
    };
    rule.map(|r| (r, None))
}

/// A lookup in the organisations registry for an agency field no source field holds: the
/// credit code (and the division, for a case's region) from the field that names the accepting
/// department, or the name from the column whose values the registry knows best. Proposed even
/// when the registry does not know the values yet, with evidence that says so: unknown agencies
/// are for the engineer to import, never invented.
fn registry_lookup<'a>(
    t: &Target,
    candidates: &'a [Candidate<'a>],
    source: &dyn Fn(&str) -> Option<&'a Candidate<'a>>,
    orgs: &Directory,
) -> Option<Proposed> {
    // The share of records whose value names exactly one agency, and the first values it does not know.
    let known = |c: &Candidate<'_>| -> (f64, Vec<String>) {
        let weighted = c.weighted();
        let total: u64 = weighted.iter().map(|(_, n)| n).sum();
        let hits: u64 = weighted
            .iter()
            .filter(|(v, _)| orgs.find(v).is_ok())
            .map(|(_, n)| n)
            .sum();
        let unknown = weighted
            .iter()
            .filter(|(v, _)| orgs.find(v).is_err())
            .take(3)
            .map(|(v, _)| (*v).to_owned())
            .collect();
        (
            if total == 0 {
                0.0
            } else {
                hits as f64 / total as f64
            },
            unknown,
        )
    };
    // The column the registry knows best, if it knows most of one's values.
    let best_known = || {
        candidates
            .iter()
            .map(|c| (c, known(c).0))
            .filter(|(_, share)| *share >= 0.5)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c)
    };
    let department = || source("acceptance.department").or_else(best_known);
    let (field, from) = match t.path {
        "acceptance.department_uscc" => ("org.credit_code", department()?),
        "region_code" => ("org.division", department()?),
        "acceptance.department" => ("org.name", best_known()?),
        _ => return None,
    };
    let (share, unknown) = known(from);
    let evidence = if orgs.is_empty() {
        format!(
            "no source field of its own: {} names the accepting agency, to be looked up in the \
             organisations registry (部门库), which is empty: import the agencies (`ronghe orgs import`) \
             and generate again",
            from.path
        )
    } else {
        let mut evidence = format!(
            "no source field of its own: {} names the accepting agency, and the organisations registry \
             (部门库) knows {:.0}% of its records' values",
            from.path,
            share * 100.0
        );
        if !unknown.is_empty() {
            evidence.push_str(&format!(
                "; unknown to it: {} (import them, or add them as aliases)",
                unknown.join(", ")
            ));
        }
        evidence
    };
    Some(Proposed {
        field: t.path,
        rule: format!("{{ from = {}, lookup = {} }}", quoted(&from.path), quoted(field)),
        evidence,
        confidence: match share {
            s if s >= 0.99 => 0.8,
            s if s >= 0.8 => 0.6,
            _ => 0.3,
        },
        source: Some(from.path.clone()),
    })
}

/// The applicant's kind where no field holds it: read from the certificate type through a
/// table that maps each of its codes to the kind the certificate identifies (a resident ID,
/// passport … a natural person; a credit code a legal person), the certificate types judged as
/// for the certificate type's own table; or, without a certificate type, a natural person
/// when every sampled certificate number is a resident ID.
fn derived_kind<'a>(
    source: &dyn Fn(&str) -> Option<&'a Candidate<'a>>,
    profile: &Profile,
    shape: Shape,
    entity: &Entity,
) -> Option<(Proposed, Option<DraftTable>)> {
    let proposed = |rule: String, evidence: String, confidence: f64, from: Option<&str>| Proposed {
        field: "applicant.kind",
        rule,
        evidence,
        confidence,
        source: from.map(str::to_owned),
    };
    let numbers = source("applicant.certificate_no");
    let Some(types) = source("applicant.certificate_type") else {
        let today = chrono::Local::now().date_naive();
        let values = &numbers?.values;
        let persons = !values.is_empty()
            && values
                .iter()
                .all(|v| validate::parse_resident_id(v, today).is_ok());
        return persons.then(|| {
            let rule = proposed(
                "{ const = \"natural_person\" }".to_owned(),
                "no applicant-kind or certificate-type field: every sampled certificate number is a \
                 resident ID, so natural persons"
                    .to_owned(),
                0.4,
                None,
            );
            (rule, None)
        });
    };
    let codes = types.codes();
    if codes.is_empty() {
        return None;
    }
    let labels = code_labels(
        profile,
        shape,
        entity,
        (target("applicant.certificate_type")?, types.name),
        &codes,
    );
    let guess = |code: &str| {
        numbers.and_then(|n| certificate_type_of(code, shape, types.profiled, n.profiled, &entity.samples))
    };
    let (certificates, _) = fill_table(CodeSet::CertificateType, &codes, labels.as_ref(), &guess);
    let mut unknown = Vec::new();
    let entries: Vec<(String, String)> = certificates
        .into_iter()
        .map(|(code, certificate)| {
            let kind = crate::case::CertificateType::parse(&certificate).and_then(|c| c.applicant_kind());
            if kind.is_none() {
                unknown.push(code.clone());
            }
            (code, kind.map(|k| k.name().to_owned()).unwrap_or_default())
        })
        .collect();
    let mut note = format!(
        "applicant kinds of {}: the kind each certificate type identifies",
        types.path
    );
    if let Some((table, _)) = &labels {
        note.push_str(&format!(
            " (certificate types read through their labels in {table})"
        ));
    }
    match unknown.is_empty() {
        true => note.push_str("; review (an organisation other than a legal person also has a credit code)"),
        false => note.push_str(&format!("; fill in the unknown: {}", unknown.join(", "))),
    }
    let rule = proposed(
        format!("{{ from = {}, table = \"applicant_kind\" }}", quoted(&types.path)),
        format!(
            "no applicant-kind field: derived from the certificate type (resident ID, passport … → \
             natural person; credit code → legal person), {} of {} codes known",
            codes.len() - unknown.len(),
            codes.len()
        ),
        if unknown.is_empty() { 0.6 } else { 0.4 },
        Some(&types.path),
    );
    let table = DraftTable {
        name: "applicant_kind".to_owned(),
        entries,
        note,
    };
    Some((rule, Some(table)))
}

/// The mapping file for a proposal, through the handlebars template; header comments name
/// the system, the probe, and what is left to the engineer.
pub fn render(proposal: &Proposal, system: &str, probed_at: &str) -> Result<String, handlebars::RenderError> {
    let mut engine = handlebars::Handlebars::new();
    engine.set_strict_mode(true);
    engine.register_escape_fn(handlebars::no_escape);
    let rules: Vec<Value> = proposal
        .rules
        .iter()
        .map(|r| {
            // Bare keys for plain names, quoted keys for dotted paths.
            let field_key = if r.field.contains('.') { quoted(r.field) } else { r.field.to_owned() };
            let with_evidence = format!(
                "{}, evidence = {}, confidence = {:.2} }}",
                r.rule.trim_end_matches('}').trim_end(),
                quoted(&r.evidence),
                r.confidence
            );
            serde_json::json!({ "field_key": field_key, "rule_with_evidence": with_evidence, "low": r.confidence < 0.5 })
        })
        .collect();
    let tables: Vec<Value> = proposal
        .tables
        .iter()
        .map(|t| {
            let entries: Vec<(String, String)> =
                t.entries.iter().map(|(k, v)| (quoted(k), quoted(v))).collect();
            serde_json::json!({ "name": t.name, "note": t.note, "entries": entries })
        })
        .collect();
    let context = serde_json::json!({
        "system": system,
        "entity": proposal.entity,
        "probed_at": probed_at,
        "generated_on": chrono::Local::now().date_naive().to_string(),
        "shape": proposal.shape.name(),
        "key": quoted(proposal.key.as_deref().unwrap_or("")),
        "rules": rules,
        "tables": tables,
        "unmatched": proposal.unmatched,
    });
    engine.render_template(include_str!("templates/mapping.toml.hbs"), &context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_mobiles_or_landlines_with_an_area_code() {
        for (value, phone) in [
            ("13812345678", true),
            ("+8613812345678", true),
            ("138 1234 5678", true),
            ("0851-86812345", true),
            ("(0851)86812345", true),
            ("085186812345", true),
            ("010-62345678", true),
            ("0851-86812345-801", true),
            ("12812345678", false),
            ("1381234567", false),
            ("86812345", false),
            ("0851-06812345", false),
            ("520102199001011230", false),
            ("91520102MA6DX1234K", false),
            ("SJ2025000001", false),
            ("520102", false),
        ] {
            assert_eq!(phone_number(value), phone, "{value}");
        }
    }

    #[test]
    fn pinyin_initials_of_data_element_names() {
        for (zh, expected) in [
            ("申请人名称", "SQRMC"),
            ("受理时间", "SLSJ"),
            ("行政区划代码", "XZQHDM"),
            ("办结结果代码", "BJJGDM"),
            ("事项名称", "SXMC"),
        ] {
            assert_eq!(initials(zh), expected, "{zh}");
        }
    }
}
