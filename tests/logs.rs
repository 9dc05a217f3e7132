//! Issue 20 (Art. 23, 32): logs never hold a personal value. `ronghe serve` at `RONGHE_LOG=debug`
//! takes a signed JSON push, a signed SOAP push (GBK), a record it refuses into the data-quality
//! queue, a scheduled pull and a hand-off delivered to the department's system; `ronghe writeback
//! pull` forces a pull, and `adapters read|probe` and `mapping test` read records, at the same
//! level. No log holds any name, certificate number or phone of the cases involved.

mod common;

use std::time::{Duration, Instant};

use common::binary::{SYSTEM, Server};
use ronghe::store::Store;
use ronghe_adapters::signing::Signer;
use ronghe_adapters::sim::data;
use ronghe_adapters::sim::soap::{Push, SoapSim};
use ronghe_adapters::sim::{SimOptions, rest};
use ronghe_crypto::MacAlgorithm;
use serde_json::{Value, json};

const REST_SEED: u64 = 31;
const SOAP_SEED: u64 = 32;
const CASES: usize = 12;
const SOAP_SYSTEM: &str = "sim-soap";
const SECRET: &str = "logs-test-writeback-secret";

/// Asserts that no line of `log` holds any of `personal`.
fn clean(what: &str, log: &[String], personal: &[String]) {
    assert!(!log.is_empty(), "{what}: nothing was logged");
    for line in log {
        for value in personal {
            assert!(
                !line.contains(value.as_str()),
                "{what} logs {value:?} in clear: {line}"
            );
        }
    }
}

/// Waits a tenth of a second, failing once `deadline` has passed while waiting for `what`.
async fn wait(what: &str, deadline: Instant) {
    assert!(Instant::now() < deadline, "not within 60 s: {what}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// POSTs `record` as the system would, signed with the write-back key; answers the intake's answer.
async fn push_json(http: &reqwest::Client, base: &str, record: &Value) -> Value {
    let path = format!("/api/v1/writeback/{SYSTEM}");
    let body = record.to_string();
    let signer = Signer::new("k", MacAlgorithm::HmacSm3, SECRET.as_bytes().to_vec());
    let signed = signer.sign("POST", &path, body.as_bytes()).unwrap();
    let mut request = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/json");
    for (name, value) in &signed.headers {
        request = request.header(*name, value);
    }
    let response = request.body(signed.body).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "push answered {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_personal_value_reaches_the_log_at_debug() {
    let rest_sim = rest::RestSim::start(&SimOptions {
        seed: REST_SEED,
        cases: CASES,
        ..Default::default()
    })
    .await
    .unwrap();
    let soap_sim = SoapSim::start(&SimOptions {
        seed: SOAP_SEED,
        cases: CASES,
        ..Default::default()
    })
    .await
    .unwrap();
    let rest_cases = data::cases(REST_SEED, CASES);
    let mut personal = common::personal_values(&rest_cases);
    personal.extend(common::personal_values(&data::cases(SOAP_SEED, CASES)));
    // The hand-off's applicant.
    let applicant = ("赵小六", "52010219900101123X", "13912345678");
    personal.extend([applicant.0, applicant.1, applicant.2].map(str::to_owned));

    // The REST system: its adapter (pull, hand-off) and write-back with a pull every second;
    // the SOAP system: write-back only.
    let sandbox = common::binary::attached_rest(&rest_sim);
    let secret = sandbox.write("writeback.key", SECRET);
    let writeback = |pull: &str| {
        format!("[[keys]]\nid = \"k\"\nalgorithm = \"hmac-sm3\"\nsecret = \"file:{secret}\"\n{pull}")
    };
    let rest_writeback = sandbox.write(
        "rest-writeback.toml",
        writeback("\n[pull]\nschedule = \"* * * * * *\"\n"),
    );
    let soap_writeback = sandbox.write("soap-writeback.toml", writeback(""));
    sandbox
        .run(&["writeback", "attach", SYSTEM, &rest_writeback])
        .check(0, &[]);
    let mut add = common::binary::add_system_args(SOAP_SYSTEM, "http://10.0.0.6/ws");
    let protocol = add.len() - 3;
    add[protocol] = "soap";
    sandbox.run(&add).check(0, &[]);
    sandbox
        .run(&["writeback", "attach", SOAP_SYSTEM, &soap_writeback])
        .check(0, &[]);
    let config = sandbox.write(
        "ronghe.toml",
        format!(
            "mappings_dir = \"{}\"\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/mappings")
        ),
    );

    // A forced pull on the command line, and the commands that read records, at debug.
    let at_debug = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ronghe"))
            .args(["--config", &config, "--database", &sandbox.database()])
            .args(args)
            .current_dir(sandbox.path(""))
            .env("RONGHE_LOG", "debug")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{args:?}: {stdout}");
        let log: Vec<String> = String::from_utf8_lossy(&output.stderr)
            .lines()
            .map(str::to_owned)
            .collect();
        clean(&format!("`ronghe {}`", args.join(" ")), &log, &personal);
        stdout
    };
    let pulled = at_debug(&["writeback", "pull", SYSTEM]);
    assert!(pulled.contains(&format!("accepted {CASES}")), "{pulled}");
    at_debug(&["adapters", "read", SYSTEM]);
    at_debug(&["--json", "adapters", "probe", SYSTEM]);
    at_debug(&["--json", "mapping", "test", SYSTEM]);

    let started = chrono::Utc::now();
    let server = Server::start_logging(&sandbox.database(), std::path::Path::new(&config), Some("debug"));
    let http = reqwest::Client::new();

    // A JSON push: every version accepted or a duplicate of the pulled one; then one refused.
    for case in &rest_cases {
        let mut record = rest::to_json(case);
        record["version"] = json!(case.version + 1);
        let answer = push_json(&http, &server.base, &record).await;
        assert_ne!(answer["results"][0]["result"], "rejected", "{answer}");
    }
    let mut refused = rest::to_json(&rest_cases[0]);
    refused["version"] = json!(rest_cases[0].version + 2);
    refused["status"] = json!("99");
    let answer = push_json(&http, &server.base, &refused).await;
    assert_eq!(answer["results"][0]["result"], "rejected", "{answer}");

    // A SOAP push of every completed case.
    let signer = Signer::new("k", MacAlgorithm::HmacSm3, SECRET.as_bytes().to_vec());
    let push = Push::new(
        format!("{}/soap/{SOAP_SYSTEM}/writeback", server.base),
        Some(signer),
    );
    let pushed = soap_sim.push_completed(&push).await.unwrap();
    assert!(pushed > 0, "the SOAP simulator has completed cases");

    // A hand-off, delivered by the server's worker to the REST system.
    let store = Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let staff = common::authed(&common::admin_token(&store).await);
    let mut application = common::case("case_application");
    application.case_no = "QZ-LOG-0001".to_owned();
    let mut application = serde_json::to_value(&application).unwrap();
    application["applicant"] = json!({
        "name": applicant.0, "kind": "natural_person", "certificate_type": "resident_id",
        "certificate_no": applicant.1, "phone": applicant.2,
    });
    let answer = staff
        .post(format!("{}/api/v1/systems/{SYSTEM}/applications", server.base))
        .json(&application)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        202,
        "{}",
        answer.text().await.unwrap_or_default()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while rest_sim.applications().is_empty() {
        wait("the hand-off is delivered", deadline).await;
    }

    // The scheduled pull has run (it reads nothing new: the forced pull took everything).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !store
        .pull_states()
        .await
        .unwrap()
        .iter()
        .any(|s| s.system_id == SYSTEM && s.last_run_at.is_some_and(|at| at > started))
    {
        wait("the scheduled pull runs", deadline).await;
    }
    store.close().await;

    let log = server.stop_and_read_log();
    clean("`ronghe serve`", &log, &personal);
    // The log is the debug log of all of it, not a quiet one.
    for needle in ["DEBUG", "QZ-LOG-0001", SOAP_SYSTEM] {
        assert!(log.iter().any(|l| l.contains(needle)), "the log lacks {needle:?}");
    }
}
