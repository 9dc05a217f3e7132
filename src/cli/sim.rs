//! `ronghe sim`: runs the simulated departmental systems on loopback until Ctrl-C, prints their
//! addresses and credentials, and writes a ready adapter config (and secret file) for each. With
//! `--platform`, the REST system also gets a single sign-on login against that ronghe's user
//! bridge, and its bridge config, secret and account export are written too. The simulated
//! data-sharing exchange runs alongside; its URL goes in `[exchange]`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use ronghe_adapters::sim::{SimBridge, SimOptions, exchange, rest, soap, sql};
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
    /// Port of the SOAP system (0: any free port).
    #[arg(long, default_value_t = 0)]
    soap_port: u16,
    /// Port of the data-sharing exchange simulator (0: any free port).
    #[arg(long, default_value_t = 0)]
    exchange_port: u16,
    /// Where to write the adapter configs and secret files.
    #[arg(long, default_value = "sim-configs")]
    configs: PathBuf,
    /// A ronghe to log users in through (its user bridge), e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    platform: Option<String>,
}

/// The system id the simulated REST system has on the platform.
const REST_SYSTEM: &str = "sim-rest";

/// One simulated system as announced to the user.
pub(super) struct Announced {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) kind: &'static str,
    pub(super) department: &'static str,
    pub(super) url: String,
    credential: String,
    pub(super) config: PathBuf,
}

/// The running simulators, with the adapter configs written for them.
pub(super) struct Sims {
    pub(super) rest: rest::RestSim,
    pub(super) soap: soap::SoapSim,
    pub(super) exchange: exchange::ExchangeSim,
    pub(super) systems: [Announced; 3],
}

/// Ports of the simulators (0: any free port) and what they hold.
pub(super) struct SimSetup {
    pub(super) seed: u64,
    pub(super) cases: usize,
    pub(super) rest_port: u16,
    pub(super) soap_port: u16,
    pub(super) exchange_port: u16,
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

impl Sims {
    /// Starts the REST, SOAP and exchange simulators, writes the SQL simulator's database, and
    /// writes each system's adapter config (and secret file) into `dir`, an absolute directory.
    pub(super) async fn start(
        dir: &Path,
        setup: &SimSetup,
        bridge: Option<SimBridge>,
    ) -> anyhow::Result<Sims> {
        let options = |port: u16, bridge: Option<SimBridge>| SimOptions {
            seed: setup.seed,
            cases: setup.cases,
            listen: ([127, 0, 0, 1], port).into(),
            bridge,
        };
        let rest = rest::RestSim::start(&options(setup.rest_port, bridge))
            .await
            .context("cannot start the REST simulator")?;
        write(&dir.join("rest.key"), rest::API_KEY)?;
        let rest_config = dir.join("rest.toml");
        write(
            &rest_config,
            &rest::adapter_config(
                &rest.running.url(),
                &format!("file:{}", dir.join("rest.key").display()),
            ),
        )?;

        let soap = soap::SoapSim::start(&options(setup.soap_port, None))
            .await
            .context("cannot start the SOAP simulator")?;
        write(&dir.join("soap.password"), soap::PASSWORD)?;
        let soap_config = dir.join("soap.toml");
        write(
            &soap_config,
            &soap::adapter_config(
                &soap.endpoint(),
                &format!("file:{}", dir.join("soap.password").display()),
            ),
        )?;

        let database = format!("sqlite://{}", dir.join("sim-sql.db").display());
        sql::load(&database, setup.seed, setup.cases)
            .await
            .context("cannot write the SQL simulator's database")?;
        let sql_config = dir.join("sql.toml");
        write(&sql_config, &sql::adapter_config(&database, 500))?;

        let exchange = exchange::ExchangeSim::start(([127, 0, 0, 1], setup.exchange_port).into())
            .await
            .context("cannot start the exchange simulator")?;

        let systems = [
            Announced {
                id: REST_SYSTEM,
                name: "市场监管许可系统",
                kind: "rest",
                department: "贵阳市市场监督管理局",
                url: format!("{}/api/v1/licences", rest.running.url()),
                credential: format!("X-Api-Key: {}", rest::API_KEY),
                config: rest_config,
            },
            Announced {
                id: "sim-soap",
                name: "社保待遇系统",
                kind: "soap",
                department: "贵州省人力资源和社会保障厅",
                url: soap.endpoint(),
                credential: format!("WS-Security {} / {}", soap::USERNAME, soap::PASSWORD),
                config: soap_config,
            },
            Announced {
                id: "sim-sql",
                name: "审批办件系统",
                kind: "sql",
                department: "贵阳市政务服务中心",
                url: database,
                credential: "none (SQLite file; read-only sessions)".to_owned(),
                config: sql_config,
            },
        ];
        Ok(Sims {
            rest,
            soap,
            exchange,
            systems,
        })
    }

    pub(super) async fn stop(self) {
        self.rest.running.stop().await;
        self.soap.running.stop().await;
        self.exchange.running.stop().await;
    }
}

pub(super) async fn run(ctx: &Context, args: SimArgs) -> Result<(), Failure> {
    std::fs::create_dir_all(&args.configs)
        .with_context(|| format!("cannot create {}", args.configs.display()))?;
    let dir = std::fs::canonicalize(&args.configs)
        .with_context(|| format!("cannot resolve {}", args.configs.display()))?;
    let bridge_secret = crate::store::random_id("sim")?;
    let bridge = args.platform.as_ref().map(|platform| SimBridge {
        platform_url: platform.clone(),
        system_id: REST_SYSTEM.to_owned(),
        secret: bridge_secret.clone(),
    });
    let setup = SimSetup {
        seed: args.seed,
        cases: args.cases,
        rest_port: args.rest_port,
        soap_port: args.soap_port,
        exchange_port: args.exchange_port,
    };
    let sims = Sims::start(&dir, &setup, bridge).await?;
    let mut human = format!(
        "模拟部门系统已启动 simulators running (seed {}, {} cases each); Ctrl-C 停止 to stop\n",
        args.seed, args.cases
    );
    for s in &sims.systems {
        human.push_str(&format!(
            "\n{} {}  {}\n  credentials: {}\n  adapter config: {}\n  try: ronghe systems add --id {} --name {} --department {} --region 520000 --protocol {} --endpoint {}\n       ronghe adapters attach {} {}\n       ronghe adapters probe {}\n",
            s.name, s.kind.to_uppercase(), s.url, s.credential, s.config.display(), s.id, s.name, s.department, s.kind, s.url, s.id, s.config.display(), s.id
        ));
    }
    let exchange = sims.exchange.endpoint();
    human.push_str(&format!(
        "\n数据共享交换平台 exchange simulator: {exchange}\n  in ronghe.toml: [exchange]\n                  url = \"{exchange}\"\n"
    ));
    if let Some(platform) = &args.platform {
        human.push_str(&bridge_files(&dir, platform, &sims.rest, &bridge_secret)?);
    }
    let value: Vec<_> = sims.systems.iter().map(|s| json!({ "id": s.id, "name": s.name, "kind": s.kind, "url": s.url, "credentials": s.credential, "config": s.config })).collect();
    ctx.out.show(
        human,
        &json!({ "seed": args.seed, "cases": args.cases, "systems": value, "exchange": exchange }),
    );
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    sims.stop().await;
    Ok(())
}

/// Writes the REST simulator's bridge config, secret and account export; says what to run.
fn bridge_files(dir: &Path, platform: &str, rest: &rest::RestSim, secret: &str) -> anyhow::Result<String> {
    let secret_file = dir.join("rest-bridge.secret");
    write(&secret_file, secret)?;
    let config = dir.join("rest-bridge.toml");
    write(
        &config,
        &format!(
            "# 市场监管许可系统 (REST simulator): user bridge config, generated by `ronghe sim`\n\
             minimum_level = \"basic\"\ncallback_urls = [\"{}/sso/login\"]\n\n[credentials]\ntype = \"basic\"\n\
             secret = \"file:{}\"\n\n[[attributes]]\nsource = \"name\"\nfield = \"userName\"\n",
            rest.running.url(),
            secret_file.display()
        ),
    )?;
    let accounts: Vec<String> = rest
        .accounts()
        .iter()
        .map(|a| json!({ "account_id": a.account_id, "certificate_no": a.certificate_no }).to_string())
        .collect();
    let export = dir.join("rest-accounts.jsonl");
    write(&export, &accounts.join("\n"))?;
    Ok(format!(
        "\n用户互认 user bridge via {platform}: login {}/sso/login?ticket=…\n  try: ronghe bridge attach {REST_SYSTEM} {}\n       ronghe bridge accounts {REST_SYSTEM} {}\n",
        rest.running.url(),
        config.display(),
        export.display()
    ))
}
