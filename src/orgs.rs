//! The organisations registry (部门库): the agencies that accept cases, each with its unified
//! social credit code, name, division, parent and the other names legacy systems know it by
//! (aliases and departmental codes). Imports are read from CSV or JSON Lines and checked whole;
//! a `Directory` answers mappings that look an agency up by any of its names or codes. Unknown
//! agencies are reported, never invented.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::validate;

/// One agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// 统一社会信用代码 (GB 32100), the agency's key.
    pub credit_code: String,
    /// 机构名称, unique in the registry.
    pub name: String,
    /// 行政区划代码 (GB/T 2260) of the agency.
    pub division: String,
    /// The credit code of the agency it belongs to, when it has one in the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Other names legacy systems write for it (简称, former names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Departmental codes legacy systems use for it (部门代码).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// Made-up data (the demo's): never to be taken for a real agency.
    #[serde(default)]
    pub synthetic: bool,
}

/// A problem in an import: the line (1 = the first data line of a CSV after its header, or the
/// first line of JSON Lines; 0 for the file as a whole), the field and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrgProblem {
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for OrgProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.field, self.message)
        } else {
            write!(f, "line {}, {}: {}", self.line, self.field, self.message)
        }
    }
}

fn problem(line: usize, field: &str, message: impl Into<String>) -> OrgProblem {
    OrgProblem {
        line,
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The longest name, alias or code the registry keeps.
const MAX_TEXT: usize = 200;

/// The CSV columns, each with the Chinese header it may also be given under.
const COLUMNS: [(&str, &str); 7] = [
    ("credit_code", "统一社会信用代码"),
    ("name", "机构名称"),
    ("division", "行政区划"),
    ("parent", "上级机构"),
    ("aliases", "别名"),
    ("codes", "部门代码"),
    ("synthetic", "示例数据"),
];

/// Reads a CSV export (a header row naming the columns in English or Chinese; aliases and codes
/// separated by `|`), every problem at once.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Organisation)>, ImportRefused> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader
        .headers()
        .map_err(|e| {
            ImportRefused(vec![problem(
                0,
                "header",
                format!("cannot read the header row: {e}"),
            )])
        })?
        .clone();
    let mut at = HashMap::new();
    let mut problems = Vec::new();
    for (index, name) in header.iter().enumerate() {
        match COLUMNS.iter().find(|(en, zh)| name == *en || name == *zh) {
            Some((en, _)) => {
                at.insert(*en, index);
            }
            None => problems.push(problem(
                0,
                "header",
                format!(
                    "unknown column {name:?}; the columns are {}",
                    COLUMNS.map(|(en, zh)| format!("{en} ({zh})")).join(", ")
                ),
            )),
        }
    }
    for (en, zh) in &COLUMNS[..3] {
        if !at.contains_key(en) {
            problems.push(problem(
                0,
                "header",
                format!("the required column {en} ({zh}) is missing"),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ImportRefused(problems));
    }
    let mut orgs = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 1;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(problem(line, "row", format!("cannot read the row: {e}")));
                continue;
            }
        };
        let cell = |column: &str| at.get(column).and_then(|i| record.get(*i)).unwrap_or("");
        let list = |column: &str| {
            cell(column)
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let synthetic = match cell("synthetic") {
            "" | "false" | "否" | "0" => false,
            "true" | "是" | "1" => true,
            other => {
                problems.push(problem(
                    line,
                    "synthetic",
                    format!("{other:?} is not true/false (是/否)"),
                ));
                false
            }
        };
        orgs.push((
            line,
            Organisation {
                credit_code: cell("credit_code").to_owned(),
                name: cell("name").to_owned(),
                division: cell("division").to_owned(),
                parent: Some(cell("parent").to_owned()).filter(|p| !p.is_empty()),
                aliases: list("aliases"),
                codes: list("codes"),
                synthetic,
            },
        ));
    }
    refused_unless_empty(problems).map(|()| orgs)
}

/// Reads JSON Lines, one `Organisation` object per line (blank lines skipped), every problem at once.
pub fn parse_jsonl(text: &str) -> Result<Vec<(usize, Organisation)>, ImportRefused> {
    let mut orgs = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Organisation>(line) {
            Ok(org) => orgs.push((index + 1, org)),
            Err(e) => problems.push(problem(index + 1, "json", e.to_string())),
        }
    }
    refused_unless_empty(problems).map(|()| orgs)
}

/// The agencies of an import, normalised (codes upper case, names trimmed, lists without
/// repeats), or every problem: each field's own rules, a credit code or name given twice, a
/// name taken by another agency of the registry, a parent that is neither in the registry nor
/// in the import, an agency that would be its own ancestor. Each agency comes with its line; the
/// agency. Nothing is checked against the registry's other agencies' aliases: one alias
/// may name several agencies, and a lookup of it is then refused as ambiguous.
pub fn check(
    import: Vec<(usize, Organisation)>,
    registry: &[Organisation],
) -> Result<Vec<Organisation>, ImportRefused> {
    let lines: Vec<usize> = import.iter().map(|(line, _)| *line).collect();
    let line_of = |i: usize| lines[i];
    let mut problems = Vec::new();
    if import.is_empty() {
        problems.push(problem(0, "file", "the file lists no agency"));
    }
    let mut orgs = Vec::with_capacity(import.len());
    for (line, org) in import {
        let mut p = |field: &str, message: String| problems.push(problem(line, field, message));
        let credit_code = match validate::parse_uscc(&org.credit_code) {
            Ok(uscc) => uscc.code,
            Err(v) => {
                p(
                    "credit_code",
                    format!("{:?}: {} [{}]", org.credit_code, v.message, v.rule),
                );
                org.credit_code.clone()
            }
        };
        let name = org.name.trim().to_owned();
        if let Some(message) = text_problem(&name) {
            p("name", message);
        }
        let division = org.division.trim().to_owned();
        if let Err(v) = validate::division(&division) {
            p(
                "division",
                format!("{:?}: {} [{}]", org.division, v.message, v.rule),
            );
        }
        let parent = match org.parent.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(parent) => match validate::parse_uscc(parent) {
                Ok(uscc) if uscc.code == credit_code => {
                    p("parent", "an agency cannot be its own parent".to_owned());
                    None
                }
                Ok(uscc) => Some(uscc.code),
                Err(v) => {
                    p("parent", format!("{parent:?}: {} [{}]", v.message, v.rule));
                    None
                }
            },
        };
        let mut listed = |field: &str, values: Vec<String>| -> Vec<String> {
            let mut seen = BTreeSet::new();
            values
                .into_iter()
                .map(|v| v.trim().to_owned())
                .filter(|v| {
                    if let Some(message) = text_problem(v) {
                        p(field, format!("{v:?}: {message}"));
                    }
                    seen.insert(key(v))
                })
                .collect()
        };
        let aliases = listed("aliases", org.aliases);
        let codes = listed("codes", org.codes);
        orgs.push(Organisation {
            credit_code,
            name,
            division,
            parent,
            aliases,
            codes,
            synthetic: org.synthetic,
        });
    }
    let mut by_code: HashMap<&str, usize> = HashMap::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, org) in orgs.iter().enumerate() {
        if let Some(first) = by_code.insert(&org.credit_code, i) {
            problems.push(problem(
                line_of(i),
                "credit_code",
                format!("{} is also on line {}", org.credit_code, line_of(first)),
            ));
        }
        if let Some(first) = by_name.insert(key(&org.name), i) {
            problems.push(problem(
                line_of(i),
                "name",
                format!("{:?} is also on line {}", org.name, line_of(first)),
            ));
        }
    }
    for existing in registry {
        if let Some(&i) = by_name.get(&key(&existing.name))
            && orgs[i].credit_code != existing.credit_code
        {
            problems.push(problem(
                line_of(i),
                "name",
                format!(
                    "{:?} is the name of {} in the registry; names are unique",
                    orgs[i].name, existing.credit_code
                ),
            ));
        }
    }
    // Parents: the import's own entries override the registry's.
    let mut parents: HashMap<&str, Option<&str>> = registry
        .iter()
        .map(|o| (o.credit_code.as_str(), o.parent.as_deref()))
        .collect();
    for org in &orgs {
        parents.insert(&org.credit_code, org.parent.as_deref());
    }
    for (i, org) in orgs.iter().enumerate() {
        let Some(parent) = org.parent.as_deref() else {
            continue;
        };
        if !parents.contains_key(parent) {
            problems.push(problem(
                line_of(i),
                "parent",
                format!(
                    "{parent} is neither in the registry nor in this file; import the parent first or with it"
                ),
            ));
            continue;
        }
        let mut seen = BTreeSet::from([org.credit_code.as_str()]);
        let mut next = Some(parent);
        while let Some(at) = next {
            if !seen.insert(at) {
                problems.push(problem(
                    line_of(i),
                    "parent",
                    format!("{} would be its own ancestor through {at}", org.credit_code),
                ));
                break;
            }
            next = parents.get(at).copied().flatten();
        }
    }
    refused_unless_empty(problems).map(|()| orgs)
}

/// Why an import was refused: every problem, each with its line and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRefused(pub Vec<OrgProblem>);

impl std::fmt::Display for ImportRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nothing imported, {} problem(s):", self.0.len())?;
        for p in &self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportRefused {}

fn refused_unless_empty(problems: Vec<OrgProblem>) -> Result<(), ImportRefused> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ImportRefused(problems))
    }
}

/// Why a name, alias or code cannot be kept, if it cannot.
fn text_problem(text: &str) -> Option<String> {
    if text.is_empty() {
        Some("must not be empty".to_owned())
    } else if text.chars().count() > MAX_TEXT {
        Some(format!("longer than {MAX_TEXT} characters"))
    } else if text.chars().any(char::is_control) {
        Some("holds control characters".to_owned())
    } else {
        None
    }
}

/// The form a name or code is compared in: no whitespace, full-width forms (`（` `Ａ`) as
/// ASCII, ASCII letters upper case. `贵阳市 市场监督管理局（知识产权局）` and
/// `贵阳市市场监督管理局(知识产权局)` are one key.
pub fn key(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether `query` is part of the agency's credit code, name, an alias or a code (compared as
/// keys): the registry's search.
pub fn matches(org: &Organisation, query: &str) -> bool {
    let query = key(query);
    [&org.credit_code, &org.name]
        .into_iter()
        .chain(&org.aliases)
        .chain(&org.codes)
        .any(|k| key(k).contains(&query))
}

/// Why a lookup found no single agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No agency is known by the value.
    Unknown,
    /// Several are: their names and credit codes.
    Ambiguous(Vec<(String, String)>),
}

/// The registry as mappings read it: every agency by each of its keys. Built once per revision
/// of the registry (`revision` grows with every import).
#[derive(Debug, Default)]
pub struct Directory {
    revision: i64,
    orgs: Vec<Organisation>,
    index: HashMap<String, Vec<usize>>,
}

impl Directory {
    pub fn new(revision: i64, orgs: Vec<Organisation>) -> Directory {
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, org) in orgs.iter().enumerate() {
            let keys: BTreeSet<String> = [&org.credit_code, &org.name]
                .into_iter()
                .chain(&org.aliases)
                .chain(&org.codes)
                .map(|k| key(k))
                .collect();
            for k in keys {
                index.entry(k).or_default().push(i);
            }
        }
        Directory {
            revision,
            orgs,
            index,
        }
    }

    /// The registry's revision this directory was built from.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    pub fn len(&self) -> usize {
        self.orgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }

    /// The one agency known by `value` (credit code, name, alias or departmental code).
    pub fn find(&self, value: &str) -> Result<&Organisation, Miss> {
        match self.index.get(&key(value)).map(Vec::as_slice) {
            None | Some([]) => Err(Miss::Unknown),
            Some([one]) => Ok(&self.orgs[*one]),
            Some(many) => Err(Miss::Ambiguous(
                many.iter()
                    .map(|&i| (self.orgs[i].name.clone(), self.orgs[i].credit_code.clone()))
                    .collect(),
            )),
        }
    }

    /// How many of `values` name exactly one agency.
    pub fn known(&self, values: &[&str]) -> usize {
        values.iter().filter(|v| self.find(v).is_ok()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(code: &str, name: &str) -> Organisation {
        Organisation {
            credit_code: code.to_owned(),
            name: name.to_owned(),
            division: "520100".to_owned(),
            parent: None,
            aliases: vec![],
            codes: vec![],
            synthetic: false,
        }
    }

    fn valid_code(body: &str) -> String {
        // Finds the check character by trying each: validate is the only authority here.
        "0123456789ABCDEFGHJKLMNPQRTUWXY"
            .chars()
            .map(|c| format!("{body}{c}"))
            .find(|code| validate::parse_uscc(code).is_ok())
            .expect("one check character fits")
    }

    #[test]
    fn csv_with_chinese_headers_reads_lists_and_flags() {
        let text = "\u{feff}统一社会信用代码,机构名称,行政区划,别名,部门代码,示例数据\n\
                    11520100MB1502030H, 贵阳市市场监督管理局 ,520100,贵阳市场监管|贵阳市监局,SJJ01,是\n";
        let orgs: Vec<Organisation> = parse_csv(text)
            .expect("reads")
            .into_iter()
            .map(|(_, o)| o)
            .collect();
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0].name, "贵阳市市场监督管理局");
        assert_eq!(orgs[0].aliases, ["贵阳市场监管", "贵阳市监局"]);
        assert_eq!(orgs[0].codes, ["SJJ01"]);
        assert!(orgs[0].synthetic);
    }

    #[test]
    fn csv_header_problems_come_together() {
        let problems = parse_csv("name,region\nx,y\n").unwrap_err().0;
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.contains("unknown column \"region\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("credit_code (统一社会信用代码) is missing")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("division (行政区划) is missing")),
            "{text:?}"
        );
    }

    #[test]
    fn every_problem_of_an_import_names_its_line_and_field() {
        let city = valid_code("11520100MB1502030");
        let county = valid_code("11520102MB1502041");
        let mut bad_code = org("11520100MB150203", "甲局");
        bad_code.division = "999999".into();
        let mut orphan = org(&county, "乙局");
        orphan.parent = Some(valid_code("11520103MB1502052"));
        let twice = org(&city, "丙局");
        let import = [org(&city, "贵阳市局"), bad_code, orphan, twice];
        let problems = check(
            import.into_iter().enumerate().map(|(i, o)| (i + 1, o)).collect(),
            &[],
        )
        .unwrap_err()
        .0;
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.starts_with("line 2, credit_code:")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.starts_with("line 2, division:")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("line 3, parent:") && t.contains("neither in the registry")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("line 4, credit_code:") && t.contains("also on line 1")),
            "{text:?}"
        );
    }

    #[test]
    fn a_name_taken_in_the_registry_and_a_cycle_are_refused() {
        let a = valid_code("11520100MB1502030");
        let b = valid_code("11520102MB1502041");
        let mut registered = org(&a, "贵阳市局");
        registered.parent = Some(b.clone());
        let mut child = org(&b, "花溪区局");
        child.parent = Some(a.clone());
        let problems = check(vec![(1, child)], &[registered.clone()]).unwrap_err().0;
        assert!(
            problems
                .iter()
                .any(|p| p.field == "parent" && p.message.contains("own ancestor")),
            "{problems:?}"
        );
        let other = valid_code("11520103MB1502052");
        let problems = check(vec![(1, org(&other, "贵阳市 局"))], &[registered])
            .unwrap_err()
            .0;
        assert!(
            problems
                .iter()
                .any(|p| p.field == "name" && p.message.contains("names are unique")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_directory_finds_by_any_key_and_refuses_shared_aliases() {
        let city_code = valid_code("11520100MB1502030");
        let b = valid_code("11520102MB1502041");
        let mut city = org(&city_code, "贵阳市市场监督管理局（知识产权局）");
        city.aliases = vec!["市监局".into()];
        city.codes = vec!["sjj01".into()];
        let mut county = org(&b, "花溪区市场监督管理局");
        county.aliases = vec!["市监局".into()];
        let directory = Directory::new(3, vec![city, county]);
        assert_eq!(
            directory
                .find("贵阳市 市场监督管理局(知识产权局)")
                .map(|o| o.credit_code.as_str()),
            Ok(city_code.as_str())
        );
        assert_eq!(
            directory.find("SJJ01").map(|o| o.credit_code.as_str()),
            Ok(city_code.as_str())
        );
        assert_eq!(
            directory.find(&b.to_lowercase()).map(|o| o.name.as_str()),
            Ok("花溪区市场监督管理局")
        );
        assert_eq!(directory.find("云岩区局"), Err(Miss::Unknown));
        assert!(matches!(directory.find("市监局"), Err(Miss::Ambiguous(both)) if both.len() == 2));
        assert_eq!(directory.known(&["SJJ01", "市监局", "x"]), 1);
        assert_eq!(directory.revision(), 3);
    }
}
