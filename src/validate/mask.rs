//! Masking of personal values (certificate numbers, names, phone numbers) for logs, messages and
//! screens that must not show them in full.

/// Masks a certificate number: keeps the first 4 and last 4 characters when it is longer than 8
/// (`520102199001011234` → `5201**********1234`); shorter values keep only their first and last
/// character, one or two characters keep only the first (`*` for one). Empty stays empty.
pub fn mask_certificate(value: &str) -> String {
    let characters: Vec<char> = value.chars().collect();
    match characters.len() {
        0 => String::new(),
        length @ 9.. => keep_ends(&characters, 4, 4, length),
        length @ 3..=8 => keep_ends(&characters, 1, 1, length),
        length => keep_ends(&characters, 1, 0, length),
    }
}

/// Masks a person's name: `张` → `*`, `张三` → `张*`, `欧阳娜` → `欧*娜`, `欧阳娜娜` → `欧**娜`.
pub fn mask_name(value: &str) -> String {
    let characters: Vec<char> = value.chars().collect();
    match characters.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => keep_ends(&characters, 1, 0, 2),
        length => keep_ends(&characters, 1, 1, length),
    }
}

/// Masks a phone number: keeps the first 3 and last 4 characters when it has 11 or more
/// (`13812345678` → `138****5678`), otherwise masks it like a certificate number.
pub fn mask_phone(value: &str) -> String {
    let characters: Vec<char> = value.chars().collect();
    match characters.len() {
        length @ 11.. => keep_ends(&characters, 3, 4, length),
        _ => mask_certificate(value),
    }
}

/// A raw legacy record as people see it by default: its shape and keys, numbers and booleans
/// stay; every string value is masked like a certificate number (the record's personal fields
/// are not known before it maps).
pub fn mask_record(record: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match record {
        Value::String(text) => Value::String(mask_certificate(text)),
        Value::Array(items) => Value::Array(items.iter().map(mask_record).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| (key.clone(), mask_record(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A decoder's message with the value it refused masked whole: serde names that value after
/// `invalid type: ` or `invalid value: ` (`string "…"`, ``integer `…` ``), and it may be
/// personal or hold several personal values (`"张三 52010219900101123X"` where an object was
/// expected). `invalid type: string "张三", expected u32` → `invalid type: string "**", expected
/// u32`. Other messages (a missing field, an unknown variant) stay as they are.
pub fn mask_refused_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        let Some(start) = message.find(prefix) else {
            continue;
        };
        let from = start + prefix.len();
        let rest = &message[from..];
        let refused = &rest[..rest.find(", expected").unwrap_or(rest.len())];
        let Some(open) = refused.find(['"', '`']) else {
            return message.to_owned();
        };
        let quote = &refused[open..=open];
        let Some(close) = refused.rfind(quote).filter(|&close| close > open) else {
            return message.to_owned();
        };
        let value = &refused[open + 1..close];
        return format!(
            "{}{}{}",
            &message[..from + open + 1],
            "*".repeat(value.chars().count()),
            &message[from + close..]
        );
    }
    message.to_owned()
}

/// Keeps `head` leading and `tail` trailing characters and replaces the rest with `*`.
/// One character is always masked: when `head + tail` would cover everything, `*` takes the
/// leading place (`length` is at least 1).
fn keep_ends(characters: &[char], head: usize, tail: usize, length: usize) -> String {
    let head = head.min(length.saturating_sub(tail + 1));
    let tail = tail.min(length - head - 1);
    let mut masked = String::with_capacity(length * 3);
    masked.extend(&characters[..head]);
    masked.extend(std::iter::repeat_n('*', length - head - tail));
    masked.extend(&characters[length - tail..]);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mask: fn(&str) -> String, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            assert_eq!(mask(input), *expected, "{input:?}");
            assert_eq!(
                mask(input).chars().count(),
                input.chars().count(),
                "{input:?}: masking keeps the length"
            );
        }
    }

    #[test]
    fn certificates() {
        check(
            mask_certificate,
            &[
                ("520102199001011234", "5201**********1234"),
                ("52010219900101123X", "5201**********123X"),
                ("91520000214434146R", "9152**********146R"),
                ("520102199", "5201*2199"),
                ("E12345678", "E123*5678"),
                ("12345678", "1******8"),
                ("G1234", "G***4"),
                ("abc", "a*c"),
                ("ab", "a*"),
                ("a", "*"),
                ("", ""),
                ("护照号码１２３４５６", "护照号码**３４５６"),
            ],
        );
    }

    #[test]
    fn names() {
        check(
            mask_name,
            &[
                ("张", "*"),
                ("张三", "张*"),
                ("李小明", "李*明"),
                ("欧阳娜娜", "欧**娜"),
                ("阿卜杜拉·艾力", "阿*****力"),
                ("Li", "L*"),
                ("", ""),
            ],
        );
    }

    #[test]
    fn refused_values() {
        for (message, expected) in [
            (
                r#"invalid type: string "张三 52010219900101123X", expected struct Applicant"#,
                r#"invalid type: string "*********************", expected struct Applicant"#,
            ),
            (
                "invalid type: integer `52010219900101123`, expected a string",
                "invalid type: integer `*****************`, expected a string",
            ),
            (
                r#"invalid value: string "13812345678", expected a phone"#,
                r#"invalid value: string "***********", expected a phone"#,
            ),
            (
                "invalid type: null, expected a string",
                "invalid type: null, expected a string",
            ),
            (
                "unknown variant `robot`, expected one of `natural_person`, `legal_person`",
                "unknown variant `robot`, expected one of `natural_person`, `legal_person`",
            ),
            ("missing field `case_no`", "missing field `case_no`"),
        ] {
            assert_eq!(mask_refused_value(message), expected, "{message}");
        }
    }

    #[test]
    fn phones() {
        check(
            mask_phone,
            &[
                ("13812345678", "138****5678"),
                ("+8613812345678", "+86*******5678"),
                ("085112345678", "085*****5678"),
                ("0851123456", "0851**3456"),
                ("12345", "1***5"),
                ("", ""),
            ],
        );
    }
}
