//! Resident identity card numbers (居民身份证号码, GB 11643): a six-digit region, an eight-digit
//! birth date, a three-digit sequence number and a check character.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use super::Violation;
use super::division::{find_division, province_known};
use super::mask::mask_certificate;

const LENGTH: usize = 18;
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Sex as encoded by the parity of the 17th digit (odd: male).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

/// A resident ID number that passed every rule.
///
/// `Debug` masks the number so that logging a value does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct ResidentId {
    /// The 18 characters, with a lower-case `x` check character normalised to `X`.
    pub number: String,
    /// The first six digits: the region where the number was issued.
    pub region: String,
    /// The region's name, or `None` if the code is not in today's division list.
    pub region_name: Option<&'static str>,
    pub birth_date: NaiveDate,
    pub sex: Sex,
}

impl ResidentId {
    /// Whether the region code is in today's division list. Numbers keep the region code of the
    /// place and time they were issued, so an unknown region is worth a warning, not a rejection.
    pub fn region_known(&self) -> bool {
        self.region_name.is_some()
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ResidentId")
            .field("number", &mask_certificate(&self.number))
            .field("region", &self.region)
            .field("region_name", &self.region_name)
            .field("birth_date", &self.birth_date)
            .field("sex", &self.sex)
            .finish()
    }
}

/// Checks an 18-character resident ID number (surrounding whitespace ignored).
///
/// # Errors
///
/// A [`Violation`] with one of these rules, checked in this order: `resident_id.length`,
/// `resident_id.charset`, `resident_id.province`, `resident_id.birth_date`,
/// `resident_id.birth_in_future`, `resident_id.check_digit`. A region code that is no longer
/// listed is accepted (see [`ResidentId::region_known`]).
pub fn parse_resident_id(value: &str, today: NaiveDate) -> Result<ResidentId, Violation> {
    let value = value.trim();
    let length = value.chars().count();
    if length != LENGTH {
        return Err(length_violation(length));
    }
    for (index, character) in value.chars().enumerate() {
        let allowed = character.is_ascii_digit() || (index == LENGTH - 1 && matches!(character, 'X' | 'x'));
        if !allowed {
            return Err(Violation::new(
                "resident_id.charset",
                format!(
                    "resident id character {} is {character:?}: the first 17 characters must be digits and the last a digit or X",
                    index + 1
                ),
            ));
        }
    }
    // Every character is ASCII from here on, so byte ranges are character ranges.
    let number = value.to_ascii_uppercase();

    let province = &number[..2];
    if !province_known(province) {
        return Err(Violation::new(
            "resident_id.province",
            format!("resident id starts with {province}, which is not a province code"),
        ));
    }

    let birth = &number[6..14];
    let birth_date = NaiveDate::from_ymd_opt(
        digits_value(&birth[..4]) as i32,
        digits_value(&birth[4..6]),
        digits_value(&birth[6..]),
    )
    .ok_or_else(|| {
        Violation::new(
            "resident_id.birth_date",
            format!("resident id birth date {birth} is not a real date"),
        )
    })?;
    if birth_date < EARLIEST_BIRTH_DATE {
        return Err(Violation::new(
            "resident_id.birth_date",
            format!("resident id birth date {birth_date} is before 1900-01-01"),
        ));
    }
    if birth_date > today {
        return Err(Violation::new(
            "resident_id.birth_in_future",
            format!("resident id birth date {birth_date} is after today ({today})"),
        ));
    }

    let expected = check_character(&number[..LENGTH - 1]);
    let actual = char::from(number.as_bytes()[LENGTH - 1]);
    if actual != expected {
        return Err(Violation::new(
            "resident_id.check_digit",
            format!(
                "resident id check character is {actual} but should be {expected}: one of the 18 characters was probably mistyped"
            ),
        ));
    }

    let sex = if digits_value(&number[16..17]) % 2 == 1 {
        Sex::Male
    } else {
        Sex::Female
    };
    let region = number[..6].to_owned();
    let region_name = find_division(&region).map(|found| found.name);
    Ok(ResidentId {
        number,
        region,
        region_name,
        birth_date,
        sex,
    })
}

fn length_violation(length: usize) -> Violation {
    let message = if length == 15 {
        "resident id has 15 characters: a first-generation 15-digit number must be converted to the 18-digit form (19 inserted before the birth year, check character appended)".to_owned()
    } else {
        format!(
            "resident id must be 18 characters, got {length} (15-digit first-generation numbers must be converted to 18 digits)"
        )
    };
    Violation::new("resident_id.length", message)
}

/// Birth dates before this are rejected as typing errors.
const EARLIEST_BIRTH_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => panic!("1900-01-01 is a valid date"),
};

/// The value of a run of ASCII digits (the caller has checked them; at most 8 here).
fn digits_value(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0, |value, byte| value * 10 + u32::from(byte - b'0'))
}

/// The GB 11643 check character for 17 ASCII digits: (12 − Σ mod 11) mod 11, 10 written as X.
pub fn check_character(first_17: &str) -> char {
    let sum: u32 = first_17
        .bytes()
        .zip(WEIGHTS)
        .map(|(byte, weight)| u32::from(byte - b'0') * weight)
        .sum();
    match (12 - sum % 11) % 11 {
        10 => 'X',
        value => char::from(b'0' + value as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed "today" of these tests.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    /// Appends the check character, so examples can be written as 17 digits.
    fn with_check(first_17: &str) -> String {
        format!("{first_17}{}", check_character(first_17))
    }

    /// Valid: (input, normalised number, region known, birth date, sex).
    fn check_valid(input: &str, number: &str, known: bool, birth: &str, sex: Sex) {
        let parsed =
            parse_resident_id(input, today()).unwrap_or_else(|violation| panic!("{input:?}: {violation}"));
        assert_eq!(parsed.number, number, "{input:?}");
        assert_eq!(parsed.region, number[..6], "{input:?}");
        assert_eq!(parsed.region_known(), known, "{input:?}");
        assert_eq!(parsed.region_name.is_some(), known, "{input:?}");
        assert_eq!(parsed.birth_date.to_string(), birth, "{input:?}");
        assert_eq!(parsed.sex, sex, "{input:?}");
    }

    /// Invalid: the rule that must be reported.
    fn check(input: &str, rule: &str) {
        match parse_resident_id(input, today()) {
            Ok(parsed) => panic!("{input:?}: expected {rule}, got {parsed:?}"),
            Err(violation) => {
                assert_eq!(violation.rule, rule, "{input:?}: {violation}");
                assert_message_is_safe(input, &violation.message);
            }
        }
    }

    fn assert_message_is_safe(input: &str, message: &str) {
        let trimmed = input.trim();
        if trimmed.chars().count() >= 8 {
            assert!(!message.contains(trimmed), "message leaks the number: {message}");
        }
        assert!(!message.ends_with('.'), "{message}");
        assert!(
            !message.starts_with(|first: char| first.is_uppercase()),
            "{message}"
        );
    }

    #[test]
    fn known_valid_numbers() {
        // Literals confirmed with python-stdnum 2.2 (`stdnum.cn.ric.validate`), which also checks
        // the region against its historical list.
        use Sex::*;
        let cases: &[(&str, &str, bool, &str, Sex)] = &[
            // The example in GB 11643 itself.
            (
                "11010519491231002X",
                "11010519491231002X",
                true,
                "1949-12-31",
                Female,
            ),
            (
                "11010519491231002x",
                "11010519491231002X",
                true,
                "1949-12-31",
                Female,
            ),
            (
                " 11010519491231002x\t",
                "11010519491231002X",
                true,
                "1949-12-31",
                Female,
            ),
            // The example in python-stdnum's documentation.
            (
                "360426199101010071",
                "360426199101010071",
                true,
                "1991-01-01",
                Male,
            ),
            (
                "52010219900101123X",
                "52010219900101123X",
                true,
                "1990-01-01",
                Male,
            ),
            (
                "520102200012290022",
                "520102200012290022",
                true,
                "2000-12-29",
                Female,
            ),
            (
                "522731198503150039",
                "522731198503150039",
                true,
                "1985-03-15",
                Male,
            ),
            // Old region codes: 宣武区 (merged into 西城区 in 2010), 崇文区 (into 东城区, 2010),
            // the former county-level 遵义市 (522101, recoded in 1997).
            (
                "11010419800101001X",
                "11010419800101001X",
                false,
                "1980-01-01",
                Male,
            ),
            (
                "110103197711300045",
                "110103197711300045",
                false,
                "1977-11-30",
                Female,
            ),
            (
                "522101196505050015",
                "522101196505050015",
                false,
                "1965-05-05",
                Male,
            ),
        ];
        for (input, number, known, birth, sex) in cases {
            check_valid(input, number, *known, birth, *sex);
        }
    }

    #[test]
    fn computed_valid_numbers() {
        use Sex::*;
        let cases: &[(&str, bool, &str, Sex)] = &[
            ("52010219000101001", true, "1900-01-01", Male),
            ("52010220261129002", true, "2026-11-29", Female),
            ("52010220000229003", true, "2000-02-29", Male),
            ("52000019800101004", true, "1980-01-01", Female),
            ("52010019800101005", true, "1980-01-01", Male),
            // A province prefix that is known with a region that never existed.
            ("52999919800101006", false, "1980-01-01", Female),
            ("65000019991231007", true, "1999-12-31", Male),
        ];
        for (first_17, known, birth, sex) in cases {
            let number = with_check(first_17);
            check_valid(&number, &number, *known, birth, *sex);
        }
        // Make sure an X check character shows up among computed examples too.
        let number = with_check("52010219900101123");
        assert!(number.ends_with('X'));
        check_valid(&number.to_lowercase(), &number, true, "1990-01-01", Male);
    }

    #[test]
    fn region_name_comes_from_the_division_list() {
        let parsed = parse_resident_id("52010219900101123X", today()).unwrap();
        assert_eq!(parsed.region_name, Some("南明区"));
        let parsed = parse_resident_id("11010419800101001X", today()).unwrap();
        assert_eq!(parsed.region_name, None);
        assert!(!parsed.region_known());
    }

    #[test]
    fn invalid_numbers() {
        let long = format!("{}1", with_check("52010219900101123"));
        let cases: &[(&str, &str)] = &[
            ("", "resident_id.length"),
            ("   ", "resident_id.length"),
            ("520102900101123", "resident_id.length"),
            ("5201021990010112", "resident_id.length"),
            ("52010219900101123", "resident_id.length"),
            (&long, "resident_id.length"),
            ("52010219900101123Ｘ", "resident_id.charset"),
            ("5201021990010112X3", "resident_id.charset"),
            ("52010219900101123Y", "resident_id.charset"),
            ("520102-19900101123", "resident_id.charset"),
            ("52010219900101 123", "resident_id.charset"),
            ("５20102199001011234", "resident_id.charset"),
            ("X20102199001011234", "resident_id.charset"),
            // 440524188001010014 is GB 11643's second example, born in 1880.
            ("440524188001010014", "resident_id.birth_date"),
            ("11010519491231002Y", "resident_id.charset"),
            // Wrong check characters (the right ones are X, 1, 5).
            ("110105194912310021", "resident_id.check_digit"),
            ("360426199101010070", "resident_id.check_digit"),
            ("52210119650505001X", "resident_id.check_digit"),
            ("52210119650505001x", "resident_id.check_digit"),
            // Two digits swapped.
            ("360426199101010701", "resident_id.check_digit"),
        ];
        for (input, rule) in cases {
            check(input, rule);
        }
    }

    #[test]
    fn invalid_computed_numbers() {
        let cases: &[(&str, &str)] = &[
            ("99010219900101123", "resident_id.province"),
            ("00010219900101123", "resident_id.province"),
            ("71010219900101123", "resident_id.province"),
            ("81000019900101123", "resident_id.province"),
            ("52010219900230123", "resident_id.birth_date"),
            ("52010219000229123", "resident_id.birth_date"),
            ("52010219901301123", "resident_id.birth_date"),
            ("52010219900100123", "resident_id.birth_date"),
            ("52010200000101123", "resident_id.birth_date"),
            ("52010218991231123", "resident_id.birth_date"),
            ("52010220261130123", "resident_id.birth_in_future"),
            ("52010220270101123", "resident_id.birth_in_future"),
            ("52010299991231123", "resident_id.birth_in_future"),
        ];
        for (first_17, rule) in cases {
            check(&with_check(first_17), rule);
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let message = |input: &str| parse_resident_id(input, today()).unwrap_err().message;
        assert!(message("520102900101123").contains("first-generation 15-digit number"));
        assert!(message("5201021990010112").contains("got 16"));
        assert!(message("5201021990010112").contains("15-digit first-generation"));
        assert_eq!(
            message("110105194912310021"),
            "resident id check character is 1 but should be X: one of the 18 characters was probably mistyped"
        );
        assert_eq!(
            message("5201021990010112X3"),
            "resident id character 17 is 'X': the first 17 characters must be digits and the last a digit or X"
        );
        assert_eq!(
            message(&with_check("99010219900101123")),
            "resident id starts with 99, which is not a province code"
        );
        assert_eq!(
            message(&with_check("52010219900230123")),
            "resident id birth date 19900230 is not a real date"
        );
        assert_eq!(
            message(&with_check("52010218991231123")),
            "resident id birth date 1899-12-31 is before 1900-01-01"
        );
        assert_eq!(
            message(&with_check("52010220261130123")),
            "resident id birth date 2026-11-30 is after today (2026-11-29)"
        );
    }

    #[test]
    fn check_characters_match_the_standard() {
        for (first_17, expected) in [
            ("11010519491231002", 'X'),
            ("44052418800101001", '4'),
            ("36042619910101007", '1'),
            ("52210119650505001", '5'),
            ("00000000000000000", '1'),
        ] {
            assert_eq!(check_character(first_17), expected, "{first_17}");
        }
    }

    #[test]
    fn debug_output_masks_the_number() {
        let parsed = parse_resident_id("52010219900101123X", today()).unwrap();
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("52010219900101123X"), "{shown}");
        assert!(shown.contains("5201**********123X"), "{shown}");
    }
}
