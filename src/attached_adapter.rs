//! A system's driver, built from the adapter config attached to it in the store: the one place
//! the pull job, the hand-off worker and monitoring get a system's adapter.

use ronghe_adapters::{Adapter, AdapterConfig, AdapterError, Secrets};

use crate::store::{Store, StoreError};

/// The system's adapter; a missing or invalid config, or one that does not build, is the inner
/// `AdapterError` (a configuration error: retrying cannot fix it); the store's own failures are
/// the outer error.
pub async fn build(
    store: &Store,
    secrets: &dyn Secrets,
    system_id: &str,
) -> Result<Result<Box<dyn Adapter>, AdapterError>, StoreError> {
    Ok(match config_text(store, system_id).await? {
        Ok(text) => from_text(&text, secrets, system_id).await,
        Err(e) => Err(e),
    })
}

/// The adapter config attached to the system; none attached is the inner error.
pub async fn config_text(store: &Store, system_id: &str) -> Result<Result<String, AdapterError>, StoreError> {
    match store.adapter_config(system_id).await {
        Ok(text) => Ok(Ok(text)),
        Err(StoreError::NotFound { .. }) => Ok(Err(AdapterError::configuration(format!(
            "system {system_id} has no adapter config attached (ronghe adapters attach)"
        )))),
        Err(other) => Err(other),
    }
}

/// The adapter an attached config describes, once it validates and builds.
pub async fn from_text(
    text: &str,
    secrets: &dyn Secrets,
    system_id: &str,
) -> Result<Box<dyn Adapter>, AdapterError> {
    match AdapterConfig::from_toml(text).and_then(|config| config.validate()) {
        Ok(valid) => valid.build(secrets).await,
        Err(issues) => Err(AdapterError::configuration(format!(
            "the adapter config of system {system_id} is invalid: {}",
            ronghe_adapters::ConfigIssue::joined(&issues)
        ))),
    }
}

/// Why a read gets nothing from a source its probe counted records in: said by `adapters read`,
/// a first pull and the migration alike.
pub const NOTHING_SELECTED: &str = "the config's selection (REST records.select, SOAP records.select and \
     inner_document, SQL table and filter) matches nothing in what the system answers, or the config \
     reaches another source; compare it with an answer of the system";
