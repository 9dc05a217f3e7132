//! The demo's journey in the web console (issue 15): `ronghe demo` runs through the binary and
//! keeps serving; then headless Chromium signs in as the demo's panel chair, an expert, the
//! project manager and the integration engineer — each with the password and the TOTP secret the
//! demo printed — and finds on the page each would use what the demo did: the expert's panels
//! and their anonymised results, the chair's verdict and report, the plan with its Gantt chart
//! and baseline, and the fully migrated system with its mapping, cases and reconciled run.
//! Every page visited passes `Browser::check`.

mod common;

use common::binary::Demo;
use common::browser::Browser;
use common::console::open_as;

/// Cases each of the demo's simulated systems holds.
const CASES: usize = 20;

/// The code `account`'s authenticator shows 30 seconds from now: the demo's own sign-in took
/// the current step or the one before (one step of skew accepts the next).
fn code(demo: &Demo, account: &str) -> String {
    let secret =
        ronghe::access::secret::totp_secret_from_base32(&demo.totp_secret(account)).expect("a base32 secret");
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    ronghe::access::secret::totp_code(&secret, account, now + 30).unwrap()
}

/// Opens `path` signed in as the demo's `account`.
async fn open(demo: &Demo, browser: &Browser, account: &str, path: &str) {
    open_as(
        browser,
        &demo.console,
        path,
        account,
        &demo.password(),
        &code(demo, account),
    )
    .await;
}

/// Asserts that the page's text holds every one of `shown`.
async fn shows(browser: &Browser, shown: &[&str]) -> String {
    let text = browser.text().await;
    for needle in shown {
        assert!(text.contains(needle), "{needle:?} missing: {text}");
    }
    text
}

/// The address of the first link whose text is `text`.
async fn link(browser: &Browser, text: &str) -> String {
    let href = browser
        .run(&format!(
            "const a = [...document.querySelectorAll('a')].find(a => a.innerText.trim() === {text:?});
             return a ? a.getAttribute('href') : null;"
        ))
        .await;
    match href.as_str() {
        Some(href) => href.to_owned(),
        None => panic!("no link {text:?}: {}", browser.text().await),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_people_find_its_journey_in_the_console() {
    let sandbox = tempfile::tempdir().unwrap();
    let demo = Demo::start(sandbox.path(), CASES);
    let Some(browser) = Browser::start().await else {
        demo.stop();
        return;
    };
    let cases = CASES.to_string();

    // An expert: the three panels they sat on, and a closed round's anonymised results.
    open(&demo, &browser, "expert-1", "/assessments").await;
    shows(&browser, &["sim-rest", "sim-soap", "sim-sql"]).await;
    browser.check("demo-expert-assessments").await;
    let assessment = browser
        .run(
            "const row = [...document.querySelectorAll('tbody tr')]
               .find(tr => tr.cells[1].innerText.trim() === 'sim-sql');
             return row ? row.querySelector('a').getAttribute('href') : null;",
        )
        .await
        .as_str()
        .expect("the sim-sql assessment's link")
        .to_owned();
    browser.click(&format!("a[href='{assessment}']")).await;
    shows(&browser, &["专家组", "第 1 轮结果（匿名）"]).await;
    // The five experts, each having declared no conflict; never a score next to a name.
    let panel = browser.rows("panel").await;
    for name in ["张工", "李工", "王工", "赵工", "陈工"] {
        let row = panel
            .iter()
            .find(|cells| cells[0] == name)
            .unwrap_or_else(|| panic!("{name} missing: {panel:?}"));
        assert_eq!(row[2], "无利益冲突", "{row:?}");
    }
    // The closed round: each criterion's median and reasons, anonymised.
    let round = browser.rows("round-1").await;
    assert!(
        !round.is_empty() && round.iter().all(|c| c[1].parse::<f64>().is_ok()),
        "{round:?}"
    );
    browser.check("demo-expert-assessment").await;

    // The chair: the verdict of the same panel, and its report.
    open(&demo, &browser, "demo-chair", &assessment).await;
    shows(&browser, &["已结论（第 1 轮）", "查看评估报告"]).await;
    browser.check("demo-chair-assessment").await;
    browser.click(&format!("a[href='{assessment}/report']")).await;
    shows(&browser, &["全流程迁移", "sim-sql"]).await;
    browser.check("demo-chair-report").await;

    // The project manager: the plans, and sim-sql's Gantt chart against its baseline.
    open(&demo, &browser, "demo-pm", "/plans").await;
    shows(&browser, &["sim-rest", "sim-soap", "sim-sql"]).await;
    browser.check("demo-pm-plans").await;
    browser.click("a[href='/plans/sim-sql']").await;
    let text = shows(
        &browser,
        &[
            "sim-sql（full_migration）",
            "第 1 版（批准人 周项目(项目经理)）",
            "绿 正常",
            "甘特图",
            "原系统下线",
        ],
    )
    .await;
    let gantt = browser
        .run("return document.querySelectorAll('svg rect').length;")
        .await;
    assert!(gantt.as_u64().is_some_and(|n| n > 0), "no Gantt chart: {text}");
    browser.check("demo-pm-plan").await;

    // The integration engineer: sim-sql fully migrated and reconciled, its mapping, its cases.
    open(&demo, &browser, "demo-engineer", "/systems/sim-sql").await;
    shows(
        &browser,
        &["全流程迁移", "迁移记录（共 1 次）", "字段映射", "最近收到的办件"],
    )
    .await;
    let run = &browser.rows("mig").await[0];
    // run, state, started / finished, read, written, rejected, differences, report
    assert_eq!(
        (run[1].as_str(), run[3].as_str(), run[4].as_str(), run[6].as_str()),
        ("已完成", cases.as_str(), cases.as_str(), "0"),
        "{run:?}"
    );
    let mapping = browser.rows("map").await;
    assert!(
        mapping.iter().any(|f| f[0] == "case_no" && f[3] == "from SBLSH"),
        "{mapping:?}"
    );
    let report = link(&browser, "JSON").await;
    assert_eq!(report, "/api/v1/systems/sim-sql/migration/report");
    browser.check("demo-engineer-system").await;
    browser.click(&format!("a[href='{report}']")).await;
    let report: serde_json::Value = serde_json::from_str(&browser.text().await).expect("the report as JSON");
    assert_eq!(report["rows_written"].to_string(), cases, "{report}");

    browser.close().await;
    demo.stop();
}
