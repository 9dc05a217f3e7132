//! `ronghe sim`: runs the simulated departmental systems on loopback until Ctrl-C, prints their
//! addresses and credentials, and writes a ready adapter config for each.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ronghe_adapters::sim::{SimOptions, rest};
use serde_json::json;

use super::{Context, Failure};

#[derive(Debug, Args)]
pub(super) struct SimArgs {
    /// Seed of the generated cases (same seed, same cases).
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Cases each system holds.
    #[arg(long, default_value_t = 3000)]
    cases: usize,
    /// Port of the REST system (0: any free port).
    #[arg(long, default_value_t = 0)]
    rest_port: u16,
    /// Where to write the adapter configs and key files.
    #[arg(long, default_value = "sim-configs")]
    configs: PathBuf,
}

pub(super) async fn run(ctx: &Context, args: SimArgs) -> Result<(), Failure> {
    std::fs::create_dir_all(&args.configs)
        .with_context(|| format!("cannot create {}", args.configs.display()))?;
    let dir = std::fs::canonicalize(&args.configs)
        .with_context(|| format!("cannot resolve {}", args.configs.display()))?;
    let options = SimOptions {
        seed: args.seed,
        cases: args.cases,
        listen: ([127, 0, 0, 1], args.rest_port).into(),
        bridge: None,
    };
    let rest = rest::RestSim::start(&options)
        .await
        .context("cannot start the REST simulator")?;

    let key_file = dir.join("rest.key");
    std::fs::write(&key_file, rest::API_KEY)
        .with_context(|| format!("cannot write {}", key_file.display()))?;
    let config_file = dir.join("rest.toml");
    let config = rest::adapter_config(&rest.running.url(), &format!("file:{}", key_file.display()));
    std::fs::write(&config_file, config)
        .with_context(|| format!("cannot write {}", config_file.display()))?;

    ctx.out.show(
        format!(
            "模拟部门系统已启动 simulators running (seed {}, {} cases each); Ctrl-C 停止 to stop\n\n\
             市场监管许可系统 REST  {}/api/v1/licences\n  API key (X-Api-Key): {}\n  adapter config:      {}\n\n\
             try: ronghe systems add --id sim-rest --name 市场监管许可系统 --department 贵阳市市场监督管理局 --region 520100 --protocol rest --endpoint {}\n     \
             ronghe adapters attach sim-rest {}\n     ronghe adapters probe sim-rest",
            args.seed,
            args.cases,
            rest.running.url(),
            rest::API_KEY,
            config_file.display(),
            rest.running.url(),
            config_file.display(),
        ),
        &json!({
            "seed": args.seed,
            "cases": args.cases,
            "systems": [{ "kind": "rest", "name": "市场监管许可系统", "url": rest.running.url(), "api_key": rest::API_KEY, "config": config_file }],
        }),
    );
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    rest.running.stop().await;
    Ok(())
}
