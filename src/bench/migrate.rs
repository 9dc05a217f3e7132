//! Bulk-migration throughput (`ronghe bench migrate`): the SQL simulator's history (N cases in a
//! SQLite file) is migrated into the store (`--database`, a fresh SQLite file by default) by a
//! child process running `ronghe migrate`'s runner, whose own peak RSS (VmHWM) it reports; the
//! baseline is a raw copy of the same mapped rows into the same store (PostgreSQL `COPY` from a
//! file; SQLite multi-row inserts of that file's lines), measured in the same run. With `--kills N`
//! the child is SIGKILLed N times at seeded random points and resumed; either way the bench fails
//! unless the store ends holding every written case, version and outbox entry exactly once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::Figure;
use crate::mapping::Mapping;
use crate::migration::{Mandate, Migrator};
use crate::store::{HeldCounts, Store};

/// What the child process measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildFigures {
    pub state: String,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_rejected: i64,
    /// From the run's start to its last committed chunk (across kills and resumes).
    pub transfer_seconds: f64,
    /// The child's peak resident set (VmHWM), in KiB.
    pub peak_rss_kib: Option<u64>,
}

/// What the parent measured around its children.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The last child's figures.
    pub child: ChildFigures,
    /// The whole run, transfer and reconciliation, from the first child's start to the last's end.
    pub seconds: f64,
    /// Rows the run had read when each SIGKILL landed.
    pub killed_at_rows: Vec<i64>,
    /// What the store holds for the system at the end.
    pub held: HeldCounts,
}

/// The process's peak resident set so far (VmHWM in `/proc/self/status`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The child's side: starts (or resumes) the job at `job` for `system` on `store` and measures it.
pub async fn child(store: Store, system: &str, job: &Path, resume: bool) -> anyhow::Result<ChildFigures> {
    let migrator = Migrator::new(store.clone(), Arc::new(ronghe_adapters::Environment), "bench");
    let run = if resume {
        migrator.resume(system, &|_| {}).await?
    } else {
        let mandate = Mandate::Forced {
            reason: "ronghe bench migrate: a benchmark on its own scratch store".to_owned(),
        };
        migrator.start(system, job, &mandate, &|_| {}).await?
    };
    let last = store
        .migration_chunks(&run.id)
        .await?
        .last()
        .map(|c| c.committed_at);
    let transfer_seconds = last.map_or(0.0, |at| {
        (at - run.started_at).num_microseconds().unwrap_or(0) as f64 / 1e6
    });
    Ok(ChildFigures {
        state: run.state.name().to_owned(),
        rows_read: run.rows_read,
        rows_written: run.rows_written,
        rows_rejected: run.rows_rejected,
        transfer_seconds,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub rows: usize,
    pub chunk_rows: u32,
    pub parallelism: u32,
    /// SIGKILL the migration this many times at random points, resuming it each time.
    pub kills: u32,
    pub seed: u64,
}

/// The parent's side: loads the simulator, runs the children on `database`, then the raw copy.
pub async fn run(database: &str, plan: Plan) -> anyhow::Result<(Vec<Figure>, Outcome)> {
    super::in_scratch_dir(
        "migrate",
        |dir| async move { measure(&dir, database, plan).await },
    )
    .await
}

async fn measure(dir: &Path, database: &str, plan: Plan) -> anyhow::Result<(Vec<Figure>, Outcome)> {
    let legacy = format!("sqlite://{}", dir.join("legacy.db").display());
    let started = Instant::now();
    let spacing = ronghe_adapters::sim::data::history_spacing(plan.rows);
    ronghe_adapters::sim::sql::load_spaced(&legacy, 2025, plan.rows, spacing).await?;
    tracing::info!(
        rows = plan.rows,
        seconds = started.elapsed().as_secs_f64(),
        "simulator loaded"
    );
    let (store, database) = super::open_store(database, dir).await?;
    let (id, job) = job(&store, dir, &legacy, plan).await?;
    let raw_id = format!("bench-raw-{}", chrono::Utc::now().timestamp_millis());
    super::register_as(&store, &raw_id, "sql", &legacy).await?;

    // The migration, in child processes: their peak RSS is their own, not the loader's.
    let started = Instant::now();
    let children = Children {
        store: &store,
        database: &database,
        system: &id,
        job: &job,
    };
    let (child, killed_at_rows) = children.run(plan).await?;
    let seconds = started.elapsed().as_secs_f64();
    let held = store.held_counts(&id).await?;
    if [held.cases, held.versions, held.outbox] != [child.rows_written; 3] {
        anyhow::bail!(
            "the store does not hold every written case exactly once: {held:?} for {} written",
            child.rows_written
        );
    }

    // The baseline: the same rows, mapped, written to a COPY file (not timed), then copied.
    let copy = dir.join("raw.copy");
    let (count, bytes) = write_copy_file(&legacy, &copy, &raw_id).await?;
    let started = Instant::now();
    store
        .copy_versions_from_file(&copy, plan.chunk_rows as usize)
        .await?;
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
            seconds,
            baseline_seconds: raw,
            ..Default::default()
        },
    ];
    let outcome = Outcome {
        child,
        seconds,
        killed_at_rows,
        held,
    };
    Ok((figures, outcome))
}

/// Registers a system reading the SQL simulator's file `legacy`, attaches its adapter, and
/// writes the mapping and a migration job of `plan` into `dir`: the system and the job's path.
pub(super) async fn job(
    store: &Store,
    dir: &Path,
    legacy: &str,
    plan: Plan,
) -> anyhow::Result<(String, std::path::PathBuf)> {
    let id = format!("bench-migrate-{}", chrono::Utc::now().timestamp_millis());
    super::register_as(store, &id, "sql", legacy).await?;
    store
        .set_adapter_config(&id, &sql_adapter_config(legacy), "bench")
        .await?;
    std::fs::write(dir.join("sim-sql.toml"), super::mapping::SQL_MAPPING)?;
    let job = dir.join("migration-job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nsystem = \"{id}\"\nmapping = \"sim-sql.toml\"\n[run]\nchunk_rows = {}\n\
             parallelism = {}\n[error_budget]\nmax_rejects = {}\nmax_reject_ratio = 1.0\n",
            plan.chunk_rows, plan.parallelism, plan.rows
        ),
    )?;
    Ok((id, job))
}

/// The migration children of one benchmark.
struct Children<'a> {
    store: &'a Store,
    database: &'a str,
    system: &'a str,
    job: &'a Path,
}

impl Children<'_> {
    fn spawn(&self, resume: bool) -> anyhow::Result<std::process::Child> {
        let exe = std::env::current_exe().context("cannot find the ronghe binary")?;
        let mut command = Command::new(exe);
        command
            .args(["--json", "--database", self.database, "bench", "migrate"])
            .args(["--child-system", self.system])
            .arg("--child-job")
            .arg(self.job)
            .stdout(Stdio::piped());
        if resume {
            command.arg("--child-resume");
        }
        command
            .spawn()
            .context("cannot start the migration child process")
    }

    /// Runs the migration to its end, SIGKILLing its child `plan.kills` times and resuming it
    /// each time. A kill lands once the run has read past a seeded random row count, after a
    /// random pause of up to 0.2 s (so inside a chunk as often as not). Returns the last child's
    /// figures and the rows read at each kill.
    async fn run(&self, plan: Plan) -> anyhow::Result<(ChildFigures, Vec<i64>)> {
        let mut rng = fastrand::Rng::with_seed(plan.seed);
        let total = i64::try_from(plan.rows).unwrap_or(i64::MAX);
        let mut killed_at = Vec::new();
        loop {
            let mut child = self.spawn(!killed_at.is_empty())?;
            if killed_at.len() < plan.kills as usize {
                let read = self.rows_read().await?;
                let target = read + rng.i64(1..=((total - read) / 2).max(1));
                while child.try_wait()?.is_none() && self.rows_read().await? < target {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if child.try_wait()?.is_none() {
                    tokio::time::sleep(Duration::from_millis(rng.u64(0..200))).await;
                    child.kill().context("cannot kill the migration child")?; // SIGKILL
                    child.wait()?;
                    let read = self.rows_read().await?;
                    tracing::info!(
                        kill = killed_at.len() + 1,
                        rows_read = read,
                        "migration child killed; resuming"
                    );
                    killed_at.push(read);
                    continue;
                }
            }
            let output = child.wait_with_output()?;
            if !output.status.success() {
                anyhow::bail!(
                    "the migration child failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stdout)
                );
            }
            let figures = serde_json::from_slice(&output.stdout).with_context(|| {
                format!(
                    "unexpected child output {}",
                    String::from_utf8_lossy(&output.stdout)
                )
            })?;
            return Ok((figures, killed_at));
        }
    }

    async fn rows_read(&self) -> anyhow::Result<i64> {
        Ok(self
            .store
            .latest_migration(self.system)
            .await?
            .map_or(0, |r| r.rows_read))
    }
}

/// The reference mapping of the SQL simulator.
pub(super) fn sql_mapping() -> anyhow::Result<Mapping> {
    Mapping::compile(super::mapping::SQL_MAPPING)
        .map_err(|issues| anyhow::anyhow!("reference mapping: {issues:?}"))
}

/// The SQL simulator's adapter config on the database at `legacy`, as its engineer configures it
/// for a migration window: pages of 1,000 rows and no rate limit. The default limit (20 requests
/// a second, which spares a legacy system in production) would cap every read at 20,000 rows/s
/// and the benches would measure the limit, not ronghe.
pub(super) fn sql_adapter_config(legacy: &str) -> String {
    ronghe_adapters::sim::sql::adapter_config(legacy, 1000) + "\n[resilience]\nmax_requests_per_second = 0\n"
}

/// The SQL simulator's adapter on the database at `legacy` (see `sql_adapter_config`).
pub(super) async fn sql_adapter(legacy: &str) -> anyhow::Result<Box<dyn ronghe_adapters::Adapter>> {
    Ok(
        ronghe_adapters::AdapterConfig::from_toml(&sql_adapter_config(legacy))
            .map_err(|issues| anyhow::anyhow!("{issues:?}"))?
            .validate()
            .map_err(|issues| anyhow::anyhow!("{issues:?}"))?
            .build(&ronghe_adapters::Environment)
            .await?,
    )
}

/// Reads the simulator through its adapter, maps every record and writes the valid cases as
/// `COPY` text lines for system `system_id`; returns (lines, body bytes).
async fn write_copy_file(legacy: &str, path: &Path, system_id: &str) -> anyhow::Result<(usize, usize)> {
    use std::io::Write as _;
    let mapping = sql_mapping()?;
    let adapter = sql_adapter(legacy).await?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let now = chrono::Utc::now();
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
