//! Unified social credit codes (统一社会信用代码, GB 32100) of legal persons and other
//! organisations: registration department, organisation type, region, organisation code and a
//! check character.

use serde::Serialize;

use super::Violation;
use super::division::find_division;

const LENGTH: usize = 18;
/// The 31 characters a code may contain: digits and upper-case letters without I, O, Z, S and V.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A unified social credit code that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uscc {
    /// The 18 characters, upper case.
    pub code: String,
    /// Character 1, for example `9` (market regulation), `5` (civil affairs), `1` (staffing
    /// office), `N` (agriculture), `Y` (other).
    pub registration_department: char,
    /// Character 2, whose meaning depends on the registration department.
    pub organisation_type: char,
    /// Characters 3–8: the region of registration (`100000` for national bodies).
    pub region: String,
    /// Characters 9–17: the organisation code (GB 11714).
    pub organisation_code: String,
}

impl Uscc {
    /// Whether the region code is in today's division list (older codes keep old regions).
    pub fn region_known(&self) -> bool {
        find_division(&self.region).is_some()
    }
}

/// Checks a unified social credit code (surrounding whitespace ignored, lower case accepted and
/// normalised to upper case).
///
/// # Errors
///
/// A [`Violation`] with one of these rules, checked in this order: `uscc.length`,
/// `uscc.charset`, `uscc.region`, `uscc.check_character`. A region code that is not listed is
/// accepted (see [`Uscc::region_known`]).
pub fn parse_uscc(value: &str) -> Result<Uscc, Violation> {
    let value = value.trim();
    let length = value.chars().count();
    if length != LENGTH {
        return Err(Violation::new(
            "uscc.length",
            format!("unified social credit code must be 18 characters, got {length}"),
        ));
    }
    let code = value.to_ascii_uppercase();
    let mut values = [0_u32; LENGTH];
    for (index, character) in code.chars().enumerate() {
        match alphabet_value(character) {
            Some(value) => values[index] = value,
            None => return Err(charset_violation(index + 1, character)),
        }
    }
    // Every character is ASCII from here on, so byte ranges are character ranges.
    let region = &code[2..8];
    if !region.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Violation::new(
            "uscc.region",
            format!(
                "unified social credit code characters 3-8 must be a six-digit region code, got {region}"
            ),
        ));
    }
    let expected = check_character(&values[..LENGTH - 1]);
    let actual = char::from(code.as_bytes()[LENGTH - 1]);
    if actual != expected {
        return Err(Violation::new(
            "uscc.check_character",
            format!(
                "unified social credit code check character is {actual} but should be {expected}: one of the 18 characters was probably mistyped"
            ),
        ));
    }
    let bytes = code.as_bytes();
    Ok(Uscc {
        registration_department: char::from(bytes[0]),
        organisation_type: char::from(bytes[1]),
        region: region.to_owned(),
        organisation_code: code[8..17].to_owned(),
        code,
    })
}

fn alphabet_value(character: char) -> Option<u32> {
    let byte = u8::try_from(character).ok()?;
    let index = ALPHABET.iter().position(|&allowed| allowed == byte)?;
    u32::try_from(index).ok()
}

fn charset_violation(position: usize, character: char) -> Violation {
    let hint = match character {
        'O' => " (the letter O is never used: did you mean the digit 0?)",
        'I' => " (the letter I is never used: did you mean the digit 1?)",
        'Z' => " (the letter Z is never used: did you mean the digit 2?)",
        'S' => " (the letter S is never used: did you mean the digit 5?)",
        'V' => " (the letter V is never used: did you mean U?)",
        _ => "",
    };
    Violation::new(
        "uscc.charset",
        format!(
            "unified social credit code character {position} is {character:?}, which is not allowed: only digits and the letters ABCDEFGHJKLMNPQRTUWXY appear{hint}"
        ),
    )
}

/// The GB 32100 check character for 17 alphabet values: alphabet[(31 − Σ mod 31) mod 31].
fn check_character(values: &[u32]) -> char {
    let sum: u32 = values
        .iter()
        .zip(WEIGHTS)
        .map(|(value, weight)| value * weight)
        .sum();
    char::from(ALPHABET[((31 - sum % 31) % 31) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends the check character, so examples can be written as 17 characters.
    fn with_check(first_17: &str) -> String {
        let values: Vec<u32> = first_17.chars().map(|c| alphabet_value(c).unwrap()).collect();
        format!("{first_17}{}", check_character(&values))
    }

    /// Valid: the input, the normalised code it must give, and whether its region is listed.
    fn check_valid(input: &str, code: &str, known: bool) {
        let parsed = parse_uscc(input).unwrap_or_else(|violation| panic!("{input:?}: {violation}"));
        assert_eq!(parsed.code, code, "{input:?}");
        let mut characters = code.chars();
        assert_eq!(Some(parsed.registration_department), characters.next());
        assert_eq!(Some(parsed.organisation_type), characters.next());
        assert_eq!(parsed.region, code[2..8]);
        assert_eq!(parsed.organisation_code, code[8..17]);
        assert_eq!(parsed.region_known(), known, "{input:?}");
    }

    /// Invalid: the rule that must be reported.
    fn check(input: &str, rule: &str) {
        match parse_uscc(input) {
            Ok(parsed) => panic!("{input:?}: expected {rule}, got {parsed:?}"),
            Err(violation) => {
                assert_eq!(violation.rule, rule, "{input:?}: {violation}");
                assert!(!violation.message.ends_with('.'), "{violation}");
            }
        }
    }

    #[test]
    fn known_valid_codes() {
        // Confirmed with python-stdnum 2.2 (`stdnum.cn.uscc.validate`).
        let cases: &[(&str, &str, bool)] = &[
            // The example in python-stdnum's documentation.
            ("91110000600037341L", "91110000600037341L", true),
            ("914403001922038216", "914403001922038216", true),
            ("9144030071526726XG", "9144030071526726XG", true),
            ("9144030071526726xg", "9144030071526726XG", true),
            (" 91330100799655058b ", "91330100799655058B", true),
            ("91520000214434146R", "91520000214434146R", true),
            ("515200005000123455", "515200005000123455", true),
            // A national body: region 100000 is not a division.
            ("11100000000013127D", "11100000000013127D", false),
        ];
        for (input, code, known) in cases {
            check_valid(input, code, *known);
        }
    }

    #[test]
    fn codes_whose_first_characters_are_letters() {
        // python-stdnum rejects these (it wants digits in positions 1-8), so their check
        // characters were computed independently with a separate Python implementation and
        // stdnum's calc_check_digit, and one by hand: for Y1520100MJ0000001 the weighted values
        // are 30+3+45+54+0+26+0+0+420+522+0+0+0+0+0+0+28 = 1128, 1128 mod 31 = 12,
        // 31 - 12 = 19, and alphabet[19] = K.
        let cases: &[(&str, &str, bool)] = &[
            ("Y1520100MJ0000001K", "Y1520100MJ0000001K", true),
            ("y1520100mj0000001k", "Y1520100MJ0000001K", true),
            ("N2520102MF56789011", "N2520102MF56789011", true),
            ("N1522101MA7XY00011", "N1522101MA7XY00011", false),
            ("A1110000MB0123456Q", "A1110000MB0123456Q", true),
            ("9A520102MA6H12345J", "9A520102MA6H12345J", true),
        ];
        for (input, code, known) in cases {
            check_valid(input, code, *known);
        }
        let parsed = parse_uscc("N2520102MF56789011").unwrap();
        assert_eq!(parsed.registration_department, 'N');
        assert_eq!(parsed.organisation_type, '2');
        let parsed = parse_uscc("9A520102MA6H12345J").unwrap();
        assert_eq!(parsed.registration_department, '9');
        assert_eq!(parsed.organisation_type, 'A');
    }

    #[test]
    fn computed_valid_codes() {
        for first_17 in [
            "91520102MA6DGB7U0",
            "51520000MJ0000000",
            "N1520102MF0000000",
            "Y1520000000000000",
            "AA520102000000000",
            "YY000000YYYYYYYYY",
            "00000000000000000",
        ] {
            let code = with_check(first_17);
            let known = find_division(&code[2..8]).is_some();
            check_valid(&code, &code, known);
            check_valid(&code.to_lowercase(), &code, known);
        }
    }

    #[test]
    fn invalid_codes() {
        let cases: &[(&str, &str)] = &[
            ("", "uscc.length"),
            ("9152010", "uscc.length"),
            ("91110000600037341", "uscc.length"),
            ("91110000600037341LL", "uscc.length"),
            ("911100006000373", "uscc.length"),
            ("91110000600037341I", "uscc.charset"),
            ("9111000060003734lO", "uscc.charset"),
            ("9Z110000600037341L", "uscc.charset"),
            ("91110000S00037341L", "uscc.charset"),
            ("91110000600037341V", "uscc.charset"),
            ("91110000-00037341L", "uscc.charset"),
            ("91110000600037341Ｌ", "uscc.charset"),
            ("91 10000600037341L", "uscc.charset"),
            ("91A10000600037341L", "uscc.region"),
            ("9111000Y600037341L", "uscc.region"),
            ("91110000600037341A", "uscc.check_character"),
            ("91110000600037341l0", "uscc.length"),
            ("914403001922038217", "uscc.check_character"),
            ("9144030071526726XH", "uscc.check_character"),
            ("9144030071526726xh", "uscc.check_character"),
            ("Y1520100MJ0000001L", "uscc.check_character"),
            ("N2520102MF56789010", "uscc.check_character"),
            // Two characters swapped.
            ("91110000600073341L", "uscc.check_character"),
        ];
        for (input, rule) in cases {
            check(input, rule);
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let message = |input| parse_uscc(input).unwrap_err().message;
        assert_eq!(
            message("91110000600037341"),
            "unified social credit code must be 18 characters, got 17"
        );
        assert_eq!(
            message("9111000060003734lO"),
            "unified social credit code character 18 is 'O', which is not allowed: only digits and the letters ABCDEFGHJKLMNPQRTUWXY appear (the letter O is never used: did you mean the digit 0?)"
        );
        assert_eq!(
            message("91110000-00037341L"),
            "unified social credit code character 9 is '-', which is not allowed: only digits and the letters ABCDEFGHJKLMNPQRTUWXY appear"
        );
        assert_eq!(
            message("91A10000600037341L"),
            "unified social credit code characters 3-8 must be a six-digit region code, got A10000"
        );
        assert_eq!(
            message("91110000600037341A"),
            "unified social credit code check character is A but should be L: one of the 18 characters was probably mistyped"
        );
    }

    #[test]
    fn check_characters_match_the_standard() {
        for (first_17, expected) in [
            ("91110000600037341", 'L'),
            ("Y1520100MJ0000001", 'K'),
            ("11100000000013127", 'D'),
            ("00000000000000000", '0'),
        ] {
            assert_eq!(with_check(first_17).chars().last(), Some(expected), "{first_17}");
        }
    }

    #[test]
    fn the_alphabet_has_31_distinct_characters_without_i_o_z_s_v() {
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 31);
        for excluded in [b'I', b'O', b'Z', b'S', b'V'] {
            assert!(!ALPHABET.contains(&excluded));
        }
    }
}
