//! The data-quality queue (数据质量队列): every record refused at intake (mapping, validation,
//! published rules, or the store), with its reasons and the mapping version that judged it. A
//! record is queued once per (system, record hash), so a retried push adds nothing. Items are
//! listed, read and dismissed here; corrections (Art. 28) reference their ids.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use super::sealing::record_purpose;
use super::{Guarded, Store, StoreError, audit, on_pool};

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum QualityStatus {
    /// Waiting for someone to look at it.
    Open,
    /// Looked at and set aside, with a reason.
    Dismissed,
    /// Fixed at the source (a corrected version arrived).
    Resolved,
}

impl QualityStatus {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(text: &str) -> Option<QualityStatus> {
        text.parse().ok()
    }
}

/// Why a dismissal is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DismissError {
    /// A dismissal needs a reason (the `reason` field).
    #[error("give a reason for dismissing the item")]
    NoReason,
    /// Only open items are dismissed.
    #[error("quality item {id} is {} already; only open items are dismissed", status.name())]
    NotOpen { id: i64, status: QualityStatus },
}

/// One reason a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QualityReason {
    /// Stable code of the rule that failed, e.g. `mapping`, `canonical`, `published_rule`,
    /// `version_conflict`, `illegal_transition`.
    pub code: String,
    /// The canonical field or source path it concerns, where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, with personal values masked.
    pub message: String,
}

/// A refused record to queue.
#[derive(Debug, Clone)]
pub struct NewQualityItem {
    pub system_id: String,
    pub case_no: Option<String>,
    pub version: Option<i64>,
    /// The intake channel: `push-json`, `push-soap` or `pull`.
    pub channel: String,
    /// SHA-256 of the record as received (its JSON view), hex.
    pub record_hash: String,
    pub record: serde_json::Value,
    pub reasons: Vec<QualityReason>,
    pub mapping_version: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// A queued record.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QualityItem {
    pub id: i64,
    pub system_id: String,
    pub case_no: Option<String>,
    pub version: Option<i64>,
    pub channel: String,
    pub record_hash: String,
    /// The record as received (personal data: read access is audited).
    pub record: serde_json::Value,
    pub reasons: Vec<QualityReason>,
    pub mapping_version: Option<String>,
    pub received_at: DateTime<Utc>,
    pub status: QualityStatus,
    pub resolved_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// An item in a listing: everything but the record itself.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QualitySummary {
    pub id: i64,
    pub system_id: String,
    pub case_no: Option<String>,
    pub version: Option<i64>,
    pub channel: String,
    pub reasons: Vec<QualityReason>,
    pub mapping_version: Option<String>,
    pub received_at: DateTime<Utc>,
    pub status: QualityStatus,
}

/// A quality item's row as read through `COLUMNS`.
#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    system_id: String,
    case_no: Option<String>,
    version: Option<i64>,
    channel: String,
    record_hash: String,
    record: Json<serde_json::Value>,
    reasons: Json<Vec<QualityReason>>,
    mapping_version: Option<String>,
    received_at: DateTime<Utc>,
    status: String,
    resolved_at: Option<DateTime<Utc>>,
    note: Option<String>,
    sealed_by: Option<String>,
}

const COLUMNS: &str = "id, system_id, case_no, version, channel, record_hash, record, reasons, mapping_version, \
                       received_at, status, resolved_at, note, sealed_by";

fn item(row: ItemRow) -> Result<QualityItem, StoreError> {
    let ItemRow {
        id,
        system_id,
        case_no,
        version,
        channel,
        record_hash,
        record: Json(record),
        reasons: Json(reasons),
        mapping_version,
        received_at,
        status,
        resolved_at,
        note,
        sealed_by: _,
    } = row;
    let status = QualityStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
        what: "quality item",
        detail: format!("item {id} has status {status:?}"),
    })?;
    Ok(QualityItem {
        id,
        system_id,
        case_no,
        version,
        channel,
        record_hash,
        record,
        reasons,
        mapping_version,
        received_at,
        status,
        resolved_at,
        note,
    })
}

/// The queue's listing, newest first, with only the filters given (system, then status, then the
/// limit as parameters): the index `quality_items_status (status, system_id, id)` serves it. A
/// filter written `$1 IS NULL OR system_id = $1` hides the index from both planners, and the
/// open items of one system were found by reading the whole queue (issue 23).
#[doc(hidden)]
pub fn list_quality_sql(by_system: bool, by_status: bool) -> String {
    let mut filters = Vec::new();
    if by_system {
        filters.push("system_id = $1");
    }
    if by_status {
        filters.push(if by_system { "status = $2" } else { "status = $1" });
    }
    let filters = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    format!(
        "SELECT {COLUMNS} FROM quality_items{filters} ORDER BY id DESC LIMIT ${}",
        1 + usize::from(by_system) + usize::from(by_status)
    )
}

impl Store {
    /// Queued items, newest first, optionally of one system and one status.
    pub async fn list_quality_items(
        &self,
        system_id: Option<&str>,
        status: Option<QualityStatus>,
        limit: i64,
    ) -> Result<Vec<QualitySummary>, StoreError> {
        let sql = sqlx::AssertSqlSafe(list_quality_sql(system_id.is_some(), status.is_some()));
        let rows: Vec<ItemRow> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(sql);
            if let Some(system_id) = system_id {
                query = query.bind(system_id);
            }
            if let Some(status) = status {
                query = query.bind(status.name());
            }
            query.bind(limit).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| {
                item(row).map(|i| QualitySummary {
                    id: i.id,
                    system_id: i.system_id,
                    case_no: i.case_no,
                    version: i.version,
                    channel: i.channel,
                    reasons: i.reasons,
                    mapping_version: i.mapping_version,
                    received_at: i.received_at,
                    status: i.status,
                })
            })
            .collect()
    }

    /// One queued item with its record.
    pub async fn quality_item(&self, id: i64) -> Result<QualityItem, StoreError> {
        let row: Option<ItemRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM quality_items WHERE id = $1"));
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        let row = row.ok_or_else(|| StoreError::NotFound {
            what: "quality item",
            id: id.to_string(),
        })?;
        let sealed_by = row.sealed_by.clone();
        let mut found = item(row)?;
        let purpose = record_purpose(&found.system_id, &found.record_hash);
        found.record =
            self.sealing
                .open_record(&purpose, std::mem::take(&mut found.record), sealed_by.as_deref())?;
        Ok(found)
    }

    /// Moves an open item to `status` with a note, audited; an item already closed is returned
    /// unchanged.
    pub async fn set_quality_status(
        &self,
        id: i64,
        status: QualityStatus,
        note: &str,
        actor: &str,
    ) -> Result<QualityItem, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let changed = sqlx::query(
                "UPDATE quality_items SET status = $1, note = $2, resolved_at = $3 WHERE id = $4 AND status = 'open'",
            )
            .bind(status.name())
            .bind(note)
            .bind(Utc::now())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 1 {
                audit!(tx, actor, "quality.status", &format!("quality/{id}"), serde_json::json!({ "status": status.name(), "note": note }))?;
            }
            tx.commit().await?;
        });
        self.quality_item(id).await
    }

    /// Dismisses an open item with a reason (trimmed; an empty one is refused), audited. The
    /// console's form and `ronghe quality dismiss` both come here.
    pub async fn dismiss_quality_item(
        &self,
        id: i64,
        reason: &str,
        actor: &str,
    ) -> Result<QualityItem, Guarded<DismissError>> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Guarded::Refused(DismissError::NoReason));
        }
        let before = self.quality_item(id).await?;
        if before.status != QualityStatus::Open {
            return Err(Guarded::Refused(DismissError::NotOpen {
                id,
                status: before.status,
            }));
        }
        let item = self
            .set_quality_status(id, QualityStatus::Dismissed, reason, actor)
            .await?;
        if item.status != QualityStatus::Dismissed {
            // Another hand closed it between the read and the update.
            return Err(Guarded::Refused(DismissError::NotOpen {
                id,
                status: item.status,
            }));
        }
        Ok(item)
    }
}
