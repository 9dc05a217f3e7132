//! The assessment report: `assess` puts together everything a verdict rests on — per-criterion
//! results, agreement, completeness, the verdict with its rationale and confidence, and the
//! data-sharing risk — as one `Report` (JSON for machines), and `render` turns it into zh-CN
//! HTML or Markdown through handlebars templates, with the radar chart drawn as SVG.

use std::sync::OnceLock;

use handlebars::{Handlebars, handlebars_helper};
use serde::{Deserialize, Serialize};

use crate::IntegrationMode;
use crate::panel::{Agreement, CriterionResult, Sheet, canonical, criterion_results, scores_of};
use crate::portfolio::burden_index;
use crate::radar::radar_svg;
use crate::risk::{DataProfile, Risk, assess_risk};
use crate::rubric::Rubric;
use crate::verdict::{Confidence, Rationale, classify, confidence, rationale};

/// The assessed system, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub id: String,
    pub name: String,
    pub department: String,
    /// Bound by secrecy rules (涉密).
    pub secret: bool,
}

/// A panel member as the report lists them: never next to their scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub department: String,
    /// Why the expert stood aside (回避), if they did.
    pub recusal: Option<String>,
}

/// Everything a verdict is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentInput {
    pub assessment_id: String,
    pub system: SystemInfo,
    pub members: Vec<Member>,
    /// The effective sheets of the experts who were not recused and submitted (the latest
    /// closed round's score per criterion); order does not matter.
    pub sheets: Vec<Sheet>,
    pub rounds: u32,
    /// RFC 3339.
    pub decided_at: String,
    pub decided_by: String,
    /// Given for the secrecy exception.
    pub secrecy_justification: Option<String>,
    pub profile: Option<DataProfile>,
}

/// Why no verdict could be given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerdictError {
    #[error(
        "system {system} is bound by secrecy rules: record the justification for the secrecy exception (Art. 25)"
    )]
    JustificationRequired { system: String },
    #[error("the justification has {have} characters; Art. 25 asks for the reasons in full (at least {min})")]
    JustificationTooShort { have: usize, min: usize },
    #[error("criterion {criterion} ({name}) has {have} scores; the rubric needs {need} before a verdict")]
    TooFewScores {
        criterion: String,
        name: String,
        have: usize,
        need: usize,
    },
}

/// The rubric a report used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RubricRef {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub content_hash: String,
}

/// Who assessed, and how much of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelSummary {
    pub members: Vec<Member>,
    /// Experts not recused.
    pub expected: usize,
    /// Experts whose scores count.
    pub submitted: usize,
    pub rounds: u32,
    pub aggregation: String,
    /// Share of the expected scores given (expected experts × criteria).
    pub completeness: f64,
}

/// The verdict and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub mode: IntegrationMode,
    pub label: String,
    /// The regulation's words for the mode.
    pub basis: String,
    /// The recorded justification of a secrecy exception.
    pub justification: Option<String>,
    /// `None` for the secrecy exception, which no score decides.
    pub rationale: Option<Rationale>,
    pub confidence: Option<Confidence>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub assessment_id: String,
    pub system: SystemInfo,
    pub rubric: RubricRef,
    pub decided_at: String,
    pub decided_by: String,
    pub panel: PanelSummary,
    pub criteria: Vec<CriterionResult>,
    /// 融合难度指数 (1 easy – 5 hard).
    pub burden_index: Option<f64>,
    pub agreement: Agreement,
    pub verdict: Verdict,
    pub risk: Risk,
}

/// Computes the verdict and everything the report shows.
pub fn assess(rubric: &Rubric, input: AssessmentInput) -> Result<Report, VerdictError> {
    let spec = &rubric.spec;
    let exception = &spec.classification.exception;
    let justification = input
        .secrecy_justification
        .as_deref()
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .map(str::to_owned);
    if let Some(j) = &justification {
        let have = j.chars().count();
        if have < exception.min_justification_chars {
            return Err(VerdictError::JustificationTooShort {
                have,
                min: exception.min_justification_chars,
            });
        }
    } else if input.system.secret {
        return Err(VerdictError::JustificationRequired {
            system: input.system.id.clone(),
        });
    }
    let sheets = canonical(&input.sheets);
    let scores: Vec<Vec<u8>> = spec.criteria.iter().map(|c| scores_of(&sheets, &c.id)).collect();
    let values: Vec<Option<f64>> = scores
        .iter()
        .map(|s| spec.panel.aggregation.apply(s, spec.panel.trim_from_scores))
        .collect();
    let positions: Vec<usize> = (0..spec.criteria.len()).collect();
    let criteria = criterion_results(rubric, &positions, &sheets);
    let agreement = Agreement::of(rubric, &sheets, &criteria);
    let expected = input.members.iter().filter(|m| m.recusal.is_none()).count();
    let given: usize = scores.iter().map(Vec::len).sum();
    let completeness = if expected == 0 {
        0.0
    } else {
        given as f64 / (expected * spec.criteria.len()) as f64
    };
    let verdict = match justification {
        Some(j) => Verdict {
            mode: IntegrationMode::SecrecyException,
            label: IntegrationMode::SecrecyException.label().to_owned(),
            basis: exception.basis.clone(),
            justification: Some(j),
            rationale: None,
            confidence: None,
        },
        None => {
            for i in rubric.classifying_criteria() {
                if scores[i].len() < spec.panel.min_scores {
                    let c = &spec.criteria[i];
                    return Err(VerdictError::TooFewScores {
                        criterion: c.id.clone(),
                        name: c.name.clone(),
                        have: scores[i].len(),
                        need: spec.panel.min_scores,
                    });
                }
            }
            // Invariant: every criterion the rules read has at least min_scores ≥ 1 scores
            // (checked just above; the rubric refuses min_scores = 0), so every value is there.
            let classified = classify(rubric, &values).expect("every classifying value is present");
            let rationale = rationale(rubric, &scores, &values, &classified);
            let confidence = confidence(
                rubric,
                &criteria,
                agreement.icc.as_ref().map(|i| i.average),
                agreement.kendall_w.as_ref().map(|w| w.w),
                completeness,
                rationale.smallest_flip,
            );
            let basis = if classified.mode == spec.classification.otherwise.mode {
                spec.classification.otherwise.basis.clone()
            } else {
                spec.classification
                    .rules
                    .iter()
                    .find(|r| r.mode == classified.mode)
                    .map(|r| r.basis.clone())
                    .unwrap_or_default()
            };
            Verdict {
                mode: classified.mode,
                label: classified.mode.label().to_owned(),
                basis,
                justification: None,
                rationale: Some(rationale),
                confidence: Some(confidence),
            }
        }
    };
    Ok(Report {
        assessment_id: input.assessment_id,
        rubric: RubricRef {
            id: spec.id.clone(),
            version: spec.version,
            title: spec.title.clone(),
            content_hash: rubric.content_hash.clone(),
        },
        decided_at: input.decided_at,
        decided_by: input.decided_by,
        panel: PanelSummary {
            members: input.members,
            expected,
            submitted: sheets.len(),
            rounds: input.rounds,
            aggregation: spec.panel.aggregation.label(spec.panel.trim_from_scores),
            completeness,
        },
        burden_index: burden_index(rubric, &values),
        risk: assess_risk(rubric, input.profile.as_ref(), &values),
        system: input.system,
        criteria,
        agreement,
        verdict,
    })
}

/// Output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Format {
    Json,
    Html,
    #[strum(serialize = "markdown", serialize = "md")]
    Markdown,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        name.parse().ok()
    }

    /// The media type of the rendered document.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
            Format::Markdown => "text/markdown; charset=utf-8",
        }
    }
}

/// Why a report could not be rendered (a template bug: the templates are built in and tested).
#[derive(Debug, thiserror::Error)]
#[error("cannot render the report: {0}")]
pub struct RenderError(String);

handlebars_helper!(fixed: |value: Json, digits: u64| match value.as_f64() {
    Some(v) => format!("{v:.prec$}", prec = digits as usize),
    None => "—".to_owned(),
});
handlebars_helper!(percent: |value: f64| format!("{:.0}%", value * 100.0));
handlebars_helper!(plus1: |value: u64| value + 1);

/// Markdown escaping for values put into the Markdown template: table pipes, emphasis, HTML.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn registry(escape: fn(&str) -> String, template: &str) -> Result<Handlebars<'static>, RenderError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(escape);
    hb.register_helper("fixed", Box::new(fixed));
    hb.register_helper("percent", Box::new(percent));
    hb.register_helper("plus1", Box::new(plus1));
    hb.register_template_string("report", template)
        .map_err(|e| RenderError(e.to_string()))?;
    Ok(hb)
}

fn templates(format: Format) -> Result<&'static Handlebars<'static>, RenderError> {
    static HTML: OnceLock<Result<Handlebars<'static>, String>> = OnceLock::new();
    static MARKDOWN: OnceLock<Result<Handlebars<'static>, String>> = OnceLock::new();
    let (cell, escape, template): (_, fn(&str) -> String, _) = match format {
        Format::Html => (
            &HTML,
            handlebars::html_escape,
            include_str!("../templates/report.html.hbs"),
        ),
        _ => (
            &MARKDOWN,
            escape_markdown,
            include_str!("../templates/report.md.hbs"),
        ),
    };
    cell.get_or_init(|| registry(escape, template).map_err(|e| e.0))
        .as_ref()
        .map_err(|e| RenderError(e.clone()))
}

/// The report as JSON, HTML or Markdown.
pub fn render(report: &Report, format: Format) -> Result<String, RenderError> {
    if format == Format::Json {
        return serde_json::to_string_pretty(report).map_err(|e| RenderError(e.to_string()));
    }
    let mut data = serde_json::to_value(report).map_err(|e| RenderError(e.to_string()))?;
    let axes: Vec<(String, Option<f64>)> = report
        .criteria
        .iter()
        .map(|c| (c.name.clone(), c.value))
        .collect();
    let title = format!("{} 各指标面板值雷达图", report.system.name);
    data["radar_svg"] = serde_json::Value::String(radar_svg(&title, &axes));
    data["short_hash"] = serde_json::Value::String(report.rubric.content_hash.chars().take(12).collect());
    templates(format)?
        .render("report", &data)
        .map_err(|e| RenderError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Five experts' sheets on the default rubric: `by_group` gives the scores of a group's
    /// criteria (expert by expert), the rest score 3.
    fn sheets(rubric: &Rubric, by_group: &[(&str, [u8; 5])]) -> Vec<Sheet> {
        let levels = crate::fixtures::per_criterion(rubric, by_group, [3; 5]);
        (0..5)
            .map(|e| Sheet {
                scores: rubric
                    .spec
                    .criteria
                    .iter()
                    .zip(&levels)
                    .map(|(c, l)| (c.id.clone(), Some(l[e])))
                    .collect(),
                reasons: BTreeMap::new(),
            })
            .collect()
    }

    fn input(sheets: Vec<Sheet>) -> AssessmentInput {
        AssessmentInput {
            assessment_id: "gy-scjg.1".into(),
            system: SystemInfo {
                id: "gy-scjg".into(),
                name: "市场监管许可系统".into(),
                department: "贵阳市市场监督管理局".into(),
                secret: false,
            },
            members: ["王", "李", "赵", "钱", "孙"]
                .iter()
                .map(|n| Member {
                    name: format!("{n}专家"),
                    department: "省大数据局".into(),
                    recusal: None,
                })
                .collect(),
            sheets,
            rounds: 1,
            decided_at: "2025-11-20T10:00:00+08:00".into(),
            decided_by: "chair".into(),
            secrecy_justification: None,
            profile: None,
        }
    }

    fn complex() -> Vec<(&'static str, [u8; 5])> {
        vec![
            ("process", [4, 5, 4, 3, 4]),
            ("integration", [4, 4, 5, 4, 3]),
            ("security", [4, 4, 4, 5, 4]),
        ]
    }

    #[test]
    fn format_names_parse_with_the_md_alias() {
        for (name, format) in [
            ("json", Some(Format::Json)),
            ("html", Some(Format::Html)),
            ("markdown", Some(Format::Markdown)),
            ("md", Some(Format::Markdown)),
            ("Markdown", None),
            ("pdf", None),
        ] {
            assert_eq!(Format::parse(name), format, "{name}");
        }
    }

    #[test]
    fn a_complex_system_gets_compatible_transition_with_its_reasons() {
        let rubric = Rubric::builtin();
        let mut all = sheets(&rubric, &complex());
        all[0]
            .reasons
            .insert("integration_tech".into(), "无源代码,承建单位已注销".into());
        let report = assess(&rubric, input(all)).unwrap();
        let verdict = &report.verdict;
        assert_eq!(verdict.mode, IntegrationMode::CompatibleTransition);
        let rationale = verdict.rationale.as_ref().unwrap();
        assert!(rationale.deciding_slack > 0.0);
        assert!(rationale.smallest_flip.is_some());
        let nearest = &rationale.alternatives[0];
        assert_eq!(nearest.mode, IntegrationMode::FrontEndMigration);
        assert!(!nearest.changes.is_empty());
        assert_eq!(verdict.confidence.as_ref().map(|c| c.factors.len()), Some(3));
        assert_eq!(report.panel.completeness, 1.0);
        assert!(report.risk.level.is_none(), "no profile, no level");
        for format in [Format::Html, Format::Markdown, Format::Json] {
            let text = render(&report, format).unwrap();
            assert!(text.contains("兼容过渡"), "{format:?}");
            assert!(
                text.contains("无源代码,承建单位已注销"),
                "{format:?}: reasons are shown"
            );
        }
        let html = render(&report, Format::Html).unwrap();
        assert!(html.contains("<svg") && html.contains("尚无该系统的数据画像"));
        let md = render(&report, Format::Markdown).unwrap();
        assert!(md.contains("| ") && md.contains(&nearest.changes[0].name), "{md}");
    }

    #[test]
    fn the_secrecy_exception_needs_a_justification() {
        let rubric = Rubric::builtin();
        let mut secret = input(vec![]);
        secret.system.secret = true;
        assert!(matches!(
            assess(&rubric, secret.clone()),
            Err(VerdictError::JustificationRequired { .. })
        ));
        secret.secrecy_justification = Some("涉密".into());
        assert!(matches!(
            assess(&rubric, secret.clone()),
            Err(VerdictError::JustificationTooShort { have: 2, min: 20 })
        ));
        let justification = "该系统处理涉及国家秘密的审批事项,依据保密管理规定不得接入互联网政务服务平台。";
        secret.secrecy_justification = Some(justification.into());
        let report = assess(&rubric, secret).unwrap();
        assert_eq!(report.verdict.mode, IntegrationMode::SecrecyException);
        assert_eq!(report.verdict.justification.as_deref(), Some(justification));
        assert!(report.verdict.rationale.is_none() && report.verdict.confidence.is_none());
        let md = render(&report, Format::Markdown).unwrap();
        assert!(md.contains("保密例外") && md.contains("第二十五条第二款"), "{md}");
    }

    #[test]
    fn too_few_scores_for_a_verdict() {
        let rubric = Rubric::builtin();
        let two = sheets(&rubric, &[])[..2].to_vec();
        let err = assess(&rubric, input(two)).unwrap_err();
        assert!(
            matches!(&err, VerdictError::TooFewScores { criterion, have: 2, need: 3, .. } if criterion == "support_coverage"),
            "{err}"
        );
    }

    /// Permuting the experts changes nothing: all 120 orders of five sheets give the same report.
    #[test]
    fn permuting_experts_changes_nothing() {
        let rubric = Rubric::builtin();
        let mut base = sheets(
            &rubric,
            &[
                ("support", [1, 2, 3, 2, 2]),
                ("business", [2, 1, 2, 3, 1]),
                ("process", [4, 2, 3, 5, 3]),
            ],
        );
        base[1].reasons.insert("process_steps".into(), "环节少".into());
        base[3]
            .reasons
            .insert("process_steps".into(), "有现场勘验".into());
        let reference = assess(&rubric, input(base.clone())).unwrap();
        let mut order: Vec<usize> = (0..5).collect();
        let mut seen = 0;
        permute(&mut order, 0, &mut |o| {
            let shuffled: Vec<Sheet> = o.iter().map(|&i| base[i].clone()).collect();
            assert_eq!(
                assess(&rubric, input(shuffled)).unwrap(),
                reference,
                "order {o:?}"
            );
            seen += 1;
        });
        assert_eq!(seen, 120);
    }

    fn permute(items: &mut Vec<usize>, k: usize, visit: &mut impl FnMut(&[usize])) {
        if k == items.len() {
            visit(items);
            return;
        }
        for i in k..items.len() {
            items.swap(k, i);
            permute(items, k + 1, visit);
            items.swap(k, i);
        }
    }

    #[test]
    fn markdown_escapes_what_people_typed() {
        assert_eq!(escape_markdown("a|b *c* <d>\n"), "a\\|b \\*c\\* &lt;d&gt; ");
    }
}
