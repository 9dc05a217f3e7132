//! Business monitoring (Art. 15, 业务监测): reconciliation of one system and day — the cases the
//! legacy system reports through its adapter, mapped, against those the platform holds (versions
//! and content hashes), with every differing case number listed — and seeded, reproducible
//! samples of a day's cases for file spot checks (卷宗抽查) and return visits (办件回访) — and
//! system checks (系统检查, `checks`): reachability and schema drift.

mod checks;
mod report;
mod visits;

pub use checks::check;
pub use report::{ReportError, ReportFormat, render, spot_check_csv};
pub use visits::{plan_visits, record_visit, visit_report};

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use futures_util::StreamExt as _;
use ronghe_adapters::Raw;

use crate::calendar::beijing_day_start;
use crate::intake::Intake;
use crate::mapping::Mapping;
use crate::pull::{PullError, held_adapter};
use crate::reconciliation::{Reconciliation, Seen, beijing_day, compare};
use crate::store::{CurrentCase, Store};

/// Reconciles `system` for `date` (Beijing time). Both sides are read by window where they
/// can be, so the cost follows the day and not the history:
/// - the legacy system from the start of the day on, when its adapter config says how its
///   watermark writes a time (`Adapter::since`, `window_format`); otherwise the whole source;
/// - the platform's cases of that day by `changed_on`, and the current version of each case
///   the legacy system reports for the day, by key.
///
/// A case the platform holds for the day that the windowed read did not return (the legacy
/// system last changed it before the day) is fetched by key, so that it is compared, not
/// reported extra; an adapter that cannot fetch is read whole.
pub async fn reconcile(
    store: &Store,
    intake: &Intake,
    system: &str,
    date: NaiveDate,
) -> Result<Reconciliation, PullError> {
    let mapping = intake.mapping(store, system).await?;
    let adapter = held_adapter(intake, store, system).await?;
    let now = chrono::Utc::now().fixed_offset();
    let read_error = |source| PullError::Read {
        system: system.to_owned(),
        source,
    };
    // A window needs fetch by key for the day's cases the window leaves out.
    let window = adapter
        .capabilities()
        .fetch
        .then(|| adapter.since(beijing_day_start(date)))
        .flatten();
    let mut legacy = Legacy {
        date,
        seen: BTreeMap::new(),
        unmappable: Vec::new(),
        read: 0,
    };
    let mut records = adapter.read(window.clone());
    while let Some(record) = records.next().await {
        let record = record.map_err(read_error)?;
        legacy.see(&mapping, &record.raw, record.key, now);
    }
    drop(records);

    let mut platform: BTreeMap<String, Seen> = BTreeMap::new();
    hold(&mut platform, store.cases_changed_on(system, date).await?);
    let reported: Vec<&str> = legacy
        .seen
        .iter()
        .filter(|(case_no, seen)| seen.day == date && !platform.contains_key(*case_no))
        .map(|(case_no, _)| case_no.as_str())
        .collect();
    let reported = store.current_cases(system, &reported).await?;
    hold(&mut platform, reported);

    if window.is_some() {
        // A case read but not mapped is reported once, not fetched to be reported again.
        let unseen: Vec<&String> = platform
            .keys()
            .filter(|case_no| !legacy.seen.contains_key(*case_no) && !legacy.unmappable.contains(case_no))
            .collect();
        for case_no in unseen {
            if let Some(record) = adapter.fetch(case_no).await.map_err(read_error)? {
                legacy.see(&mapping, &record.raw, record.key, now);
            }
        }
    }
    let read = legacy.read;
    let mut report = compare(system, date, &legacy.seen, &platform, legacy.unmappable);
    report.source_window = window.map(|checkpoint| checkpoint.0);
    report.source_records = read;
    Ok(report)
}

/// What the legacy system reports: each mapped case as seen, and the keys of the day's records
/// that do not map (those whose update time, read by the mapping's `updated_at` rule alone,
/// falls on the day, or cannot be read): not the whole history's.
struct Legacy {
    date: NaiveDate,
    seen: BTreeMap<String, Seen>,
    unmappable: Vec<String>,
    read: usize,
}

impl Legacy {
    fn see(&mut self, mapping: &Mapping, raw: &Raw, key: Option<String>, now: DateTime<FixedOffset>) {
        self.read += 1;
        match mapping.apply(raw, now) {
            Ok(case) => {
                let seen = Seen {
                    version: case.version,
                    hash: case.content_hash(),
                    day: beijing_day(&case),
                };
                self.seen.insert(case.case_no, seen);
            }
            Err(_) => {
                if mapping
                    .updated_at(raw)
                    .is_none_or(|at| crate::calendar::beijing_date(&at) == self.date)
                {
                    self.unmappable
                        .push(key.or_else(|| mapping.key_of(raw)).unwrap_or_default());
                }
            }
        }
    }
}

/// Adds the platform's current cases to its side of the comparison.
fn hold(platform: &mut BTreeMap<String, Seen>, held: Vec<CurrentCase>) {
    for c in held {
        let seen = Seen {
            version: c.version,
            hash: c.content_hash,
            day: c.changed_on.unwrap_or(NaiveDate::MIN),
        };
        platform.insert(c.case_no, seen);
    }
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
        .cases_changed_on(system, date)
        .await?
        .into_iter()
        .map(|case| case.case_no)
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
