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
        Command::Store { cases, batch } => bench::store::run(&ctx.store().await?, cases, batch).await?,
    };
    let human: Vec<String> = figures.iter().map(bench::Figure::line).collect();
    let value: Vec<_> = figures
        .iter()
        .map(|f| json!({ "name": f.name, "items": f.items, "per_second": f.per_second(), "baseline_per_second": f.baseline_per_second(), "ratio": f.ratio(), "bytes": f.bytes }))
        .collect();
    ctx.out.show(human.join("\n"), &value);
    Ok(())
}
