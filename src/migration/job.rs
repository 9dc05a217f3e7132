//! The bulk-migration job config (全流程迁移): which system's history moves, through which
//! mapping, in what chunks, and how many rejects stop the run. `ronghe generate` writes it for
//! full-migration systems; parsing and `validate` are pure and report every problem with its path.

use ronghe_adapters::ConfigIssue;
use ronghe_adapters::config::{Issues, parse_toml};
use serde::Deserialize;

/// Largest chunk: well inside one store transaction.
const MAX_CHUNK_ROWS: u32 = 50_000;
/// Most chunks mapped at once on these machines.
const MAX_PARALLELISM: u32 = 16;

/// A migration job as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationJob {
    pub job: JobTarget,
    pub run: RunSettings,
    pub error_budget: ErrorBudget,
}

/// What moves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTarget {
    /// The system whose attached adapter is read from its first record.
    pub system: String,
    /// The mapping file, relative to the job file.
    pub mapping: String,
}

/// How it moves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Records per committed chunk; a checkpoint follows every chunk.
    pub chunk_rows: u32,
    /// Chunks mapped at once.
    pub parallelism: u32,
}

/// When the run stops because of rejected records.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBudget {
    /// More rejected records than this stop the run.
    pub max_rejects: u64,
    /// A larger share of rejected records than this (0–1) stops the run.
    pub max_reject_ratio: f64,
}

impl MigrationJob {
    /// Parses and validates a job file, reporting every problem with its path.
    pub fn parse(text: &str) -> Result<MigrationJob, Vec<ConfigIssue>> {
        let job: MigrationJob = parse_toml(text)?;
        job.validate()
    }

    pub fn validate(self) -> Result<MigrationJob, Vec<ConfigIssue>> {
        let mut issues = Issues::default();
        if self.job.system.trim().is_empty() {
            issues.add("job.system", "must name a registered system");
        }
        if !self.job.mapping.ends_with(".toml") {
            issues.add("job.mapping", "must be a mapping file (SYSTEM.toml)");
        }
        if !(1..=MAX_CHUNK_ROWS).contains(&self.run.chunk_rows) {
            issues.add("run.chunk_rows", format!("must be 1 to {MAX_CHUNK_ROWS}"));
        }
        if !(1..=MAX_PARALLELISM).contains(&self.run.parallelism) {
            issues.add("run.parallelism", format!("must be 1 to {MAX_PARALLELISM}"));
        }
        if !(0.0..=1.0).contains(&self.error_budget.max_reject_ratio) {
            issues.add("error_budget.max_reject_ratio", "must be a share between 0 and 1");
        }
        if issues.0.is_empty() {
            Ok(self)
        } else {
            Err(issues.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let text = r#"
[job]
system = ""
mapping = "mappings/x.json"
[run]
chunk_rows = 0
parallelism = 64
[error_budget]
max_rejects = 10
max_reject_ratio = 1.5
"#;
        let paths: Vec<String> = MigrationJob::parse(text)
            .unwrap_err()
            .into_iter()
            .map(|i| i.path)
            .collect();
        assert_eq!(
            paths,
            [
                "job.system",
                "job.mapping",
                "run.chunk_rows",
                "run.parallelism",
                "error_budget.max_reject_ratio"
            ]
        );
    }
}
