//! A mapping's source paths against the system's probe profile (issue 16): a path the source
//! never showed (a mistyped column, an element of another operation) maps nothing, and
//! `mapping check` says so before any record is refused, with the nearest path the source has.

use std::collections::{BTreeMap, BTreeSet};

use ronghe_adapters::Profile;
use serde::Serialize;

use super::config::MappingConfig;
use super::generate::rule_path;

/// A source path the mapping reads that the profile does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownPath {
    pub path: String,
    /// The rules that read it (canonical fields; `source.key` for the record key).
    pub rules: Vec<String>,
    /// The profiled path nearest to it in spelling, when one is close.
    pub nearest: Option<String>,
}

/// Every source path `config` reads — the key, each rule's `from`, `concat` parts and `when`
/// path — with the rules that read it.
pub(super) fn read_paths(config: &MappingConfig) -> BTreeMap<&str, Vec<String>> {
    let mut paths: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    paths
        .entry(config.source.key.as_str())
        .or_default()
        .push("source.key".to_owned());
    for (field, rule) in &config.fields {
        let from = rule.from.iter().map(String::as_str);
        let parts = rule.concat.iter().flatten().map(String::as_str);
        let when = rule.when.iter().map(|w| w.path.as_str());
        for path in from.chain(parts).chain(when) {
            paths.entry(path).or_default().push(field.clone());
        }
    }
    paths
}

/// The paths the mapping reads that no entity of `profile` shows, each with its nearest known
/// path. A path is known when a profiled field has it, or lies below it (an object or a list).
pub fn unknown_paths(config: &MappingConfig, profile: &Profile) -> Vec<UnknownPath> {
    let known: BTreeSet<String> = profile
        .entities
        .iter()
        .flat_map(|e| &e.fields)
        .map(|f| rule_path(config.source.shape, &f.name))
        .collect();
    read_paths(config)
        .into_iter()
        .filter(|(path, _)| {
            *path != "."
                && !known
                    .iter()
                    .any(|k| k == path || k.starts_with(&format!("{}/", path.trim_end_matches('/'))))
        })
        .map(|(path, rules)| UnknownPath {
            nearest: nearest(path, &known),
            path: path.to_owned(),
            rules,
        })
        .collect()
}

/// The known path most like `path`: the fewest edits (normalised Levenshtein similarity at
/// least 0.6), then the longest common beginning (`/applicant/idNumber` is nearer
/// `/applicant/idNo` than `/applicant/name`, both five edits away).
fn nearest(path: &str, known: &BTreeSet<String>) -> Option<String> {
    let path = path.to_lowercase();
    known
        .iter()
        .map(|k| {
            let lower = k.to_lowercase();
            let common = path
                .chars()
                .zip(lower.chars())
                .take_while(|(a, b)| a == b)
                .count();
            (strsim::normalized_levenshtein(&path, &lower), common, k)
        })
        .filter(|(similarity, _, _)| *similarity >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, _, k)| k.clone())
}

#[cfg(test)]
mod tests {
    use ronghe_adapters::{Entity, Field};

    use super::*;

    fn profile(fields: &[&str]) -> Profile {
        Profile {
            entities: vec![Entity {
                name: "cases".into(),
                kind: "resource".into(),
                fields: fields
                    .iter()
                    .map(|name| Field {
                        name: (*name).to_owned(),
                        data_type: "string".into(),
                        nullable: false,
                        distinct: Vec::new(),
                    })
                    .collect(),
                record_count: Some(10),
                samples: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_mistyped_path_is_named_with_its_rules_and_the_nearest_known_path() {
        let config: MappingConfig = toml::from_str(
            r#"
[source]
shape = "json"
key = "/caseNo"
[fields]
case_no = { from = "/caseNo" }
"applicant.certificate_no" = { from = "/applicant/idNumber" }
"applicant.name" = { concat = ["/applicant/name", "/applicant/nmae2"] }
"acceptance.accepted_at" = { from = "/acceptTime", when = { path = "/acceptTme" } }
steps = { from = "/steps" }
"#,
        )
        .unwrap();
        let got = unknown_paths(
            &config,
            &profile(&[
                "/caseNo",
                "/applicant/idNo",
                "/applicant/name",
                "/acceptTime",
                "/steps/0/name",
            ]),
        );
        let by_path = |p: &str| got.iter().find(|u| u.path == p).cloned();
        assert_eq!(got.len(), 3, "{got:?}");
        let id = by_path("/applicant/idNumber").unwrap();
        assert_eq!(id.rules, ["applicant.certificate_no"]);
        assert_eq!(id.nearest.as_deref(), Some("/applicant/idNo"));
        assert_eq!(
            by_path("/acceptTme").unwrap().nearest.as_deref(),
            Some("/acceptTime")
        );
        assert_eq!(by_path("/applicant/nmae2").unwrap().rules, ["applicant.name"]);
        // The key, a list the profile shows below its path, and exact paths are known.
        assert!(by_path("/caseNo").is_none() && by_path("/steps").is_none());
    }

    #[test]
    fn element_paths_are_compared_as_rules_write_them() {
        let config: MappingConfig = toml::from_str(
            r#"
[source]
shape = "xml"
key = "办件编号"
[fields]
case_no = { from = "办件编号" }
"applicant.name" = { from = "申请人/姓名" }
"#,
        )
        .unwrap();
        let known = profile(&["/办件/办件编号", "/办件/申请人/名称"]);
        let got = unknown_paths(&config, &known);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].path, "申请人/姓名");
        assert_eq!(got[0].nearest.as_deref(), Some("申请人/名称"));
    }
}
