//! The JSON the exchange receives for one case version, rendered by handlebars from the stored
//! case. The built-in template carries the Art. 27 fields (事项名称、办理区划、申请人、申请时间、
//! 受理部门、受理人、审查意见、办结时限、办理结果) under GB/T 39046 data-element names; an
//! operator's template replaces it (`exchange.template`).
//!
//! In a template, `case` is the canonical case as JSON, `codes` the standard codes of its code
//! sets and `labels` their zh-CN names; `idempotency_key`, `system_id`, `case_no` and `version`
//! name the item. `{{{json PATH}}}` writes any value as a JSON literal (`null` when absent);
//! `"{{PATH}}"` writes it inside a JSON string, escaped. Every rendering is checked to be JSON.

use std::sync::Arc;

use handlebars::{Handlebars, handlebars_helper};
use serde::Serialize;

use crate::case::Case;

/// The built-in payload: the Art. 27 set with GB/T 39046 names.
pub const BUILTIN_TEMPLATE: &str = r#"{
  "幂等键": {{{json idempotency_key}}},
  "来源系统": {{{json system_id}}},
  "办件编号": {{{json case.case_no}}},
  "版本号": {{{json version}}},
  "实施编码": {{{json case.implementation_code}}},
  "事项名称": {{{json case.item_name}}},
  "事项类型": {{{json codes.item_type}}},
  "办件类型": {{{json codes.case_type}}},
  "办理形式": {{{json codes.channel}}},
  "办理区划": {{{json case.region_code}}},
  "申请人": {
    "申请者名称": {{{json case.applicant.name}}},
    "申请人类型": {{{json codes.applicant_kind}}},
    "申请者证件类型": {{{json codes.certificate_type}}},
    "申请者证件号码": {{{json case.applicant.certificate_no}}}
  },
  "申请时间": {{{json case.applied_at}}},
  "受理部门": {{{json case.acceptance.department}}},
  "受理单位统一社会信用代码": {{{json case.acceptance.department_uscc}}},
  "受理人": {{{json case.acceptance.acceptor}}},
  "受理时间": {{{json case.acceptance.accepted_at}}},
  "审查意见": {{{json case.review_opinion}}},
  "办结时限": {{{json case.acceptance.promised_finish_at}}},
  "承诺办结工作日": {{{json case.acceptance.time_limit_working_days}}},
  "办理结果": {{{json codes.result}}},
  "办理结果名称": {{{json labels.result}}},
  "办结时间": {{{json case.result.finished_at}}},
  "结果证照编号": {{{json case.result.certificate_no}}},
  "办件环节": {{{json labels.stage}}},
  "更新时间": {{{json case.updated_at}}}
}
"#;

/// A case every template is tried on when it is compiled (no real person's data).
const SAMPLE_CASE: &str = r#"{"case_no":"SAMPLE-1","version":1,"implementation_code":"11520000009390240A4520117005000",
"item_name":"食品经营许可","item_type":"licensing","case_type":"promised","channel":"online","region_code":"520102",
"applicant":{"name":"样例","kind":"natural_person","certificate_type":"resident_id","certificate_no":"000000000000000000"},
"applied_at":"2025-11-20T09:30:00+08:00","stage":"application","updated_at":"2025-11-20T09:30:00+08:00"}"#;

const NAME: &str = "payload";

/// Why a template cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the template does not compile: {0}")]
    Compile(String),
    #[error("rendering failed: {0}")]
    Render(String),
    #[error("the rendered payload is not JSON: {0}")]
    NotJson(String),
}

/// A compiled payload template.
#[derive(Debug, Clone)]
pub struct Template(Arc<Handlebars<'static>>);

/// What a template sees.
#[derive(Serialize)]
struct Context<'a> {
    idempotency_key: String,
    system_id: &'a str,
    case_no: &'a str,
    version: i64,
    case: &'a Case,
    codes: Codes,
    labels: Labels,
}

#[derive(Serialize)]
struct Codes {
    item_type: Option<&'static str>,
    case_type: &'static str,
    channel: &'static str,
    applicant_kind: &'static str,
    certificate_type: &'static str,
    result: Option<&'static str>,
}

#[derive(Serialize)]
struct Labels {
    item_type: Option<&'static str>,
    case_type: &'static str,
    channel: &'static str,
    applicant_kind: &'static str,
    certificate_type: &'static str,
    result: Option<&'static str>,
    stage: &'static str,
}

/// The key the exchange deduplicates by: `system/case_no/version`.
pub fn idempotency_key(system_id: &str, case_no: &str, version: i64) -> String {
    format!("{system_id}/{case_no}/{version}")
}

handlebars_helper!(json: |value: Json| serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()));

/// Escapes a value for the inside of a JSON string.
fn json_string_escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

impl Template {
    /// The built-in template.
    pub fn builtin() -> Template {
        // The built-in template is tested to compile and render JSON.
        Template::compile(BUILTIN_TEMPLATE).unwrap_or_else(|e| unreachable!("built-in template: {e}"))
    }

    /// Compiles `text` and checks that it renders JSON for a sample case.
    pub fn compile(text: &str) -> Result<Template, PayloadError> {
        let mut handlebars = Handlebars::new();
        handlebars.register_escape_fn(json_string_escape);
        handlebars.register_helper("json", Box::new(json));
        handlebars
            .register_template_string(NAME, text)
            .map_err(|e| PayloadError::Compile(e.to_string()))?;
        let template = Template(Arc::new(handlebars));
        let sample: Case = serde_json::from_str(SAMPLE_CASE)
            .unwrap_or_else(|e| unreachable!("the sample case is a valid case: {e}"));
        template.render("sample", &sample)?;
        Ok(template)
    }

    /// The payload of one version of `case` from `system_id`, as JSON.
    pub fn render(&self, system_id: &str, case: &Case) -> Result<serde_json::Value, PayloadError> {
        let context = Context {
            idempotency_key: idempotency_key(system_id, &case.case_no, case.version),
            system_id,
            case_no: &case.case_no,
            version: case.version,
            case,
            codes: Codes {
                item_type: case.item_type.map(|c| c.code()),
                case_type: case.case_type.code(),
                channel: case.channel.code(),
                applicant_kind: case.applicant.kind.code(),
                certificate_type: case.applicant.certificate_type.code(),
                result: case.result.as_ref().map(|r| r.code.code()),
            },
            labels: Labels {
                item_type: case.item_type.map(|c| c.label()),
                case_type: case.case_type.label(),
                channel: case.channel.label(),
                applicant_kind: case.applicant.kind.label(),
                certificate_type: case.applicant.certificate_type.label(),
                result: case.result.as_ref().map(|r| r.code.label()),
                stage: case.stage.label(),
            },
        };
        let text = self
            .0
            .render(NAME, &context)
            .map_err(|e| PayloadError::Render(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| PayloadError::NotJson(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_carries_the_art_27_fields() {
        let case: Case = serde_json::from_str(include_str!("../../tests/data/case_finished.json")).unwrap();
        let payload = Template::builtin().render("gy-scjg", &case).unwrap();
        assert_eq!(payload["幂等键"], "gy-scjg/SC-2025-000001/3");
        assert_eq!(payload["事项名称"], "食品经营许可");
        assert_eq!(payload["办理区划"], "520102");
        assert_eq!(payload["申请人"]["申请者名称"], "张三");
        assert_eq!(payload["受理部门"], "贵阳市南明区市场监督管理局");
        assert_eq!(payload["受理人"], "李四");
        assert_eq!(payload["审查意见"], "材料齐全,符合法定形式,同意许可");
        assert_eq!(payload["办结时限"], "2025-12-04T17:30:00+08:00");
        assert_eq!(payload["办理结果名称"], case.result.unwrap().code.label());
    }

    #[test]
    fn templates_escape_inside_strings_and_must_render_json() {
        let template = Template::compile(r#"{"name": "{{case.item_name}}", "v": {{version}}}"#).unwrap();
        let mut case: Case = serde_json::from_str(SAMPLE_CASE).unwrap();
        case.item_name = "a \"quoted\" \\ name".into();
        assert_eq!(
            template.render("s", &case).unwrap(),
            serde_json::json!({ "name": "a \"quoted\" \\ name", "v": 1 })
        );
        assert!(matches!(
            Template::compile("{\"name\": {{case.item_name}}}"),
            Err(PayloadError::NotJson(_))
        ));
        assert!(matches!(
            Template::compile("{{#if}}"),
            Err(PayloadError::Compile(_))
        ));
    }
}
