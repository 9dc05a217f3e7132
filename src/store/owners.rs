//! Which platform user each written-back case belongs to (the bridge resolved its applicant's
//! departmental account), a user's cases across systems, and an applicant's cases found by
//! certificate number through its keyed blind index (issue 20).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Store, StoreError, on_pool};

/// A case as listed under its platform user.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct OwnedCase {
    pub system_id: String,
    pub case_no: String,
    pub item_name: String,
    pub stage: String,
    pub version: i64,
    pub received_at: DateTime<Utc>,
}

impl Store {
    /// Records (or moves) the case's owner: `user_id` through `link_id`.
    pub async fn set_case_owner(
        &self,
        system_id: &str,
        case_no: &str,
        user_id: &str,
        link_id: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO case_owners (system_id, case_no, user_id, link_id, resolved_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (system_id, case_no) DO UPDATE SET user_id = excluded.user_id, link_id = excluded.link_id,
                 resolved_at = excluded.resolved_at",
            )
            .bind(system_id)
            .bind(case_no)
            .bind(user_id)
            .bind(link_id)
            .bind(Utc::now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A platform user's cases in every system, newest first.
    pub async fn cases_of_user(&self, user_id: &str) -> Result<Vec<OwnedCase>, StoreError> {
        let rows: Vec<OwnedCase> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT c.system_id, c.case_no, c.item_name, c.stage, c.version, c.received_at
                 FROM case_owners o JOIN cases c ON c.system_id = o.system_id AND c.case_no = o.case_no
                 WHERE o.user_id = $1 ORDER BY c.received_at DESC, c.case_no",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The current cases whose applicant has `certificate_no`, newest first, at most `limit`:
    /// matched through the number's blind index under every key (`cases_applicant`), never the
    /// number itself. Needs the node's keys.
    pub async fn cases_of_applicant(
        &self,
        certificate_no: &str,
        limit: i64,
    ) -> Result<Vec<OwnedCase>, StoreError> {
        let indexes = self.sealing.applicant_indexes(certificate_no)?;
        let sql = sqlx::AssertSqlSafe(cases_of_applicant_sql(indexes.len()));
        let rows: Vec<OwnedCase> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(sql);
            for index in &indexes {
                query = query.bind(index);
            }
            query.bind(limit).fetch_all(pool).await?
        });
        Ok(rows)
    }
}

/// The current cases with one of `keys` blind indexes (`$1`…), newest first, at most the next
/// parameter (public for the plan tests).
#[doc(hidden)]
pub fn cases_of_applicant_sql(keys: usize) -> String {
    format!(
        "SELECT system_id, case_no, item_name, stage, version, received_at FROM cases
         WHERE applicant_index IN ({}) ORDER BY received_at DESC, case_no LIMIT ${}",
        super::placeholders(1, keys),
        keys + 1
    )
}
