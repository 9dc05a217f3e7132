//! Helpers shared by the integration tests: fixtures, and fresh stores on SQLite and PostgreSQL.
#![allow(dead_code, unreachable_pub)] // each test target uses a different part

pub mod answer_keys;
pub mod binary;
pub mod browser;
pub mod console;
pub mod passkey;
pub mod verdict;

use std::collections::HashMap;
use std::sync::Arc;

use ronghe::bridge::{Bridge, BridgeKeysConfig, KeyConfig, Keyring};
use ronghe::case::Case;
use ronghe::store::{Pool, Store, StoreOptions};
use ronghe::systems::{NewSystem, System};
use ronghe_adapters::sim::SimOptions;
use ronghe_adapters::sim::rest::{self, RestSim};
use ronghe_adapters::sim::soap::{self, SoapSim};
use ronghe_adapters::{Adapter, AdapterConfig, Fixed};
use ronghe_crypto::Cipher;

/// A canonical case from `tests/data/`.
pub fn case(name: &str) -> Case {
    let path = format!("{}/tests/data/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not a case: {e}"))
}

/// A valid registration for a REST system with this id.
pub fn new_system(id: &str) -> NewSystem {
    NewSystem {
        id: id.to_owned(),
        name: "市场监管许可系统".to_owned(),
        department: "贵阳市市场监督管理局".to_owned(),
        region_code: "520100".to_owned(),
        protocol: "rest".to_owned(),
        endpoint: "http://127.0.0.1:9001/api".to_owned(),
        credentials_ref: Some("env:GY_SCJG_API_KEY".to_owned()),
        secret: false,
    }
}

pub fn system(id: &str) -> System {
    new_system(id)
        .validate(chrono::Utc::now())
        .expect("fixture system is valid")
}

/// The bridge secret every test system presents.
pub const SYSTEM_SECRET: &str = "s3cret-of-the-system";

/// The `[bridge]` table with keys `ids` (secrets `env:BRIDGE_KEY_<ID>`), `active` the active one.
pub fn bridge_keys(active: &str, ids: &[(&str, Cipher)]) -> BridgeKeysConfig {
    BridgeKeysConfig {
        active_key: active.to_owned(),
        keys: ids
            .iter()
            .map(|(id, cipher)| KeyConfig {
                id: (*id).to_owned(),
                secret: ronghe_adapters::SecretRef(format!("env:BRIDGE_KEY_{}", id.to_uppercase())),
                cipher: *cipher,
            })
            .collect(),
    }
}

/// The master secret of key `id` in these tests: 64 hex characters.
pub fn key_secret(id: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(id.as_bytes()))
}

/// Fixed secrets: every key of `keys`, and the systems' `env:SYSTEM_SECRET`.
pub fn bridge_secrets(keys: &BridgeKeysConfig) -> ronghe_adapters::Fixed {
    let mut secrets: HashMap<String, String> = keys
        .keys
        .iter()
        .map(|k| (k.secret.0.clone(), key_secret(&k.id)))
        .collect();
    secrets.insert("env:SYSTEM_SECRET".to_owned(), SYSTEM_SECRET.to_owned());
    ronghe_adapters::Fixed(secrets)
}

/// `store` sealing applicants' personal values with these keys (issue 20).
pub fn sealed(store: Store, active: &str, ids: &[(&str, Cipher)]) -> Store {
    let keys = bridge_keys(active, ids);
    let keyring = Keyring::build(&keys, &bridge_secrets(&keys)).expect("test keys build");
    store.sealed_with(Arc::new(keyring))
}

/// The bridge over `store` with these keys.
pub fn bridge(store: &Store, keys: &BridgeKeysConfig) -> Bridge {
    let secrets = bridge_secrets(keys);
    let keyring = Keyring::build(keys, &secrets).expect("test bridge keys build");
    Bridge::new(store.clone(), Arc::new(keyring), Arc::new(secrets))
}

/// A bridge config: `minimum_level`, `signature`, one callback URL, credentials
/// `env:SYSTEM_SECRET`, and the attributes a system typically asks for.
pub fn bridge_config(minimum_level: &str, signature: &str, callback: &str) -> String {
    format!(
        r#"minimum_level = "{minimum_level}"
ticket_lifetime_seconds = 60
signature = "{signature}"
callback_urls = ["{callback}"]

[credentials]
type = "basic"
secret = "env:SYSTEM_SECRET"

[[attributes]]
source = "name"
field = "userName"

[[attributes]]
source = "certificate_no"
field = "idNo"

[[attributes]]
source = "kind"
field = "userType"
codes = {{ natural_person = "1", legal_person = "2" }}
"#
    )
}

/// A platform identity of a natural person, as the real-name system sends it.
pub fn identity(user_id: &str, name: &str, resident_id: &str, level: &str) -> serde_json::Value {
    serde_json::json!({
        "user_id": user_id, "kind": "natural_person", "name": name,
        "certificate_type": "resident_id", "certificate_no": resident_id, "level": level,
    })
}

/// A store on a new SQLite file in `dir`.
pub async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("ronghe.db").display());
    Store::open(&url, &StoreOptions::default())
        .await
        .expect("open SQLite store")
}

/// The PostgreSQL server the tests use. Fails loudly, saying how to start one, when unset.
pub fn pg_admin_url() -> String {
    std::env::var("RONGHE_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "RONGHE_TEST_PG_URL is not set. These tests need a PostgreSQL server: run `.ci/run` \
             (it starts one), or start one yourself and export \
             RONGHE_TEST_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres"
        )
    })
}

/// The URL of a new, empty PostgreSQL database on the test server.
pub async fn fresh_pg_url() -> String {
    fresh_database::<sqlx::PgConnection>(&pg_admin_url()).await
}

/// The URL of a new, empty database on the MariaDB test server (RONGHE_TEST_MYSQL_URL).
pub async fn fresh_mysql_url() -> String {
    let admin = std::env::var("RONGHE_TEST_MYSQL_URL").unwrap_or_else(|_| {
        panic!(
            "RONGHE_TEST_MYSQL_URL is not set. This test needs a MariaDB server: run `.ci/run` or \
             `scripts/test` (they start one), or start one yourself and export \
             RONGHE_TEST_MYSQL_URL=mysql://root@127.0.0.1:PORT/ronghe_test"
        )
    });
    fresh_database::<sqlx::MySqlConnection>(&admin).await
}

/// Creates a new, empty database on the server at `admin` and returns its URL.
async fn fresh_database<C: sqlx::Connection>(admin: &str) -> String
where
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    use sqlx::Executor as _;
    let mut conn = C::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {admin}: {e}; is the server running?"));
    let name = format!("ronghe_test_{}", uuid_like());
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create test database");
    let mut url = url::Url::parse(admin).expect("the test server's URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// A store on a new PostgreSQL database.
pub async fn pg_store() -> Store {
    Store::open(&fresh_pg_url().await, &StoreOptions::default())
        .await
        .expect("open PostgreSQL store")
}

/// A name unique across test processes and threads.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

// ---------------------------------------------------------------------------------------------
// Assessment fixtures
// ---------------------------------------------------------------------------------------------

/// How a panel sees a system: a level per rubric group (groups not named score 3).
pub type Profile = &'static [(&'static str, u8)];

/// An ordinary system: front-end migration.
pub const ORDINARY: Profile = &[];
/// Weak support, a single business line: full migration.
pub const WEAK_AND_SINGLE: Profile = &[("support", 2), ("business", 1)];
/// Complex process, hard to connect: compatible transition.
pub const COMPLEX_AND_HARD: Profile = &[("process", 4), ("integration", 4), ("interface", 2)];

/// Expert `expert`'s scores (criterion id, level) for a system seen as `profile`: each criterion's
/// five scores are {level−1, level, level, level, level+1} (clamped to 1–5), spread over the
/// experts differently per criterion, so the panel agrees and the trimmed mean is the level.
pub fn expert_scores(profile: Profile, expert: usize) -> Vec<(String, u8)> {
    const OFFSETS: [i8; 5] = [0, 1, 0, -1, 0];
    ronghe_assessment::rubric::Rubric::builtin()
        .spec
        .criteria
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let level = profile.iter().find(|(g, _)| *g == c.group).map_or(3, |(_, l)| *l);
            let offset = OFFSETS[(expert + i) % 5];
            (c.id.clone(), (level as i8 + offset).clamp(1, 5) as u8)
        })
        .collect()
}

/// The same as a domain sheet, with a reason on the first criterion.
pub fn expert_sheet(profile: Profile, expert: usize) -> ronghe_assessment::panel::Sheet {
    let scores = expert_scores(profile, expert);
    let mut sheet = ronghe_assessment::panel::Sheet::default();
    sheet
        .reasons
        .insert(scores[0].0.clone(), format!("专家{expert}的理由"));
    sheet.scores = scores.into_iter().map(|(c, l)| (c, Some(l))).collect();
    sheet
}

/// (actor, action) of every audit event on `target`, oldest first, on either backend.
pub async fn audit_trail(store: &Store, target: &str) -> Vec<(String, String)> {
    const SQL: &str = "SELECT actor, action FROM audit_events WHERE target = $1 ORDER BY id";
    match store.pool() {
        Pool::Sqlite(pool) => sqlx::query_as(SQL).bind(target).fetch_all(pool).await,
        Pool::Postgres(pool) => sqlx::query_as(SQL).bind(target).fetch_all(pool).await,
    }
    .expect("read the audit log")
}

/// A running REST simulator holding `cases` cases, and a driver configured for it.
pub async fn rest_sim(cases: usize) -> (RestSim, Box<dyn Adapter>) {
    let sim = RestSim::start(&SimOptions {
        cases,
        ..Default::default()
    })
    .await
    .expect("start the REST simulator");
    let config = rest::adapter_config(&sim.running.url(), "env:SIM_REST_KEY");
    let secrets = Fixed([("env:SIM_REST_KEY".to_owned(), rest::API_KEY.to_owned())].into());
    let adapter = build(&config, &secrets).await;
    (sim, adapter)
}

/// A running SOAP simulator holding `cases` cases, and a driver configured for it.
pub async fn soap_sim(cases: usize) -> (SoapSim, Box<dyn Adapter>) {
    let sim = SoapSim::start(&SimOptions {
        cases,
        ..Default::default()
    })
    .await
    .expect("start the SOAP simulator");
    let config = soap::adapter_config(&sim.endpoint(), "env:SBDY_PASSWORD");
    let secrets = Fixed([("env:SBDY_PASSWORD".to_owned(), soap::PASSWORD.to_owned())].into());
    let adapter = build(&config, &secrets).await;
    (sim, adapter)
}

/// The SQL simulator's database (SQLite in `dir`) holding `cases` cases, and a driver for it.
pub async fn sql_sim(dir: &std::path::Path, cases: usize) -> Box<dyn Adapter> {
    let url = format!("sqlite://{}", dir.join("sim.db").display());
    ronghe_adapters::sim::sql::load(&url, 2025, cases)
        .await
        .expect("load the SQL simulator's database");
    build(
        &ronghe_adapters::sim::sql::adapter_config(&url, 500),
        &Fixed::default(),
    )
    .await
}

async fn build(config: &str, secrets: &Fixed) -> Box<dyn Adapter> {
    AdapterConfig::from_toml(config)
        .expect("the simulator's config parses")
        .validate()
        .expect("the simulator's config is valid")
        .build(secrets)
        .await
        .expect("the driver builds")
}

/// Working-day data for this year and the next as plain weekday years (no holidays), for the
/// years the embedded calendar does not cover yet, so that tests dated "today" keep running.
#[allow(dead_code)]
pub fn plain_years_toml() -> String {
    use chrono::Datelike as _;
    let this_year = ronghe::calendar::today().year();
    let embedded: Vec<i32> = ronghe::calendar::Calendar::embedded().years().collect();
    [this_year, this_year + 1]
        .into_iter()
        .filter(|y| !embedded.contains(y))
        .map(|year| format!("[years.{year}]\nholidays = []\nmakeup_workdays = []\n"))
        .collect()
}

/// The router's state in tests: no bridge, the embedded calendar, and the write-back intake over
/// the repository's mappings with secrets from the environment. Override fields as needed.
#[allow(dead_code)]
pub fn app_state(store: Store) -> ronghe::server::AppState {
    ronghe::server::AppState {
        accounts: staff_accounts(&store),
        writeback: ronghe::intake::Intake::new(
            &store,
            concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
            std::sync::Arc::new(ronghe_adapters::Environment),
        ),
        store,
        metrics: ronghe::server::Metrics::new(),
        bridge: None,
        calendar: std::sync::Arc::new(ronghe::calendar::Calendar::embedded().clone()),
    }
}

/// The accounts service over `store` with the tests' keyring (key `staff`, SM4-GCM, the default
/// of a key that names no cipher, as the tests' server configs do).
pub fn staff_accounts(store: &Store) -> ronghe::accounts::Accounts {
    let keys = bridge_keys("staff", &[("staff", Cipher::Sm4Gcm)]);
    let keyring = Keyring::build(&keys, &bridge_secrets(&keys)).expect("test staff keys build");
    let public = url::Url::parse(PUBLIC_URL).expect("a URL");
    ronghe::accounts::Accounts::new(store.clone(), Some(Arc::new(keyring)), Default::default())
        .with_passkeys(ronghe::accounts::relying_party(&public).expect("a relying party"))
        .with_public_url(public)
}

/// Where the tests' platform says people open it (passkeys are bound to its host).
pub const PUBLIC_URL: &str = "http://localhost:8080";

/// A synthetic resident ID number (GB 11643 check character) derived from `seed`: a birth date
/// in 1970-1999 and a serial from the seed's hash, so that the accounts of one test do not
/// collide (one person, one account).
pub fn synthetic_resident_id(seed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let number = u64::from_be_bytes(digest[..8].try_into().unwrap());
    let born = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Days::new(number % 10_950);
    let serial = (number / 10_950) % 1000;
    let first_17 = format!("520102{}{serial:03}", born.format("%Y%m%d"));
    format!("{first_17}{}", ronghe::validate::check_character(&first_17))
}

/// The password of every test account.
pub const STAFF_PASSWORD: &str = "Test-Password-2026";

/// Creates the active account `id` holding `grants` (`ROLE@SCOPE`), enrolled as its person
/// would be (password, authenticator confirmed by the current step's code), and gives a
/// personal API token of it, made by signing in with both factors (the next step's code, which
/// one step of skew accepts even when the clock turns a step meanwhile). The token works with any server on the same store
/// (authenticating a token needs no keys). Also answers the account's TOTP secret.
pub async fn enrolled(store: &Store, id: &str, grants: &[&str]) -> (String, Vec<u8>) {
    let secret = enrol(store, id, grants).await;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let code = ronghe::access::secret::totp_code(&secret, id, now + 30).unwrap();
    let issued = staff_accounts(store)
        .sign_in_for_token(id, STAFF_PASSWORD, &code, "test", &[], 30)
        .await
        .expect("sign in for a token");
    (issued.secret, secret)
}

/// A new account `id` holding `grants` (ROLE@SCOPE), enrolled as its person would: password
/// [`STAFF_PASSWORD`], its authenticator's secret returned, the current TOTP step used up by
/// the confirmation (so the next sign-in takes the code of 30 seconds later).
pub async fn enrol(store: &Store, id: &str, grants: &[&str]) -> Vec<u8> {
    let accounts = staff_accounts(store);
    let link = create_account(store, id, grants).await;
    let setup = accounts
        .start_enrolment(&link.token, STAFF_PASSWORD)
        .await
        .expect("enrol");
    let secret = ronghe::access::secret::totp_secret_from_base32(&setup.secret).expect("base32");
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let code = ronghe::access::secret::totp_code(&secret, id, now).unwrap();
    accounts
        .confirm_enrolment(&link.token, &code)
        .await
        .expect("confirm");
    secret
}

/// A new pending account `id` holding `grants` (ROLE@SCOPE), created by the host; its
/// one-time enrolment link.
pub async fn create_account(store: &Store, id: &str, grants: &[&str]) -> ronghe::accounts::EnrolmentLink {
    let host = ronghe::access::Principal::host("test", "localhost");
    let grants = grants
        .iter()
        .map(|g| {
            let (role, scope) = g.split_once('@').expect("ROLE@SCOPE");
            ronghe::access::Grant {
                role: ronghe::access::Role::parse(role).expect("a role"),
                scope: ronghe::access::Scope::parse(scope).expect("a scope"),
            }
        })
        .collect();
    staff_accounts(store)
        .create(
            &host,
            ronghe::accounts::NewAccount {
                id: id.to_owned(),
                name: "测试人员".to_owned(),
                resident_id: synthetic_resident_id(id),
                mobile: "13800000000".to_owned(),
                agency: "贵州省政务服务中心".to_owned(),
                region: "520000".to_owned(),
                grants,
                approved_by: None,
                reason: "test".to_owned(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create account {id}: {e}"))
}

/// A token of a new account `id` holding `grants` (see [`enrolled`]).
pub async fn staff_token(store: &Store, id: &str, grants: &[&str]) -> String {
    enrolled(store, id, grants).await.0
}

/// Every role but expert and auditor, province-wide: what the tests of one feature act as.
pub const ALL_DUTIES: &[&str] = &[
    "platform_admin@province",
    "engineer@province",
    "project_manager@province",
    "operator@province",
];

/// An HTTP client that sends `token` with every request.
pub fn authed(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// A token of the province-wide administrator `tester` (created on first use) over `store`.
pub async fn admin_token(store: &Store) -> String {
    staff_token(store, "tester", ALL_DUTIES).await
}

/// A copy of a store an older build wrote (`tests/data/stores/{schema}.sqlite`, see their
/// README: `v17`, `v24`) in `dir`, for upgrade tests: its `sqlite://` URL.
pub fn store_written_by(schema: &str, dir: &tempfile::TempDir) -> String {
    let copy = dir.path().join(format!("{schema}.sqlite"));
    let fixture = format!("{}/tests/data/stores/{schema}.sqlite", env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(&fixture, &copy).unwrap_or_else(|e| panic!("copy {fixture}: {e}"));
    format!("sqlite://{}", copy.display())
}

/// Serves the router with `state` on an ephemeral loopback port; answers its base URL.
#[allow(dead_code)]
pub async fn serve_app(state: ronghe::server::AppState, max_body: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let app =
        ronghe::server::app(state, max_body).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A personal value in the sample records of [`integrated`]'s probe profile: no page nor API
/// answer may show it.
pub const PROBE_SAMPLE_NAME: &str = "欧阳探查";
/// A certificate number in those samples.
pub const PROBE_SAMPLE_CERTIFICATE: &str = "520102198807071234";
/// Where [`integrated`]'s adapter and write-back secrets live: references no answer shows.
pub const ADAPTER_TOKEN_REF: &str = "env:GY_PROBE_TOKEN_SECRET";
pub const WRITEBACK_KEY_REF: &str = "env:GY_WRITEBACK_KEY_SECRET";

/// Integrates `system` in `store`: a REST adapter config (bearer token), a probe profile whose
/// samples hold a person's name and certificate number, and a write-back config with an active
/// and a retired key, encryption required and a pull schedule.
pub async fn integrated(store: &Store, system: &str) {
    let adapter = format!(
        "type = \"rest\"\nbase_url = \"http://127.0.0.1:9001/api\"\n\
         [auth]\ntype = \"bearer\"\ntoken = \"{ADAPTER_TOKEN_REF}\"\n\
         [records]\npath = \"cases\"\nkey = \"/caseNo\"\n\
         [resilience]\nmax_attempts = 7\n"
    );
    store
        .set_adapter_config(system, &adapter, "test")
        .await
        .expect("attach the adapter config");
    let sample = serde_json::json!({
        "caseNo": "GY-PROBE-1",
        "applicant": { "name": PROBE_SAMPLE_NAME, "idNo": PROBE_SAMPLE_CERTIFICATE },
    });
    let profile = ronghe_adapters::Profile {
        entities: vec![ronghe_adapters::Entity {
            name: "cases".to_owned(),
            kind: "resource".to_owned(),
            // Scanned twice: the name and number repeat, so the profile counts them (issue 16).
            fields: ronghe_adapters::Profile::fields_from_scan(&[sample.clone(), sample.clone()]),
            record_count: Some(4321),
            samples: vec![sample],
        }],
    };
    store
        .save_profile(system, &profile)
        .await
        .expect("save the probe profile");
    let writeback = format!(
        "timestamp_window_seconds = 120\n\
         [[keys]]\nid = \"k-2026\"\nalgorithm = \"hmac-sm3\"\nsecret = \"{WRITEBACK_KEY_REF}\"\n\
         [[keys]]\nid = \"k-2025\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{WRITEBACK_KEY_REF}\"\nretired = true\n\
         [encryption]\nkey = \"env:GY_WRITEBACK_SM4_SECRET\"\nrequired = true\n\
         [intake]\nmax_batch = 77\n\
         [pull]\nschedule = \"0 */5 * * * *\"\n"
    );
    store
        .set_writeback_config(system, &writeback, "test")
        .await
        .expect("attach the write-back config");
}

/// A run of `system`'s test job with mapping version `v1`, started by `test`.
fn test_run<'a>(system: &'a str, source_rows: Option<i64>, owner: &'a str) -> ronghe::store::NewRun<'a> {
    ronghe::store::NewRun {
        system_id: system,
        job_path: "migration-plans/test.toml",
        mapping_version: "v1",
        source_rows,
        owner,
        actor: "test",
        forced_reason: None,
    }
}

/// A running migration of `system` that has read 370 of the source's 1,000 rows in one chunk.
pub async fn running_migration(store: &Store, system: &str) -> String {
    let owner = "test-host:1:run";
    let run = store
        .start_migration(test_run(system, Some(1000), owner))
        .await
        .unwrap();
    let holder = ronghe::store::Holder {
        run_id: &run.id,
        owner,
        actor: "test",
    };
    let chunk = ronghe::store::NewChunk {
        seq: 1,
        from_watermark: None,
        to_watermark: Some("370"),
        rows_read: 370,
        cases: &[],
        serialised: Vec::new(),
        rejects: Vec::new(),
        source_hash: "chunk-1",
    };
    let committed = store
        .commit_migration_chunk(holder, system, "v1", chunk, |_, _| unreachable!("no case"))
        .await
        .unwrap();
    assert!(committed.is_some(), "the run's owner commits its chunk");
    run.id
}

/// A finished migration run of `system` (of an empty source) whose reconciliation found
/// `differences` differences, with its JSON report saved: the run's id.
pub async fn finished_migration(store: &Store, system: &str, differences: i64) -> String {
    let owner = "test-host:1:finished";
    let run = store
        .start_migration(test_run(system, Some(20), owner))
        .await
        .unwrap();
    let holder = ronghe::store::Holder {
        run_id: &run.id,
        owner,
        actor: "test",
    };
    let report = serde_json::json!({ "run": run.id, "differences": differences });
    let state = if differences == 0 {
        ronghe::store::RunState::Complete
    } else {
        ronghe::store::RunState::Incomplete
    };
    let finish = ronghe::store::RunFinish {
        state,
        message: "reconciled",
        differences,
        report: &report,
        report_json_path: "migration-report.json",
        report_md_path: "migration-report.md",
        target_hashes: &[],
    };
    assert!(
        store.finish_migration(holder, finish).await.unwrap(),
        "the owner finishes its run"
    );
    run.id
}

/// The `pg_dump` program: on PATH, else the newest under /usr/lib/postgresql.
#[allow(dead_code)]
pub fn pg_dump() -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pg_dump"))
            .find(|path| path.is_file())
    });
    on_path
        .or_else(|| {
            let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| Some(e.ok()?.path().join("bin/pg_dump")))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            found.pop()
        })
        .expect("pg_dump is installed (with the PostgreSQL server the tests use)")
}

/// The personal values of the simulator's cases: natural persons' names and certificate
/// numbers, every phone, the acceptors' names (an organisation's name and credit code are not
/// personal).
pub fn personal_values(cases: &[ronghe_adapters::sim::data::LegacyCase]) -> Vec<String> {
    let mut values = Vec::new();
    for case in cases {
        if !case.applicant_is_company {
            values.push(case.applicant_name.clone());
            values.push(case.applicant_cert_no.clone());
        }
        values.push(case.phone.clone());
        if case.accepted_at.is_some() {
            values.push(case.acceptor.clone());
        }
    }
    values
}
