//! `ronghe bench mapping|writeback|sealing|store|exchange|migrate|reconcile|soak`: throughput figures with
//! a baseline measured in the same run; `soak` reports each minute of a fixed load; `writeback
//! --soap-body-kb` the server's memory around a burst of large SOAP pushes.

use clap::Subcommand;
use serde_json::json;

use super::{Context, Failure};
use crate::bench;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Mapping records/s and MB/s per shape (JSON, XML, SQL row) against hand-written mappings 映射吞吐.
    Mapping {
        #[arg(long, default_value_t = 50_000)]
        records: usize,
        /// Rounds per side; the fastest counts.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Write-back intake records/s and latency against a bare handler and a raw insert, and the
    /// lag to the exchange 回传吞吐与共享延迟.
    Writeback {
        /// Records per run.
        #[arg(long, default_value_t = 4000)]
        requests: usize,
        /// Records per batch push.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Concurrent clients of the single-record runs (with --soap-body-kb: of each burst).
        #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
        concurrency: Vec<usize>,
        /// Instead: memory of a burst of concurrent signed GBK SOAP pushes of about this many
        /// KiB each against a `ronghe serve` child, one burst per --concurrency: the server's
        /// RSS before, its peak, and after the burst 大报文内存.
        #[arg(long, value_name = "KIB")]
        soap_body_kb: Option<usize>,
        /// sqlite: a new file; postgres: the --database URL (an empty database). Not with
        /// --soap-body-kb, whose `serve` child keeps a SQLite file of its own.
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite, conflicts_with = "soap_body_kb")]
        backend: BenchBackend,
    },
    /// A fixed offered load against a real server for minutes: per minute the achieved rate,
    /// p50/p99, RSS, WAL size and exchange backlog; the figure is the last minute's rate over the
    /// first's 稳态压测.
    Soak {
        #[arg(long, default_value_t = 10)]
        minutes: u32,
        /// Single-record pushes per second, over all clients.
        #[arg(long, default_value_t = 150.0)]
        rate: f64,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Records per batch push (0: none).
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Seconds between batch pushes.
        #[arg(long, default_value_t = 5)]
        batch_every_seconds: u64,
        /// sqlite: a new file; postgres: the --database URL (an empty database).
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
        backend: BenchBackend,
        /// Servers on the one store (each its own node, pool and delivery worker) 节点数.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        nodes: u16,
        /// The exchange is down for a window, FROM+MINUTES (e.g. 5+60); the soak then waits for
        /// the backlog to drain and checks every version arrived in order 交换平台中断演练.
        #[arg(long)]
        outage: Option<bench::soak::Outage>,
        /// Also the lag from each record's acknowledgement to its arrival at the exchange, p50
        /// and p99 per minute (the exchange simulator then keeps every key) 共享延迟.
        #[arg(long)]
        lag: bool,
    },
    /// Intake and migration with applicants' personal values sealed at rest against the same
    /// with sealing off, in the same run (issue 20; the goal: at most 15% slower) 加密开销.
    Sealing {
        /// Records pushed, and rows migrated, per run.
        #[arg(long, default_value_t = 10_000)]
        cases: usize,
        /// Runs per side, alternating; the fastest counts.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// The cipher of the sealed runs: sm4-gcm or aes-256-gcm.
        #[arg(long, default_value = "sm4-gcm")]
        cipher: ronghe_crypto::Cipher,
        /// sqlite: a new file per run; postgres: a new database per run on the --database URL's
        /// server (its role needs CREATEDB), dropped after the run.
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
        backend: BenchBackend,
    },
    /// Case upserts/s into the store (a fresh SQLite file, or the PostgreSQL --database) against
    /// plain multi-row inserts, and the floor between them: the same writes without reads 存储吞吐.
    Store {
        #[arg(long, default_value_t = 20_000)]
        cases: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
        backend: BenchBackend,
    },
    /// Exchange drain rate of a backlog in the store (a fresh SQLite file, or the PostgreSQL
    /// --database) by 1 and more workers, with stale planner statistics against fresh ones
    /// 交换积压补送速率.
    Exchange {
        #[arg(long, default_value_t = 100_000)]
        versions: usize,
        /// Worker counts (nodes) to drain with.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 3])]
        workers: Vec<usize>,
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
        backend: BenchBackend,
    },
    /// A day's reconciliation of a long history (the last full day of ROWS simulator cases, all
    /// in the store: a fresh SQLite file or the PostgreSQL --database), read by window and read
    /// whole, against reading that day's rows directly 按日对账.
    Reconcile {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
        backend: BenchBackend,
    },
    /// Bulk migration rows/s and peak RSS from the SQL simulator into the store (a fresh SQLite
    /// file, or the PostgreSQL --database) against a raw copy of the same rows, one run per size
    /// in --rows (e.g. 100000,1000000,10000000) 全量迁移吞吐.
    Migrate {
        #[arg(long, value_delimiter = ',', default_values_t = [1_000_000])]
        rows: Vec<usize>,
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
        backend: BenchBackend,
        #[arg(long, default_value_t = 1000)]
        chunk_rows: u32,
        #[arg(long, default_value_t = 2)]
        parallelism: u32,
        /// SIGKILL the migration this many times at random points, resuming it each time.
        #[arg(long, default_value_t = 0)]
        kills: u32,
        /// Seed of the kill points.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Internal: run as the measured child on this system.
        #[arg(long, hide = true, requires = "child_job")]
        child_system: Option<String>,
        /// Internal: the child's job file.
        #[arg(long, hide = true)]
        child_job: Option<std::path::PathBuf>,
        /// Internal: the child resumes the system's run instead of starting one.
        #[arg(long, hide = true)]
        child_resume: bool,
    },
}

/// The kind of store a benchmark writes to: a fresh SQLite file, or the PostgreSQL `--database`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum BenchBackend {
    Sqlite,
    Postgres,
}

/// Runs a benchmark; a working store given to one, or a used one to a benchmark that needs an
/// empty store, is a usage error (exit 2).
pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    measure(ctx, command).await.map_err(|failure| match failure {
        Failure::Failed(e) if e.is::<bench::WorkingStore>() || e.is::<bench::NotEmpty>() => Failure::Usage(e),
        other => other,
    })
}

async fn measure(ctx: &Context, command: Command) -> Result<(), Failure> {
    let figures = match command {
        Command::Mapping { records, rounds } => bench::mapping::run(records, rounds).await?,
        Command::Writeback {
            soap_body_kb: Some(body_kb),
            concurrency,
            ..
        } => {
            let bursts = bench::burst::run(body_kb, &concurrency).await?;
            let human: Vec<String> = bursts.iter().map(bench::burst::Burst::line).collect();
            ctx.out.show(human.join("\n"), &bursts);
            return Ok(());
        }
        Command::Writeback {
            requests,
            batch,
            concurrency,
            soap_body_kb: None,
            backend,
        } => bench::writeback::run(&bench_database(ctx, backend)?, requests, batch, &concurrency).await?,
        Command::Soak {
            minutes,
            rate,
            clients,
            batch,
            batch_every_seconds,
            backend,
            nodes,
            outage,
            lag,
        } => {
            let load = bench::soak::Load {
                minutes,
                rate,
                clients,
                batch,
                batch_every_seconds,
                database: bench_database(ctx, backend)?,
                nodes: usize::from(nodes),
                outage,
                lag,
            };
            let soak = bench::soak::run(load).await?;
            ctx.out.show(soak.lines(), &soak);
            return Ok(());
        }
        Command::Sealing {
            cases,
            rounds,
            cipher,
            backend,
        } => bench::sealing::run(&bench_database(ctx, backend)?, cases, rounds, cipher).await?,
        Command::Store {
            cases,
            batch,
            backend,
        } => bench::store::run(&bench_database(ctx, backend)?, cases, batch).await?,
        Command::Reconcile { rows, backend } => {
            bench::reconcile::run(&bench_database(ctx, backend)?, rows).await?
        }
        Command::Exchange {
            versions,
            workers,
            backend,
        } => bench::exchange::run(&bench_database(ctx, backend)?, versions, &workers).await?,
        Command::Migrate {
            rows,
            backend,
            chunk_rows,
            parallelism,
            kills,
            seed,
            child_system,
            child_job,
            child_resume,
        } => {
            if let (Some(system), Some(job)) = (child_system, child_job) {
                let figures = bench::migrate::child(ctx.store().await?, &system, &job, child_resume).await?;
                ctx.out.json_line(&figures);
                return Ok(());
            }
            let database = bench_database(ctx, backend)?;
            // One run per size, in order: the scaling curve.
            let (mut human, mut values) = (Vec::new(), Vec::new());
            for rows in rows {
                let plan = bench::migrate::Plan {
                    rows,
                    chunk_rows,
                    parallelism,
                    kills,
                    seed,
                };
                let (figures, outcome) = bench::migrate::run(&database, plan).await?;
                let child = &outcome.child;
                let peak = child
                    .peak_rss_kib
                    .map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
                human.extend(figures.iter().map(bench::Figure::line));
                human.push(format!(
                    "migration of {rows} ({}): {} · read {} written {} rejected {} · peak RSS {peak} · SIGKILLed {} times (at rows read {:?}) · store holds {} cases, {} versions, {} outbox entries",
                    backend_name(backend),
                    child.state,
                    child.rows_read,
                    child.rows_written,
                    child.rows_rejected,
                    outcome.killed_at_rows.len(),
                    outcome.killed_at_rows,
                    outcome.held.cases,
                    outcome.held.versions,
                    outcome.held.outbox,
                ));
                values.push(json!({ "backend": backend_name(backend), "rows": rows, "figures": figures.iter().map(|f| json!({ "name": f.name, "items": f.items, "per_second": f.per_second(), "baseline_per_second": f.baseline_per_second(), "ratio": f.ratio() })).collect::<Vec<_>>(), "outcome": outcome }));
            }
            let value = serde_json::Value::Array(values);
            ctx.out.show(human.join("\n"), &value);
            return Ok(());
        }
    };
    let human: Vec<String> = figures.iter().map(bench::Figure::line).collect();
    let value: Vec<_> = figures
        .iter()
        .map(|f| json!({ "name": f.name, "items": f.items, "per_second": f.per_second(), "baseline_per_second": f.baseline_per_second(), "ratio": f.ratio(), "bytes": f.bytes, "p50_ms": f.p50_ms, "p99_ms": f.p99_ms }))
        .collect();
    ctx.out.show(human.join("\n"), &value);
    Ok(())
}

/// The store a benchmark writes to: empty for a new SQLite file, else the PostgreSQL
/// `--database`.
fn bench_database(ctx: &Context, backend: BenchBackend) -> Result<String, Failure> {
    match backend {
        BenchBackend::Sqlite => Ok(String::new()),
        BenchBackend::Postgres => {
            let url = ctx.config()?.database_url;
            if !url.starts_with("postgres") {
                return Err(Failure::Usage(anyhow::anyhow!(
                    "--backend postgres needs --database postgres://… (a database the benchmark may write to)"
                )));
            }
            Ok(url)
        }
    }
}

fn backend_name(backend: BenchBackend) -> &'static str {
    match backend {
        BenchBackend::Sqlite => "sqlite",
        BenchBackend::Postgres => "postgres",
    }
}
