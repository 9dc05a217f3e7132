//! The organisations registry (部门库) in the store: imported whole or not at all, with an
//! audit event, and a revision that every import raises so nodes know when their cached
//! directory is stale.

use chrono::Utc;
use sqlx::types::Json;

use super::{Guarded, Store, StoreError, audit, on_pool};
use crate::mapping::Mapping;
use crate::orgs::{self, Directory, ImportRefused, Organisation};

/// An agency's row as read through `COLUMNS`.
#[derive(sqlx::FromRow)]
struct OrgRow {
    credit_code: String,
    name: String,
    division: String,
    parent: Option<String>,
    aliases: Json<Vec<String>>,
    codes: Json<Vec<String>>,
    synthetic: bool,
}

const COLUMNS: &str = "credit_code, name, division, parent, aliases, codes, synthetic";

impl From<OrgRow> for Organisation {
    fn from(row: OrgRow) -> Self {
        Organisation {
            credit_code: row.credit_code,
            name: row.name,
            division: row.division,
            parent: row.parent,
            aliases: row.aliases.0,
            codes: row.codes.0,
            synthetic: row.synthetic,
        }
    }
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Agencies new to the registry.
    pub created: usize,
    /// Agencies whose entry the import replaced.
    pub updated: usize,
    /// The registry's revision after the import.
    pub revision: i64,
}

impl Store {
    /// Checks an import against the registry (`orgs::check`) and writes it in one transaction:
    /// each agency's entry created or replaced, the revision raised, an `orgs.import` audit event.
    /// A refused import writes nothing.
    pub async fn import_orgs(
        &self,
        import: Vec<(usize, Organisation)>,
        actor: &str,
    ) -> Result<Imported, Guarded<ImportRefused>> {
        let imported = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            // Taken first: the row lock serialises imports, so each checks the registry it changes.
            let (revision,): (i64,) = sqlx::query_as(
                "UPDATE organisations_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision",
            )
            .fetch_one(&mut *tx)
            .await?;
            let rows: Vec<OrgRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM organisations")))
                .fetch_all(&mut *tx)
                .await?;
            let registry: Vec<Organisation> = rows.into_iter().map(Organisation::from).collect();
            let checked = orgs::check(import, &registry).map_err(Guarded::Refused)?;
            let now = Utc::now();
            let known: std::collections::HashSet<&str> = registry.iter().map(|r| r.credit_code.as_str()).collect();
            let mut created = 0;
            for o in &checked {
                sqlx::query(
                    "INSERT INTO organisations (credit_code, name, division, parent, aliases, codes, synthetic, updated_at, updated_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (credit_code) DO UPDATE SET name = excluded.name, division = excluded.division,
                       parent = excluded.parent, aliases = excluded.aliases, codes = excluded.codes,
                       synthetic = excluded.synthetic, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                )
                .bind(&o.credit_code)
                .bind(&o.name)
                .bind(&o.division)
                .bind(&o.parent)
                .bind(Json(&o.aliases))
                .bind(Json(&o.codes))
                .bind(o.synthetic)
                .bind(now)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
                if !known.contains(o.credit_code.as_str()) {
                    created += 1;
                }
            }
            let updated = checked.len() - created;
            audit!(tx, actor, "orgs.import", "orgs", serde_json::json!({
                "created": created, "updated": updated, "revision": revision,
                "credit_codes": checked.iter().map(|o| o.credit_code.as_str()).collect::<Vec<_>>(),
            }))?;
            tx.commit().await?;
            Imported { created, updated, revision }
        });
        Ok(imported)
    }

    /// The registry's revision: raised by every import.
    pub async fn orgs_revision(&self) -> Result<i64, StoreError> {
        let (revision,): (i64,) = on_pool!(self, pool => {
            sqlx::query_as("SELECT revision FROM organisations_revision WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        Ok(revision)
    }

    /// The agencies in division `within` or under it (all without it), by division and name.
    pub async fn list_orgs(&self, within: Option<&str>) -> Result<Vec<Organisation>, StoreError> {
        let rows: Vec<OrgRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM organisations ORDER BY division, name"
            )))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(Organisation::from)
            .filter(|o| within.is_none_or(|w| crate::access::region_within(&o.division, w)))
            .collect())
    }

    /// One agency by its credit code.
    pub async fn get_org(&self, credit_code: &str) -> Result<Organisation, StoreError> {
        let row: Option<OrgRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM organisations WHERE credit_code = $1")))
                .bind(credit_code.trim().to_ascii_uppercase())
                .fetch_optional(pool)
                .await?
        });
        row.map(Organisation::from).ok_or_else(|| StoreError::NotFound {
            what: "organisation",
            id: credit_code.to_owned(),
        })
    }

    /// The whole registry as mappings read it, at its current revision.
    pub async fn org_directory(&self) -> Result<Directory, StoreError> {
        // Read the revision first: a directory is never newer than the revision it claims.
        let revision = self.orgs_revision().await?;
        Ok(Directory::new(revision, self.list_orgs(None).await?))
    }

    /// `mapping`, given the registry when a rule looks agencies up.
    pub async fn with_orgs(&self, mapping: Mapping) -> Result<Mapping, StoreError> {
        if !mapping.uses_orgs() {
            return Ok(mapping);
        }
        Ok(mapping.with_orgs(std::sync::Arc::new(self.org_directory().await?)))
    }
}
