//! Code sets of the canonical case: GB/T 39046-2020 annex A, GA/T 2000.156 certificate types, and
//! ronghe's own result codes (the standard defines none). Each set serialises as a stable English
//! name; `code()` gives the standard's code and `label()` the zh-CN name people read.

use serde::{Deserialize, Serialize};

/// Declares a code set: an enum whose variants carry (serde name, standard code, zh-CN label).
macro_rules! code_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = ($serde:literal, $code:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $serde)] $variant),+
        }

        // The schema lists the names JSON carries. Written out rather than derived: the derive
        // cannot read a `rename` passed in as a macro literal and would publish the Rust names.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .enum_values(Some([$($serde),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every member of the set, in the standard's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code the standard assigns (empty where the standard has none).
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The zh-CN name.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// The stable English name used in JSON.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $serde),+ }
            }

            /// Looks a member up by its standard code or its English name.
            pub fn parse(value: &str) -> Option<$name> {
                let value = value.trim();
                Self::ALL.iter().copied().find(|m| (!m.code().is_empty() && m.code() == value) || m.name() == value)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

code_set! {
    /// 事项类型 (GB/T 39046 annex A).
    ItemType {
        AdministrativePower = ("administrative_power", "00", "行政权力事项"),
        Licensing = ("licensing", "01", "行政许可"),
        Penalty = ("penalty", "02", "行政处罚"),
        Enforcement = ("enforcement", "03", "行政强制"),
        Levy = ("levy", "04", "行政征收"),
        Benefit = ("benefit", "05", "行政给付"),
        Inspection = ("inspection", "06", "行政检查"),
        Confirmation = ("confirmation", "07", "行政确认"),
        Reward = ("reward", "08", "行政奖励"),
        Adjudication = ("adjudication", "09", "行政裁决"),
        OtherPower = ("other_power", "10", "其他行政权力"),
        PublicService = ("public_service", "20", "公共服务"),
    }
}

code_set! {
    /// 办件类型 (GB/T 39046 annex A).
    CaseType {
        Immediate = ("immediate", "1", "即办件"),
        Promised = ("promised", "2", "承诺件"),
        Other = ("other", "9", "其他"),
    }
}

code_set! {
    /// 办理形式, the channel a case came in by (GB/T 39046 annex A).
    Channel {
        Window = ("window", "1", "窗口办理"),
        Online = ("online", "2", "网上办理"),
        Mobile = ("mobile", "3", "移动端"),
        Express = ("express", "4", "快递"),
        Other = ("other", "9", "其他"),
    }
}

code_set! {
    /// The kind of applicant (申请人类型): the standard's 服务对象 narrowed to who can apply.
    ApplicantKind {
        NaturalPerson = ("natural_person", "1", "自然人"),
        LegalPerson = ("legal_person", "2", "法人"),
        OtherOrganisation = ("other_organisation", "6", "其他组织"),
    }
}

code_set! {
    /// 证件类型 (GA/T 2000.156-2016). Legal persons are identified by the unified social credit
    /// code (GB 32100), which GA/T 2000.156 does not number.
    CertificateType {
        ResidentId = ("resident_id", "111", "居民身份证"),
        TemporaryResidentId = ("temporary_resident_id", "112", "临时居民身份证"),
        HouseholdRegister = ("household_register", "113", "户口簿"),
        MilitaryOfficer = ("military_officer", "114", "军官证"),
        Passport = ("passport", "414", "普通护照"),
        TaiwanResidentPermit = ("taiwan_resident_permit", "511", "台湾居民来往大陆通行证"),
        HongKongMacaoPermit = ("hong_kong_macao_permit", "516", "港澳居民来往内地通行证"),
        ForeignPermanentResident = ("foreign_permanent_resident", "553", "外国人永久居留身份证"),
        ForeignResidencePermit = ("foreign_residence_permit", "554", "外国人居留证"),
        UnifiedSocialCreditCode = ("unified_social_credit_code", "", "统一社会信用代码"),
        Other = ("other", "990", "其他"),
    }
}

impl CertificateType {
    /// The kind of applicant a certificate identifies: a person by a personal certificate, a
    /// legal person by a credit code (other organisations hold one too: review); `None` for
    /// `other`, which says nothing.
    pub fn applicant_kind(self) -> Option<ApplicantKind> {
        match self {
            CertificateType::UnifiedSocialCreditCode => Some(ApplicantKind::LegalPerson),
            CertificateType::Other => None,
            _ => Some(ApplicantKind::NaturalPerson),
        }
    }
}

code_set! {
    /// 办理结果. GB/T 39046 defines no result code and real integrations disagree, so this is
    /// ronghe's own set; each system's mapping translates its legacy codes into it.
    ResultCode {
        Approved = ("approved", "approved", "准予许可(出证办结)"),
        Rejected = ("rejected", "rejected", "不予许可"),
        NotAccepted = ("not_accepted", "not_accepted", "不予受理"),
        Returned = ("returned", "returned", "退件"),
        Voided = ("voided", "voided", "作废"),
        Transferred = ("transferred", "transferred", "转报"),
    }
}

code_set! {
    /// 业务动作 of a handling step (GB/T 39046 T7).
    StepAction {
        Pass = ("pass", "1", "通过"),
        Return = ("return", "2", "退回"),
        Other = ("other", "9", "其他"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_says_the_kind_of_applicant() {
        for (certificate, kind) in [
            (CertificateType::ResidentId, Some(ApplicantKind::NaturalPerson)),
            (CertificateType::Passport, Some(ApplicantKind::NaturalPerson)),
            (
                CertificateType::HongKongMacaoPermit,
                Some(ApplicantKind::NaturalPerson),
            ),
            (
                CertificateType::UnifiedSocialCreditCode,
                Some(ApplicantKind::LegalPerson),
            ),
            (CertificateType::Other, None),
        ] {
            assert_eq!(certificate.applicant_kind(), kind, "{certificate:?}");
        }
    }

    #[test]
    fn codes_and_names_are_unique_and_parse_back() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            code: fn(T) -> &'static str,
            name: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for &m in all {
                assert_eq!(parse(name(m)), Some(m), "{m:?} by name");
                if !code(m).is_empty() {
                    assert_eq!(parse(code(m)), Some(m), "{m:?} by code");
                }
            }
        }
        check(ItemType::ALL, ItemType::code, ItemType::name, ItemType::parse);
        check(CaseType::ALL, CaseType::code, CaseType::name, CaseType::parse);
        check(Channel::ALL, Channel::code, Channel::name, Channel::parse);
        check(
            ApplicantKind::ALL,
            ApplicantKind::code,
            ApplicantKind::name,
            ApplicantKind::parse,
        );
        check(
            CertificateType::ALL,
            CertificateType::code,
            CertificateType::name,
            CertificateType::parse,
        );
        check(
            ResultCode::ALL,
            ResultCode::code,
            ResultCode::name,
            ResultCode::parse,
        );
        check(
            StepAction::ALL,
            StepAction::code,
            StepAction::name,
            StepAction::parse,
        );
    }

    #[test]
    fn standard_codes_map_to_the_right_members() {
        assert_eq!(CertificateType::parse("111"), Some(CertificateType::ResidentId));
        assert_eq!(CertificateType::parse("414"), Some(CertificateType::Passport));
        assert_eq!(ItemType::parse("20"), Some(ItemType::PublicService));
        assert_eq!(Channel::parse(" 2 "), Some(Channel::Online));
        assert_eq!(CaseType::parse("3"), None);
        assert_eq!(CertificateType::parse(""), None);
    }
}
