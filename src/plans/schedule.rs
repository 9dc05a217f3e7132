//! A plan laid on the working-day calendar: the critical path method over working-day indices
//! (so weekends, holidays and make-up working days count as the State Council's notices say;
//! a milestone of 0 working days is a point in time, reached at the end of the day the work it
//! depends on finishes, and takes no day from what follows it),
//! with the progress recorded so far, then red/amber/green status from the slippage of each
//! milestone's forecast due date against the baseline. Pure: the calendar and `today` come in.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::file::PlanFile;
use crate::calendar::{Calendar, CalendarError};

/// What has happened to a milestone so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub started_on: Option<NaiveDate>,
    pub finished_on: Option<NaiveDate>,
}

/// A milestone's forecast: when it starts and is due, and how much it may slip without moving
/// the plan's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Forecast {
    pub id: String,
    pub start: NaiveDate,
    pub due: NaiveDate,
    /// 总时差: working days it may slip without moving the end of the plan.
    pub slack_working_days: i64,
    /// On the critical path (no slack, not finished).
    pub critical: bool,
    pub finished: bool,
}

/// Red/amber/green.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rag {
    Green,
    Amber,
    Red,
}

impl Rag {
    pub fn label(self) -> &'static str {
        match self {
            Rag::Green => "绿 正常",
            Rag::Amber => "黄 预警",
            Rag::Red => "红 滞后",
        }
    }
}

/// Slippage up to this many working days off the critical path is amber; more is red.
pub const AMBER_WORKING_DAYS: i64 = 5;

/// A milestone against the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = PlanStatus)]
pub struct Status {
    pub id: String,
    /// The baseline's due date, when the milestone is in the baseline.
    pub baseline_due: Option<NaiveDate>,
    /// Working days the forecast due date is after the baseline's (negative: early).
    pub slip_working_days: Option<i64>,
    pub rag: Rag,
}

/// Working-day indices counted from the plan's first working day.
struct Days<'a> {
    calendar: &'a Calendar,
    first: NaiveDate,
}

impl Days<'_> {
    /// The index of the last working day on or before `date`.
    fn finish(&self, date: NaiveDate) -> Result<i64, CalendarError> {
        self.calendar.working_days_between(self.first, date)
    }

    /// The index of the first working day on or after `date`.
    fn start(&self, date: NaiveDate) -> Result<i64, CalendarError> {
        let i = self.finish(date)?;
        Ok(if self.calendar.is_working_day(date)? {
            i
        } else {
            i + 1
        })
    }

    fn date(&self, i: i64) -> Result<NaiveDate, CalendarError> {
        self.calendar
            .add_working_days(self.first, u32::try_from(i.max(0)).unwrap_or(u32::MAX))
    }
}

/// The forecast of every milestone, in file order. With `today`, unfinished work cannot start
/// or finish in the past, so a late milestone pushes everything after it; finished milestones
/// keep their actual dates. Without `today` (a fresh baseline), the plan as written.
pub fn forecast(
    plan: &PlanFile,
    progress: &HashMap<String, Progress>,
    today: Option<NaiveDate>,
    calendar: &Calendar,
) -> Result<Vec<Forecast>, CalendarError> {
    let first = if calendar.is_working_day(plan.plan.start)? {
        plan.plan.start
    } else {
        calendar.add_working_days(plan.plan.start, 1)?
    };
    let days = Days { calendar, first };
    let now = match today {
        Some(today) => Some(days.start(today)?),
        None => None,
    };
    let index: HashMap<&str, usize> = plan
        .milestones
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    let n = plan.milestones.len();
    let (mut es, mut ef) = (vec![0i64; n], vec![0i64; n]);
    let none = Progress::default();
    for i in plan.order() {
        let m = &plan.milestones[i];
        let done = progress.get(&m.id).unwrap_or(&none);
        let length = i64::from(m.duration_working_days);
        let ready = m
            .depends_on
            .iter()
            .filter_map(|d| index.get(d.id()).map(|&j| ef[j] + 1 + i64::from(d.lag())))
            .max()
            .unwrap_or(0);
        es[i] = match (done.started_on, now) {
            (Some(started), _) => days.start(started)?,
            (None, Some(now)) if done.finished_on.is_none() => ready.max(now),
            _ => ready,
        };
        ef[i] = match (done.finished_on, now) {
            (Some(finished), _) => days.finish(finished)?,
            (None, Some(now)) => (es[i] + length - 1).max(now),
            (None, None) => es[i] + length - 1,
        };
    }
    // Backward pass: the latest finish that does not move the end of the plan.
    let end = ef.iter().copied().max().unwrap_or(0);
    let mut lf = vec![end; n];
    for i in plan.order().into_iter().rev() {
        let m = &plan.milestones[i];
        let length = i64::from(m.duration_working_days);
        let ls = lf[i] - length + 1;
        for d in &m.depends_on {
            if let Some(&j) = index.get(d.id()) {
                lf[j] = lf[j].min(ls - 1 - i64::from(d.lag()));
            }
        }
    }
    plan.milestones
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let done = progress.get(&m.id).unwrap_or(&none);
            let slack = lf[i] - ef[i];
            let finished = done.finished_on.is_some();
            Ok(Forecast {
                id: m.id.clone(),
                start: match done.started_on {
                    Some(d) => d,
                    // A point in time starts when it is reached.
                    None if m.duration_working_days == 0 => days.date(ef[i])?,
                    None => days.date(es[i])?,
                },
                due: match done.finished_on {
                    Some(d) => d,
                    None => days.date(ef[i])?,
                },
                slack_working_days: slack,
                critical: slack <= 0 && !finished,
                finished,
            })
        })
        .collect()
}

/// Each milestone's status against the baseline's due dates (`None`: no baseline yet, all green
/// unless a forecast is already past due).
pub fn status(
    forecasts: &[Forecast],
    baseline: Option<&HashMap<String, NaiveDate>>,
    calendar: &Calendar,
) -> Result<Vec<Status>, CalendarError> {
    forecasts
        .iter()
        .map(|f| {
            let baseline_due = baseline.and_then(|b| b.get(&f.id).copied());
            let slip = match baseline_due {
                Some(due) => Some(calendar.working_days_between(due, f.due)?),
                None => None,
            };
            let rag = match slip {
                Some(s) if s > AMBER_WORKING_DAYS || (s > 0 && f.critical) => Rag::Red,
                Some(s) if s > 0 => Rag::Amber,
                _ => Rag::Green,
            };
            Ok(Status {
                id: f.id.clone(),
                baseline_due,
                slip_working_days: slip,
                rag,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn plan() -> PlanFile {
        PlanFile::parse(super::super::TEST_PLAN).unwrap()
    }

    fn by_id(forecasts: &[Forecast], id: &str) -> Forecast {
        forecasts.iter().find(|f| f.id == id).unwrap().clone()
    }

    #[test]
    fn critical_path_and_slack_across_the_national_day_holiday() {
        let cal = Calendar::embedded();
        let got = forecast(&plan(), &HashMap::new(), None, cal).unwrap();
        let mapping = by_id(&got, "mapping");
        assert_eq!(
            (mapping.start, mapping.due),
            (date("2026-09-28"), date("2026-09-30"))
        );
        // The bridge starts after the National Day holiday (10-01..10-07) and counts the make-up
        // Saturday 10-10: 10-08, 09, 10, 12, 13, 14, 15, 16, 19, 20.
        let bridge = by_id(&got, "bridge");
        assert_eq!(
            (bridge.start, bridge.due),
            (date("2026-10-08"), date("2026-10-20"))
        );
        let writeback = by_id(&got, "writeback");
        assert_eq!(
            (writeback.start, writeback.due),
            (date("2026-10-09"), date("2026-10-12"))
        );
        // The pilot's go-live (0 days) is reached when the bridge is done.
        let pilot = by_id(&got, "pilot");
        assert_eq!((pilot.start, pilot.due), (date("2026-10-20"), date("2026-10-20")));
        assert!(mapping.critical && bridge.critical && pilot.critical);
        assert!(!writeback.critical);
        // Write-back may slip from 10-12 to 10-20: 10-13, 14, 15, 16, 19, 20.
        assert_eq!(writeback.slack_working_days, 6);
    }

    #[test]
    fn a_late_milestone_slips_what_follows_and_turns_red() {
        let cal = Calendar::embedded();
        let plan = plan();
        let baseline: HashMap<String, NaiveDate> = forecast(&plan, &HashMap::new(), None, cal)
            .unwrap()
            .into_iter()
            .map(|f| (f.id, f.due))
            .collect();
        let progress: HashMap<String, Progress> = [
            (
                "mapping".to_owned(),
                Progress {
                    started_on: Some(date("2026-09-28")),
                    finished_on: Some(date("2026-09-30")),
                },
            ),
            (
                "bridge".to_owned(),
                Progress {
                    started_on: Some(date("2026-10-08")),
                    finished_on: None,
                },
            ),
        ]
        .into();
        // On 10-14 the write-back has not started: it cannot start before today, so it is due
        // 10-16, 4 working days after its baseline but within its slack: amber; the plan's end
        // does not move.
        let today = date("2026-10-14");
        let got = forecast(&plan, &progress, Some(today), cal).unwrap();
        let statuses = status(&got, Some(&baseline), cal).unwrap();
        let of = |id: &str| statuses.iter().find(|s| s.id == id).unwrap().clone();
        assert_eq!(of("mapping").rag, Rag::Green);
        assert_eq!(of("writeback").slip_working_days, Some(4));
        assert_eq!(of("writeback").rag, Rag::Amber);
        assert_eq!(of("pilot").rag, Rag::Green);
        // On 10-26 the bridge is still open (due today at the earliest: 4 working days late) and
        // the write-back has not started: it is now the critical path, 12 days late → red; the
        // bridge has 2 days of slack again → amber; the pilot slips 6 working days → red.
        let today = date("2026-10-26");
        let got = forecast(&plan, &progress, Some(today), cal).unwrap();
        let statuses = status(&got, Some(&baseline), cal).unwrap();
        let of = |id: &str| statuses.iter().find(|s| s.id == id).unwrap().clone();
        assert_eq!(
            (of("bridge").slip_working_days, of("bridge").rag),
            (Some(4), Rag::Amber)
        );
        assert_eq!(by_id(&got, "bridge").slack_working_days, 2);
        assert!(by_id(&got, "writeback").critical);
        assert_eq!(
            (of("writeback").slip_working_days, of("writeback").rag),
            (Some(12), Rag::Red)
        );
        assert_eq!(of("pilot").rag, Rag::Red);
        assert!(of("pilot").slip_working_days.unwrap() > AMBER_WORKING_DAYS);
        assert_eq!(
            by_id(&got, "mapping").due,
            date("2026-09-30"),
            "finished work keeps its dates"
        );
    }

    /// A point-in-time milestone between two pieces of work takes no day: the plan ends where
    /// the critical path method with a zero duration puts it (task A: 3 working days from Monday
    /// 2026-11-02, milestone M: 0, task B: 2 after M → A 11-02..11-04, M 11-04, B 11-05..11-06).
    #[test]
    fn a_zero_day_milestone_between_two_tasks_takes_no_day() {
        let text = r#"
[plan]
system = "s"
mode = "full_migration"
start = "2026-11-02"
owner = "张经理"
[[milestones]]
id = "a"
phase = "迁移"
name = "迁移演练"
owner = "工程师"
duration_working_days = 3
[[milestones]]
id = "m"
phase = "切换"
name = "切换决定"
owner = "专家组"
duration_working_days = 0
depends_on = ["a"]
[[milestones]]
id = "b"
phase = "切换"
name = "正式切换"
owner = "工程师"
duration_working_days = 2
depends_on = ["m"]
"#;
        let plan = PlanFile::parse(text).unwrap();
        let got = forecast(&plan, &HashMap::new(), None, Calendar::embedded()).unwrap();
        let m = by_id(&got, "m");
        assert_eq!((m.start, m.due), (date("2026-11-04"), date("2026-11-04")));
        let b = by_id(&got, "b");
        assert_eq!((b.start, b.due), (date("2026-11-05"), date("2026-11-06")));
        assert!(
            got.iter().all(|f| f.critical && f.slack_working_days == 0),
            "{got:?}"
        );
    }

    #[test]
    fn a_year_without_calendar_data_is_an_error() {
        let late = super::super::TEST_PLAN.replace("start = \"2026-09-28\"", "start = \"2026-12-21\"");
        let plan = PlanFile::parse(&late).unwrap();
        assert!(matches!(
            forecast(&plan, &HashMap::new(), None, Calendar::embedded()),
            Err(CalendarError::UnknownYear { .. })
        ));
    }
}
