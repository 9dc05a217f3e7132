//! The OpenAPI document, generated from the handlers' annotations and the types they exchange.

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "ronghe 融合 API", description = "Onboards departmental approval systems onto the unified online government service platform."),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::systems::list,
        super::systems::register,
        super::systems::show,
        super::systems::update,
        super::systems::retire,
        super::integration::adapter,
        super::integration::mapping,
        super::integration::writeback,
        super::cases::show,
        super::cases::history,
        super::cases::search,
        super::assessments::list,
        super::assessments::open,
        super::assessments::show,
        super::assessments::add_expert,
        super::assessments::declare,
        super::assessments::score,
        super::assessments::close,
        super::assessments::round,
        super::assessments::verdict,
        super::assessments::report,
        super::assessments::portfolio,
        super::assessments::rubrics,
        super::assessments::register_rubric,
        super::assessments::rubric,
        super::bridge::put_identity,
        super::bridge::show_identity,
        super::bridge::user_cases,
        super::bridge::import_accounts,
        super::bridge::list_links,
        super::bridge::link,
        super::bridge::unlink,
        super::bridge::issue,
        super::bridge::redeem,
        super::bridge::prove,
        super::bridge::report,
        super::bridge::keys,
        super::rules::list,
        super::rules::publish,
        super::orgs::list,
        super::orgs::show,
        super::orgs::import,
        super::notices::list,
        super::notices::announce,
        super::notices::feed,
        super::plans::portfolio,
        super::plans::show,
        super::plans::import,
        super::plans::progress,
        super::plans::baseline,
        super::plans::chart,
        super::plans::report,
        super::monitoring::reconcile,
        super::monitoring::spot_check,
        super::monitoring::saved,
        super::monitoring::checks,
        super::monitoring::run_check,
        super::visits::plan,
        super::visits::list,
        super::visits::record,
        super::visits::report,
        super::notifications::list,
        super::writeback::push_json,
        super::writeback::push_soap,
        super::writeback::wsdl,
        super::quality::list,
        super::quality::show,
        super::quality::dismiss,
        super::exchange::status,
        super::exchange::dlq,
        super::exchange::replay,
        super::corrections::raise,
        super::corrections::list,
        super::corrections::show,
        super::corrections::answer,
        super::corrections::close,
        super::corrections::withdraw,
        super::handoff::accept,
        super::handoff::show,
        super::migration::status,
        super::migration::history,
        super::migration::show_report,
        super::audit::list,
        super::audit::verify,
        super::auth::sign_in,
        super::auth::enrol,
        super::auth::confirm,
        super::auth::sign_out,
        super::auth::sign_out_everywhere,
        super::accounts::me,
        super::accounts::tokens,
        super::accounts::create_token,
        super::accounts::revoke_token,
        super::accounts::list,
        super::accounts::create,
        super::accounts::show,
        super::accounts::grant,
        super::accounts::revoke,
        super::accounts::status,
        super::accounts::reenrol,
        super::accounts::passkeys,
        super::accounts::start_passkey,
        super::accounts::register_passkey,
        super::accounts::remove_passkey,
        super::auth::passkey_start,
        super::auth::passkey_finish,
    ),
    modifiers(&Policy),
    tags(
        (name = "health", description = "liveness and readiness"),
        (name = "systems", description = "departmental systems registry 部门系统登记"),
        (name = "cases", description = "cases held by the platform 办件"),
        (name = "assessments", description = "expert-panel assessment and classification 专家评估与融合方式 (Art. 25)"),
        (name = "bridge", description = "user bridge between platform identities and departmental accounts 用户互认"),
        (name = "exchange", description = "delivery to the provincial data-sharing exchange 数据共享交换 (Art. 27)"),
        (name = "rules", description = "published data-collection items and validation rules 公布的采集项与校验规则 (Art. 29)"),
        (name = "orgs", description = "the organisations registry mappings look agencies up in 部门库"),
        (name = "plans", description = "migration plans 迁移计划: critical path, baselines, status, Gantt"),
        (name = "monitoring", description = "business monitoring 业务监测 (Art. 15): reconciliation, spot checks, return visits 办件回访"),
        (name = "notices", description = "change notices 变更公告 (Art. 16, 29, 30)"),
        (name = "writeback", description = "case write-back from legacy systems and the data-quality queue 办件回传与数据质量队列"),
        (name = "corrections", description = "correction requests to providing departments 校核纠错 (Art. 28)"),
        (name = "handoff", description = "front-end migration: applications handed to departmental systems 前端迁移 (Art. 22)"),
        (name = "notifications", description = "reminders and escalations from the scheduler 提醒与督办 (Art. 33)"),
        (name = "accounts", description = "staff accounts, sign-in, sessions and personal API tokens 账号、登录与令牌 (Art. 20, 21)"),
        (name = "audit", description = "the hash-chained audit log 审计日志 (Art. 21, 32): filtered list, verification"),
    )
)]
struct ApiDoc;

/// Publishes the policy table: the two ways to authenticate, and on every operation who may
/// call it (roles and scope) or why it is public.
struct Policy;

impl utoipa::Modify for Policy {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a personal API token, rh.ID.SECRET (ronghe accounts token create, POST /api/v1/me/tokens)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::SESSION_COOKIE,
                "the browser session from POST /api/v1/auth/sign-in; changes also need X-CSRF-Token",
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let access = crate::access::policy::lookup(method, path).map(|e| e.access);
                let line = access.map_or_else(
                    || "无访问策略 no access policy: refused".to_owned(),
                    |a| a.describe(),
                );
                operation.description = Some(match operation.description.take() {
                    Some(text) => format!("{text}\n\n{line}"),
                    None => line,
                });
                operation.security = Some(match access {
                    Some(crate::access::Access::Public(_)) => vec![SecurityRequirement::default()],
                    _ => vec![
                        SecurityRequirement::new("token", Vec::<String>::new()),
                        SecurityRequirement::new("session", Vec::<String>::new()),
                    ],
                });
            }
        }
    }
}

/// The document, built once per call (cheap, and never on a hot path).
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
