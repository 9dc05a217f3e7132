//! What a person types to reach applicants' data: the purpose stated for reading personal values
//! in clear (Art. 23), and a certificate number searched for. One rule for the API and the CLI.

/// The longest stated purpose, in characters.
pub const PURPOSE_MAX_CHARS: usize = 200;

/// The longest certificate number searched for, in characters.
pub const CERTIFICATE_NO_MAX_CHARS: usize = 64;

/// `text` trimmed, when it has 1 to `max` characters and none is a control character; otherwise
/// its length in characters (after trimming), for the message.
pub fn bounded_text(text: &str, max: usize) -> Result<&str, usize> {
    let text = text.trim();
    let length = text.chars().count();
    if length == 0 || length > max || text.chars().any(char::is_control) {
        return Err(length);
    }
    Ok(text)
}

/// A purpose for reading personal values in clear (see [`PURPOSE_MAX_CHARS`]).
pub fn purpose(text: &str) -> Result<&str, usize> {
    bounded_text(text, PURPOSE_MAX_CHARS)
}

/// A certificate number to look an applicant's cases up by (see [`CERTIFICATE_NO_MAX_CHARS`]).
pub fn certificate_query(text: &str) -> Result<&str, usize> {
    bounded_text(text, CERTIFICATE_NO_MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded_in_characters() {
        assert_eq!(purpose("  核实校核申请 12 "), Ok("核实校核申请 12"));
        assert_eq!(purpose("   "), Err(0));
        assert_eq!(purpose(&"核".repeat(200)), Ok("核".repeat(200).as_str()));
        assert_eq!(purpose(&"核".repeat(201)), Err(201));
        assert_eq!(purpose("核实\u{7}"), Err(3));
        assert_eq!(certificate_query(&"1".repeat(65)), Err(65));
        assert_eq!(
            certificate_query(" 52010219940920434X "),
            Ok("52010219940920434X")
        );
    }
}
