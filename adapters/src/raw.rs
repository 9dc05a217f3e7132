//! Records as the legacy system shapes them: a JSON value, an XML element tree or a SQL row.
//! Adapters produce these; the mapping engine reads them; nothing here knows the canonical case.

use serde::Serialize;
use serde_json::{Map, Value};

/// One record in its source's own shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Json(Value),
    Xml(XmlElement),
    Row(Row),
}

/// An XML element: local name, namespace URI, attributes, text and child elements.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct XmlElement {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
    /// The element's own text, concatenated and trimmed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<XmlElement>,
}

impl XmlElement {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The value of an attribute by local name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A SQL row: column names and values in select order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Row(pub Vec<(String, SqlValue)>);

impl Row {
    pub fn get(&self, column: &str) -> Option<&SqlValue> {
        self.0
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(column))
            .map(|(_, v)| v)
    }
}

/// A SQL value, reduced to what every database can give. Dates and times arrive as text in
/// the database's own format; the mapping parses them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// Hex-encoded when shown as JSON.
    Bytes(#[serde(serialize_with = "hex_bytes")] Vec<u8>),
}

fn hex_bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl SqlValue {
    /// The value as text, for keys and watermarks.
    pub fn as_text(&self) -> Option<String> {
        match self {
            SqlValue::Null => None,
            SqlValue::Bool(b) => Some(b.to_string()),
            SqlValue::Int(i) => Some(i.to_string()),
            SqlValue::Float(f) => Some(f.to_string()),
            SqlValue::Text(t) => Some(t.clone()),
            SqlValue::Bytes(b) => Some(b.iter().map(|b| format!("{b:02x}")).collect()),
        }
    }
}

impl Raw {
    /// The record as JSON, for output and inspection. XML follows one convention: an element
    /// with neither attributes nor children is its text; otherwise an object with `@attribute`
    /// keys, `#text`, and one key per child name (an array when the name repeats).
    pub fn to_json(&self) -> Value {
        match self {
            Raw::Json(v) => v.clone(),
            Raw::Xml(e) => {
                let mut root = Map::new();
                root.insert(e.name.clone(), xml_to_json(e));
                Value::Object(root)
            }
            Raw::Row(row) => Value::Object(
                row.0
                    .iter()
                    .map(|(c, v)| (c.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
                    .collect(),
            ),
        }
    }
}

fn xml_to_json(e: &XmlElement) -> Value {
    if e.attributes.is_empty() && e.children.is_empty() {
        return Value::String(e.text.clone());
    }
    let mut map = Map::new();
    for (k, v) in &e.attributes {
        map.insert(format!("@{k}"), Value::String(v.clone()));
    }
    if !e.text.is_empty() {
        map.insert("#text".to_owned(), Value::String(e.text.clone()));
    }
    for child in &e.children {
        let value = xml_to_json(child);
        match map.get_mut(&child.name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(child.name.clone(), value);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn leaf(name: &str, text: &str) -> XmlElement {
        XmlElement {
            name: name.into(),
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn xml_as_json_follows_the_convention() {
        let e = XmlElement {
            name: "办件".into(),
            attributes: vec![("id".into(), "1".into())],
            children: vec![leaf("SXMC", "食品经营许可"), leaf("CL", "a"), leaf("CL", "b")],
            ..Default::default()
        };
        assert_eq!(
            Raw::Xml(e).to_json(),
            json!({"办件": {"@id": "1", "SXMC": "食品经营许可", "CL": ["a", "b"]}})
        );
    }

    #[test]
    fn rows_as_json() {
        let row = Row(vec![
            ("SBLSH".into(), SqlValue::Text("A1".into())),
            ("N".into(), SqlValue::Int(3)),
            ("X".into(), SqlValue::Null),
            ("B".into(), SqlValue::Bytes(vec![0, 255])),
        ]);
        assert_eq!(row.get("sblsh"), Some(&SqlValue::Text("A1".into())));
        assert_eq!(
            Raw::Row(row).to_json(),
            json!({"SBLSH": "A1", "N": 3, "X": null, "B": "00ff"})
        );
    }
}
