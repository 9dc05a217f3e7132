//! Return visits (办件回访, Art. 15) as a service: a month's plan drawn from the store's finished
//! cases (`visits::draw`), an outcome checked and recorded (a finding's correction request due
//! in 10 working days on the calendar), and the month's report. The CLI, the API and the
//! scheduler's `visits` job call these.

use chrono::{DateTime, Utc};

use crate::calendar::Calendar;
use crate::store::{Guarded, Store, StoreError};
use crate::visits::{self, Candidate, Month, Outcome, Report, Visit, VisitError};

/// Draws and stores `month`'s plan: `size` of the month's finished cases (of `system`, or of
/// every system that has no plan for the month yet), stratified by system and item, with
/// `seed`. A named system that already has a plan is `AlreadyPlanned`.
pub async fn plan_visits(
    store: &Store,
    month: Month,
    system: Option<&str>,
    size: usize,
    seed: u64,
    actor: &str,
) -> Result<Vec<Visit>, Guarded<VisitError>> {
    let label = month.to_string();
    let planned = store.systems_with_visits(&label).await?;
    if let Some(system) = system.filter(|s| planned.iter().any(|p| p == s)) {
        return Err(Guarded::Refused(VisitError::AlreadyPlanned {
            month: label,
            system: system.to_owned(),
        }));
    }
    let candidates: Vec<Candidate> = store
        .finished_cases_between(month.first_day(), month.last_day(), system)
        .await?
        .into_iter()
        .filter(|record| !planned.contains(&record.system_id))
        .map(|record| Candidate {
            system_id: record.system_id,
            implementation_code: record.case.implementation_code,
            case_no: record.case.case_no,
            item_name: record.case.item_name,
        })
        .collect();
    let sample = visits::draw(candidates, size, seed);
    store.plan_visits(&label, seed, &sample, actor, Utc::now()).await
}

/// Checks and records `outcome` for visit `id` at `now`; a finding raises a correction request
/// about the case, due 10 working days after `now`'s Beijing day on `calendar`.
pub async fn record_visit(
    store: &Store,
    calendar: &Calendar,
    id: i64,
    outcome: &Outcome,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Visit, Guarded<VisitError>> {
    outcome.check().map_err(Guarded::Refused)?;
    let due_on =
        crate::corrections::due_on(calendar, now).map_err(|e| Guarded::Refused(VisitError::Calendar(e)))?;
    store.record_visit(id, outcome, due_on, actor, now).await
}

/// `month`'s report, of one system or all.
pub async fn visit_report(store: &Store, month: Month, system: Option<&str>) -> Result<Report, StoreError> {
    let visits = store.visits(Some(&month.to_string()), system).await?;
    Ok(visits::report(month, &visits))
}
