//! Timestamps as approval systems send them: RFC 3339, the compact forms of GB/T 39046 and the
//! usual local and Chinese forms, read as Beijing time when they carry no offset.

use chrono::format::ParseErrorKind;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::Violation;

/// The UTC offset of Asia/Shanghai (Beijing time), used for timestamps that carry none.
///
/// China has observed no daylight saving time since 1991, so Beijing time is a fixed +08:00 for
/// every timestamp these systems produce.
pub const SHANGHAI_OFFSET_SECONDS: i32 = 8 * 3600;

/// Beijing time, +08:00.
pub const SHANGHAI: FixedOffset = match FixedOffset::east_opt(SHANGHAI_OFFSET_SECONDS) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

const ACCEPTED_FORMS: &str = "RFC 3339 (2025-11-20T14:30:05+08:00, also +0800), 20251120143005, 20251120T143005, \
     2025112014:30:05, 2025-11-20 14:30[:05[.123]], 2025/11/20 14:30[:05], 2025-11-20, 2025/11/20, \
     20251120, or 2025年11月20日 with an optional 14:30[:05] or 14时30分[05秒]";

/// Parses a timestamp (surrounding whitespace ignored). One without an offset is Beijing time.
///
/// Accepted: RFC 3339 with any offset; `YYYYMMDDhhmmss`, `YYYYMMDDThhmmss`, `YYYYMMDDhh:mm:ss`;
/// `YYYY-MM-DD hh:mm:ss[.f]` (or with `T`), `YYYY-MM-DD hh:mm` (or with `T`),
/// `YYYY/MM/DD hh:mm[:ss]`; `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD` (midnight); `YYYY年M月D日`
/// with an optional `hh:mm[:ss]` or `hh时mm分[ss秒]`, with or without a space.
///
/// # Errors
///
/// A [`Violation`] with rule `timestamp.format` (none of the accepted forms) or
/// `timestamp.invalid` (an accepted form, but no such date or time, for example 2025-02-30,
/// 24:00 or a leap second).
pub fn parse_timestamp(value: &str) -> Result<DateTime<FixedOffset>, Violation> {
    let value = value.trim();
    // Java's default form writes the offset without a colon (+0800); %z reads both.
    let parsed = match DateTime::parse_from_rfc3339(value)
        .or_else(|e| DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f%z").map_err(|_| e))
    {
        Ok(parsed) => parsed,
        Err(rfc3339_error) => match local_form(&tokens(value)) {
            Some(form) => parse_local(value, &form)?,
            // The shape of RFC 3339 but impossible values, such as month 13 or offset +25:00.
            None if matches!(
                rfc3339_error.kind(),
                ParseErrorKind::OutOfRange | ParseErrorKind::Impossible
            ) =>
            {
                return Err(invalid(value));
            }
            None => {
                return Err(Violation::new(
                    "timestamp.format",
                    format!(
                        "timestamp {} is not in an accepted form: {ACCEPTED_FORMS}",
                        shown(value)
                    ),
                ));
            }
        },
    };
    // chrono represents a leap second (:60) as a nanosecond overflow; no system means one.
    if parsed.nanosecond() >= 1_000_000_000 {
        return Err(invalid(value));
    }
    Ok(parsed)
}

fn parse_local(value: &str, form: &LocalForm) -> Result<DateTime<FixedOffset>, Violation> {
    let naive = if form.date_only {
        NaiveDate::parse_from_str(value, &form.format).map(|date| date.and_time(NaiveTime::MIN))
    } else {
        NaiveDateTime::parse_from_str(value, &form.format)
    };
    naive
        .ok()
        .and_then(|naive| naive.and_local_timezone(SHANGHAI).single())
        .ok_or_else(|| invalid(value))
}

fn invalid(value: &str) -> Violation {
    Violation::new(
        "timestamp.invalid",
        format!(
            "timestamp {} has an accepted form but is not a real date and time",
            shown(value)
        ),
    )
}

/// Quotes a value for a message, cut short so a stray payload cannot flood it.
fn shown(value: &str) -> String {
    const LIMIT: usize = 40;
    if value.chars().count() > LIMIT {
        let head: String = value.chars().take(LIMIT).collect();
        format!("{head:?}…")
    } else {
        format!("{value:?}")
    }
}

/// The input seen as runs of ASCII digits and single other characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Digits(usize),
    Char(char),
}

fn tokens(value: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for character in value.chars() {
        match (character.is_ascii_digit(), tokens.last_mut()) {
            (true, Some(Token::Digits(length))) => *length += 1,
            (true, _) => tokens.push(Token::Digits(1)),
            (false, _) => tokens.push(Token::Char(character)),
        }
    }
    tokens
}

/// One element of an accepted shape: a run of between `min` and `max` digits, or a character.
#[derive(Debug, Clone, Copy)]
enum Part {
    Digits { min: usize, max: usize },
    Char(char),
}

impl Part {
    fn matches(self, token: Token) -> bool {
        match (self, token) {
            (Part::Digits { min, max }, Token::Digits(length)) => (min..=max).contains(&length),
            (Part::Char(expected), Token::Char(actual)) => expected == actual,
            _ => false,
        }
    }
}

fn matches(parts: &[Part], tokens: &[Token]) -> bool {
    parts.len() == tokens.len() && parts.iter().zip(tokens).all(|(part, token)| part.matches(*token))
}

const fn digits(length: usize) -> Part {
    Part::Digits {
        min: length,
        max: length,
    }
}

const ONE_OR_TWO: Part = Part::Digits { min: 1, max: 2 };
const FRACTION: Part = Part::Digits { min: 1, max: 9 };
const DASH: Part = Part::Char('-');
const SLASH: Part = Part::Char('/');
const COLON: Part = Part::Char(':');
const SPACE: Part = Part::Char(' ');
const T: Part = Part::Char('T');
const DOT: Part = Part::Char('.');

/// A shape without an offset and the chrono format that reads it.
struct Form {
    parts: &'static [Part],
    format: &'static str,
    date_only: bool,
}

const fn form(parts: &'static [Part], format: &'static str) -> Form {
    Form {
        parts,
        format,
        date_only: false,
    }
}

const fn date_form(parts: &'static [Part], format: &'static str) -> Form {
    Form {
        parts,
        format,
        date_only: true,
    }
}

const Y: Part = digits(4);
const N2: Part = digits(2);

const FORMS: &[Form] = &[
    // The compact forms of GB/T 39046.
    form(&[digits(14)], "%Y%m%d%H%M%S"),
    form(&[digits(8), T, digits(6)], "%Y%m%dT%H%M%S"),
    form(&[digits(10), COLON, N2, COLON, N2], "%Y%m%d%H:%M:%S"),
    date_form(&[digits(8)], "%Y%m%d"),
    // ISO-like local forms.
    form(
        &[Y, DASH, N2, DASH, N2, SPACE, N2, COLON, N2, COLON, N2],
        "%Y-%m-%d %H:%M:%S",
    ),
    form(
        &[
            Y, DASH, N2, DASH, N2, SPACE, N2, COLON, N2, COLON, N2, DOT, FRACTION,
        ],
        "%Y-%m-%d %H:%M:%S%.f",
    ),
    form(
        &[Y, DASH, N2, DASH, N2, T, N2, COLON, N2, COLON, N2],
        "%Y-%m-%dT%H:%M:%S",
    ),
    form(
        &[Y, DASH, N2, DASH, N2, T, N2, COLON, N2, COLON, N2, DOT, FRACTION],
        "%Y-%m-%dT%H:%M:%S%.f",
    ),
    form(&[Y, DASH, N2, DASH, N2, SPACE, N2, COLON, N2], "%Y-%m-%d %H:%M"),
    form(&[Y, DASH, N2, DASH, N2, T, N2, COLON, N2], "%Y-%m-%dT%H:%M"),
    date_form(&[Y, DASH, N2, DASH, N2], "%Y-%m-%d"),
    // Slashed local forms.
    form(
        &[Y, SLASH, N2, SLASH, N2, SPACE, N2, COLON, N2, COLON, N2],
        "%Y/%m/%d %H:%M:%S",
    ),
    form(&[Y, SLASH, N2, SLASH, N2, SPACE, N2, COLON, N2], "%Y/%m/%d %H:%M"),
    date_form(&[Y, SLASH, N2, SLASH, N2], "%Y/%m/%d"),
];

/// `2025年11月20日`, with one- or two-digit month and day.
const CHINESE_DATE: &[Part] = &[
    Y,
    Part::Char('年'),
    ONE_OR_TWO,
    Part::Char('月'),
    ONE_OR_TWO,
    Part::Char('日'),
];
const CHINESE_DATE_FORMAT: &str = "%Y年%m月%d日";

/// Times that may follow a Chinese date, with or without a space between.
const CHINESE_TIMES: &[(&[Part], &str)] = &[
    (&[ONE_OR_TWO, COLON, N2], "%H:%M"),
    (&[ONE_OR_TWO, COLON, N2, COLON, N2], "%H:%M:%S"),
    (&[ONE_OR_TWO, Part::Char('时'), N2, Part::Char('分')], "%H时%M分"),
    (
        &[
            ONE_OR_TWO,
            Part::Char('时'),
            N2,
            Part::Char('分'),
            N2,
            Part::Char('秒'),
        ],
        "%H时%M分%S秒",
    ),
];

/// The chrono format for an accepted local shape.
struct LocalForm {
    format: String,
    date_only: bool,
}

/// Picks the local (offset-free) form whose shape the input has, if any.
fn local_form(tokens: &[Token]) -> Option<LocalForm> {
    if let Some(found) = FORMS.iter().find(|form| matches(form.parts, tokens)) {
        return Some(LocalForm {
            format: found.format.to_owned(),
            date_only: found.date_only,
        });
    }
    if tokens.len() < CHINESE_DATE.len() {
        return None;
    }
    let (date, time) = tokens.split_at(CHINESE_DATE.len());
    if !matches(CHINESE_DATE, date) {
        return None;
    }
    if time.is_empty() {
        return Some(LocalForm {
            format: CHINESE_DATE_FORMAT.to_owned(),
            date_only: true,
        });
    }
    let (separator, time) = match time.split_first() {
        Some((Token::Char(' '), rest)) => (" ", rest),
        _ => ("", time),
    };
    CHINESE_TIMES
        .iter()
        .find(|(parts, _)| matches(parts, time))
        .map(|(_, format)| LocalForm {
            format: format!("{CHINESE_DATE_FORMAT}{separator}{format}"),
            date_only: false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepted: the instant and offset, written as RFC 3339.
    fn check(input: &str, expected: &str) {
        match parse_timestamp(input) {
            Ok(parsed) => assert_eq!(parsed.to_rfc3339(), expected, "{input:?}"),
            Err(violation) => panic!("{input:?}: {violation}"),
        }
    }

    /// Rejected: the rule that must be reported.
    fn check_rejected(input: &str, rule: &str) {
        match parse_timestamp(input) {
            Ok(parsed) => panic!("{input:?}: expected {rule}, got {parsed}"),
            Err(violation) => {
                assert_eq!(violation.rule, rule, "{input:?}: {violation}");
                assert!(!violation.message.ends_with('.'), "{violation}");
            }
        }
    }

    #[test]
    fn rfc3339_keeps_its_offset() {
        for (input, expected) in [
            ("2025-11-20T14:30:05+08:00", "2025-11-20T14:30:05+08:00"),
            ("2025-11-20T06:30:05Z", "2025-11-20T06:30:05+00:00"),
            ("2025-11-20t06:30:05z", "2025-11-20T06:30:05+00:00"),
            ("2025-11-20T06:30:05.123Z", "2025-11-20T06:30:05.123+00:00"),
            (
                "2025-11-20T14:30:05.123456789+08:00",
                "2025-11-20T14:30:05.123456789+08:00",
            ),
            ("2025-11-20T01:30:05-05:00", "2025-11-20T01:30:05-05:00"),
            ("2025-11-20 14:30:05+08:00", "2025-11-20T14:30:05+08:00"),
            ("  2025-11-20T14:30:05+08:00\n", "2025-11-20T14:30:05+08:00"),
            ("2024-02-29T00:00:00+08:00", "2024-02-29T00:00:00+08:00"),
            ("2025-11-20T14:30:05.000+0800", "2025-11-20T14:30:05+08:00"),
            ("2025-11-20T14:30:05+0800", "2025-11-20T14:30:05+08:00"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn local_forms_are_beijing_time() {
        for (input, expected) in [
            // GB/T 39046's own forms.
            ("20251120143005", "2025-11-20T14:30:05+08:00"),
            ("20251120T143005", "2025-11-20T14:30:05+08:00"),
            ("2025112014:30:05", "2025-11-20T14:30:05+08:00"),
            // Dashed and slashed.
            ("2025-11-20 14:30:05", "2025-11-20T14:30:05+08:00"),
            ("2025-11-20 14:30:05.5", "2025-11-20T14:30:05.500+08:00"),
            ("2025-11-20 14:30:05.123", "2025-11-20T14:30:05.123+08:00"),
            ("2025-11-20 14:30:05.123456", "2025-11-20T14:30:05.123456+08:00"),
            ("2025-11-20T14:30:05", "2025-11-20T14:30:05+08:00"),
            ("2025-11-20T14:30:05.000", "2025-11-20T14:30:05+08:00"),
            ("2025-11-20 14:30", "2025-11-20T14:30:00+08:00"),
            ("2025-11-20T14:30", "2025-11-20T14:30:00+08:00"),
            ("2025/11/20 14:30", "2025-11-20T14:30:00+08:00"),
            ("2025/11/20 14:30:05", "2025-11-20T14:30:05+08:00"),
            ("2025-11-20 00:00:00", "2025-11-20T00:00:00+08:00"),
            ("2025-12-31 23:59:59", "2025-12-31T23:59:59+08:00"),
            // Dates alone are midnight.
            ("2025-11-20", "2025-11-20T00:00:00+08:00"),
            ("2025/11/20", "2025-11-20T00:00:00+08:00"),
            ("20251120", "2025-11-20T00:00:00+08:00"),
            (" 20251120 ", "2025-11-20T00:00:00+08:00"),
            // Chinese forms.
            ("2025年11月20日", "2025-11-20T00:00:00+08:00"),
            ("2025年1月5日", "2025-01-05T00:00:00+08:00"),
            ("2025年01月05日", "2025-01-05T00:00:00+08:00"),
            ("2025年11月20日 14:30", "2025-11-20T14:30:00+08:00"),
            ("2025年11月20日14:30", "2025-11-20T14:30:00+08:00"),
            ("2025年11月20日 14:30:05", "2025-11-20T14:30:05+08:00"),
            ("2025年11月20日14:30:05", "2025-11-20T14:30:05+08:00"),
            ("2025年11月20日14时30分", "2025-11-20T14:30:00+08:00"),
            ("2025年11月20日 14时30分", "2025-11-20T14:30:00+08:00"),
            ("2025年11月20日14时30分05秒", "2025-11-20T14:30:05+08:00"),
            ("2025年11月20日 9时05分", "2025-11-20T09:05:00+08:00"),
            ("2025年1月5日 9:05", "2025-01-05T09:05:00+08:00"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn local_times_become_the_right_instant() {
        let parsed = parse_timestamp("2025-11-20 08:00:00").unwrap();
        assert_eq!(parsed.offset().local_minus_utc(), SHANGHAI_OFFSET_SECONDS);
        assert_eq!(parsed.to_utc().to_rfc3339(), "2025-11-20T00:00:00+00:00");
        assert_eq!(parsed, parse_timestamp("2025-11-20T00:00:00Z").unwrap());
    }

    #[test]
    fn impossible_dates_and_times_are_invalid() {
        for input in [
            "2025-02-30",
            "2025-02-29 10:00",
            "2024-02-30 10:00:00",
            "2025-13-01",
            "2025-00-10",
            "2025-11-31 10:00",
            "2025-11-20 24:00",
            "2025-11-20 23:60",
            "2025-11-20 23:59:60",
            "2025-11-20T23:59:60+08:00",
            "20250230",
            "20251120250000",
            "20251120T246000",
            "2025112014:61:05",
            "2025/02/30 10:00",
            "2025/11/20 10:00:99",
            "2025年2月30日",
            "2025年13月1日",
            "2025年0月1日",
            "2025年11月20日 25:00",
            "2025年11月20日14时60分",
            "2025-02-30T10:00:00+08:00",
            "2025-11-20T10:00:00+25:00",
        ] {
            check_rejected(input, "timestamp.invalid");
        }
    }

    #[test]
    fn other_shapes_are_format_errors() {
        for input in [
            "",
            "   ",
            "now",
            "2025",
            "202511",
            "2025112",
            "202511201430",
            "2025112014303",
            "2025-1-5",
            "2025-11-20 9:05",
            "2025-11-20  14:30",
            "2025.11.20",
            "20/11/2025",
            "11/20/2025 14:30",
            "2025/11/20T14:30",
            "2025-11-20 14:30:05.",
            "2025-11-20 14:30:05.1234567890",
            "2025-11-20T14:30+08:00",
            "2025年11月20",
            "2025年11月20日 14",
            "2025年11月20日 14时",
            "2025年11月20日  14:30",
            "２０２５-11-20",
            "1732084205",
            "2025-11-20 14:30:05 CST",
        ] {
            check_rejected(input, "timestamp.format");
        }
    }

    #[test]
    fn messages_name_the_value_and_the_accepted_forms() {
        let message = parse_timestamp("20/11/2025").unwrap_err().message;
        assert!(message.starts_with("timestamp \"20/11/2025\" is not in an accepted form: RFC 3339"));
        assert!(message.contains("2025年11月20日"));
        let message = parse_timestamp("2025-02-30").unwrap_err().message;
        assert_eq!(
            message,
            "timestamp \"2025-02-30\" has an accepted form but is not a real date and time"
        );
        let message = parse_timestamp(&"x".repeat(1000)).unwrap_err().message;
        assert!(message.len() < 600, "{message}");
    }

    #[test]
    fn tokens_group_digit_runs() {
        assert_eq!(
            tokens("2025年1月"),
            [
                Token::Digits(4),
                Token::Char('年'),
                Token::Digits(1),
                Token::Char('月')
            ]
        );
        assert!(tokens("").is_empty());
    }
}
