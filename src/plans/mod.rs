//! Migration plans (Art. 25 modes, tracked by project managers): `file` is the plan file
//! (`migration-plans/SYSTEM.toml`) and its validation; `schedule` lays it on the working-day
//! calendar (critical path, slack, forecasts from progress, red/amber/green against the baseline);
//! `view` is what a project manager sees, with the checks on progress and baselines; `gantt`
//! draws it as SVG.

mod file;
pub mod gantt;
mod schedule;
mod stored;
mod view;

pub use file::{Dependency, Milestone, PlanFile, PlanHeader};
pub use schedule::{AMBER_WORKING_DAYS, Forecast, Progress, Rag, Status, forecast, status};
pub use stored::{Baseline, StoredPlan};
pub use view::{
    MigrationEvidence, MilestoneView, PlanView, baseline_dues, check_baseline, check_progress, view,
};

/// The plan file the unit tests share (`tests/data/plan.toml`).
#[cfg(test)]
const TEST_PLAN: &str = include_str!("../../tests/data/plan.toml");
