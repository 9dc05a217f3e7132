//! What a probe discovers about a system: its operations or tables, their fields with types and
//! nullability, record counts, a sample of records, and the distinct values of low-cardinality
//! fields over a bounded part of the source (`SCAN_RECORDS` records or rows). Assessment and
//! mapping generation read it.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::{AdapterError, RecordStream};

/// A field with more distinct values than this is not low-cardinality: its values are not counted.
pub const MAX_DISTINCT: usize = 50;

/// Whether `distinct` values over `records` records make a low-cardinality field: at most
/// `MAX_DISTINCT`, each held by two records on average (names and numbers, which rarely
/// repeat, are not counted however few the records).
pub(crate) fn low_cardinality(distinct: usize, records: u64) -> bool {
    distinct <= MAX_DISTINCT && distinct as u64 * 2 <= records
}

/// How many records a probe of a listing (REST, SOAP) scans for fields and distinct values, and
/// how many rows of a SQL table it counts distinct values over: the probe's work stays bounded
/// however large the source.
pub const SCAN_RECORDS: usize = 5000;

/// The discovered shape of a departmental system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Operations (REST resources, SOAP operations) or tables, as the system names them. The
    /// first is the one the adapter reads its case records from (the REST listing resource, the
    /// SOAP listing operation, the SQL table of the config); the others are for reference (other
    /// operations, code tables). SQL profiles stored before the probe put the records' table
    /// first list their tables in catalogue order.
    pub entities: Vec<Entity>,
}

/// One operation or table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub name: String,
    /// `table`, `view`, `resource` or `operation`.
    pub kind: String,
    pub fields: Vec<Field>,
    /// Number of records, where the system tells. For the records' entity (the first), the
    /// records the adapter reads: a SQL table's rows that pass the config's `filter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_count: Option<u64>,
    /// A few records as JSON (see `Raw::to_json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<serde_json::Value>,
}

/// One field of an entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Path of the field in a record: a column name, a JSON pointer, or an XML element path.
    pub name: String,
    /// The source's own type name (`varchar(50)`, `string`, `xsd:dateTime`…), or one inferred from samples.
    pub data_type: String,
    pub nullable: bool,
    /// For a low-cardinality field (at most `MAX_DISTINCT` values), every non-null value as
    /// text with the number of records holding it, most frequent first, counted over the first
    /// `SCAN_RECORDS` records: a SQL table's first rows as the database returns them (grouped in
    /// the database over a subquery of that many rows), or the scanned records (REST, SOAP).
    /// A source no larger than that is counted whole. Empty otherwise; profiles stored before
    /// the probe counted have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distinct: Vec<ValueCount>,
}

/// One distinct value of a field and how many records hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub records: u64,
}

/// Distinct values at each leaf path of JSON records, most frequent first; `None` for a path
/// that is not `low_cardinality`.
fn distinct_values(records: &[serde_json::Value]) -> BTreeMap<String, Option<Vec<ValueCount>>> {
    let mut counts: BTreeMap<String, Option<BTreeMap<String, u64>>> = BTreeMap::new();
    for record in records {
        let mut leaves = Vec::new();
        collect_values(record, String::new(), &mut leaves);
        for (path, value) in leaves {
            let entry = counts.entry(path).or_insert_with(|| Some(BTreeMap::new()));
            if let (Some(values), Some(value)) = (entry.as_mut(), value) {
                *values.entry(value).or_default() += 1;
                if values.len() > MAX_DISTINCT {
                    *entry = None;
                }
            }
        }
    }
    counts
        .into_iter()
        .map(|(path, values)| {
            let low = values
                .filter(|v| low_cardinality(v.len(), v.values().sum()))
                .map(ranked);
            (path, low)
        })
        .collect()
}

/// Value counts, most frequent first (then by value).
fn ranked(values: BTreeMap<String, u64>) -> Vec<ValueCount> {
    let mut ranked: Vec<ValueCount> = values
        .into_iter()
        .map(|(value, records)| ValueCount { value, records })
        .collect();
    ranked.sort_by(|a, b| b.records.cmp(&a.records).then_with(|| a.value.cmp(&b.value)));
    ranked
}

impl Profile {
    /// The entity the adapter reads its case records from (see `entities`).
    pub fn records(&self) -> Option<&Entity> {
        self.entities.first()
    }

    /// How many records the probe counted where the adapter reads them: the records' entity
    /// only, never a code table or another operation.
    pub fn counted_records(&self) -> Option<u64> {
        self.records().and_then(|e| e.record_count)
    }

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
                        distinct: Vec::new(),
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

    /// Fields inferred from scanned records (see `fields_from_samples`), each low-cardinality
    /// one with its distinct values.
    pub fn fields_from_scan(records: &[serde_json::Value]) -> Vec<Field> {
        let mut distinct = distinct_values(records);
        let mut fields = Profile::fields_from_samples(records);
        for field in &mut fields {
            field.distinct = distinct.remove(&field.name).flatten().unwrap_or_default();
        }
        fields
    }
}

/// Samples from scanned records: the first `sample_size`, then, while fewer than
/// `MAX_DISTINCT` more are taken, the first record that shows a value of a low-cardinality
/// field that no sample shows yet (fields with the fewest values first), then one for each
/// field no sample has a value of. A generator reading them sees every status code and a value
/// of every field that has one.
pub(crate) fn covering_samples(records: &[serde_json::Value], sample_size: usize) -> Vec<serde_json::Value> {
    let leaves: Vec<Vec<(String, Option<String>)>> = records
        .iter()
        .map(|r| {
            let mut leaves = Vec::new();
            collect_values(r, String::new(), &mut leaves);
            leaves
        })
        .collect();
    let mut low: Vec<(String, Vec<ValueCount>)> = Vec::new();
    let mut other = Vec::new();
    for (path, values) in distinct_values(records) {
        match values {
            Some(values) => low.push((path, values)),
            None => other.push(path),
        }
    }
    low.sort_by_key(|(_, values)| values.len());
    let wanted = low
        .iter()
        .flat_map(|(path, values)| {
            values
                .iter()
                .map(move |v| (path.as_str(), Some(v.value.as_str())))
        })
        .chain(other.iter().map(|path| (path.as_str(), None)));
    let shows = |i: usize, path: &str, value: Option<&str>| {
        leaves[i]
            .iter()
            .any(|(p, v)| p == path && v.is_some() && value.is_none_or(|x| v.as_deref() == Some(x)))
    };
    let mut taken: Vec<usize> = (0..sample_size.min(records.len())).collect();
    for (path, value) in wanted {
        if taken.len() >= sample_size + MAX_DISTINCT {
            break;
        }
        if taken.iter().any(|&i| shows(i, path, value)) {
            continue;
        }
        if let Some(i) = (0..records.len()).find(|&i| shows(i, path, value)) {
            taken.push(i);
        }
    }
    taken.sort_unstable();
    taken.into_iter().map(|i| records[i].clone()).collect()
}

/// The JSON views of the first `SCAN_RECORDS` records of a read.
pub(crate) async fn scan(records: RecordStream<'_>) -> Result<Vec<serde_json::Value>, AdapterError> {
    records
        .take(SCAN_RECORDS)
        .map_ok(|r| r.raw.to_json())
        .try_collect()
        .await
}

/// Every scalar leaf of a JSON value with its text (`None` for null), paths as in `collect_leaves`.
fn collect_values(value: &serde_json::Value, path: String, out: &mut Vec<(String, Option<String>)>) {
    use serde_json::Value::*;
    match value {
        Object(map) => {
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_values(v, format!("{path}/{escaped}"), out);
            }
        }
        Array(items) => {
            if let Some(first) = items.first() {
                collect_values(first, format!("{path}/0"), out);
            }
        }
        Null => out.push((path, None)),
        String(s) if s.trim().is_empty() => out.push((path, None)),
        String(s) => out.push((path, Some(s.trim().to_owned()))),
        Bool(b) => out.push((path, Some(b.to_string()))),
        Number(n) => out.push((path, Some(n.to_string()))),
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

    #[test]
    fn a_scan_counts_repeated_values_and_samples_cover_them() {
        let records: Vec<_> = (0..40)
            .map(|i| {
                let status = if i == 37 { "09" } else { ["01", "02"][i % 2] };
                let finished = (i == 38).then_some("2025-01-02 10:00:00");
                json!({"no": format!("A{i}"), "name": format!("申请人{i}"), "status": status, "finished": finished})
            })
            .collect();
        let fields = Profile::fields_from_scan(&records);
        let find = |n: &str| fields.iter().find(|f| f.name == n).unwrap();
        let counted: Vec<(&str, u64)> = find("/status")
            .distinct
            .iter()
            .map(|v| (v.value.as_str(), v.records))
            .collect();
        assert_eq!(counted, [("01", 20), ("02", 19), ("09", 1)]);
        assert!(
            find("/name").distinct.is_empty(),
            "names that never repeat are not counted"
        );
        assert!(find("/finished").nullable);

        let samples = covering_samples(&records, 3);
        let numbers: Vec<&str> = samples.iter().map(|s| s["no"].as_str().unwrap()).collect();
        assert_eq!(
            numbers,
            ["A0", "A1", "A2", "A37", "A38"],
            "the rare status and the one finish time"
        );
    }
}
