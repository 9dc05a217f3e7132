//! Business monitoring (Art. 15, 业务监测): reconciliation of one system and day — the cases the
//! legacy system reports through its adapter, mapped, against those the platform holds (versions
//! and content hashes), with every differing case number listed — and seeded, reproducible
//! samples of a day's cases for file spot checks (卷宗抽查) and return visits (办件回访).

mod report;

pub use report::{ReportError, ReportFormat, render, spot_check_csv};

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use futures_util::StreamExt as _;
use ronghe_adapters::Secrets;
use serde::{Deserialize, Serialize};

use crate::calendar::beijing_date;
use crate::case::Case;
use crate::intake::Intake;
use crate::pull::{PullError, attached_adapter};
use crate::store::Store;

/// One side's view of a case: its version, content hash and the Beijing date it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    version: i64,
    hash: String,
    day: NaiveDate,
}

fn beijing_day(case: &Case) -> NaiveDate {
    beijing_date(&case.updated_at)
}

/// A case the two sides disagree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Legacy records that do not map (their keys): they are in the data-quality queue when
    /// they were written back, and cannot be dated.
    pub unmappable: Vec<String>,
    pub clean: bool,
}

/// Reconciles `system` for `date` (Beijing time).
pub async fn reconcile(
    store: &Store,
    intake: &Intake,
    secrets: &dyn Secrets,
    system: &str,
    date: NaiveDate,
) -> Result<Reconciliation, PullError> {
    let mapping = intake.mapping(system).await?;
    let adapter = attached_adapter(store, secrets, system).await?;
    let now = chrono::Utc::now().fixed_offset();
    let mut legacy: BTreeMap<String, Seen> = BTreeMap::new();
    let mut unmappable = Vec::new();
    let mut records = adapter.read(None);
    while let Some(record) = records.next().await {
        let record = record.map_err(|source| PullError::Read {
            system: system.to_owned(),
            source,
        })?;
        match mapping.apply(&record.raw, now) {
            Ok(case) => {
                let seen = Seen {
                    version: case.version,
                    hash: case.content_hash(),
                    day: beijing_day(&case),
                };
                legacy.insert(case.case_no, seen);
            }
            Err(_) => unmappable.push(
                record
                    .key
                    .or_else(|| mapping.key_of(&record.raw))
                    .unwrap_or_default(),
            ),
        }
    }
    let platform: BTreeMap<String, Seen> = store
        .system_cases(system)
        .await?
        .into_iter()
        .map(|(case_no, version, hash, case)| {
            let day = beijing_day(&case);
            (case_no, Seen { version, hash, day })
        })
        .collect();
    let of_day = |side: &BTreeMap<String, Seen>| -> BTreeSet<String> {
        side.iter()
            .filter(|(_, s)| s.day == date)
            .map(|(no, _)| no.clone())
            .collect()
    };
    let (legacy_day, platform_day) = (of_day(&legacy), of_day(&platform));
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
    Ok(Reconciliation {
        system_id: system.to_owned(),
        date,
        legacy_cases: legacy_day.len(),
        platform_cases: platform_day.len(),
        matched,
        clean: differences.is_empty(),
        differences,
        unmappable,
    })
}

/// `size` case numbers drawn from the platform's cases of `system` that changed on `date`,
/// reproducibly: the same data and `seed` always give the same sample, in draw order. The draw
/// is audited under `actor` with its seed and sample.
pub async fn spot_check(
    store: &Store,
    system: &str,
    date: NaiveDate,
    size: usize,
    seed: u64,
    actor: &str,
) -> Result<Vec<String>, PullError> {
    let mut day: Vec<String> = store
        .system_cases(system)
        .await?
        .into_iter()
        .filter(|(_, _, _, case)| beijing_day(case) == date)
        .map(|(case_no, ..)| case_no)
        .collect();
    day.sort();
    let mut rng = fastrand::Rng::with_seed(seed);
    rng.shuffle(&mut day);
    day.truncate(size);
    store
        .record_audit(
            actor,
            "monitoring.spot_check",
            system,
            serde_json::json!({ "date": date, "seed": seed, "sample": day }),
        )
        .await?;
    Ok(day)
}
