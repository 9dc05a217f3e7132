//! The words legacy systems write for canonical codes: each code set's own labels and English
//! names, and the common Chinese and English synonyms (已办结/办结 → finished, 准予许可 →
//! approved, 不予受理 → not_accepted, ID_CARD → resident_id …). Generation fills code tables
//! from it; a word it does not know is left for the engineer, never guessed.

use super::schema::CodeSet;
use crate::case;

/// Synonyms per code set: (words, canonical name). Compared after `normalised`; a member's own
/// label or English name is not repeated here.
#[rustfmt::skip]
const SYNONYMS: &[(CodeSet, &[&str], &str)] = &[
    (CodeSet::Stage, &["待受理", "已提交", "已申请", "已申报", "申报", "收件", "待预审", "预审", "submitted", "pending"], "application"),
    (CodeSet::Stage, &["已受理", "受理通过", "accepted"], "acceptance"),
    (CodeSet::Stage, &["办理中", "审查中", "审核中", "审批中", "在办", "承办", "审核", "审批", "inreview", "processing"], "review"),
    (CodeSet::Stage, &["审定", "已决定"], "decision"),
    (CodeSet::Stage, &["制证中", "已制证"], "certificate"),
    (CodeSet::Stage, &["已办结", "准予许可", "不予许可", "已完成", "完成", "出证办结", "已发证", "准予", "同意", "批准", "completed", "done", "closed"], "finished"),
    (CodeSet::Stage, &["补正材料", "补齐补正", "待补正", "补正中", "退回补正", "correction"], "returned_for_correction"),
    (CodeSet::Stage, &["已作废", "撤销", "已撤销", "撤回", "已撤回", "cancelled", "canceled", "withdrawn"], "voided"),
    (CodeSet::Stage, &["已转报", "handedover"], "transferred"),
    (CodeSet::ResultCode, &["准予许可", "准予", "同意", "批准", "通过", "出证办结", "准予登记", "予以登记", "approve", "granted"], "approved"),
    (CodeSet::ResultCode, &["不准予许可", "不同意", "不批准", "驳回", "不通过", "不予登记", "reject", "denied", "refused"], "rejected"),
    (CodeSet::ResultCode, &["退回", "已退件"], "returned"),
    (CodeSet::ResultCode, &["已作废", "撤销", "已撤销", "撤回", "已撤回"], "voided"),
    (CodeSet::ResultCode, &["已转报"], "transferred"),
    (CodeSet::ApplicantKind, &["个人", "公民", "person", "personal", "individual", "natural", "citizen"], "natural_person"),
    (CodeSet::ApplicantKind, &["企业", "单位", "公司", "法人单位", "企业法人", "company", "enterprise", "corporation", "corp", "legal", "business"], "legal_person"),
    (CodeSet::ApplicantKind, &["社会组织", "organisation", "organization", "org"], "other_organisation"),
    (CodeSet::CertificateType, &["身份证", "身份证号", "idcard", "identitycard"], "resident_id"),
    (CodeSet::CertificateType, &["信用代码", "营业执照", "社会信用代码", "uscc", "creditcode", "businesslicence", "businesslicense", "license", "licence"], "unified_social_credit_code"),
    (CodeSet::CertificateType, &["护照"], "passport"),
    (CodeSet::Channel, &["窗口", "现场", "线下", "大厅", "offline", "counter", "onsite"], "window"),
    (CodeSet::Channel, &["网上", "网办", "在线", "网上申报", "互联网", "web", "internet"], "online"),
    (CodeSet::Channel, &["移动", "手机", "移动端办理", "app", "wechat", "微信", "小程序"], "mobile"),
    (CodeSet::Channel, &["邮寄", "快递办理", "post", "mail"], "express"),
    (CodeSet::CaseType, &["即办", "instant"], "immediate"),
    (CodeSet::CaseType, &["承诺", "committed"], "promised"),
];

/// Lower case, letters and digits only: `ID_CARD` and `id-card` read alike.
fn normalised(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The set's members as (English name, zh-CN label).
fn members(set: CodeSet) -> Vec<(&'static str, &'static str)> {
    fn of<T: Copy>(
        all: &[T],
        name: fn(T) -> &'static str,
        label: fn(T) -> &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        all.iter().map(|m| (name(*m), label(*m))).collect()
    }
    match set {
        CodeSet::ItemType => of(case::ItemType::ALL, case::ItemType::name, case::ItemType::label),
        CodeSet::CaseType => of(case::CaseType::ALL, case::CaseType::name, case::CaseType::label),
        CodeSet::Channel => of(case::Channel::ALL, case::Channel::name, case::Channel::label),
        CodeSet::ApplicantKind => of(
            case::ApplicantKind::ALL,
            case::ApplicantKind::name,
            case::ApplicantKind::label,
        ),
        CodeSet::CertificateType => of(
            case::CertificateType::ALL,
            case::CertificateType::name,
            case::CertificateType::label,
        ),
        CodeSet::ResultCode => of(
            case::ResultCode::ALL,
            case::ResultCode::name,
            case::ResultCode::label,
        ),
        CodeSet::Stage => of(case::Stage::ALL, case::Stage::name, case::Stage::label),
    }
}

/// The canonical name a legacy word stands for in `set`: a member's own label or English name
/// (in any case), or a common synonym; `None` for a word it does not know.
pub(super) fn canonical(set: CodeSet, word: &str) -> Option<&'static str> {
    let word = normalised(word);
    if word.is_empty() {
        return None;
    }
    let members = members(set);
    members
        .iter()
        .find(|(name, label)| normalised(name) == word || normalised(label) == word)
        .map(|(name, _)| *name)
        .or_else(|| {
            SYNONYMS
                .iter()
                .find(|(s, words, _)| *s == set && words.iter().any(|w| normalised(w) == word))
                .map(|(_, _, name)| *name)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_words_read_as_canonical_codes() {
        for (set, word, expected) in [
            (CodeSet::Stage, "已办结", Some("finished")),
            (CodeSet::Stage, "办结", Some("finished")),
            (CodeSet::Stage, "不予受理", Some("not_accepted")),
            (CodeSet::Stage, "补正材料", Some("returned_for_correction")),
            (CodeSet::Stage, "办理中", Some("review")),
            (CodeSet::ResultCode, "准予许可", Some("approved")),
            (CodeSet::ResultCode, "不予许可", Some("rejected")),
            (CodeSet::ResultCode, "不予受理", Some("not_accepted")),
            (CodeSet::ResultCode, "办理中", None),
            (CodeSet::ApplicantKind, "企业", Some("legal_person")),
            (CodeSet::CertificateType, "ID_CARD", Some("resident_id")),
            (CodeSet::Channel, "窗口办理", Some("window")),
            (CodeSet::Channel, "ONLINE", Some("online")),
            (CodeSet::Stage, "归档", None),
        ] {
            assert_eq!(canonical(set, word), expected, "{word} in {}", set.name());
        }
    }

    #[test]
    fn every_synonym_names_a_member_of_its_set() {
        for (set, words, name) in SYNONYMS {
            assert!(set.accepts(name), "{name} is not a {} code", set.name());
            for word in *words {
                let known = members(*set)
                    .iter()
                    .any(|(n, l)| normalised(n) == normalised(word) || normalised(l) == normalised(word));
                assert!(!known, "{word} is a member's own name or label in {}", set.name());
            }
        }
    }
}
