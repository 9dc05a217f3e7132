//! The organisations registry (部门库, issue 16): imported from CSV and JSON Lines through the
//! real binary and the API (all or nothing, every problem with its line and field, in the
//! importer's scope), searched, and read by mappings that look the accepting agency up, in the
//! intake too, which sees an import without a restart; and `generate` proposing the lookup for a
//! source nobody tuned it against that names the accepting department but holds no credit code.

#[allow(dead_code)] // shared with tests/onboarding.rs, which uses all of it
#[path = "onboarding/cases.rs"]
mod cases;
mod common;
#[allow(dead_code)]
#[path = "onboarding/rest.rs"]
mod rest;

use std::sync::Arc;

use common::binary::Sandbox;
use futures_util::TryStreamExt;
use reqwest::StatusCode;
use ronghe::intake::Intake;
use ronghe::mapping::{Mapping, Shape, propose, render};
use ronghe::orgs::{Directory, Organisation};
use ronghe_adapters::Raw;
use ronghe_adapters::sim::data::uscc_check;
use serde_json::{Value, json};

/// A credit code of an organ (`11`) in `region` with organisation code `code` (9 characters).
fn credit_code(region: &str, code: &str) -> String {
    let body = format!("11{region}{code}");
    format!("{body}{}", uscc_check(&body))
}

/// `code` with a wrong check character.
fn broken(code: &str) -> String {
    let last = if code.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &code[..17])
}

fn city() -> String {
    credit_code("520100", "MB1502030")
}

fn county() -> String {
    credit_code("520102", "MB1502041")
}

/// The registry fixture: a city bureau and a county bureau under it, with the aliases and codes
/// legacy systems write for them.
fn registry_csv() -> String {
    format!(
        "统一社会信用代码,机构名称,行政区划,上级机构,别名,部门代码\n\
         {},贵阳市市场监督管理局,520100,,贵阳市市监局,SJJ-GY\n\
         {},南明区市场监督管理局,520102,{},南明区市监局|南明市场监管,SJJ-NM\n",
        city(),
        county(),
        city()
    )
}

#[test]
fn an_import_is_whole_or_nothing_and_names_every_problem() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("orgs.csv", registry_csv());
    let imported = sandbox
        .run(&["--json", "orgs", "import", &file])
        .check(0, &[])
        .json();
    assert_eq!(
        (imported["created"].as_u64(), imported["updated"].as_u64()),
        (Some(2), Some(0))
    );

    // Two bad lines and a good one: nothing of it is written, and both problems are named.
    let bad = sandbox.write(
        "bad.csv",
        format!(
            "credit_code,name,division\n\
             {},云岩区市场监督管理局,520103\n\
             {},花溪区市场监督管理局,999999\n\
             {},观山湖区市场监督管理局,520115\n",
            broken(&credit_code("520103", "MB1502052")),
            credit_code("520111", "MB1502063"),
            credit_code("520115", "MB1502074"),
        ),
    );
    sandbox.run(&["orgs", "import", &bad]).check(1, &[]).stderr_has(&[
        "nothing imported, 2 problem(s)",
        "line 1, credit_code",
        "line 2, division",
    ]);
    let listed = sandbox.run(&["--json", "orgs", "list"]).check(0, &[]).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    // A parent that is nowhere, and a name another agency holds.
    let orphan = sandbox.write(
        "orphan.jsonl",
        format!(
            "{}\n\n{}\n",
            json!({"credit_code": credit_code("520111", "MB1502063"), "name": "花溪区市场监督管理局", "division": "520111", "parent": credit_code("520000", "MB1502085")}),
            json!({"credit_code": credit_code("520103", "MB1502052"), "name": "贵阳市 市场监督管理局", "division": "520103"}),
        ),
    );
    sandbox
        .run(&["orgs", "import", &orphan])
        .check(1, &[])
        .stderr_has(&[
            "line 1, parent",
            "neither in the registry nor in this file",
            "line 3, name",
            "names are unique",
        ]);

    // Replacing an entry: a new alias, counted as replaced.
    let again = sandbox.write(
        "again.jsonl",
        json!({"credit_code": county(), "name": "南明区市场监督管理局", "division": "520102", "parent": city(), "aliases": ["南明区局"]}).to_string(),
    );
    let imported = sandbox
        .run(&["--json", "orgs", "import", &again])
        .check(0, &[])
        .json();
    assert_eq!(
        (imported["created"].as_u64(), imported["updated"].as_u64()),
        (Some(0), Some(1))
    );
    sandbox
        .run(&["orgs", "show", "南明区局"])
        .check(0, &[&county(), "南明区市场监督管理局"]);
    sandbox
        .run(&["orgs", "show", "南明区市监局"])
        .check(1, &[])
        .stderr_has(&["no agency in the registry is known by \"南明区市监局\""]);

    // Search and scope of the listing.
    let within = sandbox
        .run(&["--json", "orgs", "list", "--within", "520102"])
        .check(0, &[])
        .json();
    assert_eq!(
        within[0]["credit_code"].as_str(),
        Some(county().as_str()),
        "{within}"
    );
    assert_eq!(within.as_array().map(Vec::len), Some(1));
    let found = sandbox
        .run(&["--json", "orgs", "list", "--search", "sjj-gy"])
        .check(0, &[])
        .json();
    assert_eq!(found[0]["name"].as_str(), Some("贵阳市市场监督管理局"), "{found}");
    sandbox
        .run(&["orgs", "list", "--within", "52"])
        .check(2, &[])
        .stderr_has(&["--within \"52\""]);
    sandbox
        .run(&["orgs", "import", &sandbox.write("orgs.xlsx", "x")])
        .check(2, &[])
        .stderr_has(&["neither csv nor jsonl"]);

    // Each accepted import is audited with what it changed; the refused ones left no trace.
    let events = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = ronghe::store::Store::open(&sandbox.database(), &Default::default())
            .await
            .unwrap();
        common::audit_trail(&store, "orgs").await
    });
    let imports: Vec<&(String, String)> = events
        .iter()
        .filter(|(_, action)| action == "orgs.import")
        .collect();
    assert_eq!(imports.len(), 2, "{events:?}");
}

/// The REST simulator's mapping with the accepting department's credit code and the case's
/// region looked up by the department's name.
fn lookup_mapping() -> String {
    let text =
        std::fs::read_to_string(format!("{}/mappings/sim-rest.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let rule = r#""acceptance.department_uscc" = { from = "/deptCode", when = { path = "/acceptTime" } }"#;
    assert!(
        text.contains(rule),
        "the simulator's mapping still has its credit-code rule"
    );
    text.replace(
        rule,
        r#""acceptance.department_uscc" = { from = "/deptName", lookup = "org.credit_code", when = { path = "/acceptTime" } }"#,
    )
}

/// A REST simulator record accepted by `department`.
fn record(department: &str) -> Value {
    json!({
        "caseNo": "C1", "version": 2, "itemCode": "X1", "itemName": "食品经营许可",
        "applicant": {"name": "张伟", "type": "1", "idType": "111", "idNo": "52010219900101123X"},
        "areaCode": "520102", "deptName": department, "deptCode": "ignored", "acceptor": "李娜",
        "applyTime": "2025-09-29 09:00:00", "acceptTime": "2025-09-29 10:00:00", "timeLimit": 3,
        "status": "01", "updatedAt": "2025-09-29T10:00:00+08:00"
    })
}

#[test]
fn mapping_test_reads_the_registry_for_its_lookups() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("mappings")).unwrap();
    sandbox.write("mappings/sim-rest.toml", lookup_mapping());
    let sample = sandbox.write("sample.jsonl", format!("{}\n", record("南明市场监管")));
    let args = ["--json", "mapping", "test", "sim-rest", "--sample", &sample];
    let refused = sandbox.run(&args).check(1, &[]).json();
    let error = &refused["records"][0]["errors"][0];
    assert_eq!(
        (
            error["rule"].as_str(),
            error["source"].as_str(),
            error["value"].as_str()
        ),
        (
            Some("acceptance.department_uscc"),
            Some("/deptName"),
            Some("南明市场监管")
        ),
        "{refused}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("ronghe orgs import"),
        "{error}"
    );

    sandbox
        .run(&["orgs", "import", &sandbox.write("orgs.csv", registry_csv())])
        .check(0, &[]);
    let mapped = sandbox.run(&args).check(0, &[]).json();
    let case = &mapped["records"][0]["case"];
    assert_eq!(
        case["acceptance"]["department_uscc"].as_str(),
        Some(county().as_str()),
        "{mapped}"
    );
    sandbox
        .run(&["mapping", "explain", "sim-rest", "acceptance.department_uscc"])
        .check(
            0,
            &["looked up in the organisations registry for org.credit_code"],
        );
}

/// The problems of a mapping that must not compile.
fn issues_of(text: &str) -> Vec<ronghe::mapping::MappingIssue> {
    match Mapping::compile(text) {
        Ok(_) => panic!("the mapping compiled"),
        Err(issues) => issues,
    }
}

#[test]
fn a_lookup_is_refused_where_it_cannot_apply_and_ambiguity_is_named() {
    let text = lookup_mapping();
    let with_table = text.replace(
        r#"lookup = "org.credit_code","#,
        r#"lookup = "org.credit_code", table = "stage","#,
    );
    let issues = issues_of(&with_table);
    assert!(
        issues
            .iter()
            .any(|i| i.path == r#"fields."acceptance.department_uscc".lookup"#
                && i.message.contains("either a table or a lookup")),
        "{issues:?}"
    );
    let stage = r#"stage = { from = "/status", table = "stage" }"#;
    assert!(text.contains(stage));
    let on_a_code = text.replace(stage, r#"stage = { from = "/status", lookup = "org.name" }"#);
    let issues = issues_of(&on_a_code);
    assert!(
        issues.iter().any(|i| i.path == r#"fields."stage".lookup"#),
        "{issues:?}"
    );
    let unknown = text.replace(r#"lookup = "org.credit_code""#, r#"lookup = "org.phone""#);
    assert!(Mapping::compile(&unknown).is_err());

    let now = chrono::Utc::now().fixed_offset();
    let unbound = Mapping::compile(&text).unwrap();
    assert!(unbound.uses_orgs());
    let errors = unbound
        .apply(&Raw::Json(record("南明区市场监督管理局")), now)
        .unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("which this mapping was not given")),
        "{errors:?}"
    );

    // Two agencies share an alias: the lookup names both and takes neither.
    let orgs: Vec<ronghe::orgs::Organisation> = ronghe::orgs::parse_csv(&format!(
        "credit_code,name,division,aliases\n{},贵阳市市场监督管理局,520100,市监局\n{},南明区市场监督管理局,520102,市监局\n",
        city(),
        county()
    ))
    .unwrap()
    .into_iter()
    .map(|(_, o)| o)
    .collect();
    let bound = Mapping::compile(&text)
        .unwrap()
        .with_orgs(Arc::new(ronghe::orgs::Directory::new(1, orgs)));
    let errors = bound.apply(&Raw::Json(record("市监局")), now).unwrap_err();
    let error = errors
        .iter()
        .find(|e| e.rule == "acceptance.department_uscc")
        .expect("the lookup's error");
    assert!(
        error.message.contains("2 agencies")
            && error.message.contains(&city())
            && error.message.contains(&county()),
        "{error}"
    );
    let case = bound
        .apply(&Raw::Json(record("南明区 市场监督管理局")), now)
        .unwrap();
    assert_eq!(case.acceptance.unwrap().department_uscc, county());
}

#[tokio::test]
async fn the_intake_sees_an_import_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    let mappings = dir.path().join("mappings");
    std::fs::create_dir(&mappings).unwrap();
    std::fs::write(mappings.join("sim-rest.toml"), lookup_mapping()).unwrap();
    let intake = Intake::new(&store, &mappings, Arc::new(ronghe_adapters::Environment));
    let now = chrono::Utc::now().fixed_offset();
    let raw = Raw::Json(record("南明区市场监督管理局"));

    let before = intake.mapping(&store, "sim-rest").await.unwrap();
    assert!(
        before.apply(&raw, now).is_err(),
        "an empty registry knows no agency"
    );
    let import = ronghe::orgs::parse_csv(&registry_csv()).unwrap();
    let imported = store.import_orgs(import, "test").await.unwrap();
    assert_eq!(imported.revision, store.orgs_revision().await.unwrap());
    let after = intake.mapping(&store, "sim-rest").await.unwrap();
    let case = after.apply(&raw, now).expect("the imported agency is found");
    assert_eq!(case.acceptance.unwrap().department_uscc, county());
    // Unchanged registry and file: the same compiled mapping.
    assert!(Arc::ptr_eq(
        &after,
        &intake.mapping(&store, "sim-rest").await.unwrap()
    ));
}

#[tokio::test]
async fn the_api_imports_in_the_callers_scope_and_lists_for_all_staff() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(&dir).await;
    let base = common::serve_app(common::app_state(store.clone()), 1 << 20).await;
    let operator = common::authed(&common::staff_token(&store, "op-gy", &["operator@region:520100"]).await);
    let admin =
        common::authed(&common::staff_token(&store, "admin-gy", &["regional_admin@region:520100"]).await);
    let url = format!("{base}/api/v1/orgs");
    let org = |code: &str, name: &str, division: &str| json!({"credit_code": code, "name": name, "division": division});

    // An operator reads but may not import.
    let answer = operator
        .post(&url)
        .json(&json!([org(&county(), "南明区市场监督管理局", "520102")]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    // An administrator of 贵阳 may not import an agency of 遵义, nor anything alongside it.
    let zunyi = credit_code("520300", "MB1502096");
    let answer = admin
        .post(&url)
        .json(&json!([
            org(&county(), "南明区市场监督管理局", "520102"),
            org(&zunyi, "遵义市市场监督管理局", "520300")
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (Some("out_of_scope"), Some("[1]")),
        "{body}"
    );
    // A bad credit code and division: 422, each issue at its item, nothing written.
    let answer = admin
        .post(&url)
        .json(&json!([
            org(&county(), "南明区市场监督管理局", "520102"),
            org(&broken(&city()), "贵阳市市场监督管理局", "520100x")
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = answer.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["field"].as_str())
        .collect();
    assert_eq!(fields, ["[1].credit_code", "[1].division"], "{body}");
    assert!(
        store.list_orgs(None).await.unwrap().is_empty(),
        "a refused import writes nothing"
    );

    let answer = admin
        .post(&url)
        .json(&json!([
            org(&city(), "贵阳市市场监督管理局", "520100"),
            org(&county(), "南明区市场监督管理局", "520102")
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["created"].as_u64(), Some(2), "{body}");

    let listed: Value = operator
        .get(format!("{url}?search=南明"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let shown = operator
        .get(format!("{url}/{}", city().to_lowercase()))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let missing = operator.get(format!("{url}/{zunyi}")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad = operator.get(format!("{url}?within=52")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let anonymous = reqwest::get(&url).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// The onboarding REST API's cases with the department's credit code and division removed: the
/// source names the accepting department and nothing else of it.
async fn department_named_only(cases: &[cases::Case]) -> Box<dyn ronghe_adapters::Adapter> {
    let records = cases
        .iter()
        .map(|c| {
            let mut record = rest::record(c);
            let acceptance = record["acceptance"]
                .as_object_mut()
                .expect("an acceptance object");
            acceptance.remove("deptCreditCode");
            acceptance.remove("deptAreaCode");
            record
        })
        .collect();
    cases::adapter(&rest::serve_records(records).await).await
}

/// The agencies of `cases`; the first under another name, the source's one as its alias.
fn registry_of(cases: &[cases::Case]) -> Vec<Organisation> {
    let mut seen = std::collections::BTreeMap::new();
    for c in cases {
        seen.entry(c.department_uscc.clone())
            .or_insert((c.department, c.department_region));
    }
    seen.into_iter()
        .enumerate()
        .map(|(i, (credit_code, (name, division)))| Organisation {
            credit_code,
            name: if i == 0 {
                format!("{name}（本级）")
            } else {
                name.to_owned()
            },
            division: division.to_owned(),
            parent: None,
            aliases: if i == 0 { vec![name.to_owned()] } else { vec![] },
            codes: vec![],
            synthetic: true,
        })
        .collect()
}

#[tokio::test]
async fn generate_proposes_the_registry_lookup_where_the_source_has_no_credit_code() {
    let cases = cases::cases(164, 300);
    let adapter = department_named_only(&cases).await;
    let profile = adapter.probe(5).await.unwrap();
    let orgs = Arc::new(Directory::new(1, registry_of(&cases)));
    assert!(orgs.len() >= 2, "the cases come from several departments");

    let proposal = propose(&profile, Shape::Json, &orgs).expect("a proposal");
    let rule = proposal
        .rules
        .iter()
        .find(|r| r.field == "acceptance.department_uscc")
        .expect("a rule for the credit code");
    assert_eq!(rule.source.as_deref(), Some("/acceptance/deptName"), "{rule:?}");
    assert!(rule.rule.contains(r#"lookup = "org.credit_code""#), "{rule:?}");
    assert!(rule.evidence.contains("knows 100%"), "{rule:?}");
    assert!(
        !proposal.unmatched.contains(&"acceptance.department_uscc"),
        "{proposal:?}"
    );

    // Rendered, unedited and given the registry, it maps the valid records.
    let text = render(&proposal, "no-credit-code", "2026-12-06T09:00:00+08:00").unwrap();
    let mapping = Mapping::compile(&text)
        .unwrap_or_else(|issues| panic!("{issues:?}"))
        .with_orgs(orgs.clone());
    let records: Vec<_> = adapter.read(None).try_collect().await.unwrap();
    let now = chrono::Utc::now().fixed_offset();
    let by_no: std::collections::HashMap<&str, &cases::Case> =
        cases.iter().map(|c| (c.no.as_str(), c)).collect();
    let (mut valid, mut mapped) = (0, 0);
    for record in &records {
        let case = by_no[record.key.as_deref().unwrap()];
        if !case.valid {
            continue;
        }
        valid += 1;
        if let Ok(mapped_case) = mapping.apply(&record.raw, now) {
            mapped += 1;
            if let Some(acceptance) = mapped_case.acceptance {
                assert_eq!(
                    acceptance.department_uscc, case.department_uscc,
                    "case {}",
                    case.no
                );
            }
        }
    }
    assert!(
        mapped as f64 >= 0.9 * valid as f64,
        "{mapped} of {valid} valid records mapped"
    );

    // With an empty registry the lookup is still proposed, and its evidence says what to do.
    let empty = propose(&profile, Shape::Json, &Directory::default()).unwrap();
    let rule = empty
        .rules
        .iter()
        .find(|r| r.field == "acceptance.department_uscc")
        .unwrap();
    assert!(rule.evidence.contains("ronghe orgs import"), "{rule:?}");
    assert!(rule.confidence < 0.5, "{rule:?}");
}
