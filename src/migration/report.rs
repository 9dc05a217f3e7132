//! The migration report: the run's counts, every chunk's counts and hashes on both sides, and
//! every difference by case number. Saved next to the job as `migration-report.json` and
//! `migration-report.md` (zh-CN, handlebars like the other reports) and recorded on the run.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reconcile::{ChunkCheck, Difference};
use super::run::MigrationError;
use crate::store::{MigrationRun, RunState};

/// A reconciled run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MigrationReport {
    pub run_id: String,
    pub system_id: String,
    pub state: RunState,
    /// No difference: every source record is stored once with the same content or was rejected
    /// into the data-quality queue.
    pub clean: bool,
    pub mapping_version: String,
    pub started_at: DateTime<Utc>,
    pub reconciled_at: DateTime<Utc>,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_rejected: i64,
    pub chunks: Vec<ChunkCheck>,
    pub differences: Vec<Difference>,
}

impl MigrationReport {
    pub fn new(
        run: &MigrationRun,
        state: RunState,
        chunks: Vec<ChunkCheck>,
        differences: Vec<Difference>,
    ) -> MigrationReport {
        MigrationReport {
            run_id: run.id.clone(),
            system_id: run.system_id.clone(),
            state,
            clean: differences.is_empty(),
            mapping_version: run.mapping_version.clone(),
            started_at: run.started_at,
            reconciled_at: Utc::now(),
            rows_read: run.rows_read,
            rows_written: run.rows_written,
            rows_rejected: run.rows_rejected,
            chunks,
            differences,
        }
    }
}

/// The report in Markdown (zh-CN).
pub fn markdown(report: &MigrationReport) -> Result<String, MigrationError> {
    let mut engine = handlebars::Handlebars::new();
    engine.set_strict_mode(true);
    engine.register_escape_fn(handlebars::no_escape);
    let mismatched: Vec<&ChunkCheck> = report.chunks.iter().filter(|c| !c.matches).collect();
    let context = serde_json::json!({
        "r": report,
        "state_label": match report.state {
            RunState::Complete => "完成 complete",
            RunState::Incomplete => "未完成(有差异) incomplete",
            RunState::Running => "进行中 running",
            RunState::Stopped => "已停止 stopped",
            RunState::Failed => "失败 failed",
        },
        "chunk_count": report.chunks.len(),
        "difference_count": report.differences.len(),
        "matched_chunks": report.chunks.len() - mismatched.len(),
        "mismatched": mismatched,
    });
    engine
        .render_template(include_str!("templates/report.md.hbs"), &context)
        .map_err(|e| MigrationError::Render(e.to_string()))
}

/// Writes the report as JSON and Markdown into `dir`; returns both paths.
pub fn save(report: &MigrationReport, dir: &Path) -> Result<(String, String), MigrationError> {
    let json_path = dir.join("migration-report.json");
    let md_path = dir.join("migration-report.md");
    let json = serde_json::to_string_pretty(report).map_err(|e| MigrationError::Render(e.to_string()))?;
    let md = markdown(report)?;
    for (path, text) in [(&json_path, json), (&md_path, md)] {
        std::fs::write(path, text).map_err(|source| MigrationError::Report {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok((json_path.display().to_string(), md_path.display().to_string()))
}
