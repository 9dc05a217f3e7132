//! The Chinese working-day calendar used to count statutory notice periods.
//!
//! The data is the State Council's annual holiday arrangements, embedded from
//! `data/cn-workdays.toml`; a year published after the build is added with an
//! override file (see [`Calendar::load`]).
//!
//! Counting rule: a day is a working day when it is Monday to Friday and not a
//! listed holiday, or when it is a listed make-up working day (调休, a Saturday
//! or Sunday that is worked). A year that is not in the data is an error
//! ([`CalendarError::UnknownYear`]), never a guess: every day that a calculation
//! examines must lie in a known year. The start date of
//! [`Calendar::add_working_days`] and of [`Calendar::working_days_between`] is
//! never counted, so it is never examined.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use serde::Deserialize;

/// The embedded data file, as named in error messages.
const EMBEDDED_SOURCE_NAME: &str = "embedded data/cn-workdays.toml";
const EMBEDDED_TOML: &str = include_str!("../data/cn-workdays.toml");

static EMBEDDED: LazyLock<Calendar> = LazyLock::new(|| {
    Calendar::from_toml_str(EMBEDDED_SOURCE_NAME, EMBEDDED_TOML)
        // A programming error, caught by the `embedded_data_is_valid` test.
        .unwrap_or_else(|err| panic!("{err}"))
});

/// Holidays and make-up working days, per year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

/// One year's arrangements; both sets hold only dates inside that year.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Year {
    holidays: BTreeSet<NaiveDate>,
    makeup_workdays: BTreeSet<NaiveDate>,
}

impl Year {
    fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.makeup_workdays.contains(&date) {
            true
        } else if self.holidays.contains(&date) {
            false
        } else {
            !is_weekend(date)
        }
    }
}

/// Why a working-day question or a data file could not be answered or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// A day that had to be examined lies in a year without data.
    #[error(
        "no working-day data for year {year}; add the State Council's holiday arrangements for it \
         as a [years.{year}] table in a working-day override file"
    )]
    UnknownYear { year: i32 },
    /// TOML syntax or shape error; `message` starts with `line L, column C` when known.
    #[error("cannot parse working-day data {source_name}: {message}")]
    Parse { source_name: String, message: String },
    /// Well-formed data that breaks a rule; the first problem found.
    #[error("invalid working-day data in {source_name}: year {year}, {date}: {problem}")]
    Invalid {
        source_name: String,
        year: i32,
        date: NaiveDate,
        problem: String,
    },
    /// The override file could not be read; the I/O error is the `source()`.
    #[error("cannot read working-day override file {}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The file's shape: `[years.2025] holidays = [...] makeup_workdays = [...]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    years: BTreeMap<String, YearToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearToml {
    holidays: Vec<NaiveDate>,
    makeup_workdays: Vec<NaiveDate>,
}

/// An instant in Beijing time (+08:00), the province's clock.
pub fn beijing_time<Tz: TimeZone>(at: &DateTime<Tz>) -> DateTime<FixedOffset> {
    // 8 hours is within the ±24 h a FixedOffset allows.
    let beijing = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is a valid offset"));
    at.with_timezone(&beijing)
}

/// 00:00 of `date` in Beijing time: where the province's day starts.
pub fn beijing_day_start(date: NaiveDate) -> DateTime<FixedOffset> {
    // Midnight UTC is 08:00 in Beijing; eight hours earlier is the day's start there.
    beijing_time(&date.and_time(chrono::NaiveTime::MIN).and_utc()) - chrono::Duration::hours(8)
}

/// The calendar day in Beijing time (the province counts its days there) of an instant.
pub fn beijing_date<Tz: TimeZone>(at: &DateTime<Tz>) -> NaiveDate {
    beijing_time(at).date_naive()
}

/// Today in Beijing.
pub fn today() -> NaiveDate {
    beijing_date(&Utc::now())
}

impl Calendar {
    /// The embedded State Council data (parsed once). Embedded data that fails
    /// to parse is a programming error: a test guards it.
    pub fn embedded() -> &'static Calendar {
        &EMBEDDED
    }

    /// Parses and validates working-day data; `source_name` names the data
    /// (usually a file path) in error messages. Reports the first problem, in
    /// year order and then file order.
    pub fn from_toml_str(source_name: &str, text: &str) -> Result<Calendar, CalendarError> {
        let file: FileToml = toml::from_str(text).map_err(|err| parse_error(source_name, text, &err))?;

        let mut raw_years = BTreeMap::new();
        for (key, raw) in file.years {
            let year = key
                .parse::<i32>()
                .ok()
                .filter(|year| year.to_string() == key)
                .ok_or_else(|| CalendarError::Parse {
                    source_name: source_name.to_owned(),
                    message: format!("table key years.{key:?} is not a year number"),
                })?;
            raw_years.insert(year, raw);
        }

        let mut years = BTreeMap::new();
        for (year, raw) in raw_years {
            years.insert(year, validate_year(source_name, year, raw)?);
        }
        Ok(Calendar { years })
    }

    /// The embedded data, with every year of the override file (if given)
    /// added or replacing the embedded year.
    pub fn load(override_path: Option<&Path>) -> Result<Calendar, CalendarError> {
        let mut calendar = Calendar::embedded().clone();
        if let Some(path) = override_path {
            let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Io {
                path: path.to_owned(),
                source,
            })?;
            let overrides = Calendar::from_toml_str(&path.display().to_string(), &text)?;
            calendar.years.extend(overrides.years);
        }
        Ok(calendar)
    }

    /// The years that have data, in ascending order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let year = date.year();
        self.years
            .get(&year)
            .map(|data| data.is_working_day(date))
            .ok_or(CalendarError::UnknownYear { year })
    }

    /// The n-th working day after `date`; `date` itself never counts; n = 0
    /// returns `date`.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        let mut remaining = n;
        while remaining > 0 {
            day = next_day(day)?;
            if self.is_working_day(day)? {
                remaining -= 1;
            }
        }
        Ok(day)
    }

    /// Working days in (a, b]; negative (minus the count in (b, a]) when
    /// b < a; 0 when equal.
    pub fn working_days_between(&self, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
        if b < a {
            return self.working_days_between(b, a).map(|count| -count);
        }
        let mut count = 0;
        let mut day = a;
        while day < b {
            day = next_day(day)?;
            if self.is_working_day(day)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The following day; past chrono's last date there is no data either.
fn next_day(date: NaiveDate) -> Result<NaiveDate, CalendarError> {
    date.succ_opt().ok_or(CalendarError::UnknownYear {
        year: date.year().saturating_add(1),
    })
}

fn validate_year(source_name: &str, year: i32, raw: YearToml) -> Result<Year, CalendarError> {
    let invalid = |date: NaiveDate, problem: String| CalendarError::Invalid {
        source_name: source_name.to_owned(),
        year,
        date,
        problem,
    };

    let mut holidays = BTreeSet::new();
    for date in raw.holidays {
        if date.year() != year {
            return Err(invalid(date, format!("holiday is not in year {year}")));
        }
        if !holidays.insert(date) {
            return Err(invalid(date, "listed twice under holidays".to_owned()));
        }
    }

    let mut makeup_workdays = BTreeSet::new();
    for date in raw.makeup_workdays {
        if date.year() != year {
            return Err(invalid(
                date,
                format!("make-up working day is not in year {year}"),
            ));
        }
        if !is_weekend(date) {
            return Err(invalid(
                date,
                format!(
                    "make-up working day is a {}, not a Saturday or Sunday",
                    weekday_name(date.weekday())
                ),
            ));
        }
        if holidays.contains(&date) {
            return Err(invalid(
                date,
                "listed both under holidays and under makeup_workdays".to_owned(),
            ));
        }
        if !makeup_workdays.insert(date) {
            return Err(invalid(date, "listed twice under makeup_workdays".to_owned()));
        }
    }

    Ok(Year {
        holidays,
        makeup_workdays,
    })
}

fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// A TOML error as `line L, column C: message`, without the multi-line snippet.
fn parse_error(source_name: &str, text: &str, err: &toml::de::Error) -> CalendarError {
    let message = err.message().trim_end();
    let message = match err.span().and_then(|span| text.get(..span.start)) {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or(before).chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    };
    CalendarError::Parse {
        source_name: source_name.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[track_caller]
    fn check(day: &str, expected: bool) {
        let got = Calendar::embedded().is_working_day(date(day)).unwrap();
        assert_eq!(got, expected, "is_working_day({day})");
    }

    #[track_caller]
    fn check_add(calendar: &Calendar, from: &str, n: u32, expected: &str) {
        let got = calendar.add_working_days(date(from), n).unwrap();
        assert_eq!(got, date(expected), "add_working_days({from}, {n})");
    }

    #[track_caller]
    fn check_between(calendar: &Calendar, a: &str, b: &str, expected: i64) {
        let got = calendar.working_days_between(date(a), date(b)).unwrap();
        assert_eq!(got, expected, "working_days_between({a}, {b})");
    }

    #[track_caller]
    fn check_unknown_year<T: std::fmt::Debug>(result: Result<T, CalendarError>, expected: i32) {
        match result {
            Err(CalendarError::UnknownYear { year }) => assert_eq!(year, expected),
            other => panic!("expected UnknownYear {{ year: {expected} }}, got {other:?}"),
        }
    }

    #[track_caller]
    fn check_invalid(text: &str, year: i32, day: &str, problem: &str) {
        match Calendar::from_toml_str("test.toml", text) {
            Err(
                err @ CalendarError::Invalid {
                    source_name: _,
                    year: got_year,
                    date: got_date,
                    problem: _,
                },
            ) => {
                assert_eq!((got_year, got_date), (year, date(day)), "{err}");
                let expected =
                    format!("invalid working-day data in test.toml: year {year}, {day}: {problem}");
                assert_eq!(err.to_string(), expected);
            }
            other => panic!("expected Invalid for {day}, got {other:?}"),
        }
    }

    #[track_caller]
    fn check_parse_error(text: &str, message: &str) {
        match Calendar::from_toml_str("test.toml", text) {
            Err(err @ CalendarError::Parse { .. }) => {
                let expected = format!("cannot parse working-day data test.toml: {message}");
                assert_eq!(err.to_string(), expected);
            }
            other => panic!("expected Parse error, got {other:?}"),
        }
    }

    /// A file in the temp directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("ronghe-calendar-{}-{name}.toml", std::process::id()));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Made-up 2027 data for tests; not the real State Council notice.
    const FAKE_2027: &str = r#"
        [years.2027]
        holidays = ["2027-01-01", "2027-01-02", "2027-01-03"]
        makeup_workdays = ["2027-01-09"]
    "#;

    #[test]
    fn embedded_data_is_valid() {
        let calendar = Calendar::from_toml_str(EMBEDDED_SOURCE_NAME, EMBEDDED_TOML).unwrap_or_else(|err| {
            panic!("{err}");
        });
        assert_eq!(
            calendar.years().collect::<Vec<_>>(),
            (2004..=2026).collect::<Vec<_>>()
        );
        assert_eq!(Calendar::embedded(), &calendar);
    }

    #[test]
    fn holiday_block_edges_2025() {
        // The day before each block, its first and last day off, the first day back.
        for (day, working) in [
            // New Year's Day (the day before is in 2024: see unknown_years_are_errors).
            ("2025-01-01", false),
            ("2025-01-02", true),
            // Spring Festival.
            ("2025-01-27", true),
            ("2025-01-28", false),
            ("2025-02-04", false),
            ("2025-02-05", true),
            // Qingming.
            ("2025-04-03", true),
            ("2025-04-04", false),
            ("2025-04-06", false),
            ("2025-04-07", true),
            // Labour Day.
            ("2025-04-30", true),
            ("2025-05-01", false),
            ("2025-05-05", false),
            ("2025-05-06", true),
            // Dragon Boat.
            ("2025-05-30", true),
            ("2025-05-31", false),
            ("2025-06-02", false),
            ("2025-06-03", true),
            // National Day and Mid-Autumn.
            ("2025-09-30", true),
            ("2025-10-01", false),
            ("2025-10-08", false),
            ("2025-10-09", true),
        ] {
            check(day, working);
        }
    }

    #[test]
    fn holiday_block_edges_2026() {
        for (day, working) in [
            // New Year's Day; the first day back is a make-up Sunday.
            ("2025-12-31", true),
            ("2026-01-01", false),
            ("2026-01-03", false),
            ("2026-01-04", true),
            // Spring Festival; the day before is a make-up Saturday.
            ("2026-02-14", true),
            ("2026-02-15", false),
            ("2026-02-23", false),
            ("2026-02-24", true),
            // Qingming.
            ("2026-04-03", true),
            ("2026-04-04", false),
            ("2026-04-06", false),
            ("2026-04-07", true),
            // Labour Day.
            ("2026-04-30", true),
            ("2026-05-01", false),
            ("2026-05-05", false),
            ("2026-05-06", true),
            // Dragon Boat.
            ("2026-06-18", true),
            ("2026-06-19", false),
            ("2026-06-21", false),
            ("2026-06-22", true),
            // Mid-Autumn.
            ("2026-09-24", true),
            ("2026-09-25", false),
            ("2026-09-27", false),
            ("2026-09-28", true),
            // National Day.
            ("2026-09-30", true),
            ("2026-10-01", false),
            ("2026-10-07", false),
            ("2026-10-08", true),
        ] {
            check(day, working);
        }
    }

    #[test]
    fn makeup_workdays_are_working_weekend_days() {
        for day in [
            "2025-01-26",
            "2025-02-08",
            "2025-04-27",
            "2025-09-28",
            "2025-10-11",
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10",
        ] {
            assert!(is_weekend(date(day)), "{day} is a weekend day");
            check(day, true);
        }
    }

    #[test]
    fn ordinary_days() {
        for (day, working) in [
            ("2025-03-12", true),  // Wednesday
            ("2025-03-15", false), // Saturday
            ("2025-03-16", false), // Sunday
            ("2026-12-31", true),  // Thursday
        ] {
            check(day, working);
        }
    }

    #[test]
    fn add_working_days() {
        let calendar = Calendar::embedded();
        for (from, n, expected) in [
            // n = 0 returns the date itself, even a holiday.
            ("2025-10-01", 0, "2025-10-01"),
            ("2025-03-15", 0, "2025-03-15"),
            // 2025 National Day and Mid-Autumn, with make-up days on both sides.
            ("2025-09-26", 1, "2025-09-28"),
            ("2025-09-30", 1, "2025-10-09"),
            ("2025-09-30", 2, "2025-10-10"),
            ("2025-09-30", 3, "2025-10-11"),
            ("2025-09-30", 4, "2025-10-13"),
            ("2025-09-30", 10, "2025-10-21"),
            ("2025-10-03", 1, "2025-10-09"),
            // 2026 Spring Festival.
            ("2026-02-13", 1, "2026-02-14"),
            ("2026-02-13", 2, "2026-02-24"),
            ("2026-02-14", 1, "2026-02-24"),
            ("2026-02-24", 4, "2026-02-28"),
            ("2026-02-10", 15, "2026-03-09"),
            ("2026-02-12", 20, "2026-03-18"),
            // Across the 2025/2026 boundary.
            ("2025-12-31", 1, "2026-01-04"),
            ("2025-12-31", 2, "2026-01-05"),
            ("2025-12-30", 3, "2026-01-05"),
            ("2025-12-25", 10, "2026-01-09"),
            ("2026-12-28", 3, "2026-12-31"),
            // The start date is never examined, so its year need not be known.
            ("2024-12-31", 1, "2025-01-02"),
        ] {
            check_add(calendar, from, n, expected);
        }
    }

    #[test]
    fn working_days_between() {
        let calendar = Calendar::embedded();
        for (a, b, expected) in [
            ("2025-09-30", "2025-10-09", 1),
            ("2025-10-09", "2025-09-30", -1),
            ("2025-09-26", "2025-10-13", 7),
            ("2025-10-13", "2025-09-26", -7),
            ("2025-12-31", "2026-01-05", 2),
            ("2026-01-05", "2025-12-31", -2),
            ("2026-02-13", "2026-02-24", 2),
            ("2026-02-12", "2026-03-13", 17),
            ("2026-03-13", "2026-02-12", -17),
            ("2025-10-01", "2025-10-01", 0),
            ("2025-10-09", "2025-10-09", 0),
            ("2027-06-01", "2027-06-01", 0),
            // Whole years.
            ("2024-12-31", "2025-12-31", 248),
            ("2025-12-31", "2026-12-31", 248),
            ("2026-12-31", "2025-12-31", -248),
        ] {
            check_between(calendar, a, b, expected);
        }
    }

    #[test]
    fn between_inverts_add() {
        let calendar = Calendar::embedded();
        let mut from = date("2025-01-01");
        while from < date("2026-11-01") {
            for n in 0..30 {
                let to = calendar.add_working_days(from, n).unwrap();
                assert_eq!(
                    calendar.working_days_between(from, to).unwrap(),
                    i64::from(n),
                    "{from} + {n} = {to}"
                );
            }
            from = from.succ_opt().unwrap();
        }
    }

    #[test]
    fn unknown_years_are_errors() {
        let calendar = Calendar::embedded();
        // The day before the first year the notices cover.
        check_unknown_year(calendar.is_working_day(date("2003-12-31")), 2003);
        check_unknown_year(calendar.is_working_day(date("2027-01-01")), 2027);
        check_unknown_year(calendar.add_working_days(date("2003-06-02"), 1), 2003);
        check_unknown_year(calendar.add_working_days(date("2027-01-04"), 1), 2027);
        // Walking into 2027 from late December 2026.
        check_unknown_year(calendar.add_working_days(date("2026-12-28"), 4), 2027);
        check_unknown_year(calendar.add_working_days(date("2026-12-31"), 1), 2027);
        check_unknown_year(
            calendar.working_days_between(date("2026-12-30"), date("2027-01-04")),
            2027,
        );
        check_unknown_year(
            calendar.working_days_between(date("2027-01-04"), date("2026-12-30")),
            2027,
        );
        check_unknown_year(
            calendar.working_days_between(date("2003-12-30"), date("2004-01-02")),
            2003,
        );
        check_unknown_year(next_day(NaiveDate::MAX), NaiveDate::MAX.year() + 1);

        let err = calendar.is_working_day(date("2027-01-01")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no working-day data for year 2027; add the State Council's holiday arrangements \
             for it as a [years.2027] table in a working-day override file"
        );
    }

    #[test]
    fn historical_years_follow_their_notices() {
        let calendar = Calendar::embedded();
        for (day, working) in [
            ("2004-01-17", true),  // a make-up Saturday before the 2004 Spring Festival
            ("2004-01-22", false), // its first day off
            ("2015-09-03", false), // the 70th anniversary of the victory (a one-off holiday)
            ("2015-09-06", true),  // and its make-up Sunday
            ("2020-01-31", false), // the 2020 Spring Festival, extended to 2 February
            ("2020-02-01", false), // a make-up Saturday cancelled by the extension
            ("2020-02-03", true),
            ("2024-02-04", true), // a make-up Sunday of 2024
            ("2024-10-07", false),
        ] {
            assert_eq!(calendar.is_working_day(date(day)).unwrap(), working, "{day}");
        }
        // Across a year end: 2019-12-31 (Tue) + 1 working day skips New Year's Day 2020.
        check_add(calendar, "2019-12-31", 1, "2020-01-02");
    }

    #[test]
    fn override_adds_a_year() {
        let file = TempFile::new("adds-2027", FAKE_2027);
        let calendar = Calendar::load(Some(&file.0)).unwrap();
        assert_eq!(
            calendar.years().collect::<Vec<_>>(),
            (2004..=2027).collect::<Vec<_>>()
        );
        assert!(!calendar.is_working_day(date("2027-01-01")).unwrap());
        assert!(calendar.is_working_day(date("2027-01-09")).unwrap());
        check_add(&calendar, "2026-12-28", 4, "2027-01-04");
        check_add(&calendar, "2026-12-31", 1, "2027-01-04");
        check_add(&calendar, "2027-01-08", 1, "2027-01-09");
        check_between(&calendar, "2026-12-30", "2027-01-04", 2);
        check_between(&calendar, "2027-01-04", "2026-12-30", -2);
        // The embedded years are unchanged.
        check_add(&calendar, "2025-09-30", 1, "2025-10-09");
    }

    #[test]
    fn override_replaces_a_year() {
        let file = TempFile::new(
            "replaces-2026",
            r#"
            [years.2026]
            holidays = ["2026-01-01"]
            makeup_workdays = ["2026-01-03"]
            "#,
        );
        let calendar = Calendar::load(Some(&file.0)).unwrap();
        assert_eq!(
            calendar.years().collect::<Vec<_>>(),
            (2004..=2026).collect::<Vec<_>>()
        );
        for (day, working) in [
            ("2026-01-01", false),
            ("2026-01-02", true),  // a holiday in the embedded data
            ("2026-01-03", true),  // now a make-up day
            ("2026-01-04", false), // a make-up day in the embedded data
            ("2026-02-16", true),  // Spring Festival is gone
        ] {
            assert_eq!(calendar.is_working_day(date(day)).unwrap(), working, "{day}");
        }
        // 2025 is still the embedded data.
        check_add(&calendar, "2025-09-30", 1, "2025-10-09");
    }

    #[test]
    fn load_without_override_is_the_embedded_data() {
        assert_eq!(&Calendar::load(None).unwrap(), Calendar::embedded());
    }

    #[test]
    fn load_reports_file_errors() {
        let missing = std::env::temp_dir().join("ronghe-calendar-does-not-exist.toml");
        match Calendar::load(Some(&missing)) {
            Err(err @ CalendarError::Io { .. }) => {
                let expected = format!("cannot read working-day override file {}", missing.display());
                assert_eq!(err.to_string(), expected);
                assert!(std::error::Error::source(&err).is_some());
            }
            other => panic!("expected Io error, got {other:?}"),
        }

        let file = TempFile::new("bad-syntax", "[years.2027\n");
        match Calendar::load(Some(&file.0)) {
            Err(CalendarError::Parse { source_name, message }) => {
                assert_eq!(source_name, file.0.display().to_string());
                assert!(message.starts_with("line 1, column "), "{message}");
            }
            other => panic!("expected Parse error, got {other:?}"),
        }

        let file = TempFile::new(
            "invalid",
            "[years.2027]\nholidays = [\"2026-01-01\"]\nmakeup_workdays = []\n",
        );
        match Calendar::load(Some(&file.0)) {
            Err(CalendarError::Invalid { source_name, .. }) => {
                assert_eq!(source_name, file.0.display().to_string());
            }
            other => panic!("expected Invalid error, got {other:?}"),
        }
    }

    #[test]
    fn invalid_data_is_rejected() {
        for (text, year, day, problem) in [
            (
                r#"[years.2027]
                holidays = ["2027-01-01", "2026-12-31"]
                makeup_workdays = []"#,
                2027,
                "2026-12-31",
                "holiday is not in year 2027",
            ),
            (
                r#"[years.2027]
                holidays = ["2027-01-01"]
                makeup_workdays = ["2028-01-01"]"#,
                2027,
                "2028-01-01",
                "make-up working day is not in year 2027",
            ),
            (
                r#"[years.2027]
                holidays = ["2027-01-01"]
                makeup_workdays = ["2027-01-06"]"#,
                2027,
                "2027-01-06",
                "make-up working day is a Wednesday, not a Saturday or Sunday",
            ),
            (
                r#"[years.2027]
                holidays = ["2027-01-01", "2027-01-02"]
                makeup_workdays = ["2027-01-02"]"#,
                2027,
                "2027-01-02",
                "listed both under holidays and under makeup_workdays",
            ),
            (
                r#"[years.2027]
                holidays = ["2027-01-01", "2027-01-01"]
                makeup_workdays = []"#,
                2027,
                "2027-01-01",
                "listed twice under holidays",
            ),
            (
                r#"[years.2027]
                holidays = []
                makeup_workdays = ["2027-01-09", "2027-01-09"]"#,
                2027,
                "2027-01-09",
                "listed twice under makeup_workdays",
            ),
            // The first problem in year order is reported, whatever the file order.
            (
                r#"[years.2028]
                holidays = ["2027-01-01"]
                makeup_workdays = []
                [years.2027]
                holidays = ["2028-01-01"]
                makeup_workdays = []"#,
                2027,
                "2028-01-01",
                "holiday is not in year 2027",
            ),
        ] {
            check_invalid(text, year, day, problem);
        }
    }

    #[test]
    fn malformed_data_is_rejected() {
        for (text, message) in [
            // An unknown key in a year table.
            (
                "[years.2027]\nholidays = []\nmakeup_workdays = []\nworkdays = []\n",
                "line 4, column 1: unknown field `workdays`, expected `holidays` or `makeup_workdays`",
            ),
            // An unknown top-level key.
            (
                "version = 1\n[years.2027]\nholidays = []\nmakeup_workdays = []\n",
                "line 1, column 1: unknown field `version`, expected `years`",
            ),
            (
                "[years.2027]\nholidays = []\n",
                "line 1, column 1: missing field `makeup_workdays`",
            ),
            ("", "line 1, column 1: missing field `years`"),
            // Not a date.
            (
                "[years.2027]\nholidays = [\"2027-02-30\"]\nmakeup_workdays = []\n",
                "line 2, column 13: input is out of range",
            ),
            // Dates are strings, not TOML dates.
            (
                "[years.2027]\nholidays = [2027-01-01]\nmakeup_workdays = []\n",
                "line 2, column 13: invalid type: map, expected a formatted date string",
            ),
            // TOML syntax.
            ("[years.2027\n", "line 1, column 12: unclosed table, expected `]`"),
            (
                "[years.next]\nholidays = []\nmakeup_workdays = []\n",
                "table key years.\"next\" is not a year number",
            ),
            (
                "[years.02027]\nholidays = []\nmakeup_workdays = []\n",
                "table key years.\"02027\" is not a year number",
            ),
        ] {
            check_parse_error(text, message);
        }
    }
}
