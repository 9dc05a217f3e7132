//! Each system's adapter config (the TOML an engineer attached, kept verbatim) and the profile
//! its last probe found.

use chrono::{DateTime, Utc};
use ronghe_adapters::Profile;
use sqlx::types::Json;

use super::sealing::profile_purpose;
use super::{Store, StoreError, SystemDocument, on_pool};

/// A system's latest probe profile, sealed under `sealed_by`.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    profile: Json<serde_json::Value>,
    probed_at: DateTime<Utc>,
    sealed_by: Option<String>,
}

/// A system's latest probe profile and when it was taken (`Store::profile`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProfile {
    pub profile: Profile,
    pub probed_at: DateTime<Utc>,
}

/// How many records a system's latest probe counted where its adapter reads them, and when
/// (`Store::probed_records`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbedRecords {
    pub counted: u64,
    pub probed_at: DateTime<Utc>,
}

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

    /// Keeps the latest probe profile of a system. Its sample records are legacy records with
    /// applicants' values, so it is sealed whole (issue 20).
    pub async fn save_profile(&self, system_id: &str, profile: &Profile) -> Result<(), StoreError> {
        let value = serde_json::to_value(profile).map_err(|e| StoreError::Corrupt {
            what: "probe profile",
            detail: e.to_string(),
        })?;
        let stored = self.sealing.seal_record(&profile_purpose(system_id), &value)?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO probe_profiles (system_id, profile, probed_at, sealed_by) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (system_id) DO UPDATE SET profile = excluded.profile, probed_at = excluded.probed_at,
                 sealed_by = excluded.sealed_by",
            )
            .bind(system_id)
            .bind(Json(stored))
            .bind(Utc::now())
            .bind(self.sealing.active_key())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The latest probe profile of a system and when it was taken.
    pub async fn profile(&self, system_id: &str) -> Result<StoredProfile, StoreError> {
        let row: Option<ProfileRow> = self
            .row_by_key(
                "SELECT profile, probed_at, sealed_by FROM probe_profiles WHERE system_id = $1",
                system_id,
            )
            .await?;
        let ProfileRow {
            profile: Json(stored),
            probed_at,
            sealed_by,
        } = row.ok_or_else(|| StoreError::NotFound {
            what: "probe profile of system",
            id: system_id.to_owned(),
        })?;
        let value = self
            .sealing
            .open_record(&profile_purpose(system_id), stored, sealed_by.as_deref())?;
        let profile = serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
            what: "probe profile",
            detail: e.to_string(),
        })?;
        Ok(StoredProfile { profile, probed_at })
    }

    /// How many records the system's latest probe counted where the adapter reads them (its
    /// records' entity, not code tables: `Profile::counted_records`) and when, if it
    /// was probed and counted any.
    pub async fn probed_records(&self, system_id: &str) -> Result<Option<ProbedRecords>, StoreError> {
        let StoredProfile { profile, probed_at } = match self.profile(system_id).await {
            Ok(probed) => probed,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let counted = profile.counted_records().unwrap_or(0);
        Ok((counted > 0).then_some(ProbedRecords { counted, probed_at }))
    }
}
