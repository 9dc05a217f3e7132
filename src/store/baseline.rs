//! The benchmark baselines of the case store: the same rows written with plain multi-row inserts,
//! without the reads, checks and upsert the real path does, or copied from a file (PostgreSQL
//! `COPY`; SQLite multi-row inserts of the file's lines); and the floor of any upsert into this
//! schema, the upsert's own writes into its three tables without its reads. Only `ronghe bench`
//! calls them.

use std::io::BufRead as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::case_writes::{Batch, CaseWrites as _, RowInserts as _};
use super::cases::{CHUNK_ROWS, Encoded};
use super::{Pool, Store, StoreError, on_pool};
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

    /// Writes new cases of `system_id` with the upsert's own statements into its three tables
    /// (the versions, the current rows, the outbox items, each item heading its case), a
    /// transaction per `CHUNK_ROWS` cases as the upsert: without its locks, reads of what is
    /// held, version checks and plan. What any upsert into this schema costs at least (issue 17).
    pub async fn insert_cases_unchecked(&self, system_id: &str, cases: &[Case]) -> Result<(), StoreError> {
        let now = crate::systems::stamp(Utc::now());
        let backend = self.backend();
        for chunk in cases.chunks(CHUNK_ROWS) {
            let encoded = Encoded::of(system_id, chunk, &self.sealing)?;
            let batch = Batch {
                system_id,
                cases: chunk,
                encoded: &encoded,
                now,
                mapping_version: None,
            };
            let rows: Vec<usize> = (0..chunk.len()).collect();
            let heads: Vec<(usize, bool)> = rows.iter().map(|&i| (i, true)).collect();
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(backend.begin_write()).await?;
                tx.insert_versions(&batch, &rows).await?;
                tx.upsert_current(&batch, &rows).await?;
                tx.insert_outbox(&batch, &heads).await?;
                tx.commit().await?;
            });
        }
        Ok(())
    }

    /// Copies case versions from a file in PostgreSQL's `COPY` text format (one line per version:
    /// system id, case number, version, content hash, stage, body, received at; tab-separated,
    /// backslashes doubled): PostgreSQL streams it through `COPY … FROM STDIN` in one transaction;
    /// SQLite inserts its lines 500 rows a statement, one transaction per `batch` lines.
    pub async fn copy_versions_from_file(&self, path: &Path, batch: usize) -> Result<u64, StoreError> {
        let io = |e: std::io::Error| StoreError::Database(sqlx::Error::Io(e));
        match &self.pool {
            Pool::Postgres(pool) => {
                use std::io::Read as _;
                let mut file = std::fs::File::open(path).map_err(io)?;
                let mut conn = pool.acquire().await?;
                let mut copy = conn
                    .copy_in_raw(
                        "COPY case_versions (system_id, case_no, version, content_hash, stage, body, received_at) FROM STDIN",
                    )
                    .await?;
                let mut buffer = vec![0_u8; 1 << 20];
                loop {
                    let n = file.read(&mut buffer).map_err(io)?;
                    if n == 0 {
                        break;
                    }
                    copy.send(&buffer[..n]).await?;
                }
                Ok(copy.finish().await?)
            }
            Pool::Sqlite(pool) => {
                let file = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
                let mut lines = file.lines();
                let mut copied = 0_u64;
                loop {
                    let mut rows: Vec<[String; 7]> = Vec::with_capacity(batch.max(1));
                    for line in lines.by_ref().take(batch.max(1)) {
                        let line = line.map_err(io)?;
                        let mut fields = line.split('\t').map(|f| f.replace("\\\\", "\\"));
                        let mut next = || fields.next().unwrap_or_default();
                        rows.push([next(), next(), next(), next(), next(), next(), next()]);
                    }
                    if rows.is_empty() {
                        return Ok(copied);
                    }
                    let mut tx = pool.begin().await?;
                    for part in rows.chunks(500) {
                        let mut insert = sqlx::QueryBuilder::new(
                            "INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at) ",
                        );
                        insert.push_values(
                            part,
                            |mut row, [system, case_no, version, hash, stage, body, at]| {
                                row.push_bind(system.clone())
                                    .push_bind(case_no.clone())
                                    .push_bind(version.parse::<i64>().unwrap_or_default())
                                    .push_bind(hash.clone())
                                    .push_bind(stage.clone())
                                    .push_bind(body.clone())
                                    .push_bind(
                                        DateTime::parse_from_rfc3339(at)
                                            .map(|t| t.with_timezone(&Utc))
                                            .ok(),
                                    );
                            },
                        );
                        insert.build().execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    copied += rows.len() as u64;
                }
            }
        }
    }
}
