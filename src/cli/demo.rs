//! `ronghe demo`: the whole journey on the embedded default (a SQLite store and the built-in
//! simulators). The simulated departmental systems start, the platform serves, and each system is
//! registered, attached, probed, assessed by a panel, generated for its mode and run in it — every
//! step through the same command a user would type, printed as it runs — until the cases reach the
//! simulated data-sharing exchange. Then it keeps serving until Ctrl-C (or stops with `--exit`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use clap::{Args, Parser};
use ronghe_adapters::signing::Signer;
use ronghe_adapters::sim::soap::Push;
use ronghe_crypto::MacAlgorithm;
use serde_json::{Value, json};

use super::sim::{SimSetup, Sims};
use super::{Cli, Context, Failure};

#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// The demo's own directory (store, generated files, simulators' data); replaced on each run.
    #[arg(long, default_value = "ronghe-demo")]
    dir: PathBuf,
    /// Address the platform listens on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Cases each simulated system holds.
    #[arg(long, default_value_t = 300)]
    cases: usize,
    /// Seed of the simulated cases.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Stop after the journey instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

/// A file in the demo directory that says it is ours to replace.
const MARKER: &str = ".ronghe-demo";
/// The chair and the five experts of every assessment panel.
const CHAIR: &str = "demo-chair";
/// The demo's people besides the panel: (id, name, role@scope). Their password is
/// `DEMO_PASSWORD`; each gets an authenticator secret printed at the start. Demo only.
const STAFF: [(&str, &str, &str); 6] = [
    ("demo-pm", "周项目", "project_manager@region:520100"),
    ("demo-engineer", "吴工程", "engineer@region:520100"),
    ("demo-operator", "郑运营", "operator@region:520100"),
    ("demo-gy-admin", "冯管理", "regional_admin@region:520100"),
    ("demo-zy-admin", "孙管理", "regional_admin@region:520300"),
    ("demo-auditor", "钱审计", "auditor@province"),
];
/// The password of every demo account: for the demo only, printed with the accounts.
const DEMO_PASSWORD: &str = "Ronghe-Demo-2026";
const EXPERTS: [(&str, &str); 5] = [
    ("expert-1", "张工"),
    ("expert-2", "李工"),
    ("expert-3", "王工"),
    ("expert-4", "赵工"),
    ("expert-5", "陈工"),
];
/// Each simulated system with the criterion-group levels the panel sees in it (other groups
/// score 3), and so the mode it lands in: an ordinary REST system (front-end migration), a
/// complex SOAP system hard to connect (compatible transition), a weakly supported single-line
/// database system (full migration).
const PANEL_VIEWS: [(&str, &[(&str, u8)]); 3] = [
    ("sim-rest", &[]),
    (
        "sim-soap",
        &[("process", 4), ("integration", 4), ("interface", 2)],
    ),
    ("sim-sql", &[("support", 2), ("business", 1)]),
];
/// The reviewed mappings shipped with ronghe; the demo uses them in place of the proposals,
/// as an integration engineer would after review.
const REVIEWED_MAPPINGS: [(&str, &str); 3] = [
    ("sim-rest", include_str!("../../mappings/sim-rest.toml")),
    ("sim-soap", include_str!("../../mappings/sim-soap.toml")),
    ("sim-sql", include_str!("../../mappings/sim-sql.toml")),
];

pub(super) async fn run(ctx: &Context, args: DemoArgs) -> Result<(), Failure> {
    let dir = fresh_dir(&args.dir)?;
    let sims_dir = dir.join("sim");
    std::fs::create_dir_all(&sims_dir).context("cannot create the simulators' directory")?;
    section(ctx, "1. 模拟部门系统 simulated departmental systems");
    let setup = SimSetup {
        seed: args.seed,
        cases: args.cases,
        rest_port: 0,
        soap_port: 0,
        exchange_port: 0,
    };
    let sims = Sims::start(&sims_dir, &setup, None).await?;
    for s in &sims.systems {
        ctx.out
            .note(&format!("  {} {} ({}) {}", s.id, s.name, s.kind, s.url));
    }
    ctx.out.note(&format!(
        "  数据共享交换平台 exchange: {}",
        sims.exchange.endpoint()
    ));

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let base = format!(
        "http://{}",
        listener.local_addr().context("listener has no address")?
    );
    let config_file = dir.join("ronghe.toml");
    write(
        &dir.join(KEY_FILE),
        &hex::encode(crate::access::secret::random_bytes::<32>().map_err(|e| Failure::Failed(e.into()))?),
    )?;
    let calendar_note = provisional_calendar(&dir)?;
    write(
        &config_file,
        &config_toml(&dir, ctx.database.as_deref(), &sims.exchange.endpoint()),
    )?;
    let config = crate::config::Config::load(Some(&config_file), |_| None)?;
    let exit = args.exit;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(crate::server::serve_on(config, listener, shutdown.clone()));
    ctx.out.note(&calendar_note);
    let journey = Journey {
        json: ctx.out.is_json(),
        config: config_file,
        dir: dir.clone(),
        base,
        tokens: std::sync::Mutex::new(std::collections::HashMap::new()),
    };
    let outcome = journey.run(ctx, &sims).await;
    if outcome.is_ok() && !exit {
        ctx.out.note(&journey.closing());
    }
    if exit {
        shutdown.cancel();
    } else {
        // Serves on until SIGINT or SIGTERM.
        crate::server::cancel_on_signal(shutdown);
    }
    let served = server.await.context("the server task failed")?;
    sims.stop().await;
    outcome?;
    served.map_err(Failure::Failed)
}

/// The demo directory, emptied if it is a previous demo's, created if absent; refused otherwise.
fn fresh_dir(dir: &Path) -> Result<PathBuf, Failure> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            return Err(Failure::Refused(anyhow!(
                "{} exists and is not a ronghe demo directory (no {MARKER}); choose another --dir",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write(
        &dir.join(MARKER),
        "ronghe demo: replaced by each `ronghe demo` run\n",
    )?;
    Ok(std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The demo's settings: its own SQLite store unless `--database` names another (an empty one).
fn config_toml(dir: &Path, database: Option<&str>, exchange: &str) -> String {
    let database = database.map_or_else(
        || format!("sqlite://{}", dir.join("ronghe.db").display()),
        str::to_owned,
    );
    format!(
        "# ronghe demo: the platform's settings, written by `ronghe demo`\n\
         database_url = \"{database}\"\nmappings_dir = \"mappings\"\ncalendar_override = \"{PROVISIONAL_CALENDAR}\"\n\n\
         [exchange]\nurl = \"{exchange}\"\n\n\
         # the node's keys: seal applicants' data, staff accounts and bridge identities with SM4-GCM (国密)\n\
         # (demo only: a random key in a file)\n\
         [bridge]\nactive_key = \"demo\"\n[[bridge.keys]]\nid = \"demo\"\nsecret = \"file:{key}\"\ncipher = \"sm4-gcm\"\n",
        key = dir.join(KEY_FILE).display()
    )
}

/// The demo node's key (64 hex characters), written fresh by each run.
const KEY_FILE: &str = "node.key";

/// The demo's working-day override: the years after the embedded calendar, weekends only.
const PROVISIONAL_CALENDAR: &str = "calendar-provisional.toml";

/// Plans drafted today run past the embedded calendar's last year, which ronghe refuses to
/// guess; the demo (and only the demo) says so and counts those years' weekends only.
fn provisional_calendar(dir: &Path) -> anyhow::Result<String> {
    let last = crate::calendar::Calendar::embedded()
        .years()
        .max()
        .unwrap_or(2026);
    let years: Vec<i32> = (last + 1..=last + 2).collect();
    let mut text = format!(
        "# 演示用 for the demo only: the State Council has not published (to this build) the holiday\n\
         # arrangements of {years:?}; these years count weekends only. Replace them with the notice's\n\
         # days (same shape as data/cn-workdays.toml) before planning for real.\n"
    );
    for year in &years {
        text.push_str(&format!(
            "\n[years.{year}]\nholidays = []\nmakeup_workdays = []\n"
        ));
    }
    write(&dir.join(PROVISIONAL_CALENDAR), &text)?;
    Ok(format!(
        "  注意 note: 内置日历止于 {last} 年;演示按周末计算 {years:?} 年的工作日 (the embedded calendar ends in {last}; the demo counts {years:?} by weekends only: {PROVISIONAL_CALENDAR})"
    ))
}

fn section(ctx: &Context, title: &str) {
    ctx.out.note(&format!("\n== {title} =="));
}

/// The demo's steps, each a `ronghe` command run in this process against the demo's config.
struct Journey {
    json: bool,
    config: PathBuf,
    dir: PathBuf,
    base: String,
    /// Each demo person's personal API token, from their sign-in.
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Journey {
    async fn run(&self, ctx: &Context, sims: &Sims) -> Result<(), Failure> {
        self.wait_ready().await?;
        self.people(ctx).await?;
        section(ctx, "3. 登记与接入 register, attach, probe");
        for s in &sims.systems {
            let add = [
                "systems",
                "add",
                "--id",
                s.id,
                "--name",
                s.name,
                "--department",
                s.department,
            ];
            let rest = ["--region", "520100", "--protocol", s.kind, "--endpoint", &s.url];
            self.step(ctx, None, &[&add[..], &rest[..]].concat()).await?;
            let config = s.config.display().to_string();
            self.step(ctx, None, &["adapters", "attach", s.id, &config])
                .await?;
            self.step(ctx, None, &["adapters", "probe", s.id]).await?;
        }

        section(ctx, "4. 专家评估 expert-panel assessment (Art. 24, 25)");
        for (system, view) in PANEL_VIEWS {
            self.assess(ctx, system, view).await?;
        }
        self.step(ctx, None, &["assess", "portfolio"]).await?;

        section(
            ctx,
            "5. 生成映射、计划与配置 generate mappings, plans and settings",
        );
        for (system, reviewed) in REVIEWED_MAPPINGS {
            self.step(ctx, None, &["generate", system]).await?;
            let mapping = self.path(&format!("mappings/{system}.toml"));
            write(Path::new(&mapping), reviewed)?;
            ctx.out.note(&format!(
                "  (审核后的映射 the reviewed mapping shipped in mappings/{system}.toml replaces the proposal)"
            ));
            self.step(ctx, None, &["mapping", "check", &mapping]).await?;
            let plan = self.path(&format!("migration-plans/{system}.toml"));
            self.step(ctx, None, &["plans", "import", &plan]).await?;
            self.step(
                ctx,
                Some("demo-pm"),
                &["plans", "baseline", system, "--approved-by", "周项目(项目经理)"],
            )
            .await?;
        }
        self.step(ctx, None, &["plans", "list"]).await?;

        section(
            ctx,
            "6. 前端迁移 front-end migration: sim-rest, status synced by pull",
        );
        let rest_settings = self.writeback_settings("sim-rest")?;
        self.step(
            ctx,
            None,
            &["writeback", "attach", "sim-rest", &rest_settings.file],
        )
        .await?;
        self.step(ctx, None, &["writeback", "pull", "sim-rest"]).await?;
        self.hand_off(ctx).await?;
        let day = self.last_pulled_day("sim-rest").await?;
        self.step(ctx, None, &["reconcile", "sim-rest", "--date", &day])
            .await?;
        self.step(
            ctx,
            None,
            &[
                "spot-check",
                "sim-rest",
                "--date",
                &day,
                "--size",
                "3",
                "--seed",
                "2025",
            ],
        )
        .await?;

        section(
            ctx,
            "7. 兼容过渡 compatible transition: sim-soap writes completed cases back (SOAP, GBK)",
        );
        let soap_settings = self.writeback_settings("sim-soap")?;
        self.step(
            ctx,
            None,
            &["writeback", "attach", "sim-soap", &soap_settings.file],
        )
        .await?;
        let intake = format!("{}/soap/sim-soap/writeback", self.base);
        let signer = Signer::new(
            soap_settings.key_id,
            MacAlgorithm::HmacSm3,
            soap_settings.secret.into_bytes(),
        );
        let pushed = sims
            .soap
            .push_completed(&Push::new(&intake, Some(signer)))
            .await
            .context("the SOAP simulator could not write back its completed cases")?;
        ctx.out.note(&format!(
            "\n  sim-soap 回传 wrote back {pushed} completed case(s) to {intake} (HMAC-SM3 signed)"
        ));

        section(
            ctx,
            "8. 全流程迁移 full migration: sim-sql's history in checkpointed chunks, reconciled",
        );
        let job = self.path("integration/sim-sql/migration-job.toml");
        self.step(ctx, None, &["migrate", "run", "sim-sql", "--job", &job])
            .await?;
        self.step(ctx, None, &["plans", "show", "sim-sql"]).await?;

        section(ctx, "9. 数据共享交换 the data-sharing exchange (Art. 27)");
        self.wait_delivered().await?;
        self.step(ctx, None, &["exchange", "status"]).await?;
        ctx.out.note(&format!(
            "  交换平台已收到 the exchange simulator holds {} case version(s)",
            sims.exchange.facts().len()
        ));

        section(
            ctx,
            "10. 调度与提醒 the scheduler: plans, correction deadlines, daily reconciliation (Art. 33)",
        );
        self.step(ctx, None, &["scheduler", "run", "all", "--once"])
            .await?;
        self.step(ctx, None, &["notifications", "list"]).await?;
        Ok(())
    }

    /// The Beijing day of the last case a pull of `system` read (its checkpoint's time).
    async fn last_pulled_day(&self, system: &str) -> Result<String, Failure> {
        let config = crate::config::Config::load(Some(&self.config), |_| None)?;
        let (store, _) = config.open_store(&Default::default()).await?;
        let states = store.pull_states().await;
        store.close().await;
        let checkpoint = states?
            .into_iter()
            .find(|s| s.system_id == system)
            .and_then(|s| s.checkpoint)
            .ok_or_else(|| Failure::Failed(anyhow!("{system} has no pull checkpoint")))?;
        let at = serde_json::from_str::<(String, Value)>(&checkpoint)
            .ok()
            .and_then(|(at, _)| chrono::DateTime::parse_from_rfc3339(&at).ok())
            .ok_or_else(|| Failure::Failed(anyhow!("{system}'s checkpoint {checkpoint} holds no time")))?;
        Ok(crate::calendar::beijing_date(&at).to_string())
    }

    /// An online application accepted on the platform and handed to sim-rest (Art. 22): the
    /// platform answers 202 at once; the hand-off worker delivers it.
    async fn hand_off(&self, ctx: &Context) -> Result<(), Failure> {
        let now = crate::calendar::beijing_time(&chrono::Utc::now()).to_rfc3339();
        let case_no = format!("WS-{}-0001", crate::calendar::today().format("%Y%m%d"));
        let application = json!({
            "case_no": case_no, "version": 1,
            "implementation_code": "11520000009390240A4520117005000", "item_name": "食品经营许可",
            "case_type": "promised", "channel": "online", "region_code": "520102016",
            "applicant": {
                "name": "贵州黔味食品有限公司", "kind": "legal_person",
                "certificate_type": "unified_social_credit_code", "certificate_no": "91520100MA6DK0L1TJ",
                "legal_representative": "陈七"
            },
            "applied_at": now, "stage": "application", "updated_at": now
        });
        let url = format!("{}/api/v1/systems/sim-rest/applications", self.base);
        ctx.out.note(&format!(
            "\n$ curl -X POST {url} -d '{{\"case_no\": \"{case_no}\", …}}'   # 网上申请 an online application"
        ));
        let http = reqwest::Client::new();
        let operator = self.token("demo-operator")?;
        let accepted = http
            .post(&url)
            .bearer_auth(&operator)
            .json(&application)
            .send()
            .await
            .context("cannot submit the application")?;
        ctx.out.note(&format!(
            "  {} 已受理 accepted; 推送部门系统中 handing off to sim-rest",
            accepted.status()
        ));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let shown: Value = http
                .get(format!("{url}/{case_no}"))
                .bearer_auth(&operator)
                .send()
                .await
                .context("cannot read the hand-off")?
                .json()
                .await
                .context("cannot read the hand-off")?;
            if shown["state"] == "delivered" {
                ctx.out.note(&format!(
                    "  已推送 delivered to sim-rest after {} attempt(s); receipt {}",
                    shown["attempts"], shown["receipt"]
                ));
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Failure::Failed(anyhow!(
                    "the application was not handed off within 60 s: {shown}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A five-expert panel scores `system` as `view` says; the chair gives the verdict.
    async fn assess(&self, ctx: &Context, system: &str, view: &[(&str, u8)]) -> Result<(), Failure> {
        let assessment = format!("{system}.1");
        self.step(ctx, None, &["assess", "open", system, "--chair", CHAIR])
            .await?;
        for (expert, name) in EXPERTS {
            let add = [
                "assess",
                "experts",
                "add",
                &assessment,
                "--expert",
                expert,
                "--name",
                name,
            ];
            self.step(
                ctx,
                Some(CHAIR),
                &[&add[..], &["--department", "省大数据局"][..]].concat(),
            )
            .await?;
            self.step(
                ctx,
                Some(expert),
                &["assess", "experts", "declare", &assessment, "--none"],
            )
            .await?;
        }
        for (e, (expert, _)) in EXPERTS.iter().enumerate() {
            let file = self.path(&format!("assessments/{system}-{expert}.toml"));
            write(Path::new(&file), &scores_toml(view, e))?;
            self.step(ctx, Some(expert), &["assess", "score", &assessment, &file])
                .await?;
        }
        self.step(ctx, Some(CHAIR), &["assess", "verdict", &assessment])
            .await
    }

    /// The generated write-back settings of `system`, with the key created as the file's
    /// comment says (here a file next to it instead of an environment variable).
    fn writeback_settings(&self, system: &str) -> Result<WritebackSettings, Failure> {
        let file = self.path(&format!("integration/{system}/writeback.toml"));
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {file}"))?;
        let parsed: toml::Value = toml::from_str(&text).with_context(|| format!("cannot parse {file}"))?;
        let key = &parsed["keys"][0];
        let (Some(key_id), Some(reference)) = (key["id"].as_str(), key["secret"].as_str()) else {
            return Err(Failure::Failed(anyhow!("{file} names no key")));
        };
        let secret = crate::store::random_id("demo")?;
        let key_file = self.path(&format!("integration/{system}/writeback.key"));
        write(Path::new(&key_file), &secret)?;
        write(
            Path::new(&file),
            &text.replace(reference, &format!("file:{key_file}")),
        )?;
        Ok(WritebackSettings {
            file,
            key_id: key_id.to_owned(),
            secret,
        })
    }

    /// Polls the exchange status until nothing waits for delivery, with a deadline.
    async fn wait_delivered(&self) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let http = reqwest::Client::new();
        let operator = self.token("demo-operator")?;
        loop {
            let status: Value = http
                .get(format!("{}/api/v1/exchange/status", self.base))
                .bearer_auth(&operator)
                .send()
                .await
                .context("cannot read the exchange status")?
                .json()
                .await
                .context("cannot read the exchange status")?;
            if status["backlog"] == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Failure::Failed(anyhow!(
                    "cases still wait for the exchange after 120 s: {status}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// An absolute path in the demo directory.
    fn path(&self, relative: &str) -> String {
        self.dir.join(relative).display().to_string()
    }

    /// A demo person's token.
    fn token(&self, person: &str) -> Result<String, Failure> {
        self.tokens
            .lock()
            .map_err(|_| Failure::Failed(anyhow!("the demo's tokens are poisoned")))?
            .get(person)
            .cloned()
            .ok_or_else(|| Failure::Failed(anyhow!("demo person {person} has no token")))
    }

    /// The demo's people: the host bootstraps a platform administrator and creates the panel,
    /// a project manager, an engineer, an operator, two regional administrators and an auditor;
    /// each enrols from their one-time link, confirms an authenticator (the demo plays the app),
    /// signs in with password and code and creates a personal API token, all through the API.
    async fn people(&self, ctx: &Context) -> Result<(), Failure> {
        section(
            ctx,
            "2. 账号 staff accounts (Art. 20, 21) — 仅供演示 demo accounts only",
        );
        let config = crate::config::Config::load(Some(&self.config), |_| None)?;
        let (store, keyring) = config.open_store(&Default::default()).await?;
        let accounts = crate::accounts::Accounts::new(store.clone(), keyring, Default::default());
        let host = super::host_principal();
        let mut people: Vec<(String, String, String)> = vec![(
            "demo-admin".into(),
            "林平台".into(),
            "platform_admin@province".into(),
        )];
        people.push((CHAIR.into(), "何主任".into(), "expert@province".into()));
        people.extend(
            EXPERTS
                .iter()
                .map(|(id, name)| ((*id).into(), (*name).into(), "expert@province".into())),
        );
        people.extend(
            STAFF
                .iter()
                .map(|(id, name, role)| ((*id).into(), (*name).into(), (*role).into())),
        );
        let http = reqwest::Client::new();
        let mut rows = Vec::new();
        for (n, (id, name, role)) in people.iter().enumerate() {
            let first_17 = format!("52010219850101{:03}", 100 + n);
            let new = crate::accounts::NewAccount {
                id: id.clone(),
                name: name.clone(),
                resident_id: format!("{first_17}{}", crate::validate::check_character(&first_17)),
                mobile: format!("138{:08}", n),
                agency: "贵州省政务服务中心(演示)".into(),
                region: "520000".into(),
                grants: vec![super::accounts::parse_grant(role)?],
                approved_by: None,
                reason: "演示账号 demo account".into(),
            };
            let link = if n == 0 {
                accounts.bootstrap(&host, new).await
            } else {
                accounts.create(&host, new).await
            }
            .map_err(|e| Failure::Failed(e.into()))?;
            let (secret, token) = self.enrol_and_sign_in(&http, &link).await?;
            rows.push(vec![id.clone(), name.clone(), role.clone(), secret]);
            self.tokens
                .lock()
                .map_err(|_| Failure::Failed(anyhow!("the demo's tokens are poisoned")))?
                .insert(id.clone(), token);
        }
        store.close().await;
        ctx.out.note(&format!(
            "$ ronghe accounts bootstrap --id demo-admin …; ronghe accounts create --id … --role ROLE@SCOPE …
  每人经一次性登记链接设置密码、绑定验证器,再以密码+动态口令登录并创建个人令牌 (POST /api/v1/auth/enrolment, /enrolment/confirm, /auth/sign-in, /me/tokens)
  演示密码 demo password (all): {DEMO_PASSWORD}
  网页控制台 the web console: {}/ — 用下表任一账号登录 sign in as any account below (code: the TOTP secret in an authenticator app, or `oathtool --totp -b SECRET`)",
            self.console()
        ));
        ctx.out.table(
            &[
                "账号 ACCOUNT",
                "姓名 NAME",
                "角色 ROLE@SCOPE",
                "验证器密钥 TOTP SECRET (base32)",
            ],
            rows,
            &serde_json::json!({}),
        );
        Ok(())
    }

    /// Enrols one person from their link through the API and gives their TOTP secret (base32)
    /// and a personal API token.
    async fn enrol_and_sign_in(
        &self,
        http: &reqwest::Client,
        link: &crate::accounts::EnrolmentLink,
    ) -> Result<(String, String), Failure> {
        let api = |path: &str| format!("{}/api/v1{path}", self.base);
        let answer = |response: reqwest::Response| async move {
            let status = response.status();
            let body: Value = response.json().await.context("unreadable answer")?;
            if status.is_success() {
                Ok(body)
            } else {
                Err(Failure::Failed(anyhow!("{status}: {body}")))
            }
        };
        let setup = answer(
            http.post(api("/auth/enrolment"))
                .json(&json!({"token": link.token, "password": DEMO_PASSWORD}))
                .send()
                .await
                .context("cannot enrol")?,
        )
        .await?;
        let secret_b32 = setup["secret"].as_str().unwrap_or_default().to_owned();
        let secret = crate::access::secret::totp_secret_from_base32(&secret_b32)
            .map_err(|e| Failure::Failed(e.into()))?;
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        let code = |at: u64| {
            crate::access::secret::totp_code(&secret, &link.account, at)
                .map_err(|e| Failure::Failed(e.into()))
        };
        // Each code works once. The authenticator's previous code confirms it (one step of skew
        // is allowed) and the current one signs in, so the person's next code works for them at
        // once; should the clock have turned a step meanwhile, the current code confirms and the
        // next one signs in.
        let confirm = |code: String| {
            let body = json!({"token": link.token, "code": code});
            async move {
                http.post(api("/auth/enrolment/confirm"))
                    .json(&body)
                    .send()
                    .await
                    .context("cannot confirm the authenticator")
            }
        };
        let mut confirmed = now - 30;
        if !confirm(code(confirmed)?).await?.status().is_success() {
            confirmed = now;
            answer(confirm(code(confirmed)?).await?).await?;
        }
        let signed = http
            .post(api("/auth/sign-in"))
            .json(&json!({"account": link.account, "password": DEMO_PASSWORD, "code": code(confirmed + 30)?}))
            .send()
            .await
            .context("cannot sign in")?;
        let cookie = signed
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_owned();
        let session = answer(signed).await?;
        let issued = answer(
            http.post(api("/me/tokens"))
                .header(reqwest::header::COOKIE, cookie)
                .header(
                    crate::server::CSRF_HEADER,
                    session["csrf_token"].as_str().unwrap_or_default(),
                )
                .json(&json!({"name": "demo", "days": 30}))
                .send()
                .await
                .context("cannot create a token")?,
        )
        .await?;
        Ok((
            secret_b32,
            issued["secret"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// Runs `ronghe ARGS` (as the demo person `actor`, with their token, when given) and stops
    /// the demo if it fails.
    async fn step(&self, ctx: &Context, actor: Option<&str>, args: &[&str]) -> Result<(), Failure> {
        let shown = args
            .iter()
            .map(|a| shell_word(&a.replace(&format!("{}/", self.dir.display()), "")))
            .collect::<Vec<_>>()
            .join(" ");
        let who = actor
            .map(|a| format!("--token <{a} 的令牌 token> "))
            .unwrap_or_default();
        ctx.out.note(&format!("\n$ ronghe {who}{shown}"));
        let mut argv: Vec<String> = vec![
            "ronghe".into(),
            "--config".into(),
            self.config.display().to_string(),
        ];
        if self.json {
            argv.push("--json".into());
        }
        if let Some(actor) = actor {
            argv.extend(["--token".into(), self.token(actor)?]);
        }
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let cli =
            Cli::try_parse_from(&argv).map_err(|e| Failure::Failed(anyhow!("demo step {shown}: {e}")))?;
        let step = super::Context::new(cli.json, cli.config, cli.database, cli.token);
        match Box::pin(super::run(&step, cli.command)).await {
            Ok(()) => Ok(()),
            Err(Failure::No) => Err(Failure::Failed(anyhow!("demo step `ronghe {shown}` answered no"))),
            Err(Failure::Refused(e) | Failure::Failed(e) | Failure::Usage(e)) => Err(Failure::Failed(
                e.context(format!("demo step `ronghe {shown}` failed")),
            )),
        }
    }

    /// Polls the platform's readiness, with a deadline.
    async fn wait_ready(&self) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = reqwest::Client::new();
        loop {
            let ready = http.get(format!("{}/readyz", self.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Failure::Failed(anyhow!(
                    "the platform at {} was not ready within 60 s",
                    self.base
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The web console's address: browsers keep its secure cookies for `localhost` over plain
    /// HTTP, and passkeys are bound to that host.
    fn console(&self) -> String {
        self.base.replace("://127.0.0.1:", "://localhost:")
    }

    /// Where to look next, while the platform keeps serving.
    fn closing(&self) -> String {
        let base = &self.base;
        let token = self.token("demo-admin").unwrap_or_default();
        let console = self.console();
        format!(
            "\n== 完成 done ==\n平台运行中 the platform is serving at {base} (Ctrl-C 停止 to stop).\n\
             网页控制台 the web console: {console}/ — 用上表任一演示账号登录 sign in as any demo account above (password {DEMO_PASSWORD})\n\
             每个请求都须登录 every call needs a signed-in person; demo-admin's token (仅供演示 demo only):\n  \
             export RONGHE_TOKEN={token}\n  \
             curl -H \"Authorization: Bearer $RONGHE_TOKEN\" {base}/api/v1/assessments/portfolio\n  \
             (also /api/v1/plans, /api/v1/plans/sim-sql/gantt.svg, /api/v1/exchange/status, /metrics, /api/v1/audit as demo-auditor)\n  \
             sign in as a person: POST {base}/api/v1/auth/sign-in {{\"account\", \"password\", \"code\"}} (password {DEMO_PASSWORD}, code from the TOTP secret above)\n\
             命令行 the CLI on this demo: ronghe --config {} plans show sim-rest\n",
            self.config.display()
        )
    }
}

/// What the demo needs of a system's write-back settings.
struct WritebackSettings {
    file: String,
    key_id: String,
    secret: String,
}

/// An expert's scores file: each criterion at its group's level in `view` (3 otherwise),
/// spread by one step over the panel so that the experts agree without being identical.
fn scores_toml(view: &[(&str, u8)], expert: usize) -> String {
    const OFFSETS: [i8; 5] = [0, 1, 0, -1, 0];
    let rubric = ronghe_assessment::rubric::Rubric::builtin();
    let mut text = String::from("[scores]\n");
    for (i, criterion) in rubric.spec.criteria.iter().enumerate() {
        let level = view
            .iter()
            .find(|(g, _)| *g == criterion.group)
            .map_or(3, |(_, l)| *l);
        let score = (level as i8 + OFFSETS[(expert + i) % 5]).clamp(1, 5);
        text.push_str(&format!("{} = {score}\n", criterion.id));
    }
    text
}

/// A word as a shell would need it quoted.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./:@=,".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
