//! System checks (系统检查, Art. 15; issue 21) through the real binary against the SQL simulator's
//! database: a clean check; an added column reported as non-breaking; a status code the mapping's
//! table does not know and a dropped mapped column each reported with the rules they break, with
//! exit code 1, and flagged unannounced until an interface-change notice (Art. 30) covers them;
//! an accepted drift replaces the stored profile, so the next check is clean; the history lists
//! every check. A SOAP service whose answers lose a mapped element breaks that rule.

#[allow(dead_code)] // shared with tests/onboarding.rs, which uses all of it
#[path = "onboarding/cases.rs"]
mod cases;
mod common;
#[allow(dead_code)]
#[path = "onboarding/soap.rs"]
mod soap;

use common::binary::Sandbox;
use ronghe_adapters::sim::sql;
use serde_json::Value;

const SYSTEM: &str = "sim-sql";

/// The SQL simulator (60 cases) registered, attached and probed; its config (the repository's
/// mappings) and the simulator's URL.
async fn probed() -> (Sandbox, String, String) {
    let sandbox = Sandbox::new();
    let url = format!("sqlite://{}", sandbox.path("county.db").display());
    sql::load(&url, 2025, 60).await.unwrap();
    let adapter = sandbox.write("adapter.toml", sql::adapter_config(&url, 100));
    let config = sandbox.write(
        "ronghe.toml",
        format!(
            "database_url = \"{}\"\nmappings_dir = \"{}\"\n",
            sandbox.database(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
        ),
    );
    sandbox.attach_sql(SYSTEM, &url, &adapter);
    sandbox.run(&["adapters", "probe", SYSTEM]).check(0, &[]);
    (sandbox, config, url)
}

/// `ronghe --config CONFIG --json check SYSTEM ARGS…`, expecting exit `code`.
fn check(sandbox: &Sandbox, config: &str, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--config", config, "--json", "check", SYSTEM];
    all.extend_from_slice(args);
    sandbox.run(&all).check(code, &[]).json()
}

/// The drift of `check` on `field` with change `kind`.
fn drift<'a>(check: &'a Value, field: &str, kind: &str) -> &'a Value {
    check["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field"] == field && d["change"] == kind)
        .unwrap_or_else(|| panic!("no {kind} drift of {field}: {check}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_reported_with_the_rules_it_breaks_and_accepted_with_a_reason() {
    let (sandbox, config, url) = probed().await;
    let clean = check(&sandbox, &config, &[], 0);
    assert_eq!(
        (
            clean["reachable"].as_bool(),
            clean["drifts"].as_array().map(Vec::len)
        ),
        (Some(true), Some(0)),
        "{clean}"
    );
    assert!(clean["latency_ms"].as_i64().is_some(), "{clean}");

    let legacy = sqlx::SqlitePool::connect(&url).await.unwrap();
    let exec = async |sql: &str| {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&legacy)
            .await
            .unwrap();
    };
    // A column nobody maps: reported, not breaking.
    exec("ALTER TABLE SP_BJXX ADD COLUMN BZXX TEXT").await;
    let added = check(&sandbox, &config, &[], 0);
    let column = drift(&added, "BZXX", "added");
    assert_eq!(
        (
            column["breaking"].as_bool(),
            column["rules"].as_array().map(Vec::len)
        ),
        (Some(false), Some(0)),
        "{added}"
    );
    assert_eq!(added["unannounced"].as_bool(), Some(true), "{added}");

    // A status the stage table does not know, and a mapped column dropped: both break.
    exec("UPDATE SP_BJXX SET BLZT = '99' WHERE rowid IN (SELECT rowid FROM SP_BJXX LIMIT 3)").await;
    exec(&format!("DROP VIEW IF EXISTS \"{}\"", sql::FINISHED_VIEW)).await;
    exec("ALTER TABLE SP_BJXX DROP COLUMN LXDH").await;
    let broken = check(&sandbox, &config, &[], 1);
    let codes = drift(&broken, "BLZT", "new_codes");
    assert_eq!(codes["codes"], serde_json::json!(["99"]), "{broken}");
    assert_eq!(codes["table"], "stage");
    assert!(
        codes["rules"].as_array().unwrap().contains(&Value::from("stage")),
        "{broken}"
    );
    let dropped = drift(&broken, "LXDH", "removed");
    assert_eq!(
        (dropped["breaking"].as_bool(), &dropped["rules"]),
        (Some(true), &serde_json::json!(["applicant.phone"])),
        "{broken}"
    );
    assert_eq!(broken["breaking"].as_bool(), Some(true));

    // The text names each change and its rules.
    sandbox.run(&["--config", &config, "check", SYSTEM]).check(
        1,
        &[
            "破坏 breaking SP_BJXX.LXDH: 删除 removed",
            "rules applicant.phone",
            "新代码值 new codes 99 (table stage)",
            "无影响 non-breaking V_已办结办件.SXMC: 删除 removed",
            "未公告 unannounced",
        ],
    );

    // An interface-change notice in effect since the profile was taken: announced.
    let store = ronghe::store::Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let today = ronghe::calendar::today();
    let notice = ronghe::notices::NewNotice {
        system_id: SYSTEM.to_owned(),
        kind: ronghe::notices::NoticeKind::InterfaceChange,
        title: "办件表删除联系电话字段".to_owned(),
        body: String::new(),
        published_on: None,
        effective_on: today,
        emergency_reason: None,
    };
    store.insert_notice(&notice, today, today, "test").await.unwrap();
    let announced = check(&sandbox, &config, &[], 1);
    assert_eq!(announced["unannounced"].as_bool(), Some(false), "{announced}");

    // The scheduler's daily job checks it too, and breaking drift is a notification.
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        sandbox.run(&all)
    };
    run(&["scheduler", "run", "checks", "--once"]).check(0, &["checked 1"]);
    run(&["--json", "notifications", "list"])
        .check(0, &["结构变化破坏映射规则", "SP_BJXX.LXDH (applicant.phone)"]);
    // Three days of reminders (the default escalate_after_reminders), then an escalation.
    let day = |n: u64| (today + chrono::Days::new(n)).to_string();
    for n in 1..=3 {
        run(&["scheduler", "run", "checks", "--once", "--date", &day(n)]).check(0, &["checked 1"]);
    }
    let notes = run(&["--json", "notifications", "list"]).check(0, &[]).json();
    let levels: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["subject_kind"] == "system_check")
        .filter_map(|n| n["level"].as_str())
        .collect();
    assert_eq!(levels.iter().filter(|l| **l == "reminder").count(), 3, "{notes}");
    assert_eq!(
        levels.iter().filter(|l| **l == "escalation").count(),
        1,
        "{notes}"
    );

    // Accepted with a reason: recorded, and the next check compares against the fresh profile.
    sandbox
        .run(&["--config", &config, "check", SYSTEM, "--accept"])
        .check(2, &[]);
    let accepted = check(
        &sandbox,
        &config,
        &["--accept", "--reason", "映射已按公告调整"],
        0,
    );
    assert_eq!(
        accepted["accept_reason"].as_str(),
        Some("映射已按公告调整"),
        "{accepted}"
    );
    assert!(
        accepted["accepted_by"].as_str().unwrap().starts_with("host:"),
        "{accepted}"
    );
    let after = check(&sandbox, &config, &[], 0);
    assert_eq!(after["drifts"].as_array().map(Vec::len), Some(0), "{after}");

    let history = check(&sandbox, &config, &["--history"], 0);
    // clean, added, broken (JSON and text), announced, the scheduler's four, accepted, after
    assert_eq!(history.as_array().map(Vec::len), Some(11), "{history}");
    assert_eq!(history[0]["id"], after["id"], "newest first");
    let events = common::audit_trail(&store, &format!("system/{SYSTEM}")).await;
    assert_eq!(
        events
            .iter()
            .filter(|(_, action)| action == "system.check")
            .count(),
        11,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_system_is_recorded_and_the_api_answers_in_scope() {
    let (sandbox, config, url) = probed().await;
    std::fs::remove_file(url.trim_start_matches("sqlite://")).unwrap();
    let down = check(&sandbox, &config, &[], 1);
    assert_eq!(down["reachable"].as_bool(), Some(false), "{down}");
    assert!(down["error"].as_str().is_some_and(|e| !e.is_empty()), "{down}");

    let store = ronghe::store::Store::open(&sandbox.database(), &Default::default())
        .await
        .unwrap();
    let base = common::serve_app(common::app_state(store.clone()), 1 << 20).await;
    let url = format!("{base}/api/v1/monitoring/{SYSTEM}/checks");
    // The system is registered in 520100 (`add_system_args`).
    let inside = common::authed(&common::staff_token(&store, "op-gy", &["operator@region:520100"]).await);
    let outside = common::authed(&common::staff_token(&store, "op-zy", &["operator@region:520300"]).await);
    let listed: Value = inside.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["id"], down["id"], "{listed}");
    assert_eq!(outside.get(&url).send().await.unwrap().status(), 404);
    let blank = inside
        .post(&url)
        .json(&serde_json::json!({"accept_reason": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(blank.status(), 422);
    let run = inside
        .post(&url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 201);
    let done: Value = run.json().await.unwrap();
    assert_eq!(
        (done["reachable"].as_bool(), done["checked_by"].as_str()),
        (Some(false), Some("op-gy")),
        "{done}"
    );
}

/// A SOAP service whose answers lose an element a rule reads: the drift names the element by the
/// path the mapping uses and the rule it breaks; an element no rule reads is not breaking.
#[tokio::test]
async fn a_soap_answer_that_loses_a_mapped_element_breaks_its_rule() {
    use ronghe::mapping::{Mapping, Shape, drift, propose, render};
    let cases = cases::cases(165, 40);
    let adapter = async |records: Vec<String>| cases::adapter(&soap::serve_records(records).await).await;
    let records: Vec<String> = cases.iter().map(soap::record).collect();
    let stored = adapter(records.clone()).await.probe(5).await.unwrap();
    let proposal = propose(&stored, Shape::Xml, &Default::default()).unwrap();
    let mapping = Mapping::compile(&render(&proposal, "soap", "2026-12-07T09:00:00+08:00").unwrap()).unwrap();
    // The region element is gone from every answer.
    let edited = records
        .iter()
        .map(|r| {
            let start = r.find("<办理区划>").unwrap();
            let end = r.find("</办理区划>").unwrap() + "</办理区划>".len();
            format!("{}{}", &r[..start], &r[end..])
        })
        .collect();
    let fresh = adapter(edited).await.probe(5).await.unwrap();
    let drifts = drift(&stored, &fresh, Some(mapping.config()));
    let gone = drifts
        .iter()
        .find(|d| {
            d.field.ends_with("办理区划") && matches!(d.change, ronghe::mapping::Change::Removed { .. })
        })
        .unwrap_or_else(|| panic!("{drifts:#?}"));
    assert_eq!(
        (gone.rules.as_slice(), gone.breaking),
        (&["region_code".to_owned()][..], true),
        "{gone:?}"
    );
    assert!(drifts.iter().filter(|d| d.breaking).count() == 1, "{drifts:#?}");
}
