//! The benchmark baseline of the case store: the same rows written with plain multi-row inserts,
//! without the reads, checks and upsert the real path does. Only `ronghe bench` calls it.

use chrono::Utc;
use sqlx::types::Json;

use super::{Store, StoreError, on_pool};
use crate::case::Case;

impl Store {
    /// Inserts the cases' versions of `system_id` as they are, 500 rows a statement, one
    /// transaction per `batch` cases.
    pub async fn insert_versions_unchecked(
        &self,
        system_id: &str,
        cases: &[Case],
        batch: usize,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        for chunk in cases.chunks(batch.max(1)) {
            on_pool!(self, pool => {
                let mut tx = pool.begin().await?;
                for rows in chunk.chunks(500) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at) ",
                    );
                    insert.push_values(rows, |mut row, c| {
                        row.push_bind(system_id.to_owned())
                            .push_bind(c.case_no.clone())
                            .push_bind(c.version)
                            .push_bind(c.content_hash())
                            .push_bind(c.stage.name())
                            .push_bind(Json(c.clone()))
                            .push_bind(now);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
        }
        Ok(())
    }
}
