//! Migration plans (Art. 25 modes, tracked by project managers): `file` is the plan file
//! (`migration-plans/SYSTEM.toml`) and its validation; `schedule` lays it on the working-day
//! calendar (critical path, slack, forecasts from progress, red/amber/green against the baseline).

mod file;
mod schedule;

pub use file::{Dependency, Milestone, PlanFile, PlanHeader};
pub use schedule::{AMBER_WORKING_DAYS, Forecast, Progress, Rag, Status, forecast, status};
