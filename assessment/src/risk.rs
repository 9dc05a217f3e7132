//! Data-sharing risk (Art. 24, second paragraph: 数据敏感性分析、保障能力、应用合规性).
//! Sensitivity comes from the system's data profile — which fields it shares and what their
//! values look like — and safeguards and compliance from the panel's scores. The profile is
//! optional: the adapters' probe produces it; until one exists the report says so and gives no
//! risk level. Sample values are read to classify fields and never copied into the result.

use serde::{Deserialize, Serialize};

use crate::panel::EPS;
use crate::rubric::Rubric;
use crate::verdict::Level;

/// What is known of the data a system holds and shares: field names, and a few sample values
/// per field.
///
/// ```json
/// {"source": "adapters probe 2025-11-20", "fields": [
///   {"name": "SQRZJHM", "label": "申请人证件号码", "shared": true, "samples": ["520102199001011234"]},
///   {"name": "LXDH", "label": "联系电话", "samples": ["13985012345"]},
///   {"name": "SXMC", "label": "事项名称", "samples": ["食品经营许可"]}]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProfile {
    /// Where the profile came from (a probe run, a data catalogue).
    #[serde(default)]
    pub source: Option<String>,
    pub fields: Vec<ProfileField>,
}

/// One field of a data profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileField {
    /// The field's name in the legacy system (`SQRZJHM`, `applicant.certificate_no`).
    pub name: String,
    /// Its meaning in words, when known (`申请人证件号码`).
    #[serde(default)]
    pub label: Option<String>,
    /// Whether the field is shared with the platform or the exchange (default yes).
    #[serde(default = "shared_by_default")]
    pub shared: bool,
    /// A few sample values; read, never copied.
    #[serde(default)]
    pub samples: Vec<String>,
}

fn shared_by_default() -> bool {
    true
}

/// Kinds of personal data the analysis looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// 身份证件号码.
    PersonalId,
    /// 姓名.
    Name,
    /// 电话号码.
    Phone,
    /// 地址.
    Address,
}

impl Sensitivity {
    pub fn label(self) -> &'static str {
        match self {
            Sensitivity::PersonalId => "个人身份证件号码",
            Sensitivity::Name => "姓名",
            Sensitivity::Phone => "电话号码",
            Sensitivity::Address => "地址",
        }
    }

    /// Words in a field's name or label that announce the kind (English, Chinese, and the
    /// pinyin initials legacy schemas use: ZJHM 证件号码, LXDH 联系电话, SQRMC 申请人名称 …),
    /// compared with the name lower-cased and stripped of separators (`/applicant/idNo` reads
    /// `applicantidno`, `SQR_XM` reads `sqrxm`).
    fn hints(self) -> &'static [&'static str] {
        match self {
            Sensitivity::PersonalId => &[
                "身份证",
                "证件号",
                "zjhm",
                "sfzh",
                "idcard",
                "idno",
                "idnumber",
                "certificateno",
                "certno",
            ],
            Sensitivity::Name => &[
                "姓名",
                "申请人名称",
                "联系人",
                "xm",
                "sqrmc",
                "lxr",
                "personname",
                "applicantname",
                "contactname",
            ],
            Sensitivity::Phone => &["电话", "手机", "lxdh", "sjhm", "phone", "mobile", "tel"],
            Sensitivity::Address => &["地址", "住址", "address", "addr", "dz"],
        }
    }

    /// Whether a sample value has the shape of this kind.
    fn matches(self, value: &str) -> bool {
        let v = value.trim();
        match self {
            Sensitivity::PersonalId => looks_like_resident_id(v),
            Sensitivity::Phone => looks_like_phone(v),
            Sensitivity::Address => {
                ["省", "市", "区", "县", "镇", "乡", "街道", "路", "号", "村"]
                    .iter()
                    .filter(|m| v.contains(*m))
                    .count()
                    >= 2
            }
            // Two to four Chinese characters are a name only when the field says so.
            Sensitivity::Name => false,
        }
    }

    const ALL: [Sensitivity; 4] = [
        Sensitivity::PersonalId,
        Sensitivity::Name,
        Sensitivity::Phone,
        Sensitivity::Address,
    ];
}

/// 17 digits and a check character, with a plausible birth date (the shape of GB 11643; the
/// check digit is the platform's validators' business).
fn looks_like_resident_id(v: &str) -> bool {
    let bytes = v.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    if !(bytes[17].is_ascii_digit() || bytes[17] == b'X' || bytes[17] == b'x') {
        return false;
    }
    let number = |r: std::ops::Range<usize>| v[r].parse::<u32>().unwrap_or(0);
    (1900..=2099).contains(&number(6..10))
        && (1..=12).contains(&number(10..12))
        && (1..=31).contains(&number(12..14))
}

/// A mainland mobile number (1[3-9] and nine digits) or a landline with its area code.
fn looks_like_phone(v: &str) -> bool {
    let digits: String = v.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let b = digits.as_bytes();
    (b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]))
        || (b.first() == Some(&b'0') && (10..=12).contains(&b.len()))
}

/// A field found to hold personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitiveField {
    pub field: String,
    pub label: Option<String>,
    pub kind: Sensitivity,
    pub kind_label: String,
    pub shared: bool,
    /// Why: the name, or how many samples had the shape.
    pub evidence: String,
}

/// The sensitivity analysis of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileFindings {
    pub source: Option<String>,
    pub fields: usize,
    pub sensitive: Vec<SensitiveField>,
    /// High when a shared field holds ID numbers; medium for shared names, phones or addresses.
    pub sensitivity: Level,
    pub sensitivity_label: String,
}

fn classify_field(field: &ProfileField) -> Option<(Sensitivity, String)> {
    let name: String = field
        .name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let label = field.label.as_deref().unwrap_or("");
    // Pinyin initials are short: they count at the end of a name (SQRXM, SQRDZ), words anywhere.
    let named = |hint: &str| {
        let short = hint.is_ascii() && hint.len() <= 3;
        if short {
            name.ends_with(hint)
        } else {
            name.contains(hint) || label.contains(hint)
        }
    };
    let samples: Vec<&str> = field
        .samples
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    for kind in Sensitivity::ALL {
        let shaped = samples.iter().filter(|s| kind.matches(s)).count();
        if !samples.is_empty() && shaped * 2 >= samples.len() && shaped > 0 {
            return Some((
                kind,
                format!("{shaped}/{} 个样例值符合{}格式", samples.len(), kind.label()),
            ));
        }
    }
    Sensitivity::ALL
        .into_iter()
        .find(|kind| kind.hints().iter().any(|h| named(h)))
        .map(|kind| (kind, "字段名表明".to_owned()))
}

/// Finds the personal data in a profile.
pub fn analyse(profile: &DataProfile) -> ProfileFindings {
    let sensitive: Vec<SensitiveField> = profile
        .fields
        .iter()
        .filter_map(|f| {
            classify_field(f).map(|(kind, evidence)| SensitiveField {
                field: f.name.clone(),
                label: f.label.clone(),
                kind,
                kind_label: kind.label().to_owned(),
                shared: f.shared,
                evidence,
            })
        })
        .collect();
    let shared = |kinds: &[Sensitivity]| sensitive.iter().any(|s| s.shared && kinds.contains(&s.kind));
    let sensitivity = if shared(&[Sensitivity::PersonalId]) {
        Level::High
    } else if shared(&[Sensitivity::Name, Sensitivity::Phone, Sensitivity::Address]) {
        Level::Medium
    } else {
        Level::Low
    };
    ProfileFindings {
        source: profile.source.clone(),
        fields: profile.fields.len(),
        sensitive,
        sensitivity,
        sensitivity_label: sensitivity.label().to_owned(),
    }
}

/// The data-sharing risk in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// `None` until the system has a data profile.
    pub profile: Option<ProfileFindings>,
    /// The panel's value for the safeguards criterion (保障能力).
    pub safeguards: Option<f64>,
    /// The panel's value for the compliance criterion (应用合规性).
    pub compliance: Option<f64>,
    /// `None` without a profile: sensitivity is unknown.
    pub level: Option<Level>,
    pub level_label: String,
    /// How the level was reached, or why there is none.
    pub explanation: Vec<String>,
}

/// The risk from an optional profile and the panel's values (rubric order).
pub fn assess_risk(rubric: &Rubric, profile: Option<&DataProfile>, values: &[Option<f64>]) -> Risk {
    let rules = &rubric.spec.risk;
    let value_of = |id: &str| rubric.criterion(id).and_then(|(i, _)| values[i]);
    let safeguards = value_of(&rules.safeguards);
    let compliance = value_of(&rules.compliance);
    let Some(profile) = profile else {
        return Risk {
            profile: None,
            safeguards,
            compliance,
            level: None,
            level_label: "待定".to_owned(),
            explanation: vec![
                "尚无该系统的数据画像(适配器探查的结果,或作出结论时提供的画像),未做数据敏感性分析,风险等级待定;保障能力和应用合规性见专家评分。".to_owned(),
            ],
        };
    };
    let findings = analyse(profile);
    let mut level = findings.sensitivity;
    let mut explanation = vec![format!("共享数据敏感性:{}", findings.sensitivity_label)];
    let strong = |v: Option<f64>| v.is_some_and(|v| v + EPS >= rules.strong_at_least);
    let weak = |v: Option<f64>| v.is_none_or(|v| v <= rules.weak_at_most + EPS);
    if weak(safeguards) || weak(compliance) {
        level = match level {
            Level::Low => Level::Medium,
            _ => Level::High,
        };
        explanation.push(format!(
            "保障能力或应用合规性不高于 {:.1}(或无评分),风险上调一级",
            rules.weak_at_most
        ));
    } else if strong(safeguards) && strong(compliance) {
        level = match level {
            Level::High => Level::Medium,
            _ => Level::Low,
        };
        explanation.push(format!(
            "保障能力和应用合规性均不低于 {:.1},风险下调一级",
            rules.strong_at_least
        ));
    }
    Risk {
        profile: Some(findings),
        safeguards,
        compliance,
        level: Some(level),
        level_label: level.label().to_owned(),
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, label: Option<&str>, samples: &[&str]) -> ProfileField {
        ProfileField {
            name: name.to_owned(),
            label: label.map(str::to_owned),
            shared: true,
            samples: samples.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn profile() -> DataProfile {
        DataProfile {
            source: Some("test".into()),
            fields: vec![
                field("SQRZJHM", None, &["52010219900101123X", "520102198512240021"]),
                field("SQRXM", None, &["张三"]),
                field("LXDH", Some("联系电话"), &["13985012345", "0851-86801234"]),
                field("SQRDZ", None, &["贵州省贵阳市南明区中华南路1号"]),
                field("SXMC", Some("事项名称"), &["食品经营许可"]),
                field("BJSJ", None, &["2025-11-20"]),
                field("/applicant/name", None, &[]),
                field("/item/name", None, &[]),
            ],
        }
    }

    #[test]
    fn personal_fields_are_found_by_value_and_by_name() {
        let found = analyse(&profile());
        let kinds: Vec<(&str, Sensitivity)> = found
            .sensitive
            .iter()
            .map(|s| (s.field.as_str(), s.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("SQRZJHM", Sensitivity::PersonalId),
                ("SQRXM", Sensitivity::Name),
                ("LXDH", Sensitivity::Phone),
                ("SQRDZ", Sensitivity::Address),
                ("/applicant/name", Sensitivity::Name),
            ]
        );
        assert_eq!(found.sensitivity, Level::High);
        let text = serde_json::to_string(&found).unwrap();
        assert!(
            !text.contains("52010219900101123X") && !text.contains("张三"),
            "samples are never copied: {text}"
        );
    }

    #[test]
    fn risk_levels() {
        let rubric = Rubric::builtin();
        let with = |safe: f64, compliant: f64| {
            let mut v = vec![Some(3.0); rubric.spec.criteria.len()];
            v[rubric.criterion("security_safeguards").unwrap().0] = Some(safe);
            v[rubric.criterion("usage_compliance").unwrap().0] = Some(compliant);
            v
        };
        let names_only = DataProfile {
            source: None,
            fields: vec![field("LXR", None, &[]), field("SXMC", None, &[])],
        };
        let level = |p: Option<&DataProfile>, s: f64, c: f64| assess_risk(&rubric, p, &with(s, c)).level;
        assert_eq!(level(Some(&profile()), 3.0, 3.0), Some(Level::High));
        assert_eq!(level(Some(&profile()), 4.5, 4.0), Some(Level::Medium));
        assert_eq!(level(Some(&names_only), 3.0, 3.0), Some(Level::Medium));
        assert_eq!(level(Some(&names_only), 4.0, 4.0), Some(Level::Low));
        assert_eq!(level(Some(&names_only), 2.0, 5.0), Some(Level::High));
        let unknown = assess_risk(&rubric, None, &with(5.0, 5.0));
        assert_eq!((unknown.level, unknown.level_label.as_str()), (None, "待定"));
        assert!(unknown.explanation[0].contains("尚无"));
    }
}
