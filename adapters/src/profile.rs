//! What a probe discovers about a system: its operations or tables, their fields with types and
//! nullability, record counts, and a sample of records. Assessment and mapping generation read it.

use serde::{Deserialize, Serialize};

/// The discovered shape of a departmental system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Operations (REST resources, SOAP operations) or tables, as the system names them.
    pub entities: Vec<Entity>,
}

/// One operation or table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub name: String,
    /// `table`, `view`, `resource` or `operation`.
    pub kind: String,
    pub fields: Vec<Field>,
    /// Number of records, where the system tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_count: Option<u64>,
    /// A few records as JSON (see `Raw::to_json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<serde_json::Value>,
}

/// One field of an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Path of the field in a record: a column name, a JSON pointer, or an XML element path.
    pub name: String,
    /// The source's own type name (`varchar(50)`, `string`, `xsd:dateTime`…), or one inferred from samples.
    pub data_type: String,
    pub nullable: bool,
}

impl Profile {
    /// Infers fields from JSON samples: every leaf path with its JSON type; a path missing from
    /// or null in some sample is nullable.
    pub fn fields_from_samples(samples: &[serde_json::Value]) -> Vec<Field> {
        let mut fields: Vec<Field> = Vec::new();
        for sample in samples {
            let mut seen = Vec::new();
            collect_leaves(sample, String::new(), &mut seen);
            for (path, data_type) in seen {
                match fields.iter_mut().find(|f| f.name == path) {
                    Some(field) if data_type == "null" => field.nullable = true,
                    Some(field) if field.data_type == "null" => field.data_type = data_type,
                    Some(_) => {}
                    None => fields.push(Field {
                        nullable: data_type == "null",
                        name: path,
                        data_type,
                    }),
                }
            }
        }
        for field in &mut fields {
            let everywhere = samples.iter().all(|s| s.pointer(&field.name).is_some());
            field.nullable |= !everywhere;
        }
        fields
    }
}

fn collect_leaves(value: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
    use serde_json::Value::*;
    match value {
        Object(map) => {
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_leaves(v, format!("{path}/{escaped}"), out);
            }
        }
        Array(items) => match items.first() {
            Some(first) => collect_leaves(first, format!("{path}/0"), out),
            None => out.push((path, "array".to_owned())),
        },
        Null => out.push((path, "null".to_owned())),
        Bool(_) => out.push((path, "boolean".to_owned())),
        Number(n) if n.is_i64() || n.is_u64() => out.push((path, "integer".to_owned())),
        Number(_) => out.push((path, "number".to_owned())),
        String(_) => out.push((path, "string".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_inferred_from_samples() {
        let samples = [
            json!({"no": "A1", "n": 1, "who": {"name": "张三"}, "memo": null}),
            json!({"no": "A2", "n": 2, "who": {"name": "李四"}, "memo": "x", "extra": true}),
        ];
        let fields = Profile::fields_from_samples(&samples);
        let find = |n: &str| {
            fields
                .iter()
                .find(|f| f.name == n)
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        assert_eq!(
            (find("/no").data_type.as_str(), find("/no").nullable),
            ("string", false)
        );
        assert_eq!(find("/n").data_type, "integer");
        assert_eq!(find("/who/name").data_type, "string");
        assert_eq!(
            (find("/memo").data_type.as_str(), find("/memo").nullable),
            ("string", true)
        );
        assert!(find("/extra").nullable, "missing from one sample");
    }
}
