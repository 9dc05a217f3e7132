//! Issue 20 (Art. 23, 32), through the real binary against the REST simulator: every command that
//! prints records or cases prints no certificate number, phone or name of the system's cases in
//! clear unless `--unmask --purpose` is given; then it prints them and a `personal.unmask` audit
//! event with the command, the target and the purpose exists. `--unmask` without a purpose is a
//! usage error, and an unmasking that cannot be audited is refused.

mod common;

use chrono::Utc;
use common::binary::{Run, SYSTEM, Sandbox};
use ronghe::store::{NewQualityItem, QualityReason, Store};
use ronghe_adapters::sim::data;
use ronghe_adapters::sim::{SimOptions, rest};
use serde_json::Value;

const SEED: u64 = 20;
const CASES: usize = 8;

/// Asserts that no personal value is on stdout or stderr, and that something masked is.
fn masked(run: Run, personal: &[String]) -> Run {
    let run = personal.iter().fold(run, |run, value| run.never_shows(value));
    assert!(run.stdout.contains("****"), "nothing masked is shown: {run}");
    run
}

/// Asserts that the run says each of `needles`: on stderr, or on stdout with `--json`.
fn says(run: Run, needles: &[&str]) -> Run {
    for needle in needles {
        assert!(
            run.stderr.contains(needle) || run.stdout.contains(needle),
            "{needle:?} is not said: {run}"
        );
    }
    run
}

/// The `personal.unmask` events of the audit log.
fn unmask_events(sandbox: &Sandbox) -> Vec<Value> {
    let events = sandbox
        .run(&["--json", "audit", "list", "--action", "personal.unmask"])
        .check(0, &[])
        .json();
    events.as_array().cloned().unwrap_or_default()
}

/// Runs `args` masked, refused with `--unmask` alone, then unmasked with a purpose: the clear
/// value `shown` is printed and an audit event names `command`, `target` and the purpose.
fn check(
    sandbox: &Sandbox,
    personal: &[String],
    args: &[&str],
    code: i32,
    shown: &str,
    (command, target): (&str, &str),
) {
    masked(sandbox.run(args).check(code, &[]), personal);

    let mut refused = args.to_vec();
    refused.push("--unmask");
    let run = says(
        sandbox.run(&refused).check(2, &[]),
        &["--unmask needs --purpose", "1-200 characters"],
    );
    personal.iter().fold(run, |run, value| run.never_shows(value));
    let mut refused = args.to_vec();
    refused.extend(["--purpose", "核实"]);
    says(
        sandbox.run(&refused).check(2, &[]),
        &["--purpose goes with --unmask"],
    );
    let long = "因".repeat(201);
    let mut refused = args.to_vec();
    refused.extend(["--unmask", "--purpose", &long]);
    says(
        sandbox.run(&refused).check(2, &[]),
        &["--purpose must be 1-200 characters"],
    );

    let before = unmask_events(sandbox).len();
    let purpose = format!("核实校核申请 {command}");
    let mut unmasked = args.to_vec();
    unmasked.extend(["--unmask", "--purpose", &purpose]);
    sandbox.run(&unmasked).check(code, &[shown]);
    let events = unmask_events(sandbox);
    assert_eq!(
        events.len(),
        before + 1,
        "one event per unmasked print: {events:?}"
    );
    let event = &events[before];
    assert_eq!(
        (
            &event["target"],
            &event["detail"]["command"],
            &event["detail"]["purpose"]
        ),
        (
            &Value::from(target),
            &Value::from(command),
            &Value::from(purpose.as_str())
        ),
        "{event}"
    );
    let actor = event["actor"].as_str().unwrap_or_default();
    assert!(actor.starts_with("host:") && actor.contains('@'), "{event}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_that_prints_records_masks_them_unless_unmasked() {
    let sim = rest::RestSim::start(&SimOptions {
        seed: SEED,
        cases: CASES,
        ..Default::default()
    })
    .await
    .unwrap();
    let cases = data::cases(SEED, CASES);
    let personal = common::personal_values(&cases);
    let person = cases
        .iter()
        .find(|c| !c.applicant_is_company)
        .expect("the simulator has a natural person among its applicants");
    let sandbox = common::binary::attached_rest(&sim);
    std::fs::create_dir(sandbox.path("mappings")).unwrap();
    let mapping =
        std::fs::read_to_string(format!("{}/mappings/sim-rest.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    sandbox.write("mappings/sim-rest.toml", mapping);

    // Raw legacy records: the adapter's stream and the probe's samples.
    let clear = person.applicant_cert_no.as_str();
    check(
        &sandbox,
        &personal,
        &["adapters", "read", SYSTEM],
        0,
        clear,
        ("adapters read", SYSTEM),
    );
    check(
        &sandbox,
        &personal,
        &[
            "--json",
            "adapters",
            "probe",
            SYSTEM,
            "--sample",
            &CASES.to_string(),
        ],
        0,
        clear,
        ("adapters probe", SYSTEM),
    );

    // The mapping's test: live records and a sample file, as text and as JSON.
    let limit = CASES.to_string();
    for json in [false, true] {
        let mut args = if json { vec!["--json"] } else { vec![] };
        args.extend(["mapping", "test", SYSTEM, "--limit", &limit]);
        check(&sandbox, &personal, &args, 0, clear, ("mapping test", SYSTEM));
    }
    let records: Vec<String> = cases.iter().map(|c| rest::to_json(c).to_string()).collect();
    let sample = sandbox.write("sample.jsonl", records.join("\n"));
    check(
        &sandbox,
        &personal,
        &["--json", "mapping", "test", SYSTEM, "--sample", &sample],
        0,
        clear,
        ("mapping test", SYSTEM),
    );

    // Canonical cases held by the platform: the mapped cases imported, then shown.
    let mapped = sandbox
        .run(&[
            "--json",
            "mapping",
            "test",
            SYSTEM,
            "--sample",
            &sample,
            "--unmask",
            "--purpose",
            "导入测试办件",
        ])
        .check(0, &[])
        .json();
    let canonical: Vec<String> = mapped["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["case"].to_string())
        .collect();
    let file = sandbox.write("cases.jsonl", canonical.join("\n"));
    sandbox.run(&["cases", "import", SYSTEM, &file]).check(0, &[]);
    let target = format!("{SYSTEM}/{}", person.no);
    for args in [
        vec!["cases", "show", SYSTEM, &person.no],
        vec!["--json", "cases", "show", SYSTEM, &person.no],
        vec!["--json", "cases", "show", SYSTEM, &person.no, "--history"],
    ] {
        let command = if args.contains(&"--history") {
            "cases show --history"
        } else {
            "cases show"
        };
        check(&sandbox, &personal, &args, 0, clear, (command, &target));
    }

    // A record refused at intake, in the data-quality queue.
    let store = Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let ids = store
        .queue_quality_items(
            &[NewQualityItem {
                system_id: SYSTEM.to_owned(),
                case_no: Some(person.no.clone()),
                version: Some(person.version),
                channel: "push-json".to_owned(),
                record_hash: "cd".repeat(32),
                record: rest::to_json(person),
                reasons: vec![QualityReason {
                    code: "mapping".to_owned(),
                    field: Some("implementation_code".to_owned()),
                    message: "implementation_code: is required".to_owned(),
                }],
                mapping_version: Some("m1".to_owned()),
                received_at: Utc::now(),
            }],
            "test",
        )
        .await
        .unwrap();
    store.close().await;
    let id = ids[0].to_string();
    check(
        &sandbox,
        &personal,
        &["--json", "quality", "show", &id],
        0,
        clear,
        ("quality show", &format!("quality/{id}")),
    );
}

/// An unmasking that cannot be audited shows nothing in clear: `mapping test --sample` needs no
/// store, but with `--unmask` it must write the event, and the store cannot be opened.
#[test]
fn an_unmasking_without_an_audit_log_is_refused() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("mappings")).unwrap();
    let mapping =
        std::fs::read_to_string(format!("{}/mappings/sim-rest.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    sandbox.write("mappings/sim-rest.toml", mapping);
    let cases = data::cases(SEED, CASES);
    let personal = common::personal_values(&cases);
    let records: Vec<String> = cases.iter().map(|c| rest::to_json(c).to_string()).collect();
    let sample = sandbox.write("sample.jsonl", records.join("\n"));
    let nowhere = format!("sqlite://{}/no/such/dir/ronghe.db", sandbox.dir.path().display());
    let args = [
        "--database",
        &nowhere,
        "--json",
        "mapping",
        "test",
        "sim-rest",
        "--sample",
        &sample,
    ];
    // Masked, it needs no store.
    let run = common::binary::run_ronghe(sandbox.dir.path(), &args, None).check(0, &[]);
    masked(run, &personal);
    let mut unmasked = args.to_vec();
    unmasked.extend(["--unmask", "--purpose", "核实"]);
    let run =
        common::binary::run_ronghe(sandbox.dir.path(), &unmasked, None).check(3, &["--unmask is refused"]);
    personal.iter().fold(run, |run, value| run.never_shows(value));
}

/// `cases import` names the field and rule of a line it refuses; a value the decoder refused
/// is masked whole (an applicant written as one string holding a name and a resident ID).
#[test]
fn cases_import_does_not_echo_a_refused_value() {
    let sandbox = Sandbox::new();
    sandbox.add_system("gy-scjg-xk", "http://10.0.0.5/api");
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/case_finished.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut case: Value = serde_json::from_str(&text).unwrap();
    case["applicant"] = Value::from("张三 52010219900101123X");
    let file = sandbox.write("refused.jsonl", format!("{case}\n"));
    for json in [false, true] {
        let mut args = if json { vec!["--json"] } else { vec![] };
        args.extend(["cases", "import", "gy-scjg-xk", &file]);
        sandbox
            .run(&args)
            .check(1, &["applicant", "invalid type: string", "*********************"])
            .never_shows("52010219900101123X")
            .never_shows("张三");
    }
}
