//! Schema drift (issue 21, Art. 15 system checks): a fresh probe profile against the stored one.
//! Fields added, removed, retyped or changed in nullability, and code values never seen before
//! that a mapped code table does not translate, each with the mapping rules it breaks. Only a change to what a rule reads
//! breaks anything: an added field, or a change to a field no rule reads, is reported as
//! non-breaking.

use std::collections::{BTreeMap, BTreeSet};

use ronghe_adapters::{Field, Profile};
use serde::{Deserialize, Serialize};

use super::config::MappingConfig;
use super::generate::rule_path;
use super::profiled::read_paths;

/// What changed about one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The source now has a field it did not have.
    Added { data_type: String },
    /// The source no longer has the field.
    Removed { data_type: String },
    /// The field's type changed.
    Retyped { from: String, to: String },
    /// The field may now be empty (or no longer may).
    Nullability { nullable: bool },
    /// Values the stored profile never counted that a mapped code table does not translate (and
    /// has no `"*"` for).
    NewCodes { table: String, codes: Vec<String> },
}

/// One drift: the entity (table or operation) and field, the change, the rules that read the
/// field, and whether the change breaks them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Drift {
    pub entity: String,
    pub field: String,
    #[serde(flatten)]
    pub change: Change,
    /// The mapping's rules that read the field (canonical fields; `source.key` for the key).
    pub rules: Vec<String>,
    pub breaking: bool,
}

/// The drifts from `stored` to `fresh`; with the system's mapping, the rules each breaks. Entities
/// are matched by name; a field by its name within its entity. Only the records' entity (the
/// first of the stored profile: the table or operation the adapter reads cases from) feeds the
/// mapping: a change elsewhere (a code table, a view, another operation) is reported, and
/// breaks no rule.
pub fn drift(stored: &Profile, fresh: &Profile, mapping: Option<&MappingConfig>) -> Vec<Drift> {
    let paths = mapping.map(|config| (config.source.shape, read_paths(config)));
    let readers = |field: &str| -> Vec<String> {
        let Some((shape, paths)) = &paths else {
            return Vec::new();
        };
        let path = rule_path(*shape, field);
        let mut rules: BTreeSet<String> = BTreeSet::new();
        for (read, by) in paths {
            let read = read.trim_end_matches('/');
            if path == read || path.starts_with(&format!("{read}/")) {
                rules.extend(by.iter().cloned());
            }
        }
        rules.into_iter().collect()
    };
    let fields = |p: &Profile| -> BTreeMap<(String, String), Field> {
        p.entities
            .iter()
            .flat_map(|e| {
                e.fields
                    .iter()
                    .map(|f| ((e.name.clone(), f.name.clone()), f.clone()))
            })
            .collect()
    };
    let (before, after) = (fields(stored), fields(fresh));
    let mut drifts = Vec::new();
    let records = stored.entities.first().map(|e| e.name.as_str());
    let mut push = |(entity, field): &(String, String), change: Change, breaks: bool| {
        let rules = if Some(entity.as_str()) == records {
            readers(field)
        } else {
            Vec::new()
        };
        let breaking = breaks && !rules.is_empty();
        drifts.push(Drift {
            entity: entity.clone(),
            field: field.clone(),
            change,
            rules,
            breaking,
        });
    };
    for (key, old) in &before {
        match after.get(key) {
            None => push(
                key,
                Change::Removed {
                    data_type: old.data_type.clone(),
                },
                true,
            ),
            Some(new) => {
                if new.data_type != old.data_type {
                    push(
                        key,
                        Change::Retyped {
                            from: old.data_type.clone(),
                            to: new.data_type.clone(),
                        },
                        true,
                    );
                }
                if new.nullable != old.nullable {
                    push(
                        key,
                        Change::Nullability {
                            nullable: new.nullable,
                        },
                        new.nullable,
                    );
                }
            }
        }
    }
    for (key, new) in &after {
        if !before.contains_key(key) {
            push(
                key,
                Change::Added {
                    data_type: new.data_type.clone(),
                },
                false,
            );
        }
    }
    if let Some(config) = mapping {
        drifts.extend(new_codes(config, &before, fresh, records, &readers));
    }
    drifts
}

/// For each field a rule translates through a code table: the values the fresh profile counted
/// that the stored one did not (`before`, by entity and field) and the table neither lists nor
/// catches with `"*"`.
fn new_codes(
    config: &MappingConfig,
    before: &BTreeMap<(String, String), Field>,
    fresh: &Profile,
    records: Option<&str>,
    readers: &dyn Fn(&str) -> Vec<String>,
) -> Vec<Drift> {
    let mut drifts = Vec::new();
    for entity in fresh.entities.iter().filter(|e| Some(e.name.as_str()) == records) {
        for field in entity.fields.iter().filter(|f| !f.distinct.is_empty()) {
            let seen: BTreeSet<&str> = before
                .get(&(entity.name.clone(), field.name.clone()))
                .map(|f| f.distinct.iter().map(|v| v.value.trim()).collect())
                .unwrap_or_default();
            let path = rule_path(config.source.shape, &field.name);
            for (target, rule) in &config.fields {
                let (Some(from), Some(table)) = (&rule.from, &rule.table) else {
                    continue;
                };
                let Some(codes) = config.tables.get(table).filter(|_| *from == path) else {
                    continue;
                };
                if codes.contains_key("*") {
                    continue;
                }
                let unknown: Vec<String> = field
                    .distinct
                    .iter()
                    .map(|v| v.value.trim().to_owned())
                    .filter(|v| !v.is_empty() && !codes.contains_key(v) && !seen.contains(v.as_str()))
                    .collect();
                if unknown.is_empty() {
                    continue;
                }
                let mut rules = readers(&field.name);
                if !rules.contains(target) {
                    rules.push(target.clone());
                }
                drifts.push(Drift {
                    entity: entity.name.clone(),
                    field: field.name.clone(),
                    change: Change::NewCodes {
                        table: table.clone(),
                        codes: unknown,
                    },
                    rules,
                    breaking: true,
                });
            }
        }
    }
    drifts
}

#[cfg(test)]
mod tests {
    use ronghe_adapters::{Entity, ValueCount};

    use super::*;

    fn field(name: &str, data_type: &str, nullable: bool, codes: &[&str]) -> Field {
        Field {
            name: name.to_owned(),
            data_type: data_type.to_owned(),
            nullable,
            distinct: codes
                .iter()
                .map(|c| ValueCount {
                    value: (*c).to_owned(),
                    records: 3,
                })
                .collect(),
        }
    }

    fn profile(fields: Vec<Field>) -> Profile {
        Profile {
            entities: vec![Entity {
                name: "SP_BJXX".into(),
                kind: "table".into(),
                fields,
                record_count: Some(10),
                samples: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_change_outside_the_records_entity_breaks_no_rule() {
        let mut stored = profile(vec![field("SXMC", "TEXT", false, &[])]);
        let mut view = stored.entities[0].clone();
        view.name = "V_已办结办件".into();
        stored.entities.push(view);
        let fresh = profile(vec![field("SXMC", "TEXT", false, &[])]);
        let drifts = drift(&stored, &fresh, Some(&config()));
        assert_eq!(drifts.len(), 1, "{drifts:#?}");
        assert_eq!(
            (drifts[0].entity.as_str(), drifts[0].breaking),
            ("V_已办结办件", false)
        );
        assert!(drifts[0].rules.is_empty());
    }

    const MAPPING: &str = r#"
[source]
shape = "row"
key = "SBLSH"
[fields]
case_no = { from = "SBLSH" }
item_name = { from = "SXMC" }
stage = { from = "BLZT", table = "stage" }
review_opinion = { from = "SPYJ", when = { path = "BLZT", equals = ["2"] } }
[tables.stage]
"1" = "application"
"2" = "finished"
"#;

    fn config() -> MappingConfig {
        toml::from_str(MAPPING).unwrap()
    }

    #[test]
    fn each_change_names_the_rules_it_breaks() {
        let stored = profile(vec![
            field("SBLSH", "TEXT", false, &[]),
            field("SXMC", "TEXT", false, &[]),
            // "7" was there before the check and stays unreported: only codes never seen count.
            field("BLZT", "TEXT", false, &["1", "2", "7"]),
            field("BZ", "TEXT", true, &[]),
        ]);
        let fresh = profile(vec![
            field("SBLSH", "INTEGER", false, &[]),
            field("BLZT", "TEXT", true, &["1", "2", "7", "9"]),
            field("BZ", "TEXT", false, &[]),
            field("XZ", "TEXT", true, &[]),
        ]);
        let drifts = drift(&stored, &fresh, Some(&config()));
        let find = |field: &str, kind: &str| {
            drifts
                .iter()
                .find(|d| d.field == field && serde_json::to_value(d).unwrap()["change"] == kind)
                .unwrap_or_else(|| panic!("{field} {kind} in {drifts:#?}"))
        };
        let removed = find("SXMC", "removed");
        assert_eq!(
            (removed.rules.as_slice(), removed.breaking),
            (&["item_name".to_owned()][..], true)
        );
        let retyped = find("SBLSH", "retyped");
        assert_eq!(retyped.rules, ["case_no", "source.key"]);
        assert!(retyped.breaking);
        let nullable = find("BLZT", "nullability");
        assert_eq!(nullable.rules, ["review_opinion", "stage"]);
        assert!(nullable.breaking);
        let codes = find("BLZT", "new_codes");
        assert_eq!(
            codes.change,
            Change::NewCodes {
                table: "stage".into(),
                codes: vec!["9".into()]
            }
        );
        assert!(codes.breaking);
        // Unread fields: reported, never breaking.
        assert!(!find("XZ", "added").breaking);
        assert!(!find("BZ", "nullability").breaking);
        assert_eq!(drifts.len(), 6, "{drifts:#?}");
        // Without a mapping nothing can be broken.
        assert!(
            drift(&stored, &fresh, None)
                .iter()
                .all(|d| !d.breaking && d.rules.is_empty())
        );
        assert!(drift(&stored, &stored, Some(&config())).is_empty());
    }
}
