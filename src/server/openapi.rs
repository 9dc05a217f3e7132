//! The OpenAPI document, generated from the handlers' annotations and the types they exchange.

use axum::Json;
use axum::extract::State;
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
        super::cases::recent,
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
    modifiers(&Policy, &Refusals),
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
            for (method, operation) in operations(item) {
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

/// Documents on every operation the refusals its extractors and guards can answer, each with the
/// JSON error shape (`ErrorBody`), where the handler's own annotation does not already: 401 and
/// 403 behind sign-in, 400 and 404 with path parameters, 400 with query parameters, 400, 413, 415
/// and 422 with a JSON body, and 503 when the store does not answer.
struct Refusals;

impl Refusals {
    /// The statuses an operation can answer besides its own, with what each means.
    fn of(operation: &utoipa::openapi::path::Operation, signed: bool) -> Vec<(&'static str, &'static str)> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        let parameters = operation.parameters.as_deref().unwrap_or_default();
        let located = |place: ParameterIn| {
            parameters
                .iter()
                .any(|p| matches!(p, RefOr::T(p) if std::mem::discriminant(&p.parameter_in) == std::mem::discriminant(&place)))
        };
        let json_body = matches!(&operation.request_body, Some(RefOr::T(body)) if body.content.contains_key("application/json"));
        let mut statuses = Vec::new();
        if signed {
            statuses.push(("401", "unauthenticated: no valid session or token"));
            statuses.push((
                "403",
                "forbidden: the role or scope does not allow it (or a change without X-CSRF-Token)",
            ));
        }
        if located(ParameterIn::Path) {
            statuses.push((
                "400",
                "invalid_path: a path parameter of the wrong type or out of range",
            ));
            statuses.push(("404", "not_found: nothing with this identifier in your scope"));
        }
        if located(ParameterIn::Query) {
            statuses.push((
                "400",
                "invalid_query: a query parameter of the wrong type or value",
            ));
            statuses.push((
                "404",
                "not_found: a record the query names does not exist or is outside your scope",
            ));
        }
        if json_body {
            statuses.push((
                "400",
                "invalid_json / invalid_field: the body is not JSON of the documented shape",
            ));
            statuses.push(("413", "body_too_large: over the server's max_body_bytes"));
            statuses.push((
                "404",
                "not_found: a record the body names does not exist or is outside your scope",
            ));
            statuses.push((
                "415",
                "unsupported_media_type: send Content-Type: application/json",
            ));
            statuses.push(("422", "validation_failed: a rule the schema cannot state (check characters, dates, references); every problem in issues"));
        }
        statuses.push((
            "503",
            "store_unavailable: the platform store did not answer; try again later",
        ));
        statuses
    }
}

impl utoipa::Modify for Refusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                let signed = !matches!(
                    crate::access::policy::lookup(method, path).map(|e| e.access),
                    Some(crate::access::Access::Public(_))
                );
                let mut refusals = std::collections::BTreeMap::<&str, Vec<&str>>::new();
                for (status, description) in Refusals::of(operation, signed) {
                    refusals.entry(status).or_default().push(description);
                }
                for (status, descriptions) in refusals {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(descriptions.join("; "))
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                                        .build(),
                                )
                                .into()
                        });
                }
            }
        }
    }
}

/// A passkey sign-in's credential (`navigator.credentials.get`).
pub(super) fn assertion() -> utoipa::openapi::Object {
    webauthn_credential(&["authenticatorData", "clientDataJSON", "signature"])
}

/// A passkey registration's credential (`navigator.credentials.create`).
pub(super) fn attestation() -> utoipa::openapi::Object {
    webauthn_credential(&["attestationObject", "clientDataJSON"])
}

/// The JSON of a WebAuthn `PublicKeyCredential` (W3C Web Authentication level 2, as browsers'
/// `toJSON()` writes it): binary members are base64url without padding, `response` holds the
/// ceremony's members.
fn webauthn_credential(response_members: &[&str]) -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, Type};
    let base64url = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^([A-Za-z0-9_-]{4})*$"))
            .description(Some("base64url, unpadded"))
    };
    let response = response_members.iter().fold(
        ObjectBuilder::new().schema_type(Type::Object),
        |response, member| response.property(*member, base64url()).required(*member),
    );
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("id", base64url())
        .required("id")
        .property("rawId", base64url())
        .required("rawId")
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["public-key"])),
        )
        .required("type")
        .property("response", response)
        .required("response")
        .property(
            "clientExtensionResults",
            ObjectBuilder::new().schema_type(Type::Object),
        )
        .build()
}

/// The operations of a path with their methods, as the policy table names them.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (&'static str, &mut utoipa::openapi::path::Operation)> {
    [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("PATCH", &mut item.patch),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

/// The document, built once per call (cheap, and never on a hot path), with the bounds JSON
/// carries that the generator leaves out, and the platform's public URL as its server (as the
/// WSDL's address: configured, never the request's `Host`).
pub(super) async fn document(State(state): State<super::AppState>) -> Json<serde_json::Value> {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(url) = state.accounts.public_url() {
        document["servers"] = serde_json::json!([{ "url": url.as_str().trim_end_matches('/') }]);
    }
    bound_integers(&mut document);
    fixed_length_tuples(&mut document);
    if let Some(check) = document.pointer_mut("/components/schemas/Check/oneOf") {
        close_variants(check);
    }
    describe_responses(&mut document);
    Json(document)
}

/// Every response object needs a description (OpenAPI 3.1, 4.8.17); where an annotation gives
/// none, the status's reason phrase.
fn describe_responses(document: &mut serde_json::Value) {
    let Some(paths) = document.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
    {
        let Some(responses) = operation.get_mut("responses").and_then(|r| r.as_object_mut()) else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            let Some(response) = response.as_object_mut() else {
                continue;
            };
            if !response.contains_key("description") {
                let reason = status
                    .parse::<u16>()
                    .ok()
                    .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                    .and_then(|code| code.canonical_reason())
                    .unwrap_or("answer");
                response.insert("description".to_owned(), reason.into());
            }
        }
    }
}

/// A Rust tuple is a JSON array of fixed length: written with `minItems`/`maxItems` instead of
/// `items: false`, which says the same and which client generators read.
fn fixed_length_tuples(node: &mut serde_json::Value) {
    use serde_json::Value;
    match node {
        Value::Object(map) => {
            let length = map.get("prefixItems").and_then(Value::as_array).map(Vec::len);
            if let Some(length) = length.filter(|_| map.get("items") == Some(&Value::Bool(false))) {
                map.remove("items");
                map.insert("minItems".to_owned(), length.into());
                map.insert("maxItems".to_owned(), length.into());
            }
            map.values_mut().for_each(fixed_length_tuples);
        }
        Value::Array(items) => items.iter_mut().for_each(fixed_length_tuples),
        _ => {}
    }
}

/// Gives every integer schema the range of the Rust type behind it: a larger number is refused
/// (it does not fit), so a client must not send one. The generator writes the format (and 0 as
/// the minimum of an unsigned type) but not the bounds; an unsigned type loses the (signed)
/// format.
fn bound_integers(node: &mut serde_json::Value) {
    use serde_json::{Value, json};
    match node {
        Value::Object(map) => {
            let integer = match map.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
                _ => false,
            };
            if integer && !map.contains_key("maximum") {
                let unsigned = map.get("minimum").and_then(Value::as_i64).is_some_and(|m| m == 0);
                let (min, max) = match (map.get("format").and_then(Value::as_str), unsigned) {
                    (Some("int32"), false) => (json!(i32::MIN), json!(i32::MAX)),
                    (Some("int32"), true) => (json!(0), json!(u32::MAX)),
                    (_, true) => (json!(0), json!(u64::MAX)),
                    (_, false) => (json!(i64::MIN), json!(i64::MAX)),
                };
                map.entry("minimum").or_insert(min);
                map.insert("maximum".to_owned(), max);
                if unsigned {
                    // OpenAPI's int32 and int64 are signed: an unsigned type's larger half is
                    // stated by its maximum alone.
                    map.remove("format");
                }
            }
            map.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// Marks the object variants of an internally tagged enum that refuses unknown fields (serde's
/// `deny_unknown_fields`, which the generator carries to structs but not to enum variants).
fn close_variants(variants: &mut serde_json::Value) {
    for variant in variants.as_array_mut().into_iter().flatten() {
        if let Some(variant) = variant.as_object_mut() {
            variant.insert("additionalProperties".to_owned(), serde_json::Value::Bool(false));
        }
    }
}
