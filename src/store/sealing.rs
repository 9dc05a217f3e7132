//! Applicants' personal values sealed at rest (issue 20; Art. 23, 32). Wherever the store keeps a
//! case — its versions, hand-off payloads — the personal values `Case::visit_personal` lists are
//! sealed together under the active key, bound to the case (`case/SYSTEM/CASE_NO`), in the place
//! of the first of them; the rest of the case stays readable JSON. A raw record refused at
//! intake (the quality queue) has no known personal fields, so it is sealed whole
//! (`quality/SYSTEM/RECORD_HASH`), as is a system's probe profile with its sample records
//! (`profile/SYSTEM`). Each row says which key sealed it (`sealed_by`, NULL: written
//! in clear by a node without keys or before migration 0027); reads open by that, and
//! `Store::reseal_page` brings a row under the active key. Content hashes are over the clear
//! case, so idempotency, reconciliation and delivery keys do not change when a key does.
//!
//! The store owns the `Sealer` trait; the node's keyring (`bridge::Keyring`) implements it.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{Backend, Store, StoreError, audit, on_pool};
use crate::case::Case;

/// Seals and opens values under a node's keys.
pub trait Sealer: Send + Sync {
    /// The key everything new is sealed under.
    fn active_key(&self) -> &str;
    /// `plain` sealed under the active key, bound to `purpose`, as text that names its key.
    fn seal(&self, purpose: &str, plain: &str) -> Result<String, SealError>;
    /// A value `seal` produced for `purpose`, under whichever listed key sealed it.
    fn open(&self, purpose: &str, sealed: &str) -> Result<String, SealError>;
    /// The keyed blind index of `value` in `domain` under the active key, naming its key.
    fn index(&self, domain: &str, value: &str) -> String;
    /// The blind index of `value` under every listed key: what a lookup matches.
    fn indexes(&self, domain: &str, value: &str) -> Vec<String>;
}

/// The blind-index domain of an applicant's certificate number.
const APPLICANT: &str = "case.applicant.certificate_no";

/// Hex characters an applicant's index keeps of its HMAC: 80 bits, so that two applicants share
/// one by chance about once in 10^24 pairs, while the index on every current case stays small
/// (the full 256 bits made it the intake's largest cost of sealing, `ronghe bench sealing`).
const APPLICANT_INDEX_HEX: usize = 20;

/// `KEYID:hex` cut to `APPLICANT_INDEX_HEX` hex characters.
fn shortened(mut index: String) -> String {
    let keep = index
        .find(':')
        .map_or(index.len(), |colon| colon + 1 + APPLICANT_INDEX_HEX);
    index.truncate(keep.min(index.len()));
    index
}

/// A certificate number as indexed: trimmed, letters upper-case (`…123x` finds `…123X`).
fn normalized(certificate_no: &str) -> String {
    certificate_no.trim().to_uppercase()
}

/// Why a value could not be sealed or opened (the keyring's words).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SealError(pub String);

/// How a store seals: under a sealer's keys, or not at all (a node without keys).
#[derive(Clone, Default)]
pub(crate) struct Sealing(Option<Arc<dyn Sealer>>);

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.active_key() {
            Some(key) => write!(f, "Sealing(active key {key})"),
            None => f.write_str("Sealing(none)"),
        }
    }
}

impl Sealing {
    pub(crate) fn with(sealer: Arc<dyn Sealer>) -> Sealing {
        Sealing(Some(sealer))
    }

    /// The key new rows are sealed under; `None`: they are written in clear.
    pub(crate) fn active_key(&self) -> Option<&str> {
        self.0.as_deref().map(Sealer::active_key)
    }

    fn sealer(&self, what: &str) -> Result<&dyn Sealer, StoreError> {
        self.0.as_deref().ok_or_else(|| {
            StoreError::Sealing(format!(
                "{what} needs the node's keys, and this node has none: configure [bridge] keys (see README, 个人信息保护)"
            ))
        })
    }

    /// `case` as stored for `system_id`: its personal values (`Case::visit_personal`, in that
    /// order) sealed together in one value under the active key, bound to the case, which takes
    /// the place of the first (the applicant's name); the others are left empty. One seal per
    /// case, not one per value: under SM4-GCM in software, eight seals cost a quarter of the
    /// intake's throughput (`ronghe bench sealing`). The case itself when the store has no keys.
    pub(crate) fn seal_case<'c>(&self, system_id: &str, case: &'c Case) -> Result<Cow<'c, Case>, StoreError> {
        let Some(sealer) = self.0.as_deref() else {
            return Ok(Cow::Borrowed(case));
        };
        let mut sealed = case.clone();
        let mut values: Vec<String> = Vec::new();
        sealed.visit_personal(|_, value| {
            values.push(std::mem::take(value));
            Ok::<(), StoreError>(())
        })?;
        let plain = serde_json::to_string(&values).map_err(|e| StoreError::Corrupt {
            what: "case",
            detail: e.to_string(),
        })?;
        let mut blob = Some(
            sealer
                .seal(&case_purpose(system_id, &case.case_no), &plain)
                .map_err(|e| StoreError::Sealing(format!("case {system_id}/{}: {e}", case.case_no)))?,
        );
        sealed.visit_personal(|_, value| {
            if let Some(blob) = blob.take() {
                *value = blob;
            }
            Ok::<(), StoreError>(())
        })?;
        Ok(Cow::Owned(sealed))
    }

    /// A stored case opened: as it is when `sealed_by` is `None`, else its personal values put
    /// back from the one sealed value `seal_case` wrote.
    pub(crate) fn open_case(
        &self,
        system_id: &str,
        mut case: Case,
        sealed_by: Option<&str>,
    ) -> Result<Case, StoreError> {
        if sealed_by.is_none() {
            return Ok(case);
        }
        let what = format!("case {system_id}/{}", case.case_no);
        let sealer = self.sealer(&what)?;
        let corrupt = |detail: String| StoreError::Corrupt {
            what: "case",
            detail: format!("{what}: {detail}"),
        };
        let purpose = case_purpose(system_id, &case.case_no);
        let mut values: Option<std::vec::IntoIter<String>> = None;
        case.visit_personal(|_, value| {
            let values = match &mut values {
                Some(values) => values,
                None => {
                    let plain = sealer
                        .open(&purpose, value)
                        .map_err(|e| StoreError::Sealing(format!("{what}: {e}")))?;
                    let opened: Vec<String> =
                        serde_json::from_str(&plain).map_err(|e| corrupt(e.to_string()))?;
                    values.insert(opened.into_iter())
                }
            };
            *value = values
                .next()
                .ok_or_else(|| corrupt("fewer sealed values than personal fields".into()))?;
            Ok::<(), StoreError>(())
        })?;
        if values.is_some_and(|mut rest| rest.next().is_some()) {
            return Err(corrupt("more sealed values than personal fields".into()));
        }
        Ok(case)
    }

    /// The blind index of `case`'s applicant's certificate number under the active key;
    /// `None` without keys.
    pub(crate) fn applicant_index(&self, case: &Case) -> Option<String> {
        let sealer = self.0.as_deref()?;
        Some(shortened(
            sealer.index(APPLICANT, &normalized(&case.applicant.certificate_no)),
        ))
    }

    /// What a lookup of an applicant's cases matches: the number's index under every key.
    pub(crate) fn applicant_indexes(&self, certificate_no: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .sealer("a lookup by certificate number")?
            .indexes(APPLICANT, &normalized(certificate_no))
            .into_iter()
            .map(shortened)
            .collect())
    }

    /// A raw record as stored under `purpose`: its JSON text sealed whole into a JSON string, or
    /// the record itself when the store has no keys.
    pub(crate) fn seal_record(&self, purpose: &str, record: &Value) -> Result<Value, StoreError> {
        let Some(sealer) = self.0.as_deref() else {
            return Ok(record.clone());
        };
        sealer
            .seal(purpose, &record.to_string())
            .map(Value::String)
            .map_err(|e| StoreError::Sealing(format!("{purpose}: {e}")))
    }

    /// A stored raw record opened (see `seal_record`).
    pub(crate) fn open_record(
        &self,
        purpose: &str,
        stored: Value,
        sealed_by: Option<&str>,
    ) -> Result<Value, StoreError> {
        if sealed_by.is_none() {
            return Ok(stored);
        }
        let sealer = self.sealer(purpose)?;
        let Value::String(sealed) = stored else {
            return Err(StoreError::Sealing(format!(
                "{purpose}: a sealed record is not a string"
            )));
        };
        let plain = sealer
            .open(purpose, &sealed)
            .map_err(|e| StoreError::Sealing(format!("{purpose}: {e}")))?;
        serde_json::from_str(&plain).map_err(|e| StoreError::Corrupt {
            what: "record",
            detail: format!("{purpose}: {e}"),
        })
    }
}

fn case_purpose(system_id: &str, case_no: &str) -> String {
    format!("case/{system_id}/{case_no}")
}

/// The purpose a system's probe profile (with its sample records) is sealed for.
pub(crate) fn profile_purpose(system_id: &str) -> String {
    format!("profile/{system_id}")
}

/// The purpose a quality item's record is sealed for.
pub(crate) fn record_purpose(system_id: &str, record_hash: &str) -> String {
    format!("quality/{system_id}/{record_hash}")
}

/// The tables whose rows hold sealed personal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    CaseVersions,
    QualityItems,
    Handoffs,
    ProbeProfiles,
    /// The current cases' applicant blind indexes (`applicant_index`, `KEYID:hex`).
    Cases,
}

impl SealedTable {
    pub const ALL: [SealedTable; 5] = [
        SealedTable::CaseVersions,
        SealedTable::QualityItems,
        SealedTable::Handoffs,
        SealedTable::ProbeProfiles,
        SealedTable::Cases,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SealedTable::CaseVersions => "case_versions",
            SealedTable::QualityItems => "quality_items",
            SealedTable::Handoffs => "handoffs",
            SealedTable::ProbeProfiles => "probe_profiles",
            SealedTable::Cases => "cases",
        }
    }

    /// The SQL naming a row's key: `sealed_by`, or the key id an index starts with.
    fn key_sql(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (SealedTable::Cases, Backend::Sqlite) => {
                "substr(applicant_index, 1, instr(applicant_index, ':') - 1)"
            }
            (SealedTable::Cases, Backend::Postgres) => "split_part(applicant_index, ':', 1)",
            _ => "sealed_by",
        }
    }
}

/// How many rows of a table one key sealed (`key` `None`: rows in clear).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SealedCount {
    pub table: &'static str,
    pub key: Option<String>,
    pub rows: i64,
}

/// Where a re-seal of a table goes on: after this row, in primary-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKey {
    Version {
        system_id: String,
        case_no: String,
        version: i64,
    },
    Id(i64),
    System(String),
    Case {
        system_id: String,
        case_no: String,
    },
}

/// What one page of a re-seal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealPage {
    /// Rows read.
    pub seen: u64,
    /// Rows brought under the active key.
    pub resealed: u64,
    /// The last row read; `None`: the table's end was reached.
    pub next: Option<RowKey>,
}

/// A case version's row as a re-seal reads it.
#[derive(sqlx::FromRow)]
struct VersionRow {
    system_id: String,
    case_no: String,
    version: i64,
    body: Json<Case>,
    sealed_by: Option<String>,
}

/// A current case's row as a re-index reads it: its applicant's index, its version's body and key.
#[derive(sqlx::FromRow)]
struct CurrentRow {
    system_id: String,
    case_no: String,
    version: i64,
    applicant_index: Option<String>,
    body: Json<Case>,
    sealed_by: Option<String>,
}

/// A probe profile's row as a re-seal reads it.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    system_id: String,
    profile: Json<Value>,
    sealed_by: Option<String>,
    probed_at: DateTime<Utc>,
}

/// A quality item's or hand-off's row: `tag` is the record hash or the case number, `value` the
/// record or the payload.
#[derive(sqlx::FromRow)]
struct IdRow {
    id: i64,
    system_id: String,
    tag: String,
    value: Json<Value>,
    sealed_by: Option<String>,
}

impl Store {
    /// The key new rows are sealed under; `None` on a node without keys.
    pub fn active_key(&self) -> Option<&str> {
        self.sealing.active_key()
    }

    /// Rows of each sealed table by the key that sealed them (one grouped count per table: for
    /// `ronghe keys status`, never on a request path).
    pub async fn sealing_status(&self) -> Result<Vec<SealedCount>, StoreError> {
        /// Rows under one key (`k`: the key's id, none for clear rows).
        #[derive(sqlx::FromRow)]
        struct KeyCount {
            k: Option<String>,
            n: i64,
        }
        let mut counts = Vec::new();
        for table in SealedTable::ALL {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {key} AS k, COUNT(*) AS n FROM {} GROUP BY k ORDER BY k",
                table.name(),
                key = table.key_sql(self.backend()),
            ));
            let rows: Vec<KeyCount> = on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
            counts.extend(rows.into_iter().map(|row| SealedCount {
                table: table.name(),
                key: row.k,
                rows: row.n,
            }));
        }
        Ok(counts)
    }

    /// Reads up to `limit` rows of `table` after `after` (from the start when `None`), in
    /// primary-key order, and brings those not under the active key under it, in one
    /// transaction with its audit event. A re-seal killed at any point leaves every row
    /// readable, and one run again goes on. It runs while the node serves: each row is written
    /// only if it is still as it was read (same key; for a current case the same version, for a
    /// profile the same probe), so a write that raced the page is never undone; such a row is
    /// already under the active key, or the next pass takes it.
    pub async fn reseal_page(
        &self,
        table: SealedTable,
        after: Option<&RowKey>,
        limit: i64,
        actor: &str,
    ) -> Result<ResealPage, StoreError> {
        let active = self
            .sealing
            .active_key()
            .ok_or_else(|| {
                StoreError::Sealing("re-sealing needs the node's keys: configure [bridge] keys".into())
            })?
            .to_owned();
        let stale = |key: &Option<String>| key.as_deref() != Some(active.as_str());
        let (seen, next, updates) = match table {
            SealedTable::CaseVersions => {
                let (system, case_no, version) = match after {
                    Some(RowKey::Version {
                        system_id,
                        case_no,
                        version,
                    }) => (system_id.as_str(), case_no.as_str(), *version),
                    _ => ("", "", i64::MIN),
                };
                let rows: Vec<VersionRow> = on_pool!(self, pool => {
                    sqlx::query_as(
                        "SELECT system_id, case_no, version, body, sealed_by FROM case_versions
                         WHERE (system_id, case_no, version) > ($1, $2, $3)
                         ORDER BY system_id, case_no, version LIMIT $4",
                    )
                    .bind(system)
                    .bind(case_no)
                    .bind(version)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                });
                let seen = rows.len();
                let next = rows.last().map(|r| RowKey::Version {
                    system_id: r.system_id.clone(),
                    case_no: r.case_no.clone(),
                    version: r.version,
                });
                let mut updates = Vec::new();
                for VersionRow {
                    system_id,
                    case_no,
                    version,
                    body: Json(case),
                    sealed_by: key,
                } in rows.into_iter().filter(|r| stale(&r.sealed_by))
                {
                    let case = self.sealing.open_case(&system_id, case, key.as_deref())?;
                    let sealed =
                        serde_json::to_value(&*self.sealing.seal_case(&system_id, &case)?).map_err(|e| {
                            StoreError::Corrupt {
                                what: "case",
                                detail: e.to_string(),
                            }
                        })?;
                    updates.push(Update::Version {
                        system_id,
                        case_no,
                        version,
                        body: sealed,
                        was: key,
                    });
                }
                (seen, next, updates)
            }
            SealedTable::Cases => {
                let (system, case_no) = match after {
                    Some(RowKey::Case { system_id, case_no }) => (system_id.as_str(), case_no.as_str()),
                    _ => ("", ""),
                };
                let rows: Vec<CurrentRow> = on_pool!(self, pool => {
                    sqlx::query_as(
                        "SELECT c.system_id, c.case_no, c.version, c.applicant_index, v.body, v.sealed_by FROM cases c
                         JOIN case_versions v ON v.system_id = c.system_id AND v.case_no = c.case_no AND v.version = c.version
                         WHERE (c.system_id, c.case_no) > ($1, $2) ORDER BY c.system_id, c.case_no LIMIT $3",
                    )
                    .bind(system)
                    .bind(case_no)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                });
                let seen = rows.len();
                let next = rows.last().map(|r| RowKey::Case {
                    system_id: r.system_id.clone(),
                    case_no: r.case_no.clone(),
                });
                let prefix = format!("{active}:");
                let mut updates = Vec::new();
                for CurrentRow {
                    system_id,
                    case_no,
                    version,
                    applicant_index: index,
                    body: Json(case),
                    sealed_by: key,
                } in rows
                {
                    if index.is_some_and(|i| i.starts_with(&prefix)) {
                        continue;
                    }
                    let case = self.sealing.open_case(&system_id, case, key.as_deref())?;
                    let index = self.sealing.applicant_index(&case);
                    updates.push(Update::Index {
                        system_id,
                        case_no,
                        version,
                        index,
                    });
                }
                (seen, next, updates)
            }
            SealedTable::ProbeProfiles => {
                let after = match after {
                    Some(RowKey::System(id)) => id.as_str(),
                    _ => "",
                };
                let rows: Vec<ProfileRow> = on_pool!(self, pool => {
                    sqlx::query_as(
                        "SELECT system_id, profile, sealed_by, probed_at FROM probe_profiles WHERE system_id > $1 ORDER BY system_id LIMIT $2",
                    )
                    .bind(after)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                });
                let seen = rows.len();
                let next = rows.last().map(|r| RowKey::System(r.system_id.clone()));
                let mut updates = Vec::new();
                for ProfileRow {
                    system_id,
                    profile: Json(value),
                    sealed_by: key,
                    probed_at,
                } in rows.into_iter().filter(|r| stale(&r.sealed_by))
                {
                    let purpose = profile_purpose(&system_id);
                    let profile = self.sealing.open_record(&purpose, value, key.as_deref())?;
                    let value = self.sealing.seal_record(&purpose, &profile)?;
                    updates.push(Update::Profile {
                        system_id,
                        value,
                        probed_at,
                    });
                }
                (seen, next, updates)
            }
            SealedTable::QualityItems | SealedTable::Handoffs => {
                let after = match after {
                    Some(RowKey::Id(id)) => *id,
                    _ => i64::MIN,
                };
                let (sql, column) = match table {
                    SealedTable::QualityItems => (
                        "SELECT id, system_id, record_hash AS tag, record AS value, sealed_by FROM quality_items WHERE id > $1 ORDER BY id LIMIT $2",
                        "record",
                    ),
                    _ => (
                        "SELECT id, system_id, case_no AS tag, payload AS value, sealed_by FROM handoffs WHERE id > $1 ORDER BY id LIMIT $2",
                        "payload",
                    ),
                };
                let rows: Vec<IdRow> = on_pool!(self, pool => {
                    sqlx::query_as(sql).bind(after).bind(limit).fetch_all(pool).await?
                });
                let seen = rows.len();
                let next = rows.last().map(|r| RowKey::Id(r.id));
                let mut updates = Vec::new();
                for IdRow {
                    id,
                    system_id,
                    tag,
                    value: Json(value),
                    sealed_by: key,
                } in rows.into_iter().filter(|r| stale(&r.sealed_by))
                {
                    let value = if table == SealedTable::QualityItems {
                        let purpose = record_purpose(&system_id, &tag);
                        let record = self.sealing.open_record(&purpose, value, key.as_deref())?;
                        self.sealing.seal_record(&purpose, &record)?
                    } else {
                        let corrupt = |e: serde_json::Error| StoreError::Corrupt {
                            what: "hand-off",
                            detail: e.to_string(),
                        };
                        let case: Case = serde_json::from_value(value).map_err(corrupt)?;
                        let case = self.sealing.open_case(&system_id, case, key.as_deref())?;
                        serde_json::to_value(&*self.sealing.seal_case(&system_id, &case)?).map_err(corrupt)?
                    };
                    updates.push(Update::Id {
                        id,
                        column,
                        value,
                        was: key,
                    });
                }
                (seen, next, updates)
            }
        };
        let mut resealed = 0;
        if !updates.is_empty() {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.backend().begin_write()).await?;
                for update in &updates {
                    let written = match update {
                        Update::Version { system_id, case_no, version, body, was } => {
                            sqlx::query(
                                "UPDATE case_versions SET body = $4, sealed_by = $5
                                 WHERE system_id = $1 AND case_no = $2 AND version = $3 AND sealed_by IS NOT DISTINCT FROM $6",
                            )
                            .bind(system_id)
                            .bind(case_no)
                            .bind(version)
                            .bind(Json(body))
                            .bind(&active)
                            .bind(was)
                            .execute(&mut *tx)
                            .await?
                        }
                        Update::Index { system_id, case_no, version, index } => {
                            sqlx::query("UPDATE cases SET applicant_index = $4 WHERE system_id = $1 AND case_no = $2 AND version = $3")
                                .bind(system_id)
                                .bind(case_no)
                                .bind(version)
                                .bind(index)
                                .execute(&mut *tx)
                                .await?
                        }
                        Update::Profile { system_id, value, probed_at } => {
                            sqlx::query("UPDATE probe_profiles SET profile = $2, sealed_by = $3 WHERE system_id = $1 AND probed_at = $4")
                                .bind(system_id)
                                .bind(Json(value))
                                .bind(&active)
                                .bind(probed_at)
                                .execute(&mut *tx)
                                .await?
                        }
                        Update::Id { id, column, value, was } => {
                            let sql = sqlx::AssertSqlSafe(format!(
                                "UPDATE {} SET {column} = $2, sealed_by = $3 WHERE id = $1 AND sealed_by IS NOT DISTINCT FROM $4",
                                table.name()
                            ));
                            sqlx::query(sql).bind(id).bind(Json(value)).bind(&active).bind(was).execute(&mut *tx).await?
                        }
                    };
                    resealed += written.rows_affected();
                }
                if resealed > 0 {
                    audit!(tx, actor, "keys.reseal", &format!("keys/{}", table.name()), serde_json::json!({
                        "rows": resealed, "key": active,
                    }))?;
                }
                tx.commit().await?;
            });
        }
        Ok(ResealPage {
            seen: seen as u64,
            resealed,
            next,
        })
    }
}

/// One row's new sealed value (or blind index), with what the row must still hold to take it.
enum Update {
    Index {
        system_id: String,
        case_no: String,
        /// The current version the index was computed from.
        version: i64,
        index: Option<String>,
    },
    Version {
        system_id: String,
        case_no: String,
        version: i64,
        body: Value,
        /// The key the row was read under.
        was: Option<String>,
    },
    Id {
        id: i64,
        column: &'static str,
        value: Value,
        was: Option<String>,
    },
    Profile {
        system_id: String,
        value: Value,
        /// The probe the profile was read from.
        probed_at: DateTime<Utc>,
    },
}
