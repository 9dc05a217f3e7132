//! `ronghe bench mapping|store`: throughput figures with a baseline measured in the same run.

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
        /// Concurrent clients of the single-record runs.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
        concurrency: Vec<usize>,
    },
    /// Case upserts/s into the store (--database) against plain multi-row inserts 存储吞吐.
    Store {
        #[arg(long, default_value_t = 20_000)]
        cases: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
}

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    let figures = match command {
        Command::Mapping { records, rounds } => bench::mapping::run(records, rounds).await?,
        Command::Writeback {
            requests,
            batch,
            concurrency,
        } => bench::writeback::run(requests, batch, &concurrency).await?,
        Command::Store { cases, batch } => bench::store::run(&ctx.store().await?, cases, batch).await?,
    };
    let human: Vec<String> = figures.iter().map(bench::Figure::line).collect();
    let value: Vec<_> = figures
        .iter()
        .map(|f| json!({ "name": f.name, "items": f.items, "per_second": f.per_second(), "baseline_per_second": f.baseline_per_second(), "ratio": f.ratio(), "bytes": f.bytes, "p50_ms": f.p50_ms, "p99_ms": f.p99_ms }))
        .collect();
    ctx.out.show(human.join("\n"), &value);
    Ok(())
}
