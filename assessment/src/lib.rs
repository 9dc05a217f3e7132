//! Expert-panel assessment of departmental systems (Art. 25). Pure: no I/O, testable on data
//! alone. The outcome every other part refers to, the integration mode, lives here; the
//! modules hold the rubric, AHP weights, aggregation, agreement, the verdict, the data-sharing
//! risk and the reports.

pub mod aggregate;
pub mod agreement;
pub mod ahp;
#[cfg(test)]
mod fixtures;
pub mod flip;
pub mod panel;
pub mod portfolio;
pub mod radar;
pub mod report;
pub mod risk;
pub mod rubric;
pub mod verdict;

use serde::{Deserialize, Serialize};

/// The way a departmental system joins the platform (Art. 25), or the secrecy exception.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum IntegrationMode {
    /// 全流程迁移: weak support, single business line; the legacy system is retired.
    FullMigration,
    /// 前端迁移: application, intake, acceptance and certificates move to the platform.
    FrontEndMigration,
    /// 兼容过渡: both ends stay; users recognised across both sides, cases written back.
    CompatibleTransition,
    /// 保密例外: not integrated for secrecy reasons; the provincial centre evaluates it.
    SecrecyException,
}

impl IntegrationMode {
    /// Every mode, in the order of Art. 25.
    pub const ALL: &'static [IntegrationMode] = &[
        IntegrationMode::FullMigration,
        IntegrationMode::FrontEndMigration,
        IntegrationMode::CompatibleTransition,
        IntegrationMode::SecrecyException,
    ];

    /// The stable English name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The zh-CN name.
    pub fn label(self) -> &'static str {
        match self {
            IntegrationMode::FullMigration => "全流程迁移",
            IntegrationMode::FrontEndMigration => "前端迁移",
            IntegrationMode::CompatibleTransition => "兼容过渡",
            IntegrationMode::SecrecyException => "保密例外",
        }
    }

    /// Looks a mode up by its English name.
    pub fn parse(name: &str) -> Option<IntegrationMode> {
        name.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_match_serde() {
        for &m in IntegrationMode::ALL {
            assert_eq!(IntegrationMode::parse(m.name()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!(m.name()));
        }
    }
}
