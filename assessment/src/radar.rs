//! The radar chart of a system's criterion values, drawn as SVG text (no graphics library):
//! one axis per criterion, rings at levels 1–5, the panel's values as a polygon. Labels are
//! escaped with handlebars' HTML escaping (valid XML); coordinates are rounded so that the same
//! values give the same bytes.

use std::f64::consts::PI;
use std::fmt::Write as _;

use handlebars::html_escape;

const SIZE: f64 = 560.0;
const CENTRE: f64 = SIZE / 2.0;
const RADIUS: f64 = 170.0;
const MAX: f64 = 5.0;

/// The point at `value` (0–5) on axis `i` of `n`, the first axis pointing up.
fn point(i: usize, n: usize, value: f64) -> (f64, f64) {
    let angle = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
    let r = RADIUS * value.clamp(0.0, MAX) / MAX;
    (CENTRE + r * angle.cos(), CENTRE + r * angle.sin())
}

fn polygon(points: impl Iterator<Item = (f64, f64)>) -> String {
    points
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The chart for `axes` (label, value; `None` is drawn at the centre and marked "未评").
pub fn radar_svg(title: &str, axes: &[(String, Option<f64>)]) -> String {
    let n = axes.len().max(3);
    let mut svg = String::new();
    // Writing into a String cannot fail.
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}" role="img" font-family="sans-serif" font-size="12"><title>{}</title>"#,
        html_escape(title)
    );
    for level in 1..=5 {
        let ring = polygon((0..n).map(|i| point(i, n, f64::from(level))));
        let _ = write!(
            svg,
            r##"<polygon points="{ring}" fill="none" stroke="#c8c8c8" stroke-width="1"/><text x="{:.1}" y="{:.1}" fill="#888" font-size="10">{level}</text>"##,
            CENTRE + 3.0,
            CENTRE - RADIUS * f64::from(level) / MAX - 2.0
        );
    }
    for (i, (label, value)) in axes.iter().enumerate() {
        let (x, y) = point(i, n, MAX);
        let _ = write!(
            svg,
            r##"<line x1="{CENTRE}" y1="{CENTRE}" x2="{x:.1}" y2="{y:.1}" stroke="#c8c8c8" stroke-width="1"/>"##
        );
        let (lx, ly) = point(i, n, MAX + 0.75);
        let anchor = if (lx - CENTRE).abs() < 1.0 {
            "middle"
        } else if lx > CENTRE {
            "start"
        } else {
            "end"
        };
        let shown = value.map_or_else(|| "未评".to_owned(), |v| format!("{v:.2}"));
        let _ = write!(
            svg,
            r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}" dominant-baseline="middle">{} {shown}</text>"#,
            html_escape(label)
        );
    }
    let shape = polygon(
        axes.iter()
            .enumerate()
            .map(|(i, (_, v))| point(i, n, v.unwrap_or(0.0))),
    );
    let _ = write!(
        svg,
        r##"<polygon points="{shape}" fill="#1f77b4" fill-opacity="0.25" stroke="#1f77b4" stroke-width="2"/>"##
    );
    for (i, (_, value)) in axes.iter().enumerate() {
        if let Some(v) = value {
            let (x, y) = point(i, n, *v);
            let _ = write!(svg, r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#1f77b4"/>"##);
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_axis_and_escapes_labels() {
        let axes = vec![
            ("业务环节覆盖".to_owned(), Some(2.0)),
            ("<script>".to_owned(), Some(5.0)),
            ("数据质量".to_owned(), None),
        ];
        let svg = radar_svg("雷达图 & 指标", &axes);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;script&gt; 5.00") && !svg.contains("<script>"));
        assert!(svg.contains("数据质量 未评") && svg.contains("雷达图 &amp; 指标"));
        assert_eq!(svg.matches("<line ").count(), 3);
        // The first axis points up: the outer ring's first corner is straight above the centre.
        assert!(svg.contains(&format!("{CENTRE:.1},{:.1}", CENTRE - RADIUS)));
        assert_eq!(svg, radar_svg("雷达图 & 指标", &axes), "deterministic");
    }
}
