//! Reconciliation results (Art. 15, 对账): the cases a legacy system reports and those the
//! platform holds, compared per case number for one day. Pure: `monitoring::reconcile` reads both
//! sides; the store keeps the results.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::beijing_date;
use crate::case::Case;

/// One side's view of a case: its version, content hash and the Beijing date it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub version: i64,
    pub hash: String,
    pub day: NaiveDate,
}

/// The Beijing date a case last changed: the day it counts on.
pub fn beijing_day(case: &Case) -> NaiveDate {
    beijing_date(&case.updated_at)
}

/// A case the two sides disagree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReconciliationDifference)]
pub struct Difference {
    pub case_no: String,
    /// `missing` (the platform lacks it), `behind` (the platform holds an older version),
    /// `altered` (same version, other content), `extra` (the legacy system no longer reports it).
    pub kind: String,
    pub legacy_version: Option<i64>,
    pub platform_version: Option<i64>,
    /// SHA-256 of the mapped legacy case's canonical JSON.
    pub legacy_hash: Option<String>,
    /// SHA-256 of the platform's current version.
    pub platform_hash: Option<String>,
}

/// The reconciliation of one system and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    pub system_id: String,
    pub date: NaiveDate,
    /// Cases the legacy system reports as changed that day.
    pub legacy_cases: usize,
    /// Cases the platform holds as changed that day.
    pub platform_cases: usize,
    pub matched: usize,
    pub differences: Vec<Difference>,
    /// The day's legacy records that do not map (their keys): those whose update time falls on
    /// the day, or cannot be read either. They are in the data-quality queue when they were
    /// written back.
    pub unmappable: Vec<String>,
    pub clean: bool,
    /// The watermark the legacy system was read from (its records changed at or after the
    /// day's start); absent when the whole source was read (no `window_format` configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_window: Option<String>,
    /// Records read from the legacy system (by the window or whole, and fetched by key).
    #[serde(default)]
    pub source_records: usize,
}

/// Compares both sides' cases of `system` that changed on `date`; `unmappable` are the legacy
/// records that did not map.
pub fn compare(
    system: &str,
    date: NaiveDate,
    legacy: &BTreeMap<String, Seen>,
    platform: &BTreeMap<String, Seen>,
    unmappable: Vec<String>,
) -> Reconciliation {
    let of_day = |side: &BTreeMap<String, Seen>| -> BTreeSet<String> {
        side.iter()
            .filter(|(_, s)| s.day == date)
            .map(|(no, _)| no.clone())
            .collect()
    };
    let (legacy_day, platform_day) = (of_day(legacy), of_day(platform));
    let mut differences = Vec::new();
    let mut matched = 0;
    for case_no in legacy_day.union(&platform_day) {
        let (l, p) = (legacy.get(case_no), platform.get(case_no));
        let kind = match (l, p) {
            (Some(l), Some(p)) if l.version == p.version && l.hash == p.hash => {
                matched += 1;
                continue;
            }
            (Some(l), Some(p)) if l.version > p.version => "behind",
            (Some(_), Some(_)) => "altered",
            (Some(_), None) => "missing",
            (None, _) => "extra",
        };
        differences.push(Difference {
            case_no: case_no.clone(),
            kind: kind.to_owned(),
            legacy_version: l.map(|s| s.version),
            platform_version: p.map(|s| s.version),
            legacy_hash: l.map(|s| s.hash.clone()),
            platform_hash: p.map(|s| s.hash.clone()),
        });
    }
    Reconciliation {
        system_id: system.to_owned(),
        date,
        legacy_cases: legacy_day.len(),
        platform_cases: platform_day.len(),
        matched,
        clean: differences.is_empty(),
        differences,
        unmappable,
        source_window: None,
        source_records: 0,
    }
}
