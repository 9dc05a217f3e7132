//! Body encodings: legacy systems answer in UTF-8, GBK or GB18030, and their HTTP charset and
//! XML declaration are sometimes wrong or missing. `decode` believes the labels only when the
//! bytes agree with them; `encode` writes requests in the encoding a system expects.

use encoding_rs::{Encoding, GB18030, GBK, UTF_8};

/// Text decoded from a body, with the encoding that was used.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body is not valid text in {tried}")]
pub struct DecodeError {
    tried: String,
}

/// The `charset` parameter of a `Content-Type` header value.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// The `encoding` of an XML declaration at the start of `bytes`, if any (read as ASCII, which
/// every encoding here shares for the declaration).
pub fn declared(bytes: &[u8]) -> Option<&str> {
    let head = bytes.get(..bytes.len().min(256))?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(head.get(..end)?)
        .ok()?
        .strip_prefix("<?xml")?;
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    value.find(quote).map(|close| &value[..close])
}

fn strict(bytes: &[u8], encoding: &'static Encoding) -> Option<Decoded> {
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| Decoded {
            text: text.into_owned(),
            encoding,
        })
}

/// Whether an encoding is one Chinese legacy systems really use.
fn chinese(encoding: &'static Encoding) -> bool {
    encoding == UTF_8 || encoding == GBK || encoding == GB18030
}

/// Decodes a body: a byte-order mark wins; labels (HTTP charset, XML declaration) that agree on
/// UTF-8, GBK or GB18030 are believed when the bytes decode cleanly in it. Otherwise — labels
/// that disagree, are missing, name another encoding (a servlet's default ISO-8859-1), or do
/// not fit the bytes — valid UTF-8 is UTF-8, then a labelled GBK/GB18030 that fits, then
/// GB18030 (a superset of GBK and GB2312), then the label itself; nothing is decoded with
/// replacement characters.
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> Result<Decoded, DecodeError> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return strict(&bytes[bom..], encoding).ok_or_else(|| DecodeError {
            tried: encoding.name().to_owned(),
        });
    }
    let labels: Vec<&'static Encoding> = [http_charset, declared(bytes)]
        .into_iter()
        .flatten()
        .filter_map(|label| Encoding::for_label(label.trim().as_bytes()))
        .collect();
    let agreed = match labels.as_slice() {
        [one] => Some(*one),
        [a, b] if a == b => Some(*a),
        _ => None,
    };
    if let Some(encoding) = agreed.filter(|e| chinese(e))
        && let Some(decoded) = strict(bytes, encoding)
    {
        return Ok(decoded);
    }
    let fallbacks = labels.iter().copied().filter(|e| *e != UTF_8 && chinese(e));
    let others = labels.iter().copied().filter(|e| !chinese(e));
    let mut tried: Vec<&'static Encoding> = Vec::new();
    for encoding in std::iter::once(UTF_8)
        .chain(fallbacks)
        .chain([GB18030])
        .chain(others)
    {
        if tried.contains(&encoding) {
            continue;
        }
        tried.push(encoding);
        if let Some(decoded) = strict(bytes, encoding) {
            if !labels.is_empty() && !labels.contains(&decoded.encoding) {
                tracing::debug!(
                    labels = ?labels.iter().map(|e| e.name()).collect::<Vec<_>>(),
                    used = decoded.encoding.name(),
                    "the body's encoding differs from its labels"
                );
            }
            return Ok(decoded);
        }
    }
    Err(DecodeError {
        tried: tried.iter().map(|e| e.name()).collect::<Vec<_>>().join(", "),
    })
}

/// Decodes a body sent to ronghe, strictly: the HTTP charset (or, without one, the XML
/// declaration) must name UTF-8, GBK or GB18030 and the bytes must decode in it without a single
/// replacement; a body with no label must be UTF-8. A byte-order mark must be UTF-8's and agree
/// with the HTTP charset (a UTF-16 body is refused whatever it declares). Unlike `decode`, which
/// reads what legacy systems answer as best it can, a pushed body that does not match its
/// declaration is refused rather than guessed.
pub fn decode_declared(bytes: &[u8], http_charset: Option<&str>) -> Result<Decoded, DecodeError> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let labelled = http_charset.map(|label| Encoding::for_label(label.trim().as_bytes()));
        if !chinese(encoding) || labelled.is_some_and(|l| l != Some(encoding)) {
            return Err(DecodeError {
                tried: format!(
                    "{} (its byte-order mark; declared {}; only UTF-8, GBK and GB18030 are accepted)",
                    encoding.name(),
                    http_charset.unwrap_or("nothing")
                ),
            });
        }
        return strict(&bytes[bom..], encoding).ok_or_else(|| DecodeError {
            tried: encoding.name().to_owned(),
        });
    }
    let label = http_charset.or_else(|| declared(bytes));
    let encoding = match label {
        Some(label) => Encoding::for_label(label.trim().as_bytes())
            .filter(|e| chinese(e))
            .ok_or_else(|| DecodeError {
                tried: format!("{label} (only UTF-8, GBK and GB18030 are accepted)"),
            })?,
        None => UTF_8,
    };
    strict(bytes, encoding).ok_or_else(|| DecodeError {
        tried: encoding.name().to_owned(),
    })
}

/// Looks an encoding up by label, for configs (UTF-8, GBK and GB18030 only).
pub(crate) fn for_requests(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes()).filter(|e| chinese(e))
}

/// Encodes text; characters the encoding lacks become numeric character references (GBK has
/// no emoji, for example), which XML reads back as the same characters.
pub fn encode(text: &str, encoding: &'static Encoding) -> Vec<u8> {
    encoding.encode(text).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(text: &str) -> Vec<u8> {
        encode(text, GBK)
    }

    #[test]
    fn labels_are_found() {
        assert_eq!(charset_of("text/xml; charset=GBK"), Some("GBK"));
        assert_eq!(
            charset_of(r#"application/soap+xml; action="urn:x"; Charset="gb18030""#),
            Some("gb18030")
        );
        assert_eq!(charset_of("text/xml"), None);
        assert_eq!(
            declared(br#"<?xml version="1.0" encoding='GBK'?><a/>"#),
            Some("GBK")
        );
        assert_eq!(
            declared(br#"<?xml version="1.0" encoding = "utf-8" ?>"#),
            Some("utf-8")
        );
        assert_eq!(declared(br#"<?xml version="1.0"?><a/>"#), None);
        assert_eq!(declared(b"<a/>"), None);
    }

    #[test]
    fn encodings_are_detected_from_labels_and_bytes() {
        let text = "<?xml version=\"1.0\" encoding=\"DECL\"?><办件><姓名>欧阳娜</姓名><事项>养老保险待遇申领</事项></办件>";
        let body = |decl: &str, encoding| encode(&text.replace("DECL", decl), encoding);
        // (body, HTTP charset, expected encoding)
        let cases: Vec<(&str, Vec<u8>, Option<&str>, &'static Encoding)> = vec![
            ("labels agree on GBK", body("GBK", GBK), Some("GBK"), GBK),
            ("GB2312 is read as GBK", body("GB2312", GBK), None, GBK),
            ("GB18030 declared", body("GB18030", GB18030), None, GB18030),
            ("UTF-8 agreed", body("UTF-8", UTF_8), Some("utf-8"), UTF_8),
            ("GBK body declared UTF-8", body("UTF-8", GBK), None, GB18030),
            (
                "GBK body, header UTF-8, declaration GBK",
                body("GBK", GBK),
                Some("UTF-8"),
                GBK,
            ),
            (
                "GBK body, no declaration",
                gbk("<办件><姓名>欧阳娜</姓名></办件>"),
                None,
                GB18030,
            ),
            (
                "UTF-8 body declared GBK, header UTF-8",
                body("GBK", UTF_8),
                Some("UTF-8"),
                UTF_8,
            ),
            (
                "GBK body with a servlet's ISO-8859-1",
                body("GBK", GBK),
                Some("ISO-8859-1"),
                GBK,
            ),
            ("UTF-8 body, no labels", encode("<a>中文</a>", UTF_8), None, UTF_8),
            (
                "ASCII body labelled ISO-8859-1",
                b"<a>x</a>".to_vec(),
                Some("ISO-8859-1"),
                UTF_8,
            ),
        ];
        for (name, bytes, http, expected) in cases {
            let decoded = decode(&bytes, http).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(decoded.encoding, expected, "{name}");
            assert!(
                decoded.text.contains("<a>") || decoded.text.contains("欧阳娜"),
                "{name}: {}",
                decoded.text
            );
        }
    }

    #[test]
    fn byte_order_marks_win_and_garbage_is_refused() {
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("<a>中</a>".as_bytes());
        assert_eq!(decode(&bom, Some("GBK")).unwrap().text, "<a>中</a>");
        // 0x80 alone is neither UTF-8 nor GB18030, and 0xFF is never a GB18030 lead byte.
        let err = decode(&[b'<', b'a', b'>', 0xFF, 0x80, b'<'], None).unwrap_err();
        assert_eq!(err.to_string(), "the body is not valid text in UTF-8, gb18030");
    }

    #[test]
    fn pushed_bodies_must_match_their_declaration() {
        let text = "<?xml version=\"1.0\" encoding=\"GBK\"?><办件/>";
        assert_eq!(decode_declared(&gbk(text), None).unwrap().encoding, GBK);
        assert_eq!(
            decode_declared(&gbk(text), Some("gb18030")).unwrap().encoding,
            GB18030
        );
        assert!(decode_declared(&gbk(text), Some("utf-8")).is_err());
        assert!(decode_declared(&gbk("<办件/>"), None).is_err());
        assert!(decode_declared(b"<a/>", Some("ISO-8859-1")).is_err());
        assert_eq!(
            decode_declared("<办件/>".as_bytes(), None).unwrap().encoding,
            UTF_8
        );
    }

    #[test]
    fn a_byte_order_mark_must_be_utf8_and_agree_with_the_charset() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<a/>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        for charset in [None, Some("GBK"), Some("UTF-16")] {
            let err = decode_declared(&utf16, charset).unwrap_err();
            assert!(err.tried.contains("UTF-16LE"), "{err}");
        }
        let mut utf8 = vec![0xEF, 0xBB, 0xBF];
        utf8.extend_from_slice("<办件/>".as_bytes());
        assert!(decode_declared(&utf8, Some("GBK")).is_err());
        for charset in [None, Some("utf-8"), Some("UTF8")] {
            let decoded = decode_declared(&utf8, charset).unwrap();
            assert_eq!((decoded.encoding, decoded.text.as_str()), (UTF_8, "<办件/>"));
        }
    }

    #[test]
    fn unmappable_characters_become_references() {
        assert_eq!(encode("a😀", GBK), b"a&#128512;".to_vec());
        assert_eq!(for_requests("gbk"), Some(GBK));
        assert_eq!(for_requests("latin1"), None);
    }
}
