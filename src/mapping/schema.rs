//! The canonical fields a mapping can fill: their paths in the case, value kinds, whether they
//! are required, and the names legacy systems use for them (GB/T 39046 data-element names in
//! Chinese, common English names). The engine compiles against it; generation matches by it.

/// The kind of value a canonical field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Timestamp,
    /// A member of one of the case's code sets.
    Code(CodeSet),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSet {
    ItemType,
    CaseType,
    Channel,
    ApplicantKind,
    CertificateType,
    ResultCode,
    Stage,
}

/// The optional parts of a case: present when any of their fields has a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Case,
    Applicant,
    Acceptance,
    Result,
}

/// One canonical field.
#[derive(Debug)]
pub struct Target {
    /// Path in the canonical case, e.g. `applicant.certificate_no`.
    pub path: &'static str,
    pub kind: Kind,
    pub group: Group,
    /// Required whenever its group is present.
    pub required: bool,
    /// Holds personal data: values are masked in every message.
    pub personal: bool,
    /// zh-CN names, the GB/T 39046 data-element name first.
    pub names: &'static [&'static str],
    /// English names seen in legacy systems (compared ignoring case, `_` and `-`).
    pub english: &'static [&'static str],
}

macro_rules! targets {
    ($($path:literal $kind:expr, $group:ident, $req:literal, $personal:literal, [$($zh:literal),*], [$($en:literal),*];)*) => {
        /// Every canonical field a mapping can fill.
        pub const TARGETS: &[Target] = &[$(Target {
            path: $path,
            kind: $kind,
            group: Group::$group,
            required: $req,
            personal: $personal,
            names: &[$($zh),*],
            english: &[$($en),*],
        }),*];
    };
}

use CodeSet::*;
use Kind::*;

targets! {
    "case_no" Text, Case, true, false, ["办件编号", "申办流水号", "业务流水号", "办件流水号"], ["caseNo", "caseId", "serialNo", "applyNo"];
    "version" Integer, Case, true, false, ["版本号", "版本"], ["version", "rev"];
    "implementation_code" Text, Case, true, false, ["实施编码", "事项编码", "事项实施编码"], ["itemCode", "implementCode", "serviceCode"];
    "item_name" Text, Case, true, false, ["事项名称"], ["itemName", "serviceName"];
    "item_type" Code(ItemType), Case, false, false, ["事项类型"], ["itemType"];
    "case_type" Code(CaseType), Case, true, false, ["办件类型"], ["caseType"];
    "channel" Code(Channel), Case, true, false, ["办理形式", "申报来源"], ["channel", "source"];
    "region_code" Text, Case, true, false, ["行政区划", "行政区划代码", "办理区划"], ["areaCode", "regionCode", "divisionCode"];
    "applicant.name" Text, Applicant, true, true, ["申请者名称", "申请人名称", "申请人姓名"], ["applicantName", "name"];
    "applicant.kind" Code(ApplicantKind), Applicant, true, false, ["申请人类型", "申请者类型"], ["applicantType", "type"];
    "applicant.certificate_type" Code(CertificateType), Applicant, true, false, ["申请者证件类型", "申请人证件类型", "证件类型"], ["idType", "certType", "certificateType"];
    "applicant.certificate_no" Text, Applicant, true, true, ["申请者证件号码", "申请人证件号码", "证件号码"], ["idNo", "idCard", "certNo", "certificateNo"];
    "applicant.phone" Text, Applicant, false, true, ["联系人手机号码", "手机号码", "联系电话"], ["mobile", "phone", "tel"];
    "applicant.address" Text, Applicant, false, true, ["通讯地址", "联系地址"], ["address"];
    "applicant.legal_representative" Text, Applicant, false, true, ["法定代表人"], ["legalPerson", "legalRepresentative"];
    "applicant.account" Text, Applicant, false, true, ["申请人账号", "用户账号", "登录账号"], ["accountId", "userId", "loginName"];
    "applied_at" Timestamp, Case, true, false, ["申请时间", "申报时间", "申请日期"], ["applyTime", "appliedAt", "submitTime"];
    "acceptance.department" Text, Acceptance, true, false, ["受理单位名称", "受理部门"], ["deptName", "acceptDept", "department"];
    "acceptance.department_uscc" Text, Acceptance, true, false, ["受理单位统一社会信用代码", "受理部门代码"], ["deptCode", "deptUscc"];
    "acceptance.acceptor" Text, Acceptance, true, true, ["受理人员", "受理人", "受理人姓名"], ["acceptor", "acceptUser"];
    "acceptance.accepted_at" Timestamp, Acceptance, true, false, ["受理时间"], ["acceptTime", "acceptedAt"];
    "acceptance.document_no" Text, Acceptance, false, false, ["受理文书编号"], ["acceptDocNo"];
    "acceptance.promised_finish_at" Timestamp, Acceptance, true, false, ["承诺办结时间"], ["promiseTime", "dueTime", "deadline"];
    "acceptance.time_limit_working_days" Integer, Acceptance, false, false, ["承诺办结时限", "办结时限", "承诺时限"], ["timeLimit", "promiseDays"];
    "review_opinion" Text, Case, false, false, ["审查意见", "审批意见", "审核意见", "环节处理意见", "办理意见"], ["opinion", "reviewOpinion"];
    "result.code" Code(ResultCode), Result, true, false, ["办理结果", "办结结果代码", "办结结果"], ["result", "resultCode"];
    "result.description" Text, Result, false, false, ["办件结果描述", "结果描述"], ["resultDesc", "resultDescription"];
    "result.finished_at" Timestamp, Result, true, false, ["办结时间"], ["finishTime", "finishedAt", "endTime"];
    "result.handler" Text, Result, false, true, ["办理人姓名", "审批人姓名", "办结人"], ["handler", "approver"];
    "result.certificate_name" Text, Result, false, false, ["结果证照名称"], ["licenceName", "certName"];
    "result.certificate_no" Text, Result, false, false, ["结果证照编号", "证照编号"], ["licenceNo", "certificateNo2"];
    "stage" Code(Stage), Case, true, false, ["办件状态", "办理状态", "状态"], ["status", "state", "stage"];
    "updated_at" Timestamp, Case, true, false, ["更新时间", "最后更新时间"], ["updatedAt", "updateTime", "modifiedAt"];
}

/// The canonical field at `path`.
pub fn target(path: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.path == path)
}

impl CodeSet {
    /// Whether `value` names a member of the set (by English name or standard code).
    pub fn accepts(self, value: &str) -> bool {
        use crate::case;
        match self {
            ItemType => case::ItemType::parse(value).is_some(),
            CaseType => case::CaseType::parse(value).is_some(),
            Channel => case::Channel::parse(value).is_some(),
            ApplicantKind => case::ApplicantKind::parse(value).is_some(),
            CertificateType => case::CertificateType::parse(value).is_some(),
            ResultCode => case::ResultCode::parse(value).is_some(),
            Stage => case::Stage::parse(value).is_some(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ItemType => "item_type",
            CaseType => "case_type",
            Channel => "channel",
            ApplicantKind => "applicant_kind",
            CertificateType => "certificate_type",
            ResultCode => "result_code",
            Stage => "stage",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_personal_target_is_sealed_at_rest() {
        let mut case: crate::case::Case =
            serde_json::from_str(include_str!("../../tests/data/case_finished.json")).unwrap();
        case.applicant.legal_representative = Some("王五".into());
        case.applicant.account = Some("wang5".into());
        let mut visited = Vec::new();
        case.visit_personal(|path, _| {
            visited.push(path);
            Ok::<(), ()>(())
        })
        .unwrap();
        for target in TARGETS.iter().filter(|t| t.personal) {
            assert!(
                visited.contains(&target.path),
                "{} is personal but not sealed",
                target.path
            );
        }
        for target in TARGETS.iter().filter(|t| !t.personal) {
            assert!(
                !visited.contains(&target.path),
                "{} is sealed but not personal",
                target.path
            );
        }
    }

    #[test]
    fn every_target_is_a_field_of_the_canonical_case() {
        let case: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/case_finished.json")).unwrap();
        for t in TARGETS {
            let pointer = format!("/{}", t.path.replace('.', "/"));
            let optional_absent = matches!(
                t.path,
                "item_type" | "applicant.legal_representative" | "applicant.account" | "result.description"
            );
            assert!(
                case.pointer(&pointer).is_some() || optional_absent,
                "{} is not in the case",
                t.path
            );
        }
        let mut paths: Vec<_> = TARGETS.iter().map(|t| t.path).collect();
        paths.dedup();
        assert_eq!(paths.len(), TARGETS.len());
    }
}
