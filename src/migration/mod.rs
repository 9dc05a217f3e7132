//! Bulk migration (全量迁移, Art. 25(一)): a full-migration system's whole history moves into the
//! platform store through its attached adapter and its mapping, in committed chunks with a
//! checkpoint after each, and ends with a reconciliation report that proves nothing was lost.
//!
//! `job` is the config `ronghe generate` writes; `run` streams read → map → write with bounded
//! memory and resumes from the last committed chunk; `reconcile` re-reads the source and compares
//! every chunk with the store; `report` renders and saves the result (JSON and Markdown);
//! `lease` keeps a run to one process at a time.

pub mod job;
pub mod lease;
pub mod reconcile;
pub mod report;
pub mod run;

pub use job::{ErrorBudget, JobTarget, MigrationJob, RunSettings};
pub use reconcile::{ChunkCheck, Difference, DifferenceKind};
pub use report::MigrationReport;
pub use run::{Mandate, MigrationError, Migrator, Progress};
