//! What sealing applicants' personal values at rest costs (`ronghe bench sealing`, issue 20):
//! the write-back intake (signed batch pushes to a real server) and a bulk migration (the SQL
//! simulator's history through the migrator, in this process), each run with sealing off and on
//! in the same run, alternately, the fastest of `rounds` counting, each run on a fresh store: a
//! SQLite file, or a PostgreSQL database of its own (`in_run_database`). The figure's baseline is
//! the run without sealing: a ratio of 0.87 is 15% slower.

use std::sync::Arc;
use std::time::Duration;

use ronghe_adapters::{Fixed, SecretRef};
use ronghe_crypto::Cipher;
use serde_json::Value;

use super::Figure;
use super::writeback::{load, platform, records, signer};
use crate::bridge::{BridgeKeysConfig, KeyConfig, Keyring};
use crate::store::Sealer;

/// A keyring of one random key under `cipher`, for the sealed runs.
fn keyring(cipher: Cipher) -> anyhow::Result<Arc<dyn Sealer>> {
    let reference = SecretRef("env:BENCH_SEAL".to_owned());
    let config = BridgeKeysConfig {
        active_key: "bench".to_owned(),
        keys: vec![KeyConfig {
            id: "bench".to_owned(),
            secret: reference.clone(),
            cipher,
        }],
    };
    let secret = hex::encode(crate::access::secret::random_bytes::<32>()?);
    let secrets = Fixed([(reference.0, secret)].into_iter().collect());
    Ok(Arc::new(Keyring::build(&config, &secrets)?))
}

/// The PostgreSQL database of one run, `step` (e.g. `intake-0-true`), of this process.
fn run_name(step: &str) -> String {
    format!(
        "ronghe_bench_sealing_{}_{}",
        std::process::id(),
        step.replace('-', "_")
    )
}

/// Intake and migration of `cases` records with sealing off and on (`cipher`), each run on a
/// fresh store: a SQLite file, or with a PostgreSQL `database` a database of its own on its
/// server, dropped afterwards.
pub async fn run(database: &str, cases: usize, rounds: usize, cipher: Cipher) -> anyhow::Result<Vec<Figure>> {
    super::in_scratch_dir("sealing", |dir| async move {
        let sealer = keyring(cipher)?;
        let intake = intake(&dir, database, cases, rounds, &sealer).await?;
        let migration = migration(&dir, database, cases, rounds, &sealer).await?;
        Ok(vec![
            Figure {
                name: format!("write-back batch 100, sealed {cipher} (vs clear)"),
                ..intake
            },
            Figure {
                name: format!("migration, sealed {cipher} (vs clear)"),
                ..migration
            },
        ])
    })
    .await
}

/// The fastest of `rounds` runs of `cases` records pushed in batches of 100 by 4 clients, to a
/// fresh platform each run, without and with sealing, alternately.
async fn intake(
    dir: &std::path::Path,
    database: &str,
    cases: usize,
    rounds: usize,
    sealer: &Arc<dyn Sealer>,
) -> anyhow::Result<Figure> {
    let (signer, path) = signer();
    let batches: Vec<String> = records(0, cases)
        .chunks(100)
        .map(|chunk| Value::Array(chunk.to_vec()).to_string())
        .collect();
    let bytes = batches.iter().map(String::len).sum();
    let (mut clear, mut sealed) = (Duration::MAX, Duration::MAX);
    for round in 0..rounds.max(1) {
        for seal in [false, true] {
            let name = format!("intake-{round}-{seal}");
            let at = dir.join(&name);
            let sealer = seal.then(|| sealer.clone());
            let (path, signer, batches) = (&path, &signer, &batches);
            let run = super::in_run_database(database, &run_name(&name), |own| async move {
                let (store, url) = platform(&at, &own, sealer).await?;
                let run = load(&url, path, signer, batches.clone(), 4).await;
                store.close().await;
                run
            })
            .await?;
            anyhow::ensure!(
                run.acked.len() == cases,
                "{} of {cases} acknowledged",
                run.acked.len()
            );
            let best = if seal { &mut sealed } else { &mut clear };
            *best = (*best).min(run.elapsed);
        }
    }
    Ok(Figure {
        items: cases,
        bytes,
        seconds: sealed.as_secs_f64(),
        baseline_seconds: clear.as_secs_f64(),
        ..Default::default()
    })
}

/// The fastest of `rounds` migrations of the simulator's `cases` rows into a fresh store each
/// run, without and with sealing, alternately (transfer time: from the run's start to its last
/// committed chunk).
async fn migration(
    dir: &std::path::Path,
    database: &str,
    cases: usize,
    rounds: usize,
    sealer: &Arc<dyn Sealer>,
) -> anyhow::Result<Figure> {
    let legacy = format!("sqlite://{}", dir.join("legacy.db").display());
    let spacing = ronghe_adapters::sim::data::history_spacing(cases);
    ronghe_adapters::sim::sql::load_spaced(&legacy, 2025, cases, spacing).await?;
    let plan = super::migrate::Plan {
        rows: cases,
        chunk_rows: 1000,
        parallelism: 2,
        kills: 0,
        seed: 0,
    };
    let (mut clear, mut sealed) = (f64::MAX, f64::MAX);
    for round in 0..rounds.max(1) {
        for seal in [false, true] {
            let name = format!("migrate-{round}-{seal}");
            let at = dir.join(&name);
            std::fs::create_dir_all(&at)?;
            let legacy = &legacy;
            let figures = super::in_run_database(database, &run_name(&name), |own| async move {
                let (store, _) = super::open_store(&own, &at).await?;
                let store = if seal {
                    store.sealed_with(sealer.clone())
                } else {
                    store
                };
                let (system, job) = super::migrate::job(&store, &at, legacy, plan).await?;
                let figures = super::migrate::child(store.clone(), &system, &job, false).await;
                store.close().await;
                figures
            })
            .await?;
            anyhow::ensure!(
                figures.rows_written == i64::try_from(cases)?,
                "{} of {cases} migrated ({})",
                figures.rows_written,
                figures.state
            );
            let best = if seal { &mut sealed } else { &mut clear };
            *best = best.min(figures.transfer_seconds);
        }
    }
    Ok(Figure {
        items: cases,
        seconds: sealed,
        baseline_seconds: clear,
        ..Default::default()
    })
}
