//! The console's remaining pages (issue 15) in a real headless Chromium against a real
//! `ronghe serve`: a system's page with its newest cases masked, its daily reconciliations and
//! its migration, each section shown only to the roles of the API route with the same data;
//! the overview's running migrations and the change notices taking effect soon; and the
//! spot-check page (卷宗抽查), which draws a sample of a system in scope and refuses one out of
//! a regional operator's scope; a system's migration history a page at a time with each
//! run's report, and its mapping field by field with each field's source. Every page visited
//! passes `Browser::check`.

mod common;

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use common::browser::Browser;
use common::console::{GY_SYSTEM, Platform, ZY_SYSTEM};
use common::running_migration;
use ronghe::case::{ApplicantKind, Case, CertificateType};
use ronghe::notices::{NewNotice, NoticeKind};
use ronghe::reconciliation::{Seen, beijing_day, compare};
use ronghe::store::Store;

/// The applicant of the tests' case: a person, whose name and number the pages mask.
const NAME: &str = "张三丰";
const CERTIFICATE: &str = "52010219900101123X";

/// A case of `system` filed by a natural person, stored; the case.
async fn personal_case(store: &Store, system: &str, case_no: &str) -> Case {
    let mut case = common::case("case_application");
    case.case_no = case_no.to_owned();
    case.applicant.kind = ApplicantKind::NaturalPerson;
    case.applicant.certificate_type = CertificateType::ResidentId;
    case.applicant.name = NAME.to_owned();
    case.applicant.certificate_no = CERTIFICATE.to_owned();
    case.applicant.legal_representative = None;
    store
        .upsert_cases(system, std::slice::from_ref(&case))
        .await
        .unwrap();
    case
}

/// A saved daily reconciliation of `system` for yesterday that found one difference.
async fn differing_reconciliation(store: &Store, system: &str) {
    let day = ronghe::calendar::today() - Duration::days(1);
    let seen = Seen {
        version: 1,
        hash: "legacy-only".to_owned(),
        day,
    };
    let legacy = BTreeMap::from([("ONLY-IN-LEGACY".to_owned(), seen)]);
    let report = compare(system, day, &legacy, &BTreeMap::new(), Vec::new());
    assert!(!report.clean);
    store.save_reconciliation(&report, Utc::now()).await.unwrap();
}

/// Scrolls the section headed `#id` into view, for the screenshot.
async fn scroll_to(browser: &Browser, id: &str) {
    browser
        .run(&format!(
            "document.getElementById('{id}').scrollIntoView(); return null;"
        ))
        .await;
}

/// The page's HTML as the browser holds it.
async fn source(browser: &Browser) -> String {
    browser
        .run("return document.documentElement.outerHTML;")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_systems_page_shows_each_section_to_the_roles_of_its_api_route() {
    let p = Platform::new(&[
        ("engineer-1", &["engineer@province"]),
        ("operator-1", &["operator@province"]),
        ("operator-2", &["operator@province"]),
        ("pm-1", &["project_manager@province"]),
    ])
    .await;
    let store = p.store().await;
    personal_case(&store, GY_SYSTEM, "SC-PERSON-1").await;
    differing_reconciliation(&store, GY_SYSTEM).await;
    let run = running_migration(&store, GY_SYSTEM).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let page = format!("/systems/{GY_SYSTEM}");
    let masked_name = ronghe::validate::mask_name(NAME);
    let masked_certificate = ronghe::validate::mask_certificate(CERTIFICATE);

    // An operator: the cases (masked), the reconciliations, the migration.
    p.open_as(&browser, "operator-1", &page).await;
    let text = browser.text().await;
    for shown in [
        "最近收到的办件",
        "SC-PERSON-1",
        masked_name.as_str(),
        masked_certificate.as_str(),
        "每日对账",
        "有差异",
        "最近一次迁移",
        run.as_str(),
        "37%",
        "已提交 1 批",
    ] {
        assert!(text.contains(shown), "{shown:?} missing: {text}");
    }
    let html = source(&browser).await;
    assert!(
        !html.contains(NAME) && !html.contains(CERTIFICATE),
        "personal values in the page: {html}"
    );
    scroll_to(&browser, "cas").await;
    browser.check("system-operator").await;
    // The listing is audited under the operator, as the API audits a case read.
    let trail = common::audit_trail(&store, GY_SYSTEM).await;
    assert!(
        trail
            .iter()
            .any(|(actor, action)| action == "case.list" && actor.contains("operator-1")),
        "{trail:?}"
    );

    // An engineer reads cases and migrations, but not the reconciliations (the API's row
    // `GET /api/v1/monitoring/reconciliations` leaves engineers out).
    p.open_as(&browser, "engineer-1", &page).await;
    let text = browser.text().await;
    assert!(
        text.contains("最近收到的办件") && text.contains(&masked_certificate) && text.contains("37%"),
        "{text}"
    );
    assert!(!text.contains("每日对账"), "{text}");
    assert!(!source(&browser).await.contains(CERTIFICATE));
    scroll_to(&browser, "cas").await;
    browser.check("system-engineer").await;

    // A project manager reads the migration, not the cases nor the reconciliations.
    p.open_as(&browser, "pm-1", &page).await;
    let text = browser.text().await;
    assert!(text.contains("最近一次迁移") && text.contains("37%"), "{text}");
    for hidden in ["最近收到的办件", "SC-PERSON-1", masked_name.as_str(), "每日对账"] {
        assert!(!text.contains(hidden), "{hidden:?} shown: {text}");
    }
    scroll_to(&browser, "mig").await;
    browser.check("system-project-manager").await;

    // Without cases or runs, the sections say what to do next (another operator: a code is
    // taken once).
    p.open_as(&browser, "operator-2", &format!("/systems/{ZY_SYSTEM}"))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("平台尚未收到该系统的办件")
            && text.contains("尚无对账结果")
            && text.contains("该系统尚未迁移"),
        "{text}"
    );
    scroll_to(&browser, "cas").await;
    browser.check("system-empty").await;
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn the_overview_shows_running_migrations_and_notices_taking_effect_soon() {
    let p = Platform::new(&[
        ("pm-1", &["project_manager@province"]),
        ("auditor-1", &["auditor@province"]),
    ])
    .await;
    let store = p.store().await;
    running_migration(&store, GY_SYSTEM).await;
    let today = ronghe::calendar::today();
    for (title, days) in [("接口地址变更", 3), ("明年的变更", 30)] {
        let notice = NewNotice {
            system_id: ZY_SYSTEM.to_owned(),
            kind: NoticeKind::InterfaceChange,
            title: title.to_owned(),
            body: "部门系统的接口地址改为新地址。".to_owned(),
            published_on: None,
            effective_on: today + Duration::days(days),
            emergency_reason: None,
        };
        store
            .insert_notice(&notice, today, notice.effective_on, "test")
            .await
            .unwrap();
    }
    let Some(browser) = Browser::start().await else {
        return;
    };
    let soon = (today + Duration::days(3)).format("%Y-%m-%d").to_string();

    p.open_as(&browser, "pm-1", "/").await;
    let text = browser.text().await;
    for shown in [
        "迁移进度",
        GY_SYSTEM,
        "37%",
        "370 / 1000",
        "即将生效的公告",
        "接口地址变更",
        &soon,
        "3 天后生效",
    ] {
        assert!(text.contains(shown), "{shown:?} missing: {text}");
    }
    assert!(!text.contains("明年的变更"), "a notice a month away: {text}");
    browser.check("overview-migrations-notices").await;
    browser.click(&format!("a[href='/systems/{GY_SYSTEM}']")).await;
    assert!(browser.text().await.contains("最近一次迁移"));

    // An auditor has no migration route: the notices only.
    p.open_as(&browser, "auditor-1", "/").await;
    let text = browser.text().await;
    assert!(text.contains("接口地址变更"), "{text}");
    assert!(!text.contains("迁移进度") && !text.contains("37%"), "{text}");
    browser.check("overview-auditor").await;
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn a_regional_operator_draws_a_spot_check_sample_in_their_scope_only() {
    let p = Platform::new(&[
        ("gy-operator", &["operator@region:520100"]),
        ("engineer-1", &["engineer@province"]),
    ])
    .await;
    let store = p.store().await;
    let case = personal_case(&store, GY_SYSTEM, "SC-SAMPLE-1").await;
    let day = beijing_day(&case).format("%Y-%m-%d").to_string();
    let Some(browser) = Browser::start().await else {
        return;
    };
    // Reachable from 监测's cards.
    p.open_as(&browser, "gy-operator", "/monitoring").await;
    browser.click("a[href='/monitoring/spot-check']").await;
    let text = browser.text().await;
    assert!(text.contains("请选择系统和日期"), "{text}");
    browser.check("spot-check-form").await;
    // Their city's system: the day's sample, and the draw audited under the operator.
    browser
        .goto(&p.url(&format!(
            "/monitoring/spot-check?system={GY_SYSTEM}&date={day}&size=5&seed=7"
        )))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("SC-SAMPLE-1") && text.contains("种子 7") && text.contains("下载 CSV"),
        "{text}"
    );
    browser.check("spot-check-sample").await;
    let trail = common::audit_trail(&store, GY_SYSTEM).await;
    assert!(
        trail
            .iter()
            .any(|(actor, action)| action == "monitoring.spot_check" && actor.contains("gy-operator")),
        "{trail:?}"
    );
    // A day without changes: the empty state.
    browser
        .goto(&p.url(&format!(
            "/monitoring/spot-check?system={GY_SYSTEM}&date=2020-01-01&seed=7"
        )))
        .await;
    assert!(browser.text().await.contains("没有变更过的办件"));
    browser.check("spot-check-empty").await;
    // Another city's system: refused, as the API's row refuses it.
    browser
        .goto(&p.url(&format!(
            "/monitoring/spot-check?system={ZY_SYSTEM}&date={day}&seed=7"
        )))
        .await;
    let text = browser.text().await;
    assert!(text.contains("无权访问") && !text.contains("抽查样本"), "{text}");
    browser.check_answered("spot-check-out-of-scope", 403).await;

    // An engineer holds no role of the API's spot-check row: no card, and a refusal.
    p.open_as(&browser, "engineer-1", "/monitoring").await;
    assert!(!browser.text().await.contains("卷宗抽查"));
    browser.goto(&p.url("/monitoring/spot-check")).await;
    assert!(browser.text().await.contains("无权访问"));
    browser.check_answered("spot-check-engineer", 403).await;
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn integration_sections_show_engineers_the_structure_never_a_secret_or_sample() {
    let p = Platform::new(&[
        ("engineer-1", &["engineer@province"]),
        ("operator-1", &["operator@province"]),
        ("engineer-2", &["engineer@province"]),
    ])
    .await;
    let store = p.store().await;
    common::integrated(&store, GY_SYSTEM).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let page = format!("/systems/{GY_SYSTEM}");

    // An engineer: the adapter with its probe's fields, the mapping, the write-back settings.
    p.open_as(&browser, "engineer-1", &page).await;
    let text = browser.text().await;
    for shown in [
        "适配器",
        "http://127.0.0.1:9001/api",
        "bearer",
        "最多 7 次",
        "最近一次探查",
        "/applicant/name",
        "记录数 4321",
        "抽样 1 条",
        "字段映射",
        "尚无映射配置",
        "回写设置",
        "k-2026",
        "hmac-sm3",
        "已停用",
        "必须加密",
        "77 条",
        "0 */5 * * * *",
    ] {
        assert!(text.contains(shown), "{shown:?} missing: {text}");
    }
    let html = source(&browser).await;
    for hidden in [
        common::PROBE_SAMPLE_NAME,
        common::PROBE_SAMPLE_CERTIFICATE,
        "GY-PROBE-1",
        common::ADAPTER_TOKEN_REF,
        common::WRITEBACK_KEY_REF,
    ] {
        assert!(!html.contains(hidden), "{hidden:?} in the page: {html}");
    }
    scroll_to(&browser, "ada").await;
    browser.check("system-integration-engineer").await;

    // An operator holds no role of the three routes: no section.
    p.open_as(&browser, "operator-1", &page).await;
    let text = browser.text().await;
    for hidden in ["适配器", "最近一次探查", "字段映射", "回写设置", "k-2026"] {
        assert!(!text.contains(hidden), "{hidden:?} shown: {text}");
    }
    assert!(!source(&browser).await.contains(common::PROBE_SAMPLE_NAME));

    // A system not yet integrated: each section says what to do next.
    p.open_as(&browser, "engineer-2", &format!("/systems/{ZY_SYSTEM}"))
        .await;
    let text = browser.text().await;
    for shown in [
        "尚未绑定适配器配置",
        "ronghe adapters attach",
        "尚未探查",
        "尚无映射配置",
        "尚未设置回写",
    ] {
        assert!(text.contains(shown), "{shown:?} missing: {text}");
    }
    scroll_to(&browser, "ada").await;
    browser.check("system-integration-empty").await;
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn a_systems_page_lists_every_migration_run_a_page_at_a_time() {
    let p = Platform::new(&[("pm-1", &["project_manager@province"])]).await;
    let store = p.store().await;
    // Eleven finished runs, the oldest with differences, then the running one.
    let mut finished = Vec::new();
    for n in 0..11 {
        finished.push(common::finished_migration(&store, GY_SYSTEM, if n == 0 { 3 } else { 0 }).await);
    }
    let running = running_migration(&store, GY_SYSTEM).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let page = format!("/systems/{GY_SYSTEM}");
    p.open_as(&browser, "pm-1", &page).await;
    let text = browser.text().await;
    for shown in ["最近一次迁移", "37%", "迁移记录（共 12 次）", "第 1 / 2 页"] {
        assert!(text.contains(shown), "{shown:?} missing: {text}");
    }
    // Newest first: the running run, then the finished ones from the newest.
    let first_page = browser.rows("mig").await;
    assert_eq!(first_page.len(), 10, "{first_page:?}");
    assert_eq!(first_page[0][0], running);
    assert_eq!(first_page[0][1], "进行中");
    assert_eq!(first_page[0][7], "尚无");
    assert_eq!(first_page[1][0], finished[10]);
    assert_eq!(first_page[1][1], "已完成");
    assert_eq!(first_page[1][6], "0");
    assert!(
        !text.contains(&finished[0]),
        "the oldest run is on page 2: {text}"
    );
    scroll_to(&browser, "mig-history").await;
    browser.check("system-migration-history").await;

    browser.click("section[aria-labelledby=mig] a[rel=next]").await;
    assert_eq!(browser.path().await, format!("{page}?page=2"));
    let second_page = browser.rows("mig").await;
    let ids: Vec<&str> = second_page.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(ids, [finished[1].as_str(), finished[0].as_str()]);
    assert_eq!(second_page[1][1], "已完成，对账有差异");
    assert_eq!(second_page[1][6], "3");
    assert!(browser.text().await.contains("第 2 / 2 页"));
    scroll_to(&browser, "mig-history").await;
    browser.check("system-migration-history-2").await;

    // The oldest run's own report, not the latest run's.
    browser.click(&format!("a[href$='?run={}']", finished[0])).await;
    let report: serde_json::Value = serde_json::from_str(&browser.text().await).expect("the report as JSON");
    assert_eq!(report["run"], finished[0].as_str());
    assert_eq!(report["differences"], 3);
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn the_mapping_section_shows_each_canonical_field_and_its_source() {
    let p = Platform::new(&[("engineer-1", &["engineer@province"])]).await;
    // The system's mapping in the platform's mapping directory (next to its config).
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings/sim-rest.toml"))
        .expect("the reviewed mapping");
    let version = ronghe::mapping::Mapping::compile(&text)
        .expect("it compiles")
        .version()
        .to_owned();
    std::fs::create_dir_all(p.sandbox.path("mappings")).unwrap();
    p.sandbox.write(&format!("mappings/{GY_SYSTEM}.toml"), &text);
    let Some(browser) = Browser::start().await else {
        return;
    };
    p.open_as(&browser, "engineer-1", &format!("/systems/{GY_SYSTEM}"))
        .await;
    let page = browser.text().await;
    assert!(page.contains(&format!("映射版本 {version}")), "{page}");
    assert!(!page.contains("尚无映射配置"), "{page}");
    let fields = browser.rows("map").await;
    let row = |field: &str| {
        fields
            .iter()
            .find(|cells| cells[0] == field)
            .unwrap_or_else(|| panic!("{field} missing: {fields:?}"))
            .clone()
    };
    // field, name, required, source, code table
    assert_eq!(row("case_no")[3], "from /caseNo");
    assert_eq!(row("case_no")[2], "是");
    assert_eq!(row("case_type")[3], "constant \"promised\"");
    assert_eq!(row("applicant.kind")[3], "from /applicant/type");
    assert_eq!(row("applicant.kind")[4], "applicant_kind");
    let certificate = row("applicant.certificate_no");
    assert_eq!(certificate[3], "from /applicant/idNo");
    assert!(certificate[1].ends_with("（个人信息）"), "{certificate:?}");
    assert_eq!(row("result.code")[4], "result");
    scroll_to(&browser, "map").await;
    browser.check("system-mapping").await;
    browser.close().await;
    p.server.stop();
}
