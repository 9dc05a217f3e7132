//! The `ronghe` command line: argument definitions (clap) and dispatch to one module per
//! command group. Human output by default, `--json` for scripts; all printing goes through
//! `output`.

mod accounts;
mod adapters;
mod assess;
mod audit;
#[cfg(feature = "devtools")]
mod bench;
mod bridge;
mod calendar;
mod cases;
mod corrections;
#[cfg(feature = "devtools")]
mod demo;
mod disclosure;
mod exchange;
mod generate;
mod handoff;
mod keys;
mod mapping;
mod migrate;
mod monitoring;
mod notices;
mod orgs;
mod output;
mod plans;
mod rules;
mod scheduler;
#[cfg(feature = "devtools")]
mod sim;
mod systems;
mod validate;
mod visits;
mod writeback;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::store::{Store, StoreOptions};
pub use output::Output;

const EXIT_CODES: &str = "\
Exit codes / 退出码:
  0  success 成功
  1  the answer is no: invalid value, refused input, not found 校验未通过、输入被拒绝或未找到
  2  usage error: bad arguments, or a job/config to fix first 用法或配置错误
  3  failure: store, file or network unavailable 运行失败(存储、文件或网络不可用)";

#[derive(Debug, Parser)]
#[command(name = "ronghe", version, about = "融合: onboard departmental approval systems onto the unified government service platform", after_help = EXIT_CODES)]
pub struct Cli {
    /// Print machine-readable JSON instead of human text.
    #[arg(long, global = true)]
    json: bool,
    /// Config file (TOML); see README.
    #[arg(long, global = true, env = "RONGHE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Platform store URL; overrides the config file (default sqlite://ronghe.db).
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// Your personal API token, for the commands that act as a person (an expert's scores and
    /// declarations, a chair's close and verdict, a baseline's approval); create one with
    /// `ronghe accounts token create`. Other commands act as the host administrator.
    #[arg(
        long,
        global = true,
        env = "RONGHE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server 启动服务.
    Serve {
        /// Address to listen on; overrides the config file and RONGHE_LISTEN.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Staff accounts, roles by duty, enrolment and personal tokens (Art. 20, 21) 账号与角色.
    #[command(subcommand, after_help = EXIT_CODES)]
    Accounts(accounts::Command),
    /// Register and manage departmental systems 部门系统登记.
    #[command(subcommand, after_help = EXIT_CODES)]
    Systems(systems::Command),
    /// Adapters to departmental systems: kinds, check, attach, probe, read 适配器.
    #[command(subcommand, after_help = EXIT_CODES)]
    Adapters(adapters::Command),
    /// Mapping configs: check, test on records, explain a field 映射.
    #[command(subcommand, after_help = EXIT_CODES)]
    Mapping(mapping::Command),
    /// Generate a system's mapping, plan draft and its mode's settings 生成映射、计划与配置.
    #[command(after_help = EXIT_CODES)]
    Generate(generate::GenerateArgs),
    /// The organisations registry mappings look agencies up in 部门库.
    #[command(subcommand, after_help = EXIT_CODES)]
    Orgs(orgs::Command),
    /// Published data-collection items and validation rules (Art. 29) 公布的规则.
    #[command(subcommand, after_help = EXIT_CODES)]
    Rules(rules::Command),
    /// Migration plans: status, critical path, baselines, Gantt 迁移计划.
    #[command(subcommand, after_help = EXIT_CODES)]
    Plans(plans::Command),
    /// Reconcile a system's day: its adapter's cases against the platform's (Art. 15); exit 1
    /// when they differ 对账.
    #[command(after_help = EXIT_CODES)]
    Reconcile(monitoring::ReconcileArgs),
    /// Draw a reproducible sample of a day's cases for spot checks and return visits 抽查.
    #[command(after_help = EXIT_CODES)]
    SpotCheck(monitoring::SpotCheckArgs),
    /// Check a system through its adapter: reachable, and schema drift against the stored probe
    /// profile with the mapping rules it breaks (Art. 15); exit 1 when unreachable or breaking 系统检查.
    #[command(after_help = EXIT_CODES)]
    Check(monitoring::CheckArgs),
    /// Return visits: a month's sample of finished cases, each call's outcome, the report 办件回访.
    #[command(subcommand, after_help = EXIT_CODES)]
    Visits(visits::Command),
    /// Change notices (Art. 16, 29, 30) 变更公告.
    #[command(subcommand, after_help = EXIT_CODES)]
    Notices(notices::Command),
    /// Throughput of the hot paths against same-run baselines 性能测试.
    #[cfg(feature = "devtools")]
    #[command(subcommand)]
    Bench(bench::Command),
    /// User bridge between platform identities and departmental accounts 用户互认.
    #[command(subcommand, after_help = EXIT_CODES)]
    Bridge(bridge::Command),
    /// Delivery to the provincial data-sharing exchange (Art. 27): status, dead letters 数据共享交换.
    #[command(subcommand, after_help = EXIT_CODES)]
    Exchange(exchange::Command),
    /// Run the simulated departmental systems until Ctrl-C 模拟部门系统.
    #[cfg(feature = "devtools")]
    Sim(sim::SimArgs),
    /// The whole journey on the embedded default: simulators, registration, assessment,
    /// generation, each mode run, delivery to the exchange; then serve until Ctrl-C 演示.
    #[cfg(feature = "devtools")]
    #[command(after_help = EXIT_CODES)]
    Demo(demo::DemoArgs),
    /// Write-back configs of systems that push cases: check, attach 办件回传.
    #[command(subcommand, after_help = EXIT_CODES)]
    Writeback(writeback::Command),
    /// The data-quality queue of records refused at intake: list, show, dismiss 数据质量队列.
    #[command(subcommand, after_help = EXIT_CODES)]
    Quality(writeback::QualityCommand),
    /// Read cases held by the platform, or import canonical cases 办件.
    #[command(subcommand, after_help = EXIT_CODES)]
    Cases(cases::Command),
    /// Check an identifier: exit 0 when valid, 1 when invalid 校验证件号码与区划代码.
    #[command(after_help = EXIT_CODES)]
    Validate {
        #[arg(value_enum)]
        kind: validate::Kind,
        value: String,
    },
    /// Working days per the State Council holiday notices 工作日计算.
    #[command(subcommand, after_help = EXIT_CODES)]
    Calendar(calendar::Command),
    /// Expert-panel assessment and the integration mode of each system (Art. 25) 专家评估.
    #[command(subcommand, after_help = EXIT_CODES)]
    Assess(assess::Command),
    /// Correction requests to providing departments (Art. 28) 校核纠错.
    #[command(subcommand, after_help = EXIT_CODES)]
    Corrections(corrections::Command),
    /// Front-end migration: applications handed to departmental systems (Art. 22) 前端迁移推送.
    #[command(subcommand, after_help = EXIT_CODES)]
    Handoff(handoff::Command),
    /// The scheduler's jobs: list, run now, runs 定时任务.
    #[command(subcommand, after_help = EXIT_CODES)]
    Scheduler(scheduler::Command),
    /// Reminders and escalations the scheduler queued (Art. 33) 提醒与督办.
    #[command(subcommand, after_help = EXIT_CODES)]
    Notifications(scheduler::NotificationsCommand),
    /// Full migration: move a system's history with checkpoints and reconciliation; exit 1 when
    /// the run is not complete 全量迁移.
    #[command(subcommand, after_help = EXIT_CODES)]
    Migrate(migrate::Command),
    /// The hash-chained audit log (Art. 21, 32): list, verify, export signed, prune 审计日志.
    #[command(subcommand, after_help = EXIT_CODES)]
    Audit(audit::Command),
    /// The node's keys over the store: what each key sealed, rotation and re-sealing (Art. 23,
    /// 32) 密钥与个人信息加密.
    #[command(subcommand, after_help = EXIT_CODES)]
    Keys(keys::Command),
}

/// A command's failure, mapped to the documented exit codes.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: the answer is no (already printed).
    No,
    /// Exit 1: refused, with the reason.
    Refused(anyhow::Error),
    /// Exit 3: something needed is unavailable.
    Failed(anyhow::Error),
    /// Exit 2: the command cannot run as configured (a job or config to fix first).
    Usage(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        Failure::Failed(err)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(err: crate::store::StoreError) -> Failure {
        use crate::store::StoreError::*;
        match err {
            NotFound { .. } | AlreadyExists { .. } | Retired(_) => Failure::Refused(err.into()),
            other => Failure::Failed(other.into()),
        }
    }
}

/// A domain rule's refusal is a refusal; the store's failure is what it is.
impl<E: std::error::Error + Send + Sync + 'static> From<crate::store::Guarded<E>> for Failure {
    fn from(err: crate::store::Guarded<E>) -> Failure {
        match err {
            crate::store::Guarded::Refused(e) => Failure::Refused(e.into()),
            crate::store::Guarded::Store(e) => e.into(),
        }
    }
}

/// Reads a config file a command was given.
fn read_config(file: &std::path::Path) -> Result<String, Failure> {
    use anyhow::Context as _;
    std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .map_err(Failure::Failed)
}

/// The answer of a `check` command: `valid`'s summary of a good config, or every problem of a
/// bad one (exit 1).
fn checked<T>(
    out: &Output,
    parsed: Result<T, Vec<ronghe_adapters::ConfigIssue>>,
    valid: impl FnOnce(&T) -> (String, serde_json::Value),
) -> Result<(), Failure> {
    match parsed {
        Ok(config) => {
            let (human, value) = valid(&config);
            out.show(human, &value);
            Ok(())
        }
        Err(issues) => Err(invalid(out, &issues)),
    }
}

/// Shows every problem of an invalid config; the command then exits 1.
fn invalid(out: &Output, issues: &[ronghe_adapters::ConfigIssue]) -> Failure {
    let lines: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
    out.show(
        format!("无效 invalid: {} problem(s)\n{}", issues.len(), lines.join("\n")),
        &serde_json::json!({ "valid": false, "issues": issues }),
    );
    Failure::No
}

/// Refuses a config with every problem in the message; `what` names the kind of config.
fn refused_config(what: &'static str) -> impl Fn(Vec<ronghe_adapters::ConfigIssue>) -> Failure {
    move |issues| {
        Failure::Refused(anyhow::anyhow!(
            "invalid {what} config: {}",
            ronghe_adapters::ConfigIssue::joined(&issues)
        ))
    }
}

/// What every command gets: output, settings, and who acts.
pub(crate) struct Context {
    out: Output,
    config_path: Option<PathBuf>,
    database: Option<String>,
    /// The host administrator's audit name, `host:USER@HOST`: commands act directly on the
    /// store as the host, recorded as such, never under a claimed name.
    actor: String,
    /// A person's personal API token, for the commands that act as a person.
    token: Option<String>,
}

impl Context {
    fn new(
        json: bool,
        config_path: Option<PathBuf>,
        database: Option<String>,
        token: Option<String>,
    ) -> Context {
        Context {
            out: Output::new(json),
            config_path,
            database,
            actor: host_principal().actor,
            token,
        }
    }

    /// The staff accounts service over `store`, with the node's keys when configured.
    fn accounts(&self, store: &Store) -> Result<crate::accounts::Accounts, Failure> {
        let keyring = self.keyring()?.map(std::sync::Arc::new);
        Ok(crate::accounts::Accounts::new(
            store.clone(),
            keyring,
            Default::default(),
        ))
    }

    /// The person acting through `--token` on the operation `method path` of the policy
    /// table: refused without a token (exit 2), with a token that is not in force, or without
    /// the operation's roles (exit 1); `system`, when given, must lie in their scope.
    async fn person(
        &self,
        store: &Store,
        method: &str,
        path: &str,
        system: Option<&crate::systems::System>,
    ) -> Result<crate::access::Principal, Failure> {
        use anyhow::anyhow;
        let Some(token) = &self.token else {
            return Err(Failure::Usage(anyhow!(
                "this command acts as a person: give your personal API token with --token or RONGHE_TOKEN (create one with `ronghe accounts token create --account ID`)"
            )));
        };
        let principal = self
            .accounts(store)?
            .token_principal(token)
            .await
            .map_err(|e| Failure::Failed(e.into()))?
            .ok_or_else(|| {
                Failure::Refused(anyhow!(
                    "the token is unknown, expired or revoked, or its account cannot act"
                ))
            })?;
        let Some(crate::access::Entry {
            access: crate::access::Access::Signed { roles, .. },
            ..
        }) = crate::access::policy::lookup(method, path)
        else {
            return Err(Failure::Failed(anyhow!("{method} {path} has no policy row")));
        };
        if !principal.holds_any(roles) {
            let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            return Err(Failure::Refused(anyhow!(
                "{} may not do this: it needs one of the roles {}",
                principal.actor,
                names.join(", ")
            )));
        }
        if let Some(system) = system
            && !principal.covers_system(roles, &system.region_code, &system.department)
        {
            return Err(Failure::Refused(anyhow!(
                "system {} lies outside the scope of {}'s roles",
                system.id,
                principal.actor
            )));
        }
        Ok(principal)
    }

    /// The resolved configuration: file, then environment, then flags.
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config_path.as_deref(), |k| std::env::var(k).ok())?;
        if let Some(url) = &self.database {
            config.database_url = url.clone();
        }
        Ok(config)
    }

    async fn store(&self) -> Result<Store, Failure> {
        let config = self.config()?;
        let options = StoreOptions {
            max_connections: 2,
            ..Default::default()
        };
        Ok(config.open_store(&options).await?.0)
    }
}

/// Parses the arguments, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let ctx = Context::new(cli.json, cli.config, cli.database, cli.token);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            ctx.out
                .error(&anyhow::Error::new(err).context("cannot start the async runtime"));
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(&ctx, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::No) => ExitCode::from(1),
        Err(Failure::Refused(err)) => {
            ctx.out.error(&err);
            ExitCode::from(1)
        }
        Err(Failure::Failed(err)) => {
            ctx.out.error(&err);
            ExitCode::from(3)
        }
        Err(Failure::Usage(err)) => {
            ctx.out.error(&err);
            ExitCode::from(2)
        }
    }
}

async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve { listen } => {
            let mut config = ctx.config()?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            crate::server::serve(config).await?;
            Ok(())
        }
        Command::Accounts(cmd) => accounts::run(ctx, cmd).await,
        Command::Systems(cmd) => systems::run(ctx, cmd).await,
        Command::Adapters(cmd) => adapters::run(ctx, cmd).await,
        Command::Bridge(cmd) => bridge::run(ctx, cmd).await,
        #[cfg(feature = "devtools")]
        Command::Sim(args) => sim::run(ctx, args).await,
        #[cfg(feature = "devtools")]
        Command::Demo(args) => demo::run(ctx, args).await,
        Command::Mapping(cmd) => mapping::run(ctx, cmd).await,
        Command::Generate(args) => generate::run(ctx, args).await,
        Command::Rules(cmd) => rules::run(ctx, cmd).await,
        Command::Orgs(cmd) => orgs::run(ctx, cmd).await,
        Command::Notices(cmd) => notices::run(ctx, cmd).await,
        Command::Plans(cmd) => plans::run(ctx, cmd).await,
        Command::Reconcile(args) => monitoring::reconcile(ctx, args).await,
        Command::SpotCheck(args) => monitoring::spot_check(ctx, args).await,
        Command::Check(args) => monitoring::check(ctx, args).await,
        Command::Visits(cmd) => visits::run(ctx, cmd).await,
        #[cfg(feature = "devtools")]
        Command::Bench(cmd) => bench::run(ctx, cmd).await,
        Command::Cases(cmd) => cases::run(ctx, cmd).await,
        Command::Writeback(cmd) => writeback::run(ctx, cmd).await,
        Command::Quality(cmd) => writeback::run_quality(ctx, cmd).await,
        Command::Exchange(cmd) => exchange::run(ctx, cmd).await,
        Command::Validate { kind, value } => validate::run(ctx, kind, &value),
        Command::Calendar(cmd) => calendar::run(ctx, cmd),
        Command::Assess(cmd) => assess::run(ctx, cmd).await,
        Command::Corrections(cmd) => corrections::run(ctx, cmd).await,
        Command::Handoff(cmd) => handoff::run(ctx, cmd).await,
        Command::Scheduler(cmd) => scheduler::run(ctx, cmd).await,
        Command::Notifications(cmd) => scheduler::notifications(ctx, cmd).await,
        Command::Migrate(cmd) => migrate::run(ctx, cmd).await,
        Command::Audit(cmd) => audit::run(ctx, cmd).await,
        Command::Keys(cmd) => keys::run(ctx, cmd).await,
    }
}

/// The host administrator: whoever runs a command on the platform's machine.
pub(crate) fn host_principal() -> crate::access::Principal {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    crate::access::Principal::host(&user, &host)
}

fn init_tracing(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("RONGHE_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
