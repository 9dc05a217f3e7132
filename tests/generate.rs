//! Mapping generation: quality against hand-labelled answer keys (precision and recall of the
//! proposed field matches), and `ronghe generate` through the real binary, including that an
//! engineer's edits are never silently overwritten.
#![allow(clippy::print_stdout)] // the quality figures are printed for the record

mod common;

use std::collections::BTreeMap;

use ronghe::mapping::{Shape, propose};
use ronghe_adapters::Profile;
use ronghe_adapters::sim::{SimOptions, rest::RestSim};

fn answer_key(name: &str) -> BTreeMap<String, String> {
    let path = format!(
        "{}/tests/data/answer-keys/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Precision and recall of the proposal's source fields against the key, printed for the record.
fn score(name: &str, profile: &Profile, shape: Shape) -> (f64, f64) {
    let key = answer_key(name);
    let proposal = propose(profile, shape).expect("a proposal");
    let proposed: Vec<(&str, &str)> = proposal
        .rules
        .iter()
        .filter_map(|r| r.source.as_deref().map(|s| (r.field, s)))
        .collect();
    let correct = proposed
        .iter()
        .filter(|(f, s)| key.get(*f).map(String::as_str) == Some(*s))
        .count() as f64;
    let (precision, recall) = (correct / proposed.len() as f64, correct / key.len() as f64);
    for (f, s) in &proposed {
        if key.get(*f).map(String::as_str) != Some(*s) {
            println!("{name}: proposed {f} <- {s}, key says {:?}", key.get(*f));
        }
    }
    for (f, s) in &key {
        if !proposed.iter().any(|(pf, _)| pf == f) {
            println!("{name}: missed {f} <- {s}");
        }
    }
    println!(
        "{name}: precision {precision:.2}, recall {recall:.2} ({correct} of {} proposed, {} in the key)",
        proposed.len(),
        key.len()
    );
    (precision, recall)
}

#[tokio::test]
async fn rest_simulator_generation_quality() {
    let (_sim, adapter) = common::rest_sim(300).await;
    let (precision, recall) = score("sim-rest", &adapter.probe(100).await.unwrap(), Shape::Json);
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision:.2}, recall {recall:.2}"
    );
}

#[tokio::test]
async fn soap_simulator_generation_quality() {
    let (_sim, adapter) = common::soap_sim(300).await;
    let (precision, recall) = score("sim-soap", &adapter.probe(300).await.unwrap(), Shape::Xml);
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision:.2}, recall {recall:.2}"
    );
}

#[tokio::test]
async fn sql_simulator_generation_quality_with_pinyin_initials() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = common::sql_sim(dir.path(), 300).await;
    let profile = adapter.probe(300).await.unwrap();
    let (precision, recall) = score("sim-sql", &profile, Shape::Row);
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision:.2}, recall {recall:.2}"
    );
    let proposal = propose(&profile, Shape::Row).unwrap();
    let evidence = |field: &str| {
        proposal
            .rules
            .iter()
            .find(|r| r.field == field)
            .map(|r| r.evidence.clone())
            .unwrap_or_default()
    };
    assert!(
        evidence("applicant.name").contains("pinyin initials of 申请人名称"),
        "{}",
        evidence("applicant.name")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_never_silently_overwrites_edits() {
    let sim = RestSim::start(&SimOptions {
        cases: 60,
        ..Default::default()
    })
    .await
    .unwrap();
    let sandbox = common::binary::attached_rest(&sim);
    sandbox
        .run(&["generate", "sim-rest"])
        .check(1, &[])
        .stderr_has(&["not been probed", "ronghe adapters probe sim-rest"]);
    sandbox
        .run(&["adapters", "probe", "sim-rest", "--sample", "60"])
        .check(0, &[]);

    sandbox
        .run(&["generate", "sim-rest"])
        .check(0, &["已生成 generated"]);
    let file = sandbox.path("mappings/sim-rest.toml");
    let generated = std::fs::read_to_string(&file).unwrap();
    assert!(
        generated.starts_with("# 由 ronghe generate 生成"),
        "the header says the file is generated"
    );
    sandbox.run(&["generate", "sim-rest"]).check(0, &[]);

    let edited = generated.replace("\"01\" = \"\"", "\"01\" = \"acceptance\"");
    assert_ne!(edited, generated, "the stage table has a code to fill");
    std::fs::write(&file, &edited).unwrap();
    sandbox.run(&["generate", "sim-rest"]).check(1, &[]).stderr_has(&[
        "was edited since it was generated",
        "-\"01\" = \"acceptance\"",
        "--force",
    ]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        edited,
        "the edit survives"
    );
    sandbox.run(&["generate", "sim-rest", "--force"]).check(0, &[]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), generated);

    let printed = sandbox
        .run(&["generate", "sim-rest", "--print"])
        .check(0, &["[fields]"])
        .stdout;
    assert!(printed.contains("case_no = { from = \"/caseNo\""), "{printed}");
}
