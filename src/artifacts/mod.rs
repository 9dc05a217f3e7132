//! What `ronghe generate` writes besides the mapping, chosen by the verdict's mode (Art. 25):
//! every mode gets a plan draft (`migration-plans/SYSTEM.toml`); full migration the bulk
//! migration job and a legacy-retirement checklist; front-end migration the write-back settings
//! whose pull schedule syncs the status of handed-off applications; compatible transition the
//! write-back credentials and settings and the user-bridge config. Each is rendered through a
//! handlebars template in `templates/` and parsed back by its own parser before it is offered,
//! so a generated file is always one its command accepts.

use std::path::PathBuf;

use chrono::NaiveDate;
use ronghe_adapters::AdapterKind;
use ronghe_assessment::IntegrationMode;
use serde::Serialize;
use serde_json::json;

use crate::bridge::BridgeConfig;
use crate::calendar::Calendar;
use crate::migration::MigrationJob;
use crate::plans::PlanFile;
use crate::systems::System;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Artifact {
    /// Where it goes, relative to the project directory.
    pub path: PathBuf,
    /// What it is (zh-CN, for people).
    pub what: &'static str,
    pub text: String,
    /// Markdown (sealed with an HTML comment) or TOML (sealed with a `#` comment).
    pub markdown: bool,
}

/// What the artifacts are made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub system: &'a System,
    pub mode: IntegrationMode,
    /// The assessment whose verdict decided the mode.
    pub assessment: &'a str,
    /// The system's adapter kind (the attached config's, else the registered protocol).
    pub adapter: AdapterKind,
    /// The element of each record in the SOAP system's listing (the last step of its adapter's
    /// `records.select`), when a SOAP adapter is attached.
    pub soap_record: Option<&'a str>,
    pub today: NaiveDate,
}

/// A template rendered into something its parser refused: a bug in the template, never the user's.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot render {what}")]
    Render {
        what: &'static str,
        #[source]
        source: handlebars::RenderError,
    },
    #[error("generated {what} does not parse: {issues}")]
    Invalid { what: &'static str, issues: String },
}

/// One milestone of a draft: (id, phase, name, owner, working days, depends on, gate).
type Step = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u32,
    &'static [&'static str],
    &'static str,
);

const MAPPING: Step = (
    "mapping",
    "映射",
    "映射配置评审通过",
    "接入工程师",
    10,
    &[],
    "ronghe mapping test 无错误",
);

/// The milestones of each mode's draft plan, in order.
fn steps(mode: IntegrationMode) -> &'static [Step] {
    match mode {
        IntegrationMode::FullMigration => &[
            MAPPING,
            (
                "rehearsal",
                "迁移",
                "历史办件迁移演练",
                "接入工程师",
                10,
                &["mapping"],
                "演练对账报告无差异",
            ),
            (
                "notice",
                "切换",
                "发布停止原渠道受理公告（提前不少于 3 个工作日）",
                "业务处室",
                3,
                &["rehearsal"],
                "",
            ),
            (
                "migration",
                "迁移",
                "正式全量迁移",
                "接入工程师",
                5,
                &["notice"],
                "全量迁移对账报告无差异",
            ),
            (
                "cutover",
                "切换",
                "平台全面受理",
                "项目负责人",
                0,
                &["migration"],
                "",
            ),
            (
                "retirement",
                "下线",
                "原系统下线",
                "信息中心",
                10,
                &["cutover"],
                "下线检查清单全部完成",
            ),
        ],
        IntegrationMode::FrontEndMigration => &[
            MAPPING,
            (
                "handoff",
                "对接",
                "申请推送（前端迁移交接）联调",
                "接入工程师",
                10,
                &["mapping"],
                "推送重试与回执核对无遗漏",
            ),
            (
                "status-sync",
                "对接",
                "办理状态同步（回传或拉取）",
                "接入工程师",
                5,
                &["handoff"],
                "",
            ),
            (
                "notice",
                "切换",
                "发布受理渠道调整公告（提前不少于 3 个工作日）",
                "业务处室",
                3,
                &["status-sync"],
                "",
            ),
            (
                "pilot",
                "试点",
                "试点受理",
                "业务处室",
                10,
                &["notice"],
                "试点期间推送无积压、状态同步无差异",
            ),
            ("cutover", "切换", "平台统一受理", "项目负责人", 0, &["pilot"], ""),
        ],
        IntegrationMode::CompatibleTransition => &[
            MAPPING,
            (
                "bridge",
                "互认",
                "用户互认对接（单点登录、账号关联）",
                "接入工程师",
                10,
                &["mapping"],
                "",
            ),
            (
                "writeback",
                "回传",
                "办件回传联调",
                "接入工程师",
                10,
                &["mapping"],
                "",
            ),
            (
                "pilot",
                "试点",
                "试点运行",
                "业务处室",
                10,
                &["bridge", "writeback"],
                "回传对账连续 10 个工作日无差异",
            ),
            (
                "convergence",
                "融合",
                "两端融合运行",
                "项目负责人",
                0,
                &["pilot"],
                "",
            ),
        ],
        IntegrationMode::SecrecyException => &[
            (
                "evaluation",
                "评估",
                "省级政务服务中心评估保密例外",
                "项目负责人",
                10,
                &[],
                "保密例外理由经省级中心确认",
            ),
            (
                "review",
                "复核",
                "年度复核保密例外理由",
                "项目负责人",
                0,
                &["evaluation"],
                "",
            ),
        ],
    }
}

/// How often the status of handed-off applications is pulled (cron, with seconds): every 10 minutes.
const STATUS_SYNC_SCHEDULE: &str = "0 */10 * * * *";

fn engine() -> handlebars::Handlebars<'static> {
    let mut engine = handlebars::Handlebars::new();
    engine.set_strict_mode(true);
    engine.register_escape_fn(handlebars::no_escape);
    engine.register_helper(
        "toml",
        Box::new(
            |h: &handlebars::Helper<'_>,
             _: &handlebars::Handlebars<'_>,
             _: &handlebars::Context,
             _: &mut handlebars::RenderContext<'_, '_>,
             out: &mut dyn handlebars::Output|
             -> handlebars::HelperResult {
                let text = h.param(0).and_then(|p| p.value().as_str()).unwrap_or_default();
                out.write(&toml::Value::String(text.to_owned()).to_string())?;
                Ok(())
            },
        ),
    );
    engine
}

/// The environment variable a generated secret reference names, e.g. `SIM_SOAP_WRITEBACK_KEY`.
fn env_name(system: &str, what: &str) -> String {
    format!("{}_{what}", system.to_ascii_uppercase().replace('-', "_"))
}

/// Every artifact of the inputs' mode, rendered and checked by its parser.
pub fn generate(inputs: &Inputs<'_>, calendar: &Calendar) -> Result<Vec<Artifact>, ArtifactError> {
    let engine = engine();
    let id = &inputs.system.id;
    // Work starts on the next working day (today itself when the calendar has no data yet).
    let start = calendar.add_working_days(inputs.today, 1).unwrap_or(inputs.today);
    let milestones: Vec<_> = steps(inputs.mode)
        .iter()
        .map(|(id, phase, name, owner, days, depends_on, gate)| {
            json!({ "id": id, "phase": phase, "name": name, "owner": owner, "days": days,
                    "depends_on": depends_on, "gate": (!gate.is_empty()).then_some(gate) })
        })
        .collect();
    let base = json!({
        "system": inputs.system,
        "mode": inputs.mode.name(),
        "mode_label": inputs.mode.label(),
        "assessment": inputs.assessment,
        "today": inputs.today.to_string(),
        "start": start.to_string(),
        "milestones": milestones,
    });
    let render = |template: &str, what: &'static str, extra: serde_json::Value| {
        let mut context = base.clone();
        if let (Some(context), serde_json::Value::Object(extra)) = (context.as_object_mut(), extra) {
            context.extend(extra);
        }
        engine
            .render_template(template, &context)
            .map_err(|source| ArtifactError::Render { what, source })
    };
    let checked =
        |what: &'static str, text: &str, issues: Option<Vec<ronghe_adapters::ConfigIssue>>| match issues {
            None => Ok(()),
            Some(issues) => Err(ArtifactError::Invalid {
                what,
                issues: ronghe_adapters::ConfigIssue::joined(&issues) + "\n" + text,
            }),
        };

    let mut out = Vec::new();
    let what = "迁移计划草案 plan draft";
    let plan = render(include_str!("templates/plan.toml.hbs"), what, json!({}))?;
    checked(what, &plan, PlanFile::parse(&plan).err())?;
    out.push(Artifact {
        path: PathBuf::from("migration-plans").join(format!("{id}.toml")),
        what,
        text: plan,
        markdown: false,
    });
    let integration = PathBuf::from("integration").join(id);
    match inputs.mode {
        IntegrationMode::FullMigration => {
            let what = "全量迁移作业 migration job";
            let job = render(
                include_str!("templates/migration-job.toml.hbs"),
                what,
                json!({ "adapter": inputs.adapter.name(), "mapping": format!("../../mappings/{id}.toml") }),
            )?;
            checked(what, &job, MigrationJob::parse(&job).err())?;
            out.push(Artifact {
                path: integration.join("migration-job.toml"),
                what,
                text: job,
                markdown: false,
            });
            out.push(Artifact {
                path: PathBuf::from("migration-plans").join(format!("{id}.retirement.md")),
                what: "原系统下线检查清单 retirement checklist",
                text: render(
                    include_str!("templates/retirement.md.hbs"),
                    "retirement checklist",
                    json!({}),
                )?,
                markdown: true,
            });
        }
        IntegrationMode::FrontEndMigration => {
            out.push(writeback(
                &render,
                inputs,
                "申请推送后的办理状态同步",
                Some(STATUS_SYNC_SCHEDULE),
            )?);
        }
        IntegrationMode::CompatibleTransition => {
            out.push(writeback(&render, inputs, "办件回传", None)?);
            let what = "用户互认配置 bridge config";
            let callback = url::Url::parse(&inputs.system.endpoint)
                .ok()
                .map(|u| format!("{}/sso/login", u.origin().ascii_serialization()))
                .unwrap_or_else(|| "https://待定/sso/login".to_owned());
            let bridge = render(
                include_str!("templates/bridge.toml.hbs"),
                what,
                json!({ "callback": callback, "bridge_env": env_name(id, "BRIDGE_SECRET") }),
            )?;
            checked(what, &bridge, BridgeConfig::parse(&bridge).err())?;
            out.push(Artifact {
                path: integration.join("bridge.toml"),
                what,
                text: bridge,
                markdown: false,
            });
        }
        IntegrationMode::SecrecyException => {}
    }
    Ok(out)
}

/// The write-back settings: keys by reference, the SOAP record element, and an optional pull.
fn writeback(
    render: &impl Fn(&str, &'static str, serde_json::Value) -> Result<String, ArtifactError>,
    inputs: &Inputs<'_>,
    purpose: &str,
    pull: Option<&str>,
) -> Result<Artifact, ArtifactError> {
    let what = "办件回传配置 write-back config";
    let id = &inputs.system.id;
    let soap_record = (inputs.adapter == AdapterKind::Soap).then(|| inputs.soap_record.unwrap_or("办件"));
    let text = render(
        include_str!("templates/writeback.toml.hbs"),
        what,
        json!({
            "purpose": purpose,
            "key_id": format!("{id}-{}", inputs.today.format("%Y")),
            "secret_env": env_name(id, "WRITEBACK_KEY"),
            "soap_record": soap_record,
            "pull": pull,
        }),
    )?;
    Ok(Artifact {
        path: PathBuf::from("integration").join(id).join("writeback.toml"),
        what,
        text,
        markdown: false,
    })
}
