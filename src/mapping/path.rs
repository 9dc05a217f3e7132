//! Source paths into raw records, compiled once: JSON pointers, XML element paths and column
//! names. A lookup yields the scalar text at the path, or nothing.

use std::borrow::Cow;

use ronghe_adapters::{Raw, XmlElement};
use serde_json::Value;

use super::config::Shape;

/// A compiled path for one record shape.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SourcePath {
    /// A JSON pointer, split into its unescaped reference tokens.
    Json(Vec<String>),
    Xml {
        elements: Vec<String>,
        attribute: Option<String>,
    },
    Column(String),
}

impl SourcePath {
    /// Compiles `text` for `shape`, or says what is wrong with it.
    pub(super) fn compile(shape: Shape, text: &str) -> Result<SourcePath, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the path is empty".to_owned());
        }
        match shape {
            Shape::Json if text.starts_with('/') => Ok(SourcePath::Json(
                text.split('/')
                    .skip(1)
                    .map(|t| t.replace("~1", "/").replace("~0", "~"))
                    .collect(),
            )),
            Shape::Json => Err(format!(
                "{text:?} is not a JSON pointer: start with / (e.g. /applicant/idNo)"
            )),
            Shape::Row if text.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                Ok(SourcePath::Column(text.to_owned()))
            }
            Shape::Row => Err(format!("{text:?} is not a column name (letters, digits and _)")),
            Shape::Xml => {
                let mut elements: Vec<String> = Vec::new();
                let mut attribute = None;
                let parts: Vec<&str> = text.split('/').collect();
                for (i, part) in parts.iter().enumerate() {
                    match *part {
                        "." if parts.len() == 1 => {}
                        p if p.starts_with('@') && i == parts.len() - 1 && p.len() > 1 => {
                            attribute = Some(p[1..].to_owned())
                        }
                        p if !p.is_empty() && !p.contains(['@', ' ', '.']) => elements.push(p.to_owned()),
                        _ => {
                            return Err(format!(
                                "{text:?} is not an element path (e.g. 申请人/姓名, 办件/@id, or . for the record's text)"
                            ));
                        }
                    }
                }
                Ok(SourcePath::Xml { elements, attribute })
            }
        }
    }

    /// The scalar text at this path in `raw`, if any. Objects, arrays and nulls are no value.
    pub(super) fn lookup<'a>(&self, raw: &'a Raw) -> Option<Cow<'a, str>> {
        match (self, raw) {
            (SourcePath::Json(tokens), Raw::Json(value)) => match json_at(value, tokens)? {
                Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                Value::Number(n) => Some(Cow::Owned(n.to_string())),
                Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
                _ => None,
            },
            (SourcePath::Xml { elements, attribute }, Raw::Xml(root)) => {
                let mut element: &XmlElement = root;
                for name in elements {
                    element = element.child(name)?;
                }
                match attribute {
                    Some(a) => element.attribute(a).map(Cow::Borrowed),
                    None => Some(Cow::Borrowed(element.text.as_str())),
                }
            }
            (SourcePath::Column(column), Raw::Row(row)) => row.get(column)?.as_text().map(Cow::Owned),
            _ => None,
        }
    }
}

/// The value at a pointer's reference tokens, without re-parsing the pointer.
fn json_at<'a>(mut value: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    for token in tokens {
        value = match value {
            Value::Object(map) => map.get(token.as_str())?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The shape of a raw record.
pub(super) fn shape_of(raw: &Raw) -> Shape {
    match raw {
        Raw::Json(_) => Shape::Json,
        Raw::Xml(_) => Shape::Xml,
        Raw::Row(_) => Shape::Row,
    }
}

#[cfg(test)]
mod tests {
    use ronghe_adapters::{Row, SqlValue};
    use serde_json::json;

    use super::*;

    fn check(shape: Shape, path: &str, raw: &Raw, expected: Option<&str>) {
        let compiled = SourcePath::compile(shape, path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(compiled.lookup(raw).as_deref(), expected, "{path}");
    }

    #[test]
    fn lookups_in_each_shape() {
        let json = Raw::Json(json!({"a": {"b": "x", "n": 3, "o": {}}, "list": [{"c": "y"}]}));
        check(Shape::Json, "/a/b", &json, Some("x"));
        check(Shape::Json, "/a/n", &json, Some("3"));
        check(Shape::Json, "/list/0/c", &json, Some("y"));
        check(Shape::Json, "/a/o", &json, None);
        check(Shape::Json, "/missing", &json, None);

        let leaf = |name: &str, text: &str| XmlElement {
            name: name.into(),
            text: text.into(),
            ..Default::default()
        };
        let xml = Raw::Xml(XmlElement {
            name: "办件".into(),
            attributes: vec![("id".into(), "7".into())],
            text: "t".into(),
            children: vec![XmlElement {
                name: "申请人".into(),
                children: vec![leaf("姓名", "张三")],
                ..Default::default()
            }],
            ..Default::default()
        });
        check(Shape::Xml, "申请人/姓名", &xml, Some("张三"));
        check(Shape::Xml, "@id", &xml, Some("7"));
        check(Shape::Xml, ".", &xml, Some("t"));
        check(Shape::Xml, "申请人/年龄", &xml, None);

        let row = Raw::Row(Row(vec![
            ("SQRMC".into(), SqlValue::Text("李四".into())),
            ("BBH".into(), SqlValue::Int(2)),
            ("X".into(), SqlValue::Null),
        ]));
        check(Shape::Row, "sqrmc", &row, Some("李四"));
        check(Shape::Row, "BBH", &row, Some("2"));
        check(Shape::Row, "X", &row, None);
        check(Shape::Json, "/a/b", &row, None);
    }

    #[test]
    fn bad_paths_are_refused() {
        for (shape, path) in [
            (Shape::Json, "a/b"),
            (Shape::Row, "A B"),
            (Shape::Xml, "a//b"),
            (Shape::Xml, "@"),
            (Shape::Xml, "a/@b/c"),
            (Shape::Json, " "),
        ] {
            assert!(SourcePath::compile(shape, path).is_err(), "{path}");
        }
    }
}
