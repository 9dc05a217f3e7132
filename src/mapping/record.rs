//! The XML record a mapping reads (issue 19): every element and attribute below the record
//! element that the mapping's source paths name (the key, each rule's `from`, `concat` parts,
//! `when` path and `add_working_days` path), with the XML Schema type its rules can read and
//! whether the mapping needs it in every record. The write-back's WSDL types a system's case
//! element with it, so stock SOAP clients build records the mapping maps.

use super::config::{Convert, MappingConfig, Rule, Shape};
use super::schema::{Group, Kind, TARGETS};

/// The XML Schema type of a value the mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XsdType {
    /// Any text (a code translated by a table, a name, a value read several ways).
    String,
    /// A whole number (`i64`).
    Long,
    /// A number of working days (`u32`).
    UnsignedInt,
    /// A date, read by a `format` that has no time.
    Date,
    /// A timestamp without a `format`: RFC 3339, or without an offset as Beijing time.
    DateTime,
}

impl XsdType {
    /// The type's qualified name with the `xsd` prefix.
    pub fn name(self) -> &'static str {
        match self {
            XsdType::String => "xsd:string",
            XsdType::Long => "xsd:long",
            XsdType::UnsignedInt => "xsd:unsignedInt",
            XsdType::Date => "xsd:date",
            XsdType::DateTime => "xsd:dateTime",
        }
    }

    /// The type a value read as both `self` and `other` can have: text is read as anything,
    /// a number of days is also a whole number, and uses that agree on nothing else are text.
    fn meet(self, other: XsdType) -> XsdType {
        match (self, other) {
            (a, b) if a == b => a,
            (XsdType::String, t) | (t, XsdType::String) => t,
            (XsdType::Long, XsdType::UnsignedInt) | (XsdType::UnsignedInt, XsdType::Long) => {
                XsdType::UnsignedInt
            }
            _ => XsdType::String,
        }
    }
}

/// A value (an element's text or an attribute) the mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub xsd: XsdType,
    /// Every record needs it: the key, or the only source of a required case field.
    pub required: bool,
}

impl Read {
    fn join(self, other: Read) -> Read {
        Read {
            xsd: self.xsd.meet(other.xsd),
            required: self.required || other.required,
        }
    }
}

/// An element of the record (the record element itself at the root), in the order the
/// mapping's rules first name its parts: the key first, then the canonical fields' order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordElement {
    /// Its local name (empty at the root: the record element's name is the intake's).
    pub name: String,
    /// Its own text, when a path ends at it.
    pub text: Option<Read>,
    pub attributes: Vec<(String, Read)>,
    pub children: Vec<RecordElement>,
}

impl RecordElement {
    /// Whether every record must hold this element: it, an attribute or a descendant is needed.
    pub fn required(&self) -> bool {
        self.text.is_some_and(|t| t.required)
            || self.attributes.iter().any(|(_, a)| a.required)
            || self.children.iter().any(RecordElement::required)
    }

    fn add(&mut self, elements: &[&str], attribute: Option<&str>, read: Read) {
        let Some((first, rest)) = elements.split_first() else {
            match attribute {
                Some(name) => match self.attributes.iter_mut().find(|(n, _)| n == name) {
                    Some((_, have)) => *have = have.join(read),
                    None => self.attributes.push((name.to_owned(), read)),
                },
                None => self.text = Some(self.text.map_or(read, |have| have.join(read))),
            }
            return;
        };
        let at = match self.children.iter().position(|c| c.name == *first) {
            Some(i) => i,
            None => {
                self.children.push(RecordElement {
                    name: (*first).to_owned(),
                    ..RecordElement::default()
                });
                self.children.len() - 1
            }
        };
        self.children[at].add(rest, attribute, read);
    }
}

/// The record a mapping reads, and the paths left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlRecord {
    pub root: RecordElement,
    /// Paths whose names are not XML names (a prefix, a leading digit): nothing can send them,
    /// so the schema leaves them out and says so.
    pub skipped: Vec<String>,
}

/// The record element `config` reads, or `None` when its records are not XML.
pub fn xml_record(config: &MappingConfig) -> Option<XmlRecord> {
    if config.source.shape != Shape::Xml {
        return None;
    }
    let mut record = XmlRecord {
        root: RecordElement::default(),
        skipped: Vec::new(),
    };
    let key = Read {
        xsd: XsdType::String,
        required: true,
    };
    add_path(&mut record, &config.source.key, key);
    for target in TARGETS {
        let Some(rule) = config.fields.get(target.path) else {
            continue;
        };
        let text = |required| Read {
            xsd: XsdType::String,
            required,
        };
        if let Some(from) = &rule.from {
            let read = Read {
                xsd: typed(rule, target.kind),
                required: target.required
                    && target.group == Group::Case
                    && rule.default.is_none()
                    && rule.when.is_none(),
            };
            add_path(&mut record, from, read);
        }
        for part in rule.concat.iter().flatten() {
            add_path(&mut record, part, text(false));
        }
        if let Some(when) = &rule.when {
            add_path(&mut record, &when.path, text(false));
        }
        if let Some(days) = &rule.add_working_days {
            let read = Read {
                xsd: XsdType::UnsignedInt,
                required: false,
            };
            add_path(&mut record, days, read);
        }
    }
    Some(record)
}

/// The type a `from` rule reads its value as: only a value taken as it is has a type beyond
/// text (a table, a registry lookup or a conversion reads any text).
fn typed(rule: &Rule, kind: Kind) -> XsdType {
    if rule.table.is_some() || rule.lookup.is_some() {
        return XsdType::String;
    }
    match (kind, rule.format.as_deref(), rule.convert) {
        (Kind::Integer, _, None) => XsdType::Long,
        (Kind::Timestamp, None, None) => XsdType::DateTime,
        (Kind::Timestamp, Some("%Y-%m-%d"), None) => XsdType::Date,
        (Kind::Integer, _, Some(Convert::EpochMillis)) | (Kind::Timestamp, _, _) => XsdType::String,
        (Kind::Text | Kind::Code(_), _, _) => XsdType::String,
    }
}

/// Adds an element path (`申请人/姓名`, `受理部门/@代码`, `.`) to the record.
fn add_path(record: &mut XmlRecord, path: &str, read: Read) {
    let path = path.trim();
    let mut elements: Vec<&str> = path.split('/').filter(|p| *p != ".").collect();
    let attribute = match elements.last() {
        Some(last) if last.starts_with('@') => elements.pop().map(|a| &a[1..]),
        _ => None,
    };
    if !elements.iter().copied().chain(attribute).all(is_xml_name) {
        if !record.skipped.iter().any(|s| s == path) {
            record.skipped.push(path.to_owned());
        }
        return;
    }
    record.root.add(&elements, attribute, read);
}

/// Whether `name` is an XML name without a prefix (an NCName), as a schema may declare it.
pub fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> XmlRecord {
        xml_record(&toml::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn the_record_holds_each_path_with_its_type_and_whether_it_is_needed() {
        let got = record(
            r#"
[source]
shape = "xml"
key = "办件编号"
[fields]
case_no = { from = "办件编号" }
version = { from = "版本号" }
"applicant.name" = { from = "申请人/姓名" }
"applicant.kind" = { from = "申请人/@类型" }
"acceptance.department_uscc" = { from = "受理部门/@代码", when = { path = "受理时间" } }
"acceptance.accepted_at" = { from = "受理时间" }
"acceptance.promised_finish_at" = { from = "受理时间", add_working_days = "承诺时限" }
"acceptance.time_limit_working_days" = { from = "承诺时限" }
"result.code" = { from = "办理状态", table = "result" }
applied_at = { from = "申请日期", format = "%Y-%m-%d" }
updated_at = { from = "更新时间", format = "%Y%m%d%H%M%S" }
item_name = { concat = ["a:名称", "名称2"] }
[tables.result]
"09" = "approved"
"#,
        );
        let root = &got.root;
        let names: Vec<_> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "办件编号",
                "版本号",
                "名称2",
                "申请人",
                "申请日期",
                "受理部门",
                "受理时间",
                "承诺时限",
                "办理状态",
                "更新时间"
            ]
        );
        let child = |name: &str| root.children.iter().find(|c| c.name == name).unwrap();
        let text = |name: &str| child(name).text.unwrap();
        assert_eq!(
            text("办件编号"),
            Read {
                xsd: XsdType::String,
                required: true
            }
        );
        assert_eq!(
            text("版本号"),
            Read {
                xsd: XsdType::Long,
                required: true
            }
        );
        assert_eq!(text("受理时间").xsd, XsdType::DateTime);
        assert!(!text("受理时间").required, "the acceptance is optional");
        assert_eq!(text("承诺时限").xsd, XsdType::UnsignedInt);
        assert_eq!(text("办理状态").xsd, XsdType::String);
        assert_eq!(
            text("申请日期"),
            Read {
                xsd: XsdType::Date,
                required: true
            }
        );
        assert_eq!(text("更新时间").xsd, XsdType::String);
        let applicant = child("申请人");
        assert!(applicant.text.is_none() && !applicant.required());
        assert_eq!(applicant.children[0].name, "姓名");
        assert_eq!(applicant.attributes[0].0, "类型");
        assert_eq!(child("受理部门").attributes[0].0, "代码");
        assert_eq!(got.skipped, ["a:名称"]);
        assert!(root.required());
    }

    #[test]
    fn records_of_other_shapes_have_no_xml_record() {
        let config = toml::from_str("[source]\nshape = \"json\"\nkey = \"/caseNo\"\n").unwrap();
        assert!(xml_record(&config).is_none());
        assert!(is_xml_name("办件") && is_xml_name("_a-1.b"));
        assert!(!is_xml_name("1a") && !is_xml_name("a:b") && !is_xml_name(""));
    }
}
