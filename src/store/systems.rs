//! Systems in the store: register, list, show, update and retire, each change audited in the
//! same transaction.

use chrono::{DateTime, Utc};
use ronghe_adapters::AdapterKind;

use super::{Guarded, Store, StoreError, audit, on_pool};
use crate::systems::{System, SystemError, SystemStatus};

pub(super) const COLUMNS: &str = "id, name, department, region_code, protocol, endpoint, credentials_ref, secret, status, created_at, updated_at";

/// A system's row as read through `COLUMNS`.
#[derive(sqlx::FromRow)]
pub(super) struct SystemRow {
    id: String,
    name: String,
    department: String,
    region_code: String,
    protocol: String,
    endpoint: String,
    credentials_ref: Option<String>,
    secret: bool,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SystemRow> for System {
    type Error = StoreError;

    fn try_from(row: SystemRow) -> Result<Self, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            what: "system",
            detail,
        };
        Ok(System {
            protocol: AdapterKind::parse(&row.protocol)
                .ok_or_else(|| corrupt(format!("{}: unknown protocol {:?}", row.id, row.protocol)))?,
            status: SystemStatus::parse(&row.status)
                .ok_or_else(|| corrupt(format!("{}: unknown status {:?}", row.id, row.status)))?,
            id: row.id,
            name: row.name,
            department: row.department,
            region_code: row.region_code,
            endpoint: row.endpoint,
            credentials_ref: row.credentials_ref,
            secret: row.secret,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A system's changeable fields written inside the caller's transaction (by `modify_system` and
/// an assessment's verdict); stamped for SQLite's and PostgreSQL's connections by
/// `system_statements!`.
pub(super) trait SystemWrites: Send {
    async fn update_system(&mut self, next: &System) -> Result<(), sqlx::Error>;
}

/// Stamps out `SystemWrites` for a backend's connection (one statement, its binds).
macro_rules! system_statements {
    ($conn:ty) => {
        impl SystemWrites for $conn {
            async fn update_system(&mut self, next: &System) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE systems SET name = $2, department = $3, region_code = $4, protocol = $5, endpoint = $6,
                     credentials_ref = $7, secret = $8, status = $9, updated_at = $10 WHERE id = $1",
                )
                .bind(&next.id)
                .bind(&next.name)
                .bind(&next.department)
                .bind(&next.region_code)
                .bind(next.protocol.name())
                .bind(&next.endpoint)
                .bind(&next.credentials_ref)
                .bind(next.secret)
                .bind(next.status.name())
                .bind(next.updated_at)
                .execute(&mut *self)
                .await
                .map(|_| ())
            }
        }
    };
}
system_statements!(sqlx::SqliteConnection);
system_statements!(sqlx::PgConnection);

impl Store {
    /// Registers a validated system; refuses an id that exists.
    pub async fn insert_system(&self, system: &System, actor: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let inserted = sqlx::query(
                "INSERT INTO systems (id, name, department, region_code, protocol, endpoint, credentials_ref, secret, status, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&system.id)
            .bind(&system.name)
            .bind(&system.department)
            .bind(&system.region_code)
            .bind(system.protocol.name())
            .bind(&system.endpoint)
            .bind(&system.credentials_ref)
            .bind(system.secret)
            .bind(system.status.name())
            .bind(system.created_at)
            .bind(system.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::AlreadyExists { what: "system", id: system.id.clone() });
            }
            audit!(tx, actor, "system.register", &system.id, system)?;
            tx.commit().await?;
        });
        self.settings_changed();
        Ok(())
    }

    /// Every system, optionally only those with `status`, ordered by id.
    pub async fn list_systems(&self, status: Option<SystemStatus>) -> Result<Vec<System>, StoreError> {
        let rows: Vec<SystemRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM systems WHERE ($1 IS NULL OR status = $1) ORDER BY id"
            ));
            sqlx::query_as(sql).bind(status.map(SystemStatus::name)).fetch_all(pool).await?
        });
        rows.into_iter().map(System::try_from).collect()
    }

    /// One system by id.
    /// The system, if it still takes cases: a retired one (its cases all moved to the platform,
    /// Art. 25) takes none on any channel (push, pull, import, migration): `Retired`.
    pub async fn system_taking_cases(&self, id: &str) -> Result<System, StoreError> {
        let system = self.get_system(id).await?;
        if system.status == crate::systems::SystemStatus::Retired {
            return Err(StoreError::Retired(id.to_owned()));
        }
        Ok(system)
    }

    pub async fn get_system(&self, id: &str) -> Result<System, StoreError> {
        let row: Option<SystemRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM systems WHERE id = $1"));
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        System::try_from(row.ok_or_else(|| StoreError::NotFound {
            what: "system",
            id: id.to_owned(),
        })?)
    }

    /// Changes a system under a row lock: `change` sees the current record and returns the next
    /// one, or refuses. `action` and `reason` describe the change in the audit log.
    pub async fn modify_system(
        &self,
        id: &str,
        actor: &str,
        (action, reason): (&str, Option<&str>),
        change: impl FnOnce(&System) -> Result<System, SystemError>,
    ) -> Result<System, Guarded<SystemError>> {
        let lock = self.backend().row_lock();
        let next = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM systems WHERE id = $1{lock}"));
            let row: Option<SystemRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut *tx).await?;
            let current = System::try_from(row.ok_or_else(|| StoreError::NotFound { what: "system", id: id.to_owned() })?)?;
            let next = change(&current).map_err(Guarded::Refused)?;
            SystemWrites::update_system(&mut *tx, &next).await?;
            audit!(tx, actor, action, id, serde_json::json!({ "before": current, "after": next, "reason": reason }))?;
            tx.commit().await?;
            next
        });
        self.settings_changed();
        Ok(next)
    }
}
