//! Change notices in the store: added with an audit event once checked, listed publicly.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Store, StoreError, audit, on_pool};
use crate::notices::{NewNotice, Notice, NoticeKind};

/// A notice's row as read through `COLUMNS`.
#[derive(sqlx::FromRow)]
struct NoticeRow {
    id: i64,
    system_id: String,
    kind: String,
    title: String,
    body: String,
    published_on: NaiveDate,
    effective_on: NaiveDate,
    earliest_allowed_on: NaiveDate,
    emergency_reason: Option<String>,
    announced_by: String,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, system_id, kind, title, body, published_on, effective_on, earliest_allowed_on, emergency_reason, announced_by, created_at";

fn notice(row: NoticeRow) -> Result<Notice, StoreError> {
    let kind = NoticeKind::parse(&row.kind).ok_or_else(|| StoreError::Corrupt {
        what: "notice",
        detail: format!("notice {}: unknown kind {:?}", row.id, row.kind),
    })?;
    Ok(Notice {
        id: row.id,
        system_id: row.system_id,
        kind,
        kind_label: kind.label().to_owned(),
        basis: kind.basis().to_owned(),
        title: row.title,
        body: row.body,
        published_on: row.published_on,
        effective_on: row.effective_on,
        earliest_allowed_on: row.earliest_allowed_on,
        emergency_reason: row.emergency_reason,
        announced_by: row.announced_by,
        created_at: row.created_at,
    })
}

impl Store {
    /// Adds a checked notice (`published_on` and `earliest` from `NewNotice::check`).
    pub async fn insert_notice(
        &self,
        new: &NewNotice,
        published_on: NaiveDate,
        earliest: NaiveDate,
        actor: &str,
    ) -> Result<Notice, StoreError> {
        self.get_system(&new.system_id).await?;
        let reason = new
            .emergency_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let row: NoticeRow = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let sql = sqlx::AssertSqlSafe(format!(
                "INSERT INTO notices (system_id, kind, title, body, published_on, effective_on, earliest_allowed_on,
                 emergency_reason, announced_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 RETURNING {COLUMNS}"
            ));
            let row: NoticeRow = sqlx::query_as(sql)
                .bind(&new.system_id)
                .bind(new.kind.name())
                .bind(new.title.trim())
                .bind(new.body.trim())
                .bind(published_on)
                .bind(new.effective_on)
                .bind(earliest)
                .bind(reason)
                .bind(actor)
                .bind(Utc::now())
                .fetch_one(&mut *tx)
                .await?;
            audit!(tx, actor, "notice.publish", &format!("notice/{}", row.id), serde_json::json!({
                "system": new.system_id, "kind": new.kind.name(), "effective_on": new.effective_on,
                "earliest_allowed_on": earliest, "emergency_reason": reason,
            }))?;
            tx.commit().await?;
            row
        });
        notice(row)
    }

    /// Notices, newest first: of one system, or those taking effect on or after `from`.
    pub async fn list_notices(
        &self,
        system_id: Option<&str>,
        from: Option<NaiveDate>,
    ) -> Result<Vec<Notice>, StoreError> {
        let rows: Vec<NoticeRow> = on_pool!(self, pool => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM notices WHERE ($1 IS NULL OR system_id = $1) AND ($2 IS NULL OR effective_on >= $2)
                 ORDER BY published_on DESC, id DESC"
            ));
            sqlx::query_as(sql).bind(system_id).bind(from).fetch_all(pool).await?
        });
        rows.into_iter().map(notice).collect()
    }
}
