//! Reconciliation reports (issue 7 part 5): text, JSON, Markdown and HTML (handlebars, zh-CN,
//! `templates/reconciliation.{md,html}.hbs`), and CSV with one row per differing case; the
//! spot-check sample as CSV. The API (`?format=`) and the CLI (`--format`) share these.

use chrono::NaiveDate;

use crate::reconciliation::Reconciliation;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    #[value(alias = "markdown")]
    Md,
    Html,
    Csv,
}

impl ReportFormat {
    /// `text`, `json`, `md` (or `markdown`), `html`, `csv`.
    pub fn parse(name: &str) -> Option<ReportFormat> {
        Some(match name {
            "text" => ReportFormat::Text,
            "json" => ReportFormat::Json,
            "md" | "markdown" => ReportFormat::Md,
            "html" => ReportFormat::Html,
            "csv" => ReportFormat::Csv,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Text => "text/plain; charset=utf-8",
            ReportFormat::Json => "application/json",
            ReportFormat::Md => "text/markdown; charset=utf-8",
            ReportFormat::Html => "text/html; charset=utf-8",
            ReportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the report: {0}")]
pub struct ReportError(String);

/// zh-CN label of a difference kind.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "missing" => "平台缺失 missing",
        "behind" => "平台版本落后 behind",
        "altered" => "内容不一致 altered",
        "extra" => "原系统未报 extra",
        _ => "其他 other",
    }
}

/// The CSV columns, one row per differing case.
const CSV_HEADER: [&str; 8] = [
    "system_id",
    "date",
    "case_no",
    "kind",
    "legacy_version",
    "platform_version",
    "legacy_hash",
    "platform_hash",
];

/// `report` in `format`.
pub fn render(report: &Reconciliation, format: ReportFormat) -> Result<String, ReportError> {
    match format {
        ReportFormat::Text => Ok(text(report)),
        ReportFormat::Json => serde_json::to_string_pretty(report).map_err(|e| ReportError(e.to_string())),
        ReportFormat::Csv => {
            let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            let system = report.system_id.as_str();
            let date = report.date.to_string();
            csv_of(
                &CSV_HEADER,
                report.differences.iter().map(|d| {
                    vec![
                        system.to_owned(),
                        date.clone(),
                        d.case_no.clone(),
                        d.kind.clone(),
                        opt(d.legacy_version),
                        opt(d.platform_version),
                        d.legacy_hash.clone().unwrap_or_default(),
                        d.platform_hash.clone().unwrap_or_default(),
                    ]
                }),
            )
        }
        ReportFormat::Md | ReportFormat::Html => {
            let mut engine = handlebars::Handlebars::new();
            engine.set_strict_mode(true);
            let template = if format == ReportFormat::Md {
                // Markdown: a value must not end its table cell or row.
                engine.register_escape_fn(|s| s.replace('|', "\\|").replace(['\n', '\r'], " "));
                include_str!("templates/reconciliation.md.hbs")
            } else {
                include_str!("templates/reconciliation.html.hbs")
            };
            let differences: Vec<_> = report
                .differences
                .iter()
                .map(|d| serde_json::json!({ "d": d, "label": kind_label(&d.kind) }))
                .collect();
            let context =
                serde_json::json!({ "r": report, "count": differences.len(), "differences": differences });
            engine
                .render_template(template, &context)
                .map_err(|e| ReportError(e.to_string()))
        }
    }
}

/// The human summary the CLI prints.
fn text(report: &Reconciliation) -> String {
    let mut human = format!(
        "{} {} 对账 reconciliation: 原系统 legacy {} · 平台 platform {} · 一致 matched {} · {}",
        report.system_id,
        report.date,
        report.legacy_cases,
        report.platform_cases,
        report.matched,
        if report.clean {
            "无差异 clean".to_owned()
        } else {
            format!("差异 differences {}", report.differences.len())
        }
    );
    for d in &report.differences {
        human.push_str(&format!(
            "\n  {} {} (原系统 v{} / 平台 v{})",
            d.kind,
            d.case_no,
            d.legacy_version.map_or("-".to_owned(), |v| v.to_string()),
            d.platform_version.map_or("-".to_owned(), |v| v.to_string())
        ));
    }
    if !report.unmappable.is_empty() {
        human.push_str(&format!(
            "\n  无法映射 unmappable: {}",
            report.unmappable.join(", ")
        ));
    }
    human
}

/// A spot-check sample as CSV: one row per drawn case, in draw order.
pub fn spot_check_csv(
    system: &str,
    date: NaiveDate,
    seed: u64,
    sample: &[String],
) -> Result<String, ReportError> {
    let (date, seed) = (date.to_string(), seed.to_string());
    csv_of(
        &["system_id", "date", "seed", "draw", "case_no"],
        sample.iter().enumerate().map(|(i, case_no)| {
            vec![
                system.to_owned(),
                date.clone(),
                seed.clone(),
                (i + 1).to_string(),
                case_no.clone(),
            ]
        }),
    )
}

fn csv_of(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<String, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ReportError(e.to_string());
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        writer.write_record(&row).map_err(fail)?;
    }
    let bytes = writer.into_inner().map_err(|e| ReportError(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconciliation::Difference;

    fn report() -> Reconciliation {
        let diff = |case_no: &str, kind: &str, l: Option<i64>, p: Option<i64>| Difference {
            case_no: case_no.to_owned(),
            kind: kind.to_owned(),
            legacy_version: l,
            platform_version: p,
            legacy_hash: l.map(|_| "aa".repeat(32)),
            platform_hash: p.map(|_| "bb".repeat(32)),
        };
        Reconciliation {
            system_id: "gy-scjg".to_owned(),
            date: "2026-11-30".parse().unwrap(),
            legacy_cases: 3,
            platform_cases: 2,
            matched: 1,
            differences: vec![
                diff("BJ<script>1|2", "missing", Some(1), None),
                diff("BJ002", "altered", Some(2), Some(2)),
            ],
            unmappable: vec![],
            clean: false,
            source_window: Some("2026-11-30 00:00:00".to_owned()),
            source_records: 7,
        }
    }

    #[test]
    fn csv_parses_back_with_one_row_per_difference() {
        let text = render(&report(), ReportFormat::Csv).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap(), CSV_HEADER.as_slice());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][2], "BJ<script>1|2");
        assert_eq!((&rows[0][3], &rows[0][5]), ("missing", ""));
        assert_eq!((&rows[1][3], &rows[1][4], &rows[1][5]), ("altered", "2", "2"));
    }

    #[test]
    fn html_escapes_and_markdown_keeps_its_table() {
        let html = render(&report(), ReportFormat::Html).unwrap();
        assert!(html.contains("BJ&lt;script&gt;1|2"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        let md = render(&report(), ReportFormat::Md).unwrap();
        assert!(md.contains("| 办件编号 case_no |"), "{md}");
        assert!(md.contains("| BJ<script>1\\|2 | 平台缺失 missing |"), "{md}");
        assert!(md.contains("| BJ002 | 内容不一致 altered |"), "{md}");
        assert!(md.contains("7 条 records, 自水位 2026-11-30 00:00:00 起"), "{md}");
        let whole = Reconciliation {
            source_window: None,
            ..report()
        };
        let md = render(&whole, ReportFormat::Md).unwrap();
        assert!(md.contains("7 条 records, 全量 (whole source"), "{md}");
    }
}
