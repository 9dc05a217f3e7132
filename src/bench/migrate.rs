//! Bulk-migration throughput (`ronghe bench migrate`): the SQL simulator's history (N cases in a
//! SQLite file) is migrated into the store (`--database`, a fresh SQLite file by default) by a
//! child process running `ronghe migrate`'s runner, whose own peak RSS (VmHWM) it reports; the
//! baseline is a raw copy of the same mapped rows into the same store (PostgreSQL `COPY` from a
//! file; SQLite multi-row inserts of that file's lines), measured in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::Figure;
use crate::mapping::Mapping;
use crate::migration::Migrator;
use crate::store::{Store, StoreOptions};

/// What the child process measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildFigures {
    pub state: String,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_rejected: i64,
    /// The whole run: transfer and reconciliation.
    pub seconds: f64,
    /// From the run's start to its last committed chunk.
    pub transfer_seconds: f64,
    /// The child's peak resident set (VmHWM), in KiB.
    pub peak_rss_kib: Option<u64>,
}

/// The process's peak resident set so far (VmHWM in `/proc/self/status`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The child's side: runs the job at `job` for `system` on `store` and measures it.
pub async fn child(
    store: Store,
    system: &str,
    job: &Path,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<ChildFigures> {
    let mut migrator = Migrator::new(store.clone(), Arc::new(ronghe_adapters::Environment), "bench");
    if let Some(at) = as_of {
        migrator = migrator.as_of(at);
    }
    let started = Instant::now();
    let run = migrator.start(system, job, &|_| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    let last = store
        .migration_chunks(&run.id)
        .await?
        .last()
        .map(|c| c.committed_at);
    let transfer_seconds = last.map_or(seconds, |at| {
        (at - run.started_at).num_microseconds().unwrap_or(0) as f64 / 1e6
    });
    Ok(ChildFigures {
        state: run.state.name().to_owned(),
        rows_read: run.rows_read,
        rows_written: run.rows_written,
        rows_rejected: run.rows_rejected,
        seconds,
        transfer_seconds,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// A time after the last of `rows` simulated cases (`history_spacing` apart from 2025-01-01,
/// the last finished up to 11 days after it was applied for), to validate them as of the day
/// their history ended.
pub fn after_simulated(rows: usize) -> chrono::DateTime<chrono::Utc> {
    use ronghe_adapters::sim::data::{START, history_spacing};
    let spacing = history_spacing(rows);
    let span = i64::try_from(rows)
        .unwrap_or(i64::MAX / spacing)
        .saturating_mul(spacing);
    let end =
        chrono::DateTime::from_timestamp(START.saturating_add(span), 0).unwrap_or_else(chrono::Utc::now);
    end + chrono::Duration::days(12)
}

/// The parent's side: loads the simulator, runs the child on `database`, then the raw copy.
pub async fn run(
    database: &str,
    rows: usize,
    chunk_rows: u32,
    parallelism: u32,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<(Vec<Figure>, ChildFigures)> {
    let dir = std::env::temp_dir().join(format!(
        "ronghe-bench-migrate-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = measure(&dir, database, rows, chunk_rows, parallelism, as_of).await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the benchmark directory");
    }
    result
}

async fn measure(
    dir: &Path,
    database: &str,
    rows: usize,
    chunk_rows: u32,
    parallelism: u32,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<(Vec<Figure>, ChildFigures)> {
    let legacy = format!("sqlite://{}", dir.join("legacy.db").display());
    let started = Instant::now();
    let spacing = ronghe_adapters::sim::data::history_spacing(rows);
    ronghe_adapters::sim::sql::load_spaced(&legacy, 2025, rows, spacing).await?;
    tracing::info!(
        rows,
        seconds = started.elapsed().as_secs_f64(),
        "simulator loaded"
    );
    let database = if database.starts_with("postgres") {
        database.to_owned()
    } else {
        format!("sqlite://{}", dir.join("store.db").display())
    };
    let store = Store::open(&database, &StoreOptions::default()).await?;
    let stamp = chrono::Utc::now().timestamp_millis();
    let id = format!("bench-migrate-{stamp}");
    let raw_id = format!("bench-raw-{stamp}");
    super::register_as(&store, &id, "sql", &legacy).await?;
    super::register_as(&store, &raw_id, "sql", &legacy).await?;
    let adapter = ronghe_adapters::sim::sql::adapter_config(&legacy, 1000);
    store.set_adapter_config(&id, &adapter, "bench").await?;
    let mapping_path = dir.join("sim-sql.toml");
    std::fs::write(&mapping_path, super::mapping::SQL_MAPPING)?;
    let job = dir.join("migration-job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nsystem = \"{id}\"\nmapping = \"sim-sql.toml\"\n[run]\nchunk_rows = {chunk_rows}\n\
             parallelism = {parallelism}\n[error_budget]\nmax_rejects = {rows}\nmax_reject_ratio = 1.0\n"
        ),
    )?;

    // The migration, in a child process: its peak RSS is its own, not the loader's.
    let exe = std::env::current_exe().context("cannot find the ronghe binary")?;
    let mut command = Command::new(exe);
    command
        .args([
            "--json",
            "--database",
            &database,
            "bench",
            "migrate",
            "--child-system",
            &id,
        ])
        .arg("--child-job")
        .arg(&job);
    if let Some(at) = as_of {
        command.args(["--child-as-of", &at.to_rfc3339()]);
    }
    let output = command
        .output()
        .context("cannot start the migration child process")?;
    if !output.status.success() {
        anyhow::bail!(
            "the migration child failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stdout)
        );
    }
    let child: ChildFigures = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "unexpected child output {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;

    // The baseline: the same rows, mapped, written to a COPY file (not timed), then copied.
    let copy = dir.join("raw.copy");
    let (count, bytes) = write_copy_file(&legacy, &copy, &raw_id, as_of).await?;
    let started = Instant::now();
    store.copy_versions_from_file(&copy, chunk_rows as usize).await?;
    let raw = started.elapsed().as_secs_f64();
    store.close().await;
    let backend = if database.starts_with("postgres") {
        "postgres COPY"
    } else {
        "sqlite multi-row insert"
    };
    let figures = vec![
        Figure {
            name: format!("migrate transfer vs raw {backend}"),
            items: count,
            bytes,
            seconds: child.transfer_seconds,
            baseline_seconds: raw,
            ..Default::default()
        },
        Figure {
            name: format!("migrate + reconcile vs raw {backend}"),
            items: count,
            bytes,
            seconds: child.seconds,
            baseline_seconds: raw,
            ..Default::default()
        },
    ];
    Ok((figures, child))
}

/// Reads the simulator through its adapter, maps every record and writes the valid cases as
/// `COPY` text lines for system `system_id`; returns (lines, body bytes).
async fn write_copy_file(
    legacy: &str,
    path: &PathBuf,
    system_id: &str,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<(usize, usize)> {
    use std::io::Write as _;
    let mapping = Mapping::compile(super::mapping::SQL_MAPPING)
        .map_err(|issues| anyhow::anyhow!("reference mapping: {issues:?}"))?;
    let adapter =
        ronghe_adapters::AdapterConfig::from_toml(&ronghe_adapters::sim::sql::adapter_config(legacy, 1000))
            .map_err(|issue| anyhow::anyhow!("{issue}"))?
            .validate()
            .map_err(|issues| anyhow::anyhow!("{issues:?}"))?
            .build(&ronghe_adapters::Environment)
            .await?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let now = as_of.unwrap_or_else(chrono::Utc::now);
    let at = crate::systems::stamp(chrono::Utc::now()).to_rfc3339();
    let mut records = adapter.read(None);
    let (mut count, mut bytes) = (0, 0);
    while let Some(record) = records.next().await {
        let Ok(case) = mapping.apply(&record?.raw, now.fixed_offset()) else {
            continue;
        };
        let (body, hash) = case.encoded()?;
        let body = body.get().replace('\\', "\\\\");
        bytes += body.len();
        count += 1;
        writeln!(
            out,
            "{system_id}\t{}\t{}\t{hash}\t{}\t{body}\t{at}",
            case.case_no,
            case.version,
            case.stage.name()
        )?;
    }
    out.flush()?;
    Ok((count, bytes))
}
