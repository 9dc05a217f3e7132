//! `ronghe mapping check|test|explain` through the real binary.

mod common;

use common::binary::Sandbox;
use serde_json::json;

fn sandbox_with_mapping() -> Sandbox {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("mappings")).unwrap();
    let text =
        std::fs::read_to_string(format!("{}/mappings/sim-rest.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    sandbox.write("mappings/sim-rest.toml", text);
    sandbox
}

#[test]
fn check_and_explain() {
    let sandbox = sandbox_with_mapping();
    let file = sandbox.path("mappings/sim-rest.toml").display().to_string();
    let report = sandbox
        .run(&["--json", "mapping", "check", &file])
        .check(0, &[])
        .json();
    assert_eq!(
        (report["valid"].as_bool(), report["shape"].as_str()),
        (Some(true), Some("json"))
    );
    let broken = sandbox.write(
        "broken.toml",
        "[source]\nshape = \"json\"\nkey = \"/k\"\n[fields]\nstage = { from = \"/s\", table = \"nope\" }\n",
    );
    sandbox
        .run(&["mapping", "check", &broken])
        .check(1, &["fields.\"stage\".table", "fields.\"case_no\""]);

    sandbox.run(&["mapping", "explain", "sim-rest", "stage"]).check(
        0,
        &[
            "办件状态",
            "from /status",
            "through table stage",
            "00→application",
        ],
    );
    sandbox
        .run(&["mapping", "explain", "sim-rest", "agent.name"])
        .check(1, &[])
        .stderr_has(&["no canonical field"]);
    sandbox
        .run(&["mapping", "explain", "no-such-system", "stage"])
        .check(3, &[])
        .stderr_has(&["no-such-system.toml"]);
}

#[test]
fn test_on_a_sample_file() {
    let sandbox = sandbox_with_mapping();
    let good = json!({
        "caseNo": "C1", "version": 1, "itemCode": "X1", "itemName": "食品经营许可",
        "applicant": {"name": "张伟", "type": "1", "idType": "111", "idNo": "52010219900101123X"},
        "areaCode": "520102", "applyTime": "2025-09-29 09:00:00", "status": "00", "updatedAt": "2025-09-29T09:00:00+08:00"
    });
    let mut bad = good.clone();
    bad["caseNo"] = json!("C2");
    bad["status"] = json!("99");
    // The second line has the shape `ronghe adapters read` prints.
    let lines = format!(
        "{good}\n{}\n",
        json!({"key": "C2", "checkpoint": "x", "record": bad})
    );
    let sample = sandbox.write("sample.jsonl", lines);
    let run = sandbox
        .run(&["mapping", "test", "sim-rest", "--sample", &sample])
        .check(
            1,
            &[
                "✓ C1",
                "✗ C2",
                "stage (from /status) [record C2] value \"99\"",
                "映射 mapped 1 of 2",
            ],
        );
    run.never_shows("52010219900101123X");
    let report = sandbox
        .run(&["--json", "mapping", "test", "sim-rest", "--sample", &sample])
        .check(1, &[])
        .json();
    assert_eq!(
        (report["mapped"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(report["records"][1]["errors"][0]["rule"], "stage");
}

/// `mapping check` compares the source paths with the system's stored probe profile: the
/// reviewed sim-rest mapping reads only paths the simulator showed; a mistyped path and a `when`
/// on a path the source lacks are named, with their rules and the nearest path the source has,
/// and the check exits 1. Without a stored profile it says the paths were not compared.
#[tokio::test(flavor = "multi_thread")]
async fn check_compares_source_paths_with_the_probe_profile() {
    use ronghe_adapters::sim::{SimOptions, rest::RestSim};
    let sim = RestSim::start(&SimOptions {
        cases: 40,
        ..Default::default()
    })
    .await
    .unwrap();
    let sandbox = common::binary::attached_rest(&sim);
    let reviewed =
        std::fs::read_to_string(format!("{}/mappings/sim-rest.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let file = sandbox.write("sim-rest.toml", &reviewed);
    sandbox
        .run(&["mapping", "check", &file])
        .check(0, &["有效 valid", "no stored probe profile of sim-rest"]);
    sandbox.run(&["adapters", "probe", "sim-rest"]).check(0, &[]);
    sandbox
        .run(&["mapping", "check", &file])
        .check(0, &["every source path is in the probe profile"]);

    let mistyped = reviewed
        .replace("\"/applicant/idNo\"", "\"/applicant/idNumber\"")
        .replace(
            "{ from = \"/acceptTime\"",
            "{ from = \"/acceptTime\", when = { path = \"/acceptTme\" }",
        );
    assert_ne!(mistyped, reviewed);
    let mistyped = sandbox.write("mistyped.toml", mistyped);
    let report = sandbox
        .run(&["mapping", "check", &mistyped, "--system", "sim-rest"])
        .check(
            1,
            &[
                "/applicant/idNumber (rules: applicant.certificate_no); 最接近 nearest: /applicant/idNo",
                "/acceptTme",
                "nearest: /acceptTime",
                "map nothing",
            ],
        );
    drop(report);
    let json = sandbox
        .run(&["--json", "mapping", "check", &mistyped, "--system", "sim-rest"])
        .check(1, &[])
        .json();
    assert_eq!(json["unknown_paths"].as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(json["profile"]["system"], "sim-rest");
}
