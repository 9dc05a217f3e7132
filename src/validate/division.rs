//! Administrative division codes (GB/T 2260 six-digit codes, plus nine-digit township codes for
//! Guizhou), looked up in the list embedded from `data/divisions.tsv`.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

use super::Violation;

/// The embedded list: National Bureau of Statistics codes, cut-off 2023-06-30 (see its header).
const DIVISIONS_TSV: &str = include_str!("../../data/divisions.tsv");
const HEADER: &str = "code\tname\tparent\tlevel";

/// How far down the administrative hierarchy a division sits.
///
/// The embedded file calls the second level `prefecture` (地级); it is exposed as
/// [`City`](Self::City).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DivisionLevel {
    /// 省级: provinces, autonomous regions and municipalities.
    Province,
    /// 地级: prefecture-level cities, prefectures, leagues and the municipalities' 市辖区/县 groupings.
    City,
    /// 县级: districts, counties and county-level cities.
    County,
    /// 乡级: townships, towns and subdistricts (nine-digit codes; Guizhou only in this list).
    Township,
}

impl DivisionLevel {
    fn from_tsv(value: &str) -> Option<Self> {
        match value {
            "province" => Some(Self::Province),
            "prefecture" => Some(Self::City),
            "county" => Some(Self::County),
            "township" => Some(Self::Township),
            _ => None,
        }
    }

    fn code_length(self) -> usize {
        match self {
            Self::Township => 9,
            Self::Province | Self::City | Self::County => 6,
        }
    }
}

/// One administrative division from the embedded list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Division {
    pub code: &'static str,
    pub name: &'static str,
    /// The code of the division one level up; `None` for provinces.
    pub parent: Option<&'static str>,
    pub level: DivisionLevel,
}

static DIVISIONS: LazyLock<HashMap<&'static str, Division>> = LazyLock::new(|| load(DIVISIONS_TSV));

/// Parses the embedded list. The file ships inside the binary, so a malformed row is a
/// programming error: this panics with the line number (a unit test loads every row).
fn load(text: &'static str) -> HashMap<&'static str, Division> {
    let mut rows = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.starts_with('#') && !line.trim().is_empty());
    let Some((_, header)) = rows.next() else {
        panic!("divisions.tsv: no header row");
    };
    assert_eq!(header, HEADER, "divisions.tsv: unexpected header row");

    let mut divisions = HashMap::new();
    let mut self_parented = Vec::new();
    for (line, row) in rows {
        let fields: Vec<&'static str> = row.split('\t').collect();
        let [code, name, parent, level] = fields[..] else {
            panic!("divisions.tsv line {line}: expected 4 tab-separated columns");
        };
        let level = DivisionLevel::from_tsv(level)
            .unwrap_or_else(|| panic!("divisions.tsv line {line}: unknown level {level:?}"));
        assert!(
            is_code(code) && code.len() == level.code_length(),
            "divisions.tsv line {line}: code {code:?} does not fit level {level:?}"
        );
        assert!(!name.is_empty(), "divisions.tsv line {line}: empty name");
        // china-division repeats prefecture-level cities that have no counties (东莞, 中山, 儋州)
        // as a county whose parent is itself. The prefecture row already stands for them.
        if parent == code && level == DivisionLevel::County {
            self_parented.push((line, code));
            continue;
        }
        let parent = (!parent.is_empty()).then_some(parent);
        assert_eq!(
            parent.is_none(),
            level == DivisionLevel::Province,
            "divisions.tsv line {line}: only provinces have no parent"
        );
        let division = Division {
            code,
            name,
            parent,
            level,
        };
        assert!(
            divisions.insert(code, division).is_none(),
            "divisions.tsv line {line}: duplicate code {code}"
        );
    }
    for (line, code) in self_parented {
        assert!(
            divisions.contains_key(code),
            "divisions.tsv line {line}: {code} is its own parent and not listed elsewhere"
        );
    }
    for division in divisions.values() {
        if let Some(parent) = division.parent {
            let parent = divisions.get(parent).unwrap_or_else(|| {
                panic!(
                    "divisions.tsv: parent {parent} of {} is not listed",
                    division.code
                )
            });
            // Strictly increasing levels also rule out cycles in `division_path`.
            assert!(
                parent.level < division.level,
                "divisions.tsv: parent {} of {} is not a higher level",
                parent.code,
                division.code
            );
        }
    }
    divisions
}

fn is_code(code: &str) -> bool {
    matches!(code.len(), 6 | 9) && code.bytes().all(|byte| byte.is_ascii_digit())
}

/// Looks up an exact six- or nine-digit code (no trimming, no format checks).
pub fn find_division(code: &str) -> Option<&'static Division> {
    DIVISIONS.get(code)
}

/// Checks that `code` (surrounding whitespace ignored) is a well-formed division code in the list.
///
/// # Errors
///
/// A [`Violation`] with rule `division.format` (not 6 or 9 digits) or `division.unknown`.
pub fn division(code: &str) -> Result<&'static Division, Violation> {
    let code = code.trim();
    if !is_code(code) {
        return Err(Violation::new(
            "division.format",
            format!(
                "division code must be 6 digits (or 9 digits for a township), got {}",
                shown(code)
            ),
        ));
    }
    find_division(code).ok_or_else(|| unknown(code))
}

fn unknown(code: &str) -> Violation {
    let message = if !province_known(&code[..2]) {
        format!(
            "division code {code} is unknown: no province has the prefix {}",
            &code[..2]
        )
    } else if code.len() == 9 {
        match find_division(&code[..6]) {
            Some(county) if county.code.starts_with("52") => format!(
                "township code {code} is not listed under {} {}",
                county.code, county.name
            ),
            Some(county) => format!(
                "township code {code} is unknown: township codes are listed for Guizhou only, use the county code {}",
                county.code
            ),
            None => format!(
                "township code {code} is unknown: county {} is not listed",
                &code[..6]
            ),
        }
    } else {
        format!("division code {code} is not in the national list (cut-off 2023-06-30)")
    };
    Violation::new("division.unknown", message)
}

/// Quotes a malformed value for a message, cut short so a stray payload cannot flood it.
fn shown(value: &str) -> String {
    const LIMIT: usize = 24;
    if value.chars().count() > LIMIT {
        let head: String = value.chars().take(LIMIT).collect();
        format!("{head:?}…")
    } else {
        format!("{value:?}")
    }
}

/// The chain from the province down to `code` itself; empty if `code` is not listed.
pub fn division_path(code: &str) -> Vec<&'static Division> {
    let mut path = Vec::new();
    let mut next = find_division(code);
    while let Some(current) = next {
        path.push(current);
        next = current.parent.and_then(find_division);
    }
    path.reverse();
    path
}

/// Whether `two_digits` is the prefix of a listed province (`52` for 贵州省).
pub(crate) fn province_known(two_digits: &str) -> bool {
    two_digits.len() == 2
        && two_digits.bytes().all(|byte| byte.is_ascii_digit())
        && find_division(&format!("{two_digits}0000"))
            .is_some_and(|found| found.level == DivisionLevel::Province)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name and level a code must resolve to, or the rule it must break.
    type Expected = Result<(&'static str, DivisionLevel), &'static str>;

    fn check(code: &str, expected: Expected) {
        let actual = division(code).map(|found| (found.name, found.level));
        match (&actual, expected) {
            (Ok(found), Ok(want)) => assert_eq!(*found, want, "{code:?}"),
            (Err(violation), Err(rule)) => {
                assert_eq!(violation.rule, rule, "{code:?}: {violation}");
                assert!(!violation.message.ends_with('.'), "{violation}");
            }
            _ => panic!("{code:?}: expected {expected:?}, got {actual:?}"),
        }
    }

    #[test]
    fn division_rules() {
        use DivisionLevel::*;
        let cases: &[(&str, Expected)] = &[
            ("520000", Ok(("贵州省", Province))),
            ("110000", Ok(("北京市", Province))),
            ("520100", Ok(("贵阳市", City))),
            ("110100", Ok(("市辖区", City))),
            ("520102", Ok(("南明区", County))),
            ("110101", Ok(("东城区", County))),
            ("441900", Ok(("东莞市", City))),
            ("460400", Ok(("儋州市", City))),
            ("520102016", Ok(("新华路街道", Township))),
            (" 520102 ", Ok(("南明区", County))),
            ("", Err("division.format")),
            ("52010", Err("division.format")),
            ("5201020", Err("division.format")),
            ("52010201", Err("division.format")),
            ("5201020160", Err("division.format")),
            ("520102016000", Err("division.format")),
            ("52010a", Err("division.format")),
            ("５２０１０２", Err("division.format")),
            ("520199", Err("division.unknown")),
            ("990000", Err("division.unknown")),
            ("710000", Err("division.unknown")),
            ("110104", Err("division.unknown")),
            ("520102999", Err("division.unknown")),
            ("110101001", Err("division.unknown")),
            ("520199001", Err("division.unknown")),
        ];
        for (code, expected) in cases {
            check(code, *expected);
        }
    }

    #[test]
    fn unknown_messages_point_at_the_fix() {
        let message = |code| division(code).unwrap_err().message;
        assert_eq!(
            message("990101"),
            "division code 990101 is unknown: no province has the prefix 99"
        );
        assert_eq!(
            message("110101001"),
            "township code 110101001 is unknown: township codes are listed for Guizhou only, use the county code 110101"
        );
        assert_eq!(
            message("520102999"),
            "township code 520102999 is not listed under 520102 南明区"
        );
        assert!(message("52010").contains("\"52010\""));
        assert!(message(&"9".repeat(100)).ends_with('…'));
    }

    #[test]
    fn every_row_of_the_embedded_file_loads() {
        let rows: Vec<Vec<&str>> = DIVISIONS_TSV
            .lines()
            .filter(|line| !line.starts_with('#'))
            .skip(1)
            .map(|line| line.split('\t').collect())
            .collect();
        let self_parented = rows.iter().filter(|row| row[0] == row[2]).count();
        assert_eq!(self_parented, 3);
        assert_eq!(DIVISIONS.len(), rows.len() - self_parented);
        for row in &rows {
            let found = find_division(row[0]).unwrap();
            assert_eq!(found.name, row[1]);
        }
        let count = |level| DIVISIONS.values().filter(|found| found.level == level).count();
        assert_eq!(count(DivisionLevel::Province), 31);
        assert_eq!(count(DivisionLevel::City), 342);
        assert_eq!(count(DivisionLevel::County), 2975);
        assert_eq!(count(DivisionLevel::Township), 1510);
    }

    #[test]
    fn the_data_file_states_its_source() {
        assert!(DIVISIONS_TSV.starts_with("# Copied into ronghe"));
        assert!(DIVISIONS_TSV.contains("# Source: National Bureau of Statistics"));
    }

    #[test]
    fn paths_run_from_the_province_down() {
        let path = |code| -> Vec<&str> { division_path(code).iter().map(|found| found.code).collect() };
        assert_eq!(path("520102016"), ["520000", "520100", "520102", "520102016"]);
        assert_eq!(path("110101"), ["110000", "110100", "110101"]);
        assert_eq!(path("441900"), ["440000", "441900"]);
        assert_eq!(path("520000"), ["520000"]);
        assert!(path("520199").is_empty());
        assert!(path("").is_empty());
        assert!(path(" 520102").is_empty());
    }

    #[test]
    fn find_division_is_an_exact_lookup() {
        assert_eq!(find_division("520102").map(|found| found.name), Some("南明区"));
        assert_eq!(
            find_division("520102").and_then(|found| found.parent),
            Some("520100")
        );
        assert!(find_division("520102 ").is_none());
        assert!(find_division("5201").is_none());
    }

    #[test]
    fn province_prefixes() {
        for (prefix, known) in [
            ("52", true),
            ("11", true),
            ("65", true),
            ("71", false),
            ("81", false),
            ("99", false),
            ("00", false),
            ("5", false),
            ("520", false),
            ("5a", false),
        ] {
            assert_eq!(province_known(prefix), known, "{prefix:?}");
        }
    }

    #[test]
    #[should_panic(expected = "unexpected header row")]
    fn a_wrong_header_panics() {
        load("# comment\ncode\tname\tlevel\n");
    }

    #[test]
    #[should_panic(expected = "line 3: unknown level \"region\"")]
    fn an_unknown_level_panics() {
        load("# comment\ncode\tname\tparent\tlevel\n520000\t贵州省\t\tregion\n");
    }

    #[test]
    #[should_panic(expected = "line 2: expected 4 tab-separated columns")]
    fn a_short_row_panics() {
        load("code\tname\tparent\tlevel\n520000\t贵州省\tprovince\n");
    }

    #[test]
    #[should_panic(expected = "duplicate code 520000")]
    fn a_duplicate_code_panics() {
        load("code\tname\tparent\tlevel\n520000\t贵州省\t\tprovince\n520000\t贵州\t\tprovince\n");
    }

    #[test]
    #[should_panic(expected = "parent 520100 of 520102 is not listed")]
    fn a_missing_parent_panics() {
        load("code\tname\tparent\tlevel\n520000\t贵州省\t\tprovince\n520102\t南明区\t520100\tcounty\n");
    }

    #[test]
    #[should_panic(expected = "does not fit level")]
    fn a_code_of_the_wrong_length_panics() {
        load("code\tname\tparent\tlevel\n5200\t贵州省\t\tprovince\n");
    }
}
