//! `/api/v1/systems/{id}/adapter|mapping|writeback`: how a system is integrated, read-only, for
//! its integration engineers — the attached adapter config and its latest probe's structure,
//! the mapping's version and where each canonical field comes from, and the write-back
//! settings. Never a secret nor where one lives, never a probed sample record.

use axum::extract::State;

use super::error::ApiPath;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ronghe_adapters::rest::Auth;
use ronghe_adapters::{AdapterConfig, Field, Profile};
use serde::Serialize;

use super::{ApiError, AppState};
use crate::intake::{IntakeError, WritebackConfig};
use crate::store::StoreError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/systems/{id}/adapter", get(adapter))
        .route("/api/v1/systems/{id}/mapping", get(mapping))
        .route("/api/v1/systems/{id}/writeback", get(writeback))
}

/// The system's adapter: its attached config and its latest probe, each `null` until there is
/// one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct AdapterView {
    pub(super) system_id: String,
    pub(super) config: Option<AdapterSummary>,
    pub(super) probe: Option<ProbeSummary>,
}

/// What the attached config says, without secrets or their references.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct AdapterSummary {
    /// `rest`, `soap`, `sql` or `mssql`.
    pub(super) kind: String,
    /// The URL or database address; `null` when it lives in a secret (`url_secret`).
    pub(super) endpoint: Option<String>,
    /// The authentication scheme's name only: `none`, `bearer`, `basic`, `api_key`, `hmac`
    /// (REST), `header` (SOAP), `url_secret` (databases).
    pub(super) auth: String,
    /// The `[resilience]` settings in force (defaults included).
    #[schema(value_type = Object)]
    pub(super) resilience: Option<ronghe_adapters::resilience::ResilienceConfig>,
    /// The paths of the config's problems, when it no longer parses or validates.
    pub(super) problems: Vec<String>,
}

/// The latest probe: when, and the structure it found (never the sampled records).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ProbeSummary {
    pub(super) probed_at: DateTime<Utc>,
    pub(super) entities: Vec<EntitySummary>,
}

/// One operation or table the probe found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct EntitySummary {
    pub(super) name: String,
    /// `table`, `view`, `resource` or `operation`.
    pub(super) kind: String,
    /// Records, where the system tells.
    pub(super) record_count: Option<u64>,
    /// How many records the probe sampled (their values are not shown).
    pub(super) sampled: usize,
    /// Each field's name, source type and nullability.
    #[schema(value_type = Vec<Object>)]
    pub(super) fields: Vec<Field>,
}

impl ProbeSummary {
    /// The profile's structure; its sample records and counted values are dropped here.
    fn of(profile: Profile, probed_at: DateTime<Utc>) -> ProbeSummary {
        ProbeSummary {
            probed_at,
            entities: profile
                .entities
                .into_iter()
                .map(|e| EntitySummary {
                    sampled: e.samples.len(),
                    name: e.name,
                    kind: e.kind,
                    record_count: e.record_count,
                    fields: e
                        .fields
                        .into_iter()
                        .map(|f| Field {
                            distinct: Vec::new(),
                            ..f
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A stored config as a summary; a config that no longer parses or validates is its problems'
/// paths (their messages may quote the config).
fn summary(text: &str) -> AdapterSummary {
    let config = match AdapterConfig::from_toml(text) {
        Ok(config) => config,
        Err(issues) => return problems("?", issues),
    };
    if let Err(issues) = config.clone().validate() {
        return problems(config.kind().name(), issues);
    }
    let (endpoint, auth, resilience) = match &config {
        AdapterConfig::Rest(c) => {
            let auth = match c.auth {
                Auth::None => "none",
                Auth::Bearer { .. } => "bearer",
                Auth::Basic { .. } => "basic",
                Auth::ApiKey { .. } => "api_key",
                Auth::Hmac { .. } => "hmac",
            };
            (Some(c.base_url.clone()), auth, &c.resilience)
        }
        AdapterConfig::Soap(c) => {
            let auth = if c.header.is_some() || !c.secrets.is_empty() {
                "header"
            } else {
                "none"
            };
            (Some(c.endpoint.clone()), auth, &c.resilience)
        }
        AdapterConfig::Sql(c) | AdapterConfig::Mssql(ronghe_adapters::mssql::MssqlConfig(c)) => {
            let auth = if c.url_secret.is_some() {
                "url_secret"
            } else {
                "none"
            };
            (c.url.as_deref().map(without_password), auth, &c.resilience)
        }
    };
    AdapterSummary {
        kind: config.kind().name().to_owned(),
        endpoint,
        auth: auth.to_owned(),
        resilience: Some(resilience.clone()),
        problems: Vec::new(),
    }
}

fn problems(kind: &str, issues: Vec<ronghe_adapters::ConfigIssue>) -> AdapterSummary {
    AdapterSummary {
        kind: kind.to_owned(),
        endpoint: None,
        auth: "?".to_owned(),
        resilience: None,
        problems: issues.into_iter().map(|i| i.path).collect(),
    }
}

/// A database URL without a password, should one have slipped in.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// What the store keeps for a system, `None` before it is attached (or probed).
fn attached<T>(found: Result<T, StoreError>) -> Result<Option<T>, ApiError> {
    match found {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The system's adapter config and latest probe: the API's answer and the console's section.
pub(super) async fn adapter_of(state: &AppState, id: &str) -> Result<AdapterView, ApiError> {
    let system = state.store.get_system(id).await?;
    let config = attached(state.store.adapter_config(id).await)?.map(|text| summary(&text));
    let probe = attached(state.store.profile(id).await)?
        .map(|probed| ProbeSummary::of(probed.profile, probed.probed_at));
    Ok(AdapterView {
        system_id: system.id,
        config,
        probe,
    })
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/adapter", tag = "systems", params(("id" = String, Path)), responses(
    (status = 200, body = AdapterView),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn adapter(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AdapterView>, ApiError> {
    Ok(Json(adapter_of(&state, &id).await?))
}

/// The system's mapping, as `ronghe mapping explain` tells it field by field.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MappingView {
    pub(super) system_id: String,
    /// The mapping's version (a hash of its text); `null` without a mapping.
    pub(super) version: Option<String>,
    /// The mapping's problems, when it does not compile.
    pub(super) problems: Vec<String>,
    /// Every canonical field and its source.
    pub(super) fields: Vec<FieldSource>,
}

/// One canonical field and what feeds it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct FieldSource {
    /// Path in the canonical case, e.g. `applicant.certificate_no`.
    pub(super) field: String,
    /// zh-CN name.
    pub(super) name: String,
    pub(super) required: bool,
    pub(super) personal: bool,
    /// `from X`, `concat a + b with "-"`, `constant "…"`; `null` when no rule fills it.
    pub(super) source: Option<String>,
    /// The code table translating the source value.
    pub(super) table: Option<String>,
}

/// The system's mapping read through the intake: the API's answer and the console's section.
pub(super) async fn mapping_of(state: &AppState, id: &str) -> Result<MappingView, ApiError> {
    let system = state.store.get_system(id).await?;
    let mut view = MappingView {
        system_id: system.id,
        version: None,
        problems: Vec::new(),
        fields: Vec::new(),
    };
    let mapping = match state.writeback.mapping(&state.store, id).await {
        Ok(mapping) => mapping,
        Err(IntakeError::MappingMissing { .. }) => return Ok(view),
        Err(IntakeError::Mapping { issues, .. }) => {
            view.problems = issues.iter().map(ToString::to_string).collect();
            return Ok(view);
        }
        Err(IntakeError::Store(e)) => return Err(e.into()),
        Err(other) => {
            view.problems = vec![other.to_string()];
            return Ok(view);
        }
    };
    view.version = Some(mapping.version().to_owned());
    view.fields = crate::mapping::schema::TARGETS
        .iter()
        .filter_map(|t| mapping.explain(t.path))
        .map(|(target, rule)| FieldSource {
            field: target.path.to_owned(),
            name: target.names.first().copied().unwrap_or_default().to_owned(),
            required: target.required,
            personal: target.personal,
            source: rule.map(|r| r.origin()),
            table: rule.and_then(|r| r.table.clone()),
        })
        .collect();
    Ok(view)
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/mapping", tag = "systems", params(("id" = String, Path)), responses(
    (status = 200, body = MappingView),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn mapping(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MappingView>, ApiError> {
    Ok(Json(mapping_of(&state, &id).await?))
}

/// The system's write-back settings, `settings` `null` until a config is attached.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WritebackView {
    pub(super) system_id: String,
    pub(super) settings: Option<WritebackSettings>,
    /// The paths of the config's problems, when it no longer parses or validates.
    pub(super) problems: Vec<String>,
}

/// What the write-back config says, without secrets or their references.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WritebackSettings {
    pub(super) keys: Vec<KeySummary>,
    /// The default timestamp window, in seconds.
    pub(super) timestamp_window_seconds: u32,
    /// SM4-GCM payload encryption is configured.
    pub(super) encryption: bool,
    /// Bodies that are not encrypted are refused.
    pub(super) encryption_required: bool,
    /// `intake.max_batch`: most records one push may carry.
    pub(super) max_batch: usize,
    /// Pull mode's cron schedule, when the platform pulls.
    pub(super) pull_schedule: Option<String>,
}

/// One signing key: its id and algorithm, never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct KeySummary {
    pub(super) id: String,
    /// `hmac-sha256` or `hmac-sm3`.
    pub(super) algorithm: String,
    /// The key's own timestamp window, in seconds.
    pub(super) timestamp_window_seconds: Option<u32>,
    pub(super) retired: bool,
}

/// The system's write-back settings: the API's answer and the console's section.
pub(super) async fn writeback_of(state: &AppState, id: &str) -> Result<WritebackView, ApiError> {
    let system = state.store.get_system(id).await?;
    let mut view = WritebackView {
        system_id: system.id,
        settings: None,
        problems: Vec::new(),
    };
    let Some(text) = attached(state.store.writeback_config(id).await)? else {
        return Ok(view);
    };
    match WritebackConfig::parse(&text) {
        Ok(config) => {
            view.settings = Some(WritebackSettings {
                keys: config
                    .keys
                    .into_iter()
                    .map(|k| KeySummary {
                        id: k.id,
                        algorithm: k.algorithm.to_string(),
                        timestamp_window_seconds: k.timestamp_window_seconds,
                        retired: k.retired,
                    })
                    .collect(),
                timestamp_window_seconds: config.timestamp_window_seconds,
                encryption: config.encryption.is_some(),
                encryption_required: config.encryption.is_some_and(|e| e.required),
                max_batch: config.intake.max_batch,
                pull_schedule: config.pull.map(|p| p.schedule),
            })
        }
        Err(issues) => view.problems = issues.into_iter().map(|i| i.path).collect(),
    }
    Ok(view)
}

#[utoipa::path(get, path = "/api/v1/systems/{id}/writeback", tag = "systems", params(("id" = String, Path)), responses(
    (status = 200, body = WritebackView),
    (status = 404, body = super::error::ErrorBody),
))]
pub(super) async fn writeback(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WritebackView>, ApiError> {
    Ok(Json(writeback_of(&state, &id).await?))
}
