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
        super::cases::show,
        super::cases::history,
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
        super::corrections::raise,
        super::corrections::list,
        super::corrections::show,
        super::corrections::answer,
        super::corrections::close,
        super::corrections::withdraw,
        super::handoff::accept,
        super::handoff::show,
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
        super::writeback::push_json,
        super::writeback::push_soap,
        super::writeback::wsdl,
        super::quality::list,
        super::quality::show,
    ),
    tags(
        (name = "health", description = "liveness and readiness"),
        (name = "systems", description = "departmental systems registry 部门系统登记"),
        (name = "cases", description = "cases held by the platform 办件"),
        (name = "assessments", description = "expert-panel assessment and classification 专家评估与融合方式 (Art. 25)"),
        (name = "bridge", description = "user bridge between platform identities and departmental accounts 用户互认"),
        (name = "rules", description = "published data-collection items and validation rules 公布的采集项与校验规则 (Art. 29)"),
        (name = "corrections", description = "correction requests to providing departments 校核纠错 (Art. 28)"),
        (name = "handoff", description = "front-end migration: applications handed to departmental systems 前端迁移 (Art. 22)"),
        (name = "plans", description = "migration plans 迁移计划: critical path, baselines, status, Gantt"),
        (name = "notices", description = "change notices 变更公告 (Art. 16, 29, 30)"),
        (name = "writeback", description = "case write-back from legacy systems and the data-quality queue 办件回传与数据质量队列"),
    )
)]
struct ApiDoc;

/// The document, built once per call (cheap, and never on a hot path).
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
