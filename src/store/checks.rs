//! System checks (系统检查, Art. 15) in the store: each check of a departmental system with its
//! reachability, latency and schema drift, audited; an accepted drift first replaces the stored
//! probe profile (a check that then fails to record is repeated by the next, which finds none).

use chrono::{DateTime, Utc};
use ronghe_adapters::Profile;
use serde::Serialize;
use sqlx::types::Json;

use super::{Store, StoreError, audit, on_pool};
use crate::mapping::Drift;

/// A check as recorded (its row as read through `COLUMNS`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct SystemCheck {
    pub id: i64,
    pub system_id: String,
    pub checked_at: DateTime<Utc>,
    /// Whether the system answered the probe through its adapter.
    pub reachable: bool,
    /// How long the probe took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<i64>,
    /// Why the system could not be probed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The changes a fresh probe shows against the stored profile.
    #[sqlx(json)]
    pub drifts: Vec<Drift>,
    /// Whether a change breaks a rule of the system's mapping.
    pub breaking: bool,
    /// Drift with no interface-change notice (Art. 30) effective since the stored profile was taken.
    pub unannounced: bool,
    /// Who accepted the drift (the fresh profile replaced the stored one), and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_reason: Option<String>,
    pub checked_by: String,
}

/// What a check found, to record.
pub struct NewCheck<'a> {
    pub system_id: &'a str,
    pub latency_ms: Option<i64>,
    pub error: Option<String>,
    pub drifts: Vec<Drift>,
    pub unannounced: bool,
    /// The fresh profile to keep in place of the stored one, with the reason it was accepted.
    pub accepted: Option<(&'a Profile, &'a str)>,
}

const COLUMNS: &str = "id, system_id, checked_at, reachable, latency_ms, error, drifts, breaking, unannounced, accepted_by, accept_reason, checked_by";

impl Store {
    /// Records a check with a `system.check` audit event; an accepted drift saves the fresh
    /// profile first (sealed as every profile is), so the next check compares against it.
    pub async fn record_check(&self, new: NewCheck<'_>, actor: &str) -> Result<SystemCheck, StoreError> {
        if let Some((profile, _)) = new.accepted {
            self.save_profile(new.system_id, profile).await?;
        }
        let breaking = new.drifts.iter().any(|d| d.breaking);
        let (accepted_by, reason) = match new.accepted {
            Some((_, reason)) => (Some(actor), Some(reason)),
            None => (None, None),
        };
        let row: SystemCheck = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let row: SystemCheck = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "INSERT INTO system_checks (system_id, checked_at, reachable, latency_ms, error, drifts, breaking,
                 unannounced, accepted_by, accept_reason, checked_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 RETURNING {COLUMNS}"
            )))
            .bind(new.system_id)
            .bind(Utc::now())
            .bind(new.error.is_none())
            .bind(new.latency_ms)
            .bind(&new.error)
            .bind(Json(&new.drifts))
            .bind(breaking)
            .bind(new.unannounced)
            .bind(accepted_by)
            .bind(reason)
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?;
            audit!(tx, actor, "system.check", &format!("system/{}", new.system_id), serde_json::json!({
                "check": row.id, "reachable": row.reachable, "drifts": new.drifts.len(), "breaking": breaking,
                "unannounced": new.unannounced, "accepted": reason,
            }))?;
            tx.commit().await?;
            row
        });
        Ok(row)
    }

    /// A system's checks, newest first, at most `limit`.
    pub async fn list_checks(&self, system_id: &str, limit: i64) -> Result<Vec<SystemCheck>, StoreError> {
        let rows: Vec<SystemCheck> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM system_checks WHERE system_id = $1 ORDER BY id DESC LIMIT $2"
            )))
            .bind(system_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
