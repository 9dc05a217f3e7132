//! Business monitoring (Art. 15, 业务监测): reconciliation of one system and day — the cases the
//! legacy system reports through its adapter, mapped, against those the platform holds (versions
//! and content hashes), with every differing case number listed — and seeded, reproducible
//! samples of a day's cases for file spot checks (卷宗抽查) and return visits (办件回访).

mod report;

pub use report::{ReportError, ReportFormat, render, spot_check_csv};

use std::collections::BTreeMap;

use chrono::NaiveDate;
use futures_util::StreamExt as _;
use ronghe_adapters::Secrets;

use crate::intake::Intake;
use crate::pull::{PullError, attached_adapter};
use crate::reconciliation::{Reconciliation, Seen, beijing_day, compare};
use crate::store::Store;

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
    Ok(compare(system, date, &legacy, &platform, unmappable))
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
