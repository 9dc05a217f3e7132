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
/// The foot: today's label on one line, the legend on the next, so they never overlap.
const FOOT: i64 = 44;
/// The legend's width at its font size; the chart is never narrower.
const LEGEND_WIDTH: i64 = 560;
/// Today's label (`今天 YYYY-MM-DD`) at its font size.
const TODAY_LABEL_WIDTH: i64 = 100;
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
    let width = (LABEL + days * DAY + 10).max(LEGEND_WIDTH);
    let height = HEAD + ROW * view.milestones.len() as i64 + FOOT;
    let chart_bottom = height - FOOT;
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
            chart_bottom - HEAD
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
                chart_bottom
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
    // Today's label reads rightwards from the line, or leftwards where it would leave the chart.
    let tx = x(today) + DAY / 2;
    let (label_x, anchor) = if tx + 3 + TODAY_LABEL_WIDTH > width {
        (tx - 3, "end")
    } else {
        (tx + 3, "start")
    };
    let _ = write!(
        svg,
        r##"<line class="today" x1="{tx}" y1="{}" x2="{tx}" y2="{}" stroke="#1565c0" stroke-dasharray="4 3"/><text class="today-label" x="{label_x}" y="{}" text-anchor="{anchor}" fill="#1565c0">今天 {today}</text>"##,
        HEAD - 4,
        chart_bottom + 2,
        chart_bottom + 16
    );
    let _ = write!(
        svg,
        r##"<text class="legend" x="6" y="{}" fill="#555" font-size="10">★ 关键路径 critical · 灰标 基线到期 baseline due · 红底 法定节假日 · 灰底 周末 · 蓝底 调休上班</text>"##,
        height - 6
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::plans::{PlanFile, StoredPlan, view};

    /// The `y` of the element with `class` (its first), and its `x`.
    fn at(svg: &str, class: &str) -> (i64, i64) {
        let element = &svg[svg.find(&format!(r#"class="{class}""#)).unwrap()..];
        let attribute = |name: &str| -> i64 {
            let from = element.find(&format!(r#" {name}=""#)).unwrap() + name.len() + 3;
            element[from..from + element[from..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        (attribute("x"), attribute("y"))
    }

    /// Today's label and the legend are on different lines, and the label stays inside the
    /// chart on the chart's last day as on its first.
    #[test]
    fn todays_label_and_the_legend_never_overlap_and_the_label_stays_inside() {
        let stored = StoredPlan {
            file: PlanFile::parse(super::super::TEST_PLAN).unwrap(),
            source: String::new(),
            imported_at: Utc::now(),
            imported_by: "test".into(),
            progress: Default::default(),
            baselines: Vec::new(),
        };
        let calendar = Calendar::embedded();
        for today in ["2026-09-28", "2026-10-20", "2026-10-23"] {
            let today: NaiveDate = today.parse().unwrap();
            let svg = render(&view(&stored, today, calendar).unwrap(), today, calendar);
            let width: i64 = {
                let from = svg.find(r#"width=""#).unwrap() + 7;
                svg[from..from + svg[from..].find('"').unwrap()].parse().unwrap()
            };
            let (label_x, label_y) = at(&svg, "today-label");
            let (_, legend_y) = at(&svg, "legend");
            assert!(
                legend_y - label_y >= 12,
                "{today}: label at {label_y}, legend at {legend_y}"
            );
            let end_anchored = svg.contains(r#"text-anchor="end""#);
            let (left, right) = if end_anchored {
                (label_x - TODAY_LABEL_WIDTH, label_x)
            } else {
                (label_x, label_x + TODAY_LABEL_WIDTH)
            };
            assert!(
                left >= 0 && right <= width,
                "{today}: label {left}..{right} in 0..{width}"
            );
        }
    }
}
