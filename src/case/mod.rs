//! The canonical case (办件): the one shape every part of the platform speaks. Fields follow
//! GB/T 39046-2020 and carry at least the Art. 27 set; legacy shapes are translated into it by
//! the mapping engine and never leak past it.

mod codes;
mod stage;
mod validation;

pub use codes::{ApplicantKind, CaseType, CertificateType, Channel, ItemType, ResultCode, StepAction};
pub use stage::Stage;
pub(crate) use validation::Problems;
pub use validation::{FieldIssue, Findings};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A case as the platform holds it. `(system, case_no)` identifies it; `version` orders the
/// snapshots a source system sends (an explicit version number, or its update time in epoch
/// milliseconds, chosen by the system's mapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// 办件编号, unique per source system (an..50).
    pub case_no: String,
    /// Monotonic version of this case in its source system.
    pub version: i64,
    /// 实施编码 (an..50: real Guizhou codes exceed the standard's 24).
    pub implementation_code: String,
    /// 事项名称 (Art. 27).
    pub item_name: String,
    /// 事项类型.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<ItemType>,
    /// 办件类型.
    pub case_type: CaseType,
    /// 办理形式 / 申报来源.
    pub channel: Channel,
    /// 办理区划 (Art. 27): GB/T 2260 code, six digits or a nine-digit township code.
    pub region_code: String,
    /// 申请人 (Art. 27).
    pub applicant: Applicant,
    /// 联系人/代理人, when someone applies on the applicant's behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Person>,
    /// 申请时间 (Art. 27).
    pub applied_at: DateTime<FixedOffset>,
    /// 事项受理: present from the acceptance stage on (受理部门, 受理人 and 办结时限 of Art. 27).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance: Option<Acceptance>,
    /// 事项办理: the handling steps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// 审查意见 (Art. 27): present once a decision is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_opinion: Option<String>,
    /// 办理结果 (Art. 27): present once the case ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CaseResult>,
    /// Where the case stands.
    pub stage: Stage,
    /// When the source system last changed the case.
    pub updated_at: DateTime<FixedOffset>,
}

/// 申请人.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    /// 申请者名称 (an..100).
    pub name: String,
    /// 申请人类型.
    pub kind: ApplicantKind,
    /// 申请者证件类型.
    pub certificate_type: CertificateType,
    /// 申请者证件号码.
    pub certificate_no: String,
    /// 联系人手机号码.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// 通讯地址.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// 法定代表人, for legal persons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<String>,
    /// The applicant's account in the departmental system (部门系统账号), when the system names
    /// it: a write-back resolves it to the platform user through the bridge's links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// A natural person acting for the applicant (联系人/代理人).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    pub certificate_type: CertificateType,
    pub certificate_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// 事项受理 (GB/T 39046 T6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// 受理单位名称 (受理部门, Art. 27).
    pub department: String,
    /// 受理单位统一社会信用代码.
    pub department_uscc: String,
    /// 受理人员 (受理人, Art. 27; an..30).
    pub acceptor: String,
    /// 受理时间.
    pub accepted_at: DateTime<FixedOffset>,
    /// 受理文书编号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_no: Option<String>,
    /// 承诺办结时间 (办结时限, Art. 27).
    pub promised_finish_at: DateTime<FixedOffset>,
    /// The item's promised time limit in working days, where the source states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_working_days: Option<u32>,
}

/// One handling step (事项办理, GB/T 39046 T7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// 环节名称.
    pub name: String,
    /// 环节处理人.
    pub handler: String,
    /// 业务动作.
    pub action: StepAction,
    /// 环节处理意见 (an..1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opinion: Option<String>,
    /// 处理单位名称.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// 环节开始时间.
    pub started_at: DateTime<FixedOffset>,
    /// 环节结束时间; absent while the step is pending (环节办理状态 待办).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<FixedOffset>>,
}

/// 事项办结 (GB/T 39046 T8) and the result of Art. 27.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseResult {
    /// 办理结果.
    pub code: ResultCode,
    /// 办件结果描述 (an..1000); a reason is required for every result but approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// 办结时间.
    pub finished_at: DateTime<FixedOffset>,
    /// 办理人姓名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// 结果证照名称.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_name: Option<String>,
    /// 结果证照编号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_no: Option<String>,
}

impl Case {
    /// SHA-256 over the case's canonical JSON, hex: equal content, equal hash. Serialisation of
    /// these plain structs cannot fail, and field order is fixed by the struct.
    pub fn content_hash(&self) -> String {
        let mut digest = HashWriter(Sha256::new());
        // Writing into a hash cannot fail, nor can serialising these plain structs.
        let _ = serde_json::to_writer(&mut digest, self);
        hex::encode(digest.0.finalize())
    }

    /// The canonical JSON and its content hash, from one serialisation.
    pub fn encoded(&self) -> Result<Serialised, serde_json::Error> {
        let json = serde_json::value::to_raw_value(self)?;
        let hash = hex::encode(Sha256::digest(json.get().as_bytes()));
        Ok((json, hash))
    }
}

/// A case's canonical JSON and the content hash over it (`Case::encoded`).
pub type Serialised = (Box<serde_json::value::RawValue>, String);

impl Case {
    /// Visits every personal value of the case with its path (issue 20; Art. 23, 32): the
    /// applicant's name, certificate number, phone, address, legal representative and account;
    /// the agent's name, certificate number and phone; the staff who accepted it, handled each
    /// step and handled its result. The one list the store seals at rest; every `personal`
    /// field of the mapping schema is among them (`mapping::schema` checks). Stops at the first
    /// error `visit` answers.
    pub fn visit_personal<E>(
        &mut self,
        mut visit: impl FnMut(&'static str, &mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        let applicant = &mut self.applicant;
        visit("applicant.name", &mut applicant.name)?;
        visit("applicant.certificate_no", &mut applicant.certificate_no)?;
        let optional = [
            ("applicant.phone", &mut applicant.phone),
            ("applicant.address", &mut applicant.address),
            (
                "applicant.legal_representative",
                &mut applicant.legal_representative,
            ),
            ("applicant.account", &mut applicant.account),
        ];
        for (path, value) in optional {
            if let Some(value) = value {
                visit(path, value)?;
            }
        }
        if let Some(agent) = &mut self.agent {
            visit("agent.name", &mut agent.name)?;
            visit("agent.certificate_no", &mut agent.certificate_no)?;
            if let Some(phone) = &mut agent.phone {
                visit("agent.phone", phone)?;
            }
        }
        if let Some(acceptance) = &mut self.acceptance {
            visit("acceptance.acceptor", &mut acceptance.acceptor)?;
        }
        for step in &mut self.steps {
            visit("steps.handler", &mut step.handler)?;
        }
        if let Some(handler) = self.result.as_mut().and_then(|r| r.handler.as_mut()) {
            visit("result.handler", handler)?;
        }
        Ok(())
    }
}

impl Case {
    /// The case as people see it by default (Art. 23): the personal fields of the mapping
    /// schema masked — a natural person's name and certificate number, phones, the address,
    /// the legal representative, the applicant's account, the agent, and the names of the staff
    /// who accepted it, handled its steps and handled it. An organisation's name and credit code stay.
    pub fn masked(&self) -> Case {
        use crate::validate::{mask_certificate, mask_name, mask_phone};
        let mut case = self.clone();
        let applicant = &mut case.applicant;
        if applicant.kind == ApplicantKind::NaturalPerson {
            applicant.name = mask_name(&applicant.name);
            applicant.certificate_no = mask_certificate(&applicant.certificate_no);
        }
        applicant.phone = applicant.phone.as_deref().map(mask_phone);
        applicant.address = applicant.address.as_deref().map(mask_address);
        applicant.legal_representative = applicant.legal_representative.as_deref().map(mask_name);
        applicant.account = applicant.account.as_deref().map(mask_certificate);
        if let Some(agent) = &mut case.agent {
            agent.name = mask_name(&agent.name);
            agent.certificate_no = mask_certificate(&agent.certificate_no);
            agent.phone = agent.phone.as_deref().map(mask_phone);
        }
        if let Some(acceptance) = &mut case.acceptance {
            acceptance.acceptor = mask_name(&acceptance.acceptor);
        }
        for step in &mut case.steps {
            step.handler = mask_name(&step.handler);
        }
        if let Some(result) = &mut case.result {
            result.handler = result.handler.as_deref().map(mask_name);
        }
        case
    }
}

/// Feeds what is written into a SHA-256: the canonical JSON hashed without being kept.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An address shows its first six characters (province, city), the rest masked.
fn mask_address(address: &str) -> String {
    let kept: String = address.chars().take(6).collect();
    let hidden = address.chars().count().saturating_sub(6);
    format!("{kept}{}", "*".repeat(hidden.min(12)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Case {
        serde_json::from_str(include_str!("../../tests/data/case_finished.json")).expect("the fixture case")
    }

    #[test]
    fn masked_hides_a_persons_values_and_keeps_an_organisations() {
        let case = fixture();
        let masked = case.masked();
        let text = serde_json::to_string(&masked).unwrap();
        if case.applicant.kind == ApplicantKind::NaturalPerson {
            assert!(!text.contains(&case.applicant.certificate_no), "{text}");
            assert!(!text.contains(&case.applicant.name), "{text}");
        }
        for phone in case.applicant.phone.iter() {
            assert!(!text.contains(phone.as_str()), "{text}");
        }
        if let Some(acceptance) = &case.acceptance {
            assert_ne!(masked.acceptance.as_ref().unwrap().acceptor, acceptance.acceptor);
        }
        let mut organisation = case.clone();
        organisation.applicant.kind = ApplicantKind::LegalPerson;
        organisation.applicant.name = "贵州黔味食品有限公司".into();
        let shown = organisation.masked();
        assert_eq!(shown.applicant.name, "贵州黔味食品有限公司");
        assert_eq!(shown.case_no, case.case_no, "nothing else changes");
    }
}
