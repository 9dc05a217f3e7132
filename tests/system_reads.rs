//! A system's reads over HTTP (issue 15). How it is integrated: `GET /api/v1/systems/{id}/adapter`,
//! `…/mapping` and `…/writeback` answer its integration engineers and platform administrators,
//! refuse operators and engineers of another region, never show a secret, where one lives, or
//! a probed sample record, and answer 404 for an unknown system. Its migration history:
//! `GET /api/v1/systems/{id}/migrations` lists every run, newest first, with each run's report.

mod common;

use reqwest::StatusCode;
use serde_json::Value;

/// A system with a mapping in the repository's `mappings/`, integrated by `common::integrated`.
const SYSTEM: &str = "sim-rest";
/// A registered system without an adapter, mapping or write-back config.
const BARE: &str = "gy-bare";

struct Api {
    base: String,
    store: ronghe::store::Store,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = common::sqlite_store(&dir).await;
        for id in [SYSTEM, BARE] {
            store.insert_system(&common::system(id), "test").await.unwrap();
        }
        common::integrated(&store, SYSTEM).await;
        let base = common::serve_app(common::app_state(store.clone()), 64 * 1024).await;
        Api {
            base,
            store,
            _dir: dir,
        }
    }

    /// `GET path` as a new account holding `grants`: the status and the body's text.
    async fn get(&self, account: &str, grants: &[&str], path: &str) -> (StatusCode, String) {
        let token = common::staff_token(&self.store, account, grants).await;
        let response = common::authed(&token)
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

/// `GET /api/v1/systems/{system}/{route}` as a new account holding `grants`, answered 200: the
/// answer and the body's text.
async fn read(api: &Api, account: &str, grants: &[&str], system: &str, route: &str) -> (Value, String) {
    let (status, body) = api
        .get(account, grants, &format!("/api/v1/systems/{system}/{route}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{route}: {body}");
    let answer = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (answer, body)
}

const ENGINEER: &[&str] = &["engineer@region:520100"];
const ADMIN: &[&str] = &["platform_admin@province"];

#[tokio::test]
async fn an_engineer_reads_the_adapter_without_secrets_or_sample_values() {
    let api = Api::new().await;
    let (answer, body) = read(&api, "eng-gy", ENGINEER, SYSTEM, "adapter").await;
    assert_eq!(answer["config"]["kind"], "rest", "{body}");
    assert_eq!(
        answer["config"]["endpoint"], "http://127.0.0.1:9001/api",
        "{body}"
    );
    assert_eq!(answer["config"]["auth"], "bearer");
    assert_eq!(answer["config"]["resilience"]["max_attempts"], 7);
    let entity = &answer["probe"]["entities"][0];
    assert_eq!(entity["name"], "cases");
    assert_eq!(entity["record_count"], 4321);
    assert_eq!(entity["sampled"], 1);
    let fields: Vec<&str> = entity["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"/applicant/name"), "{fields:?}");
    assert!(answer["probe"]["probed_at"].is_string(), "{body}");
    for hidden in [
        common::PROBE_SAMPLE_NAME,
        common::PROBE_SAMPLE_CERTIFICATE,
        "GY-PROBE-1",
        common::ADAPTER_TOKEN_REF,
        "GY_PROBE_TOKEN_SECRET",
        "samples",
    ] {
        assert!(!body.contains(hidden), "{hidden:?} in {body}");
    }

    // A system without a config nor a probe: both null.
    let (answer, body) = read(&api, "admin", ADMIN, BARE, "adapter").await;
    assert!(answer["config"].is_null() && answer["probe"].is_null(), "{body}");
}

#[tokio::test]
async fn an_engineer_reads_the_mapping_field_by_field() {
    let api = Api::new().await;
    let (answer, body) = read(&api, "eng-gy", ENGINEER, SYSTEM, "mapping").await;
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings/sim-rest.toml")).unwrap();
    let mapping = ronghe::mapping::Mapping::compile(&text).unwrap();
    assert_eq!(answer["version"], mapping.version(), "{body}");
    let field = |path: &str| {
        answer["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == path)
            .unwrap_or_else(|| panic!("{path} missing: {body}"))
            .clone()
    };
    assert_eq!(field("case_no")["source"], "from /caseNo");
    assert_eq!(field("case_type")["source"], "constant \"promised\"");
    assert_eq!(field("applicant.kind")["table"], "applicant_kind");
    assert_eq!(field("applicant.certificate_no")["personal"], true);

    let (answer, body) = read(&api, "admin", ADMIN, BARE, "mapping").await;
    assert!(answer["version"].is_null(), "{body}");
    assert_eq!(answer["fields"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn an_engineer_reads_the_writeback_settings_without_secrets() {
    let api = Api::new().await;
    let (answer, body) = read(&api, "eng-gy", ENGINEER, SYSTEM, "writeback").await;
    let settings = &answer["settings"];
    assert_eq!(settings["keys"][0]["id"], "k-2026", "{body}");
    assert_eq!(settings["keys"][0]["algorithm"], "hmac-sm3");
    assert_eq!(settings["keys"][0]["retired"], false);
    assert_eq!(settings["keys"][1]["retired"], true);
    assert_eq!(settings["timestamp_window_seconds"], 120);
    assert_eq!(settings["encryption_required"], true);
    assert_eq!(settings["max_batch"], 77);
    assert_eq!(settings["pull_schedule"], "0 */5 * * * *");
    for hidden in ["GY_WRITEBACK_KEY_SECRET", "GY_WRITEBACK_SM4_SECRET", "env:"] {
        assert!(!body.contains(hidden), "{hidden:?} in {body}");
    }

    let (answer, body) = read(&api, "admin", ADMIN, BARE, "writeback").await;
    assert!(answer["settings"].is_null(), "{body}");
}

#[tokio::test]
async fn operators_other_regions_and_unknown_systems_are_refused() {
    let api = Api::new().await;
    let refused: [(&str, &[&str], &str, StatusCode); 3] = [
        // An operator holds none of the routes' roles.
        ("op", &["operator@province"], SYSTEM, StatusCode::FORBIDDEN),
        // An engineer of Zunyi: Guiyang's system is out of scope (a read answers 404).
        (
            "eng-zy",
            &["engineer@region:520300"],
            SYSTEM,
            StatusCode::NOT_FOUND,
        ),
        // An unknown system.
        ("eng-gy", ENGINEER, "no-such-system", StatusCode::NOT_FOUND),
    ];
    for route in ["adapter", "mapping", "writeback"] {
        for (account, grants, system, expected) in refused {
            let (status, body) = api
                .get(
                    &format!("{account}-{route}"),
                    grants,
                    &format!("/api/v1/systems/{system}/{route}"),
                )
                .await;
            assert_eq!(status, expected, "{account} {route}: {body}");
            assert!(!body.contains(common::PROBE_SAMPLE_NAME), "{body}");
        }
    }
}

#[tokio::test]
async fn the_migration_history_lists_every_run_newest_first_with_its_report() {
    let api = Api::new().await;
    let first = common::finished_migration(&api.store, SYSTEM, 2).await;
    let second = common::running_migration(&api.store, SYSTEM).await;
    let pm: &[&str] = &["project_manager@region:520100"];
    let (answer, body) = read(&api, "pm-gy", pm, SYSTEM, "migrations").await;
    let runs = answer.as_array().unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r["run"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "{body}");
    assert_eq!(runs[0]["run"]["state"], "running");
    assert_eq!(runs[0]["progress"], 0.37);
    assert!(runs[0]["report_url"].is_null(), "{body}");
    assert_eq!(runs[1]["run"]["state"], "incomplete");
    assert_eq!(runs[1]["run"]["differences"], 2);
    // The older run's report names it: the latest run's report is another.
    let url = runs[1]["report_url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("/api/v1/systems/{SYSTEM}/migration/report?run={first}")
    );
    let (status, report) = api.get("pm-gy-report", pm, url).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(serde_json::from_str::<Value>(&report).unwrap()["run"], first);
    // A system without runs: an empty list.
    let (answer, body) = read(&api, "admin", ADMIN, BARE, "migrations").await;
    assert_eq!(answer, Value::Array(Vec::new()), "{body}");
    // A run of another system is not this system's.
    let other = common::finished_migration(&api.store, BARE, 0).await;
    let (status, body) = api
        .get(
            "pm-gy-other",
            pm,
            &format!("/api/v1/systems/{SYSTEM}/migration/report?run={other}"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(!body.contains("\"differences\""), "{body}");
}

#[tokio::test]
async fn the_migration_history_refuses_other_roles_and_regions_and_unknown_systems() {
    let api = Api::new().await;
    common::running_migration(&api.store, SYSTEM).await;
    let refused: [(&str, &[&str], &str, StatusCode); 4] = [
        // An expert holds none of the route's roles.
        ("expert", &["expert@province"], SYSTEM, StatusCode::FORBIDDEN),
        // An auditor neither.
        ("auditor", &["auditor@province"], SYSTEM, StatusCode::FORBIDDEN),
        // A project manager of Zunyi: Guiyang's system is out of scope (a read answers 404).
        (
            "pm-zy",
            &["project_manager@region:520300"],
            SYSTEM,
            StatusCode::NOT_FOUND,
        ),
        // An unknown system.
        (
            "pm-gy",
            &["project_manager@province"],
            "no-such-system",
            StatusCode::NOT_FOUND,
        ),
    ];
    for (account, grants, system, expected) in refused {
        let (status, body) = api
            .get(account, grants, &format!("/api/v1/systems/{system}/migrations"))
            .await;
        assert_eq!(status, expected, "{account}: {body}");
        assert!(!body.contains("test-host"), "{account}: {body}");
    }
}
