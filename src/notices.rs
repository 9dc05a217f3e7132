//! Change notices (变更告知): a change to a system's functions, interfaces, validation rules or
//! running environment that may affect service must be announced at least 5 working days before
//! it takes effect (Art. 30(一); an emergency may be shorter with a recorded reason); adjusting or
//! ending an application channel needs 3 working days and a public announcement (Art. 16); a new
//! data-collection item or validation rule is also an Art. 29 publication. The earliest allowed
//! effective date is `add_working_days(publication date, N)`. Checking is pure.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::case::{FieldIssue, Problems};

/// What a notice announces, and so which rule governs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum NoticeKind {
    /// 系统功能变更.
    FunctionChange,
    /// 数据接口变更.
    InterfaceChange,
    /// 数据校验规则变更.
    ValidationRuleChange,
    /// 系统运行环境变化.
    EnvironmentChange,
    /// 新增数据采集项或校验规则 (Art. 29, and a validation change under Art. 30).
    CollectionItem,
    /// 申请渠道调整或终止 (Art. 16).
    ChannelChange,
}

impl NoticeKind {
    pub const ALL: &'static [NoticeKind] = &[
        NoticeKind::FunctionChange,
        NoticeKind::InterfaceChange,
        NoticeKind::ValidationRuleChange,
        NoticeKind::EnvironmentChange,
        NoticeKind::CollectionItem,
        NoticeKind::ChannelChange,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Option<NoticeKind> {
        name.parse().ok()
    }

    pub fn label(self) -> &'static str {
        match self {
            NoticeKind::FunctionChange => "系统功能变更",
            NoticeKind::InterfaceChange => "数据接口变更",
            NoticeKind::ValidationRuleChange => "数据校验规则变更",
            NoticeKind::EnvironmentChange => "系统运行环境变化",
            NoticeKind::CollectionItem => "新增数据采集项或校验规则",
            NoticeKind::ChannelChange => "申请渠道调整或终止",
        }
    }

    /// The articles that govern it.
    pub fn basis(self) -> &'static str {
        match self {
            NoticeKind::ChannelChange => "第十六条",
            NoticeKind::CollectionItem => "第二十九条、第三十条第（一）项",
            _ => "第三十条第（一）项",
        }
    }

    /// Working days between publication and effect, at least.
    pub fn notice_working_days(self) -> u32 {
        match self {
            NoticeKind::ChannelChange => 3,
            _ => 5,
        }
    }

    /// Whether an emergency may take effect sooner (Art. 30(一) "紧急情况下应当及时告知");
    /// Art. 16 knows no emergency for channels.
    pub fn allows_emergency(self) -> bool {
        self != NoticeKind::ChannelChange
    }

    /// The earliest allowed effective date of a notice of this kind published on
    /// `published_on`: that day plus its notice period in working days. The check of every
    /// notice uses it, and the console shows it before a notice is submitted.
    pub fn earliest_effective(
        self,
        calendar: &Calendar,
        published_on: NaiveDate,
    ) -> Result<NaiveDate, crate::calendar::CalendarError> {
        calendar.add_working_days(published_on, self.notice_working_days())
    }
}

/// A notice as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNotice {
    pub system_id: String,
    pub kind: NoticeKind,
    /// 公告标题.
    pub title: String,
    /// What changes and what users and departments must do (zh-CN).
    #[serde(default)]
    pub body: String,
    /// 发布日期 (default: today, Beijing time). Never in the past.
    #[serde(default)]
    pub published_on: Option<NaiveDate>,
    /// 生效日期.
    pub effective_on: NaiveDate,
    /// Why an emergency change takes effect sooner than the notice period (recorded).
    #[serde(default)]
    pub emergency_reason: Option<String>,
}

/// A published notice.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub id: i64,
    pub system_id: String,
    pub kind: NoticeKind,
    pub kind_label: String,
    pub basis: String,
    pub title: String,
    pub body: String,
    pub published_on: NaiveDate,
    pub effective_on: NaiveDate,
    /// The earliest date the rule allowed (for an emergency: later than `effective_on`).
    pub earliest_allowed_on: NaiveDate,
    pub emergency_reason: Option<String>,
    pub announced_by: String,
    pub created_at: DateTime<Utc>,
}

/// The shortest emergency reason taken (characters): a reason, not a tick.
const MIN_REASON_CHARS: usize = 4;

impl NewNotice {
    /// The publication date and the earliest allowed effective date, or every problem at once.
    /// Dates: `today` is the Beijing date now.
    pub fn check(
        &self,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Result<(NaiveDate, NaiveDate), Vec<FieldIssue>> {
        let mut problems = Problems::default();
        let mut add = |field: &str, rule: &str, message: String| problems.add(field, rule, message);
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            add(
                "title",
                "length",
                "公告标题必填，至多 200 字 (the title is required, at most 200 characters)".to_owned(),
            );
        }
        if self.body.chars().count() > 4000 {
            add(
                "body",
                "length",
                "公告正文至多 4000 字 (at most 4000 characters)".to_owned(),
            );
        }
        let published_on = self.published_on.unwrap_or(today);
        if published_on < today {
            add(
                "published_on",
                "not_in_past",
                format!("发布日期不能早于今天 {today}：告知期从实际发布起算 (a notice cannot be back-dated)"),
            );
        }
        let reason = self
            .emergency_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if let Some(reason) = reason {
            if !self.kind.allows_emergency() {
                add(
                    "emergency_reason",
                    "no_emergency",
                    format!(
                        "{}（{}）没有紧急例外：须提前 {} 个工作日告知并公告 (no emergency exception for this kind)",
                        self.kind.label(),
                        self.kind.basis(),
                        self.kind.notice_working_days()
                    ),
                );
            } else if reason.chars().count() < MIN_REASON_CHARS {
                add(
                    "emergency_reason",
                    "reason",
                    format!("紧急理由至少 {MIN_REASON_CHARS} 个字，写明原因 (say why it cannot wait)"),
                );
            }
        }
        let days = self.kind.notice_working_days();
        let earliest = match self.kind.earliest_effective(calendar, published_on) {
            Ok(date) => Some(date),
            Err(e) => {
                add(
                    "published_on",
                    "calendar",
                    format!("{e}: add the year's working-day calendar (calendar_override)"),
                );
                None
            }
        };
        if self.effective_on < published_on {
            add(
                "effective_on",
                "after_publication",
                format!("生效日期不能早于发布日期 {published_on} (takes effect after it is published)"),
            );
        } else if let Some(earliest) = earliest
            && self.effective_on < earliest
            && (reason.is_none() || !self.kind.allows_emergency())
        {
            add(
                "effective_on",
                "notice_period",
                format!(
                    "{}须提前 {days} 个工作日告知（{}）：{published_on} 发布的最早生效日期为 {earliest} (earliest allowed effective date {earliest}){}",
                    self.kind.label(),
                    self.kind.basis(),
                    if self.kind.allows_emergency() {
                        "；紧急情况请填写紧急理由 (or give an emergency reason)"
                    } else {
                        ""
                    }
                ),
            );
        }
        let problems = problems.into_issues();
        match (problems.is_empty(), earliest) {
            (true, Some(earliest)) => Ok((published_on, earliest)),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn notice(kind: NoticeKind, published: &str, effective: &str, reason: Option<&str>) -> NewNotice {
        NewNotice {
            system_id: "sim-soap".into(),
            kind,
            title: "接口升级".into(),
            body: String::new(),
            published_on: Some(date(published)),
            effective_on: date(effective),
            emergency_reason: reason.map(str::to_owned),
        }
    }

    fn rules_of(kind: NoticeKind, published: &str, effective: &str, reason: Option<&str>) -> Vec<String> {
        match notice(kind, published, effective, reason).check(Calendar::embedded(), date(published)) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .map(|p| format!("{}:{}", p.field, p.rule))
                .collect(),
        }
    }

    #[test]
    fn five_working_days_across_the_national_day_holiday() {
        // Published Tue 2026-09-29: 09-30, 10-08, 10-09, 10-10 (make-up Saturday), 10-12.
        let kind = NoticeKind::InterfaceChange;
        assert_eq!(
            rules_of(kind, "2026-09-29", "2026-10-11", None),
            ["effective_on:notice_period"]
        );
        assert!(rules_of(kind, "2026-09-29", "2026-10-12", None).is_empty());
        let (_, earliest) = notice(kind, "2026-09-29", "2026-10-12", None)
            .check(Calendar::embedded(), date("2026-09-29"))
            .unwrap();
        assert_eq!(earliest, date("2026-10-12"));
    }

    #[test]
    fn three_working_days_for_a_channel_over_a_weekend() {
        // Published Thu 2026-12-03: 12-04, 12-07, 12-08.
        let kind = NoticeKind::ChannelChange;
        assert_eq!(
            rules_of(kind, "2026-12-03", "2026-12-07", None),
            ["effective_on:notice_period"]
        );
        assert!(rules_of(kind, "2026-12-03", "2026-12-08", None).is_empty());
        // No emergency exception for channels.
        assert_eq!(
            rules_of(kind, "2026-12-03", "2026-12-04", Some("系统故障紧急切换")),
            ["emergency_reason:no_emergency", "effective_on:notice_period"]
        );
    }

    #[test]
    fn an_emergency_needs_a_reason_and_may_be_sooner() {
        let kind = NoticeKind::EnvironmentChange;
        assert!(
            rules_of(
                kind,
                "2026-12-03",
                "2026-12-03",
                Some("数据库服务器硬件故障，紧急迁移")
            )
            .is_empty()
        );
        assert_eq!(
            rules_of(kind, "2026-12-03", "2026-12-03", Some("急")),
            ["emergency_reason:reason"]
        );
        assert_eq!(
            rules_of(kind, "2026-12-03", "2026-12-02", Some("数据库故障迁移")),
            ["effective_on:after_publication"]
        );
    }

    #[test]
    fn back_dated_and_unknown_years_are_refused() {
        let n = notice(NoticeKind::FunctionChange, "2026-12-01", "2026-12-31", None);
        let problems = n.check(Calendar::embedded(), date("2026-12-02")).unwrap_err();
        assert_eq!(problems[0].rule, "not_in_past");
        let n = notice(NoticeKind::FunctionChange, "2026-12-29", "2027-01-10", None);
        let problems = n.check(Calendar::embedded(), date("2026-12-29")).unwrap_err();
        assert!(problems.iter().any(|p| p.rule == "calendar"), "{problems:?}");
    }
}
