//! Who is on each side of the bridge: platform identities as the real-name authentication
//! system provides them (user id, kind, name, certificate, real-name level), and accounts in a
//! departmental system. Validation is pure and reports every problem at once; the domain values
//! mask themselves in `Debug`, and the views sent out carry masked names and numbers only.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::case::{ApplicantKind, CertificateType, FieldIssue, Problems};
use crate::validate::{self, mask_certificate, mask_name};

/// Real-name level (实名等级) of a platform identity, as the real-name system rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = IdentityLevel)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 1 非实名: registered, not verified.
    Unverified,
    /// 2 初级实名: name and certificate number checked against the population register.
    Basic,
    /// 3 高级实名: checked in person, by face recognition or with a digital certificate.
    Advanced,
}

impl Level {
    pub const ALL: &'static [Level] = &[Level::Unverified, Level::Basic, Level::Advanced];

    /// The level's number, as tickets carry it (`lvl`).
    pub fn code(self) -> u8 {
        match self {
            Level::Unverified => 1,
            Level::Basic => 2,
            Level::Advanced => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<Level> {
        Level::ALL.iter().copied().find(|l| i64::from(l.code()) == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Unverified => "unverified",
            Level::Basic => "basic",
            Level::Advanced => "advanced",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::Unverified => "非实名",
            Level::Basic => "初级实名",
            Level::Advanced => "高级实名",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.label())
    }
}

/// A platform identity as the real-name authentication system sends it.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdentity {
    /// The real-name system's opaque user id (never a certificate number).
    pub user_id: String,
    /// `natural_person`, `legal_person` or `other_organisation`.
    pub kind: ApplicantKind,
    /// 姓名 or 单位名称.
    pub name: String,
    /// `resident_id` (natural persons) or `unified_social_credit_code` (legal persons).
    pub certificate_type: CertificateType,
    pub certificate_no: String,
    pub level: Level,
}

/// A validated platform identity, in clear: it lives in memory only; the store keeps the name
/// and number sealed. `Debug` masks them.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub kind: ApplicantKind,
    pub name: String,
    pub certificate_type: CertificateType,
    /// Normalised (upper case).
    pub certificate_no: String,
    pub level: Level,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("name", &mask_name(&self.name))
            .field("certificate_type", &self.certificate_type)
            .field("certificate_no", &mask_certificate(&self.certificate_no))
            .field("level", &self.level)
            .finish()
    }
}

/// An identity as shown to people and API clients: name and number masked (Art. 23).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IdentityView {
    pub user_id: String,
    pub kind: ApplicantKind,
    /// Masked, e.g. `张*`.
    pub name: String,
    pub certificate_type: CertificateType,
    /// Masked, e.g. `5201**********123X`.
    pub certificate_no: String,
    pub level: Level,
    pub updated_at: DateTime<Utc>,
}

impl Identity {
    pub fn view(&self, updated_at: DateTime<Utc>) -> IdentityView {
        IdentityView {
            user_id: self.user_id.clone(),
            kind: self.kind,
            name: mask_name(&self.name),
            certificate_type: self.certificate_type,
            certificate_no: mask_certificate(&self.certificate_no),
            level: self.level,
            updated_at,
        }
    }
}

/// Whether `value` is a valid resident ID number or unified social credit code.
fn is_certificate_number(value: &str, today: NaiveDate) -> bool {
    validate::parse_resident_id(value, today).is_ok() || validate::parse_uscc(value).is_ok()
}

/// An account id as it may be shown: legacy systems often use certificate numbers as login
/// names, so those are masked.
pub fn shown_account(account_id: &str, today: NaiveDate) -> String {
    if is_certificate_number(account_id, today) {
        mask_certificate(account_id)
    } else {
        account_id.to_owned()
    }
}

impl NewIdentity {
    /// Checks every field on `today` (resident IDs cannot be born in the future).
    pub fn validate(self, today: NaiveDate) -> Result<Identity, Vec<FieldIssue>> {
        let mut issues = Problems::default();
        let id_ok = (1..=64).contains(&self.user_id.len())
            && self
                .user_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !id_ok {
            issues.add(
                "user_id",
                "user_id.format",
                "use the real-name system's user id: 1-64 letters, digits, '-', '_', '.' or ':'",
            );
        } else if is_certificate_number(&self.user_id, today) {
            issues.add(
                "user_id",
                "user_id.certificate",
                "looks like a certificate number; use the real-name system's opaque user id",
            );
        }
        issues.plain_text("name", &self.name, 100);
        let number = match self.certificate_type {
            CertificateType::ResidentId => validate::parse_resident_id(&self.certificate_no, today)
                .map(|id| id.number)
                .map_err(|v| issues.add("certificate_no", v.rule, v.message))
                .ok(),
            CertificateType::UnifiedSocialCreditCode => validate::parse_uscc(&self.certificate_no)
                .map(|code| code.code)
                .map_err(|v| issues.add("certificate_no", v.rule, v.message))
                .ok(),
            other => {
                issues.add(
                    "certificate_type",
                    "certificate_type.unsupported",
                    format!("{other} is not supported by the bridge; use resident_id or unified_social_credit_code"),
                );
                None
            }
        };
        let uses_uscc = self.certificate_type == CertificateType::UnifiedSocialCreditCode;
        if (self.kind == ApplicantKind::NaturalPerson) == uses_uscc {
            issues.add(
                "kind",
                "identity.kind_mismatch",
                "a natural person has a resident ID; a legal person or organisation a unified social credit code",
            );
        }
        let identity = Identity {
            user_id: self.user_id,
            kind: self.kind,
            name: self.name.trim().to_owned(),
            certificate_type: self.certificate_type,
            certificate_no: number.unwrap_or_default(),
            level: self.level,
        };
        issues.result(identity)
    }
}

/// An account of a departmental system, as the department exports it for the bridge.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = DepartmentAccount)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The system's own account id (login name); may itself be a certificate number.
    pub account_id: String,
    /// The certificate number the account carries, if any: a resident ID or a unified social
    /// credit code. Links are made automatically through it, never through a name.
    #[serde(default)]
    pub certificate_no: Option<String>,
}

/// A validated account; `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub account_id: String,
    pub certificate_no: Option<String>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("account_id", &mask_certificate(&self.account_id))
            .field(
                "certificate_no",
                &self.certificate_no.as_deref().map(mask_certificate),
            )
            .finish()
    }
}

/// Checks an account id: 1-128 characters, no control characters.
pub(crate) fn check_account_id(issues: &mut Problems, field: &str, account_id: &str) {
    issues.plain_text(field, account_id, 128);
}

impl NewAccount {
    pub fn validate(self, today: NaiveDate) -> Result<Account, Vec<FieldIssue>> {
        let mut issues = Problems::default();
        check_account_id(&mut issues, "account_id", &self.account_id);
        let certificate_no = match self.certificate_no.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(number) => match validate::parse_resident_id(number, today) {
                Ok(id) => Some(id.number),
                Err(_) => match validate::parse_uscc(number) {
                    Ok(code) => Some(code.code),
                    Err(_) => {
                        issues.add(
                            "certificate_no",
                            "certificate.invalid",
                            format!(
                                "{} is neither a valid resident ID nor a unified social credit code",
                                mask_certificate(number)
                            ),
                        );
                        None
                    }
                },
            },
        };
        issues.result(Account {
            account_id: self.account_id.trim().to_owned(),
            certificate_no,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    fn person(user_id: &str, number: &str) -> NewIdentity {
        NewIdentity {
            user_id: user_id.into(),
            kind: ApplicantKind::NaturalPerson,
            name: "张三".into(),
            certificate_type: CertificateType::ResidentId,
            certificate_no: number.into(),
            level: Level::Basic,
        }
    }

    #[test]
    fn identities_are_validated_and_never_print_in_clear() {
        let identity = person("u-1", "11010519491231002x").validate(today()).unwrap();
        assert_eq!(identity.certificate_no, "11010519491231002X");
        let debug = format!("{identity:?}");
        assert!(
            !debug.contains("11010519491231002X") && !debug.contains("张三"),
            "{debug}"
        );
        let view = identity.view(Utc::now());
        assert_eq!(
            (view.name.as_str(), view.certificate_no.as_str()),
            ("张*", "1101**********002X")
        );

        let issues = person("11010519491231002X", "11010519491231002")
            .validate(today())
            .unwrap_err();
        let rules: Vec<&str> = issues.iter().map(|i| i.rule.as_str()).collect();
        assert_eq!(rules, ["user_id.certificate", "resident_id.length"]);
        let mismatch = NewIdentity {
            certificate_type: CertificateType::UnifiedSocialCreditCode,
            certificate_no: "91110000600037341L".into(),
            ..person("u-2", "")
        };
        let issues = mismatch.validate(today()).unwrap_err();
        assert_eq!(issues[0].rule, "identity.kind_mismatch");
        let passport = NewIdentity {
            certificate_type: CertificateType::Passport,
            ..person("u-3", "E12345678")
        };
        assert_eq!(
            passport.validate(today()).unwrap_err()[0].rule,
            "certificate_type.unsupported"
        );
    }

    #[test]
    fn accounts_take_either_certificate_kind() {
        let check = |number: Option<&str>| {
            NewAccount {
                account_id: "zhangsan".into(),
                certificate_no: number.map(str::to_owned),
            }
            .validate(today())
        };
        assert_eq!(check(None).unwrap().certificate_no, None);
        assert_eq!(
            check(Some("91110000600037341l"))
                .unwrap()
                .certificate_no
                .as_deref(),
            Some("91110000600037341L")
        );
        let err = check(Some("110105194912310021")).unwrap_err();
        assert!(err[0].message.starts_with("1101**********0021"), "{err:?}");
        assert_eq!(shown_account("11010519491231002X", today()), "1101**********002X");
        assert_eq!(shown_account("zhangsan", today()), "zhangsan");
    }
}
