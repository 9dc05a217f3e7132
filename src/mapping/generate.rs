//! Proposing a mapping from a system's probe profile: each canonical field is matched to a
//! source field by name (the GB/T 39046 Chinese names, common English names, and the pinyin
//! initials legacy schemas use: `SQRMC` ↔ 申请人名称) and by the shape of sampled values (resident
//! IDs, credit codes, division codes, timestamps, phone numbers). Code fields whose samples are
//! not canonical codes get draft code tables. Every proposal carries its evidence and confidence.

use std::collections::BTreeSet;

use pinyin::ToPinyin;
use ronghe_adapters::{Entity, Profile};
use serde::Serialize;
use serde_json::Value;

use super::config::Shape;
use super::schema::{Kind, TARGETS, Target};
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

/// A code table to review: legacy codes seen in the samples.
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
    nullable: bool,
    values: Vec<String>,
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

impl Candidate<'_> {
    fn shapes(&self) -> Shapes {
        let n = self.values.len() as f64;
        if n == 0.0 {
            return Shapes::default();
        }
        let share = |f: &dyn Fn(&str) -> bool| self.values.iter().filter(|v| f(v)).count() as f64 / n;
        let today = chrono::Local::now().date_naive();
        Shapes {
            resident_id: share(&|v| validate::parse_resident_id(v, today).is_ok()),
            uscc: share(&|v| validate::parse_uscc(v).is_ok()),
            certificate: share(&|v| {
                validate::parse_resident_id(v, today).is_ok() || validate::parse_uscc(v).is_ok()
            }),
            division: share(&|v| validate::division(v).is_ok()),
            timestamp: share(&|v| validate::parse_timestamp(v).is_ok()),
            phone: share(&|v| v.len() == 11 && v.starts_with('1') && v.chars().all(|c| c.is_ascii_digit())),
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

/// How well `c`'s sampled values fit `t`, with the reason.
fn shape_score(t: &Target, c: &Candidate<'_>, s: &Shapes) -> Option<(f64, String)> {
    let n = c.values.len();
    let pct = |x: f64| format!("{:.0}% of {n} sampled values", x * 100.0);
    match t.path {
        "applicant.certificate_no" if s.certificate >= 0.8 => Some((
            0.75,
            format!("{} are resident IDs or credit codes", pct(s.certificate)),
        )),
        "acceptance.department_uscc" if s.uscc >= 0.8 && s.resident_id == 0.0 => {
            Some((0.6, format!("{} are credit codes", pct(s.uscc))))
        }
        "region_code" if s.division >= 0.8 => Some((0.7, format!("{} are division codes", pct(s.division)))),
        "applicant.phone" if s.phone >= 0.8 => Some((0.75, format!("{} are mobile numbers", pct(s.phone)))),
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
fn rule_path(shape: Shape, field: &str) -> String {
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
/// with it in the samples: all resident IDs, or all credit codes.
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
    if numbers.is_empty() {
        None
    } else if numbers
        .iter()
        .all(|n| validate::parse_resident_id(n, today).is_ok())
    {
        Some("resident_id")
    } else if numbers.iter().all(|n| validate::parse_uscc(n).is_ok()) {
        Some("unified_social_credit_code")
    } else {
        None
    }
}

/// The entity that holds the case records: the one with the most samples.
fn case_entity(profile: &Profile) -> Option<&Entity> {
    profile
        .entities
        .iter()
        .filter(|e| !e.samples.is_empty())
        .max_by_key(|e| e.samples.len())
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Proposes a mapping for records of `shape` from the profile.
pub fn propose(profile: &Profile, shape: Shape) -> Option<Proposal> {
    let entity = case_entity(profile)?;
    let candidates: Vec<Candidate<'_>> = entity
        .fields
        .iter()
        .map(|f| Candidate {
            path: rule_path(shape, &f.name),
            profiled: &f.name,
            name: f
                .name
                .rsplit(['/', '.'])
                .find(|s| *s != "#text")
                .unwrap_or(&f.name)
                .trim_start_matches('@'),
            nullable: f.nullable,
            values: sample_values(shape, &f.name, &entity.samples),
        })
        .collect();
    let shapes: Vec<Shapes> = candidates.iter().map(Candidate::shapes).collect();

    // Name matches first; then shape matches, on fields no name claimed.
    let mut chosen: Vec<Option<(usize, f64, String)>> = vec![None; TARGETS.len()];
    for (ti, t) in TARGETS.iter().enumerate() {
        let best = candidates
            .iter()
            .enumerate()
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
    let accepted_at = source("acceptance.accepted_at")
        .filter(|c| c.nullable)
        .map(|c| c.path.to_owned());
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
                    let distinct: BTreeSet<&str> = c.values.iter().map(String::as_str).collect();
                    if !distinct.is_empty() && !distinct.iter().all(|v| set.accepts(v)) {
                        let name = t.path.replace('.', "_");
                        parts.push(format!("table = {}", quoted(&name)));
                        let numbers = source("applicant.certificate_no")
                            .filter(|_| t.path == "applicant.certificate_type");
                        let guess = |code: &str| -> String {
                            if set.accepts(code) {
                                return code.to_owned();
                            }
                            numbers
                                .and_then(|n| {
                                    certificate_type_of(code, shape, c.profiled, n.profiled, &entity.samples)
                                })
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let mut note = format!(
                            "codes sampled from {}; fill in the canonical {} value of each",
                            c.path,
                            set.name()
                        );
                        if numbers.is_some() {
                            note.push_str(
                                " (certificate types judged from the numbers that come with each code)",
                            );
                        }
                        tables.push(DraftTable {
                            name,
                            entries: distinct.iter().map(|v| ((*v).to_owned(), guess(v))).collect(),
                            note,
                        });
                        evidence.push_str("; its codes need a table");
                    }
                }
                if t.kind == Kind::Timestamp && c.values.iter().any(|v| validate::parse_timestamp(v).is_err())
                {
                    evidence.push_str("; some samples are in no recognised form: add a format");
                }
                if let ("acceptance.department" | "acceptance.department_uscc", Some(when)) =
                    (t.path, &accepted_at)
                {
                    parts.push(format!("when = {{ path = {} }}", quoted(when)));
                }
                rules.push(Proposed {
                    field: t.path,
                    rule: format!("{{ {} }}", parts.join(", ")),
                    evidence,
                    confidence: *confidence,
                    source: Some(c.path.to_owned()),
                });
            }
            None => match fallback(t, &source) {
                Some((p, table)) => {
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
) -> Option<(Proposed, Option<DraftTable>)> {
    let derived = |rule: String, evidence: &str, confidence: f64, from: Option<&str>| Proposed {
        field: t.path,
        rule,
        evidence: evidence.to_owned(),
        confidence,
        source: from.map(str::to_owned),
    };
    let rule = match t.path {
        "result.code" => {
            let status = source("stage")?;
            let mut entries: Vec<(String, String)> = status
                .values
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|v| (v.clone(), String::new()))
                .collect();
            entries.push(("*".to_owned(), String::new()));
            let table = DraftTable {
                name: "result_code".to_owned(),
                entries,
                note: format!(
                    "result codes of {}: fill in the result of each finished status, leave the others empty",
                    status.path
                ),
            };
            let rule = derived(
                format!("{{ from = {}, table = \"result_code\" }}", quoted(&status.path)),
                "no result field: the status says how a finished case ended",
                0.5,
                Some(&status.path),
            );
            return Some((rule, Some(table)));
        }
        "version" => source("updated_at").map(|c| {
            derived(
                format!("{{ from = {}, convert = \"epoch_millis\" }}", quoted(&c.path)),
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
                    "{{ from = {}, add_working_days = {} }}",
                    quoted(&at.path),
                    quoted(&days.path)
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
