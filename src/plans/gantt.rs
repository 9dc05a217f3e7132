//! The plan's Gantt chart as SVG, drawn server-side: one row per milestone with its forecast bar
//! (coloured by status, outlined when critical, a diamond for a zero-day milestone), the
//! baseline's due date marked beneath, non-working days shaded (statutory holidays in red, weekends
//! in grey), make-up working days marked, and today as a line.

use std::fmt::Write as _;

use chrono::{Datelike as _, NaiveDate, Weekday};

use super::{PlanView, Rag};
use crate::calendar::Calendar;

const LABEL: i64 = 260;
const DAY: i64 = 14;
const ROW: i64 = 30;
const HEAD: i64 = 46;
/// At most this many days are drawn (a year and a half).
const MAX_DAYS: i64 = 550;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(rag: Option<Rag>) -> &'static str {
    match rag {
        Some(Rag::Red) => "#c62828",
        Some(Rag::Amber) => "#f9a825",
        Some(Rag::Green) | None => "#2e7d32",
    }
}

/// The chart of `view` on `today`.
pub fn render(view: &PlanView, today: NaiveDate, calendar: &Calendar) -> String {
    let baseline_dates = view.baseline.iter().flat_map(|b| b.dues.values().copied());
    let first = view
        .milestones
        .iter()
        .map(|m| m.forecast.start)
        .chain([view.start])
        .min()
        .unwrap_or(view.start);
    let last = view
        .milestones
        .iter()
        .map(|m| m.forecast.due)
        .chain(baseline_dates)
        .chain([today.max(first)])
        .max()
        .unwrap_or(first);
    let days = ((last - first).num_days() + 3).clamp(1, MAX_DAYS);
    let x = |d: NaiveDate| LABEL + (d - first).num_days().clamp(0, days) * DAY;
    let width = LABEL + days * DAY + 10;
    let height = HEAD + ROW * view.milestones.len() as i64 + 30;
    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img" aria-label="{} 甘特图">"#,
        escape(&view.system_id)
    );
    let _ = write!(
        svg,
        r#"<title>{} 迁移计划甘特图 (Gantt)</title>"#,
        escape(&view.system_id)
    );
    // Non-working days and make-up working days, from the official calendar.
    for i in 0..days {
        let day = first + chrono::Duration::days(i);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let (fill, class) = match calendar.is_working_day(day) {
            Ok(false) if weekend => ("#eeeeee", "weekend"),
            Ok(false) => ("#fde2e2", "holiday"),
            Ok(true) if weekend => ("#e3f2fd", "makeup"),
            _ => continue,
        };
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{}" y="{HEAD}" width="{DAY}" height="{}" fill="{fill}"><title>{day}</title></rect>"#,
            x(day),
            height - HEAD - 30
        );
    }
    // Month labels and week ticks.
    for i in 0..days {
        let day = first + chrono::Duration::days(i);
        if day.day() == 1 || i == 0 {
            let _ = write!(
                svg,
                r#"<text x="{}" y="16" font-weight="bold">{}年{}月</text>"#,
                x(day) + 2,
                day.year(),
                day.month()
            );
        }
        if day.weekday() == Weekday::Mon {
            let _ = write!(
                svg,
                r##"<text x="{}" y="36" fill="#555" font-size="10">{}</text>"##,
                x(day) + 1,
                day.day()
            );
            let _ = write!(
                svg,
                r##"<line x1="{0}" y1="40" x2="{0}" y2="{1}" stroke="#ddd"/>"##,
                x(day),
                height - 30
            );
        }
    }
    for (row, m) in view.milestones.iter().enumerate() {
        let y = HEAD + ROW * row as i64;
        let label = format!("{} {}", m.name, if m.forecast.critical { "★" } else { "" });
        let _ = write!(
            svg,
            r#"<text x="6" y="{}">{}</text>"#,
            y + 18,
            escape(label.trim_end())
        );
        if let Some(due) = m.status.baseline_due {
            let _ = write!(
                svg,
                r##"<rect class="baseline" x="{}" y="{}" width="{DAY}" height="5" fill="#616161"><title>基线到期 baseline due {due}</title></rect>"##,
                x(due),
                y + 24
            );
        }
        let fill = colour(view.baseline.as_ref().map(|_| m.status.rag));
        let stroke = if m.forecast.critical {
            r##" stroke="#000" stroke-width="2""##
        } else {
            ""
        };
        let tip = format!(
            "{}: {} – {}, 总时差 slack {} 工作日{}",
            m.id,
            m.forecast.start,
            m.forecast.due,
            m.forecast.slack_working_days,
            m.late_because
                .as_deref()
                .map(|w| format!("; {w}"))
                .unwrap_or_default()
        );
        if m.duration_working_days == 0 {
            let cx = x(m.forecast.start) + DAY / 2;
            let _ = write!(
                svg,
                r#"<path class="milestone" d="M{cx} {} l8 8 l-8 8 l-8 -8 z" fill="{fill}"{stroke}><title>{}</title></path>"#,
                y + 4,
                escape(&tip)
            );
        } else {
            let opacity = if m.forecast.finished { "1" } else { "0.75" };
            let _ = write!(
                svg,
                r#"<rect class="bar" x="{}" y="{}" width="{}" height="16" rx="3" fill="{fill}" fill-opacity="{opacity}"{stroke}><title>{}</title></rect>"#,
                x(m.forecast.start),
                y + 6,
                (x(m.forecast.due) - x(m.forecast.start) + DAY).max(DAY),
                escape(&tip)
            );
        }
    }
    let tx = x(today) + DAY / 2;
    let _ = write!(
        svg,
        r##"<line class="today" x1="{tx}" y1="{}" x2="{tx}" y2="{}" stroke="#1565c0" stroke-dasharray="4 3"/><text x="{}" y="{}" fill="#1565c0">今天 {today}</text>"##,
        HEAD - 4,
        height - 28,
        tx + 3,
        height - 12
    );
    let _ = write!(
        svg,
        r##"<text x="6" y="{}" fill="#555" font-size="10">★ 关键路径 critical · 灰标 基线到期 baseline due · 红底 法定节假日 · 灰底 周末 · 蓝底 调休上班</text>"##,
        height - 12
    );
    svg.push_str("</svg>");
    svg
}
