//! Read throughput of the SQL driver on the SQL simulator's history: loads N cases (100 000 by
//! default, or the first argument) into SQLite (a temporary file) and, when their variables are
//! set, into the PostgreSQL and MariaDB test servers (RONGHE_TEST_PG_URL, RONGHE_TEST_MYSQL_URL;
//! the simulator's tables there are replaced), then reads them all through the driver in pages
//! of 1000 without a rate limit and prints records per second.
//!
//! `cargo run --release -p ronghe-adapters --example sql_throughput -- 100000`
#![allow(clippy::print_stdout)] // the report is this example's output

use std::time::Instant;

use futures_util::TryStreamExt;
use ronghe_adapters::sim::sql as sim;
use ronghe_adapters::{AdapterConfig, Environment};

const SEED: u64 = 2025;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    let dir = tempfile::tempdir()?;
    let mut databases = vec![(
        "SQLite",
        format!("sqlite://{}", dir.path().join("sp.db").display()),
    )];
    for (name, variable) in [
        ("PostgreSQL", "RONGHE_TEST_PG_URL"),
        ("MariaDB", "RONGHE_TEST_MYSQL_URL"),
    ] {
        match std::env::var(variable) {
            Ok(url) => databases.push((name, url)),
            Err(_) => println!("{name}: skipped ({variable} is not set)"),
        }
    }
    for (name, url) in databases {
        let started = Instant::now();
        sim::load(&url, SEED, count).await?;
        let loaded = started.elapsed();
        let toml = format!(
            "{}\n[resilience]\nmax_requests_per_second = 0\n",
            sim::adapter_config(&url, 1000)
        );
        let adapter = AdapterConfig::from_toml(&toml)
            .map_err(|issues| format!("{issues:?}"))?
            .validate()
            .map_err(|issues| format!("{issues:?}"))?
            .build(&Environment)
            .await?;
        let started = Instant::now();
        let read = adapter
            .read(None)
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await?;
        let elapsed = started.elapsed();
        if read != count {
            return Err(format!("{name}: read {read} records of {count}").into());
        }
        println!(
            "{name}: loaded {count} cases in {:.1} s ({:.0} rows/s); read them in {:.2} s: {:.0} records/s",
            loaded.as_secs_f64(),
            count as f64 / loaded.as_secs_f64(),
            elapsed.as_secs_f64(),
            read as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}
