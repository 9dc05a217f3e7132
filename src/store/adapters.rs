//! Each system's adapter config (the TOML an engineer attached, kept verbatim) and the profile
//! its last probe found.

use chrono::{DateTime, Utc};
use ronghe_adapters::Profile;
use sqlx::types::Json;

use super::{Store, StoreError, SystemDocument, on_pool};

impl Store {
    /// Attaches (or replaces) a system's adapter config; the caller has validated it.
    pub async fn set_adapter_config(
        &self,
        system_id: &str,
        toml: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.set_document(SystemDocument::AdapterConfig, system_id, toml, actor)
            .await
    }

    /// A system's adapter config, as attached.
    pub async fn adapter_config(&self, system_id: &str) -> Result<String, StoreError> {
        self.document(SystemDocument::AdapterConfig, system_id).await
    }

    /// Keeps the latest probe profile of a system.
    pub async fn save_profile(&self, system_id: &str, profile: &Profile) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO probe_profiles (system_id, profile, probed_at) VALUES ($1, $2, $3)
                 ON CONFLICT (system_id) DO UPDATE SET profile = excluded.profile, probed_at = excluded.probed_at",
            )
            .bind(system_id)
            .bind(Json(profile))
            .bind(Utc::now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The latest probe profile of a system and when it was taken.
    pub async fn profile(&self, system_id: &str) -> Result<(Profile, DateTime<Utc>), StoreError> {
        let row: Option<(Json<Profile>, DateTime<Utc>)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT profile, probed_at FROM probe_profiles WHERE system_id = $1").bind(system_id).fetch_optional(pool).await?
        });
        row.map(|(Json(p), at)| (p, at))
            .ok_or_else(|| StoreError::NotFound {
                what: "probe profile of system",
                id: system_id.to_owned(),
            })
    }
}
