//! `ronghe calendar is-workday|add-days|between`: working days per the State Council holiday
//! notices. The bare answer goes to stdout (`true`/`false`, a date, a number) for scripts.

use chrono::NaiveDate;
use clap::Subcommand;
use serde_json::json;

use super::{Context, Failure};
use crate::calendar::Calendar;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Is DATE a working day? Prints true or false 是否工作日.
    IsWorkday {
        #[arg(value_parser = parse_date)]
        date: NaiveDate,
    },
    /// The N-th working day after DATE (DATE itself never counts) 加工作日.
    AddDays {
        #[arg(value_parser = parse_date)]
        date: NaiveDate,
        n: u32,
    },
    /// Working days in (A, B] 间隔工作日数.
    Between {
        #[arg(value_parser = parse_date)]
        a: NaiveDate,
        #[arg(value_parser = parse_date)]
        b: NaiveDate,
    },
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("{s:?} is not a date in the form YYYY-MM-DD ({e})"))
}

pub(super) fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let config = ctx.config()?;
    let calendar =
        Calendar::load(config.calendar_override.as_deref()).map_err(|e| Failure::Failed(e.into()))?;
    let refused = |e: crate::calendar::CalendarError| Failure::Refused(e.into());
    match command {
        Command::IsWorkday { date } => {
            let working = calendar.is_working_day(date).map_err(refused)?;
            ctx.out
                .show(working, &json!({ "date": date, "working_day": working }));
        }
        Command::AddDays { date, n } => {
            let due = calendar.add_working_days(date, n).map_err(refused)?;
            ctx.out
                .show(due, &json!({ "date": date, "working_days": n, "result": due }));
        }
        Command::Between { a, b } => {
            let days = calendar.working_days_between(a, b).map_err(refused)?;
            ctx.out
                .show(days, &json!({ "from": a, "to": b, "working_days": days }));
        }
    }
    Ok(())
}
