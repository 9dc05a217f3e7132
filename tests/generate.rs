//! Mapping generation: quality against hand-labelled answer keys (precision and recall of the
//! proposed field matches), and `ronghe generate` through the real binary, including that an
//! engineer's edits are never silently overwritten.

mod common;

use common::answer_keys::score;
use ronghe::mapping::{Shape, propose};
use ronghe_adapters::sim::{SimOptions, rest::RestSim};

#[tokio::test]
async fn rest_simulator_generation_quality() {
    let (_sim, adapter) = common::rest_sim(300).await;
    let (precision, recall) = score(
        "sim-rest",
        &propose(
            &adapter.probe(100).await.unwrap(),
            Shape::Json,
            &Default::default(),
        )
        .unwrap(),
    );
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision:.2}, recall {recall:.2}"
    );
}

#[tokio::test]
async fn soap_simulator_generation_quality() {
    let (_sim, adapter) = common::soap_sim(300).await;
    let (precision, recall) = score(
        "sim-soap",
        &propose(
            &adapter.probe(300).await.unwrap(),
            Shape::Xml,
            &Default::default(),
        )
        .unwrap(),
    );
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
    let proposal = propose(&profile, Shape::Row, &Default::default()).unwrap();
    let (precision, recall) = score("sim-sql", &proposal);
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision:.2}, recall {recall:.2}"
    );
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
